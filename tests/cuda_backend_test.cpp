// The CUDA backend on a real GPU: the kernel test matrix against the double-precision
// reference (with guard bytes around every output, mirrored on the device), bitwise
// determinism over 100 calls, CUDA graph capture and replay, two streams at once, the
// zeroed-once workspace, and memory-space checks. Without a usable GPU every test says why it
// skips.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "family_cases.hpp"
#include "kernel_cases.hpp"
#include "nonfinite_table.hpp"
#include "test_support.hpp"
#include "weight_range.hpp"

namespace ganloss {
namespace {

using detail::kCudaKernelError;
using testing::Comparison;
using testing::GuardedBuffer;
using testing::HostCall;
using testing::KernelCase;

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ganloss_backend_available(GANLOSS_BACKEND_CUDA) != GANLOSS_STATUS_SUCCESS) {
      GTEST_SKIP() << "no usable CUDA device, so the GPU tests do not run here: "
                   << ganloss_last_error_message();
    }
  }
};

// A HostCall's buffers mirrored byte for byte (guards included) in device memory.
class DeviceCall {
 public:
  explicit DeviceCall(HostCall& host) : host_(host) {
    for (GuardedBuffer* b : buffers()) {
      void* d = nullptr;
      if (cudaMalloc(&d, b->raw_bytes()) != cudaSuccess) throw std::bad_alloc();
      cudaMemcpy(d, b->raw(), b->raw_bytes(), cudaMemcpyHostToDevice);
      mirrors_.emplace_back(b, d);
    }
  }
  ~DeviceCall() {
    for (auto& m : mirrors_)
      cudaFree(m.second);
  }
  DeviceCall(const DeviceCall&) = delete;
  DeviceCall& operator=(const DeviceCall&) = delete;

  // The device address standing for a host address inside one of the buffers.
  template <class T>
  T* device(T* host_pointer) const {
    if (host_pointer == nullptr) return nullptr;
    const auto* p = reinterpret_cast<const uint8_t*>(host_pointer);
    for (const auto& m : mirrors_) {
      const uint8_t* raw = m.first->raw();
      if (p >= raw && p < raw + m.first->raw_bytes()) {
        return reinterpret_cast<T*>(static_cast<uint8_t*>(m.second) + (p - raw));
      }
    }
    return nullptr;
  }

  ganloss_outputs_t outputs(const ganloss_outputs_t& o) const {
    ganloss_outputs_t d = o;
    d.d_loss = device(o.d_loss);
    d.d_loss_real = device(o.d_loss_real);
    d.d_loss_fake = device(o.d_loss_fake);
    d.g_loss = device(o.g_loss);
    d.grad_real = device(o.grad_real);
    d.grad_fake_d = device(o.grad_fake_d);
    d.grad_fake_g = device(o.grad_fake_g);
    d.grad_real_g = device(o.grad_real_g);
    d.loss_real = device(o.loss_real);
    d.loss_fake_d = device(o.loss_fake_d);
    d.loss_fake_g = device(o.loss_fake_g);
    d.loss_real_g = device(o.loss_real_g);
    d.stats = device(o.stats);
    return d;
  }

  ganloss_inputs_t inputs() {
    const ganloss_inputs_t h = host_.inputs();
    ganloss_inputs_t d = h;
    d.real = device(h.real);
    d.fake = device(h.fake);
    d.real_weights = device(h.real_weights);
    d.fake_weights = device(h.fake_weights);
    d.real_offsets = device(h.real_offsets);
    d.fake_offsets = device(h.fake_offsets);
    return d;
  }

  ganloss_status_t run(const ganloss_outputs_t& o, cudaStream_t stream = nullptr,
                       bool initialized = false) {
    ganloss_execution_t e;
    ganloss_execution_init(&e);
    e.workspace_initialized = initialized ? 1 : 0;
    const ganloss_outputs_t d = outputs(o);
    const ganloss_inputs_t in = inputs();
    return ganloss_compute(&host_.problem, &in, &d, device(host_.workspace.data()),
                           host_.workspace.bytes(), &e, stream);
  }

