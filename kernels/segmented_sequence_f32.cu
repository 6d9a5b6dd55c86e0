// The fused multi-pass kernel (every pass of a call in one launch) for f32 logits and gradients.
// Apart from the single-pass kernels of segmented_loss_f32.cu, so that the two compile in
// parallel.
#include "segmented_loss_launch.cuh"

namespace ganloss {
namespace detail {
namespace kernel {

cudaError_t launch_segmented_sequence_f32(const LaunchSequence& seq, cudaStream_t stream) {
  return launch_segmented_sequence<float, float>(seq, stream);
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss
