// The CUDA kernel, run by the host SIMT emulator, against the double-precision reference: every
// loss kind, reduction and regime, sizes at and around every regime boundary, odd sizes,
// Nr != Nf, strided and unaligned rows, optional outputs on and off, many segments; plus
// shared-memory hazard checks, determinism across block orders and grid sizes, ticket reset,
// and proof that the emulator catches a deleted __syncthreads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define GANLOSS_EMULATOR 1
#include "detail/simt.hpp"
#include "emulated_call.hpp"
#include "emulator/emulated_backend.hpp"
#include "emulator/simt_emulator.hpp"
#include "family_cases.hpp"
#include "kernel_cases.hpp"
#include "test_support.hpp"
#include "tolerance.hpp"

namespace ganloss {
namespace {

using detail::kCudaKernelError;
using detail::kernel::Regime;
using emulator::emulated_compute;
using emulator::EmulatedOptions;
using emulator::EmulatedRun;
using ganloss::DType;
using testing::C;
using testing::Comparison;
using testing::HostCall;
using testing::KernelCase;
using testing::kShapes;
using testing::make_problem;
using testing::Shape;

using testing::run_emulated;

// The tickets of the chunk regime (after the per-segment state in the workspace) are zero.
void expect_tickets_zero(HostCall& call) {
  const detail::kernel::WorkspaceLayout layout = detail::kernel::workspace_layout(call.problem);
  if (layout.ticket_bytes == 0) return;
  const auto* tickets =
      reinterpret_cast<const uint32_t*>(call.workspace.as<uint8_t>() + layout.state_bytes);
  for (int64_t s = 0; s < call.problem.segments; ++s) {
    EXPECT_EQ(tickets[s], 0u) << "segment " << s << " left its ticket set";
  }
}

// Ragged offsets of `segments` rows of 0 to twice the given counts (the same lengths on both
// sides for pairs).
void add_ragged_offsets(int64_t segments, int64_t real_count, int64_t fake_count, bool paired,
                        testing::CallData* data) {
  int64_t a = 0, b = 0;
  data->real_offsets.push_back(0);
  data->fake_offsets.push_back(0);
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t nr = (s * 7919) % (2 * real_count + 1);
    const int64_t nf = paired ? nr : (s * 104729) % (2 * fake_count + 1);
    data->real_offsets.push_back(a += nr);
    data->fake_offsets.push_back(b += nf);
  }
}

class EmulatedMatrix : public ::testing::TestWithParam<KernelCase> {};

TEST_P(EmulatedMatrix, MatchesReference) {
  const KernelCase& c = GetParam();
  HostCall call(testing::problem_of(c), std::hash<std::string>{}(c.name()));
  const ganloss_outputs_t o = call.all_outputs();
  const EmulatedRun run = run_emulated(call, o);
  ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
  ASSERT_TRUE(run.launched);
  EXPECT_EQ(run.regime, c.shape.regime);
  EXPECT_EQ(run.report.hazard_count, 0u)
      << (run.report.hazards.empty() ? "" : run.report.hazards[0]);
  const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
  EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
  expect_tickets_zero(call);
}

INSTANTIATE_TEST_SUITE_P(Cases, EmulatedMatrix,
                         ::testing::ValuesIn(testing::sanitizer_subset(testing::kernel_cases())),
                         [](const ::testing::TestParamInfo<KernelCase>& i) {
                           return i.param.name();
                         });

// The loss family (relativistic, weights, ragged, statistics) through the kernel's passes.
class EmulatedFamily : public ::testing::TestWithParam<testing::FamilyCase> {};

TEST_P(EmulatedFamily, MatchesReference) {
  HostCall call = testing::make_family_call(GetParam());
  const ganloss_outputs_t o = call.all_outputs();
  const EmulatedRun run = run_emulated(call, o);
  ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
  EXPECT_EQ(run.report.hazard_count, 0u)
      << (run.report.hazards.empty() ? "" : run.report.hazards[0]);
  const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
  EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
  expect_tickets_zero(call);
}

INSTANTIATE_TEST_SUITE_P(Cases, EmulatedFamily,
                         ::testing::ValuesIn(testing::sanitizer_subset(testing::family_cases())),
                         [](const ::testing::TestParamInfo<testing::FamilyCase>& i) {
                           return i.param.name();
                         });

// The device cannot check offsets before its kernels run, so a ragged call first checks them on
// the device: one malformed offset (decreasing, past the array, or unequal pair counts) voids
// the call: NaN losses and statistics for every segment, no element written, nothing outside the
// arrays touched. Well-formed offsets beside them change nothing.
TEST(EmulatedRagged, MalformedOffsetsVoidTheCallAndStayInBounds) {
  for (int32_t kind : {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_RELATIVISTIC}) {
    auto p = make_problem(4, 0, 0, kind, kind, GANLOSS_REDUCTION_MEAN);
    p.ragged = 1;
    struct Variant {
      std::vector<int64_t> real, fake;
      int64_t real_count;
      bool malformed;
    } variants[] = {
        {{0, 10, 12, 12, 20}, {0, 10, 12, 12, 20}, 20, false},
        {{0, 10, 5, 12, 20}, {0, 10, 12, 12, 20}, 20, true},   // decreasing: segments overlap
        {{0, 10, 12, 12, 20}, {0, 10, 12, 12, 20}, 18, true},  // past the real array
        {{0, 10, 12, 12, 20}, {0, 10, 13, 13, 20}, 20, kind == GANLOSS_LOSS_RELATIVISTIC},
    };
    for (const Variant& v : variants) {
      HostCall call(p, 2, testing::CallData{false, false, v.real, v.fake});
      call.problem.real_count = v.real_count;
      const ganloss_outputs_t o = call.all_outputs();
      const EmulatedRun run = run_emulated(call, o);
      ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
      EXPECT_EQ(run.report.hazard_count, 0u);
      for (int64_t s = 0; s < 4; ++s) {
        EXPECT_EQ(std::isnan(call.d_loss.as<float>()[s]), v.malformed) << kind << " segment " << s;
        EXPECT_EQ(std::isnan(call.stats.as<ganloss_segment_stats_t>()[s].mean_sigmoid_real),
                  v.malformed);
      }
      if (v.malformed) {
        EXPECT_TRUE(call.grad_real.all_untouched());
        EXPECT_TRUE(call.loss_fake_g.all_untouched());
      } else {
        const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
        EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
      }
      for (testing::GuardedBuffer* b : call.output_buffers())
        EXPECT_TRUE(b->guards_intact());
    }
  }
}

// A negative weight, which the kernel cannot refuse before it runs, makes the losses of its
// segment NaN, in every reduction and for the paired loss too; the other segments keep their
// exact results. (The host backends refuse such a call: HostBackends.NegativeWeightsAreRefused.)
TEST(EmulatedWeights, ANegativeWeightMakesItsSegmentNaN) {
  for (int32_t kind :
       {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC_AVERAGE}) {
    for (int32_t reduction :
         {GANLOSS_REDUCTION_SUM, GANLOSS_REDUCTION_MEAN, GANLOSS_REDUCTION_MEAN_NONZERO}) {
      // Short rows, and one row long enough for the chunked regime.
      for (int64_t count : {int64_t{37}, int64_t{20000}}) {
        if (count > 37 &&
            (kind != GANLOSS_LOSS_NONSATURATING || reduction != GANLOSS_REDUCTION_MEAN)) {
          continue;
        }
        auto p = make_problem(3, count, count, kind, kind, reduction);
        const bool paired = kind == GANLOSS_LOSS_RELATIVISTIC;
        HostCall call(p, 5, testing::CallData{true, !paired, {}, {}});
        HostCall clean(p, 5, testing::CallData{true, !paired, {}, {}});
        call.real_weights.as<float>()[count + 7] = -0.5f;  // segment 1
        clean.real_weights.as<float>()[count + 7] = 0.5f;
        ganloss_outputs_t o = call.all_outputs();
        o.stats = nullptr;
        const EmulatedRun run = run_emulated(call, o);
        ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
        EXPECT_EQ(run.report.hazard_count, 0u);
        ganloss_outputs_t oc = clean.all_outputs();
        oc.stats = nullptr;
        ASSERT_EQ(run_emulated(clean, oc).status, GANLOSS_STATUS_SUCCESS);
        const std::string what = testing::describe(call.problem);
        EXPECT_TRUE(std::isnan(call.d_loss.as<float>()[1])) << what;
        EXPECT_TRUE(std::isnan(call.d_loss_real.as<float>()[1])) << what;
        for (int64_t s : {int64_t{0}, int64_t{2}}) {
          EXPECT_EQ(call.d_loss.as<float>()[s], clean.d_loss.as<float>()[s]) << what << " " << s;
          EXPECT_EQ(call.g_loss.as<float>()[s], clean.g_loss.as<float>()[s]) << what << " " << s;
        }
        for (testing::GuardedBuffer* b : call.output_buffers())
          EXPECT_TRUE(b->guards_intact());
      }
    }
  }
}

// The relativistic kinds output by output: a paired term reads both sides whichever output
// asks for it, and the average's gradients come from their own pass.
TEST(EmulatedOutputs, RelativisticOutputsAlone) {
  for (int32_t kind : {GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE}) {
    for (int which = 0; which < testing::kOutputCount; ++which) {
      auto p = make_problem(9, 40, kind == GANLOSS_LOSS_RELATIVISTIC ? 40 : 30, kind, kind,
                            GANLOSS_REDUCTION_SUM);
      HostCall call(p, static_cast<uint64_t>(which));
      const ganloss_outputs_t o = testing::only(call.all_outputs(), which);
      const EmulatedRun run = run_emulated(call, o);
      ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
      const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
      EXPECT_LE(cmp.worst(), 1.0) << testing::kind_name(kind) << " output " << which << ": "
                                  << cmp.first_failure;
    }
  }
}

// Optional outputs: one at a time, and only the G outputs (which shortens the virtual row to
// the fake side and may change the regime), in every regime.
TEST(EmulatedOutputs, SubsetsInEveryRegime) {
  for (const Shape& s : {kShapes[2], kShapes[6], kShapes[12]}) {
    for (int which = 0; which < testing::kOutputCount; ++which) {
      auto p = make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_NONSATURATING,
                            GANLOSS_LOSS_MINIMAX, GANLOSS_REDUCTION_MEAN);
      HostCall call(p, static_cast<uint64_t>(which));
      const ganloss_outputs_t o = testing::only(call.all_outputs(), which);
      const EmulatedRun run = run_emulated(call, o);
      ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
      EXPECT_EQ(run.report.hazard_count, 0u);
      const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
      EXPECT_LE(cmp.worst(), 1.0) << s.name << " output " << which << ": " << cmp.first_failure;
    }
  }
}

// A multi-pass call whose segments each fit in one warp or one block runs every pass in one
// launch (kernel::fused_sequence_for): the relativistic average's prepass, main pass (with and
// without statistics) and gradient pass, and the weighted means' prepass and main pass (paired
// too), ragged or not; the chunk regime keeps one launch per pass. Each against the reference,
// every output on, the weights of a weighted case on both sides.
TEST(EmulatedSequence, MultiPassCallsThatFitOnChipTakeOneLaunch) {
  struct Case {
    int32_t kind;
    int32_t reduction;
    bool weights;
    bool stats;
    bool ragged;
    Shape shape;
    int passes;
  };
  const int32_t ra = GANLOSS_LOSS_RELATIVISTIC_AVERAGE, rp = GANLOSS_LOSS_RELATIVISTIC;
  const int32_t ns = GANLOSS_LOSS_NONSATURATING, hinge = GANLOSS_LOSS_HINGE;
  const int32_t mean = GANLOSS_REDUCTION_MEAN, sum = GANLOSS_REDUCTION_SUM;
  const Case cases[] = {
      {ra, mean, false, true, false, kShapes[2], 1},    // warp, statistics
      {ra, sum, true, false, false, kShapes[6], 1},     // block, weights
      {ra, mean, false, false, false, kShapes[11], 3},  // chunk: a launch per pass
      {ra, mean, true, false, true, kShapes[3], 1},     // ragged, warp by its average length
      {ns, mean, true, false, false, kShapes[5], 1},    // weighted mean: prepass + main
      {hinge, GANLOSS_REDUCTION_MEAN_NONZERO, true, true, false, kShapes[8], 1},
      {rp, mean, true, false, false, kShapes[2], 1},   // pairs
      {ns, mean, true, false, false, kShapes[10], 2},  // chunk
      {ns, mean, false, false, false, kShapes[5], 1},  // unweighted: one pass anyway
      {ns, sum, true, false, false, kShapes[5], 1},    // a weighted sum: one pass anyway
  };
  uint64_t seed = 0;
  for (const Case& c : cases) {
    auto p = make_problem(c.shape.segments, c.shape.real_count,
                          c.kind == rp ? c.shape.real_count : c.shape.fake_count, c.kind, c.kind,
                          c.reduction);
    testing::CallData data;
    data.real_weights = c.weights;
    data.fake_weights = c.weights && c.kind != rp;
    if (c.ragged) {
      p.ragged = 1;
      add_ragged_offsets(p.segments, c.shape.real_count, c.shape.fake_count, c.kind == rp, &data);
    }
    HostCall call(p, ++seed, data);
    ganloss_outputs_t o = call.all_outputs();
    if (!c.stats) o.stats = nullptr;
    const EmulatedRun run = run_emulated(call, o);
    const std::string where = testing::describe(call.problem);
    ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << where << ": " << ganloss_last_error_message();
    EXPECT_EQ(run.passes, c.passes) << where;
    EXPECT_EQ(run.report.hazard_count, 0u) << where;
    const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
    EXPECT_LE(cmp.worst(), 1.0) << where << ": " << cmp.first_failure;
    expect_tickets_zero(call);
  }
}

// The regime follows the shape alone: a warp per segment of at most kWarpShortLength, or of at
// most kWarpMaxLength in a call of kWarpManySegments segments or more; else a block per segment
// of at most kBlockShortLength, or of at most kChunkLength in a call of kTargetUnits segments
// or more; else chunks.
TEST(KernelPlan, RegimeFollowsTheShape) {
  using detail::kernel::kTargetUnits;
  using detail::kernel::kWarpManySegments;
  using detail::kernel::regime_for;
  const int64_t BS = testing::BS;
  const struct {
    int64_t segments, length;
    Regime regime;
  } rows[] = {
      {1, 1, Regime::warp},
      {1, testing::WS, Regime::warp},
      {1, testing::WS + 1, Regime::block},
      {kWarpManySegments - 1, testing::WS, Regime::warp},
      {kWarpManySegments - 1, testing::WS + 1, Regime::block},
      {kWarpManySegments - 1, testing::W, Regime::block},
      {kWarpManySegments, testing::WS + 1, Regime::warp},
      {kWarpManySegments, testing::W, Regime::warp},
      {kWarpManySegments, testing::W + 1, Regime::block},
      {1, BS, Regime::block},
      {1, BS + 1, Regime::chunk},
      {kTargetUnits - 1, BS + 1, Regime::chunk},
      {kTargetUnits - 1, C, Regime::chunk},
      {kTargetUnits, BS + 1, Regime::block},
      {kTargetUnits, C, Regime::block},
      {kTargetUnits, C + 1, Regime::chunk},
      {1, C + 1, Regime::chunk},
      {1 << 20, C + 1, Regime::chunk},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(regime_for(r.segments, r.length), r.regime) << r.segments << " x " << r.length;
  }
}

// The long segments of the warp and the block regime, which only calls of many segments take:
// such calls against the reference, at the warp's and the block's longest segment, the
// relativistic averages' passes fused in both (KernelPlan.RegimeFollowsTheShape checks the
// boundaries).
TEST(EmulatedRegimes, ManySegmentsUpToEachRegimesMaximum) {
  using detail::kernel::kTargetUnits;
  using detail::kernel::kWarpManySegments;
  const struct {
    int32_t kind;
    int64_t segments, real_count, fake_count;
    Regime regime;
  } rows[] = {
      {GANLOSS_LOSS_NONSATURATING, kWarpManySegments, testing::W / 2, testing::W / 2, Regime::warp},
      {GANLOSS_LOSS_RELATIVISTIC_AVERAGE, kWarpManySegments, testing::W / 4, testing::W / 4 + 3,
       Regime::warp},
      {GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE, kTargetUnits, C / 2, C / 2, Regime::block},
  };
  uint64_t seed = 40;
  for (const auto& r : rows) {
    auto p = make_problem(r.segments, r.real_count, r.fake_count, r.kind, r.kind,
                          GANLOSS_REDUCTION_MEAN);
    HostCall call(p, ++seed);
    const ganloss_outputs_t o = call.all_outputs();
    const EmulatedRun run = run_emulated(call, o);
    ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    EXPECT_EQ(run.regime, r.regime) << testing::describe(call.problem);
    EXPECT_EQ(run.passes, 1) << testing::describe(call.problem);
    EXPECT_EQ(run.report.hazard_count, 0u);
    const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
    EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
  }
}

