// CUDA-event timing with a cold L2, and the copy and empty-kernel baselines (device_timing.hpp).
#include "device_timing.hpp"

#include <ganloss/ganloss.h>

#include <cmath>
#include <limits>
#include <memory>
#include <utility>

#include "cuda_baselines.hpp"

namespace ganloss_bench {
namespace {

std::unique_ptr<DeviceContext>& context_slot() {
  static std::unique_ptr<DeviceContext> context;
  return context;
}

// The baselines are averaged over at least this many runs and this much device time.
constexpr int kBaselineMinRuns = 10;
constexpr int kBaselineMaxRuns = 10000;
constexpr double kBaselineMinSeconds = 0.02;

// The flush buffer is this many times L2, so that nothing of the benchmark's data survives it
// whatever the replacement policy.
constexpr std::size_t kFlushL2Multiple = 2;

}  // namespace

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  if (cudaMalloc(&data_, bytes) != cudaSuccess) {
    data_ = nullptr;
    cudaGetLastError();
  }
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) cudaFree(data_);
}

std::string cuda_error_text(const char* what, cudaError_t error) {
  return std::string(what) + ": " + cudaGetErrorName(error) + " (" + cudaGetErrorString(error) +
         ")";
}

DeviceContext* DeviceContext::open(std::string* why_not) {
  // The library's own check gives the reason users would see (not built, no device, driver).
  if (ganloss_backend_available(GANLOSS_BACKEND_CUDA) != GANLOSS_STATUS_SUCCESS) {
    *why_not = ganloss_last_error_message();
    return nullptr;
  }
  std::unique_ptr<DeviceContext> c(new DeviceContext());
  int device = 0;
  cudaDeviceProp prop{};
  cudaError_t e = cudaGetDevice(&device);
  if (e == cudaSuccess) e = cudaGetDeviceProperties(&prop, device);
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c->stream_, cudaStreamNonBlocking);
  if (e == cudaSuccess) e = cudaEventCreate(&c->start_);
  if (e == cudaSuccess) e = cudaEventCreate(&c->stop_);
  if (e != cudaSuccess) {
    *why_not = cuda_error_text("setting up the device", e);
    return nullptr;
  }
  c->device_name_ = prop.name;
  c->l2_bytes_ = static_cast<std::size_t>(prop.l2CacheSize);
  c->flush_buffer_ = DeviceBuffer(kFlushL2Multiple * c->l2_bytes_);
  if (!c->flush_buffer_.ok()) {
    *why_not = "no device memory for the L2 flush buffer";
    return nullptr;
  }
  context_slot() = std::move(c);
  return context_slot().get();
}

DeviceContext* DeviceContext::current() {
  return context_slot().get();
}

void DeviceContext::close() {
  context_slot().reset();
}

DeviceContext::~DeviceContext() {
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  flush_buffer_ = DeviceBuffer();
  if (start_ != nullptr) cudaEventDestroy(start_);
  if (stop_ != nullptr) cudaEventDestroy(stop_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void DeviceContext::flush_l2() {
  // A different value each time, so that no memory system can skip the write.
  flush_value_ = (flush_value_ + 1) & 0xFF;
  cudaMemsetAsync(flush_buffer_.get(), flush_value_, flush_buffer_.bytes(), stream_);
}

double DeviceContext::recorded(const std::string& key) const {
  const auto it = recorded_.find(key);
  return it == recorded_.end() ? 0.0 : it->second;
}

namespace {

// Mean seconds of `work` over enough runs to average out event resolution; NaN on an error.
double mean_baseline_seconds(DeviceContext& context, const std::function<cudaError_t()>& work) {
  EventTimer timer(context);
  std::string error;
  if (timer.time(work, &error) < 0.0) return std::numeric_limits<double>::quiet_NaN();  // warm-up
  double total = 0.0;
  int runs = 0;
  while (runs < kBaselineMinRuns || (total < kBaselineMinSeconds && runs < kBaselineMaxRuns)) {
    const double s = timer.time(work, &error);
    if (s < 0.0) return std::numeric_limits<double>::quiet_NaN();
    total += s;
    ++runs;
  }
  return total / runs;
}

}  // namespace

double DeviceContext::copy_seconds(double bytes) {
  // Each half rounded up to whole 16-byte vectors, so both buffers stay aligned.
  const auto half = (static_cast<std::size_t>(bytes) / 2 + 15) / 16 * 16;
  const auto it = copy_seconds_.find(half);
  if (it != copy_seconds_.end()) return it->second;
  double seconds = std::numeric_limits<double>::quiet_NaN();
  {
    DeviceBuffer src(half);
    DeviceBuffer dst(half);
    if (src.ok() && dst.ok() && cudaMemsetAsync(src.get(), 0, half, stream_) == cudaSuccess) {
      seconds = mean_baseline_seconds(
          *this, [&] { return launch_copy(src.get(), dst.get(), half, stream_); });
    }
  }
  copy_seconds_[half] = seconds;
  return seconds;
}

double DeviceContext::empty_kernel_seconds() {
  if (empty_seconds_ == 0.0) {
    empty_seconds_ = mean_baseline_seconds(*this, [&] { return launch_empty_kernel(stream_); });
  }
  return empty_seconds_;
}

double EventTimer::time(const std::function<cudaError_t()>& work, std::string* error) {
  DeviceContext& c = context_;
  c.flush_l2();
  cudaError_t e = cudaEventRecord(c.start_, c.stream_);
  if (e == cudaSuccess) e = work();
  if (e == cudaSuccess) e = cudaEventRecord(c.stop_, c.stream_);
  if (e == cudaSuccess) e = cudaEventSynchronize(c.stop_);
  float ms = 0.0f;
  if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, c.start_, c.stop_);
  if (e != cudaSuccess) {
    *error = cuda_error_text("timed run", e);
    return -1.0;
  }
  return static_cast<double>(ms) * 1e-3;
}

double run_timed_loop(benchmark::State& state, const std::function<cudaError_t()>& work) {
  DeviceContext* context = DeviceContext::current();
  EventTimer timer(*context);
  std::string error;
  double total = 0.0;
  for (auto _ : state) {
    const double s = timer.time(work, &error);
    if (s < 0.0) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(s);
    total += s;
  }
  if (state.error_occurred() || state.iterations() == 0) return 0.0;
  return total / static_cast<double>(state.iterations());
}

void report_bandwidth(benchmark::State& state, double bytes, double elements, double mean_seconds) {
  DeviceContext* context = DeviceContext::current();
  const auto iterations = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes * iterations));
  state.SetItemsProcessed(static_cast<int64_t>(elements * iterations));
  state.counters["GB/s"] = bytes / mean_seconds * 1e-9;
  state.counters["copy_ratio"] = context->copy_seconds(bytes) / mean_seconds;
  state.counters["us_over_empty"] = (mean_seconds - context->empty_kernel_seconds()) * 1e6;
}

}  // namespace ganloss_bench
