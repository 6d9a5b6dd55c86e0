// The fused kernel for f32 logits and gradients.
#include "segmented_loss_launch.cuh"

namespace ganloss {
namespace detail {
namespace kernel {

cudaError_t launch_segmented_loss_f32(const KernelArgs& args, cudaStream_t stream) {
  return launch_segmented_loss<float, float>(args, stream);
}

cudaError_t check_kernel_image() {
  cudaFuncAttributes attributes;
  return cudaFuncGetAttributes(&attributes, segmented_loss_kernel<float, float, Pass::main, false>);
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss
