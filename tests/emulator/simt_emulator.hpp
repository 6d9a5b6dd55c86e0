// A test-only host emulator for the kernels' SIMT primitives (kernels/detail/simt.hpp): it
// runs a kernel body, compiled with g++ and GANLOSS_EMULATOR, with one OS thread per lane.
//
// - Blocks run concurrently: `concurrent_blocks` block slots, each with its own threads, block
//   barrier, warps and shared storage, run the grid's blocks in an order shuffled by the seed
//   (slot i takes blocks i, i + slots, ... of that order). Nothing may depend on the order of
//   blocks or on which of them run at once. A SharedArray has storage per running block,
//   poisoned (all bits set) when a block starts.
// - Block barriers and warp shuffles are barrier phases (each barrier synchronises only its own
//   threads); a shuffle needs all 32 lanes and the full mask, anything else aborts.
// - Every access to a SharedArray is checked: out of range is fatal; a thread touching an
//   element that another thread wrote (or, for a write, read) since the last block barrier, or
//   reading an element no thread of its block has written, is a hazard, printed to stderr and
//   reported in the launch report (or fatal, with abort_on_hazard). So a missing __syncthreads
//   shows up deterministically, and ThreadSanitizer sees the same accesses as real data races.
// - Global memory follows the C++ memory model as ThreadSanitizer checks it: kernel loads and
//   stores are plain accesses, atomic_add and atomic_exchange relaxed atomic read-modify-writes
//   (no ordering, as on the GPU), thread_fence a release of everything the thread did before
//   it, and load_coherent an acquire of every fence passed so far followed by a relaxed atomic
//   load. A fence is a release read-modify-write on one word per launch and a coherent load an
//   acquire load of that word (ThreadSanitizer does not model std::atomic_thread_fence), so the
//   last-block pattern (write partials, fence, take a ticket; the last block reads them with
//   coherent loads) is race-free, while without the writer's fence, or with a plain load of the
//   partials, ThreadSanitizer reports a data race between blocks.
// - Coalescing: every global access through the instrumented accessors (load_vector,
//   store_vector, load_global, store_global, load_coherent) is recorded per lane with its
//   source line. The n-th access from a line by each lane of a warp since the warp's last
//   convergence point (block start, block barrier, warp shuffle) is one warp-wide access; per
//   line the report gives the bytes the lanes asked for and the 32-byte sectors they touched.
//   Lanes that run a loop a different number of times are grouped by that count, not by the
//   iteration a GPU would issue together, which only matters for sectors split between them.
// - A watchdog aborts the process when no barrier completes for `timeout` (a barrier or shuffle
//   that not every thread reaches).
// - Fault injection: `drop_barrier` = k makes every thread skip its k-th block barrier of each
//   block, which is what deleting that __syncthreads from the kernel would do; `drop_fence` = k
//   does the same with the k-th thread_fence; `incoherent_loads` makes load_coherent a plain
//   load.
// It is a test harness, never a backend. Real GPU timing, the numerics of the device math
// library, occupancy and speed are for the GPU tests.
#ifndef GANLOSS_TESTS_EMULATOR_SIMT_EMULATOR_HPP_
#define GANLOSS_TESTS_EMULATOR_SIMT_EMULATOR_HPP_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ganloss {
namespace emulator {

struct LaunchConfig {
  unsigned grid = 1;
  unsigned block = 32;  // threads per block, a multiple of 32
  uint64_t seed = 1;    // block order
  int drop_barrier = -1;
  bool abort_on_hazard = false;  // for hazards that also make threads diverge (and hang)
  std::chrono::seconds timeout{120};
  // Blocks running at once; the launch runs on min(grid, concurrent_blocks) x block threads.
  unsigned concurrent_blocks = 2;
  int drop_fence = -1;            // fault injection: each thread's k-th thread_fence per block
  bool incoherent_loads = false;  // fault injection: load_coherent as a plain load
};

// One source line's global accesses of one kind, over the warp-wide accesses it made.
struct AccessSite {
  std::string file;
  unsigned line = 0;
  bool store = false;
  unsigned lane_bytes_min = 0;  // bytes one lane moves per access
  unsigned lane_bytes_max = 0;
  uint64_t warp_accesses = 0;
  uint64_t lane_accesses = 0;
  uint64_t bytes_used = 0;  // distinct bytes the lanes of each warp-wide access asked for
  uint64_t sectors = 0;     // distinct 32-byte sectors each warp-wide access touched

  // The fraction of the sectors' bytes the lanes used: 1 when fully coalesced.
  double efficiency() const {
    return sectors == 0 ? 1.0
                        : static_cast<double>(bytes_used) / (32.0 * static_cast<double>(sectors));
  }
};

struct LaunchReport {
  std::vector<std::string> hazards;  // shared-memory hazards, at most the first 16
  uint64_t hazard_count = 0;
  uint64_t block_barriers = 0;  // completed block barrier phases, for the record
  uint64_t fences = 0;          // thread_fence calls that took effect
  uint64_t dropped_fences = 0;  // thread_fence calls removed by drop_fence
  unsigned threads = 0;         // lane threads of the largest launch
  unsigned concurrent_blocks = 0;
  std::vector<AccessSite> sites;     // by file, line, loads before stores
  uint64_t unrecorded_accesses = 0;  // past the per-lane log limit between convergence points

  // Adds another launch's report (of the same call) to this one.
  void add(const LaunchReport& other);
};

// The sites' efficiencies, one line each, for messages.
std::string describe_sites(const std::vector<AccessSite>& sites);

// Runs body() on grid x block emulated threads and returns when every block has finished.
// Launches are serialised: one at a time per process.
LaunchReport launch(const LaunchConfig& config, const std::function<void()>& body);

}  // namespace emulator
}  // namespace ganloss

#endif  // GANLOSS_TESTS_EMULATOR_SIMT_EMULATOR_HPP_
