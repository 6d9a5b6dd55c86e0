// The host SIMT emulator: implementations of the primitives declared in kernels/detail/simt.hpp
// under GANLOSS_EMULATOR, and launch(). See simt_emulator.hpp.
#include "simt_emulator.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_map>

#define GANLOSS_EMULATOR 1
#include "detail/simt.hpp"

// Under ThreadSanitizer, which does not model std::atomic_thread_fence (GCC warns that it is
// unsupported), the fences are only the launch's fence word; and barriers sleep, since
// instrumented spin loops cost more than the sleeps they save.
#if defined(__SANITIZE_THREAD__)
#define GANLOSS_EMULATOR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GANLOSS_EMULATOR_TSAN 1
#endif
#endif

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

// A barrier that sleeps on a condition variable, for ThreadSanitizer builds, where spinning
// costs more than it saves. Its only synchronisation is its own mutex: std::barrier waits
// through process-wide waiter tables whose atomics ThreadSanitizer would take for ordering
// between the barriers of different blocks, hiding races between blocks.
template <class Completion>
class SleepingBarrier {
 public:
  SleepingBarrier(std::ptrdiff_t count, Completion completion)
      : count_(static_cast<unsigned>(count)), completion_(completion) {}

  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t phase = phase_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      completion_();
      ++phase_;
      lock.unlock();
      woken_.notify_all();
      return;
    }
    woken_.wait(lock, [&] { return phase_ != phase; });
  }

 private:
  const unsigned count_;
  Completion completion_;
  std::mutex mutex_;
  std::condition_variable woken_;
  unsigned arrived_ = 0;
  uint64_t phase_ = 0;
};

struct Slot;

// What completes a phase of one of a slot's barriers: the block barrier, the end of a block,
// or warp w's shuffle (kind 2 + w).
struct PhaseCompletion {
  Slot* slot;
  unsigned kind;
  void operator()() noexcept;
};

#if defined(GANLOSS_EMULATOR_TSAN)
using Barrier = SleepingBarrier<PhaseCompletion>;
#else
using Barrier = YieldingBarrier<PhaseCompletion>;
#endif

// A global access site: a source line and the access's kind.
struct SiteKey {
  const char* file;
  unsigned line;
  bool store;
  bool operator==(const SiteKey& o) const {
    return file == o.file && line == o.line && store == o.store;
  }
};

struct SiteKeyHash {
  std::size_t operator()(const SiteKey& k) const {
    return std::hash<const void*>{}(k.file) ^ (std::size_t{k.line} << 1) ^ (k.store ? 1u : 0u);
  }
};

// One lane's global access: the n-th from its site since the warp's last convergence point.
struct Access {
  SiteKey site;
  uint32_t n;
  uint32_t bytes;
  uintptr_t address;
};

// A lane's accesses since the warp's last convergence point; only that lane touches it, and
// a barrier completion while the lane waits in the barrier.
struct LaneLog {
  static constexpr std::size_t kLimit = std::size_t{1} << 12;
  std::vector<Access> entries;
  std::vector<std::pair<SiteKey, uint32_t>> counts;  // accesses per site
  uint64_t unrecorded = 0;
};

struct SiteTotals {
  unsigned lane_bytes_min = ~0u;
  unsigned lane_bytes_max = 0;
  uint64_t warp_accesses = 0;
  uint64_t lane_accesses = 0;
  uint64_t bytes_used = 0;
  uint64_t sectors = 0;
};

struct Warp {
  Warp(Slot* slot, unsigned index) : barrier(32, PhaseCompletion{slot, 2 + index}) {}
  Barrier barrier;
  // Double-buffered by shuffle parity: one phase per shuffle of up to kMaxShuffleValues.
  uint64_t slots[2][32][simt::kMaxShuffleValues] = {};
  LaneLog lanes[32];
  // Coalescing totals of the warp's accesses, updated by barrier completions only.
  std::unordered_map<SiteKey, SiteTotals, SiteKeyHash> sites;
  uint64_t unrecorded = 0;
};

// Per element of a shared array: who wrote and read it in which barrier interval.
struct AccessRecord {
  static constexpr uint64_t kNever = ~uint64_t{0};
  uint64_t write_epoch = kNever;
  unsigned writer = 0;
  uint64_t read_epoch = kNever;
  unsigned reader = 0;
  bool several_readers = false;
};