// Which loop a non-relativistic call runs: its D and G kinds' own family pair where the loss
// kinds pair them, a slot without terms taking its partner's family, `any` otherwise.
TEST(KernelPlan, LoopFamiliesFollowTheKinds) {
  using detail::kernel::Family;
  using detail::kernel::loop_families;
  const Term none = make_none_term();
  const Term logistic = make_logistic_term(1.0f, 0.0f);
  const Term hinge = make_hinge_term(1.0f, 1.0f);
  const Term linear = make_linear_term(-1.0f);
  const Term squared = make_squared_term(1.0f);
  struct Row {
    Term real_d, fake_d, fake_g;
    Family d, g;
  };
  const Family L = Family::logistic, H = Family::hinge, W = Family::linear, Q = Family::squared,
               A = Family::any;
  const Row rows[] = {
      {logistic, logistic, logistic, L, L}, {hinge, hinge, linear, H, W},
      {linear, linear, linear, W, W},       {squared, squared, squared, Q, Q},
      {logistic, none, none, L, L},         {none, logistic, none, L, L},
      {none, none, logistic, L, L},         {hinge, none, none, H, W},
      {none, none, linear, H, W},           {linear, linear, none, W, W},
      {none, squared, squared, Q, Q},       {none, none, squared, Q, Q},
      {logistic, logistic, linear, A, A},   {hinge, hinge, squared, A, A},
      {squared, squared, logistic, A, A},   {linear, linear, squared, A, A},
      {hinge, linear, linear, A, A},        {none, none, none, A, A},
  };
  for (const Row& r : rows) {
    const detail::kernel::FamilyPair f = loop_families(r.real_d, r.fake_d, r.fake_g);
    EXPECT_EQ(static_cast<int>(f.d), static_cast<int>(r.d))
        << static_cast<int>(r.real_d.kind) << static_cast<int>(r.fake_d.kind)
        << static_cast<int>(r.fake_g.kind);
    EXPECT_EQ(static_cast<int>(f.g), static_cast<int>(r.g))
        << static_cast<int>(r.real_d.kind) << static_cast<int>(r.fake_d.kind)
        << static_cast<int>(r.fake_g.kind);
  }
}

// Every D kind with every G kind of the non-relativistic losses: the paired kinds' own loops
// and `any` for the others, with every output, the D outputs alone and the G outputs alone
// (slots without terms), unweighted and weighted, in the three regimes (the chunk regime with
// every output only, for time).
TEST(EmulatedKinds, EveryDKindWithEveryGKind) {
  const Shape shapes[] = {kShapes[2], kShapes[6], kShapes[10]};
  int n = 0;
  for (int32_t d = 0; d < GANLOSS_LOSS_RELATIVISTIC; ++d) {
    for (int32_t g = 0; g < GANLOSS_LOSS_RELATIVISTIC; ++g) {
      for (int outputs = 0; outputs < 3; ++outputs) {
        const Shape& s = shapes[outputs == 0 ? n % 3 : n % 2];
        auto p = make_problem(s.segments, s.real_count, s.fake_count, d, g,
                              n % 2 ? GANLOSS_REDUCTION_MEAN : GANLOSS_REDUCTION_SUM);
        testing::CallData data;
        data.real_weights = data.fake_weights = n % 4 == 1;
        HostCall call(p, static_cast<uint64_t>(n), data);
        ++n;
        ganloss_outputs_t o = call.all_outputs();
        o.stats = nullptr;  // statistics take the `any` loop whatever the kinds
        if (n % 2 == 0) {   // the loops without element losses
          o.loss_real = o.loss_real_g = o.loss_fake_d = o.loss_fake_g = nullptr;
        }
        if (outputs == 1) {  // D alone
          o.g_loss = nullptr;
          o.grad_fake_g = o.grad_real_g = nullptr;
          o.loss_fake_g = o.loss_real_g = nullptr;
        } else if (outputs == 2) {  // G alone
          o.d_loss = o.d_loss_real = o.d_loss_fake = nullptr;
          o.grad_real = o.grad_fake_d = nullptr;
          o.loss_real = o.loss_fake_d = nullptr;
        }
        const EmulatedRun run = run_emulated(call, o);
        ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
        EXPECT_EQ(run.report.hazard_count, 0u);
        const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
        EXPECT_LE(cmp.worst(), 1.0) << testing::kind_name(d) << " D, " << testing::kind_name(g)
                                    << " G, outputs " << outputs << ": " << cmp.first_failure;
      }
    }
  }
}

// A byte buffer with a 16-byte aligned start, for placing arrays at chosen offsets.
struct Arena {
  explicit Arena(std::size_t bytes) : storage(bytes + 64, 0) {}
  uint8_t* at(std::size_t offset) {
    const auto misalignment = reinterpret_cast<uintptr_t>(storage.data()) % 16;
    return storage.data() + (16 - misalignment) % 16 + offset;
  }
  std::vector<uint8_t> storage;
};

// Base pointers at every element offset within 16 bytes, with outputs in the same phase
// (16-byte groups with scalar heads and tails) and in another (scalar access throughout),
// rows of every tail length, for each dtype, with f16/bf16 gradients and f32 ones.
TEST(EmulatedAlignment, EveryOffsetAndTailForEveryDtype) {
  for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16}) {
    for (int fp32_gradients : {0, 1}) {
      if (dtype == GANLOSS_DTYPE_F32 && fp32_gradients) continue;
      const int64_t e = dtype == GANLOSS_DTYPE_F32 ? 4 : 2;
      const int64_t ge = fp32_gradients ? 4 : e;
      const int64_t per_vector = 16 / e;
      for (int64_t offset = 0; offset < per_vector; ++offset) {
        for (int64_t tail = 0; tail < per_vector; ++tail) {
          const int64_t n = 5 * per_vector + tail;  // real and fake rows of n elements
          auto p = make_problem(1, n, n, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_LEAST_SQUARES,
                                GANLOSS_REDUCTION_MEAN);
          p.dtype = dtype;
          p.fp32_gradients = fp32_gradients;
          HostCall source(p, static_cast<uint64_t>(offset * 100 + tail));
          const reference::Result ref = reference::evaluate(p, source.inputs());
          // Outputs in the logits' phase (vector path), or one element off (scalar path).
          for (int64_t shift : {int64_t{0}, int64_t{1}}) {
            Arena arena(static_cast<std::size_t>(8 * n * 4 + 256));
            const std::size_t slot = static_cast<std::size_t>(n * 4 + 32);
            uint8_t* real = arena.at(static_cast<std::size_t>(offset * e));
            uint8_t* fake = arena.at(slot + static_cast<std::size_t>(offset * e));
            std::memcpy(real, source.real.data(), static_cast<std::size_t>(n * e));
            std::memcpy(fake, source.fake.data(), static_cast<std::size_t>(n * e));
            const std::size_t out_offset =
                static_cast<std::size_t>(((offset + shift) % per_vector) * ge);
            const std::size_t loss_offset = static_cast<std::size_t>(((offset + shift) % 4) * 4);
            ganloss_outputs_t o;
            ganloss_outputs_init(&o);
            float totals[3];
            o.d_loss = &totals[0];
            o.g_loss = &totals[1];
            o.grad_real = arena.at(2 * slot + out_offset);
            o.grad_fake_d = arena.at(3 * slot + out_offset);
            o.grad_fake_g = arena.at(4 * slot + out_offset);
            o.loss_real = reinterpret_cast<float*>(arena.at(5 * slot + loss_offset));
            o.loss_fake_g = reinterpret_cast<float*>(arena.at(6 * slot + loss_offset));
            ganloss_inputs_t in;
            ganloss_inputs_init(&in);
            in.real = real;
            in.fake = fake;
            std::vector<double> ws(emulator::emulated_workspace_size(p) / 8 + 1);
            const EmulatedRun run = emulated_compute(p, in, o, ws.data(), ws.size() * 8);
            ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
            EXPECT_EQ(run.report.hazard_count, 0u);
            const int32_t gt = fp32_gradients ? GANLOSS_DTYPE_F32 : dtype;
            // The logistic terms (D) carry the hardware math's argument error too (ErrorModel).
            const double coef = 1.0 / static_cast<double>(n);
            auto fast_ulps = [&](double x) {
              return detail::kFastMathUlps + detail::kFastMathArgumentUlps * std::fabs(x);
            };
            const auto plain_grad_tol =
                detail::gradient_tolerance(static_cast<DType>(gt), coef, detail::kFastMathUlps);
            const auto plain_loss_tol = detail::element_loss_tolerance(detail::kFastMathUlps);
            const std::string where = std::string(testing::dtype_name(dtype)) +
                                      (fp32_gradients ? "/f32grad" : "") + " offset " +
                                      std::to_string(offset) + " tail " + std::to_string(tail) +
                                      " shift " + std::to_string(shift);
            double max_arg = 0.0;
            for (int64_t i = 0; i < n; ++i) {
              const auto k = static_cast<std::size_t>(i);
              const double xr = testing::load_element(real, dtype, i);
              const double xf = testing::load_element(fake, dtype, i);
              max_arg = std::max(max_arg, std::max(std::fabs(xr), std::fabs(xf)));
              const auto real_tol =
                  detail::gradient_tolerance(static_cast<DType>(gt), coef, fast_ulps(xr));
              const auto fake_tol =
                  detail::gradient_tolerance(static_cast<DType>(gt), coef, fast_ulps(xf));
              ASSERT_TRUE(
                  real_tol.accepts(testing::load_element(o.grad_real, gt, i), ref.grad_real[k]))
                  << where << " grad_real " << i;
              ASSERT_TRUE(
                  fake_tol.accepts(testing::load_element(o.grad_fake_d, gt, i), ref.grad_fake_d[k]))
                  << where << " grad_fake_d " << i;
              ASSERT_TRUE(plain_grad_tol.accepts(testing::load_element(o.grad_fake_g, gt, i),
                                                 ref.grad_fake_g[k]))
                  << where << " grad_fake_g " << i;
              ASSERT_TRUE(detail::element_loss_tolerance(fast_ulps(xr))
                              .accepts(o.loss_real[i], ref.loss_real[k]))
                  << where;
              ASSERT_TRUE(plain_loss_tol.accepts(o.loss_fake_g[i], ref.loss_fake_g[k])) << where;
            }
            detail::ErrorModel model = kCudaKernelError;
            model.element_ulps = fast_ulps(max_arg);
            EXPECT_TRUE(detail::total_tolerance(
                            ref.segments[0].abs_real + ref.segments[0].abs_fake_d, model)
                            .accepts(totals[0], ref.segments[0].d_loss))
                << where;
          }
        }
      }
    }
  }
}

// In place: each gradient replaces its own logits, in every regime and dtype, with the same
// results as out of place.
TEST(EmulatedInPlace, GradientsReplaceTheirLogits) {
  for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16}) {
    for (const Shape& s : {kShapes[3], kShapes[7], kShapes[13]}) {
      auto p = make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_HINGE,
                            GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
      p.real_stride = s.real_stride;
      p.fake_stride = s.fake_stride;
      p.dtype = dtype;
      HostCall out_of_place(p, 31);
      ASSERT_EQ(run_emulated(out_of_place, out_of_place.all_outputs()).status,
                GANLOSS_STATUS_SUCCESS);
      HostCall in_place(p, 31);
      ganloss_outputs_t o = in_place.all_outputs();
      o.grad_real = in_place.real.data();
      o.grad_fake_g = in_place.fake.data();
      o.grad_fake_d = nullptr;
      const EmulatedRun run = run_emulated(in_place, o);
      ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
      EXPECT_EQ(run.report.hazard_count, 0u);
      // Compare the rows only: gaps keep the logits in place and the guard pattern outside.
      const int64_t e = testing::logit_bytes(p);
      auto rows_equal = [&](const void* a, const void* b, int64_t count, int64_t stride_arg) {
        const int64_t stride = testing::stride_of(p, count, stride_arg);
        for (int64_t r = 0; r < p.segments; ++r) {
          if (std::memcmp(static_cast<const uint8_t*>(a) + r * stride * e,
                          static_cast<const uint8_t*>(b) + r * stride * e,
                          static_cast<std::size_t>(count * e)) != 0) {
            return false;
          }
        }
        return true;
      };
      EXPECT_TRUE(rows_equal(in_place.real.data(), out_of_place.grad_real.data(), p.real_count,
                             p.real_stride))
          << s.name << " " << testing::dtype_name(dtype);
      EXPECT_TRUE(rows_equal(in_place.fake.data(), out_of_place.grad_fake_g.data(), p.fake_count,
                             p.fake_stride))
          << s.name << " " << testing::dtype_name(dtype);
      EXPECT_EQ(std::memcmp(in_place.d_loss.data(), out_of_place.d_loss.data(), 4 * p.segments), 0);
    }
  }
}

// The same bits whatever the block order and however many blocks share the work.
TEST(EmulatedDeterminism, BitwiseAcrossBlockOrdersAndGridSizes) {
  for (const Shape& s : {kShapes[1], kShapes[6], kShapes[13]}) {
    auto p = make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_NONSATURATING,
                          GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
    p.real_stride = s.real_stride;
    p.fake_stride = s.fake_stride;
    HostCall call(p, 99);
    const ganloss_outputs_t o = call.all_outputs();
    ASSERT_EQ(run_emulated(call, o).status, GANLOSS_STATUS_SUCCESS);
    const std::vector<uint8_t> first = call.output_bytes();
    for (const EmulatedOptions& options :
         {EmulatedOptions{7, 0, -1, false}, EmulatedOptions{3, 1, -1, false},
          EmulatedOptions{5, 2, -1, false}}) {
      ASSERT_EQ(run_emulated(call, o, options).status, GANLOSS_STATUS_SUCCESS);
      EXPECT_TRUE(call.output_bytes() == first)
          << s.name << " seed " << options.seed << " grid " << options.grid_cap;
    }
  }
}

// Tickets go back to zero, so a workspace zeroed once serves every later call.
TEST(EmulatedWorkspace, ZeroedOnceServesManyCalls) {
  auto p =
      make_problem(3, C, C + 100, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_HINGE, GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 4);
  const std::size_t bytes = emulator::emulated_workspace_size(p);
  ASSERT_GT(bytes, 0u);
  std::vector<uint8_t> ws(bytes, 0);
  const ganloss_outputs_t o = call.all_outputs();
  for (int i = 0; i < 3; ++i) {
    const EmulatedRun run = emulated_compute(p, call.inputs(), o, ws.data(), bytes,
                                             EmulatedOptions{uint64_t(i), 0, -1, true});
    ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
    EXPECT_EQ(run.regime, Regime::chunk);
    for (int64_t s = 0; s < 3; ++s)
      EXPECT_EQ(reinterpret_cast<uint32_t*>(ws.data())[s], 0u);
    const Comparison cmp = testing::compare_values_with_reference(call, o, kCudaKernelError);
    EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
  }
}

