// Plans (ganloss_plan_*) and the VJP call on every backend this machine has: a plan's execution
// gives ganloss_compute's bits; a VJP matches u_d[s] * grad_D + u_g[s] * grad_G formed from the
// double reference's gradients, exactly on the reference backend (one rounding of the same
// double) and within vjp_gradient_tolerance elsewhere; the C++ Plan owns its handle; and every
// bad argument of create, workspace_init, execute and vjp gets its status, a message naming it,
// and no write.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "emulated_call.hpp"
#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"
#include "segmented_loss_plan.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace testing {
namespace {

struct PlanCase {
  int32_t kind;
  int32_t reduction;
  int32_t dtype;
  bool weights;
  bool ragged;
  bool fp32_gradients;
};

std::string case_name(const ::testing::TestParamInfo<PlanCase>& info) {
  const PlanCase& c = info.param;
  return std::string(kind_name(c.kind)) + "_" + reduction_name(c.reduction) + "_" +
         dtype_name(c.dtype) + (c.weights ? "_weighted" : "") + (c.ragged ? "_ragged" : "") +
         (c.fp32_gradients ? "_f32grad" : "");
}

// Every kind and reduction in f32; every kind in f16 and bf16 (f16 with fp32 gradients too);
// weights, and ragged rows, on every kind.
std::vector<PlanCase> plan_cases() {
  std::vector<PlanCase> cases;
  for (int32_t kind = GANLOSS_LOSS_NONSATURATING;
       kind <= GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES; ++kind) {
    for (int32_t r = GANLOSS_REDUCTION_NONE; r <= GANLOSS_REDUCTION_MEAN_NONZERO; ++r) {
      cases.push_back({kind, r, GANLOSS_DTYPE_F32, false, false, false});
    }
    cases.push_back({kind, GANLOSS_REDUCTION_MEAN, GANLOSS_DTYPE_F32, true, false, false});
    cases.push_back({kind, GANLOSS_REDUCTION_MEAN, GANLOSS_DTYPE_F32, true, true, false});
    cases.push_back({kind, GANLOSS_REDUCTION_SUM, GANLOSS_DTYPE_BF16, false, false, false});
    cases.push_back({kind, GANLOSS_REDUCTION_MEAN, GANLOSS_DTYPE_F16, true, false, false});
    cases.push_back({kind, GANLOSS_REDUCTION_MEAN, GANLOSS_DTYPE_F16, false, false, true});
  }
  return sanitizer_subset(cases);
}

// Three segments with gaps between rows (fixed length) or of random lengths, one empty
// (ragged); the paired kind has as many fake logits as real.
HostCall make_call(const PlanCase& c, uint64_t seed) {
  const bool paired = c.kind == GANLOSS_LOSS_RELATIVISTIC;
  ganloss_problem_t p = make_problem(3, 37, paired ? 37 : 29, c.kind, c.kind, c.reduction);
  p.dtype = c.dtype;
  p.fp32_gradients = c.fp32_gradients ? 1 : 0;
  p.grad_scale = 0.75f;
  CallData data;
  data.real_weights = c.weights;
  data.fake_weights = c.weights && !paired;
  if (c.ragged) {
    p.ragged = 1;
    p.real_stride = p.fake_stride = 0;
    data.real_offsets = random_offsets(p.segments, 40, seed ^ 0x11);
    data.fake_offsets = paired ? data.real_offsets : random_offsets(p.segments, 40, seed ^ 0x22);
  } else {
    p.real_stride = 41;
    p.fake_stride = paired ? 41 : 31;
  }
  return HostCall(p, seed, data);
}

// Per-segment cotangents: signed, of several scales, some exactly 0.
GuardedBuffer make_cotangents(int64_t segments, uint64_t seed) {
  GuardedBuffer b(static_cast<std::size_t>(segments) * 4);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int64_t s = 0; s < segments; ++s) {
    b.as<float>()[s] = s % 4 == 3 ? 0.0f : normal(rng) * (s % 2 ? 1.0f : 1024.0f);
  }
  return b;
}

// A plan for `backend` whose handle is freed at scope exit.
struct PlanHandle {
  ganloss_plan_t plan = nullptr;
  PlanHandle() = default;
  PlanHandle(const PlanHandle&) = delete;
  PlanHandle& operator=(const PlanHandle&) = delete;
  ~PlanHandle() { ganloss_plan_destroy(plan); }
};

ganloss_status_t create_plan(const ganloss_problem_t& p, int32_t backend, PlanHandle* h,
                             int threads = 0) {
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  e.backend = backend;
  e.cpu_threads = threads;
  return ganloss_plan_create(&p, &e, &h->plan);
}

// A guarded workspace of the plan's size, initialised.
GuardedBuffer plan_workspace(ganloss_plan_t plan) {
  std::size_t bytes = 0;
  EXPECT_EQ(ganloss_plan_workspace_size(plan, &bytes), GANLOSS_STATUS_SUCCESS);
  GuardedBuffer ws(bytes);
  EXPECT_EQ(ganloss_plan_workspace_init(plan, ws.data(), bytes, nullptr), GANLOSS_STATUS_SUCCESS);
  return ws;
}

const int32_t kHostBackends[] = {GANLOSS_BACKEND_CPU, GANLOSS_BACKEND_REFERENCE};

class PlanMatrix : public ::testing::TestWithParam<PlanCase> {};

// Every output of a plan's execution, bit for bit those of ganloss_compute, twice in a row on
// one workspace, and nothing written outside the rows.
TEST_P(PlanMatrix, ExecuteMatchesCompute) {
  for (const int32_t backend : kHostBackends) {
    SCOPED_TRACE(backend == GANLOSS_BACKEND_CPU ? "cpu" : "reference");
    HostCall direct = make_call(GetParam(), 7);
    ASSERT_EQ(direct.run(direct.all_outputs(), backend, 2), GANLOSS_STATUS_SUCCESS)
        << ganloss_last_error_message();
    HostCall planned = make_call(GetParam(), 7);
    PlanHandle h;
    ASSERT_EQ(create_plan(planned.problem, backend, &h, 2), GANLOSS_STATUS_SUCCESS)
        << ganloss_last_error_message();
    planned.workspace = plan_workspace(h.plan);
    const ganloss_inputs_t in = planned.inputs();
    const ganloss_outputs_t o = planned.all_outputs();
    for (int repeat = 0; repeat < 2; ++repeat) {
      ASSERT_EQ(ganloss_plan_execute(h.plan, &in, &o, planned.workspace.data(),
                                     planned.workspace.bytes(), nullptr),
                GANLOSS_STATUS_SUCCESS)
          << ganloss_last_error_message();
      EXPECT_TRUE(planned.output_bytes() == direct.output_bytes()) << describe(planned.problem);
    }
    const Comparison cmp = compare_with_reference(
        planned, o, backend == GANLOSS_BACKEND_CPU ? detail::kCpuError : detail::ErrorModel(0));
    EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure << " " << describe(planned.problem);
  }
}

// Which cotangents a VJP call is given, and which gradients it asks for.
struct VjpVariant {
  bool d;
  bool g;
  bool grad_real;
  bool grad_fake;
  const char* name;
};

const VjpVariant kVariants[] = {
    {true, true, true, true, "both"},           {true, false, true, true, "d only"},
    {false, true, true, true, "g only"},        {false, false, true, true, "no cotangent"},
    {true, true, true, false, "real gradient"}, {true, true, false, true, "fake gradient"},
};

// One VJP call of `backend` (the emulated kernel for the CUDA backend) on `call`, its
// gradients in call.grad_real and call.grad_fake_d.
struct VjpRun {
  GuardedBuffer ud, ug;
  detail::VjpGradients got{};
  ganloss_status_t status = GANLOSS_STATUS_SUCCESS;
};

void run_vjp(HostCall& call, const VjpVariant& v, int32_t backend, int threads, VjpRun* run) {
  run->ud = make_cotangents(call.problem.segments, 0x5eed);
  run->ug = make_cotangents(call.problem.segments, 0xfeed);
  ganloss_cotangents_t cot;
  cot.d_loss = v.d ? run->ud.as<float>() : nullptr;
  cot.g_loss = v.g ? run->ug.as<float>() : nullptr;
  void* gr = v.grad_real ? call.grad_real.data() : nullptr;
  void* gf = v.grad_fake ? call.grad_fake_d.data() : nullptr;
  run->got = detail::VjpGradients{cot.d_loss, cot.g_loss, {gr, gf}};
  const ganloss_inputs_t in = call.inputs();
  if (backend == GANLOSS_BACKEND_CUDA) {
    const std::size_t bytes = emulator::emulated_workspace_size(call.problem);
    call.workspace = GuardedBuffer(bytes);
    run->status =
        emulator::emulated_vjp(call.problem, in, &cot, gr, gf, call.workspace.data(), bytes).status;
    return;
  }
  PlanHandle h;
  run->status = create_plan(call.problem, backend, &h, threads);
  if (run->status != GANLOSS_STATUS_SUCCESS) return;
  call.workspace = plan_workspace(h.plan);
  run->status = ganloss_plan_vjp(h.plan, &in, &cot, gr, gf, call.workspace.data(),
                                 call.workspace.bytes(), nullptr);
}

// Every byte of the call's buffers that a VJP must not write is untouched: the other outputs,
// the gaps between rows, the guards.
void expect_only_gradients_written(HostCall& call, const VjpVariant& v) {
  const ganloss_problem_t& p = call.problem;
  for (GuardedBuffer* b : {&call.d_loss, &call.d_loss_real, &call.d_loss_fake, &call.g_loss,
                           &call.stats, &call.grad_real_g, &call.grad_fake_g, &call.loss_real,
                           &call.loss_real_g, &call.loss_fake_d, &call.loss_fake_g}) {
    EXPECT_TRUE(b->all_untouched()) << "an output a VJP does not have was written";
  }
  const int64_t g = grad_bytes(p);
  const struct {
    GuardedBuffer* buffer;
    bool wanted;
    int64_t count, stride;
  } grads[] = {{&call.grad_real, v.grad_real, p.real_count, p.real_stride},
               {&call.grad_fake_d, v.grad_fake, p.fake_count, p.fake_stride}};
  for (const auto& gr : grads) {
    EXPECT_TRUE(gr.buffer->guards_intact());
    if (!gr.wanted) {
      EXPECT_TRUE(gr.buffer->all_untouched()) << "a gradient not requested was written";
      continue;
    }
    if (p.ragged == 1) continue;
    const int64_t stride = stride_of(p, gr.count, gr.stride);
    for (int64_t s = 0; s + 1 < p.segments; ++s) {
      for (int64_t i = gr.count; i < stride; ++i) {
        for (int64_t k = 0; k < g; ++k) {
          ASSERT_TRUE(gr.buffer->untouched(static_cast<std::size_t>((s * stride + i) * g + k)))
              << "a gap between rows was written";
        }
      }
    }
  }
  EXPECT_TRUE(call.workspace.guards_intact());
}

