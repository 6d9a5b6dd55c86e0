// The __global__ wrapper of the fused kernel and its launch, instantiated once per logit and
// gradient type by the segmented_loss_<dtype>.cu files.
#ifndef GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_CUH_
#define GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_CUH_

#include "segmented_loss_kernel.hpp"
#include "segmented_loss_launch.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

template <class T, class G, Pass P, bool kPaired>
__global__ void __launch_bounds__(kThreads) segmented_loss_kernel(const KernelArgs args) {
  segmented_loss_body<T, G, P, kPaired>(args);
}

template <class T, class G, Pass P, bool kPaired>
cudaError_t launch_pass(const KernelArgs& args, cudaStream_t stream) {
  segmented_loss_kernel<T, G, P, kPaired>
      <<<static_cast<unsigned>(args.grid), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

// The instantiation for the launch's pass (the paired relativistic loss has no gradient pass).
template <class T, class G>
cudaError_t launch_segmented_loss(const KernelArgs& args, cudaStream_t stream) {
  switch (args.pass) {
    case Pass::prepass:
      return args.paired ? launch_pass<T, G, Pass::prepass, true>(args, stream)
                         : launch_pass<T, G, Pass::prepass, false>(args, stream);
    case Pass::gradients:
      return launch_pass<T, G, Pass::gradients, false>(args, stream);
    default:
      return args.paired ? launch_pass<T, G, Pass::main, true>(args, stream)
                         : launch_pass<T, G, Pass::main, false>(args, stream);
  }
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_CUH_
