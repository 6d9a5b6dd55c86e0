// Every invalid argument gets its own status and a message naming it, and a rejected call
// writes nothing: every output buffer is fenced by guard bytes and preset to a pattern.
// Allowed aliasing (in-place gradients, interleaved real/fake layouts) is accepted and exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace {

using testing::HostCall;
using testing::make_problem;

// One call with everything valid, which each test breaks in one way.
struct Call {
  ganloss_problem_t problem;
  const void* real;
  const void* fake;
  ganloss_outputs_t outputs;
  void* workspace;
  std::size_t workspace_bytes;
  ganloss_execution_t execution;

  ganloss_status_t run() const {
    ganloss_inputs_t in;
    ganloss_inputs_init(&in);
    in.real = real;
    in.fake = fake;
    return ganloss_compute(&problem, &in, &outputs, workspace, workspace_bytes, &execution,
                           nullptr);
  }
};

class Validation : public ::testing::Test {
 protected:
  Validation()
      : host_(make_problem(3, 16, 8, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                           GANLOSS_REDUCTION_MEAN)) {
    std::size_t bytes = 0;
    EXPECT_EQ(ganloss_workspace_size(&host_.problem, GANLOSS_BACKEND_CPU, &bytes),
              GANLOSS_STATUS_SUCCESS);
    host_.workspace = testing::GuardedBuffer(bytes);
    call_.problem = host_.problem;
    call_.real = host_.real.data();
    call_.fake = host_.fake.data();
    call_.outputs = host_.all_outputs();
    call_.workspace = host_.workspace.data();
    call_.workspace_bytes = bytes;
    ganloss_execution_init(&call_.execution);
    call_.execution.backend = GANLOSS_BACKEND_CPU;
  }

  // The call fails with `status`, says why (mentioning `word`), and writes nothing.
  void expect_rejected(const Call& c, ganloss_status_t status, const char* word) {
    EXPECT_EQ(c.run(), status) << ganloss_last_error_message();
    const std::string message = ganloss_last_error_message();
    EXPECT_FALSE(message.empty());
    EXPECT_NE(message.find(word), std::string::npos) << message;
    for (testing::GuardedBuffer* b : host_.output_buffers()) {
      EXPECT_TRUE(b->all_untouched()) << "a rejected call wrote an output";
    }
    EXPECT_TRUE(host_.workspace.all_untouched()) << "a rejected call wrote the workspace";
  }

  Call with(const std::function<void(Call&)>& change) const {
    Call c = call_;
    change(c);
    return c;
  }

  HostCall host_;
  Call call_;
};

TEST_F(Validation, ValidCallSucceeds) {
  EXPECT_EQ(call_.run(), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
  EXPECT_STREQ(ganloss_last_error_message(), "");
}

TEST_F(Validation, NullPointers) {
  expect_rejected(with([](Call& c) { c.real = nullptr; }), GANLOSS_STATUS_NULL_POINTER, "real");
  expect_rejected(with([](Call& c) { c.fake = nullptr; }), GANLOSS_STATUS_NULL_POINTER, "fake");
  expect_rejected(with([](Call& c) { c.workspace = nullptr; }), GANLOSS_STATUS_NULL_POINTER,
                  "workspace");
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = call_.real;
  in.fake = call_.fake;
  EXPECT_EQ(ganloss_compute(nullptr, &in, &call_.outputs, call_.workspace, call_.workspace_bytes,
                            &call_.execution, nullptr),
            GANLOSS_STATUS_NULL_POINTER);
  EXPECT_EQ(ganloss_compute(&call_.problem, &in, nullptr, call_.workspace, call_.workspace_bytes,
                            &call_.execution, nullptr),
            GANLOSS_STATUS_NULL_POINTER);
  std::size_t bytes = 0;
  EXPECT_EQ(ganloss_workspace_size(nullptr, GANLOSS_BACKEND_CPU, &bytes),
            GANLOSS_STATUS_NULL_POINTER);
  EXPECT_EQ(ganloss_workspace_size(&call_.problem, GANLOSS_BACKEND_CPU, nullptr),
            GANLOSS_STATUS_NULL_POINTER);
}

TEST_F(Validation, UnneededInputsMayBeNull) {
  // D outputs need real and fake; with only G outputs, real may be null.
  Call c = call_;
  ganloss_outputs_init(&c.outputs);
  c.outputs.g_loss = host_.g_loss.as<float>();
  c.real = nullptr;
  EXPECT_EQ(c.run(), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
  // No outputs at all: nothing to do, nothing read.
  ganloss_outputs_init(&c.outputs);
  c.fake = nullptr;
  EXPECT_EQ(c.run(), GANLOSS_STATUS_SUCCESS);
}

// A ragged side of count 0 spans no byte, wherever its pointer points: it aliases nothing.
// (Its one row has length and stride 0, which the aliasing check once divided by.)
TEST(ValidationRagged, EmptySideAliasesNothing) {
  ganloss_problem_t p = make_problem(3, 0, 8, GANLOSS_LOSS_NONSATURATING,
                                     GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_SUM);
  p.ragged = 1;
  testing::CallData data;
  data.real_offsets = {0, 0, 0, 0};
  data.fake_offsets = {0, 3, 5, 8};
  HostCall call(p, 3, data);
  ganloss_outputs_t o = call.all_outputs();
  o.loss_real = o.loss_real_g = o.loss_fake_d = o.loss_fake_g = nullptr;
  ganloss_inputs_t in = call.inputs();
  for (int k = 1; k < 7; ++k) {
    in.real = static_cast<const float*>(call.grad_fake_d.data()) + k;  // inside a gradient
    EXPECT_EQ(call.run(in, o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS)
        << k << ": " << ganloss_last_error_message();
  }
}

TEST_F(Validation, Sizes) {
  expect_rejected(with([](Call& c) { c.problem.segments = 0; }), GANLOSS_STATUS_INVALID_SIZE,
                  "segments");
  expect_rejected(with([](Call& c) { c.problem.segments = -3; }), GANLOSS_STATUS_INVALID_SIZE,
                  "segments");
  expect_rejected(with([](Call& c) { c.problem.real_count = -1; }), GANLOSS_STATUS_INVALID_SIZE,
                  "real_count");
  expect_rejected(with([](Call& c) { c.problem.fake_count = 0; }), GANLOSS_STATUS_INVALID_SIZE,
                  "fake_count");
  expect_rejected(with([](Call& c) {
                    c.problem.real_count = 0;
                    c.problem.fake_count = 0;
                  }),
                  GANLOSS_STATUS_INVALID_SIZE, "both 0");
  expect_rejected(with([](Call& c) { c.problem.real_stride = -16; }), GANLOSS_STATUS_INVALID_SIZE,
                  "real_stride");
  expect_rejected(with([](Call& c) { c.problem.fake_stride = 7; }), GANLOSS_STATUS_INVALID_SIZE,
                  "fake_stride");
}

TEST_F(Validation, SizesThatOverflow) {
  const int64_t big = std::numeric_limits<int64_t>::max();
  expect_rejected(with([](Call& c) { c.problem.segments = int64_t{1} << 62; }),
                  GANLOSS_STATUS_SIZE_OVERFLOW, "overflow");
  expect_rejected(with([&](Call& c) { c.problem.real_stride = big / 2; }),
                  GANLOSS_STATUS_SIZE_OVERFLOW, "real");
  expect_rejected(with([&](Call& c) {
                    c.problem.segments = 1;
                    c.problem.fake_count = big / 3;
                  }),
                  GANLOSS_STATUS_SIZE_OVERFLOW, "fake");
  expect_rejected(with([&](Call& c) { c.problem.segments = big; }), GANLOSS_STATUS_SIZE_OVERFLOW,
                  "overflow");
  // An address range that wraps: never dereferenced, rejected first.
  expect_rejected(with([](Call& c) {
                    c.real = reinterpret_cast<const void*>(std::numeric_limits<uintptr_t>::max() &
                                                           ~uintptr_t{63});
                  }),
                  GANLOSS_STATUS_SIZE_OVERFLOW, "wraps");
}

TEST_F(Validation, UnknownEnums) {
  expect_rejected(with([](Call& c) { c.problem.dtype = 3; }), GANLOSS_STATUS_INVALID_ENUM, "dtype");
  expect_rejected(with([](Call& c) { c.problem.dtype = -1; }), GANLOSS_STATUS_INVALID_ENUM,
                  "dtype");
  expect_rejected(with([](Call& c) { c.problem.d_loss = 9; }), GANLOSS_STATUS_INVALID_ENUM,
                  "d_loss");
  expect_rejected(with([](Call& c) { c.problem.g_loss = -1; }), GANLOSS_STATUS_INVALID_ENUM,
                  "g_loss");
  expect_rejected(with([](Call& c) { c.problem.reduction = 4; }), GANLOSS_STATUS_INVALID_ENUM,
                  "reduction");
  expect_rejected(with([](Call& c) { c.execution.backend = 7; }), GANLOSS_STATUS_INVALID_ENUM,
                  "backend");
  std::size_t bytes = 0;
  EXPECT_EQ(ganloss_workspace_size(&call_.problem, -1, &bytes), GANLOSS_STATUS_INVALID_ENUM);
  EXPECT_EQ(ganloss_backend_available(42), GANLOSS_STATUS_INVALID_ENUM);
}

TEST_F(Validation, ValuesOutOfDomain) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  expect_rejected(with([&](Call& c) { c.problem.grad_scale = nan; }), GANLOSS_STATUS_INVALID_VALUE,
                  "grad_scale");
  expect_rejected(with([&](Call& c) { c.problem.grad_scale = inf; }), GANLOSS_STATUS_INVALID_VALUE,
                  "grad_scale");
  expect_rejected(with([](Call& c) { c.problem.grad_scale = -0x1.000002p126f; }),
                  GANLOSS_STATUS_INVALID_VALUE, "2^126");
  expect_rejected(with([](Call& c) { c.problem.params.real_target = 1.5f; }),
                  GANLOSS_STATUS_INVALID_VALUE, "real_target");
  expect_rejected(with([](Call& c) { c.problem.params.fake_target = -0.1f; }),
                  GANLOSS_STATUS_INVALID_VALUE, "fake_target");
  expect_rejected(with([&](Call& c) { c.problem.params.real_target = nan; }),
                  GANLOSS_STATUS_INVALID_VALUE, "real_target");
  expect_rejected(with([&](Call& c) { c.problem.params.margin_real = inf; }),
                  GANLOSS_STATUS_INVALID_VALUE, "margin_real");
  expect_rejected(with([&](Call& c) { c.problem.params.margin_fake = -inf; }),
                  GANLOSS_STATUS_INVALID_VALUE, "margin_fake");
  expect_rejected(with([&](Call& c) { c.problem.params.ls_gen_label = nan; }),
                  GANLOSS_STATUS_INVALID_VALUE, "ls_gen_label");
  expect_rejected(with([](Call& c) { c.execution.cpu_threads = -2; }), GANLOSS_STATUS_INVALID_VALUE,
                  "cpu_threads");
  expect_rejected(with([](Call& c) { c.execution.workspace_initialized = 7; }),
                  GANLOSS_STATUS_INVALID_VALUE, "workspace_initialized");
}

TEST_F(Validation, GradientDtype) {
  expect_rejected(with([](Call& c) { c.problem.fp32_gradients = 2; }), GANLOSS_STATUS_INVALID_VALUE,
                  "fp32_gradients");
}

// f16 logits: 2-byte alignment for logits and f16 gradients, 4 for f32 gradients, and an f32
// gradient may not replace f16 logits (the elements do not line up).
TEST(ValidationDtypes, SixteenBitLogits) {
  auto p = make_problem(2, 64, 32, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  p.dtype = GANLOSS_DTYPE_F16;
  HostCall call(p);
  ganloss_outputs_t o = call.all_outputs();
  EXPECT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  o.grad_real = static_cast<char*>(o.grad_real) + 1;
  EXPECT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_MISALIGNED_POINTER);
  o = call.all_outputs();
  o.grad_real = call.real.data();  // in place, f16 over f16: allowed
  EXPECT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();

  p.fp32_gradients = 1;
  HostCall wide(p);
  o = wide.all_outputs();
  EXPECT_EQ(wide.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  o.grad_fake_g = static_cast<char*>(o.grad_fake_g) + 2;
  EXPECT_EQ(wide.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_MISALIGNED_POINTER);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("grad_fake_g"), std::string::npos);
  o = wide.all_outputs();
  o.grad_real = wide.real.data();  // f32 gradients over f16 logits: refused
  EXPECT_EQ(wide.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_INVALID_ALIASING);
  for (testing::GuardedBuffer* b : {&wide.d_loss, &wide.loss_fake_g}) {
    EXPECT_TRUE(b->guards_intact());
  }
}

TEST_F(Validation, Workspace) {
  expect_rejected(with([](Call& c) { --c.workspace_bytes; }), GANLOSS_STATUS_WORKSPACE_TOO_SMALL,
                  "workspace_bytes");
  expect_rejected(with([](Call& c) { c.workspace_bytes = 0; }), GANLOSS_STATUS_WORKSPACE_TOO_SMALL,
                  "workspace_bytes");
  expect_rejected(with([](Call& c) { c.workspace = static_cast<char*>(c.workspace) + 8; }),
                  GANLOSS_STATUS_MISALIGNED_POINTER, "workspace");
  // The workspace may not overlap anything the call reads or writes.
  expect_rejected(with([this](Call& c) { c.workspace = host_.grad_real.data(); }),
                  GANLOSS_STATUS_INVALID_ALIASING, "workspace");
  expect_rejected(with([this](Call& c) { c.workspace = const_cast<void*>(host_.real.data()); }),
                  GANLOSS_STATUS_INVALID_ALIASING, "workspace");
  // A larger workspace than needed is fine.
  Call c = call_;
  testing::GuardedBuffer larger(call_.workspace_bytes + 1000);
  c.workspace = larger.data();
  c.workspace_bytes = larger.bytes();
  EXPECT_EQ(c.run(), GANLOSS_STATUS_SUCCESS);
}

TEST_F(Validation, MisalignedPointers) {
  expect_rejected(with([](Call& c) { c.real = static_cast<const char*>(c.real) + 1; }),
                  GANLOSS_STATUS_MISALIGNED_POINTER, "real");
  expect_rejected(
      with([](Call& c) { c.outputs.grad_fake_g = static_cast<char*>(c.outputs.grad_fake_g) + 2; }),
      GANLOSS_STATUS_MISALIGNED_POINTER, "grad_fake_g");
  expect_rejected(with([](Call& c) {
                    c.outputs.g_loss =
                        reinterpret_cast<float*>(reinterpret_cast<char*>(c.outputs.g_loss) + 1);
                  }),
                  GANLOSS_STATUS_MISALIGNED_POINTER, "g_loss");
}

TEST_F(Validation, DisallowedAliasing) {
  // Two outputs on the same memory.
  expect_rejected(with([](Call& c) { c.outputs.d_loss_real = c.outputs.d_loss; }),
                  GANLOSS_STATUS_INVALID_ALIASING, "d_loss");
  expect_rejected(with([](Call& c) { c.outputs.grad_fake_g = c.outputs.grad_fake_d; }),
                  GANLOSS_STATUS_INVALID_ALIASING, "grad_fake");
  expect_rejected(
      with([](Call& c) { c.outputs.loss_fake_d = static_cast<float*>(c.outputs.grad_real) + 4; }),
      GANLOSS_STATUS_INVALID_ALIASING, "loss_fake_d");
  // A gradient on the other side's logits, or shifted over its own.
  expect_rejected(with([](Call& c) { c.outputs.grad_fake_d = const_cast<void*>(c.real); }),
                  GANLOSS_STATUS_INVALID_ALIASING, "grad_fake_d");
  expect_rejected(with([](Call& c) {
                    c.outputs.grad_real = const_cast<float*>(static_cast<const float*>(c.real)) + 1;
                  }),
                  GANLOSS_STATUS_INVALID_ALIASING, "grad_real");
  // Element losses may not replace logits (only gradients may).
  expect_rejected(with([](Call& c) {
                    c.outputs.loss_real = const_cast<float*>(static_cast<const float*>(c.real));
                  }),
                  GANLOSS_STATUS_INVALID_ALIASING, "loss_real");
  // Both fake gradients in place of the same logits.
  expect_rejected(with([](Call& c) {
                    c.outputs.grad_fake_d = const_cast<void*>(c.fake);
                    c.outputs.grad_fake_g = const_cast<void*>(c.fake);
                  }),
                  GANLOSS_STATUS_INVALID_ALIASING, "grad_fake");
  // Per-segment outputs inside a gradient.
  expect_rejected(
      with([](Call& c) { c.outputs.g_loss = static_cast<float*>(c.outputs.grad_real); }),
      GANLOSS_STATUS_INVALID_ALIASING, "g_loss");
}

// The arguments of the loss family: relativistic kinds, weights, ragged offsets, statistics.
TEST(ValidationFamily, RelativisticArguments) {
  auto p = make_problem(2, 16, 16, GANLOSS_LOSS_RELATIVISTIC_AVERAGE, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  HostCall call(p);
  EXPECT_EQ(call.run(call.all_outputs(), GANLOSS_BACKEND_CPU), GANLOSS_STATUS_UNSUPPORTED);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("relativistic"), std::string::npos);
  p = make_problem(2, 16, 12, GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC,
                   GANLOSS_REDUCTION_MEAN);
  HostCall unequal(p);
  EXPECT_EQ(unequal.run(unequal.all_outputs(), GANLOSS_BACKEND_CPU), GANLOSS_STATUS_INVALID_SIZE);
  p.fake_count = 16;
  HostCall fake_weighted(p, 1, testing::CallData{true, true, {}, {}});
  EXPECT_EQ(fake_weighted.run(fake_weighted.all_outputs(), GANLOSS_BACKEND_CPU),
            GANLOSS_STATUS_INVALID_VALUE);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("real_weights"), std::string::npos);
  for (testing::GuardedBuffer* b : fake_weighted.output_buffers())
    EXPECT_TRUE(b->all_untouched());
}

TEST(ValidationFamily, RaggedArguments) {
  auto p = make_problem(3, 0, 0, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_HINGE, GANLOSS_REDUCTION_MEAN);
  p.ragged = 1;
  const std::vector<int64_t> good = {0, 4, 4, 9};
  struct Case {
    const char* what;
    std::vector<int64_t> real, fake;
    int64_t real_stride;
    int32_t ragged;
    ganloss_status_t status;
    const char* word;
  } cases[] = {
      {"valid", good, good, 0, 1, GANLOSS_STATUS_SUCCESS, ""},
      {"stride", good, good, 5, 1, GANLOSS_STATUS_INVALID_SIZE, "real_stride"},
      {"flag", good, good, 0, 2, GANLOSS_STATUS_INVALID_VALUE, "ragged"},
      {"decreasing", {0, 5, 3, 9}, good, 0, 1, GANLOSS_STATUS_INVALID_VALUE, "decrease"},
      {"negative", {-1, 4, 4, 9}, good, 0, 1, GANLOSS_STATUS_INVALID_VALUE, "real_offsets"},
  };
  for (const Case& c : cases) {
    auto q = p;
    q.real_stride = c.real_stride;
    q.ragged = c.ragged;
    HostCall call(q, 1, testing::CallData{false, false, c.real, c.fake});
    EXPECT_EQ(call.run(call.all_outputs(), GANLOSS_BACKEND_CPU), c.status)
        << c.what << ": " << ganloss_last_error_message();
    EXPECT_NE(std::string(ganloss_last_error_message()).find(c.word), std::string::npos) << c.what;
    if (c.status != GANLOSS_STATUS_SUCCESS) {
      for (testing::GuardedBuffer* b : call.output_buffers())
        EXPECT_TRUE(b->all_untouched());
    }
  }
  // Offsets past the end of the array.
  HostCall past(p, 1, testing::CallData{false, false, good, good});
  past.problem.real_count = 8;
  EXPECT_EQ(past.run(past.all_outputs(), GANLOSS_BACKEND_REFERENCE), GANLOSS_STATUS_INVALID_VALUE);
  // Null offsets.
  HostCall null_offsets(p, 1, testing::CallData{false, false, good, good});
  ganloss_inputs_t in = null_offsets.inputs();
  in.fake_offsets = nullptr;
  const ganloss_outputs_t o = null_offsets.all_outputs();
  std::vector<double> ws(64);
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  e.backend = GANLOSS_BACKEND_CPU;
  EXPECT_EQ(ganloss_compute(&null_offsets.problem, &in, &o, ws.data(), ws.size() * 8, &e, nullptr),
            GANLOSS_STATUS_NULL_POINTER);
  // Misaligned offsets.
  in = null_offsets.inputs();
  in.real_offsets =
      reinterpret_cast<const int64_t*>(reinterpret_cast<const char*>(in.real_offsets) + 4);
  EXPECT_EQ(ganloss_compute(&null_offsets.problem, &in, &o, ws.data(), ws.size() * 8, &e, nullptr),
            GANLOSS_STATUS_MISALIGNED_POINTER);
  // Paired losses need as many real as fake logits in every segment.
  auto paired = p;
  paired.d_loss = paired.g_loss = GANLOSS_LOSS_RELATIVISTIC;
  HostCall mismatch(paired, 1, testing::CallData{false, false, good, {0, 4, 5, 9}});
  EXPECT_EQ(mismatch.run(mismatch.all_outputs(), GANLOSS_BACKEND_CPU), GANLOSS_STATUS_INVALID_SIZE);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("segment 1"), std::string::npos);
}

TEST(ValidationFamily, WeightsAndStatisticsBuffers) {
  auto p = make_problem(2, 16, 8, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 1, testing::CallData{true, true, {}, {}});
  std::vector<double> ws(1024);
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  e.backend = GANLOSS_BACKEND_CPU;
  auto run = [&](const ganloss_inputs_t& in, const ganloss_outputs_t& o) {
    return ganloss_compute(&call.problem, &in, &o, ws.data(), ws.size() * 8, &e, nullptr);
  };
  ganloss_inputs_t in = call.inputs();
  ganloss_outputs_t o = call.all_outputs();
  EXPECT_EQ(run(in, o), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
  in.real_weights =
      reinterpret_cast<const float*>(reinterpret_cast<const char*>(in.real_weights) + 2);
  EXPECT_EQ(run(in, o), GANLOSS_STATUS_MISALIGNED_POINTER);
  in = call.inputs();
  in.fake_weights = static_cast<const float*>(o.grad_fake_d);  // read while written
  EXPECT_EQ(run(in, o), GANLOSS_STATUS_INVALID_ALIASING);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("fake_weights"), std::string::npos);
  in = call.inputs();
  o.stats = reinterpret_cast<ganloss_segment_stats_t*>(reinterpret_cast<char*>(o.stats) + 4);
  EXPECT_EQ(run(in, o), GANLOSS_STATUS_MISALIGNED_POINTER);
  o = call.all_outputs();
  o.stats = reinterpret_cast<ganloss_segment_stats_t*>(o.d_loss);
  EXPECT_EQ(run(in, o), GANLOSS_STATUS_INVALID_ALIASING);
  o = call.all_outputs();
  EXPECT_EQ(ganloss_compute(&call.problem, nullptr, &o, ws.data(), ws.size() * 8, &e, nullptr),
            GANLOSS_STATUS_NULL_POINTER);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("inputs"), std::string::npos);
}

