// The CPU backend against the double-precision reference: every loss kind pairing, reduction
// and segment regime, optional outputs one by one, extreme logits, and bitwise repeatability
// across runs and thread counts, every instruction set the processor runs, and VJP calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "comparison.hpp"
#include "cpu_backend.hpp"
#include "cpu_pieces.hpp"
#include "ganloss/ganloss.h"
#include "math_tables.hpp"
#include "reference.hpp"
#include "test_support.hpp"
#include "validate.hpp"

namespace ganloss {
namespace {

using testing::Comparison;
using testing::HostCall;
using testing::make_problem;

// The CPU backend's error model: its loss terms pass through up to three fp32 additions on the
// way into a total (cpu_pieces.hpp), the other sums none.
const detail::ErrorModel kCpuDepth = detail::kCpuError;

struct Shape {
  const char* name;
  int64_t segments, real_count, fake_count, real_stride, fake_stride;
};

constexpr int64_t kC = detail::cpu::kChunk;

// Single elements, odd sizes, many short rows, rows around the chunk size, one long row,
// strided rows.
const Shape kShapes[] = {
    {"S1x1x1", 1, 1, 1, 0, 0},
    {"S1x7x5", 1, 7, 5, 0, 0},
    {"S1000x5x3", 1000, 5, 3, 0, 0},
    {"S64x100x200", 64, 100, 200, 0, 0},
    {"S2xCxCplus1", 2, kC, kC + 1, 0, 0},
    {"S3x20001x19999", 3, 20001, 19999, 0, 0},
    {"S1x3Cplus17xC", 1, 3 * kC + 17, kC, 0, 0},
    {"S4x10x6_strided", 4, 10, 6, 13, 7},
};

struct MatrixCase {
  int32_t d_kind, g_kind, reduction;
  Shape shape;
  bool smooth;  // non-default loss parameters
  int32_t dtype = GANLOSS_DTYPE_F32;
  bool fp32_gradients = false;

  std::string name() const {
    return std::string(testing::dtype_name(dtype)) + (fp32_gradients ? "_f32grad_" : "_") +
           testing::kind_name(d_kind) + "_" + testing::kind_name(g_kind) + "_" +
           testing::reduction_name(reduction) + "_" + shape.name + (smooth ? "_params" : "");
  }
};

ganloss_problem_t problem_of(const MatrixCase& c) {
  auto p = make_problem(c.shape.segments, c.shape.real_count, c.shape.fake_count, c.d_kind,
                        c.g_kind, c.reduction);
  p.real_stride = c.shape.real_stride;
  p.fake_stride = c.shape.fake_stride;
  p.dtype = c.dtype;
  p.fp32_gradients = c.fp32_gradients ? 1 : 0;
  if (c.smooth) {
    p.params.real_target = 0.9f;
    p.params.fake_target = 0.05f;
    p.params.margin_real = 0.5f;
    p.params.margin_fake = 2.0f;
    p.params.ls_fake_label = -1.0f;
    p.params.ls_real_label = 1.0f;
    p.params.ls_gen_label = 0.0f;
    p.grad_scale = 1024.0f;
  }
  return p;
}

std::vector<MatrixCase> matrix_cases() {
  std::vector<MatrixCase> cases;
  const int32_t reductions[] = {GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_SUM,
                                GANLOSS_REDUCTION_MEAN};
  // Matched pairs on every shape...
  const int32_t pairs[][2] = {{GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING},
                              {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_MINIMAX},
                              {GANLOSS_LOSS_HINGE, GANLOSS_LOSS_HINGE},
                              {GANLOSS_LOSS_WASSERSTEIN, GANLOSS_LOSS_WASSERSTEIN},
                              {GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_LOSS_LEAST_SQUARES}};
  for (const auto& pair : pairs) {
    for (int32_t red : reductions) {
      for (const Shape& s : kShapes)
        cases.push_back({pair[0], pair[1], red, s, false});
      cases.push_back({pair[0], pair[1], red, kShapes[3], true});
    }
  }
  // ... and every D x G pairing on short and long shapes.
  for (int32_t d = 0; d < 5; ++d) {
    for (int32_t g = 0; g < 5; ++g) {
      for (int32_t red : reductions) {
        for (const MatrixCase& c : {MatrixCase{d, g, red, kShapes[2], (d + g) % 2 == 1},
                                    MatrixCase{d, g, red, kShapes[5], (d + g) % 2 == 0}}) {
          const bool seen = std::any_of(cases.begin(), cases.end(),
                                        [&](const MatrixCase& o) { return o.name() == c.name(); });
          if (!seen) cases.push_back(c);
        }
      }
    }
  }
  // 16-bit logits: every matched pair and reduction on three shapes, gradients in the logits'
  // dtype and in f32.
  for (int32_t dtype : {GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16}) {
    for (const auto& pair : pairs) {
      for (int32_t red : reductions) {
        for (const Shape& s : {kShapes[1], kShapes[5], kShapes[7]}) {
          cases.push_back(
              {pair[0], pair[1], red, s, red == GANLOSS_REDUCTION_SUM, dtype, &s == &kShapes[5]});
        }
      }
    }
  }
  return cases;
}

void PrintTo(const MatrixCase& c, std::ostream* os) {
  *os << c.name();
}

class CpuMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(CpuMatrix, MatchesReference) {
  const MatrixCase& c = GetParam();
  HostCall call(problem_of(c), /*seed=*/std::hash<std::string>{}(c.name()));
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  const Comparison cmp = testing::compare_with_reference(call, o, kCpuDepth);
  EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
}

INSTANTIATE_TEST_SUITE_P(Cases, CpuMatrix, ::testing::ValuesIn(matrix_cases()),
                         [](const ::testing::TestParamInfo<MatrixCase>& i) {
                           return i.param.name();
                         });

// The CPU error model counts the fp32 additions of the loss blocks (cpu::kAccumulationDepth)
// for the loss totals alone; every other sum is in double. So a loss total may be off by 3 units
// of roundoff of its terms' magnitudes more than exactly summed terms allow, and a statistic
// (a mean of sigmoids, summed in double) may not.
TEST(CpuErrorModel, CountsTheFp32BlocksForTheLossTotalsAlone) {
  constexpr double u = 0x1p-24;
  ASSERT_EQ(detail::kCpuError.depth, 0);
  ASSERT_EQ(detail::kCpuError.loss_depth, 3);
  auto p = make_problem(1, 3000, 2500, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 11);
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  ASSERT_LE(testing::compare_with_reference(call, o, kCpuDepth).worst(), 1.0);
  const reference::Result ref = reference::evaluate(call.problem, call.inputs());
  const reference::SegmentTotals& t = ref.segments[0];
  auto worst = [&](const detail::ErrorModel& model) {
    return testing::compare_values_with_reference(call, o, model).worst();
  };

  // d_loss_real 10.5 u |d_loss_real| from the reference, give or take its float rounding (half
  // a unit of d_loss_real, below 0.75 u of it): its terms are positive, so the sum of their
  // magnitudes is the total, and the bound is (1 + 8 + 3) u of it, or (1 + 8) u at depth 0.
  const float d_loss_real = *o.d_loss_real;
  *o.d_loss_real = static_cast<float>(t.d_loss_real * (1 + 10.5 * u));
  EXPECT_LE(worst(kCpuDepth), 1.0);
  EXPECT_GT(worst(detail::ErrorModel(0)), 1.0);
  *o.d_loss_real = d_loss_real;
  ASSERT_LE(worst(kCpuDepth), 1.0);

  // mean_sigmoid_real 11 u from the reference, give or take half a unit: beyond the (8 + 2) u of
  // a mean summed in double, within the (8 + 2 + 3) u of one with the loss totals' depth.
  o.stats[0].mean_sigmoid_real = static_cast<float>(t.mean_sigmoid_real + 11 * u);
  EXPECT_GT(worst(kCpuDepth), 1.0);
  EXPECT_LE(worst(detail::ErrorModel(3)), 1.0);
}

// Each optional output alone: computed correctly, and nothing else written.
TEST(CpuOutputs, EachOutputAlone) {
  for (int32_t kind = 0; kind < 5; ++kind) {
    for (int which = 0; which < testing::kOutputCount; ++which) {
      auto p = make_problem(5, 3000, 2500, kind, kind, GANLOSS_REDUCTION_MEAN);
      HostCall call(p, static_cast<uint64_t>(kind * 10 + which));
      const ganloss_outputs_t o = testing::only(call.all_outputs(), which);
      ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
      const Comparison cmp = testing::compare_with_reference(call, o, kCpuDepth);
      EXPECT_LE(cmp.worst(), 1.0) << "kind " << kind << " output " << which << ": "
                                  << cmp.first_failure;
    }
  }
}

// A generator step: only G outputs, no real logits at all.
TEST(CpuOutputs, GeneratorOnlyNeedsNoRealLogits) {
  auto p = make_problem(3, 0, 1000, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 7);
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  o.g_loss = call.g_loss.as<float>();
  o.grad_fake_g = call.grad_fake_g.data();
  std::size_t bytes = 0;
  ASSERT_EQ(ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &bytes), GANLOSS_STATUS_SUCCESS);
  std::vector<double> ws(bytes / sizeof(double) + 1);
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  e.backend = GANLOSS_BACKEND_CPU;
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.fake = call.fake.data();
  ASSERT_EQ(ganloss_compute(&p, &in, &o, ws.data(), bytes, &e, nullptr), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  const Comparison cmp = testing::compare_with_reference(call, o, kCpuDepth);
  EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
}

// Extreme logits, with the documented results checked explicitly as well.
TEST(CpuExtremes, DocumentedResults) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> values = {1e4f,  -1e4f,  88.0f, -88.0f, 89.0f,  -104.5f,
                                     30.0f, -30.0f, 17.0f, -17.0f, 1e-30f, -1e-30f,
                                     0.0f,  -0.0f,  inf,   -inf,   nan};
  const int64_t n = static_cast<int64_t>(values.size());
  for (int32_t kind = 0; kind < 5; ++kind) {
    for (int32_t red : {GANLOSS_REDUCTION_SUM, GANLOSS_REDUCTION_MEAN}) {
      for (int variant = 0; variant < 4; ++variant) {
        const bool smooth = variant % 2 == 1;
        auto p = make_problem(1, n, n, kind, kind, red);
        if (smooth) p.params.real_target = 0.9f;
        if (variant >= 2) p.dtype = variant == 2 ? GANLOSS_DTYPE_F16 : GANLOSS_DTYPE_BF16;
        HostCall call(p);
        for (int64_t i = 0; i < n; ++i) {
          call.set_real(i, values[static_cast<std::size_t>(i)]);
          call.set_fake(i, values[static_cast<std::size_t>(n - 1 - i)]);
        }
        const ganloss_outputs_t o = call.all_outputs();
        ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
        const Comparison cmp = testing::compare_with_reference(call, o, kCpuDepth);
        EXPECT_LE(cmp.worst(), 1.0) << testing::kind_name(kind) << ": " << cmp.first_failure;
        // A NaN logit makes its own terms and the totals NaN, and nothing else.
        EXPECT_TRUE(std::isnan(call.d_loss.as<float>()[0]));
        EXPECT_TRUE(std::isnan(call.g_loss.as<float>()[0]));
        const int32_t gt = testing::grad_dtype(p);
        EXPECT_TRUE(std::isnan(testing::load_element(call.grad_real.data(), gt, n - 1)));
        EXPECT_TRUE(std::isnan(testing::load_element(call.grad_fake_g.data(), gt, 0)));
        for (int64_t i = 0; i + 1 < n; ++i) {
          EXPECT_FALSE(std::isnan(testing::load_element(call.grad_real.data(), gt, i))) << i;
          EXPECT_FALSE(std::isnan(testing::load_element(call.grad_fake_d.data(), gt, i + 1))) << i;
        }
      }
    }
  }
  // The non-saturating D real term at the infinities: sp(-r) -> 0 and +inf.
  auto p = make_problem(1, 2, 1, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_SUM);
  HostCall call(p);
  call.set_real(0, inf);
  call.set_real(1, -inf);
  call.set_fake(0, -1e4f);
  ASSERT_EQ(call.run(call.all_outputs(), GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
  EXPECT_EQ(call.loss_real.as<float>()[0], 0.0f);
  EXPECT_EQ(call.grad_real.as<float>()[0], 0.0f);
  EXPECT_EQ(call.loss_real.as<float>()[1], inf);
  EXPECT_EQ(call.grad_real.as<float>()[1], -1.0f);
  EXPECT_EQ(call.loss_fake_d.as<float>()[0], 0.0f);
  EXPECT_EQ(call.grad_fake_g.as<float>()[0], -1.0f);
  EXPECT_EQ(call.loss_fake_g.as<float>()[0], 1e4f);
}

// fp16 gradients of a mean over many elements fall below fp16's normal range (6.1e-5) and lose
// precision, down to 0 below 6e-8; f32 gradients (or a loss scale) keep them.
TEST(CpuMixedPrecision, Fp32GradientsAreTheRemedyForFp16Underflow) {
  const int64_t n = 1 << 18;
  auto p = make_problem(1, n, n, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  p.dtype = GANLOSS_DTYPE_F16;
  HostCall narrow(p, 21);
  ASSERT_EQ(narrow.run(narrow.all_outputs(), GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
  // sigma / N <= 2^-18 < 2^-14: every f16 gradient is subnormal or zero, with an absolute error
  // up to half the subnormal spacing, 2^-25: percents of its value, or all of it.
  const reference::Result ref = reference::evaluate(p, narrow.inputs());
  double worst_f16 = 0;
  int64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double got = testing::load_element(narrow.grad_real.data(), GANLOSS_DTYPE_F16, i);
    const double want = ref.grad_real[static_cast<std::size_t>(i)];
    EXPECT_LT(std::fabs(got), 0x1p-14);
    if (got == 0) ++zeros;
    if (want != 0) worst_f16 = std::max(worst_f16, std::fabs(got - want) / std::fabs(want));
  }
  EXPECT_GT(worst_f16, 0.01) << "fp16 gradients of a 2^18-element mean should lose precision";
  EXPECT_GT(zeros, 0) << "the smallest should underflow to zero";
  // The same call with f32 gradients: full fp32 relative accuracy.
  p.fp32_gradients = 1;
  HostCall wide(p, 21);
  ASSERT_EQ(wide.run(wide.all_outputs(), GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
  const Comparison cmp = testing::compare_with_reference(wide, wide.all_outputs(), kCpuDepth);
  EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
  double worst_f32 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double want = ref.grad_real[static_cast<std::size_t>(i)];
    if (std::fabs(want) < 0x1p-126) continue;  // beyond even fp32 (logits past |x| ~ 70)
    worst_f32 =
        std::max(worst_f32, std::fabs(wide.grad_real.as<float>()[i] - want) / std::fabs(want));
  }
  EXPECT_LT(worst_f32, 1e-6);
  // Or a loss scale of 2^16 on f16 gradients: back in the normal range.
  p.fp32_gradients = 0;
  p.grad_scale = 65536.0f;
  HostCall scaled(p, 21);
  ASSERT_EQ(scaled.run(scaled.all_outputs(), GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
  const Comparison scaled_cmp =
      testing::compare_with_reference(scaled, scaled.all_outputs(), kCpuDepth);
  EXPECT_LE(scaled_cmp.worst(), 1.0) << scaled_cmp.first_failure;
}

// Same inputs, same bits: across runs and thread counts.
TEST(CpuDeterminism, BitwiseAcrossRunsAndThreadCounts) {
  for (const Shape& s :
       {Shape{"long", 2, 300001, 200003, 0, 0}, Shape{"short", 5000, 37, 41, 0, 0}}) {
    auto p = make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_NONSATURATING,
                          GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
    p.params.real_target = 0.9f;
    HostCall call(p, 11);
    const ganloss_outputs_t o = call.all_outputs();
    ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU, 1), GANLOSS_STATUS_SUCCESS);
    const std::vector<uint8_t> first = call.output_bytes();
    for (int threads : {1, 2, 3, 8, 0}) {
      for (int repeat = 0; repeat < 2; ++repeat) {
        ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU, threads), GANLOSS_STATUS_SUCCESS);
        EXPECT_TRUE(call.output_bytes() == first) << s.name << " threads " << threads;
      }
    }
  }
}

// Every instruction set compiled in and supported here against the reference, and bitwise
// repeatable within it. Instruction sets may differ from each other in the last bits (a fused
// multiply-add or not; docs/numerics.md), so their outputs are not compared with each other.
TEST(CpuInstructionSets, EachMatchesReference) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    for (int32_t kind : {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_WASSERSTEIN,
                         GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_LOSS_RELATIVISTIC,
                         GANLOSS_LOSS_RELATIVISTIC_AVERAGE}) {
      for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16}) {
        auto p = make_problem(3, 1001, 1001, kind, kind, GANLOSS_REDUCTION_MEAN);
        p.dtype = dtype;
        p.params.real_target = 0.9f;
        HostCall call(p, 17, testing::CallData{true, false, {}, {}});
        call.set_real(3, std::numeric_limits<float>::infinity());
        call.set_fake(4, std::numeric_limits<float>::quiet_NaN());
        call.set_real(5, 1e-40f);
        call.set_fake(6, -1e-30f);
        const ganloss_outputs_t o = call.all_outputs();
        ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
        const Comparison cmp = testing::compare_with_reference(call, o, kCpuDepth);
        EXPECT_LE(cmp.worst(), 1.0)
            << set.name << " " << testing::describe(call.problem) << ": " << cmp.first_failure;
        const std::vector<uint8_t> first = call.output_bytes();
        ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU, 2), GANLOSS_STATUS_SUCCESS);
        EXPECT_TRUE(call.output_bytes() == first) << set.name;
      }
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// The vector exp(-|x|) and log1p of every instruction set compiled in and supported here, held
// to their bounds in docs/numerics.md (the table forms of the AVX-512 sets, then the polynomials
// of the others: exp 0.54 and 1.5 ulp for normal results, 0.76 and 0.9 of the spacing for
// subnormal ones, 0 beyond 104; log1p on [0, 1] 1.02 and 2.1 ulp, and log1p(1) is ln 2 rounded)
// on every 1021st fp32 of their ranges and at their ends, against double exp and log1p; and the
// two sigmoids formed from an e in [0, 1] (1.5 and 1 ulp) on the same values, against double.
TEST(CpuInstructionSets, VectorMathWithinItsBounds) {
  auto ulps = [](float got, double exact) {
    const double magnitude = std::fabs(exact);
    const double spacing = magnitude < 0x1p-126
                               ? 0x1p-149
                               : std::ldexp(1.0, std::ilogb(static_cast<float>(magnitude)) - 23);
    return std::fabs(static_cast<double>(got) - exact) / spacing;
  };
  auto floats_up_to = [](float last) {
    uint32_t end;
    std::memcpy(&end, &last, sizeof end);
    std::vector<float> values;
    for (uint32_t bits = 0; bits < end; bits += 1021) {
      float v;
      std::memcpy(&v, &bits, sizeof v);
      values.push_back(v);
    }
    values.push_back(last);
    return values;
  };
  const std::vector<float> exp_args = floats_up_to(104.0f);
  const std::vector<float> unit = floats_up_to(1.0f);
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    std::vector<float> e(exp_args.size());
    detail::cpu::vector_math_for_tests(exp_args.data(), static_cast<int64_t>(exp_args.size()),
                                       e.data(), nullptr);
    double worst_normal = 0.0;
    double worst_subnormal = 0.0;
    for (size_t i = 0; i < exp_args.size(); ++i) {
      // Arguments below 2^-26 are taken as 0 (exp rounds to 1 either way).
      const double x = exp_args[i] < 0x1p-26f ? 0.0 : exp_args[i];
      const double exact = std::exp(-x);
      double& worst = exact < 0x1p-126 ? worst_subnormal : worst_normal;
      worst = std::max(worst, ulps(e[i], exact));
    }
    const bool table_forms = set.name.rfind("AVX3", 0) == 0;  // AVX3, AVX3_ZEN4, AVX3_SPR
    EXPECT_LE(worst_normal, table_forms ? 0.54 : 1.5) << set.name;
    EXPECT_LE(worst_subnormal, table_forms ? 0.76 : 0.9) << set.name;
    std::vector<float> l(unit.size());
    detail::cpu::vector_math_for_tests(unit.data(), static_cast<int64_t>(unit.size()), nullptr,
                                       l.data());
    double worst_log = 0.0;
    for (size_t i = 0; i < unit.size(); ++i)
      worst_log = std::max(worst_log, ulps(l[i], std::log1p(static_cast<double>(unit[i]))));
    EXPECT_LE(worst_log, table_forms ? 1.02 : 2.1) << set.name;
    EXPECT_GT(worst_log, 0.0) << set.name;  // the comparison sees rounding at all
    EXPECT_EQ(l.back(), static_cast<float>(std::log(2.0))) << set.name;  // log1p(1)

    // sigma(-|t|) = e / (1 + e) and sigma(|t|) = 1 - sigma(-|t|) of an exact e: 1.5 and 1 ulp.
    std::vector<float> small(unit.size()), big(unit.size());
    detail::cpu::sigmoids_for_tests(unit.data(), static_cast<int64_t>(unit.size()), small.data(),
                                    big.data());
    double worst_small = 0.0;
    double worst_big = 0.0;
    for (size_t i = 0; i < unit.size(); ++i) {
      const double ei = unit[i];
      worst_small = std::max(worst_small, ulps(small[i], ei / (1.0 + ei)));
      worst_big = std::max(worst_big, ulps(big[i], 1.0 / (1.0 + ei)));
    }
    EXPECT_LE(worst_small, 1.5) << set.name;
    EXPECT_LE(worst_big, 1.0) << set.name;
    EXPECT_GT(worst_small, 0.5) << set.name;  // more than one rounding's worth is seen

    const float ends[] = {0.0f,
                          104.5f,
                          200.0f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN()};
    float out[6];
    float log_out[6];
    detail::cpu::vector_math_for_tests(ends, 6, out, log_out);
    EXPECT_EQ(out[0], 1.0f) << set.name;
    EXPECT_EQ(out[1], 0.0f) << set.name;
    EXPECT_EQ(out[2], 0.0f) << set.name;
    EXPECT_EQ(out[3], 0.0f) << set.name;
    EXPECT_EQ(out[4], 0.0f) << set.name;
    EXPECT_TRUE(std::isnan(out[5])) << set.name;
    EXPECT_EQ(log_out[0], 0.0f) << set.name;
    EXPECT_TRUE(std::isnan(log_out[5])) << set.name;
  }
  detail::cpu::restrict_instruction_set(0);
}

// The log1p tables of the AVX-512 sets (math_tables.hpp) against the properties their bound rests
// on: r_n (1 + n/31) within 7.5e-4 of 1 (6000 ulps of r_n at most) and in [1/2, 1], so that |z|
// stays within the range the polynomial was fitted to (at most 0.0162 at the ends of n's interval
// of e); each offset -log(r_n) rounded, and that rounding within 1.3e-4 of an ulp (0.033 for r_31 =
// 1/2, ln 2); r_0 = 1 with offset 0.
TEST(Log1pTable, EntriesHaveTheirProperties) {
  using detail::cpu::kLog1pEntries;
  using detail::cpu::kLog1pOffset;
  using detail::cpu::kLog1pScale;
  EXPECT_EQ(kLog1pScale[0], 1.0f);
  EXPECT_EQ(kLog1pOffset[0], 0.0f);
  EXPECT_EQ(kLog1pScale[kLog1pEntries - 1], 0.5f);
  for (int n = 0; n < kLog1pEntries; ++n) {
    const long double r = kLog1pScale[n];
    const long double c = n / static_cast<long double>(detail::cpu::kLog1pIndexScale);
    EXPECT_GE(r, 0.5L) << n;
    EXPECT_LE(r, 1.0L) << n;
    EXPECT_LE(std::fabs(r * (1 + c) - 1), 7.5e-4L) << n;
    for (const long double e : {std::max(0.0L, c - 0.5L / 31), std::min(1.0L, c + 0.5L / 31)})
      EXPECT_LE(std::fabs(e * r + (r - 1)), 0.0162L) << n << " " << static_cast<double>(e);
    const long double offset = -std::log(r);
    EXPECT_EQ(kLog1pOffset[n], static_cast<float>(offset)) << n;
    if (n == 0) continue;
    const long double ulp = std::ldexp(1.0L, std::ilogb(kLog1pOffset[n]) - 23);
    EXPECT_LE(std::fabs(kLog1pOffset[n] - offset) / ulp, n == kLog1pEntries - 1 ? 0.033L : 1.3e-4L)
        << n;
  }
}

// The exp tables of the AVX-512 sets (math_tables.hpp): kExp2High[j] is 2^(j/32) rounded and
// kExp2Low[j] the rest rounded, so that their sum is 2^(j/32) within 2^-48 relative.
TEST(ExpTable, EntriesFollowTheirDefinition) {
  using detail::cpu::kExp2High;
  using detail::cpu::kExp2Low;
  EXPECT_EQ(kExp2High[0], 1.0f);
  EXPECT_EQ(kExp2Low[0], 0.0f);
  for (int j = 0; j < detail::cpu::kExp2Entries; ++j) {
    const long double exact = std::exp2(j / 32.0L);
    EXPECT_EQ(kExp2High[j], static_cast<float>(exact)) << j;
    EXPECT_EQ(kExp2Low[j], static_cast<float>(exact - kExp2High[j])) << j;
    EXPECT_LE(std::fabs((kExp2High[j] + static_cast<long double>(kExp2Low[j])) / exact - 1),
              0x1p-48L)
        << j;
  }
}

// Floats to round to a 16-bit type: every pattern of the high 16 bits with each of `lows` as the
// low 16, then a million random patterns from `seed`, and a tail shorter than a vector.
std::vector<float> rounding_inputs(std::initializer_list<uint32_t> lows, uint32_t seed) {
  std::vector<float> x;
  for (uint32_t hi = 0; hi < 0x10000u; ++hi) {
    for (uint32_t lo : lows)
      x.push_back(std::bit_cast<float>(hi << 16 | lo));
  }
  std::mt19937 rng(seed);
  for (int i = 0; i < (1 << 20); ++i)
    x.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  x.push_back(1.0f);
  return x;
}

