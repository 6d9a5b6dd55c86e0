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

// The emulated kernels widen bf16 vectors as the device does (to_floats, widen_bf16).
template <>
inline constexpr bool kIsBf16<HostBFloat16> = true;

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_TESTS_EMULATOR_HOST_TYPES_HPP_
