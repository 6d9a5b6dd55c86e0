// A parallel loop over work items for the CPU backend: the caller and up to threads - 1
// short-lived workers take items in order from a shared counter. Which thread runs an item
// never affects its result, so callers stay deterministic.
#ifndef GANLOSS_SRC_THREAD_POOL_HPP_
#define GANLOSS_SRC_THREAD_POOL_HPP_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace ganloss {
namespace detail {

inline int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 1024u));
}

// Calls body(item) for every item in [0, items). Items are handed out `grain` at a time.
// If the system refuses a thread, the threads already running do the rest.
template <class Body>
void parallel_for(int64_t items, int threads, int64_t grain, const Body& body) {
  if (items <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t batches = (items + grain - 1) / grain;
  const int workers = static_cast<int>(std::min<int64_t>(std::max(threads, 1), batches)) - 1;
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (;;) {
      const int64_t begin = next.fetch_add(grain, std::memory_order_relaxed);
      if (begin >= items) return;
      const int64_t end = std::min(items, begin + grain);
      for (int64_t i = begin; i < end; ++i)
        body(i);
    }
  };
  std::vector<std::thread> pool;
  try {
    pool.reserve(static_cast<size_t>(workers));
    for (int t = 0; t < workers; ++t)
      pool.emplace_back(work);
  } catch (const std::exception&) {
    // Fewer threads than asked for: the ones running (at least this one) finish the work.
  }
  work();
  for (std::thread& t : pool)
    t.join();
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_THREAD_POOL_HPP_
