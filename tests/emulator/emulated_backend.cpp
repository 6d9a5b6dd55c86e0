// The CUDA backend's kernel through the host emulator; see emulated_backend.hpp.
#define GANLOSS_EMULATOR 1
#include "emulated_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "host_types.hpp"
#include "segmented_loss_kernel.hpp"
#include "validate.hpp"

namespace ganloss {
namespace emulator {
namespace {

// Calls f.template operator()<T, G>() for the call's logit and gradient types, as the CUDA
// backend's dtype switch picks them.
template <class F>
void with_types(const detail::CallParams& q, F&& f) {
  using namespace detail;
  const bool f32_grads = q.grad_dtype == DType::f32;
  switch (q.dtype) {
    case DType::f16:
      if (f32_grads) {
        f.template operator()<HostHalf, float>();
      } else {
        f.template operator()<HostHalf, HostHalf>();
      }
      break;
    case DType::bf16:
      if (f32_grads) {
        f.template operator()<HostBFloat16, float>();
      } else {
        f.template operator()<HostBFloat16, HostBFloat16>();
      }
      break;
    default:
      f.template operator()<float, float>();
  }
}

// The kernel body for the launch's instantiation, picked by the same dispatch as the CUDA
// launch (dispatch_spec).
template <class T, class G>
struct Body {
  const detail::kernel::KernelArgs& args;
  template <uint32_t kSpec>
  void operator()() {
    detail::kernel::segmented_loss_body<T, G, kSpec>(args);
  }
};

void run_body(const detail::kernel::KernelArgs& args) {
  with_types(args.call, [&args]<class T, class G>() {
    Body<T, G> body{args};
    if (!detail::kernel::dispatch_spec(args.spec, body)) std::abort();
  });
}

// Every pass of a fused sequence, picked by dispatch_sequence as the CUDA launch does.
template <class T, class G>
struct SequenceBody {
  const detail::kernel::LaunchSequence& seq;
  template <uint64_t kSequence>
  void operator()() {
    detail::kernel::sequence_body<T, G, kSequence>(seq);
  }
};

void run_sequence_body(const detail::kernel::LaunchSequence& seq) {
  with_types(seq.args[0].call, [&seq]<class T, class G>() {
    SequenceBody<T, G> body{seq};
    if (!detail::kernel::dispatch_sequence(seq.fused, body)) std::abort();
  });
}

// The emulated launch of a pass (or of a fused sequence's passes) on `grid` blocks.
LaunchConfig pass_config(const EmulatedOptions& options, int64_t grid, uint64_t seed) {
  LaunchConfig config;
  config.grid = static_cast<unsigned>(grid);
  config.block = detail::kernel::kThreads;
  config.seed = seed;
  config.drop_barrier = options.drop_barrier;
  config.abort_on_hazard = options.abort_on_hazard;
  config.drop_fence = options.drop_fence;
  config.incoherent_loads = options.incoherent_loads;
  if (options.concurrent_blocks > 0) config.concurrent_blocks = options.concurrent_blocks;
  return config;
}

// The launches of a validated call (kernel::launch_sequence, as the CUDA backend runs them),
// one emulated launch each.
void run_launches(const detail::CallParams& params, void* workspace, const EmulatedOptions& options,
                  EmulatedRun& run) {
  using namespace detail;
  kernel::LaunchSequence seq = kernel::launch_sequence(params, workspace);
  if (seq.check_offsets) {
    const kernel::KernelArgs args = kernel::offsets_check_args(seq);
    LaunchConfig check;
    check.grid = 1;
    check.block = kernel::kThreads;
    check.seed = options.seed;
    if (options.concurrent_blocks > 0) check.concurrent_blocks = options.concurrent_blocks;
    run.report.add(launch(check, [&args] { kernel::offsets_check_body(args); }));
  }
  for (int i = 0; i < seq.count; ++i) {
    kernel::KernelArgs& args = seq.args[i];
    if (args.pass == Pass::main || args.pass == Pass::vjp) run.regime = args.regime;
    if (options.grid_cap > 0 && args.grid > options.grid_cap) args.grid = options.grid_cap;
  }
  if (seq.fused != 0) {
    // Every pass in one launch, as the CUDA backend runs a fused sequence.
    const LaunchConfig config = pass_config(options, seq.args[0].grid, options.seed);
    run.report.add(launch(config, [&seq] { run_sequence_body(seq); }));
    run.launched = true;
    ++run.passes;
    return;
  }
  for (int i = 0; i < seq.count; ++i) {
    kernel::KernelArgs& args = seq.args[i];
    if (i == 0 && args.regime == kernel::Regime::chunk && !options.workspace_initialized) {
      std::memset(args.tickets, 0, static_cast<std::size_t>(params.segments) * 4);
    }
    const LaunchConfig config =
        pass_config(options, args.grid, options.seed + static_cast<uint64_t>(i));
    run.report.add(launch(config, [&args] { run_body(args); }));
    run.launched = true;
    ++run.passes;
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
  run_launches(params, workspace, options, run);
  return run;
}

EmulatedRun emulated_vjp(const ganloss_problem_t& problem, const ganloss_inputs_t& inputs,
                         const ganloss_cotangents_t* cotangents, void* grad_real, void* grad_fake,
                         void* workspace, std::size_t workspace_bytes,
                         const EmulatedOptions& options) {
  using namespace detail;
  EmulatedRun run;
  Status s = validate_problem(&problem);
  CallParams params;
  if (s == Status::Success) {
    s = make_vjp_params(problem, &inputs, cotangents, grad_real, grad_fake, workspace,
                        workspace_bytes, emulated_workspace_size(problem), &params);
  }
  run.status = static_cast<ganloss_status_t>(s);
  if (s != Status::Success || (grad_real == nullptr && grad_fake == nullptr)) return run;
  run_launches(params, workspace, options, run);
  return run;
}

}  // namespace emulator
}  // namespace ganloss
