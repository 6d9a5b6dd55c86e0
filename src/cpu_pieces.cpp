// The CPU backend's inner loop (see cpu_pieces.hpp), written once with Google Highway and
// compiled by hwy/foreach_target.h for every instruction set Highway targets here (x86-64:
// AVX-512, AVX2 and the portable EMU128; Arm: NEON); HWY_DYNAMIC_DISPATCH picks the best one
// the processor runs. Highway rather than hand-written intrinsics: one source for every
// instruction set and its run-time dispatch.
//
// Per vector of logits: the terms through exp(-|x|) (an exp for arguments in [-104, 0] with a short
// chain of dependent operations; the common loops run several vectors' chains side by side and
// start the next ones' exp before finishing the current ones: for_logistic_vectors), log1p by a
// polynomial without division, then the gradients and element losses, and the sums added in double
// into eight lanes per sum, element i into lane i mod 8 (the unweighted fp32 loss terms after fp32
// sums over blocks of 64 elements: Fold), whatever the vector width: the sums are
// therefore independent of the instruction set, given the same per-element values. Those may differ
// in the last bits between instruction sets, where a multiply-add is fused (AVX2, AVX-512, NEON) or
// not (EMU128); within one instruction set they are bitwise repeatable.
//
// Subnormal and tiny logits: a subnormal operand or result costs about a hundred cycles on
// x86. Arguments below 2^-26 in magnitude are replaced by 0 where that provably changes no
// result (exp(-|x|) rounds to 1 and sp(x) = max(x, 0) + log1p(e) to log1p(e) either way), and
// sign * x (sign = +-1) is a sign flip of the bits, so these logits cost what ordinary ones do.
// The bf16 table loops keep such a logit, which meets only a blend, a max and an addition to
// log1p(1) there: with one bf16 logit in 16 subnormal, ganloss_cpu_copy_bench's calls took
// 0.96-1.04 times as long as on normal data on the 2-core AVX-512 Xeon.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu_pieces.cpp"
#include <hwy/foreach_target.h>  // must precede highway.h
// clang-format off
#include <hwy/highway.h>
#include <hwy/cache_control.h>
// clang-format on

#include <algorithm>
#include <array>
#include <bit>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <type_traits>
#include <utility>

#include "cpu_pieces.hpp"
#include "math_tables.hpp"

HWY_BEFORE_NAMESPACE();
namespace ganloss {
namespace detail {
namespace cpu {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using MF = hn::Mask<DF>;
using DI = hn::RebindToSigned<DF>;
using VI = hn::Vec<DI>;
using DU = hn::RebindToUnsigned<DF>;
using D16 = hn::Rebind<uint16_t, DF>;  // 16-bit storage of a float vector's lanes
#if HWY_TARGET == HWY_SCALAR
// One lane (the fallback where the compiler cannot build EMU128): a float is one double.
using DD = hn::Rebind<double, DF>;
constexpr size_t kWidePerFloat = 1;
#else
using DH = hn::Half<DF>;            // half a float vector
using DD = hn::Rebind<double, DH>;  // its lanes as doubles: one full double vector
constexpr size_t kWidePerFloat = 2;
#endif
using VD = hn::Vec<DD>;

constexpr int kLanes = 8;  // lanes per sum: element i is added into lane i mod 8
constexpr size_t kFloatLanes = hn::MaxLanes(DF());
constexpr size_t kDoubleLanes = hn::MaxLanes(DD());
static_assert(kDoubleLanes * kWidePerFloat == kFloatLanes, "a float vector in double vectors");
static_assert(kDoubleLanes <= kLanes && kLanes % kDoubleLanes == 0, "lane layout");
constexpr size_t kSumVectors = kLanes / kDoubleLanes;
// Elements per step: one block of the loss sums (Fold), whatever the vector width.
constexpr int64_t kStep = 64;
static_assert(kFloatLanes <= 16 && kStep % kFloatLanes == 0, "whole vectors per step");

// A float vector's lanes as double vectors (hi unused with one lane).
struct Wide {
  VD lo;
  VD hi;
};

HWY_INLINE Wide widen(VF v) {
  const DD dd;
#if HWY_TARGET == HWY_SCALAR
  return Wide{hn::PromoteTo(dd, v), hn::Zero(dd)};
#else
  const DH dh;
  return Wide{hn::PromoteTo(dd, hn::LowerHalf(dh, v)), hn::PromoteTo(dd, hn::UpperHalf(dh, v))};
#endif
}

HWY_INLINE VF narrow(const Wide& w) {
  const DF df;
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
  // IEEE rounding (these targets' DemoteTo clamps to the finite range instead).
  const DD dd;
  HWY_ALIGN double wide[kFloatLanes];
  HWY_ALIGN float lanes[kFloatLanes];
  hn::Store(w.lo, dd, wide);
  if constexpr (kWidePerFloat == 2) hn::Store(w.hi, dd, wide + kDoubleLanes);
  for (size_t i = 0; i < kFloatLanes; ++i)
    lanes[i] = static_cast<float>(wide[i]);
  return hn::Load(df, lanes);
#else
  const DH dh;
  return hn::Combine(df, hn::DemoteTo(dh, w.hi), hn::DemoteTo(dh, w.lo));
#endif
}

// One running sum in eight double lanes (kSumVectors vectors).
struct Sum {
  VD v[kSumVectors];
};

// Adds the double lanes of a float vector that starts `pos` elements into a step.
HWY_INLINE void add(Sum& s, const Wide& w, size_t pos) {
  const size_t lo = (pos % kLanes) / kDoubleLanes;
  s.v[lo] = hn::Add(s.v[lo], w.lo);
  if constexpr (kWidePerFloat == 2) {
    const size_t hi = ((pos + kDoubleLanes) % kLanes) / kDoubleLanes;
    s.v[hi] = hn::Add(s.v[hi], w.hi);
  }
}

// The loss sums of a block of kStep elements in fp32 before they reach their double lanes
// (the other sums add each element in double). Element i of the block (i mod 16 = c) is added
// to the float lane c in element order, ((t[c] + t[c + 16]) + t[c + 32]) + t[c + 48], and at the
// block's end (flush) lane c goes to double lane c mod 8, the lanes 0-7 before 8-15: the same
// additions at every vector width. A term passes through at most kFoldDepth fp32 additions
// (kAccumulationDepth, the error model's depth for this backend). On the 2-core AVX-512 Xeon
// that made the common bf16 call 1.13-1.23 times as fast, where widening every term to double
// was about a third of the loop's vector micro-ops; the f32 call's gain was within the noise of
// the runs (docs/benchmarks.md). A block's fp32 sum may overflow where the double sums would
// not: where a loss sum's lane is not finite at the end of a piece, the piece's loss sums are
// added again from its logits, each term in double (evaluate_piece), unless the piece wrote a
// gradient over its logits.
constexpr size_t kFoldVectors = 16 / kFloatLanes;
constexpr int kFoldDepth = static_cast<int>(kStep / 16) - 1;
static_assert(kFoldDepth == kAccumulationDepth, "the error model's depth (cpu_pieces.hpp)");

struct Fold {
  VF v[kFoldVectors];
};

HWY_INLINE void clear(Fold& f) {
  for (VF& v : f.v)
    v = hn::Zero(DF());
}

// Adds the float vector that starts `pos` elements into a step.
HWY_INLINE void fold(Fold& f, VF x, size_t pos) {
  VF& v = f.v[(pos % 16) / kFloatLanes];
  v = hn::Add(v, x);
}

// Adds the block's float lanes to s and clears them.
HWY_INLINE void flush(Sum& s, Fold& f) {
  for (size_t k = 0; k < kFoldVectors; ++k)
    add(s, widen(f.v[k]), k * kFloatLanes);
  clear(f);
}

HWY_INLINE double total(const Sum& s) {
  const DD dd;
  HWY_ALIGN double lanes[kLanes];
  for (size_t k = 0; k < kSumVectors; ++k)
    hn::Store(s.v[k], dd, lanes + k * kDoubleLanes);
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// ---- Storage types (bitwise the conversions of host_dtype.hpp) ----

HWY_INLINE VF half_to_float(hn::Vec<DU> h) {
  const DF df;
  const DU du;
  const auto magnitude = hn::ShiftLeft<13>(hn::And(h, hn::Set(du, 0x7fffu)));
  const auto exponent = hn::And(magnitude, hn::Set(du, 0x0f800000u));
  const auto sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(du, 0x8000u)));
  const auto normal = hn::Add(magnitude, hn::Set(du, 0x38000000u));
  const auto special = hn::Add(magnitude, hn::Set(du, 0x70000000u));
  const auto implicit = hn::BitCast(df, hn::Set(du, 0x38800000u));
  const auto subnormal = hn::BitCast(
      du, hn::Sub(hn::BitCast(df, hn::Add(magnitude, hn::Set(du, 0x38800000u))), implicit));
  auto out = hn::IfThenElse(hn::Eq(exponent, hn::Zero(du)), subnormal, normal);
  out = hn::IfThenElse(hn::Eq(exponent, hn::Set(du, 0x0f800000u)), special, out);
  return hn::BitCast(df, hn::Or(out, sign));
}

HWY_INLINE VI float_to_half(VF v) {
  const DF df;
  const DI di;
  const VI u = hn::BitCast(di, v);
  const VI sign = hn::And(hn::ShiftRight<16>(u), hn::Set(di, 0x8000));
  const VI a = hn::And(u, hn::Set(di, 0x7fffffff));
  const VI overflow =
      hn::IfThenElse(hn::Gt(a, hn::Set(di, 0x7f800000)), hn::Set(di, 0x7e00), hn::Set(di, 0x7c00));
  const VI subnormal = hn::Sub(hn::BitCast(di, hn::Add(hn::BitCast(df, a), hn::Set(df, 0.5f))),
                               hn::Set(di, 0x3f000000));
  const VI odd = hn::And(hn::ShiftRight<13>(a), hn::Set(di, 1));
  const VI normal = hn::ShiftRight<13>(
      hn::Add(hn::Sub(a, hn::Set(di, 0x38000000)), hn::Add(hn::Set(di, 0xfff), odd)));
  VI out = hn::IfThenElse(hn::Lt(a, hn::Set(di, 0x38800000)), subnormal, normal);
  out = hn::IfThenElse(hn::Gt(a, hn::Set(di, 0x477fffff)), overflow, out);
  return hn::Or(out, sign);
}

// Rounds to nearest even, a NaN to its quiet form; the choice is made on the 32-bit patterns so
// that one shift gives the 16 bits of either.
HWY_INLINE VI float_to_bfloat16(VF v) {
  const DI di;
  const DU du;
  const auto u = hn::BitCast(du, v);
  const auto odd = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u));
  const auto rounded = hn::Add(u, hn::Add(odd, hn::Set(du, 0x7fffu)));
  const auto quiet = hn::Or(u, hn::Set(du, 0x00400000u));
  const auto nan = hn::RebindMask(du, hn::IsNaN(v));
  return hn::BitCast(di, hn::ShiftRight<16>(hn::IfThenElse(nan, quiet, rounded)));
}

// f16 to and from f32 by the processor (F16C, which Highway's AVX2 and AVX-512 targets require):
// vcvtph2ps widens exactly, and vcvtps2ph with its rounding immediate rounds to nearest even,
// below f16's normal range too, as half_to_float and float_to_half do (Intel SDM, VCVTPH2PS and
// VCVTPS2PH). They differ at NaNs only: vcvtph2ps sets a signalling NaN's quiet bit, which
// half_to_float keeps clear, and vcvtps2ph keeps a NaN's payload, where float_to_half gives
// 0x7e00 and the sign. So a vector with a NaN lane goes the portable way, and the results are
// the same bits either way (`EveryF16ConversionMatchesTheHostConversion`). One or two
// instructions where the portable forms take about ten and fifteen: on the Zen 4 of
// docs/benchmarks.md the common f16 call ran about 1.5 times as fast.
#undef GANLOSS_F16_BY_HARDWARE  // this file is compiled once per instruction set
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
#define GANLOSS_F16_BY_HARDWARE 1
HWY_INLINE VF widen_f16_by_hardware(const uint16_t* h) {
#if HWY_TARGET == HWY_AVX3
  return VF{_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)))};
#else
  return VF{_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)))};
#endif
}

HWY_INLINE void store_f16_by_hardware(VF v, uint16_t* out) {
  constexpr int kNearestEven = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
#if HWY_TARGET == HWY_AVX3
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_cvtps_ph(v.raw, kNearestEven));
#else
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_cvtps_ph(v.raw, kNearestEven));
#endif
}
#else
#define GANLOSS_F16_BY_HARDWARE 0
#endif

HWY_INLINE VF load(const void* base, DType type, int64_t i) {
  const DF df;
  const DU du;
  const D16 d16;
  if (type == DType::f32) return hn::LoadU(df, static_cast<const float*>(base) + i);
  const uint16_t* const bits = static_cast<const uint16_t*>(base) + i;
#if GANLOSS_F16_BY_HARDWARE
  if (type == DType::f16) {
    const VF v = widen_f16_by_hardware(bits);
    if (hn::AllFalse(df, hn::IsNaN(v))) return v;
  }
#endif
  const auto h = hn::PromoteTo(du, hn::LoadU(d16, bits));
  if (type == DType::bf16) return hn::BitCast(df, hn::ShiftLeft<16>(h));
  return half_to_float(h);
}

#if HWY_TARGET == HWY_AVX3
// float_to_bfloat16 and the narrowing by vcvtneps2bf16 (AVX512_BF16: one instruction, two
// micro-ops, where they take about ten), which rounds to nearest even and gives a NaN's quiet
// form as float_to_bfloat16 does (Intel SDM, VCVTNEPS2BF16), but takes subnormal inputs as zero:
// a vector with a subnormal lane goes the other way. `EveryFloatRoundsToBf16`
// (tests/cpu_backend_test.cpp) holds the two to the same bits. Highway (1.0) has no target with
// AVX512_BF16, so the instruction is inline assembly, which needs no compiler target; it runs
// only where the processor has the feature (kProcessorHasAvx512Bf16), and `volatile` keeps the
// compiler from moving it ahead of that test. Returns false where it stored nothing.
//
// store_bf16_normal: the instruction without the tests, for a vector with no subnormal lane on a
// processor with the instruction (the caller's promise: normal_gradients_below).
HWY_INLINE void store_bf16_normal(VF v, uint16_t* out) {
  __m256i bits;
  asm volatile("vcvtneps2bf16 %1, %0" : "=v"(bits) : "v"(v.raw));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bits);
}

HWY_INLINE bool store_bf16_by_hardware(VF v, uint16_t* out) {
  if (!kProcessorHasAvx512Bf16 || _mm512_fpclass_ps_mask(v.raw, 0x20) != 0) {  // 0x20: subnormal
    return false;
  }
  store_bf16_normal(v, out);
  return true;
}

// store_bf16_normal for two vectors, lo then hi, by one vcvtne2ps2bf16 (the same rounding, two
// micro-ops where two vcvtneps2bf16 take four).
HWY_INLINE void store_bf16_normal_pair(VF lo, VF hi, uint16_t* out) {
  __m512i bits;
  asm volatile("vcvtne2ps2bf16 %2, %1, %0" : "=v"(bits) : "v"(hi.raw), "v"(lo.raw));
  _mm512_storeu_si512(out, bits);
}
#endif

// store() for a type known at compile time (the specialised loops). kNotNaN: the caller's promise
// that no lane of v is NaN, which lets an f16 store skip its NaN test (vcvtps2ph rounds every other
// value as float_to_half does).
template <DType T, bool kNotNaN = false>
HWY_INLINE void store_as(VF v, void* base, int64_t i) {
  if constexpr (T == DType::f32) {
    const DF df;
    hn::StoreU(v, df, static_cast<float*>(base) + i);
  } else {
    const D16 d16;
#if HWY_TARGET == HWY_AVX3
    if constexpr (T == DType::bf16) {
      if (store_bf16_by_hardware(v, static_cast<uint16_t*>(base) + i)) return;
    }
#endif
#if GANLOSS_F16_BY_HARDWARE
    if constexpr (T == DType::f16) {
      if (kNotNaN || hn::AllFalse(DF(), hn::IsNaN(v))) {
        store_f16_by_hardware(v, static_cast<uint16_t*>(base) + i);
        return;
      }
    }
#endif
    const VI bits = T == DType::bf16 ? float_to_bfloat16(v) : float_to_half(v);
    hn::StoreU(hn::DemoteTo(d16, bits), d16, static_cast<uint16_t*>(base) + i);
  }
}

#if HWY_TARGET != HWY_AVX3
// The other instruction sets have no stores without tests (plain_loop's kNormalStores is false
// there): these round as store_as does, and nothing calls them (maybe_unused: clang warns of
// internal functions named only in discarded branches).
[[maybe_unused]] HWY_INLINE void store_bf16_normal(VF v, uint16_t* out) {
  store_as<DType::bf16>(v, out, 0);
}
[[maybe_unused]] HWY_INLINE void store_bf16_normal_pair(VF lo, VF hi, uint16_t* out) {
  store_as<DType::bf16>(lo, out, 0);
  store_as<DType::bf16>(hi, out, static_cast<int64_t>(kFloatLanes));
}
#endif

HWY_INLINE void store(VF v, DType type, void* base, int64_t i) {
  if (type == DType::f32) {
    store_as<DType::f32>(v, base, i);
  } else if (type == DType::bf16) {
    store_as<DType::bf16>(v, base, i);
  } else {
    store_as<DType::f16>(v, base, i);
  }
}

// ---- Math ----

// Below this magnitude an argument of the logistic terms is replaced by 0: exp(-|x|) rounds to
// 1 and max(x, 0) + log1p(e), with log1p(e) >= log(2) - 2^-24, to log1p(e) for both.
constexpr float kTiny = 0x1p-26f;

// The logistic math works on N vectors side by side, each step over all N before the next:
// one vector's chain of dependent operations (exp, log1p, the division) is about a hundred
// cycles, and chains interleaved in program order give the out-of-order core independent work
// within a short stretch of instructions. The loops that carry the common calls for f32 logits
// pass N = kInterleave and also start the exp of their next N vectors before they finish the
// current ones (for_logistic_vectors; bf16 and f16 logits look sigma(-|t|) and log1p(e) up
// instead, see LogisticTable); the others N = 1. The results are the same bits for every N: each
// vector's operations are the same. On AVX2 (16 registers) more chains spill more. Measured with
// ganloss_cpu_bench (docs/benchmarks.md): three, as four and six were no faster with two threads.
constexpr size_t kInterleave = 3;
// The weighted loop's (weighted_steps), whose body holds the double-precision products too: on
// the Zen 4 of docs/benchmarks.md the common weighted f32 call took 3.9-4.2 ms at 2^20 pairs on
// one thread with two, 4.6-5.3 with three, and the same with one as with two.
constexpr size_t kWeightedInterleave = 2;

// log1p(e) for e in [0, 1] (or NaN), without a division. Two forms; the tests hold each
// instruction set to its own bound (docs/numerics.md).
//
// On AVX-512 (GANLOSS_MATH_TABLES): n = round(31 e), found by the rounding of one multiply-add,
// picks r_n ~ 1 / (1 + e) and -log(r_n) from tables of 32 entries (math_tables.hpp) held in
// registers and read by vpermt2ps; then log1p(e) = -log(r_n) + log1p(z) with z = e r_n + (r_n - 1)
// in one multiply-add (one rounding) and |z| <= 1/62, where z + z^2 (-1/2 + c1 z - z^2/4)
// suffices (c1 = 1/3 + 0.15 * 0.0171^2, which spreads the error of the dropped z^3 term over the
// range). The tables' r_n make -log(r_n) almost exactly a float. Within 1.02 ulp, measured on
// every fp32 in (0, 1] against double log1p. Six multiplications or multiply-adds per vector
// where the polynomial below takes fourteen: on the Zen 4 of docs/benchmarks.md, where the f32
// loop is bound by its multiply pipes, the common f32 call ran about a sixth faster (with exp's
// tables below, about a quarter).
//
// Elsewhere: e + e^2 q(e) with q a degree-9 polynomial in u = e - 1/2 (Chebyshev interpolation
// of (log1p(e) - e) / e^2, within 0.42 ulp of log1p(e) in exact arithmetic), evaluated by
// Estrin's scheme, whose chain of dependent operations is short. The correction e^2 q is at most
// 0.44 of the result, so q's rounding errors shrink accordingly. Within 1.72 ulp with fused
// multiply-adds, 2.09 without, measured on every fp32 in (0, 1] against double log1p.
//
// A NaN e gives a NaN either way (on AVX-512 the index is whatever the NaN's bits make it, and z
// is NaN).
#undef GANLOSS_MATH_TABLES  // this file is compiled once per instruction set
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
#define GANLOSS_MATH_TABLES 1

// One table of math_tables.hpp, its 32 entries in two registers. at(bits): in each lane, the
// entry that the low five bits of that lane's bits name (vpermt2ps reads only those, so any bits,
// a NaN's included, name an entry).
struct Table32 {
  static_assert(2 * hn::MaxLanes(DF()) == 32, "one table in two registers");
  explicit Table32(const float* entries)
      : lo(_mm512_loadu_ps(entries)), hi(_mm512_loadu_ps(entries + 16)) {}
  VF at(VF bits) const { return VF{_mm512_permutex2var_ps(lo, _mm512_castps_si512(bits.raw), hi)}; }
  __m512 lo;
  __m512 hi;
};
#else
#define GANLOSS_MATH_TABLES 0
#endif
template <size_t N>
HWY_INLINE void log1p_unit(const VF* e, VF* out) {
  const DF df;
#if GANLOSS_MATH_TABLES
  static_assert(kLog1pEntries == 32);
  const Table32 scale(kLog1pScale);
  const Table32 offset(kLog1pOffset);
  // kMagic + 31 e rounds to kMagic + n, whose low five bits are n.
  const VF magic = hn::Set(df, 0x1.8p23f);
  for (size_t j = 0; j < N; ++j) {
    const VF n = hn::MulAdd(e[j], hn::Set(df, kLog1pIndexScale), magic);
    const VF r = scale.at(n);
    const VF z = hn::MulAdd(e[j], r, hn::Sub(r, hn::Set(df, 1.0f)));
    const VF q = hn::MulAdd(hn::MulAdd(hn::Set(df, -0.25f), z, hn::Set(df, 0x1.5560d4p-2f)), z,
                            hn::Set(df, -0.5f));
    const VF p = hn::MulAdd(hn::Mul(z, z), q, z);
    out[j] = hn::Add(offset.at(n), p);
  }
#else
  VF u[N], u2[N], u4[N], q0[N], q1[N];
  for (size_t j = 0; j < N; ++j)
    u[j] = hn::Sub(e[j], hn::Set(df, 0.5f));
  for (size_t j = 0; j < N; ++j)
    u2[j] = hn::Mul(u[j], u[j]);
  for (size_t j = 0; j < N; ++j)
    u4[j] = hn::Mul(u2[j], u2[j]);
  for (size_t j = 0; j < N; ++j) {
    const VF c01 = hn::MulAdd(hn::Set(df, 0x1.6f0d7cp-3f), u[j], hn::Set(df, -0x1.833706p-2f));
    const VF c23 = hn::MulAdd(hn::Set(df, 0x1.a278e6p-5f), u[j], hn::Set(df, -0x1.7dde70p-4f));
    q0[j] = hn::MulAdd(c23, u2[j], c01);
  }
  for (size_t j = 0; j < N; ++j) {
    const VF c45 = hn::MulAdd(hn::Set(df, 0x1.13473cp-6f), u[j], hn::Set(df, -0x1.da8bdap-6f));
    const VF c67 = hn::MulAdd(hn::Set(df, 0x1.7b4d38p-8f), u[j], hn::Set(df, -0x1.3d4152p-7f));
    q1[j] = hn::MulAdd(c67, u2[j], c45);
  }
  for (size_t j = 0; j < N; ++j) {
    const VF c89 = hn::MulAdd(hn::Set(df, 0x1.6f3782p-9f), u[j], hn::Set(df, -0x1.2bf346p-8f));
    const VF q = hn::MulAdd(c89, hn::Mul(u4[j], u4[j]), hn::MulAdd(q1[j], u4[j], q0[j]));
    out[j] = hn::MulAdd(hn::Mul(e[j], e[j]), q, e[j]);
  }
#endif
}

// exp(-y) for y in [0, 104] (or NaN). Two forms; the tests hold each instruction set to its own
// bound (docs/numerics.md). Both give 1 for y = 0, a NaN for a NaN y, and +0 for y above 103.97
// (exp(-104) is +0), with subnormal results rounded once. Taking y rather than x saves the caller
// a negation.
//
// On AVX-512 (GANLOSS_MATH_TABLES): x = -y = (k/32) ln2 + f with k = round(32 x log2(e)) (the
// rounding of one multiply-add to a multiple of 1/32, whose low five bits are j = k mod 32) and
// |f| <= ln2 / 64 (ln2 as a float and its rest, each product fused), e^f - 1 as
// f + f^2 (1/2 + f/6) (the dropped terms are below 2^-30 relative), 2^(j/32) as the sum of two
// floats from tables of 32 entries (math_tables.hpp) read by vpermt2ps, and 2^m (m = floor(k/32))
// applied by vscalefps, which rounds once where the result is subnormal. Within 0.54 ulp, and
// subnormal results within 0.76 of their spacing, measured on every fp32 y in [0, 104] against
// double exp. Eight multiplications, multiply-adds or scalings per vector, where the polynomial
// below takes twelve.
//
// Elsewhere: Cody-Waite reduction with k = round(x log2(e)) and |f| <= ln2 / 2 (ln2 split into a
// head of 16 bits, so that k ln2_hi is exact for |k| <= 256, and a tail), e^f as 1 + f q(f) with
// q the degree-6 Taylor polynomial (remainder below 2^-27 relative) by Estrin's scheme, and 2^k
// applied as 2^(k + 64) (a float made from its exponent bits) then 2^-64, so that subnormal
// results are rounded once. Within 1.2 ulp where the multiply-adds are fused (1.41 where not),
// subnormal results within 0.9 of their spacing. The negated multiply-adds round -a to minus what
// a rounds to, fused or not; on Arm, whose NegMulSub negates a multiply-add, an exact zero f can
// take the other sign, which changes no result: the next multiply-add adds k ln2_lo, non-zero
// where k is, and where k is 0, p = 1 + f q is 1 either way. A NaN y gives a NaN result: p is
// NaN, whatever the integer arithmetic makes of k.
template <size_t N>
HWY_INLINE void exp_neg(const VF* y, VF* out) {
  const DF df;
#if GANLOSS_MATH_TABLES
  static_assert(kExp2Entries == 32);
  const Table32 high_part(kExp2High);
  const Table32 low_part(kExp2Low);
  // x log2(e) + kMagic rounds to a multiple of 1/32, k/32: kMagic's unit in the last place.
  const VF magic = hn::Set(df, 0x1.8p18f);
  for (size_t j = 0; j < N; ++j) {
    const VF r = hn::NegMulAdd(y[j], hn::Set(df, 0x1.715476p+0f), magic);
    const VF k32 = hn::Sub(r, magic);  // k / 32, exact
    // f = x - (k/32) ln2: ln2 as its float and the rest, each product fused.
    VF f = hn::NegMulSub(k32, hn::Set(df, 0x1.62e43p-1f), y[j]);
    f = hn::MulAdd(k32, hn::Set(df, 0x1.05c61p-29f), f);
    const VF q =
        hn::MulAdd(hn::Mul(f, f), hn::MulAdd(f, hn::Set(df, 1.0f / 6.0f), hn::Set(df, 0.5f)),
                   f);  // e^f - 1
    // The low five bits of r's bits are k mod 32.
    const VF high = high_part.at(r);
    const VF low = low_part.at(r);
    const VF p = hn::Add(high, hn::MulAdd(high, q, low));  // 2^(j/32) e^f
    out[j] = VF{_mm512_scalef_ps(p.raw, k32.raw)};         // times 2^floor(k/32), rounded once
  }
#else
  constexpr float kMagic = 0x1.8p23f;  // x log2(e) + kMagic rounds to an integer
  const VF magic = hn::Set(df, kMagic);
  VF r[N], kf[N], f[N], f2[N], q[N];
  const DI di;
  constexpr int32_t kExpBias = 64;  // the result is formed as p 2^(k + 64) 2^-64
  VI k[N];
  for (size_t j = 0; j < N; ++j)
    r[j] = hn::NegMulAdd(y[j], hn::Set(df, 1.44269504f), magic);  // x log2(e) + kMagic
  for (size_t j = 0; j < N; ++j) {
    kf[j] = hn::Sub(r[j], magic);
    // k + 64 + 127: the exponent bits of 2^(k + 64).
    k[j] = hn::Sub(hn::BitCast(di, r[j]),
                   hn::Set(di, std::bit_cast<int32_t>(kMagic) - kExpBias - 127));
  }
  for (size_t j = 0; j < N; ++j)
    f[j] = hn::NegMulSub(kf[j], hn::Set(df, 0.693145751953125f), y[j]);  // x - k ln2_hi
  for (size_t j = 0; j < N; ++j)
    f[j] = hn::MulAdd(kf[j], hn::Set(df, -1.428606765330187e-06f), f[j]);
  for (size_t j = 0; j < N; ++j)
    f2[j] = hn::Mul(f[j], f[j]);
  for (size_t j = 0; j < N; ++j) {
    const VF a12 = hn::MulAdd(hn::Set(df, 1.0f / 2.0f), f[j], hn::Set(df, 1.0f));
    const VF a34 = hn::MulAdd(hn::Set(df, 1.0f / 24.0f), f[j], hn::Set(df, 1.0f / 6.0f));
    const VF a56 = hn::MulAdd(hn::Set(df, 1.0f / 720.0f), f[j], hn::Set(df, 1.0f / 120.0f));
    q[j] = hn::MulAdd(hn::MulAdd(hn::Set(df, 1.0f / 5040.0f), f2[j], a56), hn::Mul(f2[j], f2[j]),
                      hn::MulAdd(a34, f2[j], a12));
  }
  for (size_t j = 0; j < N; ++j) {
    const VF p = hn::MulAdd(f[j], q[j], hn::Set(df, 1.0f));
    // p 2^(k + 64): exact, p in [0.7, 1.5) and k in [-150, 0] keep the product normal (the same
    // bits as adding k + 64 to p's exponent). Then 2^-64 rounds once where the result is
    // subnormal.
    const VF scale = hn::BitCast(df, hn::ShiftLeft<23>(k[j]));
    out[j] = hn::Mul(hn::Mul(p, scale), hn::Set(df, 0x1p-64f));
  }
#endif
}

// softplus and sigmoid of t and of -t, from one exp(-|t|), as math::logistic forms them but
// for the two sigmoids (sigmoids(): e / (1 + e) and its difference from 1).
struct Logistic {
  VF sp_pos;
  VF sp_neg;
  VF sig_pos;
  VF sig_neg;
};

// Whether Min(bound, x) is x where x is NaN, so that a NaN logit reaches exp_neg, whose result
// is then NaN, with no compare and blend of its own: on the x86 SIMD targets (AVX2, AVX-512)
// Highway's Min is minps, which returns its second operand when either is NaN. Highway does not
// specify Min at NaN, so the tests' NaN logits on every instruction set the test machine runs
// are what hold this. Elsewhere (Arm's FMIN returns a NaN too, but is not tested here; the
// emulated targets return the number) the NaN lanes are chosen explicitly.
#if HWY_ARCH_X86 && HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR
constexpr bool kMinPassesNaN = true;
#else
constexpr bool kMinPassesNaN = false;
#endif

// exp(-|t|) with tiny |t| (below kTiny) as 0, and NaN kept: exp_neg gets arguments in [0, 104]
// or NaN, and |t| above 104 gets exp(-104), which is +0. `tz`: t with its tiny lanes replaced by
// 0. A NaN t gives a NaN: its quiet form with the sign cleared (AVX2, AVX-512), or t itself.
template <size_t N>
HWY_INLINE void exp_neg_abs(const VF* t, VF* tz, VF* out) {
  const DF df;
  const VF bound = hn::Set(df, 104.0f);
  VF abs[N], a[N];
  MF nan[N];
  for (size_t j = 0; j < N; ++j) {
    abs[j] = hn::Abs(t[j]);
    const MF tiny = hn::Lt(abs[j], hn::Set(df, kTiny));
    tz[j] = hn::IfThenZeroElse(tiny, t[j]);
    if constexpr (kMinPassesNaN) {
      a[j] = hn::IfThenZeroElse(tiny, hn::Min(bound, abs[j]));
    } else {
      nan[j] = hn::IsNaN(t[j]);
      a[j] = hn::IfThenZeroElse(hn::Or(tiny, nan[j]), hn::Min(abs[j], bound));
    }
  }
  exp_neg<N>(a, out);
  if constexpr (!kMinPassesNaN) {
    for (size_t j = 0; j < N; ++j)
      out[j] = hn::IfThenElse(nan[j], t[j], out[j]);
  }
}

// sigma(-|t|) = e / (1 + e) from e = exp(-|t|): 1.49 ulp for an exact e, where the product
// e sigma(|t|) was within 1.98 (docs/numerics.md). e = 1 (tiny t) gives 1/2, e = +0 gives +0, a
// NaN e its quiet form.
HWY_INLINE VF sigma_neg_abs(VF e) {
  const DF df;
  return hn::Div(e, hn::Add(hn::Set(df, 1.0f), e));
}

// sigma(t) and sigma(-t) from small = sigma(-|t|) (of t or its tz: for a tiny t both are 1/2):
// big = sigma(|t|) = 1 - small, in [1/2, 1], where the difference loses nothing that matters
// (1.00 ulp for an exact e; 1 / (1 + e) was within 1.50). IfNegativeThenElse chooses by t's
// sign bit (x86: a blend keyed on t, no compare; Arm) or by t < 0 (the emulated targets).
// Either differs from t >= 0 only where big and small are the same bits: at -0 and tiny t
// (both 1/2; the general loop passes tz, never -0, the table loops t) and at NaN (small is the
// quiet form of e, which is t or the quiet form of |t| (exp_neg_abs), and big is small's NaN, or
// the default NaN where the hardware gives that).
HWY_INLINE void sigmoids(VF t, VF small, VF* sig_pos, VF* sig_neg) {
  const DF df;
  const VF big = hn::Sub(hn::Set(df, 1.0f), small);  // sigma(|t|), never 1 / (1 + e)
  *sig_pos = hn::IfNegativeThenElse(t, small, big);
  *sig_neg = hn::IfNegativeThenElse(t, big, small);
}

// logistic() in two stages: the first forms e = exp(-|t|) and tz, the second the rest from
// those two alone (t is kept for the terms that are not logistic). A loop can run the first
// stage of its next vectors beside the second of the current ones.
template <size_t N>
struct LogisticStart {
  VF t[N];
  VF tz[N];
  VF e[N];
};

template <size_t N>
HWY_INLINE void logistic_start(LogisticStart<N>& s) {
  exp_neg_abs<N>(s.t, s.tz, s.e);
}

// The logistic parts of tz from small = sigma(-|tz|) and l = log1p(exp(-|tz|)) (the bf16 table
// loops pass t itself, which gives the same bits).
HWY_INLINE void logistic_parts(VF tz, VF small, VF l, Logistic* out) {
  const DF df;
  const VF zero = hn::Zero(df);
  sigmoids(tz, small, &out->sig_pos, &out->sig_neg);
  // max(+-tz, 0) + l: l is NaN where tz is, else >= +0 (a zero of either sign from Max then
  // gives +0 or l). Where tz is NaN the result is a NaN whichever Max returns; on x86 and the
  // emulated targets it is l's NaN, on Arm (whose Max returns a signalling NaN's quiet form)
  // it can be the NaN of -t, of the other sign: the loops of one instruction set agree either
  // way.
  out->sp_pos = hn::Add(hn::Max(tz, zero), l);
  out->sp_neg = hn::Add(hn::Max(hn::Neg(tz), zero), l);
}

template <size_t N>
HWY_INLINE void logistic_finish(const LogisticStart<N>& s, Logistic* out) {
  VF l[N];
  log1p_unit<N>(s.e, l);
  for (size_t j = 0; j < N; ++j)
    logistic_parts(s.tz[j], sigma_neg_abs(s.e[j]), l[j], &out[j]);
}

HWY_INLINE Logistic logistic(VF t) {
  LogisticStart<1> s;
  s.t[0] = t;
  logistic_start<1>(s);
  Logistic out;
  logistic_finish<1>(s, &out);
  return out;
}

HWY_INLINE VF sigmoid(VF t) {
  VF tz, e, pos, neg;
  exp_neg_abs<1>(&t, &tz, &e);
  sigmoids(tz, sigma_neg_abs(e), &pos, &neg);
  return pos;
}

// sign * x for sign = +-1 (every hinge and linear term), as a flip of the sign bit: exact, and
// no subnormal arithmetic for subnormal x.
HWY_INLINE VF times_sign(float sign, VF x) {
  const DF df;
  if (sign == 1.0f || sign == -1.0f) {
    return hn::Xor(x, hn::And(hn::Set(df, sign), hn::Set(df, -0.0f)));
  }
  return hn::Mul(hn::Set(df, sign), x);
}

struct TermV {
  VF loss;
  VF grad;
};

// One term of kind K at arguments t (the vector form of evaluate_term).
template <TermKind K>
HWY_INLINE TermV term(const Term& tm, VF t, const Logistic& lg) {
  const DF df;
  const VF zero = hn::Zero(df);
  if constexpr (K == TermKind::logistic) {
    const VF inf = hn::Set(df, HUGE_VALF);
    const VF pos = hn::IfThenElse(hn::Eq(lg.sp_pos, inf), hn::Set(df, tm.inf_pos),
                                  hn::Mul(hn::Set(df, tm.w_pos), lg.sp_pos));
    const VF neg = hn::IfThenElse(hn::Eq(lg.sp_neg, inf), hn::Set(df, tm.inf_neg),
                                  hn::Mul(hn::Set(df, tm.w_neg), lg.sp_neg));
    return TermV{hn::Add(pos, neg), hn::Sub(hn::Mul(hn::Set(df, tm.w_pos), lg.sig_pos),
                                            hn::Mul(hn::Set(df, tm.w_neg), lg.sig_neg))};
  } else if constexpr (K == TermKind::hinge) {
    const VF v = hn::Sub(hn::Set(df, tm.param), times_sign(tm.sign, t));
    const VF loss = hn::IfThenElse(hn::Lt(v, zero), zero, hn::Add(v, zero));
    const VF grad = hn::IfThenElse(hn::Gt(v, zero), hn::Set(df, -tm.sign),
                                   hn::IfThenElse(hn::IsNaN(v), v, zero));
    return TermV{loss, grad};
  } else if constexpr (K == TermKind::linear) {
    return TermV{times_sign(tm.sign, t), hn::IfThenElse(hn::IsNaN(t), t, hn::Set(df, tm.sign))};
  } else if constexpr (K == TermKind::squared) {
    const VF d = hn::Sub(t, hn::Set(df, tm.param));
    // (d / 2) d is 0 for |d| < 2^-76 (below 2^-151 before rounding): skip the subnormal steps.
    const VF ds = hn::IfThenZeroElse(hn::Lt(hn::Abs(d), hn::Set(df, 0x1p-76f)), d);
    return TermV{hn::Mul(hn::Mul(hn::Set(df, 0.5f), ds), ds), d};
  } else {
    return TermV{zero, zero};
  }
}

// The parts of a logistic term its weights leave (plain_term).
enum class LogisticForm { both, pos, neg };

LogisticForm logistic_form(const Term& tm) {
  uint32_t pos, neg;
  std::memcpy(&pos, &tm.w_pos, sizeof pos);
  std::memcpy(&neg, &tm.w_neg, sizeof neg);
  if (tm.kind != TermKind::logistic) return LogisticForm::both;
  if (neg == 0 && tm.w_pos != 0.0f) return LogisticForm::pos;
  if (pos == 0 && tm.w_neg != 0.0f) return LogisticForm::neg;
  return LogisticForm::both;
}

// Whether the weight a pos or neg form leaves is 1 (plain_term's kUnitWeight).
bool unit_weight(const Term& tm, LogisticForm form) {
  return (form == LogisticForm::pos && tm.w_pos == 1.0f) ||
         (form == LogisticForm::neg && tm.w_neg == 1.0f);
}

// term<K> in fewer operations, bitwise its results, for a logistic term whose weights leave one
// part (a target of 0 or 1 with sign +1: the non-saturating terms). With w_neg = +0 and
// w_pos != 0, w_neg sp_neg is +0 (inf_neg = +0 where sp_neg = inf) or NaN where sp_pos is NaN
// too, w_pos sp_pos is never 0 * inf, and w_neg sig_neg is +0 or NaN likewise: the loss is
// w_pos sp_pos + 0 and the gradient w_pos sig_pos. The mirror case keeps 0 + w_neg sp_neg and
// 0 - w_neg sig_neg (+0 and -0 differ there). A NaN logit gives the same NaN either way.
// kUnitWeight (the caller's promise, unit_weight()): that weight is 1, so the products are
// their other factor, and sp + 0 and 0 + sp are sp (sp >= +0 or NaN).
template <TermKind K, bool kUnitWeight = false>
HWY_INLINE TermV plain_term(LogisticForm form, const Term& tm, VF t, const Logistic& lg) {
  if constexpr (K == TermKind::logistic) {
    const DF df;
    const VF zero = hn::Zero(df);
    if (form == LogisticForm::pos) {
      if constexpr (kUnitWeight) return TermV{lg.sp_pos, lg.sig_pos};
      const VF w = hn::Set(df, tm.w_pos);
      return TermV{hn::Add(hn::Mul(w, lg.sp_pos), zero), hn::Mul(w, lg.sig_pos)};
    }
    if (form == LogisticForm::neg) {
      if constexpr (kUnitWeight) return TermV{lg.sp_neg, hn::Sub(zero, lg.sig_neg)};
      const VF w = hn::Set(df, tm.w_neg);
      return TermV{hn::Add(zero, hn::Mul(w, lg.sp_neg)), hn::Sub(zero, hn::Mul(w, lg.sig_neg))};
    }
  }
  return term<K>(tm, t, lg);
}

// The weighted element loss (weighted_loss<K>): w l, exactly 0 for w = 0; a least-squares term
// as weighted_square from its argument.
template <TermKind K>
HWY_INLINE VF weighted_loss(const Term& tm, VF w, VF t, VF loss) {
  const DF df;
  const MF zero_weight = hn::Eq(w, hn::Zero(df));
  if constexpr (K == TermKind::squared) {
    const VF d = hn::Sub(t, hn::Set(df, tm.param));
    const VF h = hn::Mul(hn::Set(df, 0.5f), d);
    const VF ds = hn::IfThenZeroElse(hn::Lt(hn::Abs(d), hn::Set(df, 0x1p-76f)), d);
    const VF small = hn::Mul(w, hn::Mul(hn::Mul(hn::Set(df, 0.5f), ds), ds));
    const VF large = hn::Mul(hn::Mul(w, h), d);
    const VF v = hn::IfThenElse(hn::Gt(hn::Abs(d), hn::Set(df, 0x1p62f)), large, small);
    return hn::IfThenZeroElse(zero_weight, v);
  } else {
    (void)tm;
    (void)t;
    return hn::IfThenZeroElse(zero_weight, hn::Mul(w, loss));
  }
}

// What a total adds for a term (total_term): the term in double times the scaled weight v
// (exact), 0 where v is 0 whatever the term; a least-squares term from its argument,
// (t - label)^2 / 2 in double. `select`: apply v (weighted, or 1 and 0 in a padded tail).
template <TermKind K>
HWY_INLINE Wide total_terms(const Term& tm, bool select, VF v, VF t, VF loss) {
  const DF df;
  const DD dd;
  Wide x;
  if constexpr (K == TermKind::squared) {
    (void)loss;
    const Wide d = widen(hn::Sub(t, hn::Set(df, tm.param)));
    const VD half = hn::Set(dd, 0.5);
    x = Wide{hn::Mul(hn::Mul(half, d.lo), d.lo), hn::Mul(hn::Mul(half, d.hi), d.hi)};
  } else {
    (void)tm;
    (void)t;
    x = widen(loss);
  }
  if (!select) return x;
  const Wide wv = widen(v);
  const VD zero = hn::Zero(dd);
  return Wide{hn::IfThenElse(hn::Eq(wv.lo, zero), zero, hn::Mul(wv.lo, x.lo)),
              hn::IfThenElse(hn::Eq(wv.hi, zero), zero, hn::Mul(wv.hi, x.hi))};
}

// The scaled weight v of weight w (SideScale): w times the side's two scale factors, and a
// nonzero weight never scaled to 0 (kSmallestScaledWeight).
HWY_INLINE VF scaled_weight(VF w, VF scale0, VF scale1) {
  const DF df;
  const VF zero = hn::Zero(df);
  const VF v = hn::Mul(hn::Mul(w, scale0), scale1);
  const MF underflow = hn::AndNot(hn::Eq(w, zero), hn::Eq(v, zero));
  return hn::IfThenElse(underflow, hn::Set(df, kSmallestScaledWeight), v);
}

// v * g in double, 0 where v is 0 (the weighted derivatives).
HWY_INLINE Wide weighted_derivatives(VF v, VF g) {
  const DD dd;
  const VD zero = hn::Zero(dd);
  const Wide wv = widen(v);
  const Wide wg = widen(g);
  return Wide{hn::IfThenElse(hn::Eq(wv.lo, zero), zero, hn::Mul(wv.lo, wg.lo)),
              hn::IfThenElse(hn::Eq(wv.hi, zero), zero, hn::Mul(wv.hi, wg.hi))};
}

HWY_INLINE Wide affine(const Wide& x, double a, double b) {
  const DD dd;
  const VD va = hn::Set(dd, a);
  const VD vb = hn::Set(dd, b);
  return Wide{hn::Add(hn::Mul(x.lo, va), vb), hn::Add(hn::Mul(x.hi, va), vb)};
}

// ---- The piece evaluator ----

// The loops' per-vector bodies are lambdas called once per vector of the pipelined loop: inlined
// always (the compiler's own estimate once left one out of line, a call per vector).
#if defined(__GNUC__) || defined(__clang__)
#define GANLOSS_INLINE_LAMBDA __attribute__((always_inline))
#else
#define GANLOSS_INLINE_LAMBDA
#endif

template <size_t M, DType XT>
HWY_INLINE void start_vectors(const void* x, int64_t j, LogisticStart<M>& s) {
  for (size_t m = 0; m < M; ++m)
    s.t[m] = load(x, XT, j + static_cast<int64_t>(m * kFloatLanes));
  logistic_start<M>(s);
}

template <size_t M, class Body>
HWY_INLINE void finish_vectors(int64_t j, const LogisticStart<M>& s, const Body& body) {
  Logistic parts[M];
  logistic_finish<M>(s, parts);
  for (size_t m = 0; m < M; ++m)
    body(j + static_cast<int64_t>(m * kFloatLanes), s.t[m], parts[m], std::false_type{});
}

// How far ahead of the vectors it works on a specialised loop asks the cache for the lines of its
// logits and of the gradients it writes, in elements: 8 KB of fp32 logits, about 2 us of a core's
// work. The hardware prefetchers alone leave the core waiting on memory: on a 2-core AVX-512
// Xeon, non-saturating f32 logits at 2^24 pairs went from 0.71-0.74 to 0.89-0.95 of a copy of
// the same bytes with two threads, bf16 from 0.38-0.41 to 0.42-0.49 (ganloss_cpu_bench,
// docs/benchmarks.md). Either stream alone gave less than half of that; 1024 to 8192 elements
// ahead did about as well. The gradients' lines are fetched too: a store to a line the core
// already holds does not wait for the line to be read.
constexpr int64_t kPrefetchAhead = 2048;
constexpr uintptr_t kCacheLine = 64;

// Asks for the cache lines of elements [j, j + kSpan) + kPrefetchAhead of the array of
// kSize-byte elements at `base` (none where base is null). A hint only: the address is never
// dereferenced and may lie past the array's end (the next piece's elements, or none), so it is
// formed as an integer. Successive spans are adjacent, so lines kCacheLine apart cover them.
template <size_t kSize, int64_t kSpan>
HWY_INLINE void prefetch_ahead(const void* base, int64_t j) {
  if (base == nullptr) return;
  const uintptr_t first = reinterpret_cast<uintptr_t>(base) +
                          static_cast<uintptr_t>(j + kPrefetchAhead) * uintptr_t{kSize};
  for (uintptr_t b = 0; b < static_cast<uintptr_t>(kSpan) * kSize; b += kCacheLine)
    hwy::Prefetch(reinterpret_cast<const uint8_t*>(first + b));
}

// ---- bf16 and f16 logits: sigma(-|t|) and log1p(exp(-|t|)) from a table ----
//
// A bf16 or an f16 logit has one of 2^15 magnitudes, and small = sigma(-|t|) and
// l = log1p(exp(-|t|)) depend on its magnitude alone: exp_neg_abs takes |t|, and a NaN gives the
// quiet form of |t| (AVX2, AVX-512; elsewhere t itself, and a vector with a NaN is computed
// instead). So for these logits the specialised loops look the pair up by the magnitude's bits
// instead of computing it: each type's table holds what exp_neg_abs, sigma_neg_abs and log1p_unit
// give for each magnitude, widened as load() widens it, on this instruction set, and the loops
// compute the rest from small and l with the same operations (logistic_parts), so their
// gradients, element losses and totals are bitwise those of the general loop (a NaN total's
// payload aside). They pass t where the general loop passes tz: for a tiny t (|t| < 2^-26, e = 1;
// bf16 only, since the least nonzero f16 magnitude is 2^-24) small and big are both 1/2, and
// max(+-t, 0) + l rounds to l (l = log1p(1) in [1/2, 1), where half an ulp is 2^-25), as for +0.
// Computing the pair takes the exp, the log1p polynomial and a division; on the 2-core AVX-512
// Xeon the lookup, two 64-bit gathers per vector, made the common bf16 call 1.25 times as fast
// with AVX-512 and with AVX2 when the table held e and l; taking sigma(-|t|) from it instead of
// e, which leaves no division in the loop, and gathering by 32-bit indices made it 1.08-1.11
// times as fast again, and the common VJP call 1.2-1.3 times (docs/benchmarks.md). The f16 table
// made the common f16 call on the 2-core Zen 4 about as fast as the bf16 one (docs/benchmarks.md).
// Four vectors per step (kLookupInterleave): two were 14% slower, eight no faster.
// On AMD's processors, whose gathers are slow (processor_gathers_slowly()), the x86 loops load
// the 16 entries of a vector one at a time instead (load_entries): on a 2-core Zen 4 a gather of
// 8 entries took 3.0-3.7 ns, and the common bf16 call ran 1.21 times as fast.
//
// Each table is 256 KB per instruction set, in static storage, filled on the first call that
// needs it (C++'s thread-safe initialisation of a local static, after which each call reads one
// guard flag): 0.2-0.4 ms more on that call on the 2-core Xeon (computing four vectors side by
// side made no difference, so the math is not most of it). Logits drawn from a discriminator
// (most magnitudes between 2^-10 and 2^5) touch about 15 KB of it.
constexpr uint32_t kMagnitudes = uint32_t{1} << 15;
constexpr uint32_t kF16Infinity = 0x7c00;  // the bits of f16's +inf: above, its NaNs
constexpr size_t kLookupInterleave = 4;
static_assert(kLookupInterleave % 2 == 0, "NormalVector pairs the vectors of a step");

// The table of the logits of type XT (bf16 or f16).
template <DType XT>
struct LogisticTable {
  static_assert(XT == DType::bf16 || XT == DType::f16, "a 16-bit logit type");
  // Entry i: the floats small and l of the magnitude with bits i, small in the low half.
  HWY_ALIGN uint64_t entry[kMagnitudes];
  // least_small[b]: the least small of the magnitudes below (b + 1) * kBlock (of bf16 logits,
  // those whose exponent field is at most b), for normal_gradients_below().
  static constexpr uint32_t kBlock = 128;
  float least_small[kMagnitudes / kBlock];

  LogisticTable() {
    std::fenv_t caller;
    std::fegetenv(&caller);
    std::fesetenv(FE_DFL_ENV);
    fill();
    std::fesetenv(&caller);
  }

  HWY_NOINLINE void fill() {
    const DF df;
    HWY_ALIGN float small[kFloatLanes];
    HWY_ALIGN float l[kFloatLanes];
    HWY_ALIGN uint16_t bits[kFloatLanes];
    float least = 1.0f;
    for (uint32_t i = 0; i < kMagnitudes; i += kFloatLanes) {
      for (size_t k = 0; k < kFloatLanes; ++k)
        bits[k] = static_cast<uint16_t>(i + k);
      VF t = load(bits, XT, 0);
      VF tz, ev, lv;
      exp_neg_abs<1>(&t, &tz, &ev);
      log1p_unit<1>(&ev, &lv);
      hn::Store(sigma_neg_abs(ev), df, small);
      hn::Store(lv, df, l);
      for (size_t k = 0; k < kFloatLanes; ++k) {
        entry[i + k] = uint64_t{std::bit_cast<uint32_t>(small[k])} |
                       uint64_t{std::bit_cast<uint32_t>(l[k])} << 32;
        // fmin passes over the NaN magnitudes' entries.
        least = std::fmin(least, small[k]);
        if ((i + k + 1) % kBlock == 0) least_small[(i + k) / kBlock] = least;
      }
    }
  }
};
static_assert(kMagnitudes % LogisticTable<DType::bf16>::kBlock == 0 &&
              kFloatLanes <= LogisticTable<DType::bf16>::kBlock);
using Bf16Logistic = LogisticTable<DType::bf16>;

// A table is filled in the default floating-point environment (round to nearest, subnormals
// kept), whatever the first calling thread's: the entries are the computed path's results
// under IEEE arithmetic, the same for every process. (A thread that sets flush-to-zero changes
// the computed path's results for logits beyond about 87 in magnitude, which the library does
// not support; the table then keeps the IEEE ones.)
template <DType XT>
HWY_NOINLINE const LogisticTable<XT>& logistic_table() {
  static const LogisticTable<XT> table;
  return table;
}

// The magnitude bits below which a bf16 logit's two gradients sigma(t) * scale and
// sigma(-t) * scale are finite or infinite but never subnormal nor zero: |small * scale| >=
// FLT_MIN for the small of every magnitude below, and then for big = 1 - small >= small too.
// For such a gradient the fused multiply-add (sigma * scale) + 0 rounds once, to the bits of the
// product rounded and then added to +0 (the two differ only where a non-zero product rounds to
// a zero), and vcvtneps2bf16, which takes subnormal inputs as zero, rounds it as
// float_to_bfloat16 does. 0 where the processor lacks the instruction, or for no magnitude
// (scale 0 or NaN, or below 2^-125 in magnitude). Whole exponent blocks: rounding is monotone,
// so a block's least small bounds its products. For any scale from 2^-30 to 1 (a mean over up
// to 2^30 logits) the bound is |t| = 64, beyond the logits a discriminator gives. Only the
// AVX-512 loops call it (maybe_unused: elsewhere it is named only in discarded branches).
[[maybe_unused]] HWY_INLINE uint32_t normal_gradients_below(const Bf16Logistic& table,
                                                            float scale) {
  if (!kProcessorHasAvx512Bf16) return 0;
  // least_small is non-increasing, so the blocks that qualify come first.
  const float* const first = std::begin(table.least_small);
  const float* const end = std::partition_point(first, std::end(table.least_small), [&](float v) {
    return std::fabs(v * scale) >= std::numeric_limits<float>::min();
  });
  return static_cast<uint32_t>(end - first) * Bf16Logistic::kBlock;
}

// M vectors of bf16 or f16 logits with what their table gives for them.
template <size_t M>
struct Lookup {
  VF t[M];              // the logits
  VF small[M];          // sigma(-|t|)
  VF l[M];              // log1p(exp(-|t|))
  hn::Vec<DU> largest;  // the largest magnitude's bits (the index of its entry) in each lane
};

#if HWY_TARGET != HWY_SCALAR
using DI64 = hn::Repartition<int64_t, DF>;

// The 64-bit entries at the 32-bit indices of the lower (kUpper false) or upper half of index.
// On the x86 targets one vpgatherdq, which takes the 32-bit indices as they are: Highway's
// GatherIndex takes 64-bit ones, two widenings more per vector.
template <bool kUpper>
HWY_INLINE hn::Vec<DI64> gather_entries(const int64_t* entries, hn::Vec<DU> index) {
  const hn::Half<DU> dhu;
  const auto half = kUpper ? hn::UpperHalf(dhu, index) : hn::LowerHalf(dhu, index);
#if HWY_TARGET == HWY_AVX3
  return hn::Vec<DI64>{_mm512_i32gather_epi64(half.raw, entries, 8)};
#elif HWY_TARGET == HWY_AVX2
  return hn::Vec<DI64>{
      _mm256_i32gather_epi64(reinterpret_cast<const long long*>(entries), half.raw, 8)};
#else
  const DI64 di64;
  return hn::GatherIndex(di64, entries,
                         hn::BitCast(di64, hn::PromoteTo(hn::Repartition<uint64_t, DF>(), half)));
#endif
}
#endif

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
// The same entries as gather_entries, for the logits' bits at `bits` (the vector's first), loaded
// one at a time: a 64-bit load per entry at an index formed from the logit's bits in a general
// register, assembled with shuffles. Where gathers are slow (scalar_entry_loads()).
template <bool kUpper>
HWY_INLINE hn::Vec<DI64> load_entries(const int64_t* entries, const uint16_t* bits) {
  constexpr size_t kHalf = kFloatLanes / 2;
  const uint16_t* const b = bits + (kUpper ? kHalf : 0);
  const auto entry = [&](size_t k) {
    return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(entries + (b[k] & (kMagnitudes - 1))));
  };
  const __m128i p0 = _mm_unpacklo_epi64(entry(0), entry(1));
  const __m128i p1 = _mm_unpacklo_epi64(entry(2), entry(3));
  const __m256i q0 = _mm256_inserti128_si256(_mm256_castsi128_si256(p0), p1, 1);
#if HWY_TARGET == HWY_AVX3
  const __m128i p2 = _mm_unpacklo_epi64(entry(4), entry(5));
  const __m128i p3 = _mm_unpacklo_epi64(entry(6), entry(7));
  const __m256i q1 = _mm256_inserti128_si256(_mm256_castsi128_si256(p2), p3, 1);
  return hn::Vec<DI64>{_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1)};
#else
  return hn::Vec<DI64>{q0};
#endif
}
#endif

#if HWY_TARGET != HWY_SCALAR
// The entries of the lower (kUpper false) or upper half of a vector of logits, whose bits are at
// `bits` and whose table indices are `index`: gathered or, where `loads` (scalar_entry_loads();
// the x86 targets only), loaded one at a time. The same bits either way.
template <bool kUpper>
HWY_INLINE hn::Vec<DI64> table_entries(const int64_t* entries, hn::Vec<DU> index,
                                       const uint16_t* bits, bool loads) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
  if (loads) return load_entries<kUpper>(entries, bits);
#else
  (void)bits;
  (void)loads;
#endif
  return gather_entries<kUpper>(entries, index);
}
#endif

#if GANLOSS_F16_BY_HARDWARE
// The M vectors of f16 logits at `bits` widened as load() widens a vector with a NaN. Out of line
// and reading the logits again: lookup_vectors calls it for a group with a NaN only, and inlined,
// its widening shared the loads of the common path, whose vectors then stayed live across the
// group (the common f16 call about 5% slower on a 2-core Zen 4, against this form).
template <size_t M>
HWY_NOINLINE std::array<VF, M> widen_f16_portably(const uint16_t* bits) {
  std::array<VF, M> t;
  for (size_t m = 0; m < M; ++m)
    t[m] = half_to_float(hn::PromoteTo(DU(), hn::LoadU(D16(), bits + m * kFloatLanes)));
  return t;
}
#endif

// Looks up the M vectors of logits of type XT (bf16 or f16) at element j of x (table_entries, by
// `loads`).
template <size_t M, DType XT>
HWY_INLINE void lookup_vectors(const uint64_t* table, const void* x, int64_t j, bool loads,
                               Lookup<M>& s) {
  const DF df;
  const auto* bits = static_cast<const uint16_t*>(x) + j;
#if HWY_TARGET == HWY_SCALAR
  (void)loads;
  for (size_t m = 0; m < M; ++m) {
    const uint32_t h = bits[m];
    const uint32_t index = h & (kMagnitudes - 1);
    const uint64_t entry = table[index];
    s.largest = m == 0 ? hn::Set(DU(), index) : hn::Max(s.largest, hn::Set(DU(), index));
    s.t[m] = load(bits, XT, static_cast<int64_t>(m));
    s.small[m] = hn::Set(df, std::bit_cast<float>(static_cast<uint32_t>(entry)));
    s.l[m] = hn::Set(df, std::bit_cast<float>(static_cast<uint32_t>(entry >> 32)));
  }
#else
  const DU du;
  const D16 d16;
  const auto* entries = reinterpret_cast<const int64_t*>(table);
  for (size_t m = 0; m < M; ++m) {
    const auto h = hn::PromoteTo(du, hn::LoadU(d16, bits + m * kFloatLanes));
    if constexpr (XT == DType::bf16) {
      s.t[m] = hn::BitCast(df, hn::ShiftLeft<16>(h));
    } else {
#if GANLOSS_F16_BY_HARDWARE
      s.t[m] = widen_f16_by_hardware(bits + m * kFloatLanes);
#else
      s.t[m] = load(bits, XT, static_cast<int64_t>(m * kFloatLanes));
#endif
    }
    const auto index = hn::And(h, hn::Set(du, kMagnitudes - 1));
    s.largest = m == 0 ? index : hn::Max(s.largest, index);
    const auto lo = table_entries<false>(entries, index, bits + m * kFloatLanes, loads);
    const auto hi = table_entries<true>(entries, index, bits + m * kFloatLanes, loads);
    s.small[m] = hn::ConcatEven(df, hn::BitCast(df, hi), hn::BitCast(df, lo));
    s.l[m] = hn::ConcatOdd(df, hn::BitCast(df, hi), hn::BitCast(df, lo));
  }
#if GANLOSS_F16_BY_HARDWARE
  // vcvtph2ps quiets a NaN where load() does not: with a NaN magnitude (above kF16Infinity) among
  // the M vectors, they are widened by widen_f16_portably instead, as load() widens a vector with a
  // NaN (the same bits for the other vectors), one test for the M vectors where load() tests each.
  if constexpr (XT == DType::f16) {
    if (!hn::AllTrue(du, hn::Lt(s.largest, hn::Set(du, kF16Infinity + 1)))) {
      const std::array<VF, M> t = widen_f16_portably<M>(bits);
      for (size_t m = 0; m < M; ++m)
        s.t[m] = t[m];
    }
  }
#endif
#endif
  // Where exp_neg_abs returns a NaN logit itself, small and l are NaNs of the logit's sign: a
  // vector with a NaN is computed instead.
  if constexpr (!kMinPassesNaN) {
    for (size_t m = 0; m < M; ++m) {
      if (!hn::AllFalse(df, hn::IsNaN(s.t[m]))) {
        VF tz, e;
        exp_neg_abs<1>(&s.t[m], &tz, &e);
        log1p_unit<1>(&e, &s.l[m]);
        s.small[m] = sigma_neg_abs(e);
      }
    }
  }
}

// What the vectors of a group whose magnitudes lie below normal_below are called with: value
// true, and kPair 1 for the first of two vectors, 2 for the second, 0 for a vector alone (M 1).
template <int kPairPosition>
struct NormalVector : std::true_type {
  static constexpr int kPair = kPairPosition;
};

template <size_t M, class Body, size_t... m>
HWY_INLINE void call_normal(const Body& body, int64_t j, const Lookup<M>& s, const Logistic* parts,
                            std::index_sequence<m...>) {
  (body(j + static_cast<int64_t>(m * kFloatLanes), s.t[m], parts[m],
        NormalVector<(M == 1 ? 0 : 1 + static_cast<int>(m % 2))>{}),
   ...);
}

// Looks up M vectors of logits of type XT (bf16 or f16) and calls body for each, as
// finish_vectors does. kNormal: with NormalVector where every magnitude of the M vectors (M 1 or
// even) lies below normal_below, so that each form is straight-line code; else with
// std::false_type.
template <size_t M, DType XT, bool kNormal, class Body>
HWY_INLINE void lookup_and_finish(const uint64_t* table, uint32_t normal_below, bool loads,
                                  const void* x, int64_t j, const Body& body) {
  Lookup<M> s;
  lookup_vectors<M, XT>(table, x, j, loads, s);
  Logistic parts[M];
  for (size_t m = 0; m < M; ++m)
    logistic_parts(s.t[m], s.small[m], s.l[m], &parts[m]);
  if constexpr (kNormal) {
    const DU du;
    if (hn::AllTrue(du, hn::Lt(s.largest, hn::Set(du, normal_below)))) {
      call_normal<M>(body, j, s, parts, std::make_index_sequence<M>{});
      return;
    }
  } else {
    (void)normal_below;
  }
  for (size_t m = 0; m < M; ++m)
    body(j + static_cast<int64_t>(m * kFloatLanes), s.t[m], parts[m], std::false_type{});
}

// Calls body(j, t, parts, normal) for each vector of the logits x (of type XT) in elements
// [0, full), full a multiple of kStep, in element order: j the vector's first element, t its
// logits and parts their logistic(); normal std::true_type only where kNormal and the logits
// are bf16 or f16 whose magnitudes' bits lie below normal_below (plain_loop), else
// std::false_type. f32 logits: the logistic math runs kN vectors side by side, and the first
// stage of the next ones beside the second stage of the current ones; the vectors left over
// (fewer than kN) one at a time. bf16 and f16 logits (widened exactly by load()): sigma(-|t|)
// and log1p(e) come from their type's table, kLookupInterleave vectors at a time, the vectors
// left over one at a time. Each step of the main loop prefetches the lines kPrefetchAhead elements
// ahead in x and in the arrays `out` (null: none) of elements of type GT that the body writes. kN:
// the computed loop's vectors side by side (kInterleave unless the body holds many values of its
// own).
template <DType XT, DType GT, bool kNormal = false, size_t kN = kInterleave, class Body>
HWY_INLINE void for_logistic_vectors(const void* x, int64_t full, std::array<const void*, 2> out,
                                     uint32_t normal_below, const Body& body) {
  constexpr int64_t kSpan = static_cast<int64_t>(kN * kFloatLanes);
  constexpr auto kX = static_cast<size_t>(dtype_size(XT));
  constexpr auto kOut = static_cast<size_t>(dtype_size(GT));
  int64_t j = 0;
  if constexpr (XT == DType::bf16 || XT == DType::f16) {
    const uint64_t* const table = logistic_table<XT>().entry;
    const bool loads = scalar_entry_loads().load(std::memory_order_relaxed);
    constexpr size_t kL = kLookupInterleave;
    constexpr int64_t kLookupSpan = static_cast<int64_t>(kL * kFloatLanes);
    for (; j + kLookupSpan <= full; j += kLookupSpan) {
      prefetch_ahead<kX, kLookupSpan>(x, j);
      prefetch_ahead<kOut, kLookupSpan>(out[0], j);
      prefetch_ahead<kOut, kLookupSpan>(out[1], j);
      lookup_and_finish<kL, XT, kNormal>(table, normal_below, loads, x, j, body);
    }
    for (; j < full; j += static_cast<int64_t>(kFloatLanes))
      lookup_and_finish<1, XT, kNormal>(table, normal_below, loads, x, j, body);
  } else {
    (void)normal_below;
    if (full >= kSpan) {
      LogisticStart<kN> current;
      start_vectors<kN, XT>(x, 0, current);
      for (; j + 2 * kSpan <= full; j += kSpan) {
        prefetch_ahead<kX, kSpan>(x, j);
        prefetch_ahead<kOut, kSpan>(out[0], j);
        prefetch_ahead<kOut, kSpan>(out[1], j);
        LogisticStart<kN> next;
        start_vectors<kN, XT>(x, j + kSpan, next);
        finish_vectors<kN>(j, current, body);
        current = next;
      }
      finish_vectors<kN>(j, current, body);
      j += kSpan;
    }
    for (; j < full; j += static_cast<int64_t>(kFloatLanes)) {
      LogisticStart<1> one;
      start_vectors<1, XT>(x, j, one);
      finish_vectors<1>(j, one, body);
    }
  }
}

template <TermKind KD, TermKind KG>
class Evaluator {
 public:
  static constexpr bool kD = KD != TermKind::none;
  static constexpr bool kG = KG != TermKind::none;
  static constexpr bool kLogistic = KD == TermKind::logistic || KG == TermKind::logistic;

  // fold: add the fp32 loss terms of each block in fp32 first (Fold), or each in double.
  Evaluator(const Piece& p, const Term& d, const Term& g, bool fold = true)
      : p_(p), td_(d), tg_(g), fold_(fold), folded_(fold_set(p, fold)) {
    const DD dd;
    for (Sum& s : sums_) {
      for (VD& v : s.v)
        v = hn::Zero(dd);
    }
    for (Fold& f : folds_)
      clear(f);
  }

  // Elements [i, i + kStep) of the piece's arrays (`q`: the piece or its zero-padded tail), of
  // which the first `valid` count: the others add nothing to the sums (whole vectors past them
  // are not evaluated).
  HWY_INLINE void step(const Piece& q, int64_t i, int64_t valid) {
    for (size_t pos = 0; pos < static_cast<size_t>(kStep); pos += kFloatLanes) {
      const DF df;
      const int64_t left = valid - static_cast<int64_t>(pos);
      if (left <= 0) break;
      const MF mask = hn::FirstN(df, static_cast<size_t>(left));
      vector(q, i + static_cast<int64_t>(pos), pos, mask);
    }
    for (int k = 0; k < kLossSums; ++k) {
      if ((folded_ >> k) & 1u) flush(sums_[k], folds_[k]);
    }
  }

  // Whether every lane of loss sum k is finite: else a block's fp32 sum may have overflowed
  // where the double sums do not (evaluate_piece).
  bool loss_sum_finite(int k) const {
    const DD dd;
    bool finite = true;
    for (const VD& v : sums_[k].v)
      finite = finite && hn::AllTrue(dd, hn::IsFinite(v));
    return finite;
  }

  // The loss sums with a lane that is +-inf or NaN: bit k for sum k.
  unsigned nonfinite_loss_sums() const {
    unsigned mask = 0;
    for (int k = 0; k < kLossSums; ++k)
      mask |= loss_sum_finite(k) ? 0u : 1u << k;
    return mask;
  }

  // The loss sums of `other` named by `mask` in place of these. The others keep their bits, so
  // that a finite sum is the same whether or not another sum of the piece overflowed, and
  // whether or not the piece writes a gradient over its logits (which keeps every sum).
  void take_loss_sums(const Evaluator& other, unsigned mask) {
    for (int k = 0; k < kLossSums; ++k) {
      if (mask & (1u << k)) sums_[k] = other.sums_[k];
    }
  }

  // Whether the piece's logit and gradient types are a pair the specialised loops take
  // (with_types): logits of any dtype, the gradients in the logits' type or in f32. f32
  // logits run the computed logistic math, bf16 and f16 logits take it from their type's table
  // (for_logistic_vectors).
  static bool plain_types(const Piece& q) {
    return q.grad_type == DType::f32 || q.grad_type == q.x_type;
  }

  // Whether the piece is the common main pass that plain_steps() evaluates: one side's
  // logits (plain_types), unweighted, no relativistic average or pairs, no statistics, not a
  // VJP, and kinds whose totals are the float terms (not least squares).
  static constexpr bool kPlainKinds =
      kLogistic && KD != TermKind::squared && KG != TermKind::squared;
  static bool plain(const Piece& q) {
    return kPlainKinds && q.pass == Pass::main && !q.paired && !q.average && !q.vjp &&
           q.w == nullptr && !q.stats && plain_types(q);
  }

