// The SIMT primitives the kernels are written against, and nothing else: thread and block
// indices, block barriers, full-warp xor shuffles, fences, 32-bit integer atomics, coherent
// loads, and block-shared arrays.
//
// Under nvcc these are the CUDA built-ins. Compiled with GANLOSS_EMULATOR defined, they are
// declared here and implemented by the test-only host emulator (tests/emulator/), which runs
// the very same kernel bodies with one OS thread per lane; that is why kernel bodies and device
// helpers use only what this file offers and keep launch syntax out of headers.
#ifndef GANLOSS_KERNELS_DETAIL_SIMT_HPP_
#define GANLOSS_KERNELS_DETAIL_SIMT_HPP_

#include <cstdint>

#if defined(GANLOSS_EMULATOR)
#define GANLOSS_DEVICE inline
#define GANLOSS_UNROLL
#elif defined(__CUDACC__)
#define GANLOSS_DEVICE __device__ __forceinline__
#define GANLOSS_UNROLL _Pragma("unroll")
#else
#error "simt.hpp is for CUDA device code or the host emulator (define GANLOSS_EMULATOR)"
#endif

namespace ganloss {
namespace simt {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

#if defined(GANLOSS_EMULATOR)

unsigned thread_index();
unsigned block_size();
unsigned block_index();
unsigned grid_size();
void sync_block();
float shfl_xor_sync(unsigned mask, float value, int lane_mask);
double shfl_xor_sync(unsigned mask, double value, int lane_mask);
void thread_fence();
unsigned atomic_add(unsigned* address, unsigned value);
unsigned atomic_exchange(unsigned* address, unsigned value);

// Block-shared storage: one instance per kernel instantiation and call site. The emulator runs
// one block at a time, so a static object stands for __shared__; it also records, per element,
// which thread last wrote or read it in which barrier interval, and reports a thread touching
// an element another thread wrote (or read, for a write) since the last block barrier.
void shared_access(const void* array, int index, bool write);

template <class T, int N>
class SharedArray {
 public:
  class Ref {
   public:
    Ref(SharedArray& a, int i) : a_(a), i_(i) {}
    operator T() const {
      shared_access(&a_, i_, false);
      return a_.data_[i_];
    }
    Ref& operator=(const T& v) {
      shared_access(&a_, i_, true);
      a_.data_[i_] = v;
      return *this;
    }

   private:
    SharedArray& a_;
    int i_;
  };
  Ref operator[](int i) { return Ref(*this, i); }

 private:
  T data_[N];
};

#define GANLOSS_SHARED static

template <class T>
inline T load_coherent(const T* address) {
  return *address;
}

#else  // CUDA

GANLOSS_DEVICE unsigned thread_index() {
  return threadIdx.x;
}
GANLOSS_DEVICE unsigned block_size() {
  return blockDim.x;
}
GANLOSS_DEVICE unsigned block_index() {
  return blockIdx.x;
}
GANLOSS_DEVICE unsigned grid_size() {
  return gridDim.x;
}
GANLOSS_DEVICE void sync_block() {
  __syncthreads();
}
GANLOSS_DEVICE float shfl_xor_sync(unsigned mask, float value, int lane_mask) {
  return __shfl_xor_sync(mask, value, lane_mask);
}
GANLOSS_DEVICE double shfl_xor_sync(unsigned mask, double value, int lane_mask) {
  return __shfl_xor_sync(mask, value, lane_mask);
}
GANLOSS_DEVICE void thread_fence() {
  __threadfence();
}
GANLOSS_DEVICE unsigned atomic_add(unsigned* address, unsigned value) {
  return atomicAdd(address, value);
}
GANLOSS_DEVICE unsigned atomic_exchange(unsigned* address, unsigned value) {
  return atomicExch(address, value);
}

template <class T, int N>
class SharedArray {
 public:
  __device__ __forceinline__ T& operator[](int i) { return data_[i]; }

 private:
  T data_[N];
};

#define GANLOSS_SHARED __shared__

// Reads data other blocks wrote in this launch: through L2, never a stale L1 line.
template <class T>
GANLOSS_DEVICE T load_coherent(const T* address) {
  return __ldcg(address);
}

#endif

GANLOSS_DEVICE unsigned lane_index() {
  return thread_index() % kWarpSize;
}
GANLOSS_DEVICE unsigned warp_index() {
  return thread_index() / kWarpSize;
}

}  // namespace simt
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_DETAIL_SIMT_HPP_
