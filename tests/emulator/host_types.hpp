// The 16-bit element types as the emulated kernels see them: storage-only host structs with
// the same to_float / from_float conversions the device types have (round to nearest even).
#ifndef GANLOSS_TESTS_EMULATOR_HOST_TYPES_HPP_
#define GANLOSS_TESTS_EMULATOR_HOST_TYPES_HPP_

#include <cstdint>

#include "detail/vector_io.hpp"
#include "host_dtype.hpp"

namespace ganloss {
namespace detail {

struct HostHalf {
  uint16_t bits;
};

struct HostBFloat16 {
  uint16_t bits;
};

static_assert(sizeof(HostHalf) == 2 && alignof(HostHalf) == 2, "binary16 storage");
static_assert(sizeof(HostBFloat16) == 2 && alignof(HostBFloat16) == 2, "bfloat16 storage");

inline float to_float(HostHalf x) {
  return half_to_float(x.bits);
}
inline float to_float(HostBFloat16 x) {
  return bfloat16_to_float(x.bits);
}

template <>
inline HostHalf from_float<HostHalf>(float x) {
  return HostHalf{float_to_half(x)};
}

template <>
inline HostBFloat16 from_float<HostBFloat16>(float x) {
  return HostBFloat16{float_to_bfloat16(x)};
}

// The device's conversion of bf16 vectors of whole words (widen_bf16), for the emulated
// kernels too.
template <int N>
inline void to_floats(const Vec<HostBFloat16, N>& x, float (&out)[N]) {
  if constexpr (N % 2 == 0) {
    widen_bf16<N>(&x, out);
  } else {
    for (int j = 0; j < N; ++j)
      out[j] = to_float(x.v[j]);
  }
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_TESTS_EMULATOR_HOST_TYPES_HPP_