// A call that reads one side only splits a shorter row into chunks than the problem's whole
// row, and a shorter row can take more chunks (65536 logits: 256 chunks of 256; 65537: 129 of
// 512). The workspace holds the partials of every row a call on the problem can walk: the
// guards around it stay intact and the results match the reference.
TEST(EmulatedWorkspace, CallsReadingOneSideStayInTheWorkspace) {
  struct Case {
    int64_t segments, real_count, fake_count;
    bool g_only;  // the G outputs (the fake side) alone, else the D outputs of the real side
  } cases[] = {
      {1, 1, 65536, true},
      {1, 65536, 3, false},
      {16, 100, 4000, true},  // 9 chunks of 512 for both sides, 16 of 256 for the fake one
  };
  for (const Case& c : cases) {
    auto p = make_problem(c.segments, c.real_count, c.fake_count, GANLOSS_LOSS_NONSATURATING,
                          GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
    HostCall call(p, 3);
    const ganloss_outputs_t all = call.all_outputs();
    ganloss_outputs_t o;
    ganloss_outputs_init(&o);
    if (c.g_only) {
      o.g_loss = all.g_loss;
      o.grad_fake_g = all.grad_fake_g;
    } else {
      o.d_loss_real = all.d_loss_real;
      o.grad_real = all.grad_real;
    }
    const EmulatedRun run = run_emulated(call, o);
    const std::string where = testing::describe(call.problem) + (c.g_only ? " G" : " D real");
    ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << where;
    EXPECT_EQ(run.regime, Regime::chunk) << where;
    EXPECT_TRUE(call.workspace.guards_intact()) << where;
    const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
    EXPECT_LE(cmp.worst(), 1.0) << where << ": " << cmp.first_failure;
  }
}

// Deleting a __syncthreads from the kernel is caught: the emulator skips one block barrier
// (the k-th each thread reaches in a block) and must report a shared-memory hazard.
TEST(EmulatedBarriers, DeletedBarriersAreCaught) {
#if defined(__SANITIZE_THREAD__)
  // The deleted barriers are real data races, which ThreadSanitizer reports (and then fails
  // the run); the tsan_reports_deleted_barrier test runs this expecting exactly that.
  if (std::getenv("GANLOSS_TSAN_DELETED_BARRIER_DEMO") == nullptr) {
    GTEST_SKIP() << "under ThreadSanitizer this runs as tsan_reports_deleted_barrier";
  }
#endif
  struct BarrierCase {
    const char* name;
    Shape shape;
    int64_t grid_cap;
    std::vector<int> drops;
  };
  // Block regime, one block doing segments 0 and 2 (of 4): barriers 0 and 1 are block_sum's
  // for the first segment, 2 and 3 for the second. Deleting 0 or 2 lets warp 0 read the warp
  // partials before they are written; deleting 1 lets the next segment overwrite them while
  // they are read. (3 guards nothing in this launch: the block ends there.)
  // Chunk regime, one block doing all n chunks of each of 2 segments: per chunk block_sum
  // (3c, 3c + 1) and the last-block flag (3c + 2); chunk n - 1 finishes segment 0 in warp 0
  // with shuffles alone, so 3n is segment 1's first. Deleting 0 or 3n must be caught; 2 as
  // well, in the death test below, because threads that read the flag too early diverge and
  // hang. (1 is redundant here: the flag barrier already separates the accesses it guards.)
  const int chunks = static_cast<int>(detail::kernel::chunks_for(2, 2 * C + 5));
  const BarrierCase barrier_cases[] = {
      {"block", Shape{"", 4, 1000, 800, 0, 0, Regime::block}, 2, {0, 1, 2}},
      {"chunk", Shape{"", 2, C, C + 5, 0, 0, Regime::chunk}, 1, {0, 3 * chunks}},
  };
  for (const BarrierCase& bc : barrier_cases) {
    auto p = make_problem(bc.shape.segments, bc.shape.real_count, bc.shape.fake_count,
                          GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                          GANLOSS_REDUCTION_MEAN);
    HostCall call(p, 1);
    // Without statistics: a deleted barrier lets poisoned shared memory into the totals, and
    // the non-finite counts would convert a NaN to an integer.
    ganloss_outputs_t outputs = call.all_outputs();
    outputs.stats = nullptr;
    const EmulatedRun intact =
        run_emulated(call, outputs, EmulatedOptions{1, bc.grid_cap, -1, false});
    ASSERT_EQ(intact.status, GANLOSS_STATUS_SUCCESS);
    ASSERT_EQ(intact.regime, bc.shape.regime);
    EXPECT_EQ(intact.report.hazard_count, 0u);
    for (int drop : bc.drops) {
      const EmulatedRun run =
          run_emulated(call, outputs, EmulatedOptions{1, bc.grid_cap, drop, false});
      ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
      EXPECT_GT(run.report.hazard_count, 0u)
          << bc.name << ": deleting block barrier " << drop << " went unnoticed";
      if (!run.report.hazards.empty()) {
        std::printf("[ %s, barrier %d deleted ] %s\n", bc.name, drop,
                    run.report.hazards[0].c_str());
      }
    }
  }
}

// A VJP call on the emulated kernel against the double reference u_d grad_D + u_g grad_G of
// reference::evaluate()'s per-element gradients. Each gradient's bound is the one the
// comparison derives for it (CUDA error model); the VJP forms u_d wd + u_g wg in fp32 and
// rounds once, which adds at most 2 u of the two products and the storage rounding.
struct VjpCase {
  int32_t kind;
  int32_t reduction;
  Shape shape;
  int32_t dtype;
  bool fp32_gradients;
  bool weights;
  bool ragged;
  int cotangents;  // bit 0: u_d given, bit 1: u_g given
  bool in_place;
  bool same_g = false;  // non-relativistic: the G loss of the D loss's kind, not the next kind
};

void expect_vjp(const VjpCase& c, uint64_t seed) {
  auto p = make_problem(c.shape.segments, c.shape.real_count, c.shape.fake_count, c.kind, c.kind,
                        c.reduction);
  if (c.kind < GANLOSS_LOSS_RELATIVISTIC && !c.same_g) {
    p.g_loss = (c.kind + 1) % GANLOSS_LOSS_RELATIVISTIC;
  }
  if (c.kind == GANLOSS_LOSS_RELATIVISTIC) p.fake_count = p.real_count;
  p.dtype = c.dtype;
  p.fp32_gradients = c.fp32_gradients ? 1 : 0;
  p.grad_scale = 1.5f;
  testing::CallData data;
  data.real_weights = c.weights;
  data.fake_weights = c.weights && c.kind != GANLOSS_LOSS_RELATIVISTIC;
  if (c.ragged) {
    p.ragged = 1;
    add_ragged_offsets(p.segments, c.shape.real_count, c.shape.fake_count,
                       c.kind == GANLOSS_LOSS_RELATIVISTIC, &data);
  }
  HostCall call(p, seed, data);
  const ganloss_inputs_t in = call.inputs();
  const reference::Result ref = reference::evaluate(call.problem, in);
  // The bounds of the four gradients, from the comparison of the reference's own values.
  std::vector<uint8_t> rounded[4];
  const std::size_t grad_elem = static_cast<std::size_t>(testing::grad_bytes(call.problem));
  const std::vector<double>* ref_grads[4] = {&ref.grad_real, &ref.grad_real_g, &ref.grad_fake_d,
                                             &ref.grad_fake_g};
  const int32_t gt = c.fp32_gradients ? GANLOSS_DTYPE_F32 : c.dtype;
  for (int i = 0; i < 4; ++i) {
    rounded[i].assign(ref_grads[i]->size() * grad_elem + 16, 0);
    for (std::size_t k = 0; k < ref_grads[i]->size(); ++k)
      testing::store_element(rounded[i].data(), gt, static_cast<int64_t>(k),
                             static_cast<float>((*ref_grads[i])[k]));
  }
  ganloss_outputs_t all;
  ganloss_outputs_init(&all);
  all.grad_real = rounded[0].data();
  all.grad_real_g = rounded[1].data();
  all.grad_fake_d = rounded[2].data();
  all.grad_fake_g = rounded[3].data();
  detail::GradientBounds bounds;
  detail::compare_with_reference(call.problem, in, ref, all, kCudaKernelError, &bounds);

  std::vector<float> ud(static_cast<std::size_t>(p.segments)), ug(ud.size());
  for (std::size_t s = 0; s < ud.size(); ++s) {
    ud[s] = s % 5 == 3 ? 0.0f : 0.75f - 0.25f * static_cast<float>(s % 4);
    ug[s] = 1.25f + 0.5f * static_cast<float>(s % 3);
  }
  ganloss_cotangents_t cot{(c.cotangents & 1) ? ud.data() : nullptr,
                           (c.cotangents & 2) ? ug.data() : nullptr};
  void* grad_real = c.in_place ? call.real.data() : call.grad_real.data();
  void* grad_fake = c.in_place ? call.fake.data() : call.grad_fake_d.data();
  const std::size_t bytes = emulator::emulated_workspace_size(call.problem);
  call.workspace = testing::GuardedBuffer(bytes);
  const EmulatedRun run = emulator::emulated_vjp(call.problem, in, &cot, grad_real, grad_fake,
                                                 call.workspace.data(), bytes);
  const std::string where = testing::describe(call.problem) + " cotangents " +
                            std::to_string(c.cotangents) + (c.in_place ? " in place" : "");
  ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << where << ": " << ganloss_last_error_message();
  EXPECT_EQ(run.report.hazard_count, 0u) << where;
  // Segments held by a warp or a block: every pass (weighted means, the average) in one launch.
  if (run.launched && run.regime != Regime::chunk) {
    EXPECT_EQ(run.passes, 1) << where;
  }
  const double u = 0x1p-24;
  auto check_side = [&](int side) {
    const void* got = side == 0 ? grad_real : grad_fake;
    const std::vector<double>& gd = side == 0 ? ref.grad_real : ref.grad_fake_d;
    const std::vector<double>& gg = side == 0 ? ref.grad_real_g : ref.grad_fake_g;
    const std::vector<double>& bd = side == 0 ? bounds.grad_real : bounds.grad_fake_d;
    const std::vector<double>& bg = side == 0 ? bounds.grad_real_g : bounds.grad_fake_g;
    const int64_t count = side == 0 ? call.problem.real_count : call.problem.fake_count;
    const int64_t stride_arg = side == 0 ? call.problem.real_stride : call.problem.fake_stride;
    const int64_t stride =
        call.problem.ragged ? 0 : testing::stride_of(call.problem, count, stride_arg);
    const int64_t* offsets =
        side == 0 ? call.real_offsets.as<int64_t>() : call.fake_offsets.as<int64_t>();
    for (int64_t s = 0; s < call.problem.segments; ++s) {
      const int64_t begin = call.problem.ragged ? offsets[s] : s * stride;
      const int64_t n = call.problem.ragged ? offsets[s + 1] - offsets[s] : count;
      const double a = cot.d_loss ? static_cast<double>(ud[static_cast<std::size_t>(s)]) : 0.0;
      const double b = cot.g_loss ? static_cast<double>(ug[static_cast<std::size_t>(s)]) : 0.0;
      for (int64_t i = begin; i < begin + n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        const double want = (cot.d_loss ? a * gd[k] : 0.0) + (cot.g_loss ? b * gg[k] : 0.0);
        const double value = testing::load_element(got, gt, i);
        const double bound = std::fabs(a) * bd[k] + std::fabs(b) * bg[k] +
                             2 * u * (std::fabs(a * gd[k]) + std::fabs(b * gg[k])) +
                             detail::unit_roundoff(static_cast<DType>(gt)) * std::fabs(want);
        const detail::Tolerance tol{0.0, bound, static_cast<DType>(gt)};
        ASSERT_TRUE(tol.accepts(value, want))
            << where << (side == 0 ? " real[" : " fake[") << i << "] segment " << s << " = "
            << value << ", reference " << want << " (bound " << bound << ")";
      }
    }
  };
  check_side(0);
  check_side(1);
}

// Every kind, dtype and reduction, in every regime, with and without weights, ragged, with each
// cotangent alone and both, out of place and in place; the non-relativistic D kinds with the G
// loss of their own kind (their family pair's loop) and of the next kind (the `any` loop but
// for hinge D with Wasserstein G), alternately.
TEST(EmulatedVjp, MatchesReference) {
  const Shape shapes[] = {kShapes[1], kShapes[7], kShapes[11]};
  const int32_t dtypes[][2] = {{GANLOSS_DTYPE_F32, 0},
                               {GANLOSS_DTYPE_BF16, 0},
                               {GANLOSS_DTYPE_F16, 1},
                               {GANLOSS_DTYPE_BF16, 1}};
  const int32_t reductions[] = {GANLOSS_REDUCTION_SUM, GANLOSS_REDUCTION_MEAN,
                                GANLOSS_REDUCTION_MEAN_NONZERO};
  uint64_t n = 0;
  for (int32_t kind = 0; kind <= GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES; ++kind) {
    for (int32_t reduction : reductions) {
      for (int cot = 1; cot <= 3; ++cot) {
        ++n;
        const Shape& shape = shapes[n % 3];
        const auto* dt = dtypes[n % 4];
        const bool weights = n % 2 == 0;
        const bool ragged = n % 7 == 3;
        const bool in_place = n % 5 == 1 && !dt[1];
        SCOPED_TRACE(testing::kind_name(kind));
        // Every other case: each cotangent set meets both G kinds under every D kind.
        const bool same_g = kind < GANLOSS_LOSS_RELATIVISTIC && n % 2 == 0;
        SCOPED_TRACE(same_g ? "G of the same kind" : "G of the next kind");
        expect_vjp(VjpCase{kind, reduction, shape, dt[0], dt[1] != 0, weights, ragged, cot,
                           in_place, same_g},
                   n);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

#if !defined(__SANITIZE_THREAD__)
// Death tests fork; ThreadSanitizer builds skip them.
TEST(EmulatedDeathTest, DivergentBarrierTripsTheWatchdog) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        emulator::LaunchConfig config;
        config.grid = 1;
        config.block = 64;
        config.timeout = std::chrono::seconds(1);
        emulator::launch(config, [] {
          if (simt::thread_index() < 32) simt::sync_block();
        });
      },
      "watchdog");
}

TEST(EmulatedDeathTest, DeletedLastBlockFlagBarrierIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto p = make_problem(2, C, C + 5, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 1);
  EXPECT_DEATH(
      {
        EmulatedOptions options;
        options.grid_cap = 1;
        options.drop_barrier = 2;
        options.abort_on_hazard = true;
        run_emulated(call, call.all_outputs(), options);
      },
      "shared-memory hazard: block 0 thread [0-9]+ (reads|overwrites) shared element 0");
}

TEST(EmulatedDeathTest, PartialShuffleMaskAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        emulator::LaunchConfig config;
        config.block = 32;
        emulator::launch(config, [] { simt::shfl_xor_sync(0xffffu, 1.0f, 1); });
      },
      "partial mask");
}
#endif

}  // namespace
}  // namespace ganloss