// A negative weight has no weighted mean: the host backends, which can read the weights, refuse
// the call (compute, plan execution and VJP; dense, strided and ragged rows), name the weight and
// write nothing. Weights the call does not read (an unused side, a stride's gap) are not
// checked. (The CUDA kernel makes the weight's segment NaN: EmulatedWeights.)
TEST(ValidationFamily, NegativeWeightsAreRefusedByTheHostBackends) {
  for (int32_t backend : {GANLOSS_BACKEND_CPU, GANLOSS_BACKEND_REFERENCE}) {
    for (int layout = 0; layout < 3; ++layout) {
      auto p = make_problem(3, 40, 24, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                            GANLOSS_REDUCTION_MEAN);
      testing::CallData data{true, true, {}, {}};
      if (layout == 1) {
        p.real_stride = 50;
      } else if (layout == 2) {
        p.ragged = 1;
        data.real_offsets = {0, 10, 25, 40};
        data.fake_offsets = {0, 8, 16, 24};
      }
      HostCall call(p, 3, data);
      ganloss_execution_t e;
      ganloss_execution_init(&e);
      e.backend = backend;
      std::size_t bytes = 0;
      ASSERT_EQ(ganloss_workspace_size(&call.problem, backend, &bytes), GANLOSS_STATUS_SUCCESS);
      testing::GuardedBuffer ws(bytes);
      ganloss_plan_t plan = nullptr;
      ASSERT_EQ(ganloss_plan_create(&call.problem, &e, &plan), GANLOSS_STATUS_SUCCESS);
      const int64_t bad = layout == 1 ? 2 * 50 + 39 : 33;  // in the last segment's row
      call.real_weights.as<float>()[bad] = -1.0f;
      const ganloss_inputs_t in = call.inputs();
      const ganloss_outputs_t o = call.all_outputs();
      const float ud[3] = {1.0f, 1.0f, 1.0f};
      const ganloss_cotangents_t cotangents{ud, ud};
      const std::string name = "real_weights[" + std::to_string(bad) + "]";
      for (int entry = 0; entry < 3; ++entry) {
        const ganloss_status_t status =
            entry == 0   ? ganloss_compute(&call.problem, &in, &o, ws.data(), bytes, &e, nullptr)
            : entry == 1 ? ganloss_plan_execute(plan, &in, &o, ws.data(), bytes, nullptr)
                         : ganloss_plan_vjp(plan, &in, &cotangents, o.grad_real, o.grad_fake_d,
                                            ws.data(), bytes, nullptr);
        EXPECT_EQ(status, GANLOSS_STATUS_INVALID_VALUE) << backend << " " << layout << " " << entry;
        EXPECT_NE(std::string(ganloss_last_error_message()).find(name), std::string::npos)
            << ganloss_last_error_message();
      }
      for (testing::GuardedBuffer* b : call.output_buffers()) {
        EXPECT_TRUE(b->all_untouched()) << backend << " " << layout;
        EXPECT_TRUE(b->guards_intact());
      }
      // Not read, not checked: a G-only call reads no real weights.
      ganloss_outputs_t g_only{};
      g_only.g_loss = o.g_loss;
      EXPECT_EQ(ganloss_compute(&call.problem, &in, &g_only, ws.data(), bytes, &e, nullptr),
                GANLOSS_STATUS_SUCCESS)
          << ganloss_last_error_message();
      if (layout == 1) {
        // In the gap between rows: not a weight of the call.
        call.real_weights.as<float>()[bad] = 1.0f;
        call.real_weights.as<float>()[45] = -1.0f;
        EXPECT_EQ(ganloss_compute(&call.problem, &in, &o, ws.data(), bytes, &e, nullptr),
                  GANLOSS_STATUS_SUCCESS)
            << ganloss_last_error_message();
      }
      ganloss_plan_destroy(plan);
    }
  }
}

// In place: each gradient may replace its own logits; the result equals the out-of-place one.
TEST(ValidationAliasing, InPlaceGradients) {
  for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16}) {
    for (int32_t backend : {GANLOSS_BACKEND_CPU, GANLOSS_BACKEND_REFERENCE}) {
      auto p = make_problem(4, 300, 200, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                            GANLOSS_REDUCTION_MEAN);
      p.dtype = dtype;
      HostCall call(p, 3);
      ASSERT_EQ(call.run(call.all_outputs(), backend), GANLOSS_STATUS_SUCCESS);
      HostCall again(p, 3);
      ganloss_outputs_t in_place = again.all_outputs();
      in_place.grad_real = again.real.data();
      in_place.grad_fake_g = again.fake.data();
      in_place.grad_fake_d = nullptr;
      ASSERT_EQ(again.run(in_place, backend), GANLOSS_STATUS_SUCCESS)
          << ganloss_last_error_message();
      const std::size_t e = static_cast<std::size_t>(testing::logit_bytes(p));
      EXPECT_EQ(std::memcmp(again.real.data(), call.grad_real.data(), 1200 * e), 0) << dtype;
      EXPECT_EQ(std::memcmp(again.fake.data(), call.grad_fake_g.data(), 800 * e), 0) << dtype;
      EXPECT_EQ(std::memcmp(again.d_loss.data(), call.d_loss.data(), 16), 0) << dtype;
      // The statistics are of the logits, not of the gradients written over them.
      for (int s = 0; s < 4; ++s) {
        const ganloss_segment_stats_t& a = again.stats.as<ganloss_segment_stats_t>()[s];
        const ganloss_segment_stats_t& b = call.stats.as<ganloss_segment_stats_t>()[s];
        EXPECT_EQ(a.mean_sigmoid_real, b.mean_sigmoid_real) << dtype << " backend " << backend;
        EXPECT_EQ(a.mean_sigmoid_fake, b.mean_sigmoid_fake) << dtype << " backend " << backend;
        EXPECT_EQ(a.frac_real_positive, b.frac_real_positive) << dtype << " backend " << backend;
        EXPECT_EQ(a.frac_fake_negative, b.frac_fake_negative) << dtype << " backend " << backend;
        EXPECT_EQ(a.mean_sign_real, b.mean_sign_real) << dtype << " backend " << backend;
      }
    }
  }
}

