// Host entry points of the fused kernel, one per logit and gradient dtype (each in its own
// segmented_loss_<dtype>.cu, to keep compile units small and builds parallel).
#ifndef GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_HPP_
#define GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_HPP_

#include <cuda_runtime_api.h>

#include "segmented_loss_plan.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

// Each enqueues the kernel for `args` on `stream` and returns the launch's error, if any.
cudaError_t launch_segmented_loss_f32(const KernelArgs& args, cudaStream_t stream);
cudaError_t launch_segmented_loss_f16(const KernelArgs& args, cudaStream_t stream);
cudaError_t launch_segmented_loss_f16_f32grad(const KernelArgs& args, cudaStream_t stream);
cudaError_t launch_segmented_loss_bf16(const KernelArgs& args, cudaStream_t stream);
cudaError_t launch_segmented_loss_bf16_f32grad(const KernelArgs& args, cudaStream_t stream);

// Each enqueues every pass of a fused sequence (seq.fused != 0) in one launch.
cudaError_t launch_segmented_sequence_f32(const LaunchSequence& seq, cudaStream_t stream);
cudaError_t launch_segmented_sequence_f16(const LaunchSequence& seq, cudaStream_t stream);
cudaError_t launch_segmented_sequence_f16_f32grad(const LaunchSequence& seq, cudaStream_t stream);
cudaError_t launch_segmented_sequence_bf16(const LaunchSequence& seq, cudaStream_t stream);
cudaError_t launch_segmented_sequence_bf16_f32grad(const LaunchSequence& seq, cudaStream_t stream);

// The offsets check of a ragged call (offsets_check_body): one block, which writes the flag.
cudaError_t launch_offsets_check(const KernelArgs& args, cudaStream_t stream);

// Whether this binary holds code the current device can run (cudaSuccess) or not.
cudaError_t check_kernel_image();

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_HPP_
