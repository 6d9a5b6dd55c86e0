// The __global__ wrapper of the fused kernel and its launch, instantiated once per logit and
// gradient type by the segmented_loss_<dtype>.cu files.
#ifndef GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_CUH_
#define GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_CUH_

#include "segmented_loss_kernel.hpp"
#include "segmented_loss_launch.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

// Four blocks per SM: at most 64 registers per thread, half the SM's threads resident.
constexpr int kMinBlocksPerSm = 4;

template <class T, class G, uint32_t kSpec, Regime R>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    segmented_loss_kernel(const KernelArgs args) {
  segmented_loss_regime_body<T, G, kSpec, R>(args);
}

// Every pass of a fused sequence in one launch (sequence_body).
template <class T, class G, uint64_t kSequence, Regime R>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    segmented_sequence_kernel(const LaunchSequence seq) {
  sequence_body<T, G, kSequence, R>(seq);
}

template <class T, class G>
struct Launch {
  const KernelArgs& args;
  cudaStream_t stream;
  template <uint32_t kSpec>
  void operator()() {
    const dim3 grid(static_cast<unsigned>(args.grid));
    switch (args.regime) {
      case Regime::warp:
        segmented_loss_kernel<T, G, kSpec, Regime::warp><<<grid, kThreads, 0, stream>>>(args);
        break;
      case Regime::block:
        segmented_loss_kernel<T, G, kSpec, Regime::block><<<grid, kThreads, 0, stream>>>(args);
        break;
      default:
        segmented_loss_kernel<T, G, kSpec, Regime::chunk><<<grid, kThreads, 0, stream>>>(args);
    }
  }
};

template <class T, class G>
struct SequenceLaunch {
  const LaunchSequence& seq;
  cudaStream_t stream;
  template <uint64_t kSequence>
  void operator()() {
    const dim3 grid(static_cast<unsigned>(seq.args[0].grid));
    if (seq.args[0].regime == Regime::warp) {
      segmented_sequence_kernel<T, G, kSequence, Regime::warp><<<grid, kThreads, 0, stream>>>(seq);
    } else {
      segmented_sequence_kernel<T, G, kSequence, Regime::block><<<grid, kThreads, 0, stream>>>(seq);
    }
  }
};

// The fused launch of seq (seq.fused, dispatch_sequence).
template <class T, class G>
cudaError_t launch_segmented_sequence(const LaunchSequence& seq, cudaStream_t stream) {
  SequenceLaunch<T, G> launch{seq, stream};
  if (!dispatch_sequence(seq.fused, launch)) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

// The instantiation for the launch's spec (dispatch_spec: the one dispatch place).
template <class T, class G>
cudaError_t launch_segmented_loss(const KernelArgs& args, cudaStream_t stream) {
  Launch<T, G> launch{args, stream};
  if (!dispatch_spec(args.spec, launch)) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENTED_LOSS_LAUNCH_CUH_
