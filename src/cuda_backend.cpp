// The CUDA backend's host side: device availability, workspace size, memory-space checks and
// the launch of the fused kernel. No allocation and no synchronisation: everything is enqueued
// on the caller's stream, so a call can be captured into a CUDA graph.
#include "cuda_backend.hpp"

#include <cuda_runtime_api.h>

#include "error.hpp"
#include "segment_math.hpp"
#include "segmented_loss_launch.hpp"
#include "segmented_loss_plan.hpp"
#include "validate.hpp"

namespace ganloss {
namespace detail {
namespace cuda {
namespace {

// The one place where the runtime dtypes pick a kernel instantiation.
cudaError_t launch(const kernel::KernelArgs& args, cudaStream_t stream) {
  const bool f32_grads = args.call.grad_dtype == DType::f32;
  switch (args.call.dtype) {
    case DType::f16:
      return f32_grads ? kernel::launch_segmented_loss_f16_f32grad(args, stream)
                       : kernel::launch_segmented_loss_f16(args, stream);
    case DType::bf16:
      return f32_grads ? kernel::launch_segmented_loss_bf16_f32grad(args, stream)
                       : kernel::launch_segmented_loss_bf16(args, stream);
    default:
      return kernel::launch_segmented_loss_f32(args, stream);
  }
}

// The same for every pass of a fused sequence in one launch.
cudaError_t launch(const kernel::LaunchSequence& seq, cudaStream_t stream) {
  const CallParams& q = seq.args[0].call;
  const bool f32_grads = q.grad_dtype == DType::f32;
  switch (q.dtype) {
    case DType::f16:
      return f32_grads ? kernel::launch_segmented_sequence_f16_f32grad(seq, stream)
                       : kernel::launch_segmented_sequence_f16(seq, stream);
    case DType::bf16:
      return f32_grads ? kernel::launch_segmented_sequence_bf16_f32grad(seq, stream)
                       : kernel::launch_segmented_sequence_bf16(seq, stream);
    default:
      return kernel::launch_segmented_sequence_f32(seq, stream);
  }
}

Status cuda_failure(cudaError_t e, const char* what) {
  set_last_cuda_error(static_cast<int32_t>(e));
  cudaGetLastError();  // clear a non-sticky error so later calls start clean
  return fail(Status::CudaError, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

}  // namespace

Status available() {
  int device = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e == cudaSuccess) {
    int count = 0;
    e = cudaGetDeviceCount(&count);
    if (e == cudaSuccess && count == 0) e = cudaErrorNoDevice;
  }
  if (e == cudaSuccess) e = kernel::check_kernel_image();
  if (e != cudaSuccess) {
    set_last_cuda_error(static_cast<int32_t>(e));
    cudaGetLastError();
    return fail(Status::BackendUnavailable, "no usable CUDA device: %s (%s)", cudaGetErrorString(e),
                cudaGetErrorName(e));
  }
  return Status::Success;
}

std::size_t workspace_bytes(const ganloss_problem_t& problem) {
  return kernel::workspace_layout(problem).total();
}

Status current_device(int* device) {
  const cudaError_t e = cudaGetDevice(device);
  if (e != cudaSuccess) {
    set_last_cuda_error(static_cast<int32_t>(e));
    cudaGetLastError();
    return fail(Status::BackendUnavailable, "no current CUDA device: %s (%s)",
                cudaGetErrorString(e), cudaGetErrorName(e));
  }
  return Status::Success;
}

Status check_pointers(const CallParams& q, bool device_expected, int device) {
  const bool real = touches_side(q, true);
  const bool fake = touches_side(q, false);
  const struct {
    const char* name;
    const void* ptr;
  } pointers[] = {{"real logits", real ? q.real.logits : nullptr},
                  {"fake logits", fake ? q.fake.logits : nullptr},
                  {"real_weights", real ? q.real.weights : nullptr},
                  {"fake_weights", fake ? q.fake.weights : nullptr},
                  {"real_offsets", real ? q.real.offsets : nullptr},
                  {"fake_offsets", fake ? q.fake.offsets : nullptr},
                  {"grad_real", q.grad_real},
                  {"grad_real_g", q.grad_real_g},
                  {"grad_fake_d", q.grad_fake_d},
                  {"grad_fake_g", q.grad_fake_g},
                  {"loss_real", q.loss_real},
                  {"loss_real_g", q.loss_real_g},
                  {"loss_fake_d", q.loss_fake_d},
                  {"loss_fake_g", q.loss_fake_g},
                  {"d_loss", q.d_loss},
                  {"d_loss_real", q.d_loss_real},
                  {"d_loss_fake", q.d_loss_fake},
                  {"g_loss", q.g_loss},
                  {"stats", q.stats_out},
                  {"cotangents->d_loss", q.cotangent_d},
                  {"cotangents->g_loss", q.cotangent_g}};
  if (device_expected && device < 0 && cudaGetDevice(&device) != cudaSuccess) device = -1;
  for (const auto& p : pointers) {
    if (p.ptr == nullptr) continue;
    cudaPointerAttributes a;
    const cudaError_t e = cudaPointerGetAttributes(&a, p.ptr);
    if (e != cudaSuccess) {
      cudaGetLastError();
      if (!device_expected) continue;  // no driver: nothing on the host side can be device memory
      return cuda_failure(e, "cudaPointerGetAttributes");
    }
    const bool device_memory = a.type == cudaMemoryTypeDevice;
    const bool host_visible = a.type == cudaMemoryTypeUnregistered ||
                              a.type == cudaMemoryTypeHost || a.type == cudaMemoryTypeManaged;
    if (device_expected) {
      const bool reachable = a.type == cudaMemoryTypeManaged ||
                             (a.type == cudaMemoryTypeHost && a.devicePointer != nullptr) ||
                             (device_memory && a.device == device);
      if (!reachable) {
        return fail(Status::InvalidMemory,
                    device_memory ? "%s is memory of device %d, but the current device is %d"
                                  : "%s is host memory the CUDA backend cannot read",
                    p.name, a.device, device);
      }
    } else if (!host_visible) {
      return fail(Status::InvalidMemory, "%s is device memory; host backends need host memory",
                  p.name);
    }
  }
  return Status::Success;
}

Status init_workspace(const ganloss_problem_t& problem, void* workspace, ganloss_stream_t stream) {
  const kernel::WorkspaceLayout w = kernel::workspace_layout(problem);
  const std::size_t counters = w.state_bytes + w.flag_bytes + w.ticket_bytes;
  if (counters == 0) return Status::Success;
  const cudaError_t e =
      cudaMemsetAsync(workspace, 0, counters, reinterpret_cast<cudaStream_t>(stream));
  if (e != cudaSuccess) return cuda_failure(e, "cudaMemsetAsync of the workspace counters");
  return Status::Success;
}

Status run(const CallParams& params, void* workspace, bool zero_counters, ganloss_stream_t stream) {
  const auto cuda_stream = reinterpret_cast<cudaStream_t>(stream);
  // The launches of the call (kernel::launch_sequence, which the emulator runs too), each on the
  // stream; a chunked pass leaves the tickets zero for the next, and the offsets check of a
  // ragged call writes its flag whole, so nothing else is zeroed per call.
  const kernel::LaunchSequence seq = kernel::launch_sequence(params, workspace);
  if (seq.check_offsets) {
    // Ragged: the offsets live on the device; check them there before any pass reads them.
    const cudaError_t e =
        kernel::launch_offsets_check(kernel::offsets_check_args(seq), cuda_stream);
    if (e != cudaSuccess) return cuda_failure(e, "checking the offsets");
  }
  if (seq.fused != 0) {
    // Segments within one warp or block: every pass in one launch, nothing chunked to zero.
    const cudaError_t e = launch(seq, cuda_stream);
    if (e != cudaSuccess) return cuda_failure(e, "launching the fused loss kernel");
    return Status::Success;
  }
  for (int i = 0; i < seq.count; ++i) {
    const kernel::KernelArgs& args = seq.args[i];
    if (i == 0 && args.regime == kernel::Regime::chunk && zero_counters) {
      const cudaError_t e = cudaMemsetAsync(
          args.tickets, 0, static_cast<std::size_t>(params.segments) * sizeof(uint32_t),
          cuda_stream);
      if (e != cudaSuccess) return cuda_failure(e, "cudaMemsetAsync of the workspace tickets");
    }
    const cudaError_t e = launch(args, cuda_stream);
    if (e != cudaSuccess) return cuda_failure(e, "launching the fused loss kernel");
  }
  return Status::Success;
}

}  // namespace cuda
}  // namespace detail
}  // namespace ganloss