// Real and fake logits as column blocks of one [S, Nr + Nf] tensor, and their gradients as
// column blocks of another: rows interleave, elements do not overlap.
TEST(ValidationAliasing, InterleavedLayoutIsAccepted) {
  const int64_t s = 6, nr = 5, nf = 3, w = nr + nf;
  std::vector<float> logits(static_cast<std::size_t>(s * w)), grads(logits.size(), -7.0f);
  for (std::size_t i = 0; i < logits.size(); ++i)
    logits[i] = 0.25f * static_cast<float>(i % 11) - 1.0f;
  auto p = make_problem(s, nr, nf, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_HINGE, GANLOSS_REDUCTION_SUM);
  p.real_stride = w;
  p.fake_stride = w;
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  o.grad_real = grads.data();
  o.grad_fake_d = grads.data() + nr;
  std::size_t bytes = 0;
  ASSERT_EQ(ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &bytes), GANLOSS_STATUS_SUCCESS);
  std::vector<double> ws(bytes / 8 + 1);
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  e.backend = GANLOSS_BACKEND_CPU;
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = logits.data();
  in.fake = logits.data() + nr;
  ASSERT_EQ(ganloss_compute(&p, &in, &o, ws.data(), bytes, &e, nullptr), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  for (int64_t r = 0; r < s; ++r) {
    for (int64_t i = 0; i < w; ++i) {
      const float x = logits[static_cast<std::size_t>(r * w + i)];
      const float want = i < nr ? (x < 1.0f ? -1.0f : 0.0f) : (x > -1.0f ? 1.0f : 0.0f);
      EXPECT_EQ(grads[static_cast<std::size_t>(r * w + i)], want) << r << "," << i;
    }
  }
  // Shift the fake gradient block by one column: now it meets the real one.
  o.grad_fake_d = grads.data() + nr - 1;
  EXPECT_EQ(ganloss_compute(&p, &in, &o, ws.data(), bytes, &e, nullptr),
            GANLOSS_STATUS_INVALID_ALIASING);
}