  // Whether the piece is a prepass that prepass_steps() evaluates (plain_types).
  static bool plain_prepass(const Piece& q) { return q.pass == Pass::prepass && plain_types(q); }

  // Elements [0, full) of a plain_prepass() piece, full a multiple of kStep: vector()'s prepass
  // on whole vectors (every lane valid), so bitwise its sums: the logits' and, where the piece
  // has weights, the weights' and the nonzero weights' count, with the sums in registers and no
  // masks. On the 2-core Zen 4 of docs/benchmarks.md the weighted mean's prepass at 2^20 pairs
  // took about 0.6 ms on one thread where step() took about 0.8 (each the difference between a
  // weighted mean's call and a weighted sum's, which has no prepass).
  template <DType XT>
  HWY_NOINLINE void prepass_steps(const Piece& q, int64_t full) {
    const DF df;
    const int s = side();
    constexpr auto kVector = static_cast<int64_t>(kFloatLanes);
    Sum logits = sums_[kLogitSum + s];
    if (q.w == nullptr) {
      for (int64_t j = 0; j < full; j += kVector)
        add(logits, widen(load(q.x, XT, j)), static_cast<size_t>(j % kStep));
    } else {
      Sum weights = sums_[kWeightSum + s];
      Sum nonzero = sums_[kNonzeroWeights + s];
      const VF zero = hn::Zero(df);
      const VF one = hn::Set(df, 1.0f);
      for (int64_t j = 0; j < full; j += kVector) {
        const auto pos = static_cast<size_t>(j % kStep);
        add(logits, widen(load(q.x, XT, j)), pos);
        const VF w = hn::LoadU(df, q.w + j);
        add(weights, widen(w), pos);
        add(nonzero, widen(hn::IfThenZeroElse(hn::Eq(w, zero), one)), pos);
      }
      sums_[kWeightSum + s] = weights;
      sums_[kNonzeroWeights + s] = nonzero;
    }
    sums_[kLogitSum + s] = logits;
  }

  // Whether the piece is the weighted main pass that weighted_steps() evaluates: plain()'s
  // conditions but for the weights, which it has.
  static bool plain_weighted(const Piece& q) {
    return kPlainKinds && q.pass == Pass::main && !q.paired && !q.average && !q.vjp &&
           q.w != nullptr && !q.stats && plain_types(q);
  }

  // Whether the piece is a VJP call that plain_vjp_steps() evaluates: one side's logits
  // (plain_types), weighted or not, no relativistic average or pairs, no offset, and at most one
  // of the two terms' gradients scaled by a non-zero multiplier. The general loop adds the other
  // one's product, exactly +-0 (its gradient, weighted or not, is finite where the logit is not
  // NaN), so leaving it out changes no bit.
  static bool plain_vjp(const Piece& q) {
    return kPlainKinds && q.vjp && q.pass == Pass::main && !q.paired && !q.average &&
           q.offset == 0.0 && plain_types(q) && (!kD || !kG || q.coef_d == 0.0 || q.coef_g == 0.0);
  }

  // Elements [0, full) of a plain_vjp() piece, full a multiple of kStep: vjp()'s operations
  // for the one scaled gradient, without the losses (so without log1p); with weights, the
  // weighted derivative in double as there.
  template <DType XT, DType GT>
  HWY_NOINLINE void plain_vjp_steps(const Piece& q, int64_t full) {
    if constexpr (kPlainKinds) {
      const bool d = kD && (!kG || q.coef_d != 0.0);
      if (q.w != nullptr) {
        d ? plain_vjp_loop<XT, GT, KD, true>(q, full, td_, q.coef_d)
          : plain_vjp_loop<XT, GT, KG, true>(q, full, tg_, q.coef_g);
      } else {
        d ? plain_vjp_loop<XT, GT, KD, false>(q, full, td_, q.coef_d)
          : plain_vjp_loop<XT, GT, KG, false>(q, full, tg_, q.coef_g);
      }
    } else {
      (void)q;
      (void)full;
    }
  }

  template <DType XT, DType GT, TermKind K, bool kWeighted>
  HWY_INLINE void plain_vjp_loop(const Piece& q, int64_t full, const Term& term, double coef) {
    void* const out = q.out.grad_d;
    if (out == nullptr) return;
    const DF df;
    const DD dd;
    const Term tm = term;
    const LogisticForm form = logistic_form(tm);
    const VD c = hn::Set(dd, coef);
    const VD off = hn::Set(dd, q.offset);
    const VF zero = hn::Zero(df);
    const float* const weights = q.w;
    const VF scale0 = hn::Set(df, q.weight_scale[0]);
    const VF scale1 = hn::Set(df, q.weight_scale[1]);
    auto body = [&](int64_t j, VF t, const Logistic& parts, auto) HWY_ATTR GANLOSS_INLINE_LAMBDA {
      const VF g = plain_term<K>(form, tm, t, parts).grad;
      Wide w;
      if constexpr (kWeighted) {
        if (j % kStep == 0) prefetch_ahead<sizeof(float), kStep>(weights, j);
        w = weighted_derivatives(scaled_weight(hn::LoadU(df, weights + j), scale0, scale1), g);
      } else {
        w = widen(g);
      }
      const Wide r{hn::Add(hn::Mul(w.lo, c), off), hn::Add(hn::Mul(w.hi, c), off)};
      store_as<GT>(hn::Add(narrow(r), zero), out, j);
    };
    if constexpr (kWeighted) {
      for_logistic_vectors<XT, GT, false, kWeightedInterleave>(q.x, full, {out, nullptr}, 0, body);
    } else {
      for_logistic_vectors<XT, GT>(q.x, full, {out, nullptr}, 0, body);
    }
  }

  // Elements [0, full) of a plain() piece, full a multiple of kStep: the operations of step()
  // on whole vectors, or fewer with bitwise the same results (plain_term), with what the piece
  // fixes hoisted out of the loop and the two sums held in registers. kGradients false: the
  // piece writes no gradient, and the loop computes none (no sigmoid, so one division fewer).
  template <DType XT, DType GT, bool kGradients>
  HWY_INLINE void plain_steps(const Piece& q, int64_t full) {
    if constexpr (kPlainKinds) {
      if constexpr (kUnitForms) {
        const auto unit = [](const Term& tm, LogisticForm form) {
          return logistic_form(tm) == form && unit_weight(tm, form);
        };
        if (unit(td_, kUnitD) && (KG == TermKind::none || unit(tg_, kUnitG))) {
          plain_outputs<XT, GT, kGradients, true>(q, full);
          return;
        }
      }
      plain_outputs<XT, GT, kGradients, false>(q, full);
    } else {
      (void)q;
      (void)full;
    }
  }

  // Whether the piece asks for the common outputs: the gradient of each term the evaluator
  // has (if kGradients) and no element losses, only the totals. plain_loop can then take which
  // outputs to write as constants instead of testing four pointers per vector.
  template <bool kGradients>
  static bool common_outputs(const PieceOutputs& out) {
    return (out.grad_d != nullptr) == (kGradients && kD) &&
           (out.grad_g != nullptr) == (kGradients && kG) && out.loss_d == nullptr &&
           out.loss_g == nullptr;
  }

  // Only the unit loop (the non-saturating loss, the common one) has a kCommon form: each
  // form of every loop would grow the library by about a quarter.
  template <DType XT, DType GT, bool kGradients, bool kUnit>
  HWY_INLINE void plain_outputs(const Piece& q, int64_t full) {
    if constexpr (kUnit) {
      if (common_outputs<kGradients>(q.out)) {
        plain_loop<XT, GT, kGradients, true, true>(q, full);
        return;
      }
    }
    plain_loop<XT, GT, kGradients, kUnit, false>(q, full);
  }

  // The forms of the non-saturating loss's terms (plain_term), each with a weight of 1, which
  // plain_loop can take as constants: a fake logit's D and G terms sp(x) and sp(-x), a real
  // logit's D term sp(-x).
  static constexpr bool kUnitForms =
      KD == TermKind::logistic && (KG == TermKind::logistic || KG == TermKind::none);
  static constexpr LogisticForm kUnitD =
      KG == TermKind::logistic ? LogisticForm::pos : LogisticForm::neg;
  static constexpr LogisticForm kUnitG = LogisticForm::neg;

  // kCommon: the piece asks for common_outputs(), so which pointers are null is known here.
  template <DType XT, DType GT, bool kGradients, bool kUnit, bool kCommon>
  HWY_NOINLINE void plain_loop(const Piece& q, int64_t full) {
    static_assert(!kCommon || (kUnit && kD), "only the unit loops, which have a D term");
    const DF df;
    const int s = side();
    const VF scale = hn::Set(df, q.coef);
    const VF zero = hn::Zero(df);
    void* const grad_d = q.out.grad_d;
    void* const grad_g = q.out.grad_g;
    float* const loss_d = q.out.loss_d;
    float* const loss_g = q.out.loss_g;
    // Local copies: the stores below could alias the members, which would reload them.
    const Term td = td_;
    const Term tg = tg_;
    const LogisticForm fd = kUnit ? kUnitD : logistic_form(td);
    const LogisticForm fg = kUnit ? kUnitG : logistic_form(tg);
    Sum sd = sums_[kLossD + s];
    Sum sg = sums_[kLossG + s];
    Fold fold_d;
    Fold fold_g;
    clear(fold_d);
    clear(fold_g);
    // The common bf16 loop on AVX-512 stores the gradients of vectors whose magnitudes lie
    // below normal_below without store_bf16_by_hardware's tests, as a fused multiply-add: the
    // same bits (normal_gradients_below), with the negation folded into the scale (s * -c and
    // (0 - s) * c differ only for s = +0, and adding +0 makes both +0), two vectors of a
    // gradient at a time (store_bf16_normal_pair). On the 2-core AVX-512 Xeon that made the
    // common bf16 call 1.12-1.16 times as fast, and the pairs 1.03-1.07 times again
    // (docs/benchmarks.md).
    //
    // The common f16 loop on AVX2 and AVX-512 stores the gradients of vectors of finite logits
    // by vcvtps2ph without store_as's NaN test: such a gradient, a sigmoid in [0, 1] times the
    // scale, plus +0, is never NaN, since the scale is finite (grad_scale is finite and at most
    // 2^126, validate.cpp, and an unweighted piece's scale is grad_scale or grad_scale over a
    // count), and vcvtps2ph rounds every other value as store_as does.
    constexpr bool kNormalStores =
        HWY_TARGET == HWY_AVX3 && kCommon && kGradients && XT == DType::bf16 && GT == DType::bf16;
    constexpr bool kF16Stores =
        GANLOSS_F16_BY_HARDWARE && kCommon && kGradients && XT == DType::f16 && GT == DType::f16;
    uint32_t normal_below = 0;
    if constexpr (kNormalStores)
      normal_below = normal_gradients_below(logistic_table<DType::bf16>(), q.coef);
    if constexpr (kF16Stores) normal_below = kF16Infinity;
    const VF negated = hn::Neg(scale);
    VF first_d = zero;  // the gradients of the first vector of a pair (NormalVector)
    VF first_g = zero;
    (void)negated;
    (void)first_d;
    (void)first_g;
    auto body = [&](int64_t j, VF t, const Logistic& parts,
                    auto normal) HWY_ATTR GANLOSS_INLINE_LAMBDA {
      const size_t pos = static_cast<size_t>(j % kStep);
      const TermV d = plain_term<KD, kUnit>(fd, td, t, parts);
      const TermV g = plain_term<KG, kUnit>(fg, tg, t, parts);
      if constexpr (kD) fold(fold_d, d.loss, pos);
      if constexpr (kG) fold(fold_g, g.loss, pos);
      if (pos == kStep - kFloatLanes) {
        if constexpr (kD) flush(sd, fold_d);
        if constexpr (kG) flush(sg, fold_g);
      }
      if constexpr (kNormalStores && decltype(normal)::value) {
        constexpr bool kPos = kUnitD == LogisticForm::pos;
        constexpr int kPair = decltype(normal)::kPair;
        const VF gd =
            hn::MulAdd(kPos ? parts.sig_pos : parts.sig_neg, kPos ? scale : negated, zero);
        const VF gg = kG ? hn::MulAdd(parts.sig_neg, negated, zero) : zero;
        auto* const od = static_cast<uint16_t*>(grad_d);
        auto* const og = static_cast<uint16_t*>(grad_g);
        if constexpr (kPair == 0) {
          store_bf16_normal(gd, od + j);
          if constexpr (kG) store_bf16_normal(gg, og + j);
        } else if constexpr (kPair == 1) {
          first_d = gd;
          first_g = gg;
        } else {
          const int64_t k = j - static_cast<int64_t>(kFloatLanes);
          store_bf16_normal_pair(first_d, gd, od + k);
          if constexpr (kG) store_bf16_normal_pair(first_g, gg, og + k);
        }
        return;
      }
      (void)normal;
      if constexpr (kGradients) {
        // store_gradient's unweighted form, in the type GT; kNotNaN: kF16Stores' untested stores.
        constexpr bool kNotNaN = kF16Stores && decltype(normal)::value;
        if (kCommon || grad_d != nullptr)  // kCommon: a unit loop, so kD
          store_as<GT, kNotNaN>(hn::Add(hn::Mul(d.grad, scale), zero), grad_d, j);
        if constexpr (kG) {
          if (kCommon || grad_g != nullptr)
            store_as<GT, kNotNaN>(hn::Add(hn::Mul(g.grad, scale), zero), grad_g, j);
        } else if (!kCommon && grad_g != nullptr) {
          store_as<GT>(zero, grad_g, j);
        }
      }
      if constexpr (!kCommon) {
        store_loss(d.loss, loss_d, j);
        store_loss(g.loss, loss_g, j);
      }
    };
    std::array<const void*, 2> written{nullptr, nullptr};
    if constexpr (kGradients) written = {grad_d, grad_g};
    for_logistic_vectors<XT, GT, kNormalStores || kF16Stores>(q.x, full, written, normal_below,
                                                              body);
    sums_[kLossD + s] = sd;
    sums_[kLossG + s] = sg;
  }

