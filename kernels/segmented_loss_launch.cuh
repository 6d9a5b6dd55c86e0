// The __global__ wrapper of the fused kernel and its launch, instantiated once per logit and
// gradient type by the segmented_loss_<dtype>.cu files.
#ifndef GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_CUH_
#define GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_CUH_

#include "segmented_loss_kernel.hpp"
#include "segmented_loss_launch.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

template <class T, class G>
__global__ void __launch_bounds__(kThreads) segmented_loss_kernel(const KernelArgs args) {
  segmented_loss_body<T, G>(args);
}

template <class T, class G>
cudaError_t launch_segmented_loss(const KernelArgs& args, cudaStream_t stream) {
  segmented_loss_kernel<T, G><<<static_cast<unsigned>(args.grid), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_CUH_
