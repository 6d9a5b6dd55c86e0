// Inputs past 2^31 elements: a single f16 segment of more than 2^31 logits on the CPU backend
// against a reference streamed over slices, and the kernel's index arithmetic at element
// offsets beyond 2^31 (fixed-length rows and ragged offsets) through the emulator. Buffers are
// anonymous mappings, so the emulated tests touch only the pages their rows occupy.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "emulator/emulated_backend.hpp"
#include "ganloss/ganloss.h"
#include "host_dtype.hpp"
#include "reference.hpp"
#include "segmented_loss_plan.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace {

constexpr int64_t kBeyond = (int64_t{1} << 31) + 8;

// Anonymous memory that is committed only where it is written.
class Mapping {
 public:
  explicit Mapping(std::size_t bytes) : bytes_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    data_ = p == MAP_FAILED ? nullptr : p;
  }
  ~Mapping() {
    if (data_) munmap(data_, bytes_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  bool ok() const { return data_ != nullptr; }

 private:
  std::size_t bytes_;
  void* data_;
};

bool sanitized() {
#if defined(GANLOSS_TEST_SANITIZED)
  return true;
#else
  return false;
#endif
}

// What the emulated kernel's hardware logistic math adds to a term's error beyond the
// kElementUlps that total_tolerance counts: kFastMathUlps + kFastMathArgumentUlps |a| u for a
// logit a, |a| <= 8 here (logit_bits), as fp32 additions of depth.
constexpr int kFastMathDepth = static_cast<int>(
    detail::kFastMathUlps + 8 * detail::kFastMathArgumentUlps - detail::kElementUlps);

uint16_t logit_bits(int64_t i) {
  // A cheap, index-dependent pattern of f16 logits in [-8, 8).
  const uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  return detail::float_to_half(static_cast<float>(h >> 40) / static_cast<float>(1 << 20) - 8.0f);
}

// Least squares with label b = 1: every logit equal to 1 has a zero term and a zero gradient,
// so the array is filled with 1 and a few hundred logits around element 2^31 (and at both ends)
// take other values. The reference evaluates those logits; the total must be their sum, their
// gradients the reference's, and every other gradient exactly 0.
TEST(LargeInput, CpuBackendPastTwoToTheThirtyOneElements) {
  if (sanitized()) GTEST_SKIP() << "8.6 GB of f16 data: plain builds only";
  const int64_t n = (int64_t{1} << 31) + 4099;
  Mapping real(static_cast<std::size_t>(n) * 2), grad(static_cast<std::size_t>(n) * 2);
  ASSERT_TRUE(real.ok() && grad.ok()) << "cannot map 8.6 GB";
  const uint16_t one = detail::float_to_half(1.0f);
  std::fill_n(real.as<uint16_t>(), n, one);
  std::vector<int64_t> special;
  for (int64_t k = 0; k < 40; ++k)
    special.push_back(k);
  for (int64_t k = kBeyond - 300; k < kBeyond + 300; ++k)
    special.push_back(k);
  for (int64_t k = n - 40; k < n; ++k)
    special.push_back(k);
  std::vector<uint16_t> values;
  for (int64_t k : special) {
    values.push_back(logit_bits(k));
    real.as<uint16_t>()[k] = values.back();
  }
  const uint16_t fake_bits[3] = {detail::float_to_half(0.5f), detail::float_to_half(-0.25f),
                                 detail::float_to_half(1.0f)};

  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.real_count = n;
  p.fake_count = 3;
  p.dtype = GANLOSS_DTYPE_F16;
  p.d_loss = p.g_loss = GANLOSS_LOSS_LEAST_SQUARES;
  p.reduction = GANLOSS_REDUCTION_SUM;
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = real.as<void>();
  in.fake = fake_bits;
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  float d_loss_real = 0;
  o.d_loss_real = &d_loss_real;
  o.grad_real = grad.as<void>();
  std::size_t bytes = 0;
  ASSERT_EQ(ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &bytes), GANLOSS_STATUS_SUCCESS);
  std::vector<uint8_t> ws(bytes + 16);
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  e.backend = GANLOSS_BACKEND_CPU;
  ASSERT_EQ(ganloss_compute(&p, &in, &o, ws.data(), bytes, &e, nullptr), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();

  // The reference on the logits that differ from 1.
  ganloss_problem_t ps = p;
  ps.real_count = static_cast<int64_t>(values.size());
  ganloss_inputs_t sin = in;
  sin.real = values.data();
  const reference::Result r = reference::evaluate(ps, sin);
  EXPECT_TRUE(detail::total_tolerance(r.segments[0].abs_real, detail::kCpuError)
                  .accepts(d_loss_real, r.segments[0].d_loss_real))
      << d_loss_real << " vs " << r.segments[0].d_loss_real;
  std::size_t next = 0;
  int64_t wrong = 0;
  for (int64_t k = 0; k < n; ++k) {
    const double got = detail::half_to_float(grad.as<uint16_t>()[k]);
    if (next < special.size() && special[next] == k) {
      const double want = r.grad_real[next++];
      if (!detail::gradient_tolerance(DType::f16, 1.0).accepts(got, want)) {
        ADD_FAILURE() << "grad_real[" << k << "] = " << got << ", reference " << want;
        if (++wrong > 5) return;
      }
    } else if (got != 0.0) {
      ADD_FAILURE() << "grad_real[" << k << "] = " << got << ", expected 0";
      if (++wrong > 5) return;
    }
  }
}

// Emulated kernel, fixed-length rows: row 1 starts at element 2^31 + 8 + 2^31 + 8.
TEST(LargeInput, EmulatedKernelIndexesRowsPastTwoToTheThirtyOne) {
  for (int64_t count : {int64_t{777}, int64_t{40000}}) {  // warp and chunk regimes
    ganloss_problem_t p;
    ganloss_problem_init(&p);
    p.segments = 3;
    p.real_count = count;
    p.fake_count = count / 2 + 1;
    p.real_stride = kBeyond;
    p.fake_stride = kBeyond + 1;
    p.dtype = GANLOSS_DTYPE_F16;
    p.d_loss = p.g_loss = GANLOSS_LOSS_NONSATURATING;
    const int64_t real_extent = 2 * p.real_stride + p.real_count;
    const int64_t fake_extent = 2 * p.fake_stride + p.fake_count;
    Mapping real(static_cast<std::size_t>(real_extent) * 2),
        fake(static_cast<std::size_t>(fake_extent) * 2),
        grad_real(static_cast<std::size_t>(real_extent) * 2),
        grad_fake(static_cast<std::size_t>(fake_extent) * 2);
    ASSERT_TRUE(real.ok() && fake.ok() && grad_real.ok() && grad_fake.ok());
    // The same rows, dense, for the reference.
    ganloss_problem_t dense = p;
    dense.real_stride = dense.fake_stride = 0;
    std::vector<uint16_t> dense_real(static_cast<std::size_t>(3 * count)),
        dense_fake(static_cast<std::size_t>(3 * p.fake_count));
    for (int64_t s = 0; s < 3; ++s) {
      for (int64_t i = 0; i < p.real_count; ++i) {
        const uint16_t v = logit_bits(s * 1000003 + i);
        real.as<uint16_t>()[s * p.real_stride + i] = v;
        dense_real[static_cast<std::size_t>(s * count + i)] = v;
      }
      for (int64_t i = 0; i < p.fake_count; ++i) {
        const uint16_t v = logit_bits(s * 7777 + i + 99);
        fake.as<uint16_t>()[s * p.fake_stride + i] = v;
        dense_fake[static_cast<std::size_t>(s * p.fake_count + i)] = v;
      }
    }
    ganloss_inputs_t in;
    ganloss_inputs_init(&in);
    in.real = real.as<void>();
    in.fake = fake.as<void>();
    ganloss_outputs_t o;
    ganloss_outputs_init(&o);
    float d_loss[3], g_loss[3];
    o.d_loss = d_loss;
    o.g_loss = g_loss;
    o.grad_real = grad_real.as<void>();
    o.grad_fake_g = grad_fake.as<void>();
    const std::size_t bytes = emulator::emulated_workspace_size(p);
    std::vector<double> ws(bytes / 8 + 2);
    const emulator::EmulatedRun run = emulator::emulated_compute(p, in, o, ws.data(), bytes);
    ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    ganloss_inputs_t din = in;
    din.real = dense_real.data();
    din.fake = dense_fake.data();
    const reference::Result r = reference::evaluate(dense, din);
    for (int64_t s = 0; s < 3; ++s) {
      const auto& t = r.segments[static_cast<std::size_t>(s)];
      EXPECT_TRUE(detail::total_tolerance(t.abs_real + t.abs_fake_d,
                                          detail::kernel::kAccumulationDepth + kFastMathDepth)
                      .accepts(d_loss[s], t.d_loss))
          << count << " segment " << s << ": " << d_loss[s] << " vs " << t.d_loss;
      for (int64_t i = 0; i < p.real_count; ++i) {
        const double got = detail::half_to_float(grad_real.as<uint16_t>()[s * p.real_stride + i]);
        const double want = r.grad_real[static_cast<std::size_t>(s * count + i)];
        ASSERT_TRUE(detail::gradient_tolerance(DType::f16, 1.0 / static_cast<double>(count))
                        .accepts(got, want))
            << count << " segment " << s << " element " << i;
      }
    }
  }
}

// Emulated kernel, ragged: every segment starts past element 2^31.
TEST(LargeInput, EmulatedKernelFollowsOffsetsPastTwoToTheThirtyOne) {
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.segments = 3;
  p.ragged = 1;
  p.dtype = GANLOSS_DTYPE_F16;
  p.d_loss = p.g_loss = GANLOSS_LOSS_HINGE;
  const std::vector<int64_t> offsets = {kBeyond, kBeyond + 100, kBeyond + 100, kBeyond + 3000};
  p.real_count = p.fake_count = offsets.back() + 5;
  Mapping real(static_cast<std::size_t>(p.real_count) * 2),
      fake(static_cast<std::size_t>(p.fake_count) * 2),
      grad(static_cast<std::size_t>(p.real_count) * 2);
  ASSERT_TRUE(real.ok() && fake.ok() && grad.ok());
  std::vector<uint16_t> dense_real, dense_fake;
  std::vector<int64_t> dense_offsets = {0};
  for (int64_t s = 0; s < 3; ++s) {
    for (int64_t k = offsets[static_cast<std::size_t>(s)];
         k < offsets[static_cast<std::size_t>(s + 1)]; ++k) {
      real.as<uint16_t>()[k] = logit_bits(k);
      fake.as<uint16_t>()[k] = logit_bits(k + 17);
      dense_real.push_back(logit_bits(k));
      dense_fake.push_back(logit_bits(k + 17));
    }
    dense_offsets.push_back(static_cast<int64_t>(dense_real.size()));
  }
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = real.as<void>();
  in.fake = fake.as<void>();
  in.real_offsets = offsets.data();
  in.fake_offsets = offsets.data();
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  float d_loss[3];
  o.d_loss = d_loss;
  o.grad_real = grad.as<void>();
  const std::size_t bytes = emulator::emulated_workspace_size(p);
  std::vector<double> ws(bytes / 8 + 2);
  ASSERT_EQ(emulator::emulated_compute(p, in, o, ws.data(), bytes).status, GANLOSS_STATUS_SUCCESS);
  ganloss_problem_t dense = p;
  dense.real_count = dense.fake_count = static_cast<int64_t>(dense_real.size());
  ganloss_inputs_t din = in;
  din.real = dense_real.data();
  din.fake = dense_fake.data();
  din.real_offsets = din.fake_offsets = dense_offsets.data();
  const reference::Result r = reference::evaluate(dense, din);
  EXPECT_EQ(d_loss[1], 0.0f);  // the empty segment
  for (int64_t s = 0; s < 3; ++s) {
    const auto& t = r.segments[static_cast<std::size_t>(s)];
    EXPECT_TRUE(detail::total_tolerance(t.abs_real + t.abs_fake_d,
                                        detail::kernel::kAccumulationDepth + 100 + kFastMathDepth)
                    .accepts(d_loss[s], t.d_loss))
        << "segment " << s;
    for (int64_t i = 0; i < dense_offsets[static_cast<std::size_t>(s + 1)] -
                                dense_offsets[static_cast<std::size_t>(s)];
         ++i) {
      const int64_t k = offsets[static_cast<std::size_t>(s)] + i;
      const double want =
          r.grad_real[static_cast<std::size_t>(dense_offsets[static_cast<std::size_t>(s)] + i)];
      EXPECT_TRUE(detail::gradient_tolerance(DType::f16, 1.0)
                      .accepts(detail::half_to_float(grad.as<uint16_t>()[k]), want))
          << "segment " << s << " element " << i;
    }
  }
}

}  // namespace
}  // namespace ganloss