// The reference backend's VJP is the double combination, rounded once: bit for bit what the
// test forms from reference::evaluate() (the same double sums, in the same order), and every
// element of the requested rows written (0 without a cotangent).
TEST_P(PlanMatrix, ReferenceVjpIsTheDoubleCombination) {
  for (const VjpVariant& v : kVariants) {
    SCOPED_TRACE(v.name);
    HostCall call = make_call(GetParam(), 11);
    VjpRun run;
    run_vjp(call, v, GANLOSS_BACKEND_REFERENCE, 0, &run);
    ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    const ganloss_problem_t& p = call.problem;
    const reference::Result ref = reference::evaluate(p, call.inputs());
    const int32_t gd = grad_dtype(p);
    const float* ud = run.got.cotangent_d;
    const float* ug = run.got.cotangent_g;
    auto check_side = [&](const GuardedBuffer& out, const std::vector<double>& grad_d,
                          const std::vector<double>& grad_g, const int64_t* offsets, int64_t count,
                          int64_t stride_arg, const char* name) {
      const int64_t stride = stride_of(p, count, stride_arg);
      for (int64_t s = 0; s < p.segments; ++s) {
        const int64_t begin = offsets ? offsets[s] : s * stride;
        const int64_t n = offsets ? offsets[s + 1] - offsets[s] : count;
        for (int64_t i = begin; i < begin + n; ++i) {
          const auto k = static_cast<std::size_t>(i);
          const double want = (ud ? static_cast<double>(ud[s]) * grad_d[k] : 0.0) +
                              (ug ? static_cast<double>(ug[s]) * grad_g[k] : 0.0);
          GuardedBuffer expected(static_cast<std::size_t>(grad_bytes(p)));
          store_element(expected.data(), gd, 0, static_cast<float>(want));
          ASSERT_EQ(std::memcmp(static_cast<const char*>(out.data()) + i * grad_bytes(p),
                                expected.data(), expected.bytes()),
                    0)
              << name << "[" << i << "] = " << load_element(out.data(), gd, i) << ", want " << want
              << " " << describe(p);
        }
      }
    };
    const ganloss_inputs_t in = call.inputs();
    if (v.grad_real) {
      check_side(call.grad_real, ref.grad_real, ref.grad_real_g, in.real_offsets, p.real_count,
                 p.real_stride, "grad_real");
    }
    if (v.grad_fake) {
      check_side(call.grad_fake_d, ref.grad_fake_d, ref.grad_fake_g, in.fake_offsets, p.fake_count,
                 p.fake_stride, "grad_fake");
    }
    const Comparison cmp = detail::compare_vjp_with_reference(p, in, ref, run.got, 0);
    EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
    expect_only_gradients_written(call, v);
  }
}

