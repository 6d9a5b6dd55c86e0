// Buffers, the library call and the trip back to the host; see backend_call.hpp.
#include "backend_call.hpp"

#include <algorithm>
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
// its end, so that writes outside the rows or past the end show up in download().
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
  kGradRealG,
  kLossReal,
  kLossFakeD,
  kLossFakeG,
  kLossRealG,
  kStats,
  kOutputCount
};

constexpr int kReal = 0;
constexpr int kFake = 1;
constexpr int kPerSegment = -1;

int64_t row_stride(const ganloss_problem_t& p, int64_t count, int64_t stride) {
  return (stride == 0 || p.segments == 1) ? count : stride;
}

std::size_t to_size(int64_t n) {
  return static_cast<std::size_t>(n);
}

template <typename T>
std::span<const uint8_t> as_bytes(std::span<const T> values) {
  return {reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()};
}

// A host array into a buffer of the backend's memory; an empty array stays an empty buffer,
// which the call passes as null.
DeviceBuffer upload_bytes(MemorySpace space, std::span<const uint8_t> bytes) {
  DeviceBuffer buffer(space, bytes.size());
  buffer.copy_from_host(bytes.data(), bytes.size());
  return buffer;
}

}  // namespace

int64_t side_extent(const ganloss_problem_t& p, int64_t count, int64_t stride) {
  if (p.ragged == 1) return count;
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

ganloss_inputs_t library_inputs(const HostInputs& h) {
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = h.real.empty() ? nullptr : h.real.data();
  in.fake = h.fake.empty() ? nullptr : h.fake.data();
  in.real_weights = h.real_weights.empty() ? nullptr : h.real_weights.data();
  in.fake_weights = h.fake_weights.empty() ? nullptr : h.fake_weights.data();
  in.real_offsets = h.real_offsets.empty() ? nullptr : h.real_offsets.data();
  in.fake_offsets = h.fake_offsets.empty() ? nullptr : h.fake_offsets.data();
  return in;
}

HostArray::HostArray(int32_t dtype, std::span<const uint8_t> bytes)
    : dtype_(dtype), size_(static_cast<int64_t>(bytes.size()) / dtype_bytes(dtype)) {
  if (size_ == 0) return;
  if (dtype == GANLOSS_DTYPE_F32) {
    f32_.resize(to_size(size_));
    std::memcpy(f32_.data(), bytes.data(), bytes.size());
  } else {
    bits16_.resize(to_size(size_));
    std::memcpy(bits16_.data(), bytes.data(), bytes.size());
  }
}

void* HostArray::data() {
  if (size_ == 0) return nullptr;
  return dtype_ == GANLOSS_DTYPE_F32 ? static_cast<void*>(f32_.data())
                                     : static_cast<void*>(bits16_.data());
}

std::vector<float> HostArray::values() const {
  if (dtype_ == GANLOSS_DTYPE_F32) return f32_;
  std::vector<float> v(bits16_.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = dtype_ == GANLOSS_DTYPE_F16 ? detail::half_to_float(bits16_[i])
                                       : detail::bfloat16_to_float(bits16_[i]);
  }
  return v;
}

ganloss_outputs_t HostResults::outputs() {
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  o.d_loss = static_cast<float*>(d_loss.data());
  o.d_loss_real = static_cast<float*>(d_loss_real.data());
  o.d_loss_fake = static_cast<float*>(d_loss_fake.data());
  o.g_loss = static_cast<float*>(g_loss.data());
  o.grad_real = grad_real.data();
  o.grad_fake_d = grad_fake_d.data();
  o.grad_fake_g = grad_fake_g.data();
  o.grad_real_g = grad_real_g.data();
  o.loss_real = static_cast<float*>(loss_real.data());
  o.loss_fake_d = static_cast<float*>(loss_fake_d.data());
  o.loss_fake_g = static_cast<float*>(loss_fake_g.data());
  o.loss_real_g = static_cast<float*>(loss_real_g.data());
  o.stats = stats.empty() ? nullptr : stats.data();
  return o;
}

BackendCall::BackendCall(const ganloss_problem_t& problem, int32_t backend, int threads,
                         const OutputRequest& request)
    : problem_(problem), space_(memory_space_of(backend)) {
  ganloss_execution_init(&execution_);
  execution_.backend = backend;
  execution_.cpu_threads = threads;
  backend_failure_ = std::string("the ") + backend_name(backend) + " backend failed";
  // The size query validates the problem, so the extents below cannot overflow. Its message
  // names the offending parameter, which is all a user needs.
  check_status(ganloss_workspace_size(&problem_, backend, &workspace_bytes_), "");
  extent_[kReal] = side_extent(problem, problem.real_count, problem.real_stride);
  extent_[kFake] = side_extent(problem, problem.fake_count, problem.fake_stride);
  workspace_ = DeviceBuffer(space_, workspace_bytes_);

  // Fixed-length rows are known now; ragged ones once upload() has the offsets.
  const int64_t counts[2] = {problem.real_count, problem.fake_count};
  const int64_t strides[2] = {problem.real_stride, problem.fake_stride};
  for (const int side : {kReal, kFake}) {
    in_row_[side].assign(to_size(extent_[side]), 0);
    if (problem.ragged == 1) continue;
    const int64_t stride = row_stride(problem, counts[side], strides[side]);
    for (int64_t s = 0; s < problem.segments && counts[side] > 0; ++s) {
      std::fill_n(in_row_[side].begin() + s * stride, counts[side], uint8_t{1});
    }
  }

  const int64_t s = problem.segments;
  const int64_t er = extent_[kReal], ef = extent_[kFake];
  const bool losses = request.element_losses;
  // Per-segment outputs and element losses are always f32; gradients are not.
  const int32_t f32 = GANLOSS_DTYPE_F32;
  const int32_t g = gradient_dtype(problem);
  const int64_t gb = dtype_bytes(g);
  outputs_.push_back(make_output("d_loss", true, s, 4, f32, kPerSegment));
  outputs_.push_back(make_output("d_loss_real", true, s, 4, f32, kPerSegment));
  outputs_.push_back(make_output("d_loss_fake", true, s, 4, f32, kPerSegment));
  outputs_.push_back(make_output("g_loss", true, s, 4, f32, kPerSegment));
  outputs_.push_back(make_output("grad_real", true, er, gb, g, kReal));
  outputs_.push_back(make_output("grad_fake_d", true, ef, gb, g, kFake));
  outputs_.push_back(make_output("grad_fake_g", true, ef, gb, g, kFake));
  outputs_.push_back(make_output("grad_real_g", request.grad_real_g, er, gb, g, kReal));
  outputs_.push_back(make_output("loss_real", losses, er, 4, f32, kReal));
  outputs_.push_back(make_output("loss_fake_d", losses, ef, 4, f32, kFake));
  outputs_.push_back(make_output("loss_fake_g", losses, ef, 4, f32, kFake));
  outputs_.push_back(make_output("loss_real_g", losses && request.grad_real_g, er, 4, f32, kReal));
  outputs_.push_back(make_output("stats", request.stats, s,
                                 static_cast<int64_t>(sizeof(ganloss_segment_stats_t)), f32,
                                 kPerSegment));
}

BackendCall::Output BackendCall::make_output(const char* name, bool wanted, int64_t count,
                                             int64_t element_bytes, int32_t dtype, int side) const {
  Output o{name, DeviceBuffer(), count, element_bytes, dtype, side};
  if (!wanted || count == 0) return o;
  o.buffer = DeviceBuffer(space_, to_size(count * element_bytes + kGuardBytes));
  o.buffer.fill(kSentinelByte);
  return o;
}

void* BackendCall::pointer(int index) const {
  return outputs_[to_size(index)].buffer.data();
}

void BackendCall::upload(std::span<const float> real, std::span<const float> fake) {
  const std::vector<uint8_t> r = encode_values(real, problem_.dtype);
  const std::vector<uint8_t> f = encode_values(fake, problem_.dtype);
  upload(HostInputs{r, f, {}, {}, {}, {}});
}

void BackendCall::upload(const HostInputs& in) {
  const int64_t t = dtype_bytes(problem_.dtype);
  const auto size = [](auto span) { return static_cast<int64_t>(span.size()); };
  const bool ragged = problem_.ragged == 1;
  const int64_t offsets = ragged ? problem_.segments + 1 : 0;
  if (size(in.real) != extent_[kReal] * t || size(in.fake) != extent_[kFake] * t ||
      (!in.real_weights.empty() && size(in.real_weights) != extent_[kReal]) ||
      (!in.fake_weights.empty() && size(in.fake_weights) != extent_[kFake]) ||
      size(in.real_offsets) != offsets || size(in.fake_offsets) != offsets) {
    throw_failure("internal error: the inputs do not match the problem's extents");
  }
  if (ragged) {
    const std::span<const int64_t> side_offsets[2] = {in.real_offsets, in.fake_offsets};
    for (const int side : {kReal, kFake}) {
      const std::span<const int64_t> off = side_offsets[side];
      for (int64_t s = 0; s < problem_.segments; ++s) {
        const int64_t begin = off[to_size(s)], end = off[to_size(s + 1)];
        // The commands validate offsets first; a bad one must not index out of bounds here.
        if (begin < 0 || end < begin || end > extent_[side]) {
          throw_failure("internal error: invalid offsets reached the backend call");
        }
        std::fill(in_row_[side].begin() + begin, in_row_[side].begin() + end, uint8_t{1});
      }
    }
  }
  real_ = upload_bytes(space_, in.real);
  fake_ = upload_bytes(space_, in.fake);
  real_weights_ = upload_bytes(space_, as_bytes(in.real_weights));
  fake_weights_ = upload_bytes(space_, as_bytes(in.fake_weights));
  real_offsets_ = upload_bytes(space_, as_bytes(in.real_offsets));
  fake_offsets_ = upload_bytes(space_, as_bytes(in.fake_offsets));
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
  o.grad_real_g = pointer(kGradRealG);
  o.loss_real = static_cast<float*>(pointer(kLossReal));
  o.loss_fake_d = static_cast<float*>(pointer(kLossFakeD));
  o.loss_fake_g = static_cast<float*>(pointer(kLossFakeG));
  o.loss_real_g = static_cast<float*>(pointer(kLossRealG));
  o.stats = static_cast<ganloss_segment_stats_t*>(pointer(kStats));
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = real_.data();
  in.fake = fake_.data();
  in.real_weights = static_cast<const float*>(real_weights_.data());
  in.fake_weights = static_cast<const float*>(fake_weights_.data());
  in.real_offsets = static_cast<const int64_t*>(real_offsets_.data());
  in.fake_offsets = static_cast<const int64_t*>(fake_offsets_.data());
  check_status(ganloss_compute(&problem_, &in, &o, workspace_.data(), workspace_bytes_, &execution_,
                               nullptr),
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

std::vector<uint8_t> BackendCall::fetch(const Output& o, std::vector<std::string>* stray) const {
  if (o.buffer.data() == nullptr) return {};
  std::vector<uint8_t> raw(o.buffer.bytes());
  o.buffer.copy_to_host(raw.data(), raw.size());
  const std::size_t used = to_size(o.count * o.element_bytes);
  bool stray_write = false;
  for (std::size_t b = used; b < raw.size(); ++b)
    stray_write |= raw[b] != kSentinelByte;
  raw.resize(used);
  if (o.side != kPerSegment) {
    // Elements outside every row: untouched, then 0 (no loss, no gradient).
    const std::vector<uint8_t>& in_row = in_row_[o.side];
    const auto e = to_size(o.element_bytes);
    for (std::size_t i = 0; i < in_row.size(); ++i) {
      if (in_row[i]) continue;
      uint8_t* p = raw.data() + i * e;
      for (std::size_t k = 0; k < e; ++k)
        stray_write |= p[k] != kSentinelByte;
      std::memset(p, 0, e);
    }
  }
  if (stray_write) stray->push_back(std::string(o.name) + " was written outside its rows");
  return raw;
}

HostResults BackendCall::download() const {
  synchronize(space_);
  HostResults r;
  HostArray* arrays[kStats] = {&r.d_loss,    &r.d_loss_real, &r.d_loss_fake, &r.g_loss,
                               &r.grad_real, &r.grad_fake_d, &r.grad_fake_g, &r.grad_real_g,
                               &r.loss_real, &r.loss_fake_d, &r.loss_fake_g, &r.loss_real_g};
  for (int i = 0; i < kStats; ++i) {
    const Output& o = outputs_[to_size(i)];
    *arrays[i] = HostArray(o.dtype, fetch(o, &r.stray_writes));
  }
  const std::vector<uint8_t> stats = fetch(outputs_[kStats], &r.stray_writes);
  r.stats.resize(stats.size() / sizeof(ganloss_segment_stats_t));
  if (!stats.empty()) std::memcpy(r.stats.data(), stats.data(), stats.size());
  return r;
}

}  // namespace cli
}  // namespace ganloss
