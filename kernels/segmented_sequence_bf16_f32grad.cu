// The fused multi-pass kernel (every pass of a call in one launch) for bf16 logits with f32
// gradients. Apart from the single-pass kernels of segmented_loss_bf16_f32grad.cu, so that the two
// compile in parallel.
#include "segmented_loss_launch.cuh"

namespace ganloss {
namespace detail {
namespace kernel {

cudaError_t launch_segmented_sequence_bf16_f32grad(const LaunchSequence& seq, cudaStream_t stream) {
  return launch_segmented_sequence<__nv_bfloat16, float>(seq, stream);
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss
