// Plans and the VJP call on a real GPU: a plan's execution gives ganloss_compute's bits (every
// regime, a workspace prepared once by ganloss_plan_workspace_init and reused), the VJP against
// the double reference, the opt-in memory-space check, and a plan's device. Without a usable
// GPU every test says why it skips.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "segmented_loss_plan.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace testing {
namespace {

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr

class CudaPlan : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ganloss_backend_available(GANLOSS_BACKEND_CUDA) != GANLOSS_STATUS_SUCCESS) {
      GTEST_SKIP() << "no usable CUDA device, so the GPU plan tests do not run here: "
                   << ganloss_last_error_message();
    }
  }
};

// Device copies of host buffers, guards included; fetch() copies them back.
class Mirror {
 public:
  Mirror() = default;
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;
  ~Mirror() {
    for (auto& m : buffers_)
      cudaFree(m.second);
  }

  // The device address of host buffer `b`'s usable bytes (null for an empty buffer).
  void* add(GuardedBuffer& b) {
    void* d = nullptr;
    if (cudaMalloc(&d, b.raw_bytes()) != cudaSuccess) return nullptr;
    cudaMemcpy(d, b.raw(), b.raw_bytes(), cudaMemcpyHostToDevice);
    buffers_.emplace_back(&b, d);
    return b.bytes() ? static_cast<uint8_t*>(d) + GuardedBuffer::data_offset() : nullptr;
  }

  void fetch() {
    cudaDeviceSynchronize();
    for (auto& m : buffers_) {
      cudaMemcpy(m.first->raw(), m.second, m.first->raw_bytes(), cudaMemcpyDeviceToHost);
    }
  }

 private:
  std::vector<std::pair<GuardedBuffer*, void*>> buffers_;
};

// A HostCall on the device: inputs, every output, and a workspace of `workspace_bytes`.
struct DeviceCall {
  HostCall& host;
  Mirror mirror;
  ganloss_inputs_t in{};
  ganloss_outputs_t out{};
  void* workspace = nullptr;

  DeviceCall(HostCall& h, std::size_t workspace_bytes) : host(h) {
    h.workspace = GuardedBuffer(workspace_bytes);
    ganloss_inputs_init(&in);
    in.real = mirror.add(h.real);
    in.fake = mirror.add(h.fake);
    in.real_weights = static_cast<const float*>(mirror.add(h.real_weights));
    in.fake_weights = static_cast<const float*>(mirror.add(h.fake_weights));
    in.real_offsets = static_cast<const int64_t*>(mirror.add(h.real_offsets));
    in.fake_offsets = static_cast<const int64_t*>(mirror.add(h.fake_offsets));
    out.d_loss = static_cast<float*>(mirror.add(h.d_loss));
    out.d_loss_real = static_cast<float*>(mirror.add(h.d_loss_real));
    out.d_loss_fake = static_cast<float*>(mirror.add(h.d_loss_fake));
    out.g_loss = static_cast<float*>(mirror.add(h.g_loss));
    out.stats = static_cast<ganloss_segment_stats_t*>(mirror.add(h.stats));
    out.grad_real = mirror.add(h.grad_real);
    out.grad_real_g = mirror.add(h.grad_real_g);
    out.grad_fake_d = mirror.add(h.grad_fake_d);
    out.grad_fake_g = mirror.add(h.grad_fake_g);
    out.loss_real = static_cast<float*>(mirror.add(h.loss_real));
    out.loss_real_g = static_cast<float*>(mirror.add(h.loss_real_g));
    out.loss_fake_d = static_cast<float*>(mirror.add(h.loss_fake_d));
    out.loss_fake_g = static_cast<float*>(mirror.add(h.loss_fake_g));
    workspace = mirror.add(h.workspace);
  }
};

struct PlanHandle {
  ganloss_plan_t plan = nullptr;
  PlanHandle() = default;
  PlanHandle(const PlanHandle&) = delete;
  PlanHandle& operator=(const PlanHandle&) = delete;
  ~PlanHandle() { ganloss_plan_destroy(plan); }
};

ganloss_status_t create(const ganloss_problem_t& p, PlanHandle* h, bool check_memory = false) {
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  e.backend = GANLOSS_BACKEND_CUDA;
  e.check_memory = check_memory ? 1 : 0;
  return ganloss_plan_create(&p, &e, &h->plan);
}

// Problems of every regime (warp, block, chunk), weighted means and the relativistic average.
std::vector<ganloss_problem_t> problems() {
  std::vector<ganloss_problem_t> all;
  const int64_t lengths[] = {300, 6000, 70000};
  for (const int64_t n : lengths) {
    for (const int32_t kind : {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_HINGE,
                               GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC_AVERAGE}) {
      ganloss_problem_t p = make_problem(3, n, kind == GANLOSS_LOSS_RELATIVISTIC ? n : n / 2 + 1,
                                         kind, kind, GANLOSS_REDUCTION_MEAN);
      all.push_back(p);
      p.dtype = GANLOSS_DTYPE_BF16;
      all.push_back(p);
    }
  }
  return all;
}

