// 16-byte vector access to logits and per-element outputs, and the element conversions
// between storage types and the fp32 all math is done in.
#ifndef GANLOSS_KERNELS_DETAIL_VECTOR_IO_HPP_
#define GANLOSS_KERNELS_DETAIL_VECTOR_IO_HPP_

#include <cstdint>
#include <cstring>

#include "detail/simt.hpp"

#if !defined(GANLOSS_EMULATOR)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace ganloss {
namespace detail {

constexpr int kVectorBytes = 16;

// N elements of T moved with aligned accesses of at most 16 bytes each.
template <class T, int N>
struct alignas(sizeof(T) * N < kVectorBytes ? sizeof(T) * N : kVectorBytes) Vec {
  T v[N];
};

// Elements of T from `p` to the next 16-byte boundary.
template <class T>
GANLOSS_DEVICE int64_t elements_to_alignment(const T* p) {
  const auto misalignment = static_cast<int64_t>(reinterpret_cast<uintptr_t>(p) % kVectorBytes);
  return ((kVectorBytes - misalignment) % kVectorBytes) / static_cast<int64_t>(sizeof(T));
}

// Aligned loads and stores of N elements, and of single elements. Under the emulator each one
// also records the lane's address for the coalescing report, under the caller's source line.
#if defined(GANLOSS_EMULATOR)
template <class T, int N>
inline Vec<T, N> load_vector(const T* p, const char* file = __builtin_FILE(),
                             unsigned line = __builtin_LINE()) {
  simt::global_access(p, sizeof(Vec<T, N>), false, file, line);
  Vec<T, N> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T, int N>
inline void store_vector(T* p, const Vec<T, N>& v, const char* file = __builtin_FILE(),
                         unsigned line = __builtin_LINE()) {
  simt::global_access(p, sizeof(Vec<T, N>), true, file, line);
  std::memcpy(p, &v, sizeof v);
}

template <class T>
inline T load_global(const T* p, const char* file = __builtin_FILE(),
                     unsigned line = __builtin_LINE()) {
  simt::global_access(p, sizeof(T), false, file, line);
  return *p;
}

template <class T>
inline void store_global(T* p, const T& v, const char* file = __builtin_FILE(),
                         unsigned line = __builtin_LINE()) {
  simt::global_access(p, sizeof(T), true, file, line);
  *p = v;
}
#else
template <class T, int N>
GANLOSS_DEVICE Vec<T, N> load_vector(const T* p) {
  return *reinterpret_cast<const Vec<T, N>*>(p);
}

template <class T, int N>
GANLOSS_DEVICE void store_vector(T* p, const Vec<T, N>& v) {
  *reinterpret_cast<Vec<T, N>*>(p) = v;
}

template <class T>
GANLOSS_DEVICE T load_global(const T* p) {
  return *p;
}

template <class T>
GANLOSS_DEVICE void store_global(T* p, const T& v) {
  *p = v;
}
#endif

// Element conversions to and from fp32, round to nearest even. The emulator provides the
// 16-bit types' overloads and specializations itself (tests/emulator/host_types.hpp).
GANLOSS_DEVICE float to_float(float x) {
  return x;
}

template <class T>
GANLOSS_DEVICE T from_float(float x);

template <>
GANLOSS_DEVICE float from_float<float>(float x) {
  return x;
}

#if !defined(GANLOSS_EMULATOR)
GANLOSS_DEVICE float to_float(__half x) {
  return __half2float(x);
}
GANLOSS_DEVICE float to_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <>
GANLOSS_DEVICE __half from_float<__half>(float x) {
  return __float2half_rn(x);
}

template <>
GANLOSS_DEVICE __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
#endif

// The float whose bits are `bits`.
GANLOSS_DEVICE float float_from_bits(uint32_t bits) {
#if defined(GANLOSS_EMULATOR)
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#else
  return __uint_as_float(bits);
#endif
}

// The bits of the float `x`.
GANLOSS_DEVICE uint32_t bits_from_float(float x) {
#if defined(GANLOSS_EMULATOR)
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
#else
  return __float_as_uint(x);
#endif
}

// N bf16 values (their bits, in memory order) in fp32, from each 32-bit word of two with one
// instruction apiece: a bf16 is the upper half of the fp32 it stands for, so the word shifted
// left by 16 is its first element (the lower address) and the word masked to its upper half is
// the second. Converted one by one, the second costs a byte permute and a shift.
template <int N>
GANLOSS_DEVICE void widen_bf16(const void* bits, float (&out)[N]) {
  static_assert(N % 2 == 0, "whole 32-bit words");
  GANLOSS_UNROLL
  for (int i = 0; i < N / 2; ++i) {
    uint32_t w;
    std::memcpy(&w, static_cast<const char*>(bits) + 4 * i, sizeof w);
    out[2 * i] = float_from_bits(w << 16);
    out[2 * i + 1] = float_from_bits(w & 0xffff0000u);
  }
}

// Whether T is the bf16 storage type (the emulator's own adds its specialization).
template <class T>
constexpr bool kIsBf16 = false;
#if !defined(GANLOSS_EMULATOR)
template <>
constexpr bool kIsBf16<__nv_bfloat16> = true;
#endif

// The N elements of a vector in fp32: to_float each, or widen_bf16 for bf16 of whole words.
template <class T, int N>
GANLOSS_DEVICE void to_floats(const Vec<T, N>& x, float (&out)[N]) {
  if constexpr (kIsBf16<T> && N % 2 == 0) {
    widen_bf16<N>(&x, out);
  } else {
    GANLOSS_UNROLL
    for (int j = 0; j < N; ++j)
      out[j] = to_float(x.v[j]);
  }
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_DETAIL_VECTOR_IO_HPP_