// One shared array's storage in one slot.
struct SharedStorage {
  std::unique_ptr<unsigned char[]> data;  // operator new[]: aligned to 16 bytes at least
  std::size_t bytes = 0;
  std::vector<AccessRecord> records;
};

struct Launch;

// A block slot: the threads, barriers, warps and shared storage of one running block.
struct Slot {
  Slot(Launch& l, unsigned block_threads)
      : launch(l),
        block_barrier(block_threads, PhaseCompletion{this, 0}),
        block_end(block_threads, PhaseCompletion{this, 1}) {
    for (unsigned w = 0; w < block_threads / 32; ++w)
      warps.push_back(std::make_unique<Warp>(this, w));
  }

  Launch& launch;
  std::vector<unsigned> blocks;  // run in this order
  // Barrier phases completed, and the phase the running block started at: written only by
  // completions, read by the slot's threads after a barrier.
  std::atomic<uint64_t> epoch{0};
  std::atomic<uint64_t> block_start{0};
  Barrier block_barrier;
  // A barrier of its own, so that a thread leaving a block early never completes a phase of
  // block_barrier that other threads wait on inside the block.
  Barrier block_end;
  std::vector<std::unique_ptr<Warp>> warps;

  // The slot's own lock: ThreadSanitizer sees no ordering between slots that the kernel does
  // not create itself.
  std::mutex shared_mutex;
  std::unordered_map<const void*, SharedStorage> shared;

  void complete(unsigned kind);
};

struct Launch {
  Launch(const LaunchConfig& c, const std::function<void()>& b) : config(c), body(b) {
    std::vector<unsigned> order(c.grid);
    std::iota(order.begin(), order.end(), 0u);
    std::mt19937_64 rng(c.seed);
    std::shuffle(order.begin(), order.end(), rng);
    const unsigned count = std::min(std::max(c.concurrent_blocks, 1u), c.grid);
    for (unsigned s = 0; s < count; ++s)
      slots.push_back(std::make_unique<Slot>(*this, c.block));
    for (unsigned i = 0; i < c.grid; ++i)
      slots[i % count]->blocks.push_back(order[i]);
  }

  const LaunchConfig& config;
  const std::function<void()>& body;
  std::vector<std::unique_ptr<Slot>> slots;
  // Every fence is a release on this word and every coherent load an acquire of it.
  std::atomic<uint64_t> fence_word{0};
  std::atomic<uint64_t> fences{0};
  std::atomic<uint64_t> dropped_fences{0};

  std::mutex report_mutex;
  LaunchReport report;
};

struct ThreadState {
  Launch* launch = nullptr;
  Slot* slot = nullptr;
  unsigned thread = 0;
  unsigned block = 0;
  int barrier_calls = 0;  // block barriers reached in the current block
  int fence_calls = 0;    // fences reached in the current block
  unsigned shuffles = 0;  // shuffles done in the current block, for slot parity
  LaneLog* log = nullptr;
  uint64_t fences = 0;
  uint64_t dropped_fences = 0;
};

thread_local ThreadState t_state;

ThreadState& state() {
  if (t_state.launch == nullptr) die("a SIMT primitive was called outside an emulated launch");
  return t_state;
}

std::mutex g_launch_mutex;  // one launch at a time: the primitives use process-wide state

void record_hazard(Launch& l, const std::string& what) {
  {
    std::lock_guard<std::mutex> lock(l.report_mutex);
    ++l.report.hazard_count;
    if (l.report.hazards.size() < 16) {
      l.report.hazards.push_back(what);
      std::fprintf(stderr, "simt emulator: shared-memory hazard: %s\n", what.c_str());
    }
  }
  if (l.config.abort_on_hazard) die("aborting on the first shared-memory hazard");
}

