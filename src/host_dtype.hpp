// IEEE binary16 and bfloat16 conversions on the host, round to nearest even with NaN kept
// quiet, written without branches so that loops over them vectorize (the CPU backend converts
// whole tiles). The CUDA kernels use cuda_fp16.h / cuda_bf16.h instead.
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
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x0040u;
  const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
  return static_cast<uint16_t>(nan ? quiet_nan : rounded);
}

inline float half_to_float(uint16_t h) {
  const uint32_t magnitude = static_cast<uint32_t>(h & 0x7fffu) << 13;
  const uint32_t exponent = magnitude & 0x0f800000u;
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  // Normal: rebias the exponent. Inf/NaN: to the top exponent. Subnormal: rebias one step
  // more and subtract the implicit bit as a float (exact), which renormalises.
  const uint32_t normal = magnitude + 0x38000000u;
  const uint32_t special = magnitude + 0x70000000u;
  const float subnormal = bits_float(magnitude + 0x38800000u) - bits_float(0x38800000u);
  const uint32_t out = exponent == 0x0f800000u ? special
                       : exponent == 0         ? float_bits(subnormal)
                                               : normal;
  return bits_float(out | sign);
}

inline uint16_t float_to_half(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  // |f| >= 65520 rounds to infinity; NaN stays a quiet NaN.
  const uint32_t overflow = a > 0x7f800000u ? 0x7e00u : 0x7c00u;
  // Below the normal range: let the float adder round |f| + 0.5 into the low mantissa bits.
  const uint32_t subnormal = float_bits(bits_float(a) + 0.5f) - 0x3f000000u;
  // Normal: rebias, round to nearest even on the 13 dropped bits (a carry may reach infinity).
  const uint32_t normal = (a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13;
  const uint32_t out = a >= 0x47800000u ? overflow : a < 0x38800000u ? subnormal : normal;
  return static_cast<uint16_t>(out | sign);
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_HOST_DTYPE_HPP_
