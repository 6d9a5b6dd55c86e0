// The CUDA backend's path through the host emulator: the same validation and launch planning
// as src/cuda_backend.cpp, then the kernel body of kernels/segmented_loss_kernel.hpp run by the
// SIMT emulator on host memory. For tests only.
#ifndef GANLOSS_TESTS_EMULATOR_EMULATED_BACKEND_HPP_
#define GANLOSS_TESTS_EMULATOR_EMULATED_BACKEND_HPP_

#include <cstddef>
#include <cstdint>

#include "ganloss/ganloss.h"
#include "segmented_loss_plan.hpp"
#include "simt_emulator.hpp"

namespace ganloss {
namespace emulator {

struct EmulatedOptions {
  uint64_t seed = 1;      // block order
  int64_t grid_cap = 0;   // > 0: fewer blocks than work units, to exercise the grid loops
  int drop_barrier = -1;  // fault injection, see LaunchConfig
  bool workspace_initialized = false;  // as ganloss_execution_t: skip zeroing the tickets
  bool abort_on_hazard = false;
  int drop_fence = -1;             // fault injection, see LaunchConfig
  bool incoherent_loads = false;   // fault injection, see LaunchConfig
  unsigned concurrent_blocks = 0;  // > 0: instead of LaunchConfig's default
};

struct EmulatedRun {
  ganloss_status_t status = GANLOSS_STATUS_SUCCESS;
  bool launched = false;
  int passes = 0;
  detail::kernel::Regime regime = detail::kernel::Regime::warp;  // of the main pass
  LaunchReport report;                                           // of every launch of the call
};

// Workspace bytes the CUDA backend asks for on these shapes.
std::size_t emulated_workspace_size(const ganloss_problem_t& problem);

// ganloss_compute with the CUDA backend's kernel, emulated.
EmulatedRun emulated_compute(const ganloss_problem_t& problem, const ganloss_inputs_t& inputs,
                             const ganloss_outputs_t& outputs, void* workspace,
                             std::size_t workspace_bytes, const EmulatedOptions& options = {});

// A VJP call (ganloss_plan_vjp semantics) with the CUDA backend's kernel, emulated: each logit's
// gradient of sum_s u_d[s] L_D[s] + u_g[s] L_G[s] into grad_real and grad_fake (either may be
// null; either may be its logits). Null cotangents: both 0.
EmulatedRun emulated_vjp(const ganloss_problem_t& problem, const ganloss_inputs_t& inputs,
                         const ganloss_cotangents_t* cotangents, void* grad_real, void* grad_fake,
                         void* workspace, std::size_t workspace_bytes,
                         const EmulatedOptions& options = {});

}  // namespace emulator
}  // namespace ganloss

#endif  // GANLOSS_TESTS_EMULATOR_EMULATED_BACKEND_HPP_
