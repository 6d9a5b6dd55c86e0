// The problems every ganloss benchmark runs, described once so that the CUDA and the CPU
// benchmarks, their baselines and the bytes they report agree. Only the public C ABI is used.
#pragma once

#include <ganloss/ganloss.h>

#include <cstdint>
#include <cstring>
#include <string>

// synthetic_logit is shared with the device fill kernel so both backends see the same data.
#ifdef __CUDACC__
#define GANLOSS_BENCH_HOST_DEVICE __host__ __device__
#else
#define GANLOSS_BENCH_HOST_DEVICE
#endif

namespace ganloss_bench {

struct LossCase {
  const char* name;  // as the `ganloss` tool spells it
  int32_t kind;
};

inline constexpr LossCase kLossCases[] = {
    {"nonsaturating", GANLOSS_LOSS_NONSATURATING},
    {"minimax", GANLOSS_LOSS_MINIMAX},
    {"hinge", GANLOSS_LOSS_HINGE},
    {"wasserstein", GANLOSS_LOSS_WASSERSTEIN},
    {"least-squares", GANLOSS_LOSS_LEAST_SQUARES},
    {"relativistic", GANLOSS_LOSS_RELATIVISTIC},
    {"relativistic-average", GANLOSS_LOSS_RELATIVISTIC_AVERAGE},
    {"relativistic-average-hinge", GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE},
    {"relativistic-average-least-squares", GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES},
};

// Whether the command line holds an argument starting with `flag` (before Google Benchmark
// consumes its own flags).
inline bool has_flag(int argc, char** argv, const char* flag) {
  const std::size_t length = std::strlen(flag);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], flag, length) == 0) return true;
  }
  return false;
}

inline const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      return "f16";
    case GANLOSS_DTYPE_BF16:
      return "bf16";
    default:
      return "f32";
  }
}

inline int64_t dtype_bytes(int32_t dtype) {
  return dtype == GANLOSS_DTYPE_F32 ? 4 : 2;
}

// Only the relativistic kinds make the G loss depend on the real logits; a training step asks
// for dL_G/d real only then.
inline bool has_real_g_gradient(int32_t kind) {
  return kind >= GANLOSS_LOSS_RELATIVISTIC;
}

// Segment length 0 stands for one segment holding every element.
inline constexpr int64_t kSingleSegment = 0;

inline std::string segment_label(int64_t segment_length) {
  return segment_length == kSingleSegment ? "single" : std::to_string(segment_length);
}

// One benchmarked call: `elements` logits in total, split evenly between the real and the fake
// side of each segment, D and G of one kind, mean reduction, every gradient a training step
// uses stored in the logits' dtype, and the four per-segment losses.
struct BenchProblem {
  ganloss_problem_t problem;
  bool grad_real_g;  // whether dL_G/d real is requested
  int64_t elements;  // real + fake logits over all segments

  int64_t real_total() const { return problem.segments * problem.real_count; }
  int64_t fake_total() const { return problem.segments * problem.fake_count; }

  // The bytes a call must move at least: every logit read once, every gradient written once,
  // and the four f32 per-segment losses. Kinds that read the logits more than once (the
  // relativistic average) are still charged one read, so their bandwidth shows that cost.
  double bytes() const {
    const auto e = static_cast<double>(dtype_bytes(problem.dtype));
    const auto real = static_cast<double>(real_total());
    const auto fake = static_cast<double>(fake_total());
    const double gradients = real + 2.0 * fake + (grad_real_g ? real : 0.0);
    return e * (real + fake) + e * gradients + 16.0 * static_cast<double>(problem.segments);
  }
};

// `segment_length` must divide `elements` and be even (or be kSingleSegment).
inline BenchProblem make_problem(int32_t kind, int32_t dtype, int64_t elements,
                                 int64_t segment_length) {
  const int64_t length = segment_length == kSingleSegment ? elements : segment_length;
  BenchProblem b;
  ganloss_problem_init(&b.problem);
  b.problem.segments = elements / length;
  b.problem.real_count = length / 2;
  b.problem.fake_count = length / 2;
  b.problem.dtype = dtype;
  b.problem.d_loss = kind;
  b.problem.g_loss = kind;
  b.problem.reduction = GANLOSS_REDUCTION_MEAN;
  b.grad_real_g = has_real_g_gradient(kind);
  b.elements = elements;
  return b;
}

// The outputs of a training step, pointing into caller-owned buffers.
struct OutputBuffers {
  float* losses;  // 4 * segments floats: d_loss, d_loss_real, d_loss_fake, g_loss
  void* grad_real;
  void* grad_fake_d;
  void* grad_fake_g;
  void* grad_real_g;  // ignored unless BenchProblem::grad_real_g
};

inline ganloss_outputs_t make_outputs(const BenchProblem& b, const OutputBuffers& buffers) {
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  const int64_t s = b.problem.segments;
  o.d_loss = buffers.losses;
  o.d_loss_real = buffers.losses + s;
  o.d_loss_fake = buffers.losses + 2 * s;
  o.g_loss = buffers.losses + 3 * s;
  o.grad_real = buffers.grad_real;
  o.grad_fake_d = buffers.grad_fake_d;
  o.grad_fake_g = buffers.grad_fake_g;
  if (b.grad_real_g) o.grad_real_g = buffers.grad_real_g;
  return o;
}

// Deterministic logits spread over [-6, 6): both saturated tails and the linear middle of the
// logistic losses, and both sides of the hinge margins.
GANLOSS_BENCH_HOST_DEVICE inline float synthetic_logit(uint64_t index, uint32_t seed) {
  uint64_t x = index * 0x9E3779B97F4A7C15ull + seed;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return static_cast<float>(x >> 40) * (12.0f / 16777216.0f) - 6.0f;
}

// Round to nearest even; the synthetic logits are finite, so NaN needs no care.
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

// Round to nearest even, below the normal range too (|f| + 0.5 rounds the subnormal's bits);
// the synthetic logits are finite and far below f16's largest value.
inline uint16_t float_to_f16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a < 0x38800000u) {
    float half;
    std::memcpy(&half, &a, sizeof half);
    half += 0.5f;
    std::memcpy(&u, &half, sizeof u);
    return static_cast<uint16_t>((u - 0x3f000000u) | sign);
  }
  return static_cast<uint16_t>(((a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13) | sign);
}

}  // namespace ganloss_bench