TEST(ValidationStatus, EveryStatusHasItsOwnString) {
  std::set<std::string> seen;
  for (int s = GANLOSS_STATUS_SUCCESS; s <= GANLOSS_STATUS_INVALID_MEMORY; ++s) {
    const std::string text = ganloss_status_string(static_cast<ganloss_status_t>(s));
    EXPECT_FALSE(text.empty());
    EXPECT_NE(text, "unknown status") << s;
    EXPECT_TRUE(seen.insert(text).second) << "duplicate: " << text;
  }
  const int unknown = 14;  // within the enum's range, but no status
  EXPECT_STREQ(ganloss_status_string(static_cast<ganloss_status_t>(unknown)), "unknown status");
  EXPECT_STREQ(status_string(Status::WorkspaceTooSmall),
               ganloss_status_string(GANLOSS_STATUS_WORKSPACE_TOO_SMALL));
}

TEST(ValidationStatus, MessageIsPerThreadAndClearedBySuccess) {
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.real_count = 4;
  p.fake_count = 4;
  std::size_t bytes = 0;
  p.segments = 0;
  EXPECT_EQ(ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &bytes), GANLOSS_STATUS_INVALID_SIZE);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("segments"), std::string::npos);
  std::string other;
  std::thread([&] { other = ganloss_last_error_message(); }).join();
  EXPECT_EQ(other, "");
  p.segments = 1;
  EXPECT_EQ(ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &bytes), GANLOSS_STATUS_SUCCESS);
  EXPECT_STREQ(ganloss_last_error_message(), "");
}