  // Elements [0, full) of a plain_weighted() piece, full a multiple of kStep: vector()'s
  // operations for a weighted main pass, on whole vectors (so every lane valid), in the pipelined
  // loop of for_logistic_vectors (bf16 and f16 logits: from their table), with the terms of
  // plain_term: bitwise vector()'s results. The weighted totals and gradients are formed in double
  // as there; the loop reads the weights beside the logits and asks for their lines ahead as for
  // the logits'. On the 2-core Zen 4 of docs/benchmarks.md the common weighted call (with this
  // prepass) ran 1.3-1.5 times as fast as through vector() on one thread, at 2^20 and 2^24 pairs.
  template <DType XT, DType GT>
  HWY_NOINLINE void weighted_steps(const Piece& q, int64_t full) {
    if constexpr (kUnitForms) {
      if (logistic_form(td_) == kUnitD && unit_weight(td_, kUnitD) &&
          (KG == TermKind::none || (logistic_form(tg_) == kUnitG && unit_weight(tg_, kUnitG)))) {
        weighted_loop<XT, GT, true>(q, full);
        return;
      }
    }
    weighted_loop<XT, GT, false>(q, full);
  }

  // kUnit: the terms' forms are kUnitD and kUnitG, each with a weight of 1 (plain_term).
  template <DType XT, DType GT, bool kUnit>
  HWY_INLINE void weighted_loop(const Piece& q, int64_t full) {
    if constexpr (kPlainKinds) {
      const DF df;
      const int s = side();
      const Term td = td_;
      const Term tg = tg_;
      const LogisticForm fd = kUnit ? kUnitD : logistic_form(td);
      const LogisticForm fg = kUnit ? kUnitG : logistic_form(tg);
      const VF scale0 = hn::Set(df, q.weight_scale[0]);
      const VF scale1 = hn::Set(df, q.weight_scale[1]);
      const VF zero = hn::Zero(df);
      const float* const weights = q.w;
      const float coef = q.coef;
      void* const grad_d = q.out.grad_d;
      void* const grad_g = q.out.grad_g;
      float* const loss_d = q.out.loss_d;
      float* const loss_g = q.out.loss_g;
      Sum sd = sums_[kLossD + s];
      Sum sg = sums_[kLossG + s];
      auto body = [&](int64_t j, VF t, const Logistic& parts, auto) HWY_ATTR GANLOSS_INLINE_LAMBDA {
        const size_t pos = static_cast<size_t>(j % kStep);
        if (pos == 0) prefetch_ahead<sizeof(float), kStep>(weights, j);
        const TermV d = plain_term<KD, kUnit>(fd, td, t, parts);
        const TermV g = plain_term<KG, kUnit>(fg, tg, t, parts);
        const VF w = hn::LoadU(df, weights + j);
        const VF v = scaled_weight(w, scale0, scale1);
        if constexpr (kD) add(sd, total_terms<KD>(td, true, v, t, d.loss), pos);
        if constexpr (kG) add(sg, total_terms<KG>(tg, true, v, t, g.loss), pos);
        if (grad_d != nullptr)
          store_as<GT>(narrow(affine(weighted_derivatives(v, d.grad), coef, 0.0)), grad_d, j);
        if constexpr (kG) {
          if (grad_g != nullptr)
            store_as<GT>(narrow(affine(weighted_derivatives(v, g.grad), coef, 0.0)), grad_g, j);
        } else if (grad_g != nullptr) {
          store_as<GT>(zero, grad_g, j);
        }
        if (loss_d != nullptr) hn::StoreU(weighted_loss<KD>(td, w, t, d.loss), df, loss_d + j);
        if (loss_g != nullptr) hn::StoreU(weighted_loss<KG>(tg, w, t, g.loss), df, loss_g + j);
      };
      for_logistic_vectors<XT, GT, false, kWeightedInterleave>(q.x, full, {grad_d, grad_g}, 0,
                                                               body);
      sums_[kLossD + s] = sd;
      sums_[kLossG + s] = sg;
    } else {
      (void)q;
      (void)full;
    }
  }

  void finish() const {
    for (int k = 0; k < kAccumulators; ++k)
      p_.sums[k] += total(sums_[k]);
  }

 private:
  // Adds the valid lanes of x to accumulator k.
  HWY_INLINE void accumulate(int k, VF x, size_t pos, MF valid) {
    add(sums_[k], widen(hn::IfThenElseZero(valid, x)), pos);
  }

  // The same for values formed in double from float lanes that are zero outside the valid
  // lanes (the caller masked them).
  HWY_INLINE void accumulate_wide(int k, const Wide& x, size_t pos) { add(sums_[k], x, pos); }

  HWY_INLINE void vector(const Piece& q, int64_t i, size_t pos, MF valid) {
    const DF df;
    const VF x = load(q.x, q.x_type, i);
    if (q.pass == Pass::prepass) {
      accumulate(kLogitSum + side(), x, pos, valid);
      if (q.w) {
        const VF w = hn::LoadU(df, q.w + i);
        accumulate(kWeightSum + side(), w, pos, valid);
        accumulate(kNonzeroWeights + side(),
                   hn::IfThenZeroElse(hn::Eq(w, hn::Zero(df)), hn::Set(df, 1.0f)), pos, valid);
      }
      return;
    }

    // The argument of the terms: x, x - shift, or f - r for pairs.
    VF y = x;
    VF t = x;
    if (q.paired) {
      y = load(q.y, q.x_type, i);
      t = hn::Sub(y, x);
    } else if (q.average) {
      t = hn::Sub(x, hn::Set(df, q.shift));
    }
    Logistic parts{};
    if constexpr (kLogistic) parts = logistic(t);
    const TermV d = term<KD>(td_, t, parts);
    const TermV g = term<KG>(tg_, t, parts);

    const bool weighted = q.w != nullptr;
    VF w = hn::Set(df, 1.0f);
    VF v = w;  // the scaled weight (SideScale)
    if (weighted) {
      w = hn::LoadU(df, q.w + i);
      v = scaled_weight(w, hn::Set(df, q.weight_scale[0]), hn::Set(df, q.weight_scale[1]));
    }
    // Lanes past the valid ones get weight 0: their weighted values are exactly 0.
    const VF vm = hn::IfThenElseZero(valid, v);

    if (q.vjp) {
      vjp(q, i, pos, valid, d, g, weighted, vm);
      return;
    }

    if (q.pass == Pass::gradients) {
      store_gradient(q, d.grad, weighted, vm, q.coef, q.offset_d, q.out.grad_d, i);
      store_gradient(q, g.grad, weighted, vm, q.coef, q.offset_g, q.out.grad_g, i);
      return;
    }

    // Main pass: sums, element losses, and (unless relativistic average) gradients.
    const int s = side();
    const bool double_d = weighted || KD == TermKind::squared;
    const bool double_g = weighted || KG == TermKind::squared;
    auto add_terms = [&](bool exact, int k, const Term& tm, const VF& loss, auto kind) {
      constexpr TermKind K = decltype(kind)::value;
      if constexpr (K == TermKind::none) {
        (void)exact;
        (void)tm;
        (void)loss;
        (void)k;
      } else if (exact) {
        accumulate_wide(k, total_terms<K>(tm, true, vm, t, loss), pos);
      } else if (fold_) {
        fold(folds_[k], hn::IfThenElseZero(valid, loss), pos);
      } else {
        accumulate(k, loss, pos, valid);
      }
    };
    using KindD = std::integral_constant<TermKind, KD>;
    using KindG = std::integral_constant<TermKind, KG>;
    if (q.paired) {
      add_terms(double_d, kLossD + 0, td_, d.loss, KindD{});
      add_terms(double_g, kLossG + 1, tg_, g.loss, KindG{});
    } else {
      add_terms(double_d, kLossD + s, td_, d.loss, KindD{});
      add_terms(double_g, kLossG + s, tg_, g.loss, KindG{});
    }

    VF ld = d.loss;
    VF lg = g.loss;
    if (weighted) {
      ld = weighted_loss<KD>(td_, w, t, ld);
      lg = weighted_loss<KG>(tg_, w, t, lg);
    }
    if (q.paired) {
      store_gradient(q, d.grad, weighted, vm, -q.coef, 0.0f, q.out.grad_d, i);
      store_gradient(q, g.grad, weighted, vm, -q.coef, 0.0f, q.out.grad_g, i);
      store_gradient(q, d.grad, weighted, vm, q.coef, 0.0f, q.out_y.grad_d, i);
      store_gradient(q, g.grad, weighted, vm, q.coef, 0.0f, q.out_y.grad_g, i);
      store_loss(ld, q.out.loss_d, i);
      store_loss(lg, q.out_y.loss_g, i);
      store_loss(hn::Zero(df), q.out.loss_g, i);
      store_loss(hn::Zero(df), q.out_y.loss_d, i);
    } else {
      if (q.average) {
        add_derivatives(kDerivativeD + s, d.grad, weighted, vm, pos, valid);
        add_derivatives(kDerivativeG + s, g.grad, weighted, vm, pos, valid);
      } else {
        store_gradient(q, d.grad, weighted, vm, q.coef, 0.0f, q.out.grad_d, i);
        if (kG) {
          store_gradient(q, g.grad, weighted, vm, q.coef, 0.0f, q.out.grad_g, i);
        } else if (q.out.grad_g) {
          store(hn::Zero(df), q.grad_type, q.out.grad_g, i);
        }
      }
      store_loss(ld, q.out.loss_d, i);
      store_loss(lg, q.out.loss_g, i);
    }
    if (q.stats) {
      const bool same = !q.paired && !q.average;
      statistics(x, same && kLogistic ? &parts : nullptr, q.paired ? 0 : s, pos, valid);
      if (q.paired) statistics(y, nullptr, 1, pos, valid);
    }
  }

  // A VJP call: one combined gradient per element, or (relativistic average, main pass) the
  // derivative sums.
  HWY_INLINE void vjp(const Piece& q, int64_t i, size_t pos, MF valid, const TermV& d,
                      const TermV& g, bool weighted, VF vm) {
    if (q.pass == Pass::main && q.average) {
      add_derivatives(kDerivativeD + side(), d.grad, weighted, vm, pos, valid);
      add_derivatives(kDerivativeG + side(), g.grad, weighted, vm, pos, valid);
      return;
    }
    const DD dd;
    Wide wd = weighted ? weighted_derivatives(vm, d.grad) : widen(d.grad);
    Wide wg = weighted ? weighted_derivatives(vm, g.grad) : widen(g.grad);
    const VD cd = hn::Set(dd, q.coef_d);
    const VD cg = hn::Set(dd, q.coef_g);
    const VD off = hn::Set(dd, q.offset);
    Wide r{off, off};
    if (kD) {
      r.lo = hn::Add(hn::Mul(wd.lo, cd), r.lo);
      r.hi = hn::Add(hn::Mul(wd.hi, cd), r.hi);
    }
    if (kG) {
      r.lo = hn::Add(hn::Mul(wg.lo, cg), r.lo);
      r.hi = hn::Add(hn::Mul(wg.hi, cg), r.hi);
    }
    const VF out = narrow(r);
    const DF df;
    if (q.out.grad_d) store(hn::Add(out, hn::Zero(df)), q.grad_type, q.out.grad_d, i);
    if (q.paired && q.out_y.grad_d) {
      store(hn::Add(hn::Neg(out), hn::Zero(df)), q.grad_type, q.out_y.grad_d, i);
    }
  }

  HWY_INLINE void add_derivatives(int k, VF grad, bool weighted, VF vm, size_t pos, MF valid) {
    if (weighted) {
      accumulate_wide(k, weighted_derivatives(vm, grad), pos);
    } else {
      accumulate(k, grad, pos, valid);
    }
  }

  // grad * scale + offset (store_gradients): in fp32 (one rounding of the exact product) when
  // unweighted without offset, else in double from the weighted derivatives.
  HWY_INLINE void store_gradient(const Piece& q, VF grad, bool weighted, VF vm, float scale,
                                 double offset, void* out, int64_t i) const {
    if (out == nullptr) return;
    const DF df;
    if (!weighted && offset == 0.0) {
      // + 0: -0 becomes +0, as with an offset
      store(hn::Add(hn::Mul(grad, hn::Set(df, scale)), hn::Zero(df)), q.grad_type, out, i);
      return;
    }
    const Wide x = weighted ? weighted_derivatives(vm, grad) : widen(grad);
    store(narrow(affine(x, scale, offset)), q.grad_type, out, i);
  }

  HWY_INLINE void store_loss(VF v, float* out, int64_t i) const {
    const DF df;
    if (out != nullptr) hn::StoreU(v, df, out + i);
  }

  // Statistics of one side's raw logits: sigma over finite x, the "correct" count (x > 0 for
  // real, x < 0 for fake), sign (real only), and the finite count.
  HWY_INLINE void statistics(VF x, const Logistic* parts, int side, size_t pos, MF valid) {
    const DF df;
    const MF ok = hn::And(hn::IsFinite(x), valid);
    const VF zero = hn::Zero(df);
    const VF one = hn::Set(df, 1.0f);
    const VF sig = parts ? parts->sig_pos : sigmoid(x);
    accumulate(kSigmoid + side, hn::IfThenElseZero(ok, sig), pos, valid);
    const MF correct = side == 0 ? hn::Gt(x, zero) : hn::Lt(x, zero);
    accumulate(kCorrect + side, hn::IfThenElseZero(hn::And(ok, correct), one), pos, valid);
    if (side == 0) {
      const VF sign = hn::IfThenElse(hn::Gt(x, zero), one,
                                     hn::IfThenElseZero(hn::Lt(x, zero), hn::Set(df, -1.0f)));
      accumulate(kSignReal, hn::IfThenElseZero(ok, sign), pos, valid);
    }
    accumulate(kFinite + side, hn::IfThenElseZero(ok, one), pos, valid);
  }

  int side() const { return p_.paired ? 0 : p_.side; }

  // The loss folds that vector() adds terms to (bit k: folds_[k]), which step() flushes: in a
  // compute call's main pass, the unweighted terms of the kinds whose totals are the float
  // terms (not least squares), kLossD and kLossG on the piece's side or, paired, kLossD + 0
  // and kLossG + 1. The steps of a piece (its tail included) share its pass, side, pairing and
  // weighting, so the set is the piece's.
  static uint32_t fold_set(const Piece& p, bool fold) {
    if (!fold || p.pass != Pass::main || p.vjp || p.w != nullptr) return 0;
    const int s = p.paired ? 0 : p.side;
    uint32_t set = 0;
    if (kD && KD != TermKind::squared) set |= 1u << (kLossD + s);
    if (kG && KG != TermKind::squared) set |= 1u << (kLossG + (p.paired ? 1 : s));
    return set;
  }

