// The CUDA backend's kernel through the host emulator; see emulated_backend.hpp.
#define GANLOSS_EMULATOR 1
#include "emulated_backend.hpp"

#include <cstring>

#include "host_types.hpp"
#include "segmented_loss_kernel.hpp"
#include "validate.hpp"

namespace ganloss {
namespace emulator {
namespace {

// The kernel body for the call's logit and gradient dtypes (as the CUDA backend picks them).
void run_body(const detail::kernel::KernelArgs& args) {
  using namespace detail;
  const bool f32_grads = args.call.grad_dtype == DType::f32;
  switch (args.call.dtype) {
    case DType::f16:
      if (f32_grads) {
        kernel::segmented_loss_body<HostHalf, float>(args);
      } else {
        kernel::segmented_loss_body<HostHalf, HostHalf>(args);
      }
      break;
    case DType::bf16:
      if (f32_grads) {
        kernel::segmented_loss_body<HostBFloat16, float>(args);
      } else {
        kernel::segmented_loss_body<HostBFloat16, HostBFloat16>(args);
      }
      break;
    default:
      kernel::segmented_loss_body<float, float>(args);
  }
}

}  // namespace

std::size_t emulated_workspace_size(const ganloss_problem_t& p) {
  return detail::kernel::workspace_layout(p.segments, p.real_count + p.fake_count).total();
}

EmulatedRun emulated_compute(const ganloss_problem_t& problem, const void* real, const void* fake,
                             const ganloss_outputs_t& outputs, void* workspace,
                             std::size_t workspace_bytes, const EmulatedOptions& options) {
  using namespace detail;
  EmulatedRun run;
  Status s = validate_problem(&problem);
  if (s == Status::Success) {
    CallParams params;
    s = make_params(&problem, real, fake, &outputs, workspace, workspace_bytes,
                    emulated_workspace_size(problem), &params);
    if (s == Status::Success) {
      kernel::KernelArgs args = kernel::make_kernel_args(params, workspace);
      run.regime = args.regime;
      if (args.length > 0) {
        if (options.grid_cap > 0 && args.grid > options.grid_cap) args.grid = options.grid_cap;
        if (args.regime == kernel::Regime::chunk && !options.workspace_initialized) {
          std::memset(args.tickets, 0, static_cast<std::size_t>(params.segments) * 4);
        }
        LaunchConfig config;
        config.grid = static_cast<unsigned>(args.grid);
        config.block = kernel::kThreads;
        config.seed = options.seed;
        config.drop_barrier = options.drop_barrier;
        config.abort_on_hazard = options.abort_on_hazard;
        run.report = launch(config, [&args] { run_body(args); });
        run.launched = true;
      }
    }
  }
  run.status = static_cast<ganloss_status_t>(s);
  return run;
}

}  // namespace emulator
}  // namespace ganloss
