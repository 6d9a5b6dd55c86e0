// Property tests: thousands of random problem configurations (kinds, reductions, shapes,
// strides, ragged offsets, dtypes, weights, optional outputs, parameters) per run, every host
// backend and the emulated kernel against the reference. The seed is fixed (override it with
// GANLOSS_PROPERTY_SEED) and printed with every failure, so any failure replays exactly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "emulator/emulated_backend.hpp"
#include "ganloss/ganloss.h"
#include "segmented_loss_plan.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace {

using testing::CallData;
using testing::HostCall;

uint64_t base_seed() {
  const char* env = std::getenv("GANLOSS_PROPERTY_SEED");
  return env ? std::strtoull(env, nullptr, 10) : 20261125u;
}

// A random valid problem and which of its outputs to request.
struct RandomCase {
  ganloss_problem_t problem;
  CallData data;
  uint32_t outputs;  // bit k: output k of testing::only()

  std::string describe(uint64_t seed) const {
    std::ostringstream s;
    s << "seed " << seed << ": " << testing::describe(problem) << " outputs 0x" << std::hex
      << outputs << (data.real_weights ? " real_weights" : "")
      << (data.fake_weights ? " fake_weights" : "");
    return s.str();
  }
};

RandomCase random_case(uint64_t seed, int64_t max_length) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) {
    return static_cast<int>(std::uniform_int_distribution<int>(0, n - 1)(rng));
  };
  auto chance = [&](int percent) { return pick(100) < percent; };
  RandomCase c;
  ganloss_problem_t& p = c.problem;
  ganloss_problem_init(&p);
  const int32_t kind = pick(9);
  p.d_loss = kind;
  p.g_loss = kind >= GANLOSS_LOSS_RELATIVISTIC ? kind : pick(5);
  p.reduction = pick(4);
  p.dtype = pick(3);
  p.fp32_gradients = p.dtype != GANLOSS_DTYPE_F32 && chance(30) ? 1 : 0;
  p.grad_scale = chance(20) ? std::ldexp(1.0f, pick(33) - 16) : 1.0f;
  // Many short segments, or a few that may be long (up to max_length): a bounded total.
  const bool many = chance(20);
  p.segments = 1 + pick(many ? 200 : 6);
  const bool paired = kind == GANLOSS_LOSS_RELATIVISTIC;
  const int64_t longest = !many && chance(10) ? max_length : 64;
  p.real_count = 1 + pick(static_cast<int>(longest));
  p.fake_count = paired ? p.real_count : 1 + pick(static_cast<int>(longest));
  if (chance(25)) {
    p.ragged = 1;  // lengths up to the counts drawn above, some segments empty
    c.data.real_offsets = testing::random_offsets(p.segments, p.real_count, rng());
    c.data.fake_offsets =
        paired ? c.data.real_offsets : testing::random_offsets(p.segments, p.fake_count, rng());
  } else if (chance(30)) {
    p.real_stride = p.real_count + pick(9);
    p.fake_stride = p.fake_count + pick(9);
  }
  if (chance(30)) {
    p.params.real_target = chance(50) ? 0.9f : 0.875f;
    p.params.fake_target = chance(50) ? 0.0f : 0.125f;
    p.params.margin_real = 0.25f * static_cast<float>(pick(8));
    p.params.margin_fake = 0.25f * static_cast<float>(pick(8));
    p.params.ls_fake_label = -1.0f;
    p.params.ls_gen_label = 0.5f;
  }
  c.data.real_weights = chance(30);
  c.data.fake_weights = !paired && chance(30);
  c.outputs = static_cast<uint32_t>(rng()) & ((1u << testing::kOutputCount) - 1);
  if (c.outputs == 0) c.outputs = 1u << pick(testing::kOutputCount);
  return c;
}

