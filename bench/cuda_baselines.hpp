// The device work the CUDA benchmarks compare ganloss against, and the synthetic logits they
// run on. Everything is enqueued on the given stream; nothing synchronises or allocates.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace ganloss_bench {

// Writes `count` synthetic logits (bench_problem.hpp's synthetic_logit) as f32 or bf16.
cudaError_t fill_logits(void* dst, int64_t count, bool bf16, uint32_t seed, cudaStream_t stream);

// The launch floor: one block of one thread that does nothing.
cudaError_t launch_empty_kernel(cudaStream_t stream);

// Copies `bytes` from src to dst in 16-byte vectors, as fast as the memory system allows: the
// bandwidth a kernel that reads and writes the same bytes cannot beat. Both pointers must be
// 16-byte aligned.
cudaError_t launch_copy(const void* src, void* dst, std::size_t bytes, cudaStream_t stream);

// The non-saturating D and G losses and gradients (mean reduction) the way a framework computes
// them without fusion: one elementwise kernel writes the three per-element loss terms, CUB sums
// them per segment, a small kernel turns the sums into the four per-segment losses, and one more
// elementwise kernel reads the logits again for the three gradients.
struct UnfusedProblem {
  int64_t segments;
  int64_t side_count;  // real logits per segment, and fake logits per segment
  bool bf16;           // logits and gradients in bf16; losses are f32
};

struct UnfusedBuffers {
  const void* real;  // segments * side_count logits
  const void* fake;
  void* grad_real;  // same dtype and layout as the logits
  void* grad_fake_d;
  void* grad_fake_g;
  float* losses;  // 4 * segments: d_loss, d_loss_real, d_loss_fake, g_loss
};

// Device workspace for the intermediate loss terms, their sums, the segment offsets and CUB's
// temporary storage; 0 with a message in *error_message on failure.
std::size_t unfused_workspace_bytes(const UnfusedProblem& problem, const char** error_message);

// Writes the segment offsets into the workspace; once per workspace, before the first run.
cudaError_t unfused_prepare(const UnfusedProblem& problem, void* workspace, std::size_t bytes,
                            cudaStream_t stream);

cudaError_t unfused_run(const UnfusedProblem& problem, const UnfusedBuffers& buffers,
                        void* workspace, std::size_t bytes, cudaStream_t stream);

}  // namespace ganloss_bench
