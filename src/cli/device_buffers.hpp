// Memory for one backend call: 256-byte aligned host memory for the host backends, CUDA device
// memory for the CUDA backend, behind one owning buffer type with host copies in and out.
#ifndef GANLOSS_CLI_DEVICE_BUFFERS_HPP_
#define GANLOSS_CLI_DEVICE_BUFFERS_HPP_

#include <cstddef>
#include <cstdint>

namespace ganloss {
namespace cli {

enum class MemorySpace { host, cuda };

// The memory a backend (ganloss_backend_t) reads and writes.
MemorySpace memory_space_of(int32_t backend);

// An owning, move-only allocation. Failures throw CliError.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(MemorySpace space, std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // Null for an empty buffer, so that a zero-byte workspace is passed as null.
  void* data() const { return data_; }
  MemorySpace space() const { return space_; }
  std::size_t bytes() const { return bytes_; }

  void fill(uint8_t byte);
  void copy_from_host(const void* source, std::size_t bytes);
  void copy_to_host(void* destination, std::size_t bytes) const;

 private:
  void release() noexcept;

  MemorySpace space_ = MemorySpace::host;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Copies the first `bytes` of `source` into `destination` (buffers of one memory space, each
// at least `bytes` long) and returns the seconds it took: the bandwidth a call that reads and
// writes as many bytes in total cannot beat. On the host, `threads` threads of the CPU
// backend's worker pool each memcpy one contiguous part, timed by the wall clock; on CUDA, one
// device-to-device cudaMemcpyAsync on the default stream between two CUDA events.
double timed_copy(const DeviceBuffer& source, DeviceBuffer& destination, std::size_t bytes,
                  int threads);

// Waits for all work on the device of `space` (nothing to do on the host) and turns any
// asynchronous CUDA error into a CliError.
void synchronize(MemorySpace space);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_DEVICE_BUFFERS_HPP_
