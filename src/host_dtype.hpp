// IEEE binary16 and bfloat16 conversions on the host (round to nearest even, NaN kept quiet),
// for the host backends and tools; the CUDA kernels use cuda_fp16.h / cuda_bf16.h instead.
#ifndef GANLOSS_SRC_HOST_DTYPE_HPP_
#define GANLOSS_SRC_HOST_DTYPE_HPP_

#include <cstdint>
#include <cstring>

namespace ganloss {
namespace detail {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float bfloat16_to_float(uint16_t h) {
  return bits_float(static_cast<uint32_t>(h) << 16);
}

inline uint16_t float_to_bfloat16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // NaN
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1fu) return bits_float(sign | 0x7f800000u | (mant << 13));  // inf, NaN
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  // Zero or subnormal: mant * 2^-24, exact in float.
  const float magnitude = static_cast<float>(mant) * 5.9604644775390625e-8f;
  return sign ? -magnitude : magnitude;
}

inline uint16_t float_to_half(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf or is inf
  if (a >= 0x38800000u) {                                              // normal half
    const uint32_t rounded = a + 0xfffu + ((a >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
  }
  // Subnormal half or zero: round |f| / 2^-24 to the nearest integer, ties to even.
  const float scaled = bits_float(a) * 16777216.0f;  // exact: a power-of-two scale
  const uint32_t whole = static_cast<uint32_t>(scaled);
  const float frac = scaled - static_cast<float>(whole);
  uint32_t m = whole;
  if (frac > 0.5f || (frac == 0.5f && (whole & 1u))) ++m;
  return static_cast<uint16_t>(sign | m);
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_HOST_DTYPE_HPP_