// The CPU backend's VJP against the reference, bitwise independent of the thread count.
TEST_P(PlanMatrix, CpuVjpMatchesReference) {
  for (const VjpVariant& v : kVariants) {
    SCOPED_TRACE(v.name);
    HostCall call = make_call(GetParam(), 13);
    VjpRun run;
    run_vjp(call, v, GANLOSS_BACKEND_CPU, 1, &run);
    ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    const ganloss_inputs_t in = call.inputs();
    const reference::Result ref = reference::evaluate(call.problem, in);
    const Comparison cmp = detail::compare_vjp_with_reference(call.problem, in, ref, run.got, 0);
    EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure << " " << describe(call.problem);
    expect_only_gradients_written(call, v);

    HostCall again = make_call(GetParam(), 13);
    VjpRun run3;
    run_vjp(again, v, GANLOSS_BACKEND_CPU, 3, &run3);
    ASSERT_EQ(run3.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    EXPECT_TRUE(again.output_bytes() == call.output_bytes()) << "depends on the thread count";
  }
}

// The CUDA kernel's VJP, emulated, against the reference.
TEST_P(PlanMatrix, EmulatedVjpMatchesReference) {
  for (const VjpVariant& v : kVariants) {
    SCOPED_TRACE(v.name);
    HostCall call = make_call(GetParam(), 17);
    VjpRun run;
    run_vjp(call, v, GANLOSS_BACKEND_CUDA, 0, &run);
    ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    const ganloss_inputs_t in = call.inputs();
    const reference::Result ref = reference::evaluate(call.problem, in);
    const Comparison cmp = detail::compare_vjp_with_reference(call.problem, in, ref, run.got,
                                                              detail::kCudaKernelError);
    EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure << " " << describe(call.problem);
    expect_only_gradients_written(call, v);
  }
}

// The VJP tolerance admits an fp32 implementation: the CPU backend's and the emulated kernel's
// compute gradients (stored as f32), combined in fp32 as u_d * grad_D + u_g * grad_G, are
// within compare_vjp_with_reference's bounds. (Each part is within its compute bound, scaled by
// its cotangent; the product and the sum round once each, inside the bound's 4 u.)
TEST_P(PlanMatrix, Fp32CombinationOfComputeGradientsIsWithinVjpTolerance) {
  for (const int32_t backend : {GANLOSS_BACKEND_CPU, GANLOSS_BACKEND_CUDA}) {
    SCOPED_TRACE(backend == GANLOSS_BACKEND_CPU ? "cpu" : "emulated kernel");
    HostCall call = make_call(GetParam(), 19);
    if (grad_dtype(call.problem) != GANLOSS_DTYPE_F32) GTEST_SKIP() << "gradients not f32";
    ganloss_outputs_t o;
    ganloss_outputs_init(&o);
    o.grad_real = call.grad_real.data();
    o.grad_real_g = call.grad_real_g.data();
    o.grad_fake_d = call.grad_fake_d.data();
    o.grad_fake_g = call.grad_fake_g.data();
    if (backend == GANLOSS_BACKEND_CUDA) {
      ASSERT_EQ(run_emulated(call, o).status, GANLOSS_STATUS_SUCCESS);
    } else {
      ASSERT_EQ(call.run(o, backend, 1), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    }
    const ganloss_problem_t& p = call.problem;
    const GuardedBuffer ud = make_cotangents(p.segments, 0x5eed);
    const GuardedBuffer ug = make_cotangents(p.segments, 0xfeed);
    const ganloss_inputs_t in = call.inputs();
    auto combine = [&](const void* gd, const void* gg, const int64_t* offsets, int64_t count,
                       int64_t stride_arg, std::vector<float>* out) {
      const int64_t stride = stride_of(p, count, stride_arg);
      out->assign(static_cast<std::size_t>(extent(p, count, stride_arg)), 0.0f);
      for (int64_t s = 0; s < p.segments; ++s) {
        const int64_t begin = offsets ? offsets[s] : s * stride;
        const int64_t n = offsets ? offsets[s + 1] - offsets[s] : count;
        for (int64_t i = begin; i < begin + n; ++i) {
          const float d = ud.as<float>()[s] * static_cast<const float*>(gd)[i];
          const float g = ug.as<float>()[s] * static_cast<const float*>(gg)[i];
          (*out)[static_cast<std::size_t>(i)] = d + g;
        }
      }
    };
    std::vector<float> real, fake;
    combine(call.grad_real.data(), call.grad_real_g.data(), in.real_offsets, p.real_count,
            p.real_stride, &real);
    combine(call.grad_fake_d.data(), call.grad_fake_g.data(), in.fake_offsets, p.fake_count,
            p.fake_stride, &fake);
    const detail::VjpGradients got{ud.as<float>(), ug.as<float>(), {real.data(), fake.data()}};
    const reference::Result ref = reference::evaluate(p, in);
    const detail::ErrorModel model =
        backend == GANLOSS_BACKEND_CUDA ? detail::kCudaKernelError : detail::kCpuError;
    const Comparison cmp = detail::compare_vjp_with_reference(p, in, ref, got, model);
    EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure << " " << describe(p);
  }
}

INSTANTIATE_TEST_SUITE_P(Plans, PlanMatrix, ::testing::ValuesIn(plan_cases()), case_name);

// The VJP's definition, independently of the reference's gradient code: central differences of
// the reference's double losses, sum_s u_d[s] L_D[s] + u_g[s] L_G[s], in each logit. The logits
// are multiples of 2^-8 in [-4, 4] and the step h = 2^-6, so x +- h is exact in f32 and the
// difference quotient's error is h^2 / 6 times the third derivative: for the logistic terms
// |sp'''| = |sigma (1 - sigma)(1 - 2 sigma)| <= 1 / (6 sqrt 3), times |u| |coef| (coef = 1 / N
// for the mean), plus the double rounding of the losses over 2h (about 2^-52 * |loss| / h).
TEST(PlanVjp, ReferenceMatchesCentralDifferences) {
  ganloss_problem_t p = make_problem(2, 5, 4, GANLOSS_LOSS_NONSATURATING,
                                     GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 3);
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> grid(-1024, 1024);
  for (int64_t i = 0; i < p.segments * p.real_count; ++i)
    call.set_real(i, static_cast<float>(grid(rng)) * 0x1p-8f);
  for (int64_t i = 0; i < p.segments * p.fake_count; ++i)
    call.set_fake(i, static_cast<float>(grid(rng)) * 0x1p-8f);
  const float ud[2] = {1.5f, -0.25f};
  const float ug[2] = {-2.0f, 0.5f};
  PlanHandle h;
  ASSERT_EQ(create_plan(p, GANLOSS_BACKEND_REFERENCE, &h), GANLOSS_STATUS_SUCCESS);
  const ganloss_cotangents_t cot{ud, ug};
  const ganloss_inputs_t in = call.inputs();
  ASSERT_EQ(ganloss_plan_vjp(h.plan, &in, &cot, call.grad_real.data(), call.grad_fake_d.data(),
                             nullptr, 0, nullptr),
            GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  auto objective = [&] {
    const reference::Result r = reference::evaluate(p, call.inputs());
    double total = 0;
    for (int64_t s = 0; s < p.segments; ++s) {
      const auto& t = r.segments[static_cast<std::size_t>(s)];
      total += ud[s] * t.d_loss + ug[s] * t.g_loss;
    }
    return total;
  };
  const double h_step = 0x1p-6;
  const double third = 1.0 / (6.0 * std::sqrt(3.0));
  for (int side = 0; side < 2; ++side) {
    const int64_t count = side == 0 ? p.real_count : p.fake_count;
    for (int64_t i = 0; i < p.segments * count; ++i) {
      const int64_t s = i / count;
      const double x = side == 0 ? call.real_at(i) : call.fake_at(i);
      auto set = [&](double v) {
        side == 0 ? call.set_real(i, static_cast<float>(v))
                  : call.set_fake(i, static_cast<float>(v));
      };
      set(x + h_step);
      const double up = objective();
      set(x - h_step);
      const double down = objective();
      set(x);
      const double fd = (up - down) / (2 * h_step);
      const double got =
          load_element(side == 0 ? call.grad_real.data() : call.grad_fake_d.data(), 0, i);
      const double coef = 1.0 / static_cast<double>(count);
      const double bound = h_step * h_step / 6.0 * third * coef *
                               (std::fabs(ud[s]) + (side == 1 ? std::fabs(ug[s]) : 0.0)) +
                           0x1p-24 * std::fabs(got) + 0x1p-40 / h_step;
      EXPECT_NEAR(got, fd, bound) << (side == 0 ? "real" : "fake") << "[" << i << "]";
    }
  }
}

// Many threads executing one plan at once get the bits of one thread alone.
TEST(PlanThreads, OnePlanFromManyThreads) {
  const ganloss_problem_t p =
      make_problem(4, 300, 200, GANLOSS_LOSS_RELATIVISTIC_AVERAGE,
                   GANLOSS_LOSS_RELATIVISTIC_AVERAGE, GANLOSS_REDUCTION_MEAN);
  PlanHandle h;
  ASSERT_EQ(create_plan(p, GANLOSS_BACKEND_CPU, &h, 1), GANLOSS_STATUS_SUCCESS);
  HostCall alone(p, 9);
  alone.workspace = plan_workspace(h.plan);
  const ganloss_inputs_t in = alone.inputs();
  const ganloss_outputs_t o = alone.all_outputs();
  ASSERT_EQ(ganloss_plan_execute(h.plan, &in, &o, alone.workspace.data(), alone.workspace.bytes(),
                                 nullptr),
            GANLOSS_STATUS_SUCCESS);
  const std::vector<uint8_t> want = alone.output_bytes();
  std::vector<HostCall> calls;
  for (int t = 0; t < 4; ++t)
    calls.emplace_back(p, 9);
  for (HostCall& c : calls)
    c.workspace = plan_workspace(h.plan);
  std::vector<std::thread> threads;
  std::vector<ganloss_status_t> status(calls.size(), GANLOSS_STATUS_INTERNAL_ERROR);
  for (std::size_t t = 0; t < calls.size(); ++t) {
    threads.emplace_back([&, t] {
      const ganloss_inputs_t ti = calls[t].inputs();
      const ganloss_outputs_t to = calls[t].all_outputs();
      for (int k = 0; k < 8; ++k) {
        status[t] = ganloss_plan_execute(h.plan, &ti, &to, calls[t].workspace.data(),
                                         calls[t].workspace.bytes(), nullptr);
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  for (std::size_t t = 0; t < calls.size(); ++t) {
    EXPECT_EQ(status[t], GANLOSS_STATUS_SUCCESS);
    EXPECT_TRUE(calls[t].output_bytes() == want) << "thread " << t;
  }
}

// The C++ layer: create, move, execute and vjp through ganloss::Plan.
TEST(PlanCpp, RaiiPlan) {
  Problem problem;
  problem.segments = 2;
  problem.real_count = 8;
  problem.fake_count = 8;
  Execution execution;
  execution.backend = Backend::reference;
  Plan plan;
  EXPECT_FALSE(plan);
  EXPECT_EQ(plan.workspace_size(), 0u);
  ASSERT_EQ(Plan::create(problem, execution, &plan), Status::Success);
  EXPECT_TRUE(plan);
  Plan moved = std::move(plan);
  EXPECT_FALSE(plan);
  ASSERT_TRUE(moved);

  std::vector<float> real(16), fake(16), d_loss(2), grad_real(16), grad_fake(16);
  for (int i = 0; i < 16; ++i) {
    real[static_cast<std::size_t>(i)] = 0.25f * static_cast<float>(i) - 2.0f;
    fake[static_cast<std::size_t>(i)] = 1.0f - 0.125f * static_cast<float>(i);
  }
  Outputs out;
  out.d_loss = d_loss.data();
  EXPECT_EQ(moved.workspace_init(nullptr, 0), Status::Success);
  ASSERT_EQ(moved.execute({real.data(), fake.data()}, out, nullptr, 0), Status::Success);
  Outputs grads;
  std::vector<float> want_real(16), want_fake(16);
  grads.grad_real = want_real.data();
  grads.grad_fake_d = want_fake.data();
  ASSERT_EQ(compute(problem, {real.data(), fake.data()}, grads, nullptr, 0, execution),
            Status::Success);
  // u_d = 1, u_g = 0: the D gradients of compute.
  const std::vector<float> ones(2, 1.0f);
  Cotangents u;
  u.d_loss = ones.data();
  ASSERT_EQ(
      moved.vjp({real.data(), fake.data()}, u, grad_real.data(), grad_fake.data(), nullptr, 0),
      Status::Success)
      << last_error_message();
  EXPECT_EQ(grad_real, want_real);
  EXPECT_EQ(grad_fake, want_fake);

  // A failed create leaves the plan as it was.
  const ganloss_plan_t before = moved.get();
  problem.segments = 0;
  EXPECT_EQ(Plan::create(problem, execution, &moved), Status::InvalidSize);
  EXPECT_EQ(moved.get(), before);
  EXPECT_EQ(Plan::create(problem, execution, nullptr), Status::NullPointer);
  moved = Plan();
  EXPECT_FALSE(moved);
  EXPECT_EQ(moved.execute({real.data(), fake.data()}, out, nullptr, 0), Status::NullPointer);
}

// ---- Bad input --------------------------------------------------------------------------------

// A valid plan call on guarded buffers (relativistic average on the CPU backend, so that the
// workspace is not empty), which each test breaks in one way.
class PlanValidation : public ::testing::Test {
 protected:
  PlanValidation()
      : call_(make_problem(3, 16, 12, GANLOSS_LOSS_RELATIVISTIC_AVERAGE,
                           GANLOSS_LOSS_RELATIVISTIC_AVERAGE, GANLOSS_REDUCTION_MEAN)),
        ud_(make_cotangents(3, 1)),
        ug_(make_cotangents(3, 2)) {
    EXPECT_EQ(create_plan(call_.problem, GANLOSS_BACKEND_CPU, &plan_), GANLOSS_STATUS_SUCCESS);
    EXPECT_EQ(ganloss_plan_workspace_size(plan_.plan, &bytes_), GANLOSS_STATUS_SUCCESS);
    EXPECT_GT(bytes_, 0u);
    call_.workspace = GuardedBuffer(bytes_);
    in_ = call_.inputs();
    out_ = call_.all_outputs();
    cot_.d_loss = ud_.as<float>();
    cot_.g_loss = ug_.as<float>();
  }

  // `status` and a message mentioning `word`, and nothing written.
  void expect_rejected(ganloss_status_t got, ganloss_status_t status, const char* word) {
    EXPECT_EQ(got, status) << ganloss_last_error_message();
    const std::string message = ganloss_last_error_message();
    EXPECT_NE(message.find(word), std::string::npos) << message;
    for (GuardedBuffer* b : call_.output_buffers()) {
      EXPECT_TRUE(b->all_untouched()) << "a rejected call wrote an output";
    }
    EXPECT_TRUE(call_.workspace.all_untouched()) << "a rejected call wrote the workspace";
    EXPECT_TRUE(ud_.guards_intact() && ug_.guards_intact());
  }

  ganloss_status_t execute(const ganloss_inputs_t& in, const ganloss_outputs_t& out) {
    return ganloss_plan_execute(plan_.plan, &in, &out, call_.workspace.data(), bytes_, nullptr);
  }

  ganloss_status_t vjp(const ganloss_cotangents_t& cot, void* grad_real, void* grad_fake) {
    return ganloss_plan_vjp(plan_.plan, &in_, &cot, grad_real, grad_fake, call_.workspace.data(),
                            bytes_, nullptr);
  }

  HostCall call_;
  GuardedBuffer ud_, ug_;
  PlanHandle plan_;
  std::size_t bytes_ = 0;
  ganloss_inputs_t in_{};
  ganloss_outputs_t out_{};
  ganloss_cotangents_t cot_{};
};

TEST_F(PlanValidation, Create) {
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  e.backend = GANLOSS_BACKEND_CPU;
  const auto sentinel = reinterpret_cast<ganloss_plan_t>(uintptr_t{0x10});
  ganloss_plan_t plan = sentinel;
  expect_rejected(ganloss_plan_create(&call_.problem, &e, nullptr), GANLOSS_STATUS_NULL_POINTER,
                  "plan");
  expect_rejected(ganloss_plan_create(nullptr, &e, &plan), GANLOSS_STATUS_NULL_POINTER, "problem");
  ganloss_problem_t bad = call_.problem;
  bad.reduction = 7;
  expect_rejected(ganloss_plan_create(&bad, &e, &plan), GANLOSS_STATUS_INVALID_ENUM, "reduction");
  ganloss_execution_t wrong = e;
  wrong.backend = 3;
  expect_rejected(ganloss_plan_create(&call_.problem, &wrong, &plan), GANLOSS_STATUS_INVALID_ENUM,
                  "backend");
  wrong = e;
  wrong.cpu_threads = -1;
  expect_rejected(ganloss_plan_create(&call_.problem, &wrong, &plan), GANLOSS_STATUS_INVALID_VALUE,
                  "cpu_threads");
  wrong = e;
  wrong.workspace_initialized = 2;
  expect_rejected(ganloss_plan_create(&call_.problem, &wrong, &plan), GANLOSS_STATUS_INVALID_VALUE,
                  "workspace_initialized");
  wrong = e;
  wrong.check_memory = 2;
  expect_rejected(ganloss_plan_create(&call_.problem, &wrong, &plan), GANLOSS_STATUS_INVALID_VALUE,
                  "check_memory");
  if (ganloss_backend_available(GANLOSS_BACKEND_CUDA) != GANLOSS_STATUS_SUCCESS) {
    wrong = e;
    wrong.backend = GANLOSS_BACKEND_CUDA;
    expect_rejected(ganloss_plan_create(&call_.problem, &wrong, &plan),
                    GANLOSS_STATUS_BACKEND_UNAVAILABLE, "CUDA");
  }
  EXPECT_EQ(plan, sentinel) << "a failed create wrote the plan";
  ganloss_plan_destroy(nullptr);  // ignored
}

TEST_F(PlanValidation, NullPlan) {
  std::size_t bytes = 0;
  expect_rejected(ganloss_plan_workspace_size(nullptr, &bytes), GANLOSS_STATUS_NULL_POINTER,
                  "plan");
  expect_rejected(ganloss_plan_workspace_size(plan_.plan, nullptr), GANLOSS_STATUS_NULL_POINTER,
                  "bytes");
  expect_rejected(ganloss_plan_workspace_init(nullptr, call_.workspace.data(), bytes_, nullptr),
                  GANLOSS_STATUS_NULL_POINTER, "plan");
  expect_rejected(
      ganloss_plan_execute(nullptr, &in_, &out_, call_.workspace.data(), bytes_, nullptr),
      GANLOSS_STATUS_NULL_POINTER, "plan");
  expect_rejected(
      ganloss_plan_vjp(nullptr, &in_, &cot_, call_.grad_real.data(), call_.grad_fake_d.data(),
                       call_.workspace.data(), bytes_, nullptr),
      GANLOSS_STATUS_NULL_POINTER, "plan");
}

TEST_F(PlanValidation, WorkspaceInit) {
  expect_rejected(
      ganloss_plan_workspace_init(plan_.plan, call_.workspace.data(), bytes_ - 1, nullptr),
      GANLOSS_STATUS_WORKSPACE_TOO_SMALL, "workspace_bytes");
  expect_rejected(ganloss_plan_workspace_init(plan_.plan, nullptr, bytes_, nullptr),
                  GANLOSS_STATUS_NULL_POINTER, "workspace");
  GuardedBuffer bigger(bytes_ + 16);
  expect_rejected(ganloss_plan_workspace_init(plan_.plan, bigger.as<char>() + 8, bytes_, nullptr),
                  GANLOSS_STATUS_MISALIGNED_POINTER, "workspace");
  EXPECT_TRUE(bigger.all_untouched());
  EXPECT_EQ(ganloss_plan_workspace_init(plan_.plan, call_.workspace.data(), bytes_, nullptr),
            GANLOSS_STATUS_SUCCESS);
  EXPECT_TRUE(call_.workspace.all_untouched()) << "the host backends' init writes nothing";
}

TEST_F(PlanValidation, Execute) {
  expect_rejected(
      ganloss_plan_execute(plan_.plan, nullptr, &out_, call_.workspace.data(), bytes_, nullptr),
      GANLOSS_STATUS_NULL_POINTER, "inputs");
  expect_rejected(
      ganloss_plan_execute(plan_.plan, &in_, nullptr, call_.workspace.data(), bytes_, nullptr),
      GANLOSS_STATUS_NULL_POINTER, "outputs");
  ganloss_inputs_t in = in_;
  in.fake = nullptr;
  expect_rejected(execute(in, out_), GANLOSS_STATUS_NULL_POINTER, "fake logits");
  ganloss_outputs_t out = out_;
  out.grad_real = call_.grad_real.as<char>() + 2;
  expect_rejected(execute(in_, out), GANLOSS_STATUS_MISALIGNED_POINTER, "grad_real");
  out = out_;
  out.loss_real = static_cast<float*>(out.grad_real) + 1;
  expect_rejected(execute(in_, out), GANLOSS_STATUS_INVALID_ALIASING, "loss_real");
  expect_rejected(
      ganloss_plan_execute(plan_.plan, &in_, &out_, call_.workspace.data(), bytes_ - 1, nullptr),
      GANLOSS_STATUS_WORKSPACE_TOO_SMALL, "workspace_bytes");
  expect_rejected(ganloss_plan_execute(plan_.plan, &in_, &out_, nullptr, bytes_, nullptr),
                  GANLOSS_STATUS_NULL_POINTER, "workspace");
  out = out_;
  out.d_loss = static_cast<float*>(call_.workspace.data());
  expect_rejected(execute(in_, out), GANLOSS_STATUS_INVALID_ALIASING, "workspace");
  EXPECT_EQ(execute(in_, out_), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
}

TEST_F(PlanValidation, Vjp) {
  void* gr = call_.grad_real.data();
  void* gf = call_.grad_fake_d.data();
  expect_rejected(
      ganloss_plan_vjp(plan_.plan, nullptr, &cot_, gr, gf, call_.workspace.data(), bytes_, nullptr),
      GANLOSS_STATUS_NULL_POINTER, "inputs");
  ganloss_cotangents_t cot = cot_;
  cot.d_loss = reinterpret_cast<const float*>(ud_.as<char>() + 2);
  expect_rejected(vjp(cot, gr, gf), GANLOSS_STATUS_MISALIGNED_POINTER, "cotangents->d_loss");
  cot = cot_;
  cot.g_loss = static_cast<const float*>(gr) + 4;
  expect_rejected(vjp(cot, gr, gf), GANLOSS_STATUS_INVALID_ALIASING, "cotangents->g_loss");
  cot = cot_;
  cot.d_loss = static_cast<const float*>(call_.workspace.data());
  expect_rejected(vjp(cot, gr, gf), GANLOSS_STATUS_INVALID_ALIASING, "cotangents->d_loss");
  expect_rejected(vjp(cot_, call_.grad_real.as<char>() + 2, gf), GANLOSS_STATUS_MISALIGNED_POINTER,
                  "grad_real");
  expect_rejected(vjp(cot_, gr, static_cast<float*>(gr) + 3), GANLOSS_STATUS_INVALID_ALIASING,
                  "grad_fake");
  expect_rejected(vjp(cot_, gr, const_cast<void*>(in_.real)), GANLOSS_STATUS_INVALID_ALIASING,
                  "grad_fake");
  ganloss_inputs_t in = in_;
  in.fake = nullptr;
  // The relativistic average's real gradient reads the fake logits too.
  expect_rejected(ganloss_plan_vjp(plan_.plan, &in, &cot_, gr, nullptr, call_.workspace.data(),
                                   bytes_, nullptr),
                  GANLOSS_STATUS_NULL_POINTER, "fake logits");
  expect_rejected(ganloss_plan_vjp(plan_.plan, &in_, &cot_, gr, gf, call_.workspace.data(),
                                   bytes_ - 1, nullptr),
                  GANLOSS_STATUS_WORKSPACE_TOO_SMALL, "workspace_bytes");
  expect_rejected(ganloss_plan_vjp(plan_.plan, &in_, &cot_, gr, gf, nullptr, bytes_, nullptr),
                  GANLOSS_STATUS_NULL_POINTER, "workspace");
  const GuardedBuffer ud = make_cotangents(3, 1), ug = make_cotangents(3, 2);
  EXPECT_EQ(std::memcmp(ud.data(), ud_.data(), ud.bytes()), 0) << "cotangents are read only";
  EXPECT_EQ(std::memcmp(ug.data(), ug_.data(), ug.bytes()), 0) << "cotangents are read only";
}

// Cotangents may overlap the inputs (both are only read), and each gradient may replace its
// own logits.
TEST_F(PlanValidation, VjpAllowedAliasing) {
  HostCall in_place(call_.problem, 4);
  HostCall separate(call_.problem, 4);
  const std::vector<float> u = {0.5f, -1.0f, 2.0f};
  const ganloss_cotangents_t cot{u.data(), u.data()};
  GuardedBuffer ws(bytes_);
  const ganloss_inputs_t si = separate.inputs();
  ASSERT_EQ(ganloss_plan_vjp(plan_.plan, &si, &cot, separate.grad_real.data(),
                             separate.grad_fake_d.data(), ws.data(), bytes_, nullptr),
            GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  const ganloss_inputs_t ii = in_place.inputs();
  ASSERT_EQ(ganloss_plan_vjp(plan_.plan, &ii, &cot, in_place.real.data(), in_place.fake.data(),
                             ws.data(), bytes_, nullptr),
            GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  EXPECT_EQ(std::memcmp(in_place.real.data(), separate.grad_real.data(), separate.real.bytes()), 0);
  EXPECT_EQ(std::memcmp(in_place.fake.data(), separate.grad_fake_d.data(), separate.fake.bytes()),
            0);
  // Cotangents inside the logits' buffer: read only, like them.
  ganloss_inputs_t tail = call_.inputs();
  const ganloss_cotangents_t inside{static_cast<const float*>(tail.real), nullptr};
  EXPECT_EQ(ganloss_plan_vjp(plan_.plan, &tail, &inside, call_.grad_real.data(), nullptr, ws.data(),
                             bytes_, nullptr),
            GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  // Neither gradient requested: nothing to do, nothing written.
  HostCall none(call_.problem, 4);
  const ganloss_inputs_t ni = none.inputs();
  EXPECT_EQ(ganloss_plan_vjp(plan_.plan, &ni, &cot, nullptr, nullptr, ws.data(), bytes_, nullptr),
            GANLOSS_STATUS_SUCCESS);
  for (GuardedBuffer* b : none.output_buffers())
    EXPECT_TRUE(b->all_untouched());
}

}  // namespace
}  // namespace testing
}  // namespace ganloss