// Rounds x by `round` (a test hook, on the selected instruction set) and expects the host
// conversion's bits, `expected`: how many differ, and the first.
void expect_rounding(void (*round)(const float*, int64_t, uint16_t*), const std::vector<float>& x,
                     const std::vector<uint16_t>& expected, const std::string& what) {
  std::vector<uint16_t> out(x.size(), 0x5555);
  round(x.data(), static_cast<int64_t>(x.size()), out.data());
  std::size_t wrong = 0;
  std::size_t first = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (out[i] != expected[i] && wrong++ == 0) first = i;
  }
  EXPECT_EQ(wrong, 0u) << what << ": first at " << std::hex << std::bit_cast<uint32_t>(x[first])
                       << ", " << out[first] << " for " << expected[first];
}

// The gradients' rounding to bf16 (on AVX-512 with AVX512_BF16 the processor's vcvtneps2bf16,
// which takes subnormal inputs as zero, with the software rounding for a vector that holds one;
// elsewhere the software rounding) gives the bits of host_dtype.hpp's float_to_bfloat16 on every
// instruction set: for every upper half of a float's bits with eight lower halves (zero, ties,
// the values either side of them, all ones: every bf16 rounding case, every subnormal range, NaNs
// and infinities), and for a million random floats, whose vectors mix subnormal and normal lanes.
// On a processor without AVX512_BF16 this checks the software rounding alone; the test says
// which in its output (property `hardware_bf16_rounding`).
TEST(CpuInstructionSets, EveryFloatRoundsToBf16) {
  RecordProperty("hardware_bf16_rounding", detail::cpu::kProcessorHasAvx512Bf16 ? 1 : 0);
  std::printf("hardware bf16 rounding (AVX512_BF16): %s\n",
              detail::cpu::kProcessorHasAvx512Bf16 ? "yes" : "no");
  const std::vector<float> x =
      rounding_inputs({0x0000u, 0x0001u, 0x4000u, 0x7fffu, 0x8000u, 0x8001u, 0xc000u, 0xffffu}, 7);
  std::vector<uint16_t> expected(x.size());
  int64_t subnormal = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    expected[i] = detail::float_to_bfloat16(x[i]);
    subnormal += std::fpclassify(x[i]) == FP_SUBNORMAL;
  }
  EXPECT_GT(subnormal, 6000);  // the inputs do hold subnormals
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    expect_rounding(detail::cpu::bf16_rounding_for_tests, x, expected, set.name);
  }
  detail::cpu::restrict_instruction_set(0);
}

// f16 logits are widened, and f16 gradients rounded, by the processor where it converts f16
// (F16C: the AVX2 and AVX-512 sets), and by integer operations elsewhere or where a vector holds
// a NaN (load() and store_as in src/cpu_pieces.cpp). Every instruction set gives the host
// conversions' bits: for every f16 pattern widened, and for about 1.6 million floats rounded
// (rounding_inputs: every exponent with mantissas at and around the rounding points, a million
// random patterns), each with the tail of a vector.
TEST(CpuInstructionSets, EveryF16ConversionMatchesTheHostConversion) {
  std::vector<uint16_t> h;
  for (uint32_t i = 0; i < 0x10000u; ++i)
    h.push_back(static_cast<uint16_t>(i));
  h.push_back(0x3c00);  // a tail shorter than a vector
  // The low 16 bits at and around f16's rounding points (13 bits dropped).
  const std::vector<float> x =
      rounding_inputs({0x0000u, 0x0001u, 0x0fffu, 0x1000u, 0x1001u, 0x2fffu, 0x3000u, 0xffffu}, 11);
  int64_t nan = 0;
  int64_t small = 0;  // below f16's normal range, not zero
  std::vector<uint16_t> rounded(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    rounded[i] = detail::float_to_half(x[i]);
    nan += std::isnan(x[i]);
    small += x[i] != 0.0f && std::fabs(x[i]) < 0x1p-14f;
  }
  EXPECT_GT(nan, 5000);  // the inputs do hold NaNs and values f16 holds as subnormals
  EXPECT_GT(small, 10000);
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    std::vector<float> wide(h.size(), -1.0f);
    detail::cpu::f16_widening_for_tests(h.data(), static_cast<int64_t>(h.size()), wide.data());
    for (std::size_t i = 0; i < h.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(wide[i]),
                std::bit_cast<uint32_t>(detail::half_to_float(h[i])))
          << set.name << ": f16 " << std::hex << h[i];
    }
    expect_rounding(detail::cpu::f16_rounding_for_tests, x, rounded, set.name);
  }
  detail::cpu::restrict_instruction_set(0);
}

// Kind pairs with a logistic term on D, G or both: those the specialised loops take.
constexpr std::pair<int32_t, int32_t> kPlainLoopKinds[] = {
    {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING},
    {GANLOSS_LOSS_MINIMAX, GANLOSS_LOSS_HINGE},
    {GANLOSS_LOSS_HINGE, GANLOSS_LOSS_NONSATURATING},
    {GANLOSS_LOSS_WASSERSTEIN, GANLOSS_LOSS_MINIMAX}};

// Infinities, NaN, a subnormal, signed zeros and large magnitudes among the first logits.
void set_extreme_logits(HostCall& call) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  call.set_real(3, inf);
  call.set_fake(4, nan);
  call.set_real(5, 1e-40f);
  call.set_fake(6, -90.0f);
  call.set_fake(7, 1e4f);
  call.set_real(8, -inf);
  call.set_fake(9, -inf);
  call.set_fake(10, inf);
  call.set_real(11, -0.0f);
  call.set_fake(12, 0.0f);
  call.set_real(13, nan);
}

// The common main pass (one side's f32, bf16 or f16 logits, unweighted, no statistics, a
// logistic kind) runs a loop of its own; asking for the statistics sends the same call through the
// general one. Every output but the statistics is bitwise the same either way, in every
// instruction set, with ordinary and extreme logits, across a tail that is not a whole vector.
TEST(CpuInstructionSets, CommonMainPassMatchesTheGeneralLoop) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  // Label smoothing (both parts of the real side's logistic term) and its absence.
  for (const float real_target : {1.0f, 0.9f}) {
    for (const auto& set : sets) {
      detail::cpu::restrict_instruction_set(set.target);
      for (const auto& [d, g] : kPlainLoopKinds) {
        for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16, GANLOSS_DTYPE_F16}) {
          auto p = make_problem(2, 4099, 1037, d, g, GANLOSS_REDUCTION_MEAN);
          p.dtype = dtype;
          p.params.real_target = real_target;
          HostCall call(p, 23);
          set_extreme_logits(call);
          ganloss_outputs_t o = call.all_outputs();
          o.stats = nullptr;
          ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
          const std::vector<uint8_t> plain = call.output_bytes();
          o.stats = call.all_outputs().stats;
          ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
          std::vector<uint8_t> general = call.output_bytes();
          // output_bytes() holds the statistics too: compare everything else.
          ASSERT_EQ(general.size(), plain.size());
          const std::size_t stats_begin = call.d_loss.bytes() + call.d_loss_real.bytes() +
                                          call.d_loss_fake.bytes() + call.g_loss.bytes();
          std::copy_n(plain.begin() + stats_begin, call.stats.bytes(),
                      general.begin() + stats_begin);
          EXPECT_TRUE(general == plain) << set.name << " " << testing::describe(call.problem);
        }
      }
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// What a training step asks for: the four totals and the three gradients the losses have (not
// G's gradient with respect to the real logits, and no element losses). The unit loop has a
// form for exactly these outputs.
ganloss_outputs_t common_outputs(HostCall& call) {
  ganloss_outputs_t o{};
  o.d_loss = call.d_loss.as<float>();
  o.d_loss_real = call.d_loss_real.as<float>();
  o.d_loss_fake = call.d_loss_fake.as<float>();
  o.g_loss = call.g_loss.as<float>();
  o.grad_real = call.grad_real.data();
  o.grad_fake_d = call.grad_fake_d.data();
  o.grad_fake_g = call.grad_fake_g.data();
  return o;
}