// The warp's accesses since its last convergence point, grouped into warp-wide accesses and
// added to its totals. Runs in a barrier completion that the warp's lanes all wait in.
void collect(Warp& w) {
  std::vector<Access> all;
  for (LaneLog& lane : w.lanes) {
    all.insert(all.end(), lane.entries.begin(), lane.entries.end());
    w.unrecorded += lane.unrecorded;
    lane.entries.clear();
    lane.counts.clear();
    lane.unrecorded = 0;
  }
  if (all.empty()) return;
  auto key = [](const Access& a) {
    return std::make_tuple(reinterpret_cast<uintptr_t>(a.site.file), a.site.line, a.site.store, a.n,
                           a.address);
  };
  std::sort(all.begin(), all.end(),
            [&](const Access& a, const Access& b) { return key(a) < key(b); });
  std::vector<uintptr_t> sectors;
  for (std::size_t begin = 0; begin < all.size();) {
    std::size_t end = begin + 1;
    while (end < all.size() && all[end].site == all[begin].site && all[end].n == all[begin].n)
      ++end;
    // Sorted by address within the group: the union of the byte ranges, and the sectors.
    uint64_t used = 0;
    uintptr_t covered = 0;  // end of the bytes counted so far
    sectors.clear();
    SiteTotals& t = w.sites[all[begin].site];
    for (std::size_t i = begin; i < end; ++i) {
      const uintptr_t a = all[i].address;
      const uintptr_t e = a + all[i].bytes;
      const uintptr_t from = std::max(a, covered);
      if (e > from) used += e - from;
      covered = std::max(covered, e);
      for (uintptr_t s = a / 32; s <= (e - 1) / 32; ++s)
        sectors.push_back(s);
      t.lane_bytes_min = std::min(t.lane_bytes_min, all[i].bytes);
      t.lane_bytes_max = std::max(t.lane_bytes_max, all[i].bytes);
    }
    std::sort(sectors.begin(), sectors.end());
    t.sectors +=
        static_cast<uint64_t>(std::unique(sectors.begin(), sectors.end()) - sectors.begin());
    t.bytes_used += used;
    t.lane_accesses += end - begin;
    ++t.warp_accesses;
    begin = end;
  }
}

// Runs in one thread while every other thread of the barrier waits in it.
void Slot::complete(unsigned kind) {
  g_progress.fetch_add(1, std::memory_order_relaxed);
  if (kind >= 2) {
    collect(*warps[kind - 2]);
    return;
  }
  const uint64_t now = epoch.fetch_add(1, std::memory_order_relaxed) + 1;
  for (auto& w : warps)
    collect(*w);
  if (kind == 1) {
    // The next block starts: its shared memory holds nothing it wrote.
    block_start.store(now, std::memory_order_relaxed);
    for (auto& entry : shared)
      std::memset(entry.second.data.get(), 0xff, entry.second.bytes);
  }
}

void PhaseCompletion::operator()() noexcept {
  slot->complete(kind);
}

std::string site_name(const AccessSite& s) {
  const std::size_t slash = s.file.rfind('/');
  return (slash == std::string::npos ? s.file : s.file.substr(slash + 1)) + ":" +
         std::to_string(s.line) + (s.store ? " store" : " load");
}

}  // namespace

void LaunchReport::add(const LaunchReport& other) {
  for (const std::string& h : other.hazards) {
    if (hazards.size() < 16) hazards.push_back(h);
  }
  hazard_count += other.hazard_count;
  block_barriers += other.block_barriers;
  fences += other.fences;
  dropped_fences += other.dropped_fences;
  threads = std::max(threads, other.threads);
  concurrent_blocks = std::max(concurrent_blocks, other.concurrent_blocks);
  unrecorded_accesses += other.unrecorded_accesses;
  for (const AccessSite& o : other.sites) {
    auto same = [&](const AccessSite& s) {
      return s.file == o.file && s.line == o.line && s.store == o.store;
    };
    auto it = std::find_if(sites.begin(), sites.end(), same);
    if (it == sites.end()) {
      sites.push_back(o);
      continue;
    }
    it->lane_bytes_min = std::min(it->lane_bytes_min, o.lane_bytes_min);
    it->lane_bytes_max = std::max(it->lane_bytes_max, o.lane_bytes_max);
    it->warp_accesses += o.warp_accesses;
    it->lane_accesses += o.lane_accesses;
    it->bytes_used += o.bytes_used;
    it->sectors += o.sectors;
  }
  std::sort(sites.begin(), sites.end(), [](const AccessSite& a, const AccessSite& b) {
    return std::tie(a.file, a.line, a.store) < std::tie(b.file, b.line, b.store);
  });
}

