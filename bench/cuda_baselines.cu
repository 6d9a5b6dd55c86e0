// The baselines of the CUDA benchmarks: the launch floor, a 16-byte-vectorised copy, and the
// unfused non-saturating pipeline built from elementwise kernels and CUB reductions. One
// translation unit, so the benchmarks add one nvcc compile to the build.
#include <cuda_bf16.h>
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_segmented_reduce.cuh>

#include <algorithm>

#include "bench_problem.hpp"
#include "cuda_baselines.hpp"

namespace ganloss_bench {
namespace {

constexpr int kThreads = 256;
// Each copy thread keeps this many 16-byte loads in flight before storing them.
constexpr int kCopyVectorsPerThread = 4;
constexpr int64_t kMaxElementwiseBlocks = int64_t{1} << 20;

__device__ inline float to_float(float x) {
  return x;
}
__device__ inline float to_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <typename T>
__device__ inline T from_float(float x);
template <>
__device__ inline float from_float<float>(float x) {
  return x;
}
template <>
__device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// softplus(x) = log(1 + e^x) without overflow, from e = exp(-|x|).
__device__ inline float softplus(float x) {
  return fmaxf(x, 0.0f) + log1pf(__expf(-fabsf(x)));
}

// sigmoid(x) from e = exp(-|x|), without forming 1 - sigmoid.
__device__ inline float sigmoid(float x) {
  const float e = __expf(-fabsf(x));
  return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

unsigned elementwise_blocks(int64_t count) {
  return static_cast<unsigned>(
      std::clamp<int64_t>((count + kThreads - 1) / kThreads, 1, kMaxElementwiseBlocks));
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    fill_logits_kernel(T* __restrict__ dst, int64_t count, uint32_t seed) {
  const int64_t stride = int64_t{gridDim.x} * kThreads;
  for (int64_t i = int64_t{blockIdx.x} * kThreads + threadIdx.x; i < count; i += stride) {
    dst[i] = from_float<T>(synthetic_logit(static_cast<uint64_t>(i), seed));
  }
}

__global__ void empty_kernel() {}

__global__ void __launch_bounds__(kThreads)
    copy_kernel(const int4* __restrict__ src, int4* __restrict__ dst, int64_t vectors,
                const unsigned char* __restrict__ src_tail, unsigned char* __restrict__ dst_tail,
                int tail_bytes) {
  const int64_t base = int64_t{blockIdx.x} * kThreads * kCopyVectorsPerThread + threadIdx.x;
  int4 v[kCopyVectorsPerThread];
#pragma unroll
  for (int k = 0; k < kCopyVectorsPerThread; ++k) {
    const int64_t i = base + int64_t{k} * kThreads;
    if (i < vectors) v[k] = src[i];
  }
#pragma unroll
  for (int k = 0; k < kCopyVectorsPerThread; ++k) {
    const int64_t i = base + int64_t{k} * kThreads;
    if (i < vectors) dst[i] = v[k];
  }
  if (blockIdx.x == 0 && static_cast<int>(threadIdx.x) < tail_bytes) {
    dst_tail[threadIdx.x] = src_tail[threadIdx.x];
  }
}

// The forward pass: the three per-element terms, as three f32 arrays of `count` each.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    nonsaturating_terms_kernel(const T* __restrict__ real, const T* __restrict__ fake,
                               float* __restrict__ terms, int64_t count) {
  const int64_t stride = int64_t{gridDim.x} * kThreads;
  for (int64_t i = int64_t{blockIdx.x} * kThreads + threadIdx.x; i < count; i += stride) {
    const float r = to_float(real[i]);
    const float f = to_float(fake[i]);
    terms[i] = softplus(-r);
    terms[count + i] = softplus(f);
    terms[2 * count + i] = softplus(-f);
  }
}

// sums holds the per-segment sums of the real, the fake D and the fake G terms, in that order.
__global__ void __launch_bounds__(kThreads)
    nonsaturating_losses_kernel(const float* __restrict__ sums, float* __restrict__ losses,
                                int64_t segments, float inverse_side_count) {
  const int64_t s = int64_t{blockIdx.x} * kThreads + threadIdx.x;
  if (s >= segments) return;
  const float real = sums[s] * inverse_side_count;
  const float fake = sums[segments + s] * inverse_side_count;
  losses[s] = real + fake;
  losses[segments + s] = real;
  losses[2 * segments + s] = fake;
  losses[3 * segments + s] = sums[2 * segments + s] * inverse_side_count;
}

// The backward pass: reads the logits again and writes the three mean-reduced gradients.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    nonsaturating_gradients_kernel(const T* __restrict__ real, const T* __restrict__ fake,
                                   T* __restrict__ grad_real, T* __restrict__ grad_fake_d,
                                   T* __restrict__ grad_fake_g, int64_t count,
                                   float inverse_side_count) {
  const int64_t stride = int64_t{gridDim.x} * kThreads;
  for (int64_t i = int64_t{blockIdx.x} * kThreads + threadIdx.x; i < count; i += stride) {
    const float r = to_float(real[i]);
    const float f = to_float(fake[i]);
    grad_real[i] = from_float<T>(-sigmoid(-r) * inverse_side_count);
    grad_fake_d[i] = from_float<T>(sigmoid(f) * inverse_side_count);
    grad_fake_g[i] = from_float<T>(-sigmoid(-f) * inverse_side_count);
  }
}

__global__ void __launch_bounds__(kThreads)
    segment_offsets_kernel(int64_t* __restrict__ offsets, int64_t count, int64_t length) {
  const int64_t i = int64_t{blockIdx.x} * kThreads + threadIdx.x;
  if (i <= count) offsets[i] = i * length;
}

constexpr std::size_t kWorkspaceAlignment = 256;

std::size_t aligned(std::size_t bytes) {
  return (bytes + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment;
}

// Where each piece of the unfused pipeline's state lives in its workspace.
struct UnfusedLayout {
  int64_t count;          // logits per side
  int64_t term_segments;  // 3 * segments: the real, fake D and fake G terms of every segment
  std::size_t terms_offset;
  std::size_t sums_offset;
  std::size_t offsets_offset;
  std::size_t temp_offset;
  std::size_t temp_bytes;
  std::size_t total;
};

UnfusedLayout unfused_layout(const UnfusedProblem& p, std::size_t temp_bytes) {
  UnfusedLayout l{};
  l.count = p.segments * p.side_count;
  l.term_segments = 3 * p.segments;
  l.terms_offset = 0;
  l.sums_offset = l.terms_offset + aligned(sizeof(float) * static_cast<std::size_t>(3 * l.count));
  l.offsets_offset =
      l.sums_offset + aligned(sizeof(float) * static_cast<std::size_t>(l.term_segments));
  l.temp_offset =
      l.offsets_offset + aligned(sizeof(int64_t) * static_cast<std::size_t>(l.term_segments + 1));
  l.temp_bytes = temp_bytes;
  l.total = l.temp_offset + aligned(temp_bytes);
  return l;
}

// One segment is summed with the device-wide reduction, as a framework sums a whole tensor;
// DeviceSegmentedReduce would give the three long segments only three blocks.
cudaError_t sum_terms(const UnfusedProblem& p, const UnfusedLayout& l, unsigned char* workspace,
                      std::size_t& temp_bytes, cudaStream_t stream) {
  void* temp = workspace == nullptr ? nullptr : workspace + l.temp_offset;
  const float* terms =
      workspace == nullptr ? nullptr : reinterpret_cast<const float*>(workspace + l.terms_offset);
  float* sums =
      workspace == nullptr ? nullptr : reinterpret_cast<float*>(workspace + l.sums_offset);
  if (p.segments == 1) {
    for (int64_t side = 0; side < 3; ++side) {
      const cudaError_t e = cub::DeviceReduce::Sum(
          temp, temp_bytes, terms == nullptr ? nullptr : terms + side * l.count,
          sums == nullptr ? nullptr : sums + side, l.count, stream);
      if (e != cudaSuccess || workspace == nullptr) return e;
    }
    return cudaSuccess;
  }
  const int64_t* offsets = workspace == nullptr
                               ? nullptr
                               : reinterpret_cast<const int64_t*>(workspace + l.offsets_offset);
  return cub::DeviceSegmentedReduce::Sum(temp, temp_bytes, terms, sums,
                                         static_cast<int>(l.term_segments), offsets,
                                         offsets == nullptr ? nullptr : offsets + 1, stream);
}

template <typename T>
cudaError_t run_unfused(const UnfusedProblem& p, const UnfusedBuffers& b, const UnfusedLayout& l,
                        unsigned char* workspace, cudaStream_t stream) {
  const T* real = static_cast<const T*>(b.real);
  const T* fake = static_cast<const T*>(b.fake);
  float* terms = reinterpret_cast<float*>(workspace + l.terms_offset);
  const float inverse = 1.0f / static_cast<float>(p.side_count);
  const unsigned blocks = elementwise_blocks(l.count);
  nonsaturating_terms_kernel<T><<<blocks, kThreads, 0, stream>>>(real, fake, terms, l.count);
  std::size_t temp_bytes = l.temp_bytes;
  cudaError_t e = sum_terms(p, l, workspace, temp_bytes, stream);
  if (e != cudaSuccess) return e;
  nonsaturating_losses_kernel<<<elementwise_blocks(p.segments), kThreads, 0, stream>>>(
      reinterpret_cast<const float*>(workspace + l.sums_offset), b.losses, p.segments, inverse);
  nonsaturating_gradients_kernel<T><<<blocks, kThreads, 0, stream>>>(
      real, fake, static_cast<T*>(b.grad_real), static_cast<T*>(b.grad_fake_d),
      static_cast<T*>(b.grad_fake_g), l.count, inverse);
  return cudaGetLastError();
}

}  // namespace

cudaError_t fill_logits(void* dst, int64_t count, bool bf16, uint32_t seed, cudaStream_t stream) {
  const unsigned blocks = elementwise_blocks(count);
  if (bf16) {
    fill_logits_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<__nv_bfloat16*>(dst), count,
                                                        seed);
  } else {
    fill_logits_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<float*>(dst), count, seed);
  }
  return cudaGetLastError();
}

