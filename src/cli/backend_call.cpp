// Buffers, the library call and the trip back to the host; see backend_call.hpp.
#include "backend_call.hpp"

#include <chrono>
#include <cstring>

#include "cli_error.hpp"
#include "enum_names.hpp"
#include "host_dtype.hpp"

#if defined(GANLOSS_CLI_CUDA)
#include <cuda_runtime.h>
#endif

namespace ganloss {
namespace cli {
namespace {

// Every output buffer starts as this byte pattern and carries this many guard bytes after
// its end, so that writes into gaps between rows or past the end show up in download().
constexpr uint8_t kSentinelByte = 0xA5;
constexpr int64_t kGuardBytes = 256;

enum OutputIndex : int {
  kDLoss,
  kDLossReal,
  kDLossFake,
  kGLoss,
  kGradReal,
  kGradFakeD,
  kGradFakeG,
  kLossReal,
  kLossFakeD,
  kLossFakeG,
  kOutputCount
};

int64_t row_stride(const ganloss_problem_t& p, int64_t count, int64_t stride) {
  return (stride == 0 || p.segments == 1) ? count : stride;
}

std::size_t to_size(int64_t n) {
  return static_cast<std::size_t>(n);
}

// One stored element of `dtype` as f32 (exact: f16 and bf16 are subsets of f32).
float decode_value(const uint8_t* p, int32_t dtype) {
  if (dtype == GANLOSS_DTYPE_F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == GANLOSS_DTYPE_F16 ? detail::half_to_float(h) : detail::bfloat16_to_float(h);
}

}  // namespace

int64_t side_extent(const ganloss_problem_t& p, int64_t count, int64_t stride) {
  if (count == 0 || p.segments == 0) return 0;
  return (p.segments - 1) * row_stride(p, count, stride) + count;
}

int64_t dtype_bytes(int32_t dtype) {
  return dtype == GANLOSS_DTYPE_F32 ? 4 : 2;
}

int32_t gradient_dtype(const ganloss_problem_t& p) {
  return p.fp32_gradients ? GANLOSS_DTYPE_F32 : p.dtype;
}

std::vector<uint8_t> encode_values(std::span<const float> values, int32_t dtype) {
  std::vector<uint8_t> bytes(values.size() * to_size(dtype_bytes(dtype)));
  if (dtype == GANLOSS_DTYPE_F32) {
    if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = dtype == GANLOSS_DTYPE_F16 ? detail::float_to_half(values[i])
                                                  : detail::float_to_bfloat16(values[i]);
    std::memcpy(bytes.data() + 2 * i, &h, 2);
  }
  return bytes;
}

BackendCall::BackendCall(const ganloss_problem_t& problem, int32_t backend, int threads,
                         bool element_losses)
    : problem_(problem), space_(memory_space_of(backend)) {
  ganloss_execution_init(&execution_);
  execution_.backend = backend;
  execution_.cpu_threads = threads;
  backend_failure_ = std::string("the ") + backend_name(backend) + " backend failed";
  // The size query validates the problem, so the extents below cannot overflow. Its message
  // names the offending parameter, which is all a user needs.
  check_status(ganloss_workspace_size(&problem_, backend, &workspace_bytes_), "");
  real_extent_ = side_extent(problem, problem.real_count, problem.real_stride);
  fake_extent_ = side_extent(problem, problem.fake_count, problem.fake_stride);

  const int64_t t = dtype_bytes(problem.dtype);
  real_ = DeviceBuffer(space_, to_size(real_extent_ * t));
  fake_ = DeviceBuffer(space_, to_size(fake_extent_ * t));
  workspace_ = DeviceBuffer(space_, workspace_bytes_);

  const int64_t s = problem.segments;
  const int64_t nr = problem.real_count, nf = problem.fake_count;
  const int64_t sr = row_stride(problem, nr, problem.real_stride);
  const int64_t sf = row_stride(problem, nf, problem.fake_stride);
  const int64_t losses = element_losses ? 1 : 0;
  // Per-segment outputs and element losses are always f32; gradients are not.
  const int32_t f32 = GANLOSS_DTYPE_F32;
  const int32_t g = gradient_dtype(problem);
  outputs_.push_back(make_output("d_loss", s, s, 1, f32));
  outputs_.push_back(make_output("d_loss_real", s, s, 1, f32));
  outputs_.push_back(make_output("d_loss_fake", s, s, 1, f32));
  outputs_.push_back(make_output("g_loss", s, s, 1, f32));
  outputs_.push_back(make_output("grad_real", nr, sr, s, g));
  outputs_.push_back(make_output("grad_fake_d", nf, sf, s, g));
  outputs_.push_back(make_output("grad_fake_g", nf, sf, s, g));
  outputs_.push_back(make_output("loss_real", nr, sr, s * losses, f32));
  outputs_.push_back(make_output("loss_fake_d", nf, sf, s * losses, f32));
  outputs_.push_back(make_output("loss_fake_g", nf, sf, s * losses, f32));
}

BackendCall::Output BackendCall::make_output(const char* name, int64_t count, int64_t stride,
                                             int64_t rows, int32_t dtype) const {
  Output o{name, DeviceBuffer(), count, stride, rows, dtype};
  if (rows == 0 || count == 0) return o;
  const int64_t extent = (rows - 1) * stride + count;
  o.buffer = DeviceBuffer(space_, to_size(extent * dtype_bytes(dtype) + kGuardBytes));
  o.buffer.fill(kSentinelByte);
  return o;
}

void* BackendCall::pointer(int index) const {
  return outputs_[to_size(index)].buffer.data();
}

void BackendCall::upload(std::span<const float> real, std::span<const float> fake) {
  upload_encoded(encode_values(real, problem_.dtype), encode_values(fake, problem_.dtype));
}

void BackendCall::upload_encoded(std::span<const uint8_t> real, std::span<const uint8_t> fake) {
  const int64_t t = dtype_bytes(problem_.dtype);
  if (static_cast<int64_t>(real.size()) != real_extent_ * t ||
      static_cast<int64_t>(fake.size()) != fake_extent_ * t) {
    throw_failure("internal error: logits do not match the problem's extents");
  }
  real_.copy_from_host(real.data(), real.size());
  fake_.copy_from_host(fake.data(), fake.size());
}

void BackendCall::compute() const {
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  o.d_loss = static_cast<float*>(pointer(kDLoss));
  o.d_loss_real = static_cast<float*>(pointer(kDLossReal));
  o.d_loss_fake = static_cast<float*>(pointer(kDLossFake));
  o.g_loss = static_cast<float*>(pointer(kGLoss));
  o.grad_real = pointer(kGradReal);
  o.grad_fake_d = pointer(kGradFakeD);
  o.grad_fake_g = pointer(kGradFakeG);
  o.loss_real = static_cast<float*>(pointer(kLossReal));
  o.loss_fake_d = static_cast<float*>(pointer(kLossFakeD));
  o.loss_fake_g = static_cast<float*>(pointer(kLossFakeG));
  check_status(ganloss_compute(&problem_, real_.data(), fake_.data(), &o, workspace_.data(),
                               workspace_bytes_, &execution_, nullptr),
               backend_failure_.c_str());
}

void BackendCall::run() {
  compute();
  synchronize(space_);
}

double BackendCall::timed_run() {
  if (space_ == MemorySpace::cuda) {
#if defined(GANLOSS_CLI_CUDA)
    cudaEvent_t start = nullptr, stop = nullptr;
    cudaError_t error = cudaEventCreate(&start);
    if (error == cudaSuccess) error = cudaEventCreate(&stop);
    if (error == cudaSuccess) error = cudaEventRecord(start, nullptr);
    float milliseconds = 0.0f;
    if (error == cudaSuccess) {
      try {
        compute();
      } catch (...) {
        cudaEventDestroy(start);
        cudaEventDestroy(stop);
        throw;
      }
      error = cudaEventRecord(stop, nullptr);
    }
    if (error == cudaSuccess) error = cudaEventSynchronize(stop);
    if (error == cudaSuccess) error = cudaEventElapsedTime(&milliseconds, start, stop);
    if (start != nullptr) cudaEventDestroy(start);
    if (stop != nullptr) cudaEventDestroy(stop);
    if (error != cudaSuccess) throw_failure("timing the CUDA call: %s", cudaGetErrorString(error));
    synchronize(space_);
    return static_cast<double>(milliseconds) * 1e-3;
#endif
  }
  const auto begin = std::chrono::steady_clock::now();
  run();
  const auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(end - begin).count();
}

std::vector<float> BackendCall::fetch(const Output& o, std::vector<std::string>* stray) const {
  if (o.buffer.data() == nullptr) return {};
  std::vector<uint8_t> raw(o.buffer.bytes());
  o.buffer.copy_to_host(raw.data(), raw.size());
  const int64_t extent = (o.rows - 1) * o.stride + o.count;
  const int64_t e = dtype_bytes(o.dtype);
  bool stray_write = false;
  for (int64_t b = extent * e; b < static_cast<int64_t>(raw.size()); ++b) {
    stray_write |= raw[to_size(b)] != kSentinelByte;
  }
  std::vector<float> values(to_size(extent));
  for (int64_t row = 0; row < o.rows; ++row) {
    for (int64_t i = 0; i < o.stride && row * o.stride + i < extent; ++i) {
      const int64_t index = row * o.stride + i;
      const uint8_t* p = raw.data() + index * e;
      if (i < o.count) {
        values[to_size(index)] = decode_value(p, o.dtype);
        continue;
      }
      for (int64_t k = 0; k < e; ++k)
        stray_write |= p[k] != kSentinelByte;
    }
  }
  if (stray_write) stray->push_back(std::string(o.name) + " was written outside its rows");
  return values;
}

HostResults BackendCall::download() const {
  synchronize(space_);
  HostResults r;
  std::vector<float>* targets[kOutputCount] = {
      &r.d_loss,      &r.d_loss_real, &r.d_loss_fake, &r.g_loss,      &r.grad_real,
      &r.grad_fake_d, &r.grad_fake_g, &r.loss_real,   &r.loss_fake_d, &r.loss_fake_g};
  for (int i = 0; i < kOutputCount; ++i) {
    *targets[i] = fetch(outputs_[to_size(i)], &r.stray_writes);
  }
  return r;
}

}  // namespace cli
}  // namespace ganloss
