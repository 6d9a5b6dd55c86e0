// Host and CUDA allocations and copies for the ganloss tool; see device_buffers.hpp.
#include "device_buffers.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <utility>

#include "cli_error.hpp"
#include "ganloss/ganloss.h"
#include "thread_pool.hpp"

#if defined(GANLOSS_CLI_CUDA)
#include <cuda_runtime.h>
#endif

namespace ganloss {
namespace cli {
namespace {

// The library documents 256-byte alignment for the workspace; every host buffer gets it, which
// also aligns the logits to cache lines for the vectorized CPU loops.
constexpr std::align_val_t kHostAlignment{256};

#if defined(GANLOSS_CLI_CUDA)
void check_cuda(cudaError_t error, const char* what) {
  if (error != cudaSuccess) throw_failure("%s failed: %s", what, cudaGetErrorString(error));
}
#else
[[noreturn]] void no_cuda() {
  throw_failure("this ganloss tool was built without CUDA (GANLOSS_ENABLE_CUDA=OFF)");
}
#endif

}  // namespace

MemorySpace memory_space_of(int32_t backend) {
  return backend == GANLOSS_BACKEND_CUDA ? MemorySpace::cuda : MemorySpace::host;
}

DeviceBuffer::DeviceBuffer(MemorySpace space, std::size_t bytes) : space_(space), bytes_(bytes) {
  if (bytes == 0) return;
  if (space == MemorySpace::host) {
    data_ = ::operator new(bytes, kHostAlignment);
    return;
  }
#if defined(GANLOSS_CLI_CUDA)
  check_cuda(cudaMalloc(&data_, bytes), "cudaMalloc");
#else
  no_cuda();
#endif
}

DeviceBuffer::~DeviceBuffer() {
  release();
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : space_(other.space_),
      data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    space_ = other.space_;
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  if (data_ == nullptr) return;
  if (space_ == MemorySpace::host) {
    ::operator delete(data_, kHostAlignment);
  } else {
#if defined(GANLOSS_CLI_CUDA)
    cudaFree(data_);  // a destructor cannot report a failure, and nothing depends on it
#endif
  }
  data_ = nullptr;
  bytes_ = 0;
}

void DeviceBuffer::fill(uint8_t byte) {
  if (bytes_ == 0) return;
  if (space_ == MemorySpace::host) {
    std::memset(data_, byte, bytes_);
    return;
  }
#if defined(GANLOSS_CLI_CUDA)
  check_cuda(cudaMemset(data_, byte, bytes_), "cudaMemset");
#else
  no_cuda();
#endif
}

void DeviceBuffer::copy_from_host(const void* source, std::size_t bytes) {
  if (bytes > bytes_) throw_failure("internal error: copy of %zu bytes into %zu", bytes, bytes_);
  if (bytes == 0) return;
  if (space_ == MemorySpace::host) {
    std::memcpy(data_, source, bytes);
    return;
  }
#if defined(GANLOSS_CLI_CUDA)
  check_cuda(cudaMemcpy(data_, source, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
#else
  no_cuda();
#endif
}

void DeviceBuffer::copy_to_host(void* destination, std::size_t bytes) const {
  if (bytes > bytes_) throw_failure("internal error: copy of %zu bytes from %zu", bytes, bytes_);
  if (bytes == 0) return;
  if (space_ == MemorySpace::host) {
    std::memcpy(destination, data_, bytes);
    return;
  }
#if defined(GANLOSS_CLI_CUDA)
  check_cuda(cudaMemcpy(destination, data_, bytes, cudaMemcpyDeviceToHost),
             "cudaMemcpy from device");
#else
  no_cuda();
#endif
}

double timed_copy(const DeviceBuffer& source, DeviceBuffer& destination, std::size_t bytes,
                  int threads) {
  if (bytes > source.bytes() || bytes > destination.bytes() ||
      source.space() != destination.space()) {
    throw_failure("internal error: a copy of %zu bytes between buffers of %zu and %zu", bytes,
                  source.bytes(), destination.bytes());
  }
  const auto* from = static_cast<const char*>(source.data());
  auto* to = static_cast<char*>(destination.data());
  if (source.space() == MemorySpace::host) {
    const int parts = std::max(threads, 1);
    const std::size_t part = (bytes + static_cast<std::size_t>(parts) - 1) / parts;
    const auto begin = std::chrono::steady_clock::now();
    detail::parallel_for(parts, parts, 1, [&](int64_t p) {
      const std::size_t first = std::min(bytes, static_cast<std::size_t>(p) * part);
      const std::size_t last = std::min(bytes, first + part);
      if (last > first) std::memcpy(to + first, from + first, last - first);
    });
    const auto end = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(end - begin).count();
  }
#if defined(GANLOSS_CLI_CUDA)
  cudaEvent_t start = nullptr, stop = nullptr;
  cudaError_t error = cudaEventCreate(&start);
  if (error == cudaSuccess) error = cudaEventCreate(&stop);
  if (error == cudaSuccess) error = cudaEventRecord(start, nullptr);
  if (error == cudaSuccess) {
    error = cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, nullptr);
  }
  if (error == cudaSuccess) error = cudaEventRecord(stop, nullptr);
  if (error == cudaSuccess) error = cudaEventSynchronize(stop);
  float milliseconds = 0.0f;
  if (error == cudaSuccess) error = cudaEventElapsedTime(&milliseconds, start, stop);
  if (start != nullptr) cudaEventDestroy(start);
  if (stop != nullptr) cudaEventDestroy(stop);
  check_cuda(error, "timing a device copy");
  return static_cast<double>(milliseconds) * 1e-3;
#else
  no_cuda();
#endif
}

void synchronize(MemorySpace space) {
  if (space == MemorySpace::host) return;
#if defined(GANLOSS_CLI_CUDA)
  check_cuda(cudaDeviceSynchronize(), "waiting for the CUDA backend");
  check_cuda(cudaGetLastError(), "the CUDA backend");
#else
  no_cuda();
#endif
}

}  // namespace cli
}  // namespace ganloss