  const Piece& p_;
  const Term td_;
  const Term tg_;
  Sum sums_[kAccumulators];
  // The loss sums' blocks: kLossD and kLossG for both sides, the first kLossSums sums.
  static constexpr int kLossSums = 4;
  static_assert(kLossD == 0 && kLossG == 2, "the loss sums come first");
  Fold folds_[kLossSums];
  const bool fold_;
  const uint32_t folded_;  // fold_set(): the folds that step() flushes
};

// A copy of the last elements [begin, begin + count) of an array into a zeroed buffer of kStep
// elements, and back.
struct TailBuffer {
  HWY_ALIGN uint8_t bytes[kStep * 4];
};

const void* tail_in(const void* base, int64_t begin, int64_t count, int64_t size,
                    TailBuffer* buffer) {
  std::memset(buffer->bytes, 0, sizeof buffer->bytes);
  if (base == nullptr) return nullptr;
  std::memcpy(buffer->bytes, static_cast<const char*>(base) + begin * size,
              static_cast<std::size_t>(count * size));
  return buffer->bytes;
}

// Whether the piece writes a gradient over its logits (the only overlap validation allows).
bool writes_over_logits(const Piece& p) {
  for (const void* g : {p.out.grad_d, p.out.grad_g, p.out_y.grad_d, p.out_y.grad_g}) {
    if (g != nullptr && (g == p.x || g == p.y)) return true;
  }
  return false;
}

// The piece's sums through the general loop, writing nothing.
template <class E>
void sum_piece(E& e, const Piece& p) {
  Piece q = p;
  q.out = PieceOutputs{nullptr, nullptr, nullptr, nullptr};
  q.out_y = q.out;
  q.stats = false;
  const int64_t full = q.n / kStep * kStep;
  for (int64_t i = 0; i < full; i += kStep)
    e.step(q, i, kStep);
  if (full < q.n) {
    const int64_t count = q.n - full;
    const int64_t xs = dtype_size(q.x_type);
    TailBuffer in[3];
    Piece t = q;
    t.x = tail_in(q.x, full, count, xs, &in[0]);
    t.y = tail_in(q.y, full, count, xs, &in[1]);
    t.w = static_cast<const float*>(tail_in(q.w, full, count, 4, &in[2]));
    e.step(t, 0, count);
  }
}

// Calls f(x, g) with the piece's logit and gradient types as std::integral_constant<DType>
// (x() and g() are the types): the logits' type, and the gradients' in it or in f32
// (fp32_gradients), the pairs the specialised loops take (Evaluator::plain_types).
template <class F>
HWY_INLINE void with_types(const Piece& p, const F& f) {
  using F32 = std::integral_constant<DType, DType::f32>;
  using Bf16 = std::integral_constant<DType, DType::bf16>;
  using F16 = std::integral_constant<DType, DType::f16>;
  const bool f32_grads = p.grad_type == DType::f32;
  switch (p.x_type) {
    case DType::f32:
      f(F32{}, F32{});
      break;
    case DType::bf16:
      f32_grads ? f(Bf16{}, F32{}) : f(Bf16{}, Bf16{});
      break;
    case DType::f16:
      f32_grads ? f(F16{}, F32{}) : f(F16{}, F16{});
      break;
  }
}

template <TermKind KD, TermKind KG>
void evaluate_piece(const Piece& p, const Term& term_d, const Term& term_g) {
  using E = Evaluator<KD, KG>;
  E e(p, term_d, term_g);
  const int64_t full = p.n / kStep * kStep;
  const bool plain_loops = plain_loops_enabled().load(std::memory_order_relaxed);
  if (plain_loops && E::plain(p)) {
    const bool gradients = p.out.grad_d != nullptr || p.out.grad_g != nullptr;
    with_types(p, [&](auto x, auto g) {
      // Without gradients the gradients' type plays no part: one loop per logit type.
      gradients ? e.template plain_steps<x(), g(), true>(p, full)
                : e.template plain_steps<x(), x(), false>(p, full);
    });
  } else if (plain_loops && E::plain_prepass(p)) {
    with_types(p, [&](auto x, auto) { e.template prepass_steps<x()>(p, full); });
  } else if (plain_loops && E::plain_weighted(p)) {
    with_types(p, [&](auto x, auto g) { e.template weighted_steps<x(), g()>(p, full); });
  } else if (plain_loops && E::plain_vjp(p)) {
    with_types(p, [&](auto x, auto g) { e.template plain_vjp_steps<x(), g()>(p, full); });
  } else {
    for (int64_t i = 0; i < full; i += kStep)
      e.step(p, i, kStep);
  }
  if (full < p.n) {
    // The tail, through zero-padded buffers.
    const int64_t count = p.n - full;
    const int64_t xs = dtype_size(p.x_type);
    const int64_t gs = dtype_size(p.grad_type);
    TailBuffer in[3], out[8];
    Piece t = p;
    t.x = tail_in(p.x, full, count, xs, &in[0]);
    t.y = tail_in(p.y, full, count, xs, &in[1]);
    t.w = static_cast<const float*>(tail_in(p.w, full, count, 4, &in[2]));
    // Only what this pass writes goes back: gradients in the gradient pass, and in the main pass
    // unless the relativistic average defers them; element losses in a compute call's main pass.
    const bool main_pass = p.pass == Pass::main;
    const bool grads = p.pass == Pass::gradients || (main_pass && !p.average);
    const bool losses = main_pass && !p.vjp;
    auto g = [&](void* target) { return grads ? target : nullptr; };
    auto l = [&](float* target) { return losses ? static_cast<void*>(target) : nullptr; };
    void* const targets[8] = {g(p.out.grad_d),   g(p.out.grad_g),   l(p.out.loss_d),
                              l(p.out.loss_g),   g(p.out_y.grad_d), g(p.out_y.grad_g),
                              l(p.out_y.loss_d), l(p.out_y.loss_g)};
    const int64_t sizes[8] = {gs, gs, 4, 4, gs, gs, 4, 4};
    void* local[8];
    for (int k = 0; k < 8; ++k)
      local[k] = targets[k] ? out[k].bytes : nullptr;
    t.out = PieceOutputs{local[0], local[1], static_cast<float*>(local[2]),
                         static_cast<float*>(local[3])};
    t.out_y = PieceOutputs{local[4], local[5], static_cast<float*>(local[6]),
                           static_cast<float*>(local[7])};
    e.step(t, 0, count);
    for (int k = 0; k < 8; ++k) {
      if (targets[k]) {
        std::memcpy(static_cast<char*>(targets[k]) + full * sizes[k], local[k],
                    static_cast<std::size_t>(count * sizes[k]));
      }
    }
  }
  const unsigned nonfinite =
      p.pass == Pass::main && !p.vjp && !writes_over_logits(p) ? e.nonfinite_loss_sums() : 0u;
  if (nonfinite != 0) {
    // A loss sum's lane is +-inf or NaN: from an infinite or NaN term, where adding each term in
    // double gives the same, or from a block's fp32 sum that overflowed, where it may not. The
    // piece's loss sums are added again, each term in double, from its logits, and those that
    // were not finite replaced; which is why a piece that writes a gradient over its logits
    // keeps its blocks' sums (docs/numerics.md).
    E d(p, term_d, term_g, false);
    sum_piece(d, p);
    e.take_loss_sums(d, nonfinite);
  }
  e.finish();
}

constexpr TermKind kKinds[] = {TermKind::none, TermKind::logistic, TermKind::hinge,
                               TermKind::linear, TermKind::squared};
constexpr int kKindCount = 5;

template <std::size_t... I>
constexpr std::array<PieceFn, sizeof...(I)> piece_table(std::index_sequence<I...>) {
  return {{&evaluate_piece<kKinds[I / kKindCount], kKinds[I % kKindCount]>...}};
}

// The test hooks' loop: f(in, to) on the n elements of `in` (in_size bytes each) a vector at a
// time, the tail through TailBuffer; f writes its kOuts result vectors to to[0..kOuts), and the
// k-th is copied to out[k] (out_size bytes an element; null: not copied).
template <size_t kOuts, class F>
void map_vectors(const void* in, int64_t in_size, int64_t n, std::array<void*, kOuts> out,
                 int64_t out_size, const F& f) {
  const int64_t lanes = static_cast<int64_t>(kFloatLanes);
  for (int64_t i = 0; i < n; i += lanes) {
    const int64_t count = std::min(n - i, lanes);
    TailBuffer from, to[kOuts];
    f(tail_in(in, i, count, in_size, &from), to);
    for (size_t k = 0; k < kOuts; ++k) {
      if (out[k] != nullptr) {
        std::memcpy(static_cast<char*>(out[k]) + i * out_size, to[k].bytes,
                    static_cast<std::size_t>(count * out_size));
      }
    }
  }
}

// f(v, &first, &second) on the n floats of x a vector at a time (map_vectors), the two results
// stored to first_out and second_out, either null.
template <class F>
void map_to_two(const float* x, int64_t n, float* first_out, float* second_out, const F& f) {
  map_vectors<2>(x, 4, n, {first_out, second_out}, 4, [&](const void* in, TailBuffer* to) HWY_ATTR {
    const DF df;
    VF a, b;
    f(hn::Load(df, static_cast<const float*>(in)), &a, &b);
    hn::Store(a, df, reinterpret_cast<float*>(to[0].bytes));
    hn::Store(b, df, reinterpret_cast<float*>(to[1].bytes));
  });
}

// The n floats of x rounded to T by store_as (the rounding hooks).
template <DType T>
void round_floats(const float* x, int64_t n, uint16_t* out) {
  map_vectors<1>(x, 4, n, {out}, 2, [](const void* in, TailBuffer* to) HWY_ATTR {
    store_as<T>(hn::Load(DF(), static_cast<const float*>(in)), to[0].bytes, 0);
  });
}

}  // namespace

void vector_math_for_target(const float* x, int64_t n, float* exp_out, float* log1p_out) {
  map_to_two(x, n, exp_out, log1p_out, [](VF t, VF* e, VF* l) HWY_ATTR {
    VF tz;
    exp_neg_abs<1>(&t, &tz, e);
    log1p_unit<1>(&t, l);
  });
}

void sigmoids_for_target(const float* e, int64_t n, float* small_out, float* big_out) {
  map_to_two(e, n, small_out, big_out, [](VF ev, VF* small, VF* big) HWY_ATTR {
    const DF df;
    // Of a positive logit, sigma(t) is sigma(|t|) and sigma(-t) is sigma(-|t|).
    sigmoids(hn::Set(df, 1.0f), sigma_neg_abs(ev), big, small);
  });
}

uint32_t bf16_normal_bound_for_target(float scale) {
#if HWY_TARGET == HWY_AVX3
  return normal_gradients_below(logistic_table<DType::bf16>(), scale);
#else
  (void)scale;
  return 0;
#endif
}

void bf16_rounding_for_target(const float* x, int64_t n, uint16_t* out) {
  round_floats<DType::bf16>(x, n, out);
}

void f16_rounding_for_target(const float* x, int64_t n, uint16_t* out) {
  round_floats<DType::f16>(x, n, out);
}

void f16_widening_for_target(const uint16_t* h, int64_t n, float* out) {
  map_vectors<1>(h, 2, n, {out}, 4, [](const void* in, TailBuffer* to) HWY_ATTR {
    hn::Store(load(in, DType::f16, 0), DF(), reinterpret_cast<float*>(to[0].bytes));
  });
}

// The one place where the runtime term kinds become template parameters.
PieceFn select_piece_for_target(TermKind d, TermKind g) {
  static constexpr auto table = piece_table(std::make_index_sequence<kKindCount * kKindCount>{});
  return table[static_cast<int>(d) * kKindCount + static_cast<int>(g)];
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu
}  // namespace detail
}  // namespace ganloss
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace ganloss {
namespace detail {
namespace cpu {

HWY_EXPORT(select_piece_for_target);
HWY_EXPORT(vector_math_for_target);
HWY_EXPORT(sigmoids_for_target);
HWY_EXPORT(bf16_rounding_for_target);
HWY_EXPORT(bf16_normal_bound_for_target);
HWY_EXPORT(f16_rounding_for_target);
HWY_EXPORT(f16_widening_for_target);

PieceFn select_piece(TermKind d, TermKind g) {
  return HWY_DYNAMIC_DISPATCH(select_piece_for_target)(d, g);
}

std::vector<InstructionSet> available_instruction_sets() {
  std::vector<InstructionSet> sets;
  for (int64_t target : hwy::SupportedAndGeneratedTargets())
    sets.push_back(InstructionSet{target, hwy::TargetName(target)});
  return sets;
}

void restrict_instruction_set(int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
}

void vector_math_for_tests(const float* x, int64_t n, float* exp_out, float* log1p_out) {
  HWY_DYNAMIC_DISPATCH(vector_math_for_target)(x, n, exp_out, log1p_out);
}

void sigmoids_for_tests(const float* e, int64_t n, float* small_out, float* big_out) {
  HWY_DYNAMIC_DISPATCH(sigmoids_for_target)(e, n, small_out, big_out);
}

void bf16_rounding_for_tests(const float* x, int64_t n, uint16_t* out) {
  HWY_DYNAMIC_DISPATCH(bf16_rounding_for_target)(x, n, out);
}

void f16_rounding_for_tests(const float* x, int64_t n, uint16_t* out) {
  HWY_DYNAMIC_DISPATCH(f16_rounding_for_target)(x, n, out);
}

void f16_widening_for_tests(const uint16_t* h, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(f16_widening_for_target)(h, n, out);
}

uint32_t bf16_normal_bound_for_tests(float scale) {
  return HWY_DYNAMIC_DISPATCH(bf16_normal_bound_for_target)(scale);
}

// An x86 processor query (__builtin_cpu_is or __builtin_cpu_supports, which take string
// literals, hence a macro); false on other architectures. Here, outside the per-target code, so
// that the queries are compiled for the baseline instruction set and run on every processor.
#if HWY_ARCH_X86 && (defined(__GNUC__) || defined(__clang__))
#define GANLOSS_X86_QUERY(query) (__builtin_cpu_init(), (query) != 0)
#else
#define GANLOSS_X86_QUERY(query) false
#endif

bool processor_gathers_slowly() {
  return GANLOSS_X86_QUERY(__builtin_cpu_is("amd"));
}

// Set when the library loads.
const bool kProcessorHasAvx512Bf16 = GANLOSS_X86_QUERY(__builtin_cpu_supports("avx512bf16"));

#undef GANLOSS_X86_QUERY

}  // namespace cpu
}  // namespace detail
}  // namespace ganloss
#endif  // HWY_ONCE