cudaError_t launch_empty_kernel(cudaStream_t stream) {
  empty_kernel<<<1, 1, 0, stream>>>();
  return cudaGetLastError();
}

cudaError_t launch_copy(const void* src, void* dst, std::size_t bytes, cudaStream_t stream) {
  const auto vectors = static_cast<int64_t>(bytes / sizeof(int4));
  const int tail = static_cast<int>(bytes % sizeof(int4));
  const int64_t per_block = int64_t{kThreads} * kCopyVectorsPerThread;
  const auto blocks =
      static_cast<unsigned>(std::max<int64_t>(1, (vectors + per_block - 1) / per_block));
  const std::size_t head = bytes - static_cast<std::size_t>(tail);
  copy_kernel<<<blocks, kThreads, 0, stream>>>(
      static_cast<const int4*>(src), static_cast<int4*>(dst), vectors,
      static_cast<const unsigned char*>(src) + head, static_cast<unsigned char*>(dst) + head, tail);
  return cudaGetLastError();
}

std::size_t unfused_workspace_bytes(const UnfusedProblem& problem, const char** error_message) {
  std::size_t temp_bytes = 0;
  const UnfusedLayout l = unfused_layout(problem, 0);
  const cudaError_t e = sum_terms(problem, l, nullptr, temp_bytes, nullptr);
  if (e != cudaSuccess) {
    *error_message = cudaGetErrorString(e);
    return 0;
  }
  return unfused_layout(problem, temp_bytes).total;
}

cudaError_t unfused_prepare(const UnfusedProblem& problem, void* workspace, std::size_t bytes,
                            cudaStream_t stream) {
  const UnfusedLayout l = unfused_layout(problem, 0);
  if (bytes < l.total) return cudaErrorInvalidValue;
  auto* offsets =
      reinterpret_cast<int64_t*>(static_cast<unsigned char*>(workspace) + l.offsets_offset);
  segment_offsets_kernel<<<elementwise_blocks(l.term_segments + 1), kThreads, 0, stream>>>(
      offsets, l.term_segments, problem.side_count);
  return cudaGetLastError();
}

cudaError_t unfused_run(const UnfusedProblem& problem, const UnfusedBuffers& buffers,
                        void* workspace, std::size_t bytes, cudaStream_t stream) {
  const UnfusedLayout base = unfused_layout(problem, 0);
  if (bytes < base.total) return cudaErrorInvalidValue;
  const UnfusedLayout l = unfused_layout(problem, bytes - base.total);
  auto* w = static_cast<unsigned char*>(workspace);
  return problem.bf16 ? run_unfused<__nv_bfloat16>(problem, buffers, l, w, stream)
                      : run_unfused<float>(problem, buffers, l, w, stream);
}

}  // namespace ganloss_bench
