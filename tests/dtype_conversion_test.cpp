// The host binary16 and bfloat16 conversions (src/host_dtype.hpp), which the CPU backend runs
// on every element: exhaustively for every 16-bit pattern, and round to nearest even at every
// midpoint, against decodings written here from the formats' definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "host_dtype.hpp"

namespace ganloss {
namespace {

double half_value(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0x1f) {
    return mantissa ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  }
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

bool same(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

TEST(HalfConversion, EveryPatternDecodes) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = detail::half_to_float(static_cast<uint16_t>(h));
    ASSERT_TRUE(same(f, half_value(static_cast<uint16_t>(h)))) << std::hex << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h;
  }
}

TEST(HalfConversion, EveryPatternRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const uint16_t back = detail::float_to_half(detail::half_to_float(bits));
    if (std::isnan(half_value(bits))) {
      ASSERT_TRUE(std::isnan(half_value(back))) << std::hex << h;
      ASSERT_EQ(back & 0x8000, bits & 0x8000);
    } else {
      ASSERT_EQ(back, bits) << std::hex << h;
    }
  }
}

// Between two neighbouring halves: just below the midpoint rounds down, just above rounds up,
// the midpoint itself to the even one. Covers subnormals and the overflow to infinity.
TEST(HalfConversion, RoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const double lo = half_value(static_cast<uint16_t>(h));
    const double hi = h + 1 == 0x7c00 ? 65536.0 : half_value(static_cast<uint16_t>(h + 1));
    const double mid = (lo + hi) / 2;  // exact in float: halves have 11 significant bits
    const auto mid_f = static_cast<float>(mid);
    ASSERT_EQ(static_cast<double>(mid_f), mid);
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    ASSERT_EQ(detail::float_to_half(mid_f), even) << std::hex << h;
    ASSERT_EQ(detail::float_to_half(std::nextafter(mid_f, 0.0f)), h) << std::hex << h;
    ASSERT_EQ(detail::float_to_half(std::nextafter(mid_f, 1e9f)), h + 1) << std::hex << h;
    ASSERT_EQ(detail::float_to_half(-mid_f), even | 0x8000u) << std::hex << h;
  }
  EXPECT_EQ(detail::float_to_half(1e9f), 0x7c00);
  EXPECT_EQ(detail::float_to_half(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(detail::float_to_half(1e-30f), 0x0000);
  EXPECT_EQ(detail::float_to_half(-0.0f), 0x8000);
  EXPECT_TRUE(std::isnan(half_value(detail::float_to_half(std::nanf("")))));
}

TEST(BFloat16Conversion, DecodesAndRoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint32_t bits = h << 16;
    float want;
    std::memcpy(&want, &bits, sizeof want);
    ASSERT_TRUE(same(detail::bfloat16_to_float(static_cast<uint16_t>(h)), want)) << std::hex << h;
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(detail::bfloat16_to_float(detail::float_to_bfloat16(want))));
      continue;
    }
    ASSERT_EQ(detail::float_to_bfloat16(want), h) << std::hex << h;
    if ((h & 0x7fff) >= 0x7f80) continue;  // no neighbour above infinity
    // The float halfway to the next bfloat16 (tie to even), and its neighbours.
    const uint32_t mid_bits = bits | 0x8000u;
    float mid;
    std::memcpy(&mid, &mid_bits, sizeof mid);
    const uint32_t even = (h & 1) ? h + 1 : h;
    ASSERT_EQ(detail::float_to_bfloat16(mid), even) << std::hex << h;
    const uint32_t below_bits = mid_bits - 1, above_bits = mid_bits + 1;
    float below, above;
    std::memcpy(&below, &below_bits, sizeof below);
    std::memcpy(&above, &above_bits, sizeof above);
    ASSERT_EQ(detail::float_to_bfloat16(below), h) << std::hex << h;
    ASSERT_EQ(detail::float_to_bfloat16(above), h + 1) << std::hex << h;
  }
}

}  // namespace
}  // namespace ganloss
