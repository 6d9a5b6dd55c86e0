// One library call on one backend, as the tool's commands use it: the inputs and every wanted
// output live in that backend's memory, the workspace is queried and allocated, and results
// come back to the host in their storage types together with a check that nothing outside them
// was written.
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

// Elements of one side's array: (segments - 1) * stride + count for fixed-length rows, 0 for
// no rows, and the whole array (count) for a ragged problem.
int64_t side_extent(const ganloss_problem_t& problem, int64_t count, int64_t stride);

// Bytes of one element of `dtype` (a ganloss_dtype_t).
int64_t dtype_bytes(int32_t dtype);

// The dtype the gradients are stored in: f32 with fp32_gradients, else the logits'.
int32_t gradient_dtype(const ganloss_problem_t& problem);

// f32 values in the storage format of `dtype`, rounded to nearest even as the library's
// callers would store them; the bytes the backends and the reference read.
std::vector<uint8_t> encode_values(std::span<const float> values, int32_t dtype);

// The data of a call on the host: logits over each side's extent, already in the problem's
// dtype (encode_values()); optional f32 weights over the same extents; for a ragged problem
// segments + 1 offsets per side. Empty spans are absent inputs.
struct HostInputs {
  std::span<const uint8_t> real, fake;
  std::span<const float> real_weights, fake_weights;
  std::span<const int64_t> real_offsets, fake_offsets;
};

// The same data as the library takes it, pointing at the host memory of `inputs` (what the
// reference backend and the comparison read).
ganloss_inputs_t library_inputs(const HostInputs& inputs);

// One output downloaded to the host in its storage type: f32, or the bit patterns of f16 or
// bf16 gradients. Empty when the output was not requested.
class HostArray {
 public:
  HostArray() = default;
  HostArray(int32_t dtype, std::span<const uint8_t> bytes);

  bool empty() const { return size_ == 0; }
  int64_t size() const { return size_; }
  // The stored elements, as a ganloss_outputs_t member points at them; null when empty.
  void* data();
  // Every element as f32 (exact: f16 and bf16 are subsets of f32).
  std::vector<float> values() const;

 private:
  int32_t dtype_ = GANLOSS_DTYPE_F32;
  int64_t size_ = 0;
  std::vector<float> f32_;
  std::vector<uint16_t> bits16_;
};

// Outputs of one call on the host. Per-element outputs cover the side's whole extent; elements
// outside every row (gaps between strided rows, or outside every ragged segment) are
// checked to be untouched and then read as 0.
struct HostResults {
  HostArray d_loss, d_loss_real, d_loss_fake, g_loss;
  HostArray grad_real, grad_fake_d, grad_fake_g, grad_real_g;
  HostArray loss_real, loss_fake_d, loss_fake_g, loss_real_g;
  std::vector<ganloss_segment_stats_t> stats;  // empty when not requested
  // One entry per output whose gaps or trailing guard bytes changed.
  std::vector<std::string> stray_writes;

  // Pointers to the host copies above, null for outputs not requested: the form
  // detail::compare_with_reference() reads.
  ganloss_outputs_t outputs();
};

// What a call requests besides the four per-segment losses and the D and fake G gradients.
struct OutputRequest {
  bool grad_real_g = true;      // dL_G / d real (zero unless relativistic)
  bool element_losses = false;  // the four per-element losses (loss_real_g with grad_real_g)
  bool stats = false;           // per-segment statistics
};

class BackendCall {
 public:
  // `threads` is passed to the CPU backend (0 = all).
  BackendCall(const ganloss_problem_t& problem, int32_t backend, int threads,
              const OutputRequest& request);

  // The call's inputs (see HostInputs); their sizes must match the problem.
  void upload(const HostInputs& inputs);
  // f32 logits over each side's extent, stored in the problem's dtype; no weights or offsets.
  void upload(std::span<const float> real, std::span<const float> fake);

  // Runs the call and waits for it.
  void run();

  // Runs the call and returns its duration in seconds: wall time for host backends, CUDA
  // events around the call for the CUDA backend.
  double timed_run();

  HostResults download() const;

 private:
  struct Output {
    const char* name;
    DeviceBuffer buffer;    // empty when not requested
    int64_t count;          // elements: the side's extent, or one per segment
    int64_t element_bytes;  // per element (a whole ganloss_segment_stats_t for stats)
    int32_t dtype;          // of the stored values: gradients may differ from the logits
    int side;               // 0 real, 1 fake for per-element outputs; -1 per segment
  };

  Output make_output(const char* name, bool wanted, int64_t count, int64_t element_bytes,
                     int32_t dtype, int side) const;
  void* pointer(int index) const;
  void compute() const;
  std::vector<uint8_t> fetch(const Output& output, std::vector<std::string>* stray) const;

  ganloss_problem_t problem_;
  ganloss_execution_t execution_;
  MemorySpace space_;
  int64_t extent_[2] = {0, 0};  // elements of the real and the fake arrays
  // Per side, 1 for each element inside a row: the rest must stay untouched.
  std::vector<uint8_t> in_row_[2];
  DeviceBuffer real_, fake_, real_weights_, fake_weights_, real_offsets_, fake_offsets_;
  DeviceBuffer workspace_;
  std::size_t workspace_bytes_ = 0;
  std::string backend_failure_;  // prefix of ganloss_compute failures
  std::vector<Output> outputs_;  // in the order of ganloss_outputs_t's members
};

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_BACKEND_CALL_HPP_
