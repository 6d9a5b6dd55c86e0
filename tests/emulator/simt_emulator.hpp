// A test-only host emulator for the kernels' SIMT primitives (kernels/detail/simt.hpp): it
// runs a kernel body, compiled with g++ and GANLOSS_EMULATOR, with one OS thread per lane.
//
// - Blocks run one at a time, in an order shuffled by a seed, so static storage stands for
//   __shared__ and nothing may depend on the order of blocks.
// - Block barriers and warp shuffles are std::barrier phases; a shuffle needs all 32 lanes and
//   the full mask, anything else aborts with a message.
// - Every access to a SharedArray is checked: a thread touching an element that another thread
//   wrote (or, for a write, read) since the last block barrier is a hazard, printed to stderr
//   and reported in the launch report (or fatal, with abort_on_hazard). So a missing __syncthreads
//   shows up deterministically, and ThreadSanitizer sees the same accesses as real data races.
// - A watchdog aborts the process when no barrier completes for `timeout` (a barrier or shuffle
//   that not every thread reaches).
// - Fault injection: `drop_barrier` = k makes every thread skip its k-th block barrier of each
//   block, which is what deleting that __syncthreads from the kernel would do.
// It is a test harness, never a backend. Real concurrency between blocks, the GPU memory model,
// numerics of the device math library, occupancy and speed are for the GPU tests.
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
};

struct LaunchReport {
  std::vector<std::string> hazards;  // shared-memory hazards, at most the first 16
  uint64_t hazard_count = 0;
  uint64_t block_barriers = 0;  // completed block barrier phases, for the record
};

// Runs body() on grid x block emulated threads and returns when every block has finished.
// Launches are serialised: one at a time per process.
LaunchReport launch(const LaunchConfig& config, const std::function<void()>& body);

}  // namespace emulator
}  // namespace ganloss

#endif  // GANLOSS_TESTS_EMULATOR_SIMT_EMULATOR_HPP_