std::string describe_sites(const std::vector<AccessSite>& sites) {
  std::string out;
  char line[128];
  for (const AccessSite& s : sites) {
    std::snprintf(line, sizeof line, ": %.4f of %llu sectors used, %u-%u bytes per lane\n",
                  s.efficiency(), static_cast<unsigned long long>(s.sectors), s.lane_bytes_min,
                  s.lane_bytes_max);
    out += site_name(s) + line;
  }
  return out;
}

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
  threads.reserve(l.slots.size() * config.block);
  for (auto& slot_ptr : l.slots) {
    Slot* slot = slot_ptr.get();
    for (unsigned t = 0; t < config.block; ++t) {
      threads.emplace_back([&l, slot, t] {
        t_state = ThreadState{};
        t_state.launch = &l;
        t_state.slot = slot;
        t_state.thread = t;
        t_state.log = &slot->warps[t / 32]->lanes[t % 32];
        for (unsigned b : slot->blocks) {
          t_state.block = b;
          t_state.barrier_calls = 0;
          t_state.fence_calls = 0;
          t_state.shuffles = 0;
          l.body();
          // End of block: no thread starts the slot's next block (and reuses its shared
          // storage) before every thread has finished this one.
          slot->block_end.arrive_and_wait();
        }
        l.fences.fetch_add(t_state.fences, std::memory_order_relaxed);
        l.dropped_fences.fetch_add(t_state.dropped_fences, std::memory_order_relaxed);
        t_state = ThreadState{};
      });
    }
  }
  for (std::thread& t : threads)
    t.join();
  {
    std::lock_guard<std::mutex> lock(watch_mutex);
    done = true;
  }
  watch_cv.notify_all();
  watchdog.join();
  LaunchReport& r = l.report;
  r.fences = l.fences.load();
  r.dropped_fences = l.dropped_fences.load();
  r.threads = static_cast<unsigned>(threads.size());
  r.concurrent_blocks = static_cast<unsigned>(l.slots.size());
  std::map<std::tuple<std::string, unsigned, bool>, SiteTotals> sites;
  for (auto& slot : l.slots) {
    r.block_barriers += slot->epoch.load();
    for (auto& w : slot->warps) {
      r.unrecorded_accesses += w->unrecorded;
      for (const auto& [key, t] : w->sites) {
        SiteTotals& s = sites[std::make_tuple(std::string(key.file), key.line, key.store)];
        s.lane_bytes_min = std::min(s.lane_bytes_min, t.lane_bytes_min);
        s.lane_bytes_max = std::max(s.lane_bytes_max, t.lane_bytes_max);
        s.warp_accesses += t.warp_accesses;
        s.lane_accesses += t.lane_accesses;
        s.bytes_used += t.bytes_used;
        s.sectors += t.sectors;
      }
    }
  }
  for (const auto& [key, t] : sites) {
    AccessSite s;
    std::tie(s.file, s.line, s.store) = key;
    s.lane_bytes_min = t.lane_bytes_min;
    s.lane_bytes_max = t.lane_bytes_max;
    s.warp_accesses = t.warp_accesses;
    s.lane_accesses = t.lane_accesses;
    s.bytes_used = t.bytes_used;
    s.sectors = t.sectors;
    r.sites.push_back(s);
  }
  return r;
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
  s.slot->block_barrier.arrive_and_wait();
}

namespace {

template <class T>
void shuffle(unsigned mask, T* values, int count, int lane_mask) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "one slot per lane and value");
  auto& s = state();
  if (mask != kFullMask) {
    emulator::die("shfl_xor_sync with a partial mask: only full-warp shuffles are modelled");
  }
  if (lane_mask <= 0 || lane_mask >= kWarpSize) {
    emulator::die("shfl_xor_sync lane mask outside 1..31");
  }
  if (count < 1 || count > kMaxShuffleValues) {
    emulator::die("shfl_xor_sync of more values than one phase holds");
  }
  emulator::Warp& w = *s.slot->warps[s.thread / kWarpSize];
  const unsigned lane = s.thread % kWarpSize;
  const unsigned parity = s.shuffles++ & 1u;
  for (int k = 0; k < count; ++k) {
    uint64_t bits = 0;
    std::memcpy(&bits, &values[k], sizeof(T));
    w.slots[parity][lane][k] = bits;
  }
  w.barrier.arrive_and_wait();
  const unsigned from = lane ^ static_cast<unsigned>(lane_mask);
  for (int k = 0; k < count; ++k) {
    const uint64_t bits = w.slots[parity][from][k];
    std::memcpy(&values[k], &bits, sizeof(T));
  }
}

}  // namespace

float shfl_xor_sync(unsigned mask, float value, int lane_mask) {
  shuffle(mask, &value, 1, lane_mask);
  return value;
}

double shfl_xor_sync(unsigned mask, double value, int lane_mask) {
  shuffle(mask, &value, 1, lane_mask);
  return value;
}

void shfl_xor_sync(unsigned mask, float* values, int count, int lane_mask) {
  shuffle(mask, values, count, lane_mask);
}

void shfl_xor_sync(unsigned mask, double* values, int count, int lane_mask) {
  shuffle(mask, values, count, lane_mask);
}

void thread_fence() {
  auto& s = state();
  if (s.fence_calls++ == s.launch->config.drop_fence) {  // fault injection: this fence is gone
    ++s.dropped_fences;
    return;
  }
  ++s.fences;
#if !defined(GANLOSS_EMULATOR_TSAN)
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  s.launch->fence_word.fetch_add(1, std::memory_order_release);
}

bool coherent_load(const void* address, unsigned bytes, const char* file, unsigned line) {
  auto& s = state();
  global_access(address, bytes, false, file, line);
  if (s.launch->config.incoherent_loads) return false;
  s.launch->fence_word.load(std::memory_order_acquire);
  return true;
}

unsigned atomic_add(unsigned* address, unsigned value) {
  state();
  return std::atomic_ref<unsigned>(*address).fetch_add(value, std::memory_order_relaxed);
}

unsigned atomic_exchange(unsigned* address, unsigned value) {
  state();
  return std::atomic_ref<unsigned>(*address).exchange(value, std::memory_order_relaxed);
}

void global_access(const void* address, unsigned bytes, bool store, const char* file,
                   unsigned line) {
  emulator::LaneLog& log = *state().log;
  const emulator::SiteKey key{file, line, store};
  uint32_t n = 0;
  auto it = std::find_if(log.counts.begin(), log.counts.end(),
                         [&](const auto& c) { return c.first == key; });
  if (it == log.counts.end()) {
    log.counts.emplace_back(key, 1);
  } else {
    n = it->second++;
  }
  if (log.entries.size() >= emulator::LaneLog::kLimit) {
    ++log.unrecorded;
    return;
  }
  log.entries.push_back(emulator::Access{key, n, bytes, reinterpret_cast<uintptr_t>(address)});
}

void* shared_element(const void* key, unsigned element_bytes, int count, int index, bool write) {
  auto& s = state();
  emulator::Slot& slot = *s.slot;
  if (index < 0 || index >= count) {
    char what[160];
    std::snprintf(what, sizeof what,
                  "block %u thread %u: shared element %d outside an array of %d elements", s.block,
                  s.thread, index, count);
    emulator::die(what);
  }
  const uint64_t epoch = slot.epoch.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(slot.shared_mutex);
  emulator::SharedStorage& storage = slot.shared[key];
  if (!storage.data) {
    storage.bytes = std::size_t{element_bytes} * static_cast<std::size_t>(count);
    storage.data.reset(new unsigned char[storage.bytes]);
    std::memset(storage.data.get(), 0xff, storage.bytes);
    storage.records.resize(static_cast<std::size_t>(count));
  }
  emulator::AccessRecord& r = storage.records[static_cast<std::size_t>(index)];
  char what[256];
  const uint64_t block_start = slot.block_start.load(std::memory_order_relaxed);
  if (!write && (r.write_epoch == emulator::AccessRecord::kNever || r.write_epoch < block_start)) {
    std::snprintf(what, sizeof what,
                  "block %u thread %u reads shared element %d that no thread of the block wrote",
                  s.block, s.thread, index);
    emulator::record_hazard(*s.launch, what);
  } else if (r.write_epoch == epoch && r.writer != s.thread) {
    std::snprintf(what, sizeof what,
                  "block %u thread %u %s shared element %d that thread %u wrote since the last "
                  "barrier",
                  s.block, s.thread, write ? "overwrites" : "reads", index, r.writer);
    emulator::record_hazard(*s.launch, what);
  }
  if (write) {
    if (r.read_epoch == epoch && (r.several_readers || r.reader != s.thread)) {
      std::snprintf(what, sizeof what,
                    "block %u thread %u overwrites shared element %d that thread %u read since "
                    "the last barrier",
                    s.block, s.thread, index, r.reader);
      emulator::record_hazard(*s.launch, what);
    }
    r.write_epoch = epoch;
    r.writer = s.thread;
  } else {
    if (r.read_epoch == epoch && r.reader != s.thread) r.several_readers = true;
    if (r.read_epoch != epoch) r.several_readers = false;
    r.read_epoch = epoch;
    r.reader = s.thread;
  }
  return storage.data.get() + std::size_t{element_bytes} * static_cast<std::size_t>(index);
}

}  // namespace simt
}  // namespace ganloss