TEST(ValidationBackend, UnavailableCudaWritesNothing) {
  if (ganloss_backend_available(GANLOSS_BACKEND_CUDA) == GANLOSS_STATUS_SUCCESS) {
    GTEST_SKIP() << "a CUDA device is usable here; the GPU tests cover this backend";
  }
  EXPECT_FALSE(std::string(ganloss_last_error_message()).empty());
  auto p = make_problem(1, 8, 8, 0, 0, GANLOSS_REDUCTION_MEAN);
  HostCall call(p);
  EXPECT_EQ(call.run(call.all_outputs(), GANLOSS_BACKEND_CUDA), GANLOSS_STATUS_BACKEND_UNAVAILABLE);
  for (testing::GuardedBuffer* b : call.output_buffers())
    EXPECT_TRUE(b->all_untouched());
  EXPECT_EQ(ganloss_backend_available(GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
  EXPECT_EQ(ganloss_backend_available(GANLOSS_BACKEND_REFERENCE), GANLOSS_STATUS_SUCCESS);
}

TEST(ValidationDefaults, InitFunctionsGiveDocumentedDefaults) {
  ganloss_problem_t p;
  std::memset(&p, 0xff, sizeof p);
  ganloss_problem_init(&p);
  EXPECT_EQ(p.segments, 1);
  EXPECT_EQ(p.dtype, GANLOSS_DTYPE_F32);
  EXPECT_EQ(p.reduction, GANLOSS_REDUCTION_MEAN);
  EXPECT_EQ(p.grad_scale, 1.0f);
  EXPECT_EQ(p.params.real_target, 1.0f);
  EXPECT_EQ(p.params.fake_target, 0.0f);
  EXPECT_EQ(p.params.margin_real, 1.0f);
  EXPECT_EQ(p.params.ls_real_label, 1.0f);
  ganloss_outputs_t o;
  std::memset(&o, 0xff, sizeof o);
  ganloss_outputs_init(&o);
  EXPECT_EQ(o.d_loss, nullptr);
  EXPECT_EQ(o.loss_fake_g, nullptr);
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  EXPECT_EQ(e.backend, GANLOSS_BACKEND_CUDA);
  EXPECT_EQ(e.cpu_threads, 0);
  EXPECT_STREQ(ganloss_version(), GANLOSS_VERSION_STRING);
}

}  // namespace
}  // namespace ganloss