// Runs `run` with the specialised loops on, then off (the general loop), and says whether the
// call's outputs are bitwise the same either way. For bf16 logits the specialised loops run
// twice, their table entries gathered and loaded one at a time (scalar_entry_loads): both must
// give the general loop's bits, whichever the processor takes. Every output buffer is reset to the
// guard pattern before each run, so that a store one loop leaves out shows as a difference.
// `nan_totals`: a total that is NaN both ways counts as the same. A total over several NaNs of
// different payloads may keep either payload: the compiler may write an addition with its
// operands in either order, and x86 returns the first NaN operand.
bool same_with_general_loop(const std::function<void()>& run, HostCall& call,
                            bool nan_totals = false) {
  const std::vector<testing::GuardedBuffer*> buffers = call.output_buffers();
  const auto outputs = [&] {
    std::vector<std::vector<uint8_t>> out;
    for (testing::GuardedBuffer* b : buffers) {
      b->reset();
    }
    run();
    for (testing::GuardedBuffer* b : buffers) {
      const auto* p = static_cast<const uint8_t*>(b->data());
      out.emplace_back(p, p + b->bytes());
    }
    return out;
  };
  const bool processor_loads = detail::cpu::scalar_entry_loads();
  detail::cpu::plain_loops_enabled() = true;
  const auto plain = outputs();
  if (call.problem.dtype == GANLOSS_DTYPE_BF16) {
    detail::cpu::scalar_entry_loads() = !processor_loads;
    const auto other_lookup = outputs();
    detail::cpu::scalar_entry_loads() = processor_loads;
    if (other_lookup != plain) return false;
  }
  detail::cpu::plain_loops_enabled() = false;
  const auto general = outputs();
  detail::cpu::plain_loops_enabled() = true;
  const testing::GuardedBuffer* totals[] = {&call.d_loss, &call.d_loss_real, &call.d_loss_fake,
                                            &call.g_loss};
  for (std::size_t k = 0; k < buffers.size(); ++k) {
    if (plain[k] == general[k]) continue;
    if (!nan_totals ||
        std::find(std::begin(totals), std::end(totals), buffers[k]) == std::end(totals)) {
      return false;
    }
    for (std::size_t i = 0; i + 4 <= plain[k].size(); i += 4) {
      float a, b;
      std::memcpy(&a, &plain[k][i], 4);
      std::memcpy(&b, &general[k][i], 4);
      if (std::memcmp(&a, &b, 4) != 0 && !(std::isnan(a) && std::isnan(b))) return false;
    }
  }
  return true;
}

// VJP calls with the D cotangent, the G cotangent (the specialised VJP loop, plain_vjp_steps) or
// both (the general loop), with a zero cotangent in segment 1, each bitwise the general loop's
// results. `grads`: where the call's gradients go (make_params' outputs); a VJP call writes no
// G gradient of its own, so those two are cleared.
void expect_vjp_calls_match_general_loop(HostCall& call, const ganloss_outputs_t& grads,
                                         const std::string& what) {
  const ganloss_inputs_t in = call.inputs();
  const float ud[] = {-1.5f, 0.0f};
  const float ug[] = {2.5f, 0.75f};
  const std::size_t bytes = detail::cpu::workspace_bytes(call.problem);
  testing::GuardedBuffer workspace(bytes);
  for (int which = 1; which <= 3; ++which) {
    detail::CallParams q{};
    ASSERT_EQ(detail::make_params(&call.problem, &in, &grads, workspace.data(), bytes, bytes, &q),
              Status::Success);
    q.vjp = true;
    q.grad_real_g = nullptr;
    q.grad_fake_g = nullptr;
    q.cotangent_d = which & 1 ? ud : nullptr;
    q.cotangent_g = which & 2 ? ug : nullptr;
    if (!(which & 1)) q.real_d = q.fake_d = make_none_term();
    if (!(which & 2)) q.real_g = q.fake_g = make_none_term();
    EXPECT_TRUE(same_with_general_loop(
        [&] { ASSERT_EQ(detail::cpu::run(q, workspace.data(), 2), Status::Success); }, call))
        << "VJP " << which << ", " << what;
  }
}

