// The fused kernel for f32 logits and gradients.
#include "segmented_loss_launch.cuh"

namespace ganloss {
namespace detail {
namespace kernel {

cudaError_t launch_segmented_loss_f32(const KernelArgs& args, cudaStream_t stream) {
  return launch_segmented_loss<float, float>(args, stream);
}

__global__ void __launch_bounds__(kThreads) offsets_check_kernel(const KernelArgs args) {
  offsets_check_body(args);
}

cudaError_t launch_offsets_check(const KernelArgs& args, cudaStream_t stream) {
  offsets_check_kernel<<<1, kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

cudaError_t check_kernel_image() {
  cudaFuncAttributes attributes;
  return cudaFuncGetAttributes(&attributes,
                               segmented_loss_kernel<float, float, kSpecs[0], Regime::warp>);
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss
