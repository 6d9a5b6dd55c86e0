// The tables of the CPU backend's exp and log1p on AVX-512 (exp_neg and log1p_unit in
// cpu_pieces.cpp, docs/numerics.md).
//
// log1p. For e in [0, 1], n = round(31 e) picks r_n, a float near 1 / (1 + n/31),
// and kLog1pOffset[n], -log(r_n) rounded to float, so that
//   log1p(e) = -log(r_n) + log1p(z),  z = e r_n + (r_n - 1),  |z| <= 1/62,
// where one fused multiply-add forms z with one rounding whatever r_n's bits (r_n - 1 is exact
// for r_n in [1/2, 1]). Each r_n is chosen so that -log(r_n) is almost exactly a float: among the
// floats within 6000 units of the last place of 1 / (1 + n/31), the one whose -log(r_n) lies
// closest to a float (within 1.3e-4 of an ulp), so the offset carries no rounding worth counting
// and needs no low part. r_0 = 1 (offset 0: log1p(e) for e below 1/62 is the polynomial of z = e)
// and r_31 = 1/2 (offset ln 2 rounded, within 0.032 ulp, so that log1p(1) is ln 2 rounded).
// Thirty-two entries fill the two registers of one vpermt2ps.
// scripts/gen-math-tables.py generates the entries of both functions' tables (CTest's
// math_tables_match_their_generator checks them); Log1pTable.EntriesHaveTheirProperties checks
// every log1p entry against the properties above.
#ifndef GANLOSS_SRC_MATH_TABLES_HPP_
#define GANLOSS_SRC_MATH_TABLES_HPP_

namespace ganloss {
namespace detail {
namespace cpu {

inline constexpr int kLog1pEntries = 32;
inline constexpr float kLog1pIndexScale = 31.0f;  // n = round(kLog1pIndexScale e)

inline constexpr float kLog1pScale[kLog1pEntries] = {
    0x1.0p+0f,      0x1.f0193ep-1f, 0x1.e0ccd4p-1f, 0x1.d2adc2p-1f, 0x1.c59196p-1f, 0x1.b8cfbp-1f,
    0x1.acdd2ap-1f, 0x1.a1d508p-1f, 0x1.96eb86p-1f, 0x1.8cd918p-1f, 0x1.833d1ep-1f, 0x1.7a059ep-1f,
    0x1.71095cp-1f, 0x1.68dd8cp-1f, 0x1.6090b6p-1f, 0x1.58fe2p-1f,  0x1.51ab7ap-1f, 0x1.4ac26cp-1f,
    0x1.44092cp-1f, 0x1.3d6992p-1f, 0x1.375bfap-1f, 0x1.311058p-1f, 0x1.2b85eep-1f, 0x1.25d716p-1f,
    0x1.2090e2p-1f, 0x1.1b8eaep-1f, 0x1.1672d6p-1f, 0x1.11b5c4p-1f, 0x1.0cd9c4p-1f, 0x1.0873e8p-1f,
    0x1.040ca6p-1f, 0x1.0p-1f,
};

inline constexpr float kLog1pOffset[kLog1pEntries] = {
    0.0f,           0x1.0274fcp-5f, 0x1.018722p-4f, 0x1.7ba1b8p-4f, 0x1.f0583ap-4f, 0x1.3299fep-3f,
    0x1.6adff2p-3f, 0x1.a03ed2p-3f, 0x1.d67124p-3f, 0x1.04e2cp-2f,  0x1.1dfc6cp-2f, 0x1.36a74p-2f,
    0x1.4f4986p-2f, 0x1.663718p-2f, 0x1.7e0bp-2f,   0x1.9446d4p-2f, 0x1.aa3f06p-2f, 0x1.bf6b6cp-2f,
    0x1.d47328p-2f, 0x1.e99906p-2f, 0x1.fd506ep-2f, 0x1.091d8cp-1f, 0x1.128002p-1f, 0x1.1c4ecap-1f,
    0x1.2594dp-1f,  0x1.2e8bcap-1f, 0x1.37dacep-1f, 0x1.40a48cp-1f, 0x1.49d078p-1f, 0x1.52424ap-1f,
    0x1.5adb1ep-1f, 0x1.62e43p-1f,
};

// exp. exp(x) = 2^m 2^(j/32) e^f with k = round(32 x / ln 2) = 32 m + j, j in [0, 31], and
// f = x - k ln2 / 32, |f| <= ln2 / 64. 2^(j/32) is the sum of two floats: kExp2High[j], 2^(j/32)
// rounded, and kExp2Low[j], the rest rounded. Thirty-two entries fill the two registers of one
// vpermt2ps. ExpTable.EntriesFollowTheirDefinition recomputes every entry.
inline constexpr int kExp2Entries = 32;

inline constexpr float kExp2High[kExp2Entries] = {
    0x1.0p+0f,      0x1.059b0ep+0f, 0x1.0b5586p+0f, 0x1.11301ep+0f, 0x1.172b84p+0f, 0x1.1d4874p+0f,
    0x1.2387a6p+0f, 0x1.29e9ep+0f,  0x1.306fep+0f,  0x1.371a74p+0f, 0x1.3dea64p+0f, 0x1.44e086p+0f,
    0x1.4bfdaep+0f, 0x1.5342b6p+0f, 0x1.5ab07ep+0f, 0x1.6247ecp+0f, 0x1.6a09e6p+0f, 0x1.71f75ep+0f,
    0x1.7a1148p+0f, 0x1.82589ap+0f, 0x1.8ace54p+0f, 0x1.93737cp+0f, 0x1.9c4918p+0f, 0x1.a5503cp+0f,
    0x1.ae89fap+0f, 0x1.b7f77p+0f,  0x1.c199bep+0f, 0x1.cb720ep+0f, 0x1.d5818ep+0f, 0x1.dfc974p+0f,
    0x1.ea4afap+0f, 0x1.f50766p+0f,
};

// Laid out by hand: clang-format would put one entry on each line.
// clang-format off
inline constexpr float kExp2Low[kExp2Entries] = {
    0.0f, -0x1.9d4f52p-25f, 0x1.9f3122p-25f, -0x1.fdb496p-25f, -0x1.c15742p-27f, -0x1.d2e8cap-25f,
    0x1.ceac48p-25f, -0x1.5c0424p-25f, 0x1.4636e2p-25f, -0x1.18aac6p-25f, 0x1.824684p-25f,
    0x1.8624b4p-30f, -0x1.593abcp-25f, -0x1.2c561p-25f, -0x1.5bd5ecp-27f, -0x1.f8b55p-25f,
    0x1.9fcef4p-26f, 0x1.1d8beep-25f, -0x1.829fdp-25f, -0x1.accc7cp-26f, 0x1.15506ep-27f,
    -0x1.e64744p-25f, 0x1.51f848p-27f, -0x1.b83b54p-25f, -0x1.a94b14p-26f, -0x1.a09438p-25f,
    -0x1.3d56b2p-27f, -0x1.8837ccp-27f, -0x1.822dbcp-27f, -0x1.908c94p-25f, 0x1.52486cp-27f,
    -0x1.246ebp-26f,
};
// clang-format on

}  // namespace cpu
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_MATH_TABLES_HPP_