ganloss_outputs_t requested(HostCall& call, uint32_t mask) {
  const ganloss_outputs_t all = call.all_outputs();
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  for (int k = 0; k < testing::kOutputCount; ++k) {
    if (!(mask & (1u << k))) continue;
    const ganloss_outputs_t one = testing::only(all, k);
    o.d_loss = one.d_loss ? one.d_loss : o.d_loss;
    o.d_loss_real = one.d_loss_real ? one.d_loss_real : o.d_loss_real;
    o.d_loss_fake = one.d_loss_fake ? one.d_loss_fake : o.d_loss_fake;
    o.g_loss = one.g_loss ? one.g_loss : o.g_loss;
    o.grad_real = one.grad_real ? one.grad_real : o.grad_real;
    o.grad_fake_d = one.grad_fake_d ? one.grad_fake_d : o.grad_fake_d;
    o.grad_fake_g = one.grad_fake_g ? one.grad_fake_g : o.grad_fake_g;
    o.grad_real_g = one.grad_real_g ? one.grad_real_g : o.grad_real_g;
    o.loss_real = one.loss_real ? one.loss_real : o.loss_real;
    o.loss_fake_d = one.loss_fake_d ? one.loss_fake_d : o.loss_fake_d;
    o.loss_fake_g = one.loss_fake_g ? one.loss_fake_g : o.loss_fake_g;
    o.loss_real_g = one.loss_real_g ? one.loss_real_g : o.loss_real_g;
    o.stats = one.stats ? one.stats : o.stats;
  }
  return o;
}

TEST(Property, HostBackendsMatchTheReference) {
  const uint64_t seed0 = base_seed();
  // The release build runs thousands; a sanitizer build, checking memory and UB rather than
  // values, a fifth of them.
#if defined(GANLOSS_TEST_SANITIZED)
  constexpr int kCases = 600;
#else
  constexpr int kCases = 3000;
#endif
  int failures = 0;
  for (int i = 0; i < kCases && failures < 5; ++i) {
    const uint64_t seed = seed0 + static_cast<uint64_t>(i);
    const RandomCase c = random_case(seed, 20000);
    for (int32_t backend : {GANLOSS_BACKEND_CPU, GANLOSS_BACKEND_REFERENCE}) {
      HostCall call(c.problem, seed, c.data);
      const ganloss_outputs_t o = requested(call, c.outputs);
      const ganloss_status_t status = call.run(o, backend, 1 + static_cast<int>(seed % 3));
      if (status != GANLOSS_STATUS_SUCCESS) {
        ADD_FAILURE() << c.describe(seed) << ": backend " << backend << " returned " << status
                      << " (" << ganloss_last_error_message() << ")";
        ++failures;
        continue;
      }
      const testing::Comparison cmp = testing::compare_with_reference(
          call, o, backend == GANLOSS_BACKEND_CPU ? detail::kCpuError : detail::ErrorModel(0));
      if (cmp.worst() > 1.0) {
        ADD_FAILURE() << c.describe(seed) << ": backend " << backend << ": " << cmp.first_failure;
        ++failures;
      }
    }
  }
  std::printf("[ property ] %d random problems on the CPU and reference backends from seed %llu\n",
              kCases, static_cast<unsigned long long>(seed0));
}

TEST(Property, EmulatedKernelMatchesTheReference) {
  // Each emulated case runs hundreds of OS threads per block, so fewer of them.
#if defined(GANLOSS_TEST_SANITIZED)
  constexpr int kCases = 10;
#else
  constexpr int kCases = 60;
#endif
  const uint64_t seed0 = base_seed() + 1000000;
  int failures = 0;
  for (int i = 0; i < kCases && failures < 5; ++i) {
    const uint64_t seed = seed0 + static_cast<uint64_t>(i);
    const RandomCase c = random_case(seed, 40000);
    HostCall call(c.problem, seed, c.data);
    const ganloss_outputs_t o = requested(call, c.outputs);
    const std::size_t bytes = emulator::emulated_workspace_size(call.problem);
    call.workspace = testing::GuardedBuffer(bytes);
    emulator::EmulatedOptions options;
    options.seed = seed;
    options.grid_cap = static_cast<int64_t>(seed % 4);  // 0: the launch's own grid
    const emulator::EmulatedRun run = emulator::emulated_compute(
        call.problem, call.inputs(), o, call.workspace.data(), bytes, options);
    if (run.status != GANLOSS_STATUS_SUCCESS || run.report.hazard_count != 0) {
      ADD_FAILURE() << c.describe(seed) << ": status " << run.status << ", "
                    << run.report.hazard_count << " hazards";
      ++failures;
      continue;
    }
    const testing::Comparison cmp =
        testing::compare_with_reference(call, o, detail::kCudaKernelError);
    if (cmp.worst() > 1.0) {
      ADD_FAILURE() << c.describe(seed) << ": " << cmp.first_failure;
      ++failures;
    }
  }
  std::printf("[ property ] %d random problems on the emulated kernel from seed %llu\n", kCases,
              static_cast<unsigned long long>(seed0));
}

}  // namespace
}  // namespace ganloss
