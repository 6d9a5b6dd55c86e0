// The fused kernel for bf16 logits and gradients.
#include "segmented_loss_launch.cuh"

namespace ganloss {
namespace detail {
namespace kernel {

cudaError_t launch_segmented_loss_bf16(const KernelArgs& args, cudaStream_t stream) {
  return launch_segmented_loss<__nv_bfloat16, __nv_bfloat16>(args, stream);
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss
