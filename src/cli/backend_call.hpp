// One library call on one backend, as the tool's commands use it: the logits and every wanted
// output live in that backend's memory, the workspace is queried and allocated, and results
// come back to the host as f32 together with a check that nothing outside them was written.
#ifndef GANLOSS_CLI_BACKEND_CALL_HPP_
#define GANLOSS_CLI_BACKEND_CALL_HPP_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "device_buffers.hpp"
#include "ganloss/ganloss.h"

namespace ganloss {
namespace cli {

// Elements spanned by one side's rows: (segments - 1) * stride + count, 0 for no rows.
int64_t side_extent(const ganloss_problem_t& problem, int64_t count, int64_t stride);

// Bytes of one element of `dtype` (a ganloss_dtype_t).
int64_t dtype_bytes(int32_t dtype);

// The dtype the gradients are stored in: f32 with fp32_gradients, else the logits'.
int32_t gradient_dtype(const ganloss_problem_t& problem);

// f32 values in the storage format of `dtype`, rounded to nearest even as the library's
// callers would store them; the bytes the backends and the reference read.
std::vector<uint8_t> encode_values(std::span<const float> values, int32_t dtype);

// Outputs of one call on the host, decoded to f32 from their storage dtype (exact for every
// dtype). Per-element outputs cover the side's whole extent (gaps between strided rows
// included) and are empty when not requested.
struct HostResults {
  std::vector<float> d_loss, d_loss_real, d_loss_fake, g_loss;
  std::vector<float> grad_real, grad_fake_d, grad_fake_g;
  std::vector<float> loss_real, loss_fake_d, loss_fake_g;
  // One entry per output whose gaps or trailing guard bytes changed.
  std::vector<std::string> stray_writes;
};

class BackendCall {
 public:
  // Every per-segment output and all three gradients are requested; the per-element losses
  // only with `element_losses`. `threads` is passed to the CPU backend (0 = all).
  BackendCall(const ganloss_problem_t& problem, int32_t backend, int threads, bool element_losses);

  // Logits as f32 values over each side's extent, stored in the problem's dtype.
  void upload(std::span<const float> real, std::span<const float> fake);
  // Logits already in the problem's dtype (encode_values()), over each side's extent.
  void upload_encoded(std::span<const uint8_t> real, std::span<const uint8_t> fake);

  // Runs the call and waits for it.
  void run();

  // Runs the call and returns its duration in seconds: wall time for host backends, CUDA
  // events around the call for the CUDA backend.
  double timed_run();

  HostResults download() const;

 private:
  struct Output {
    const char* name;
    DeviceBuffer buffer;
    int64_t count;   // elements per row (per-element outputs) or segments (per-segment ones)
    int64_t stride;  // elements between rows
    int64_t rows;
    int32_t dtype;  // of the stored elements: gradients may differ from the logits
  };

  Output make_output(const char* name, int64_t count, int64_t stride, int64_t rows,
                     int32_t dtype) const;
  void* pointer(int index) const;
  void compute() const;
  std::vector<float> fetch(const Output& output, std::vector<std::string>* stray) const;

  ganloss_problem_t problem_;
  ganloss_execution_t execution_;
  MemorySpace space_;
  int64_t real_extent_ = 0;
  int64_t fake_extent_ = 0;
  DeviceBuffer real_, fake_, workspace_;
  std::size_t workspace_bytes_ = 0;
  std::string backend_failure_;  // prefix of ganloss_compute failures
  std::vector<Output> outputs_;  // in the order of ganloss_outputs_t's members
};

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_BACKEND_CALL_HPP_
