// The CPU backend's parallel loop over work items, run by the calling thread and by workers of
// one pool per process. The pool starts its threads when a call first needs them and keeps
// them, idle and blocked, for the next calls: no call creates a thread once the pool holds as
// many as it asks for. Several host threads may call at once; each call takes idle workers
// (starting more when none is idle) and returns them when its loop is done. Which thread runs
// an item never affects its result, so callers stay deterministic.
#ifndef GANLOSS_SRC_THREAD_POOL_HPP_
#define GANLOSS_SRC_THREAD_POOL_HPP_

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "ganloss/ganloss.h"

namespace ganloss {
namespace detail {

// std::thread::hardware_concurrency(), at least 1 and at most kMaxThreads, read once.
int hardware_threads();

// The most threads one parallel loop uses, the caller included, and the most workers the pool
// holds.
constexpr int kMaxThreads = GANLOSS_MAX_CPU_THREADS;

// A job run by several threads at once: fn(context) on each.
using JobFn = void (*)(void* context);

// Runs fn(context) on the calling thread and on up to `helpers` pool workers at once, and
// returns once every one of these runs has returned. Workers the pool cannot provide (the
// system refused a thread, or the process is exiting) are left out: fn must share its work
// through the context, so that the runs present do all of it. If a run throws, the first
// exception is rethrown here once every run has returned.
void run_on_workers(int helpers, JobFn fn, void* context);

// Calls body(item) for every item in [0, items) on up to `threads` threads, the caller
// included. The threads take items from a shared counter in batches of consecutive items, each
// batch a share of those left (guided scheduling), at least `grain` unless fewer are left: the
// first batches are long, so that each thread runs through long stretches of memory, which the
// hardware prefetchers follow; the last ones are short, so that the threads finish together.
template <class Body>
void parallel_for(int64_t items, int threads, int64_t grain, const Body& body) {
  if (items <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t batches = (items + grain - 1) / grain;
  const int64_t wanted = std::min<int64_t>({std::max(threads, 1), batches, kMaxThreads});
  struct Loop {
    const Body& body;
    int64_t items;
    int64_t grain;
    int64_t share;  // a batch: 1 / share of the items left or grain, whichever is more, at most
                    // the items left
    std::atomic<int64_t> next{0};

    static void work(void* context) {
      Loop& l = *static_cast<Loop*>(context);
      int64_t begin = l.next.load(std::memory_order_relaxed);
      while (begin < l.items) {
        const int64_t left = l.items - begin;
        const int64_t end = begin + std::min(left, std::max(l.grain, left / l.share));
        // On failure begin holds the counter as it is now: another thread took a batch (or the
        // weak exchange failed spuriously, and begin is unchanged).
        if (!l.next.compare_exchange_weak(begin, end, std::memory_order_relaxed)) continue;
        for (int64_t i = begin; i < end; ++i)
          l.body(i);
        begin = l.next.load(std::memory_order_relaxed);
      }
    }
  };
  // Half of a thread's even share of what is left: a thread that starts late, or runs slower,
  // still finds work.
  Loop loop{body, items, grain, 2 * wanted};
  if (wanted <= 1) {
    Loop::work(&loop);
  } else {
    run_on_workers(static_cast<int>(wanted - 1), &Loop::work, &loop);
  }
}

// For tests: the worker threads the pool holds now, and, while `refuse` is set, every attempt
// to start one fails as if the system had refused the thread.
int pool_worker_count();
void refuse_worker_threads_for_testing(bool refuse);

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_THREAD_POOL_HPP_
