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
#include <atomic>
#endif

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
constexpr int kMaxShuffleValues = 16;

#if defined(GANLOSS_EMULATOR)

unsigned thread_index();
unsigned block_size();
unsigned block_index();
unsigned grid_size();
void sync_block();
float shfl_xor_sync(unsigned mask, float value, int lane_mask);
double shfl_xor_sync(unsigned mask, double value, int lane_mask);
// `count` values (at most kMaxShuffleValues) exchanged as `count` shuffles would, in one warp
// phase: the emulator's cost of a shuffle is its phase, not its bytes.
void shfl_xor_sync(unsigned mask, float* values, int count, int lane_mask);
void shfl_xor_sync(unsigned mask, double* values, int count, int lane_mask);
unsigned atomic_add(unsigned* address, unsigned value);
unsigned atomic_exchange(unsigned* address, unsigned value);

// A device-wide fence: every global write of this thread before it happens before any coherent
// load (load_coherent) that runs after it, in any block. See tests/emulator/simt_emulator.hpp
// for how this maps onto the C++ memory model.
void thread_fence();

// Records one lane's access of `bytes` bytes of global memory at `address` from the source line
// `file`:`line`, for the emulator's coalescing report. The instrumented accessors below pass
// their caller's line through default arguments.
void global_access(const void* address, unsigned bytes, bool store, const char* file,
                   unsigned line);

// Records a coherent load and orders it after every fence any thread has passed (an acquire);
// false when the launch injects incoherent loads, which are then plain loads.
bool coherent_load(const void* address, unsigned bytes, const char* file, unsigned line);

// The running block's storage of the shared array `key` (count elements of element_bytes),
// after checking the access of element `index`: out of range, or touching an element another
// thread wrote (or, for a write, read) since the last block barrier, or reading an element no
// thread of this block wrote, is reported.
void* shared_element(const void* key, unsigned element_bytes, int count, int index, bool write);

// Block-shared storage. The object itself holds nothing: declared GANLOSS_SHARED (static) it
// names one array per kernel instantiation and call site, and the emulator keeps that array's
// storage per running block, so that blocks running at once never share it.
template <class T, int N>
class SharedArray {
  static_assert(alignof(T) <= 16, "shared storage is 16-byte aligned");

 public:
  class Ref {
   public:
    Ref(SharedArray& a, int i) : a_(a), i_(i) {}
    // Typed accesses, not memcpy: ThreadSanitizer must see them (an inlined memcpy it may not).
    operator T() const {
      return *static_cast<const T*>(shared_element(&a_, sizeof(T), N, i_, false));
    }
    Ref& operator=(const T& v) {
      *static_cast<T*>(shared_element(&a_, sizeof(T), N, i_, true)) = v;
      return *this;
    }

   private:
    SharedArray& a_;
    int i_;
  };
  Ref operator[](int i) { return Ref(*this, i); }
};

#define GANLOSS_SHARED static

// Reads data other blocks wrote in this launch and published with thread_fence(): a relaxed
// atomic load, ordered after the fences (see thread_fence).
template <class T>
inline T load_coherent(const T* address, const char* file = __builtin_FILE(),
                       unsigned line = __builtin_LINE()) {
  if (!coherent_load(address, sizeof(T), file, line)) return *address;
  return std::atomic_ref<T>(*const_cast<T*>(address)).load(std::memory_order_relaxed);
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
template <class T>
GANLOSS_DEVICE void shfl_xor_sync(unsigned mask, T* values, int count, int lane_mask) {
#pragma unroll
  for (int k = 0; k < count; ++k)
    values[k] = __shfl_xor_sync(mask, values[k], lane_mask);
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

// A value every lane of the warp holds, returned so that the compiler knows it is uniform
// (lane 0's, broadcast): values derived from it can live in uniform registers.
#if defined(GANLOSS_EMULATOR)
inline unsigned warp_uniform(unsigned value) {
  return value;
}
#else
GANLOSS_DEVICE unsigned warp_uniform(unsigned value) {
  return __shfl_sync(kFullMask, value, 0);
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