  // Copies every output buffer (and the workspace) back, guards included.
  void fetch() {
    for (auto& m : mirrors_) {
      if (m.first == &host_.real || m.first == &host_.fake || m.first == &host_.real_weights ||
          m.first == &host_.fake_weights || m.first == &host_.real_offsets ||
          m.first == &host_.fake_offsets) {
        continue;
      }
      cudaMemcpy(m.first->raw(), m.second, m.first->raw_bytes(), cudaMemcpyDeviceToHost);
    }
  }

 private:
  std::vector<GuardedBuffer*> buffers() {
    std::vector<GuardedBuffer*> all = host_.output_buffers();
    for (GuardedBuffer* b : {&host_.real, &host_.fake, &host_.real_weights, &host_.fake_weights,
                             &host_.real_offsets, &host_.fake_offsets, &host_.workspace}) {
      all.push_back(b);
    }
    return all;
  }

  HostCall& host_;
  std::vector<std::pair<GuardedBuffer*, void*>> mirrors_;
};

void size_workspace(HostCall& call) {
  std::size_t bytes = 0;
  ASSERT_EQ(ganloss_workspace_size(&call.problem, GANLOSS_BACKEND_CUDA, &bytes),
            GANLOSS_STATUS_SUCCESS);
  call.workspace = GuardedBuffer(bytes);
}

