// How the CUDA benchmarks time device work: CUDA events around the work alone, a cold L2 before
// every timed run, and the copy-kernel and empty-kernel baselines measured once per process so
// that every benchmark can report itself against them.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <map>
#include <string>

namespace ganloss_bench {

// Device memory owned for the length of one benchmark.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  ~DeviceBuffer();

  void* get() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  // False when the allocation failed (cudaMalloc's error is cleared, so later calls still work).
  bool ok() const { return data_ != nullptr || bytes_ == 0; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// The device, the stream every benchmark runs on, and the per-process baselines.
class DeviceContext {
 public:
  // nullptr, with the reason in *why_not, when the CUDA backend cannot run here.
  static DeviceContext* open(std::string* why_not);
  static DeviceContext* current();
  static void close();

  cudaStream_t stream() const { return stream_; }
  const std::string& device_name() const { return device_name_; }
  std::size_t l2_bytes() const { return l2_bytes_; }

  // Evicts the benchmark's data from L2 by writing a buffer twice its size, so that every timed
  // run reads its inputs from DRAM, as a training step whose logits were produced long before.
  void flush_l2();

  // Mean seconds of the 16-byte copy moving `bytes` in total (bytes / 2 read, bytes / 2
  // written), timed like the benchmarks; NaN if its buffers do not fit. Cached per byte count.
  double copy_seconds(double bytes);
  // Mean seconds of the empty kernel: the launch floor. Cached.
  double empty_kernel_seconds();

  // Mean seconds recorded by earlier benchmarks under `key` (0 if none), so that a baseline can
  // report itself against the fused call on the same problem.
  void record(const std::string& key, double seconds) { recorded_[key] = seconds; }
  double recorded(const std::string& key) const;

  ~DeviceContext();

 private:
  DeviceContext() = default;

  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
  DeviceBuffer flush_buffer_;
  std::size_t l2_bytes_ = 0;
  int flush_value_ = 0;
  std::string device_name_;
  std::map<std::size_t, double> copy_seconds_;
  double empty_seconds_ = 0.0;
  std::map<std::string, double> recorded_;

  friend class EventTimer;
};

// Times one enqueued piece of work between two events on the context's stream.
class EventTimer {
 public:
  explicit EventTimer(DeviceContext& context) : context_(context) {}
  // Flushes L2, then enqueues `work` between the events and waits for it. Returns the elapsed
  // seconds, or a negative value with the error in *error.
  double time(const std::function<cudaError_t()>& work, std::string* error);

 private:
  DeviceContext& context_;
};

// Runs the benchmark loop over `work`, each iteration timed by EventTimer and reported as
// manual time. Returns the mean seconds per iteration, or 0 after skipping the benchmark with
// the error.
double run_timed_loop(benchmark::State& state, const std::function<cudaError_t()>& work);

// Sets bytes and items processed and the bandwidth counters: GB/s, copy_ratio (this work's
// bytes/s over the copy kernel's on the same byte count) and us_over_empty (its mean time above
// the empty kernel's).
void report_bandwidth(benchmark::State& state, double bytes, double elements, double mean_seconds);

// A CUDA error as benchmark text.
std::string cuda_error_text(const char* what, cudaError_t error);

}  // namespace ganloss_bench