// A plan's execution, three times on one workspace prepared once (filled with garbage first),
// gives the bits of ganloss_compute.
TEST_F(CudaPlan, ExecuteMatchesCompute) {
  for (const ganloss_problem_t& p : problems()) {
    SCOPED_TRACE(describe(p));
    CallData data;
    data.real_weights = true;
    data.fake_weights = p.d_loss != GANLOSS_LOSS_RELATIVISTIC;
    HostCall direct(p, 3, data);
    std::size_t bytes = 0;
    ASSERT_EQ(ganloss_workspace_size(&p, GANLOSS_BACKEND_CUDA, &bytes), GANLOSS_STATUS_SUCCESS);
    {
      DeviceCall d(direct, bytes);
      ganloss_execution_t e;
      ganloss_execution_init(&e);
      ASSERT_EQ(ganloss_compute(&p, &d.in, &d.out, d.workspace, bytes, &e, nullptr),
                GANLOSS_STATUS_SUCCESS)
          << ganloss_last_error_message();
      d.mirror.fetch();
    }
    HostCall planned(p, 3, data);
    PlanHandle h;
    ASSERT_EQ(create(p, &h), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    std::size_t plan_bytes = 0;
    ASSERT_EQ(ganloss_plan_workspace_size(h.plan, &plan_bytes), GANLOSS_STATUS_SUCCESS);
    EXPECT_EQ(plan_bytes, bytes);
    DeviceCall d(planned, plan_bytes);
    if (plan_bytes) {
      CUDA_OK(cudaMemset(d.workspace, 0x5a, plan_bytes));
    }
    ASSERT_EQ(ganloss_plan_workspace_init(h.plan, d.workspace, plan_bytes, nullptr),
              GANLOSS_STATUS_SUCCESS);
    for (int repeat = 0; repeat < 3; ++repeat) {
      ASSERT_EQ(ganloss_plan_execute(h.plan, &d.in, &d.out, d.workspace, plan_bytes, nullptr),
                GANLOSS_STATUS_SUCCESS)
          << ganloss_last_error_message();
      d.mirror.fetch();
      EXPECT_TRUE(planned.output_bytes() == direct.output_bytes()) << "execution " << repeat;
    }
  }
}

// The VJP against the reference, on a workspace shared with the plan's executions.
TEST_F(CudaPlan, VjpMatchesReference) {
  for (const ganloss_problem_t& p : problems()) {
    SCOPED_TRACE(describe(p));
    HostCall call(p, 5);
    PlanHandle h;
    ASSERT_EQ(create(p, &h), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    std::size_t bytes = 0;
    ASSERT_EQ(ganloss_plan_workspace_size(h.plan, &bytes), GANLOSS_STATUS_SUCCESS);
    GuardedBuffer ud(static_cast<std::size_t>(p.segments) * 4);
    GuardedBuffer ug(static_cast<std::size_t>(p.segments) * 4);
    for (int64_t s = 0; s < p.segments; ++s) {
      ud.as<float>()[s] = 0.5f + static_cast<float>(s);
      ug.as<float>()[s] = s == 1 ? 0.0f : -2.0f;
    }
    DeviceCall d(call, bytes);
    ganloss_cotangents_t cot;
    cot.d_loss = static_cast<const float*>(d.mirror.add(ud));
    cot.g_loss = static_cast<const float*>(d.mirror.add(ug));
    ASSERT_EQ(ganloss_plan_workspace_init(h.plan, d.workspace, bytes, nullptr),
              GANLOSS_STATUS_SUCCESS);
    ASSERT_EQ(ganloss_plan_execute(h.plan, &d.in, &d.out, d.workspace, bytes, nullptr),
              GANLOSS_STATUS_SUCCESS);
    ASSERT_EQ(ganloss_plan_vjp(h.plan, &d.in, &cot, d.out.grad_real, d.out.grad_fake_d, d.workspace,
                               bytes, nullptr),
              GANLOSS_STATUS_SUCCESS)
        << ganloss_last_error_message();
    d.mirror.fetch();
    const ganloss_inputs_t in = call.inputs();
    const reference::Result ref = reference::evaluate(p, in);
    const detail::VjpGradients got{
        ud.as<float>(), ug.as<float>(), {call.grad_real.data(), call.grad_fake_d.data()}};
    const Comparison cmp =
        detail::compare_vjp_with_reference(p, in, ref, got, detail::kCudaKernelError);
    EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
  }
}

// check_memory: host memory is refused, naming the pointer; without it a plan does not query.
TEST_F(CudaPlan, CheckMemoryIsOptIn) {
  const ganloss_problem_t p = make_problem(2, 64, 64, GANLOSS_LOSS_NONSATURATING,
                                           GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 7);
  PlanHandle checked;
  ASSERT_EQ(create(p, &checked, true), GANLOSS_STATUS_SUCCESS);
  DeviceCall d(call, 0);
  ganloss_outputs_t o = d.out;
  std::vector<float> host_loss(2);
  o.d_loss = host_loss.data();
  EXPECT_EQ(ganloss_plan_execute(checked.plan, &d.in, &o, nullptr, 0, nullptr),
            GANLOSS_STATUS_INVALID_MEMORY);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("d_loss"), std::string::npos);
  const ganloss_cotangents_t host_cot{host_loss.data(), nullptr};
  EXPECT_EQ(ganloss_plan_vjp(checked.plan, &d.in, &host_cot, d.out.grad_real, nullptr, nullptr, 0,
                             nullptr),
            GANLOSS_STATUS_INVALID_MEMORY);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("cotangents->d_loss"),
            std::string::npos);
  EXPECT_EQ(ganloss_plan_execute(checked.plan, &d.in, &d.out, nullptr, 0, nullptr),
            GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
}

}  // namespace
}  // namespace testing
}  // namespace ganloss