// The specialised loops run several vectors side by side and start the next vectors' math
// before they finish the current ones, with a vector or two left over alone: every count of
// logits from 1 to 200 (so every count of whole vectors up to 12 at 16 lanes, 50 at 4, with
// and without a tail) gives bitwise the general loop's outputs, with the extremes of the tests
// above among the logits, on every instruction set.
TEST(CpuInstructionSets, EveryShortCountMatchesTheGeneralLoop) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    for (int64_t n = 1; n <= 200; ++n) {
      for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16, GANLOSS_DTYPE_F16}) {
        auto p = make_problem(1, n, n + 7, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                              GANLOSS_REDUCTION_SUM);
        p.dtype = dtype;
        HostCall call(p, static_cast<uint64_t>(n));
        if (n >= 14) set_extreme_logits(call);
        ganloss_outputs_t o = call.all_outputs();
        o.stats = nullptr;
        EXPECT_TRUE(same_with_general_loop(
            [&] { ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); }, call))
            << set.name << " " << testing::describe(p);
        const ganloss_outputs_t common = common_outputs(call);
        EXPECT_TRUE(same_with_general_loop(
            [&] { ASSERT_EQ(call.run(common, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); },
            call))
            << "common outputs, " << set.name << " " << testing::describe(p);
      }
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// The common main pass with and without gradients (plain_steps; without, it computes no
// sigmoid) and the common VJP call (plain_vjp_steps: one scaled gradient, no losses) give
// bitwise the results of the general loop, on every instruction set, with the extremes of the
// test above, for gradients in the logits' dtype and in f32; each is run with the specialised
// loops on and off.
TEST(CpuInstructionSets, LossOnlyPassAndCommonVjpMatchTheGeneralLoop) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  for (const float real_target : {1.0f, 0.9f}) {
    for (const auto& set : sets) {
      detail::cpu::restrict_instruction_set(set.target);
      for (const auto& [d, g] : kPlainLoopKinds) {
        for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16, GANLOSS_DTYPE_F16}) {
          for (int32_t variant = 0; variant < 4; ++variant) {
            const int32_t reduction = variant % 2 ? GANLOSS_REDUCTION_SUM : GANLOSS_REDUCTION_MEAN;
            const bool fp32_gradients = variant >= 2;
            if (fp32_gradients && dtype == GANLOSS_DTYPE_F32) continue;
            auto p = make_problem(2, 4099, 1037, d, g, reduction);
            p.dtype = dtype;
            p.fp32_gradients = fp32_gradients ? 1 : 0;
            p.params.real_target = real_target;
            p.grad_scale = 3.0f;
            HostCall call(p, 29);
            set_extreme_logits(call);
            const std::string what = set.name + " " + testing::describe(call.problem);

            // Every output but the statistics (which the specialised loops do not take).
            ganloss_outputs_t all = call.all_outputs();
            all.stats = nullptr;
            EXPECT_TRUE(same_with_general_loop(
                [&] { ASSERT_EQ(call.run(all, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); },
                call))
                << "main pass, " << what;
            const ganloss_outputs_t common = common_outputs(call);
            EXPECT_TRUE(same_with_general_loop(
                [&] { ASSERT_EQ(call.run(common, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); },
                call))
                << "common outputs, " << what;

            // The losses alone.
            ganloss_outputs_t o{};
            o.d_loss = all.d_loss;
            o.d_loss_real = all.d_loss_real;
            o.d_loss_fake = all.d_loss_fake;
            o.g_loss = all.g_loss;
            EXPECT_TRUE(same_with_general_loop(
                [&] { ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); }, call))
                << "losses only, " << what;

            ganloss_outputs_t grads{};
            grads.grad_real = call.grad_real.data();
            grads.grad_real_g = call.grad_real_g.data();
            grads.grad_fake_d = call.grad_fake_d.data();
            grads.grad_fake_g = call.grad_fake_g.data();
            expect_vjp_calls_match_general_loop(call, grads, what);
          }
        }
      }
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// The weighted main pass (weighted_steps: a weight per logit, every logistic pairing of the plain
// loops, the unit forms of the non-saturating loss among them), the weighted VJP call with one
// cotangent (plain_vjp_steps) and the prepass (prepass_steps:
// the logits' and weights' sums of a weighted mean or mean over nonzero weights, and the
// relativistic average's logit means) give bitwise the results of the general loop, on every
// instruction set, with the extreme logits of the tests above and weights of 0, 1, tiny (a
// scaled weight that underflows, which becomes the smallest subnormal), subnormal and huge among
// ordinary ones; for gradients in the logits' dtype and in f32, each output set and reduction.
TEST(CpuInstructionSets, WeightedPassesVjpAndPrepassMatchTheGeneralLoop) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  std::vector<std::pair<int32_t, int32_t>> kinds(std::begin(kPlainLoopKinds),
                                                 std::end(kPlainLoopKinds));
  // A prepass that sums the logits (no weights), and a weighted least-squares pass, which the
  // general loop runs after the specialised prepass.
  kinds.push_back({GANLOSS_LOSS_RELATIVISTIC_AVERAGE, GANLOSS_LOSS_RELATIVISTIC_AVERAGE});
  kinds.push_back({GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_LOSS_NONSATURATING});
  const int32_t reductions[] = {GANLOSS_REDUCTION_MEAN, GANLOSS_REDUCTION_SUM,
                                GANLOSS_REDUCTION_MEAN_NONZERO};
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    int variant = 0;
    for (const auto& [d, g] : kinds) {
      for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16, GANLOSS_DTYPE_F16}) {
        for (const bool fp32_gradients : {false, true}) {
          if (fp32_gradients && dtype == GANLOSS_DTYPE_F32) continue;
          const int32_t reduction = reductions[variant++ % 3];
          auto p = make_problem(2, 4099, 1037, d, g, reduction);
          p.dtype = dtype;
          p.fp32_gradients = fp32_gradients ? 1 : 0;
          p.grad_scale = 3.0f;
          const bool weighted = d != GANLOSS_LOSS_RELATIVISTIC_AVERAGE;
          HostCall call(p, 31 + static_cast<uint64_t>(variant),
                        testing::CallData{weighted, weighted, {}, {}});
          set_extreme_logits(call);
          if (weighted) {
            for (testing::GuardedBuffer* w : {&call.real_weights, &call.fake_weights}) {
              float* const v = w->as<float>();
              const float special[] = {0.0f, 1.0f, 1e-30f, 0x1p-140f, 3e30f, 0.0f, 1e-30f};
              for (std::size_t k = 0; k < std::size(special); ++k)
                v[5 * k + 1] = special[k];
            }
          }
          const std::string what =
              set.name + " " + testing::describe(call.problem) + (weighted ? " weighted" : "");
          ganloss_outputs_t all = call.all_outputs();
          all.stats = nullptr;
          EXPECT_TRUE(same_with_general_loop(
              [&] { ASSERT_EQ(call.run(all, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); }, call))
              << "every output, " << what;
          const ganloss_outputs_t common = common_outputs(call);
          EXPECT_TRUE(same_with_general_loop(
              [&] { ASSERT_EQ(call.run(common, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); },
              call))
              << "common outputs, " << what;

          ganloss_outputs_t grads{};
          grads.grad_real = call.grad_real.data();
          grads.grad_fake_d = call.grad_fake_d.data();
          expect_vjp_calls_match_general_loop(call, grads, what);
        }
      }
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// For bf16 and f16 logits the specialised loops look sigma(-|x|) and log1p(exp(-|x|)) up in a
// table by the logit's magnitude (logistic_table in src/cpu_pieces.cpp) where the general loop
// computes them. Every one of the 2^16 patterns of either dtype (NaNs with every payload,
// infinities, subnormals, both zeros, the tiny magnitudes below 2^-26 and the ones just above) as
// a real and as a fake logit gives the general loop's outputs, bitwise but for the payload of a
// NaN total: the main pass with every output, the common outputs and the VJP call, on every
// instruction set. 256 segments of 256 logits, the patterns in order, so that only the segments
// holding the infinities and NaNs (bf16: 0x7f00 to 0x7fff and 0xff00 to 0xffff; f16: 0x7c00 to
// 0x7fff and 0xfc00 to 0xffff) have NaN totals.
TEST(CpuInstructionSets, EverySixteenBitLogitMatchesTheGeneralLoop) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  constexpr int64_t kSegments = 256;
  constexpr int64_t kPerSegment = 256;
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    for (const auto& [d, g] : kPlainLoopKinds) {
      for (const int32_t dtype : {GANLOSS_DTYPE_BF16, GANLOSS_DTYPE_F16}) {
        // The first segment (of 128 per sign) whose magnitudes reach infinity.
        const int64_t first_nan = dtype == GANLOSS_DTYPE_BF16 ? 127 : 124;
        // 3 / 256 (the mean of a segment): gradients below FLT_MIN from |x| of about 83 on;
        // 2^-100 / 256: from about 12 on, and a moderate logit's gradients are stored the slow way.
        for (const auto& [fp32_gradients, grad_scale] :
             {std::pair{0, 3.0f}, std::pair{1, 3.0f}, std::pair{0, 0x1p-100f}}) {
          auto p = make_problem(kSegments, kPerSegment, kPerSegment, d, g, GANLOSS_REDUCTION_MEAN);
          p.dtype = dtype;
          p.fp32_gradients = fp32_gradients;
          p.grad_scale = grad_scale;
          HostCall call(p, 31);
          auto* real = reinterpret_cast<uint16_t*>(call.real.data());
          auto* fake = reinterpret_cast<uint16_t*>(call.fake.data());
          for (uint32_t i = 0; i < kSegments * kPerSegment; ++i) {
            real[i] = static_cast<uint16_t>(i);
            fake[i] = static_cast<uint16_t>(i ^ 0x8000u);
          }
          const std::string what = set.name + " " + testing::describe(call.problem);
          ganloss_outputs_t all = call.all_outputs();
          all.stats = nullptr;
          EXPECT_TRUE(same_with_general_loop(
              [&] { ASSERT_EQ(call.run(all, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); }, call,
              true))
              << "main pass, " << what;
          const ganloss_outputs_t common = common_outputs(call);
          EXPECT_TRUE(same_with_general_loop(
              [&] { ASSERT_EQ(call.run(common, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); },
              call, true))
              << "common outputs, " << what;
          // Only the segments with NaN logits on either side have NaN totals: the others are
          // compared as numbers.
          for (int64_t s = 0; s < kSegments; ++s) {
            EXPECT_EQ(std::isnan(call.d_loss.as<float>()[s]), s % 128 >= first_nan)
                << s << " " << what;
          }

          const ganloss_inputs_t in = call.inputs();
          ganloss_outputs_t grads{};
          grads.grad_real = call.grad_real.data();
          grads.grad_fake_d = call.grad_fake_d.data();
          std::vector<float> ud(kSegments, -1.5f);
          const std::size_t bytes = detail::cpu::workspace_bytes(call.problem);
          testing::GuardedBuffer workspace(bytes);
          detail::CallParams q{};
          ASSERT_EQ(
              detail::make_params(&call.problem, &in, &grads, workspace.data(), bytes, bytes, &q),
              Status::Success);
          q.vjp = true;
          q.grad_real_g = nullptr;
          q.grad_fake_g = nullptr;
          q.cotangent_d = ud.data();
          q.cotangent_g = nullptr;
          q.real_g = q.fake_g = make_none_term();
          EXPECT_TRUE(same_with_general_loop(
              [&] { ASSERT_EQ(detail::cpu::run(q, workspace.data(), 2), Status::Success); }, call))
              << "VJP, " << what;
        }
      }
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// The common bf16 loop stores the gradients of a group of four vectors without a test per store
// where the largest magnitude of the group lies below a bound (normal_gradients_below in
// src/cpu_pieces.cpp). One logit beyond it in any vector of a group sends the whole group the
// general way. Every logit here is 1.5 but one in 64 of 100, whose gradient sigma(-100) * scale
// rounds to zero, at lane 5, 21, 37 or 53 of the group: in each of its four vectors in turn.
TEST(CpuInstructionSets, OneLargeBf16LogitInAnyVectorOfAGroup) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  constexpr int64_t kLogits = 4096;
  constexpr uint16_t kModerate = 0x3fc0;  // 1.5
  constexpr uint16_t kLarge = 0x42c8;     // 100
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    for (const auto& [d, g] : kPlainLoopKinds) {
      auto p = make_problem(1, kLogits, kLogits, d, g, GANLOSS_REDUCTION_MEAN);
      p.dtype = GANLOSS_DTYPE_BF16;
      HostCall call(p, 37);
      auto* real = reinterpret_cast<uint16_t*>(call.real.data());
      auto* fake = reinterpret_cast<uint16_t*>(call.fake.data());
      for (int64_t i = 0; i < kLogits; ++i) {
        const bool large = i % 64 == 5 + 16 * (i / 64 % 4);
        real[i] = large ? kLarge : kModerate;
        fake[i] = large ? kLarge : static_cast<uint16_t>(kModerate | 0x8000u);
      }
      const ganloss_outputs_t common = common_outputs(call);
      EXPECT_TRUE(same_with_general_loop(
          [&] { ASSERT_EQ(call.run(common, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS); }, call))
          << set.name << " " << testing::describe(call.problem);
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// That bound, as bf16 magnitude bits: |x| < 64 (0x4280) for every scale from 2^-30 to 2^20 and
// for an infinite one, |x| < 8 (0x4100) for 2^-108, and none for 0, NaN and 2^-126 (half of
// which is subnormal). Only AVX-512 on a processor with AVX512_BF16 has such stores; the other
// instruction sets report none.
TEST(CpuInstructionSets, Bf16NormalStoreBound) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::pair<float, uint32_t> cases[] = {
      {1.0f, 0x4280},      {-1.0f, 0x4280}, {0x1p-30f, 0x4280}, {0x1p20f, 0x4280}, {inf, 0x4280},
      {0x1p-108f, 0x4100}, {0.0f, 0},       {-0.0f, 0},         {nan, 0},          {0x1p-126f, 0}};
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    const bool stores = set.name == "AVX3" && detail::cpu::kProcessorHasAvx512Bf16;
    for (const auto& [scale, bound] : cases) {
      EXPECT_EQ(detail::cpu::bf16_normal_bound_for_tests(scale), stores ? bound : 0)
          << set.name << " scale " << scale;
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// A row's sum of fp32 loss terms as docs/numerics.md states it, its pieces `piece` elements
// long: blocks of 64 elements from each piece's first, element i of a block added in fp32 to
// float lane i mod `float_lanes` (16; 8 gives a wrong grouping, for the tests' own check) in
// element order, the float lanes added at the block's end to double lane c mod 8 (0-7 before
// 8-15), the eight double lanes pairwise, and the pieces' sums in order.
double documented_row_sum(const float* t, int64_t n, int64_t piece, int float_lanes = 16) {
  double row = 0.0;
  for (int64_t first = 0; first < n; first += piece) {
    const int64_t end = std::min(n, first + piece);
    double lanes[8] = {};
    for (int64_t block = first; block < end; block += 64) {
      float f[16] = {};
      for (int64_t i = block; i < std::min(end, block + 64); ++i)
        f[(i - block) % float_lanes] += t[i];
      for (int c = 0; c < 16; ++c)
        lanes[c % 8] += static_cast<double>(f[c]);
    }
    row += ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
           ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  }
  return row;
}

// The same terms, each added in double (in lane i mod 8).
double each_in_double(const float* t, int64_t n) {
  double lanes[8] = {};
  for (int64_t i = 0; i < n; ++i)
    lanes[i % 8] += static_cast<double>(t[i]);
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// Fake logits whose Wasserstein D terms (the logits themselves) sum to rounding residues: in each
// whole block of 64 elements from a piece's first, float lane c gets L = 2^(10 + c), then two
// values with four bits below L's last one (so that adding each to L rounds), then -L. So a
// term in another float lane, a block that starts elsewhere or is left out changes the total.
// The elements of a piece's last, partial block are small values. Every value is exact in bf16.
void set_residue_logits(HostCall& call, int64_t n, int64_t piece) {
  uint32_t state = 12345;
  const auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  for (int64_t first = 0; first < n; first += piece) {
    const int64_t end = std::min(n, first + piece);
    for (int64_t i = first; i < end; ++i) {
      const int64_t w = (i - first) % 64;
      const int c = static_cast<int>(w % 16);
      const float m = static_cast<float>(128 + next() % 128) * ((next() & 1) ? 1.0f : -1.0f);
      float v = std::ldexp(m, -20);
      if (i - w + 64 <= end) {  // a whole block
        const float big = std::ldexp(1.0f, 10 + c);
        v = w < 16 ? big : w >= 48 ? -big : std::ldexp(m, c - 17);
      }
      call.set_fake(i, v);
    }
  }
}

// The loss totals are the documented fp32 blocks' sums, bit for bit, on every instruction set,
// through the plain loop (Wasserstein D with a logistic G) and the general loop (Wasserstein
// alone), on a row of one piece and on rows of two (the real logits fill the first chunk of
// the row, so the fake row's pieces start at 0 and kC). The test checks that its data tell the
// documented grouping from the terms added in double and from float lanes i mod 8.
TEST(CpuInstructionSets, LossTermsAddInFp32Blocks) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    for (int32_t g_kind : {GANLOSS_LOSS_MINIMAX, GANLOSS_LOSS_WASSERSTEIN}) {
      for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16}) {
        for (const auto& [real, n] : {std::pair<int64_t, int64_t>{3, 1000}, {kC, 2 * kC + 1000}}) {
          auto p =
              make_problem(1, real, n, GANLOSS_LOSS_WASSERSTEIN, g_kind, GANLOSS_REDUCTION_SUM);
          p.dtype = dtype;
          HostCall call(p, 41);
          for (int64_t i = 0; i < real; ++i)
            call.set_real(i, 0.0f);
          const int64_t piece = real == kC ? kC : n;
          set_residue_logits(call, n, piece);
          std::vector<float> terms(static_cast<std::size_t>(n));
          for (int64_t i = 0; i < n; ++i)
            terms[static_cast<std::size_t>(i)] = static_cast<float>(call.fake_at(i));
          const auto want = static_cast<float>(documented_row_sum(terms.data(), n, piece));
          const std::string what = set.name + " " + testing::describe(call.problem);
          EXPECT_NE(want, static_cast<float>(each_in_double(terms.data(), n))) << what;
          EXPECT_NE(want, static_cast<float>(documented_row_sum(terms.data(), n, piece, 8)))
              << what;
          for (const ganloss_outputs_t& o : {call.all_outputs(), common_outputs(call)}) {
            ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
            EXPECT_EQ(std::bit_cast<uint32_t>(call.d_loss_fake.as<float>()[0]),
                      std::bit_cast<uint32_t>(want))
                << what << ": " << call.d_loss_fake.as<float>()[0] << " vs " << want;
          }
        }
      }
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// Terms of 2^127 overflow a block's fp32 sum (four of them in a float lane) where double
// additions do not, and an infinite logit makes its block's sums infinite: the piece's loss
// sums are then added again from its logits, each term in double, so the means come out exact
// and finite, or infinite, through every loop, on every instruction set. A call that writes its
// gradients over its logits keeps the blocks' sums, as documented: there the overflowing means
// are +inf, and the infinite logit's still +inf. A finite sum keeps its bits when another sum of
// its piece is added again, so the G loss beside the infinite D term is the same in place.
TEST(CpuExtremes, OverflowingBlockSumsAddTheirTermsInDouble) {
  const auto sets = detail::cpu::available_instruction_sets();
  ASSERT_FALSE(sets.empty());
  const float inf = std::numeric_limits<float>::infinity();
  for (const auto& set : sets) {
    detail::cpu::restrict_instruction_set(set.target);
    for (int32_t kind : {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_WASSERSTEIN}) {
      for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16}) {
        for (int64_t n : {int64_t{200}, kC + 200}) {
          auto p = make_problem(1, n, n, kind, kind, GANLOSS_REDUCTION_MEAN);
          p.dtype = dtype;
          HostCall call(p, 43);
          const std::string what = set.name + " " + testing::describe(call.problem);
          ganloss_outputs_t in_place = common_outputs(call);
          in_place.grad_real = call.real.data();
          in_place.grad_fake_d = call.fake.data();
          std::vector<uint32_t> g_loss;  // beside the infinite logit, for each set of outputs
          for (const ganloss_outputs_t& o : {call.all_outputs(), common_outputs(call), in_place}) {
            for (int64_t i = 0; i < n; ++i) {
              call.set_fake(i, 0x1p127f);
              call.set_real(i, -0x1p127f);
            }
            ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
            const float mean = o.grad_fake_d == call.fake.data() ? inf : 0x1p127f;
            EXPECT_EQ(call.d_loss_fake.as<float>()[0], mean) << what;
            EXPECT_EQ(call.d_loss_real.as<float>()[0], mean) << what;
            // One infinite logit in the middle of the row, the others ordinary.
            for (int64_t i = 0; i < n; ++i) {
              call.set_fake(i, static_cast<float>(i % 7) - 3.0f);
              call.set_real(i, static_cast<float>(i % 5) - 2.0f);
            }
            call.set_fake(n / 2, inf);
            ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
            EXPECT_EQ(call.d_loss_fake.as<float>()[0], inf) << what;
            EXPECT_TRUE(std::isfinite(call.d_loss_real.as<float>()[0])) << what;
            g_loss.push_back(std::bit_cast<uint32_t>(call.g_loss.as<float>()[0]));
          }
          EXPECT_EQ(g_loss[0], g_loss[1]) << what;
          EXPECT_EQ(g_loss[0], g_loss[2]) << "in place, " << what;
          for (int64_t i = 0; i < n; ++i) {
            call.set_fake(i, 0x1p127f);
            call.set_real(i, -0x1p127f);
          }
          const ganloss_outputs_t all = call.all_outputs();
          ASSERT_EQ(call.run(all, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
          const Comparison cmp = testing::compare_with_reference(call, all, kCpuDepth);
          EXPECT_LE(cmp.worst(), 1.0) << what << ": " << cmp.first_failure;
        }
      }
    }
  }
  detail::cpu::restrict_instruction_set(0);
}

// Subnormal and tiny logits take the exact small-argument path: the results of every kind are
// those of the reference (their speed is a benchmark's business, bench/ganloss_cpu_bench.cpp).
TEST(CpuExtremes, SubnormalAndTinyLogits) {
  const float values[] = {1e-45f,          -1e-45f, 1e-40f, -3e-39f, 1.1754942e-38f, 1e-30f,
                          -1e-20f,         1e-10f,  -3e-8f, 1.4e-8f, 0x1p-26f,       -0x1p-26f,
                          0x1.fffffep-27f, 0.0f,    -0.0f,  1e-3f};
  for (int32_t kind = 0; kind < 9; ++kind) {
    for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16}) {
      const int64_t n = 16 * 5 + 3;
      auto p = make_problem(1, n, n, kind, kind >= 5 ? kind : GANLOSS_LOSS_NONSATURATING,
                            GANLOSS_REDUCTION_SUM);
      p.dtype = dtype;
      p.params.ls_fake_label = 0.0f;
      p.params.margin_real = 0.0f;
      HostCall call(p, 23);
      for (int64_t i = 0; i < n; ++i) {
        call.set_real(i, values[i % 16]);
        call.set_fake(i, values[(i * 7) % 16]);
      }
      const ganloss_outputs_t o = call.all_outputs();
      ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
      const Comparison cmp = testing::compare_with_reference(call, o, kCpuDepth);
      EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
    }
  }
}

// ---- VJP calls (CallParams::vjp) ----

struct VjpCase {
  int32_t d_kind, g_kind, reduction, dtype;
  bool fp32_gradients, weights, ragged, cotangent_d, cotangent_g, in_place;
  int64_t segments, length;

  std::string name() const {
    return std::string(testing::dtype_name(dtype)) + (fp32_gradients ? "_f32grad_" : "_") +
           testing::kind_name(d_kind) + "_" + testing::kind_name(g_kind) + "_" +
           testing::reduction_name(reduction) + (weights ? "_weighted" : "") +
           (ragged ? "_ragged" : "") + (cotangent_d ? "_ud" : "") + (cotangent_g ? "_ug" : "") +
           (in_place ? "_inplace" : "") + "_S" + std::to_string(segments) + "x" +
           std::to_string(length);
  }
};

void PrintTo(const VjpCase& c, std::ostream* os) {
  *os << c.name();
}

std::vector<VjpCase> vjp_cases() {
  std::vector<VjpCase> cases;
  std::vector<std::pair<int32_t, int32_t>> kinds;
  for (int32_t d = 0; d < 5; ++d) {
    for (int32_t g = 0; g < 5; ++g)
      kinds.push_back({d, g});
  }
  for (int32_t k = 5; k < 9; ++k)
    kinds.push_back({k, k});
  const int32_t reductions[] = {GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_SUM,
                                GANLOSS_REDUCTION_MEAN, GANLOSS_REDUCTION_MEAN_NONZERO};
  const int32_t dtypes[] = {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16};
  int index = 0;
  for (const auto& [d, g] : kinds) {
    // Each pairing in several variants, the options spread over them so that every option
    // meets every kind of loss.
    for (int v = 0; v < 6; ++v, ++index) {
      VjpCase c{};
      c.d_kind = d;
      c.g_kind = g;
      c.reduction = reductions[(index + v) % 4];
      c.dtype = dtypes[(index / 2 + v) % 3];
      c.fp32_gradients = c.dtype != GANLOSS_DTYPE_F32 && v % 2 == 1;
      c.weights = v % 3 != 0;
      c.ragged = v == 4;
      c.cotangent_d = v != 2;
      c.cotangent_g = v != 3;
      c.in_place = v == 5 && !c.fp32_gradients;
      c.segments = v == 1 ? 2 : 7;
      c.length = v == 1 ? 3 * kC + 5 : 37 + v;
      cases.push_back(c);
    }
  }
  return cases;
}

class CpuVjp : public ::testing::TestWithParam<VjpCase> {};

TEST_P(CpuVjp, MatchesReference) {
  const VjpCase& c = GetParam();
  auto p = make_problem(c.segments, c.length, c.length, c.d_kind, c.g_kind, c.reduction);
  p.dtype = c.dtype;
  p.fp32_gradients = c.fp32_gradients ? 1 : 0;
  p.params.real_target = 0.9f;
  p.grad_scale = 3.0f;
  // The paired loss takes one weight per pair, the real one.
  testing::CallData data{c.weights, c.weights && c.d_kind != GANLOSS_LOSS_RELATIVISTIC, {}, {}};
  if (c.ragged) {
    p.ragged = 1;
    std::mt19937_64 rng(c.segments);
    for (auto* offsets : {&data.real_offsets, &data.fake_offsets}) {
      offsets->push_back(0);
      for (int64_t s = 0; s < c.segments; ++s)
        offsets->push_back(offsets->back() + static_cast<int64_t>(rng() % 60));
    }
    if (c.d_kind == GANLOSS_LOSS_RELATIVISTIC) data.fake_offsets = data.real_offsets;
  }
  HostCall call(p, std::hash<std::string>{}(c.name()), data);
  // Cotangents of every sign and size, and a zero.
  std::vector<float> ud(static_cast<std::size_t>(c.segments)), ug(ud.size());
  for (std::size_t s = 0; s < ud.size(); ++s) {
    ud[s] = s == 1 ? 0.0f : 0.75f * static_cast<float>(s) - 1.5f;
    ug[s] = 2.5f - 0.5f * static_cast<float>(s);
  }
  // The inputs as they are before the call (an in-place call overwrites the logits).
  const std::vector<uint8_t> real_before(
      static_cast<const uint8_t*>(call.real.data()),
      static_cast<const uint8_t*>(call.real.data()) + call.real.bytes());
  const std::vector<uint8_t> fake_before(
      static_cast<const uint8_t*>(call.fake.data()),
      static_cast<const uint8_t*>(call.fake.data()) + call.fake.bytes());
  const ganloss_inputs_t in = call.inputs();
  const reference::Result ref = reference::evaluate(call.problem, in);

  // Every gradient requested, so that every term is set; then the VJP fields.
  ganloss_outputs_t o{};
  o.grad_real = call.grad_real.data();
  o.grad_real_g = call.grad_real_g.data();
  o.grad_fake_d = call.grad_fake_d.data();
  o.grad_fake_g = call.grad_fake_g.data();
  const std::size_t bytes = detail::cpu::workspace_bytes(call.problem);
  testing::GuardedBuffer workspace(bytes);
  detail::CallParams q{};
  ASSERT_EQ(detail::make_params(&call.problem, &in, &o, workspace.data(), bytes, bytes, &q),
            Status::Success)
      << ganloss_last_error_message();
  q.vjp = true;
  q.grad_real_g = nullptr;
  q.grad_fake_g = nullptr;
  q.cotangent_d = c.cotangent_d ? ud.data() : nullptr;
  q.cotangent_g = c.cotangent_g ? ug.data() : nullptr;
  if (!c.cotangent_d) q.real_d = q.fake_d = make_none_term();
  if (!c.cotangent_g) q.real_g = q.fake_g = make_none_term();
  if (c.in_place) {
    q.grad_real = call.real.data();
    q.grad_fake_d = call.fake.data();
  }
  ASSERT_EQ(detail::cpu::run(q, workspace.data(), 2), Status::Success);

  const void* grad_real = c.in_place ? call.real.data() : call.grad_real.data();
  const void* grad_fake = c.in_place ? call.fake.data() : call.grad_fake_d.data();
  // Compare against the reference of the inputs as they were.
  testing::GuardedBuffer real_copy(real_before.size()), fake_copy(fake_before.size());
  if (!real_before.empty()) std::memcpy(real_copy.data(), real_before.data(), real_before.size());
  if (!fake_before.empty()) std::memcpy(fake_copy.data(), fake_before.data(), fake_before.size());
  ganloss_inputs_t before = in;
  before.real = real_copy.data();
  before.fake = fake_copy.data();
  const detail::VjpGradients got{q.cotangent_d, q.cotangent_g, {grad_real, grad_fake}};
  const Comparison cmp =
      detail::compare_vjp_with_reference(call.problem, before, ref, got, kCpuDepth);
  EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
  // Nothing else written.
  for (testing::GuardedBuffer* b : call.output_buffers()) {
    EXPECT_TRUE(b->guards_intact());
    if (b == &call.grad_real || b == &call.grad_fake_d) continue;
    EXPECT_TRUE(b->all_untouched()) << "an output a VJP call does not write was written";
  }

  // Bitwise the same on one thread, and again.
  if (!c.in_place) {
    const std::vector<uint8_t> first = call.output_bytes();
    for (int threads : {1, 3}) {
      ASSERT_EQ(detail::cpu::run(q, workspace.data(), threads), Status::Success);
      EXPECT_TRUE(call.output_bytes() == first) << "threads " << threads;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CpuVjp, ::testing::ValuesIn(vjp_cases()),
                         [](const ::testing::TestParamInfo<VjpCase>& i) { return i.param.name(); });

}  // namespace
}  // namespace ganloss
