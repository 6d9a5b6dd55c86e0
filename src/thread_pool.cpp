// The CPU backend's worker pool; see thread_pool.hpp.
//
// One mutex guards the pool: its workers, the idle ones, and each worker's assignment. A call
// takes idle workers (or starts new ones) under the mutex, hands each a pointer to its job and
// wakes it, runs the job itself, then waits until every helper has run it. Workers block on their
// own condition variable between jobs, so an idle pool costs nothing, after polling for kPoll
// (the caller, waiting for its helpers, too): a thread that is still polling needs no wake-up.
//
// Lifetime: the pool is created on first use and never freed. At exit a static object stops
// and joins its workers; calls made after that (from other static destructors) run on the
// calling thread alone. In the child of fork() the parent's workers do not exist: a fork
// handler forgets them (without touching their threads) and the child starts its own.
#include "thread_pool.hpp"

#include <pthread.h>

#include <hwy/cache_control.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace ganloss {
namespace detail {
namespace {

// How long a worker that has finished its job, and a call whose own share is done, poll before
// they block on their condition variable. Waking a blocked thread takes a system call on one side
// and, on a virtual machine, tens of microseconds on the other: on a 2-core VM, 2 threads lost
// about 30 us per call to it (ganloss_cpu_bench, f32 at 2^17 pairs: 118 us a call, 87 us with
// the polling). A worker's poll serves a call that comes within this time of the last one; a
// call's poll serves every call whose helpers finish within it.
constexpr std::chrono::microseconds kPoll{100};

// Polls done() for up to kPoll, with the processor's pause hint between polls; returns done().
template <class Done>
bool poll_until(const Done& done) {
  if (done()) return true;  // without reading the clock
  const auto until = std::chrono::steady_clock::now() + kPoll;
  do {
    for (int i = 0; i < 32; ++i) {
      if (done()) return true;
      hwy::Pause();
    }
  } while (std::chrono::steady_clock::now() < until);
  return done();
}

struct Job {
  JobFn fn;
  void* context;
  std::atomic<int> pending;  // helpers that have not finished it yet (written under the mutex)
  std::exception_ptr error;  // the first exception a helper's run threw
  std::condition_variable done;
};

struct Worker {
  std::condition_variable wake;
  std::atomic<Job*> job{nullptr};  // the job to run next, null while idle (written under the mutex)
  bool stop = false;
  std::thread thread;
};

std::atomic<bool> refuse_threads{false};

class Pool {
 public:
  static Pool& instance();

  void run(int helpers, JobFn fn, void* context) {
    Job job{fn, context, 0, nullptr, {}};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (job.pending < helpers && !closed_) {
        Worker* w = take_worker();
        if (w == nullptr) break;
        w->job = &job;
        ++job.pending;
        w->wake.notify_one();
      }
    }
    // Whatever this run throws, the helpers still use `job` until they are done with it.
    std::exception_ptr error;
    try {
      fn(context);
    } catch (...) {
      error = std::current_exception();
    }
    poll_until([&job] { return job.pending.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mutex_);
    // The last helper notifies while holding the mutex, so `job` outlives every use of it.
    job.done.wait(lock, [&job] { return job.pending == 0; });
    if (!error) error = job.error;
    lock.unlock();
    if (error) std::rethrow_exception(error);
  }

  // Stops and joins every worker; later calls run on the calling thread alone.
  void close() {
    std::vector<std::unique_ptr<Worker>> workers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
      for (const auto& w : workers_) {
        w->stop = true;
        w->wake.notify_one();
      }
      workers.swap(workers_);
      idle_.clear();
    }
    for (const auto& w : workers)
      w->thread.join();
  }

  int worker_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(workers_.size());
  }

 private:
  Pool();

  // An idle worker, else a new one; null when none can be had. Called with the mutex held.
  Worker* take_worker() {
    if (!idle_.empty()) {
      Worker* w = idle_.back();
      idle_.pop_back();
      return w;
    }
    if (workers_.size() >= static_cast<std::size_t>(kMaxThreads)) return nullptr;
    try {
      // Room first, so that nothing can fail once the thread runs.
      workers_.reserve(workers_.size() + 1);
      idle_.reserve(workers_.size() + 1);
      auto w = std::make_unique<Worker>();
      if (refuse_threads.load(std::memory_order_relaxed)) {
        throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
      }
      Worker* raw = w.get();
      w->thread = std::thread([this, raw] { serve(raw); });
      workers_.push_back(std::move(w));
      return raw;
    } catch (const std::exception&) {
      return nullptr;  // the call goes on with the threads it has
    }
  }

  void serve(Worker* w) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (w->job == nullptr && !w->stop) {
        lock.unlock();
        poll_until([w] { return w->job.load(std::memory_order_acquire) != nullptr; });
        lock.lock();
      }
      w->wake.wait(lock, [w] { return w->job != nullptr || w->stop; });
      Job* job = w->job;
      if (job == nullptr) return;  // stopped while idle
      lock.unlock();
      std::exception_ptr error;
      try {
        job->fn(job->context);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error && !job->error) job->error = error;
      w->job = nullptr;
      if (!w->stop) idle_.push_back(w);  // capacity reserved when the worker started
      if (--job->pending == 0) job->done.notify_one();
    }
  }

  // fork(): the mutex is held across it so that the child sees a consistent pool.
  static void before_fork() { instance().mutex_.lock(); }
  static void after_fork_parent() { instance().mutex_.unlock(); }
  static void after_fork_child() {
    Pool& p = instance();
    // The workers' threads are not in the child. Their records are kept, unused and never
    // destroyed (destroying a std::thread that was never joined would terminate the process).
    for (auto& w : p.workers_) {
      try {
        p.abandoned_.push_back(w.get());
        static_cast<void>(w.release());
      } catch (const std::exception&) {
        static_cast<void>(w.release());  // no room to keep it: forgotten
      }
    }
    p.workers_.clear();
    p.idle_.clear();
    p.mutex_.unlock();
  }

  std::mutex mutex_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Worker*> idle_;
  std::vector<Worker*> abandoned_;  // the parent's workers, in a child of fork()
  bool closed_ = false;
};

// Joins the workers when the process exits or the library is unloaded. Constant-initialised,
// so it exists before any call can create the pool.
struct Closer {
  ~Closer() {
    if (created.load(std::memory_order_acquire)) Pool::instance().close();
  }
  std::atomic<bool> created{false};
};

Closer closer;

Pool::Pool() {
  pthread_atfork(&Pool::before_fork, &Pool::after_fork_parent, &Pool::after_fork_child);
  closer.created.store(true, std::memory_order_release);
}

Pool& Pool::instance() {
  // Never destroyed: calls from static destructors after the closer above still find it.
  static Pool* const pool = new Pool;
  return *pool;
}

}  // namespace

int hardware_threads() {
  static const int n = [] {
    const unsigned h = std::thread::hardware_concurrency();
    return h == 0 ? 1 : static_cast<int>(std::min<unsigned>(h, kMaxThreads));
  }();
  return n;
}

void run_on_workers(int helpers, JobFn fn, void* context) {
  if (helpers <= 0) {
    fn(context);
    return;
  }
  Pool::instance().run(helpers, fn, context);
}

int pool_worker_count() {
  return Pool::instance().worker_count();
}

void refuse_worker_threads_for_testing(bool refuse) {
  refuse_threads.store(refuse, std::memory_order_relaxed);
}

}  // namespace detail
}  // namespace ganloss
