// The fused kernel for f32 logits.
#include "segmented_loss_kernel.hpp"
#include "segmented_loss_launch.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

__global__ void __launch_bounds__(kThreads) segmented_loss_f32(const KernelArgs args) {
  segmented_loss_body<float>(args);
}

cudaError_t launch_segmented_loss_f32(const KernelArgs& args, cudaStream_t stream) {
  segmented_loss_f32<<<static_cast<unsigned>(args.grid), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

cudaError_t check_kernel_image() {
  cudaFuncAttributes attributes;
  return cudaFuncGetAttributes(&attributes, segmented_loss_f32);
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss
