// The host SIMT emulator: implementations of the primitives declared in kernels/detail/simt.hpp
// under GANLOSS_EMULATOR, and launch(). See simt_emulator.hpp.
#include "simt_emulator.hpp"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <unordered_map>

#define GANLOSS_EMULATOR 1
#include "detail/simt.hpp"

namespace ganloss {
namespace emulator {
namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "simt emulator: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

// Progress of the current launch, for the watchdog: bumped by every completed phase.
std::atomic<uint64_t> g_progress{0};

// A barrier for `count` threads whose waiters yield the processor instead of sleeping in the
// kernel: an emulated block has hundreds of threads on a few cores, and every barrier phase
// would otherwise wake each of them through a futex. Happens-before: every arrival is a
// release on `arrived_` that the last arrival acquires, and the last arrival's release on
// `phase_` is acquired by every waiter.
template <class Completion>
class YieldingBarrier {
 public:
  YieldingBarrier(std::ptrdiff_t count, Completion completion)
      : count_(static_cast<unsigned>(count)), completion_(completion) {}

  void arrive_and_wait() {
    const uint64_t phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == count_) {
      arrived_.store(0, std::memory_order_relaxed);
      completion_();
      phase_.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
    while (phase_.load(std::memory_order_acquire) == phase)
      std::this_thread::yield();
  }

 private:
  const unsigned count_;
  Completion completion_;
  std::atomic<unsigned> arrived_{0};
  std::atomic<uint64_t> phase_{0};
};

// Under ThreadSanitizer, whose instrumented spin loops cost more than the sleeps they save,
// the standard barrier.
#if defined(__SANITIZE_THREAD__)
#define GANLOSS_EMULATOR_STD_BARRIER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GANLOSS_EMULATOR_STD_BARRIER 1
#endif
#endif
#if defined(GANLOSS_EMULATOR_STD_BARRIER)
template <class Completion>
using Barrier = std::barrier<Completion>;
#else
template <class Completion>
using Barrier = YieldingBarrier<Completion>;
#endif

struct EpochCompletion {
  std::atomic<uint64_t>* epoch;
  void operator()() noexcept {
    epoch->fetch_add(1, std::memory_order_acq_rel);
    g_progress.fetch_add(1, std::memory_order_relaxed);
  }
};

struct WarpCompletion {
  void operator()() noexcept { g_progress.fetch_add(1, std::memory_order_relaxed); }
};

struct Warp {
  explicit Warp() : barrier(32, WarpCompletion{}) {}
  Barrier<WarpCompletion> barrier;
  uint64_t slots[2][32] = {};  // double-buffered by shuffle parity: one phase per shuffle
};

// Per element of a SharedArray: who wrote and read it in which barrier interval.
struct AccessRecord {
  uint64_t write_epoch = ~uint64_t{0};
  unsigned writer = 0;
  uint64_t read_epoch = ~uint64_t{0};
  unsigned reader = 0;
  bool several_readers = false;
};

struct Launch {
  Launch(const LaunchConfig& c, const std::function<void()>& b)
      : config(c),
        body(b),
        block_barrier(c.block, EpochCompletion{&epoch}),
        block_end(c.block, EpochCompletion{&epoch}),
        warps(c.block / 32) {
    order.resize(c.grid);
    std::iota(order.begin(), order.end(), 0u);
    std::mt19937_64 rng(c.seed);
    std::shuffle(order.begin(), order.end(), rng);
    for (auto& w : warps)
      w = std::make_unique<Warp>();
  }

  const LaunchConfig& config;
  const std::function<void()>& body;
  std::vector<unsigned> order;
  std::atomic<uint64_t> epoch{0};
  Barrier<EpochCompletion> block_barrier;
  // A barrier of its own, so that a thread leaving a block early never completes a phase of
  // block_barrier that other threads wait on inside the block.
  Barrier<EpochCompletion> block_end;
  std::vector<std::unique_ptr<Warp>> warps;

  std::mutex access_mutex;
  std::unordered_map<const void*, std::unordered_map<int, AccessRecord>> accesses;
  LaunchReport report;
};

struct ThreadState {
  Launch* launch = nullptr;
  unsigned thread = 0;
  unsigned block = 0;
  int barrier_calls = 0;  // block barriers reached in the current block
  unsigned shuffles = 0;  // shuffles done, for slot parity
};

thread_local ThreadState t_state;

ThreadState& state() {
  if (t_state.launch == nullptr) die("a SIMT primitive was called outside an emulated launch");
  return t_state;
}

std::mutex g_launch_mutex;  // one launch at a time: the primitives use process-wide state

void record_hazard(Launch& l, const std::string& what) {
  ++l.report.hazard_count;
  if (l.report.hazards.size() < 16) {
    l.report.hazards.push_back(what);
    std::fprintf(stderr, "simt emulator: shared-memory hazard: %s\n", what.c_str());
  }
  if (l.config.abort_on_hazard) die("aborting on the first shared-memory hazard");
}

}  // namespace

LaunchReport launch(const LaunchConfig& config, const std::function<void()>& body) {
  if (config.block == 0 || config.block % 32 != 0 || config.block > 1024) {
    die("block size must be a positive multiple of 32, at most 1024");
  }
  std::lock_guard<std::mutex> serial(g_launch_mutex);
  Launch l(config, body);
  std::atomic<bool> done{false};
  std::mutex watch_mutex;
  std::condition_variable watch_cv;
  std::thread watchdog([&] {
    uint64_t seen = g_progress.load();
    auto last = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(watch_mutex);
    while (!done.load()) {
      watch_cv.wait_for(lock, std::chrono::milliseconds(200));
      const uint64_t now_progress = g_progress.load();
      const auto now = std::chrono::steady_clock::now();
      if (now_progress != seen) {
        seen = now_progress;
        last = now;
      } else if (!done.load() && now - last > config.timeout) {
        die("watchdog: no barrier or shuffle completed in the timeout: a __syncthreads or a "
            "warp shuffle was not reached by every thread");
      }
    }
  });
  std::vector<std::thread> threads;
  threads.reserve(config.block);
  for (unsigned t = 0; t < config.block; ++t) {
    threads.emplace_back([&l, t] {
      t_state = ThreadState{&l, t, 0, 0, 0};
      for (unsigned b : l.order) {
        t_state.block = b;
        t_state.barrier_calls = 0;
        l.body();
        // End of block: no thread starts the next block (and reuses static shared storage)
        // before every thread has finished this one.
        l.block_end.arrive_and_wait();
      }
      t_state = ThreadState{};
    });
  }
  for (std::thread& t : threads)
    t.join();
  {
    std::lock_guard<std::mutex> lock(watch_mutex);
    done = true;
  }
  watch_cv.notify_all();
  watchdog.join();
  l.report.block_barriers = l.epoch.load();
  return l.report;
}

}  // namespace emulator

namespace simt {

using emulator::state;

unsigned thread_index() {
  return state().thread;
}
unsigned block_size() {
  return state().launch->config.block;
}
unsigned block_index() {
  return state().block;
}
unsigned grid_size() {
  return state().launch->config.grid;
}

void sync_block() {
  auto& s = state();
  const int call = s.barrier_calls++;
  if (call == s.launch->config.drop_barrier) return;  // fault injection: this barrier is gone
  s.launch->block_barrier.arrive_and_wait();
}

namespace {

template <class T>
T shuffle(unsigned mask, T value, int lane_mask) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "one slot per lane");
  auto& s = state();
  if (mask != kFullMask) {
    emulator::die("shfl_xor_sync with a partial mask: only full-warp shuffles are modelled");
  }
  if (lane_mask <= 0 || lane_mask >= kWarpSize) {
    emulator::die("shfl_xor_sync lane mask outside 1..31");
  }
  emulator::Warp& w = *s.launch->warps[s.thread / kWarpSize];
  const unsigned lane = s.thread % kWarpSize;
  const unsigned parity = s.shuffles++ & 1u;
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof value);
  w.slots[parity][lane] = bits;
  w.barrier.arrive_and_wait();
  bits = w.slots[parity][lane ^ static_cast<unsigned>(lane_mask)];
  T out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

}  // namespace

float shfl_xor_sync(unsigned mask, float value, int lane_mask) {
  return shuffle(mask, value, lane_mask);
}

double shfl_xor_sync(unsigned mask, double value, int lane_mask) {
  return shuffle(mask, value, lane_mask);
}

// A seq_cst read-modify-write on one shared word: a full fence that ThreadSanitizer models
// (it does not model std::atomic_thread_fence).
void thread_fence() {
  static std::atomic<unsigned> fence_word{0};
  fence_word.fetch_add(0, std::memory_order_seq_cst);
}

unsigned atomic_add(unsigned* address, unsigned value) {
  return std::atomic_ref<unsigned>(*address).fetch_add(value, std::memory_order_seq_cst);
}

unsigned atomic_exchange(unsigned* address, unsigned value) {
  return std::atomic_ref<unsigned>(*address).exchange(value, std::memory_order_seq_cst);
}

void shared_access(const void* array, int index, bool write) {
  auto& s = state();
  emulator::Launch& l = *s.launch;
  const uint64_t epoch = l.epoch.load(std::memory_order_acquire);
  std::lock_guard<std::mutex> lock(l.access_mutex);
  emulator::AccessRecord& r = l.accesses[array][index];
  char what[256];
  if (r.write_epoch == epoch && r.writer != s.thread) {
    std::snprintf(what, sizeof what,
                  "block %u thread %u %s shared element %d that thread %u wrote since the last "
                  "barrier",
                  s.block, s.thread, write ? "overwrites" : "reads", index, r.writer);
    emulator::record_hazard(l, what);
  }
  if (write) {
    if (r.read_epoch == epoch && (r.several_readers || r.reader != s.thread)) {
      std::snprintf(what, sizeof what,
                    "block %u thread %u overwrites shared element %d that thread %u read since "
                    "the last barrier",
                    s.block, s.thread, index, r.reader);
      emulator::record_hazard(l, what);
    }
    r.write_epoch = epoch;
    r.writer = s.thread;
  } else {
    if (r.read_epoch == epoch && r.reader != s.thread) r.several_readers = true;
    if (r.read_epoch != epoch) r.several_readers = false;
    r.read_epoch = epoch;
    r.reader = s.thread;
  }
}

}  // namespace simt
}  // namespace ganloss