// Runs `call` on the GPU with a workspace of the queried size, waits, and copies every output
// (guards included) back into the call's host buffers.
void run_on_device(HostCall& call, const ganloss_outputs_t& o) {
  ASSERT_NO_FATAL_FAILURE(size_workspace(call));
  DeviceCall device(call);
  ASSERT_EQ(device.run(o), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
  CUDA_OK(cudaDeviceSynchronize());
  device.fetch();
}

class CudaMatrix : public ::testing::WithParamInterface<KernelCase>, public CudaTest {};

TEST_P(CudaMatrix, MatchesReference) {
  const KernelCase& c = GetParam();
  HostCall call(testing::problem_of(c), std::hash<std::string>{}(c.name()));
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_NO_FATAL_FAILURE(run_on_device(call, o));
  const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
  EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaMatrix, ::testing::ValuesIn(testing::kernel_cases()),
                         [](const ::testing::TestParamInfo<KernelCase>& i) {
                           return i.param.name();
                         });

class CudaFamily : public ::testing::WithParamInterface<testing::FamilyCase>, public CudaTest {};

TEST_P(CudaFamily, MatchesReference) {
  HostCall call = testing::make_family_call(GetParam());
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_NO_FATAL_FAILURE(run_on_device(call, o));
  const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
  EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaFamily, ::testing::ValuesIn(testing::family_cases()),
                         [](const ::testing::TestParamInfo<testing::FamilyCase>& i) {
                           return i.param.name();
                         });

class CudaNonfinite : public ::testing::WithParamInterface<testing::NonfiniteCase>,
                      public CudaTest {};

TEST_P(CudaNonfinite, GivesTheDocumentedResult) {
  const testing::NonfiniteCase& c = GetParam();
  HostCall call(testing::nonfinite_problem(c));
  testing::fill_nonfinite(call, c);
  ASSERT_NO_FATAL_FAILURE(run_on_device(call, call.all_outputs()));
  testing::expect_documented(call, c, "cuda");
}

INSTANTIATE_TEST_SUITE_P(Table, CudaNonfinite, ::testing::ValuesIn(testing::nonfinite_cases()),
                         [](const ::testing::TestParamInfo<testing::NonfiniteCase>& i) {
                           return i.param.name();
                         });

class CudaWeightRange : public ::testing::WithParamInterface<testing::WeightRangeCase>,
                        public CudaTest {};

TEST_P(CudaWeightRange, ScaledWeightsGiveTheSameBitsOrNaNBeyondFltMax) {
  testing::expect_weight_range(GetParam(), "cuda", kCudaKernelError, [](HostCall& call) {
    run_on_device(call, testing::weight_range_outputs(call));
  });
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaWeightRange, ::testing::ValuesIn(testing::weight_range_cases()),
                         [](const ::testing::TestParamInfo<testing::WeightRangeCase>& i) {
                           return i.param.name();
                         });

class CudaZeroWeights : public ::testing::WithParamInterface<testing::MaskCase>, public CudaTest {};

TEST_P(CudaZeroWeights, MaskNonfiniteAndOverflowingTerms) {
  HostCall call = testing::mask_call(GetParam());
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_NO_FATAL_FAILURE(run_on_device(call, o));
  testing::expect_masked(call, o, kCudaKernelError, "cuda");
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaZeroWeights, ::testing::ValuesIn(testing::mask_cases()),
                         [](const ::testing::TestParamInfo<testing::MaskCase>& i) {
                           return i.param.name();
                         });

TEST_F(CudaTest, EachOutputAloneInEveryRegime) {
  for (const testing::Shape& s : {testing::kShapes[2], testing::kShapes[6], testing::kShapes[12]}) {
    for (int which = 0; which < testing::kOutputCount; ++which) {
      auto p =
          testing::make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_NONSATURATING,
                                GANLOSS_LOSS_MINIMAX, GANLOSS_REDUCTION_MEAN);
      HostCall call(p, static_cast<uint64_t>(which));
      size_workspace(call);
      DeviceCall device(call);
      const ganloss_outputs_t o = testing::only(call.all_outputs(), which);
      ASSERT_EQ(device.run(o), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
      CUDA_OK(cudaDeviceSynchronize());
      device.fetch();
      const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
      EXPECT_LE(cmp.worst(), 1.0) << s.name << " output " << which << ": " << cmp.first_failure;
    }
  }
}

TEST_F(CudaTest, BitwiseIdenticalOverOneHundredCalls) {
  for (const testing::Shape& s : {testing::kShapes[3], testing::kShapes[8], testing::kShapes[13]}) {
    auto p =
        testing::make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_NONSATURATING,
                              GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
    p.real_stride = s.real_stride;
    p.fake_stride = s.fake_stride;
    HostCall call(p, 5);
    size_workspace(call);
    DeviceCall device(call);
    const ganloss_outputs_t o = call.all_outputs();
    ASSERT_EQ(device.run(o), GANLOSS_STATUS_SUCCESS);
    device.fetch();
    const std::vector<uint8_t> first = call.output_bytes();
    for (int i = 0; i < 100; ++i) {
      ASSERT_EQ(device.run(o), GANLOSS_STATUS_SUCCESS);
      device.fetch();
      ASSERT_TRUE(call.output_bytes() == first) << s.name << " differs at call " << i;
    }
  }
}

TEST_F(CudaTest, GraphCaptureAndReplay) {
  const testing::Shape& s = testing::kShapes[12];  // chunk regime: memset + kernel
  auto p = testing::make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_HINGE,
                                 GANLOSS_LOSS_HINGE, GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 8);
  size_workspace(call);
  DeviceCall device(call);
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(device.run(o), GANLOSS_STATUS_SUCCESS);
  device.fetch();
  const std::vector<uint8_t> direct = call.output_bytes();

  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  ASSERT_EQ(device.run(o, stream), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 3; ++replay) {
    CUDA_OK(cudaGraphLaunch(exec, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    device.fetch();
    EXPECT_TRUE(call.output_bytes() == direct) << "replay " << replay;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

// A multi-pass call whose segments each fit in one warp or one block is one kernel (its passes
// fused, kernel::fused_sequence_for); a chunked one is a kernel per pass. Counted as the kernel
// nodes of the call captured into a graph, whose replay matches the reference.
TEST_F(CudaTest, MultiPassCallsThatFitOnChipAreOneKernel) {
  struct Case {
    int32_t kind;
    bool weights;
    testing::Shape shape;
    std::size_t kernels;
  };
  const int32_t ra = GANLOSS_LOSS_RELATIVISTIC_AVERAGE;
  const Case cases[] = {
      {ra, false, testing::kShapes[2], 1},                         // warp: prepass, main, gradients
      {ra, true, testing::kShapes[8], 1},                          // block
      {ra, false, testing::kShapes[11], 3},                        // chunk: a kernel per pass
      {GANLOSS_LOSS_NONSATURATING, true, testing::kShapes[6], 1},  // weighted mean
  };
  for (const Case& c : cases) {
    auto p = testing::make_problem(c.shape.segments, c.shape.real_count, c.shape.fake_count, c.kind,
                                   c.kind, GANLOSS_REDUCTION_MEAN);
    HostCall call(p, 12, testing::CallData{c.weights, c.weights, {}, {}});
    size_workspace(call);
    DeviceCall device(call);
    const ganloss_outputs_t o = call.all_outputs();
    cudaStream_t stream;
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    cudaGraph_t graph;
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    ASSERT_EQ(device.run(o, stream), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    CUDA_OK(cudaStreamEndCapture(stream, &graph));
    std::size_t count = 0;
    CUDA_OK(cudaGraphGetNodes(graph, nullptr, &count));
    std::vector<cudaGraphNode_t> nodes(count);
    CUDA_OK(cudaGraphGetNodes(graph, nodes.data(), &count));
    std::size_t kernels = 0;
    for (cudaGraphNode_t n : nodes) {
      cudaGraphNodeType type;
      CUDA_OK(cudaGraphNodeGetType(n, &type));
      if (type == cudaGraphNodeTypeKernel) ++kernels;
    }
    EXPECT_EQ(kernels, c.kernels) << testing::describe(call.problem);
    cudaGraphExec_t exec;
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    CUDA_OK(cudaGraphLaunch(exec, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    device.fetch();
    const Comparison cmp = testing::compare_with_reference(call, o, kCudaKernelError);
    EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
  }
}

TEST_F(CudaTest, TwoStreamsAtOnce) {
  auto p1 =
      testing::make_problem(1, 3 * testing::C + 11, 2 * testing::C, GANLOSS_LOSS_NONSATURATING,
                            GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
  auto p2 = testing::make_problem(4000, 100, 60, GANLOSS_LOSS_LEAST_SQUARES,
                                  GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_REDUCTION_SUM);
  HostCall a(p1, 1), b(p2, 2);
  size_workspace(a);
  size_workspace(b);
  DeviceCall da(a), db(b);
  cudaStream_t s1, s2;
  CUDA_OK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CUDA_OK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(da.run(a.all_outputs(), s1), GANLOSS_STATUS_SUCCESS);
    ASSERT_EQ(db.run(b.all_outputs(), s2), GANLOSS_STATUS_SUCCESS);
  }
  CUDA_OK(cudaStreamSynchronize(s1));
  CUDA_OK(cudaStreamSynchronize(s2));
  da.fetch();
  db.fetch();
  for (HostCall* c : {&a, &b}) {
    const Comparison cmp = testing::compare_with_reference(*c, c->all_outputs(), kCudaKernelError);
    EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
  }
  cudaStreamDestroy(s1);
  cudaStreamDestroy(s2);
}

// Several host threads, each with its own stream and problems, at once: the same bits as the
// serial calls.
TEST_F(CudaTest, ManyHostThreadsOnTheirOwnStreams) {
  const std::vector<testing::FamilyCase> all = testing::family_cases();
  std::vector<testing::FamilyCase> cases;
  for (std::size_t i = 0; i < all.size() && cases.size() < 6; i += all.size() / 6) {
    cases.push_back(all[i]);
  }
  std::vector<std::vector<uint8_t>> serial;
  for (const auto& c : cases) {
    HostCall call = testing::make_family_call(c);
    size_workspace(call);
    DeviceCall device(call);
    ASSERT_EQ(device.run(call.all_outputs()), GANLOSS_STATUS_SUCCESS);
    CUDA_OK(cudaDeviceSynchronize());
    device.fetch();
    serial.push_back(call.output_bytes());
  }
  int device_index = 0;
  CUDA_OK(cudaGetDevice(&device_index));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < cases.size(); ++t) {
    threads.emplace_back([&, t] {
      cudaSetDevice(device_index);
      cudaStream_t stream;
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
      for (int repeat = 0; repeat < 5; ++repeat) {
        HostCall call = testing::make_family_call(cases[t]);
        std::size_t bytes = 0;
        ganloss_workspace_size(&call.problem, GANLOSS_BACKEND_CUDA, &bytes);
        call.workspace = GuardedBuffer(bytes);
        DeviceCall device(call);
        if (device.run(call.all_outputs(), stream) != GANLOSS_STATUS_SUCCESS) ++mismatches;
        cudaStreamSynchronize(stream);
        device.fetch();
        if (call.output_bytes() != serial[t]) ++mismatches;
      }
      cudaStreamDestroy(stream);
    });
  }
  for (std::thread& t : threads)
    t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// Memory of another GPU is refused (the kernel would fault on it); documented in ganloss.h.
TEST_F(CudaTest, AnotherDevicesMemoryIsRefused) {
  int count = 0;
  CUDA_OK(cudaGetDeviceCount(&count));
  if (count < 2) GTEST_SKIP() << "one GPU here: no other device's memory to pass";
  auto p = testing::make_problem(1, 64, 64, 0, 0, GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 3);
  size_workspace(call);
  CUDA_OK(cudaSetDevice(1));
  DeviceCall other(call);  // every buffer on device 1
  CUDA_OK(cudaSetDevice(0));
  EXPECT_EQ(other.run(call.all_outputs()), GANLOSS_STATUS_INVALID_MEMORY);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("device 1"), std::string::npos);
}

// The kernel's index arithmetic past 2^31 on the device: row 1 of the real logits starts at
// element 2^31 + 8, in the chunk regime.
TEST_F(CudaTest, RowsPastTwoToTheThirtyOneElements) {
  const int64_t stride = (int64_t{1} << 31) + 8, count = 40000;
  auto p = testing::make_problem(2, count, 5000, GANLOSS_LOSS_NONSATURATING,
                                 GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
  p.dtype = GANLOSS_DTYPE_F16;
  p.real_stride = stride;
  auto dense = testing::make_problem(2, count, 5000, GANLOSS_LOSS_NONSATURATING,
                                     GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
  dense.dtype = GANLOSS_DTYPE_F16;
  HostCall rounded(dense, 7);  // the rows, dense, for the reference
  const std::size_t extent = static_cast<std::size_t>(stride + count) * 2;
  void *real = nullptr, *grad = nullptr, *fake = nullptr, *ws = nullptr;
  if (cudaMalloc(&real, extent) != cudaSuccess || cudaMalloc(&grad, extent) != cudaSuccess) {
    cudaFree(real);
    GTEST_SKIP() << "not enough device memory for two 4.3 GB arrays";
  }
  CUDA_OK(cudaMalloc(&fake, rounded.fake.bytes()));
  std::size_t bytes = 0;
  ASSERT_EQ(ganloss_workspace_size(&p, GANLOSS_BACKEND_CUDA, &bytes), GANLOSS_STATUS_SUCCESS);
  CUDA_OK(cudaMalloc(&ws, bytes));
  for (int64_t s = 0; s < 2; ++s) {
    CUDA_OK(cudaMemcpy(static_cast<uint16_t*>(real) + s * stride,
                       rounded.real.as<uint16_t>() + s * count, count * 2, cudaMemcpyHostToDevice));
  }
  CUDA_OK(cudaMemcpy(fake, rounded.fake.data(), rounded.fake.bytes(), cudaMemcpyHostToDevice));
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = real;
  in.fake = fake;
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  void* d_loss = nullptr;
  CUDA_OK(cudaMalloc(&d_loss, 8));
  o.d_loss = static_cast<float*>(d_loss);
  o.grad_real = grad;
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  ASSERT_EQ(ganloss_compute(&p, &in, &o, ws, bytes, &e, nullptr), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  CUDA_OK(cudaDeviceSynchronize());
  for (int64_t s = 0; s < 2; ++s) {
    CUDA_OK(cudaMemcpy(rounded.grad_real.as<uint16_t>() + s * count,
                       static_cast<uint16_t*>(grad) + s * stride, count * 2,
                       cudaMemcpyDeviceToHost));
  }
  CUDA_OK(cudaMemcpy(rounded.d_loss.data(), d_loss, 8, cudaMemcpyDeviceToHost));
  ganloss_outputs_t checked;
  ganloss_outputs_init(&checked);
  checked.d_loss = rounded.d_loss.as<float>();
  checked.grad_real = rounded.grad_real.data();
  const Comparison cmp = testing::compare_values_with_reference(rounded, checked, kCudaKernelError);
  EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
  for (void* ptr : {real, grad, fake, ws, static_cast<void*>(d_loss)})
    cudaFree(ptr);
}

TEST_F(CudaTest, WorkspaceZeroedOnceServesManyCalls) {
  auto p = testing::make_problem(3, testing::C, testing::C + 100, GANLOSS_LOSS_WASSERSTEIN,
                                 GANLOSS_LOSS_WASSERSTEIN, GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 4);
  size_workspace(call);
  std::memset(call.workspace.data(), 0, call.workspace.bytes());
  DeviceCall device(call);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(device.run(call.all_outputs(), nullptr, /*initialized=*/true),
              GANLOSS_STATUS_SUCCESS);
  }
  CUDA_OK(cudaDeviceSynchronize());
  device.fetch();
  for (int64_t s = 0; s < 3; ++s)
    EXPECT_EQ(call.workspace.as<uint32_t>()[s], 0u);
  const Comparison cmp =
      testing::compare_with_reference(call, call.all_outputs(), kCudaKernelError);
  EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
}

TEST_F(CudaTest, InPlaceGradientsInEveryDtypeAndRegime) {
  for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16}) {
    for (const testing::Shape& s :
         {testing::kShapes[3], testing::kShapes[7], testing::kShapes[13]}) {
      auto p = testing::make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_HINGE,
                                     GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
      p.real_stride = s.real_stride;
      p.fake_stride = s.fake_stride;
      p.dtype = dtype;
      HostCall out_of_place(p, 31), in_place(p, 31);
      size_workspace(out_of_place);
      size_workspace(in_place);
      DeviceCall a(out_of_place), b(in_place);
      ASSERT_EQ(a.run(out_of_place.all_outputs()), GANLOSS_STATUS_SUCCESS);
      ganloss_outputs_t o = in_place.all_outputs();
      o.grad_real = in_place.real.data();
      o.grad_fake_g = in_place.fake.data();
      o.grad_fake_d = nullptr;
      ASSERT_EQ(b.run(o), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
      CUDA_OK(cudaDeviceSynchronize());
      a.fetch();
      // The logits came back from the device as well: fetch them explicitly.
      CUDA_OK(cudaMemcpy(in_place.real.raw(), b.device(in_place.real.raw()),
                         in_place.real.raw_bytes(), cudaMemcpyDeviceToHost));
      CUDA_OK(cudaMemcpy(in_place.fake.raw(), b.device(in_place.fake.raw()),
                         in_place.fake.raw_bytes(), cudaMemcpyDeviceToHost));
      b.fetch();
      const int64_t e = testing::logit_bytes(p);
      auto rows_equal = [&](const void* x, const void* y, int64_t count, int64_t stride_arg) {
        const int64_t stride = testing::stride_of(p, count, stride_arg);
        for (int64_t r = 0; r < p.segments; ++r) {
          if (std::memcmp(static_cast<const uint8_t*>(x) + r * stride * e,
                          static_cast<const uint8_t*>(y) + r * stride * e,
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
    }
  }
}

TEST_F(CudaTest, HostMemoryIsRefusedAndNothingRuns) {
  auto p = testing::make_problem(1, 64, 64, 0, 0, GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 3);
  size_workspace(call);
  DeviceCall device(call);
  ganloss_outputs_t o = device.outputs(call.all_outputs());
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  // Host logits with device outputs and a workspace of the size asked for: refused before any
  // launch (a missing workspace would be refused first, as too small).
  ganloss_inputs_t in = device.inputs();
  in.real = call.real.data();
  EXPECT_EQ(ganloss_compute(&p, &in, &o, device.device(call.workspace.data()),
                            call.workspace.bytes(), &e, nullptr),
            GANLOSS_STATUS_INVALID_MEMORY);
  EXPECT_NE(std::string(ganloss_last_error_message()).find("real logits"), std::string::npos);
  // Device memory handed to the CPU backend: refused as well.
  e.backend = GANLOSS_BACKEND_CPU;
  std::vector<double> ws(1024);
  in = device.inputs();
  EXPECT_EQ(ganloss_compute(&p, &in, &o, ws.data(), ws.size() * 8, &e, nullptr),
            GANLOSS_STATUS_INVALID_MEMORY);
  CUDA_OK(cudaDeviceSynchronize());
}

}  // namespace
}  // namespace ganloss
