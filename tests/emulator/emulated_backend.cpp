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

// The kernel body for the call's pass, logit and gradient dtypes (as the CUDA backend picks it).
template <class T, class G>
void run_pass(const detail::kernel::KernelArgs& args) {
  using detail::Pass;
  namespace kernel = detail::kernel;
  switch (args.pass) {
    case Pass::prepass:
      if (args.paired) {
        kernel::segmented_loss_body<T, G, Pass::prepass, true>(args);
      } else {
        kernel::segmented_loss_body<T, G, Pass::prepass, false>(args);
      }
      break;
    case Pass::gradients:
      kernel::segmented_loss_body<T, G, Pass::gradients, false>(args);
      break;
    default:
      if (args.paired) {
        kernel::segmented_loss_body<T, G, Pass::main, true>(args);
      } else {
        kernel::segmented_loss_body<T, G, Pass::main, false>(args);
      }
  }
}

void run_body(const detail::kernel::KernelArgs& args) {
  using namespace detail;
  const bool f32_grads = args.call.grad_dtype == DType::f32;
  switch (args.call.dtype) {
    case DType::f16:
      if (f32_grads) {
        run_pass<HostHalf, float>(args);
      } else {
        run_pass<HostHalf, HostHalf>(args);
      }
      break;
    case DType::bf16:
      if (f32_grads) {
        run_pass<HostBFloat16, float>(args);
      } else {
        run_pass<HostBFloat16, HostBFloat16>(args);
      }
      break;
    default:
      run_pass<float, float>(args);
  }
}

}  // namespace

std::size_t emulated_workspace_size(const ganloss_problem_t& p) {
  return detail::kernel::workspace_layout(p).total();
}

EmulatedRun emulated_compute(const ganloss_problem_t& problem, const ganloss_inputs_t& inputs,
                             const ganloss_outputs_t& outputs, void* workspace,
                             std::size_t workspace_bytes, const EmulatedOptions& options) {
  using namespace detail;
  EmulatedRun run;
  CallParams params;
  Status s = make_params(&problem, &inputs, &outputs, workspace, workspace_bytes,
                         emulated_workspace_size(problem), &params);
  run.status = static_cast<ganloss_status_t>(s);
  const bool anything = side_used(params, true) || side_used(params, false) ||
                        params.grad_real_g != nullptr || params.loss_real_g != nullptr;
  if (s != Status::Success || !anything) return run;
  // The passes as the CUDA backend runs them, one emulated launch each.
  Pass passes[3];
  int count = 0;
  if (needs_prepass(params)) passes[count++] = Pass::prepass;
  passes[count++] = Pass::main;
  if (needs_gradient_pass(params)) passes[count++] = Pass::gradients;
  for (int i = 0; i < count; ++i) {
    kernel::KernelArgs args = kernel::make_kernel_args(params, passes[i], workspace);
    if (passes[i] == Pass::main) run.regime = args.regime;
    if (options.grid_cap > 0 && args.grid > options.grid_cap) args.grid = options.grid_cap;
    if (i == 0 && args.offsets_flag != nullptr) {
      *args.offsets_flag = 0;
      LaunchConfig check;
      const int64_t blocks = (params.segments + kernel::kThreads) / kernel::kThreads;
      check.grid = static_cast<unsigned>(blocks < 8 ? blocks : 8);
      check.block = kernel::kThreads;
      check.seed = options.seed;
      if (options.concurrent_blocks > 0) check.concurrent_blocks = options.concurrent_blocks;
      run.report.add(launch(check, [&args] { kernel::offsets_check_body(args); }));
    }
    if (i == 0 && args.regime == kernel::Regime::chunk && !options.workspace_initialized) {
      std::memset(args.tickets, 0, static_cast<std::size_t>(params.segments) * 4);
    }
    LaunchConfig config;
    config.grid = static_cast<unsigned>(args.grid);
    config.block = kernel::kThreads;
    config.seed = options.seed + static_cast<uint64_t>(i);
    config.drop_barrier = options.drop_barrier;
    config.abort_on_hazard = options.abort_on_hazard;
    config.drop_fence = options.drop_fence;
    config.incoherent_loads = options.incoherent_loads;
    if (options.concurrent_blocks > 0) config.concurrent_blocks = options.concurrent_blocks;
    run.report.add(launch(config, [&args] { run_body(args); }));
    run.launched = true;
    ++run.passes;
  }
  return run;
}

}  // namespace emulator
}  // namespace ganloss
