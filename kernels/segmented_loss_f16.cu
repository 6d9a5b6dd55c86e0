// The fused kernel for f16 logits and gradients.
#include "segmented_loss_launch.cuh"

namespace ganloss {
namespace detail {
namespace kernel {

cudaError_t launch_segmented_loss_f16(const KernelArgs& args, cudaStream_t stream) {
  return launch_segmented_loss<__half, __half>(args, stream);
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss
