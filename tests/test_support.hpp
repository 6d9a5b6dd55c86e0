// Shared test machinery: random problems, output buffers fenced by guard bytes, and the
// comparison of a backend's outputs with the double-precision reference under the
// dtype-derived tolerances of src/tolerance.hpp.
#ifndef GANLOSS_TESTS_TEST_SUPPORT_HPP_
#define GANLOSS_TESTS_TEST_SUPPORT_HPP_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "comparison.hpp"
#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"
#include "host_dtype.hpp"
#include "reference.hpp"
#include "sanitized.hpp"
#include "tolerance.hpp"

namespace ganloss {
namespace testing {

// The cases a test instantiates from a large matrix: all of them, or, in a sanitizer build
// (which checks memory, undefined behaviour and races rather than values, and runs each
// emulated lane as an instrumented thread), every second one. The release build runs them all.
template <class T>
std::vector<T> sanitizer_subset(std::vector<T> all) {
#if defined(GANLOSS_TEST_SANITIZED)
  std::vector<T> some;
  for (std::size_t i = 0; i < all.size(); i += 2)
    some.push_back(all[i]);
  return some;
#else
  return all;
#endif
}

constexpr uint8_t kGuardByte = 0xA5;
constexpr std::size_t kGuardBytes = 64;

// A host buffer of `bytes` usable bytes, 64-byte aligned, with kGuardBytes of guard pattern
// before and after, and every usable byte preset to the guard pattern too, so that a test
// can tell which bytes a call wrote.
class GuardedBuffer {
 public:
  GuardedBuffer() : GuardedBuffer(0) {}
  explicit GuardedBuffer(std::size_t bytes)
      : bytes_(bytes), storage_(bytes + 2 * kGuardBytes + 64, kGuardByte) {}

  void* data() { return bytes_ ? base() + kGuardBytes : nullptr; }
  const void* data() const { return const_cast<GuardedBuffer*>(this)->data(); }
  template <class T>
  T* as() {
    return static_cast<T*>(data());
  }
  template <class T>
  const T* as() const {
    return static_cast<const T*>(data());
  }
  std::size_t bytes() const { return bytes_; }

  // Presets the usable bytes to the guard pattern again, as a new buffer has them.
  void reset() {
    if (bytes_ > 0) std::memset(data(), kGuardByte, bytes_);
  }

  // The whole allocation, guards included, and where the usable bytes start in it: for
  // mirroring the buffer on a device byte for byte.
  uint8_t* raw() { return base(); }
  std::size_t raw_bytes() const { return bytes_ + 2 * kGuardBytes; }
  static constexpr std::size_t data_offset() { return kGuardBytes; }

  bool guards_intact() const {
    const uint8_t* b = const_cast<GuardedBuffer*>(this)->base();
    for (std::size_t i = 0; i < kGuardBytes; ++i) {
      if (b[i] != kGuardByte || b[kGuardBytes + bytes_ + i] != kGuardByte) return false;
    }
    return true;
  }

  // Whether byte `i` of the usable area still holds the guard pattern.
  bool untouched(std::size_t i) const {
    return static_cast<const uint8_t*>(data())[i] == kGuardByte;
  }

  bool all_untouched() const {
    for (std::size_t i = 0; i < bytes_; ++i) {
      if (!untouched(i)) return false;
    }
    return guards_intact();
  }

 private:
  uint8_t* base() {
    const auto p = reinterpret_cast<uintptr_t>(storage_.data());
    return storage_.data() + ((64 - p % 64) % 64);
  }
  std::size_t bytes_ = 0;
  std::vector<uint8_t> storage_;
};

inline int64_t stride_of(const ganloss_problem_t& p, int64_t count, int64_t stride) {
  return (stride == 0 || p.segments == 1) ? count : stride;
}

// Elements spanned by one side's array: its rows, or the whole ragged array.
inline int64_t extent(const ganloss_problem_t& p, int64_t count, int64_t stride) {
  if (p.ragged == 1) return count;
  if (count == 0) return 0;
  return (p.segments - 1) * stride_of(p, count, stride) + count;
}

// Logit generator: a mixture that exercises every regime of the formulas, from |x| < 1e-3 to
// the saturated tails, in float.
inline float random_logit(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> pick(0, 9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  switch (pick(rng)) {
    case 0:
      return normal(rng) * 1e-3f;
    case 1:
      return normal(rng) * 30.0f;
    case 2:
      return normal(rng) * 100.0f;
    default:
      return normal(rng) * 4.0f;
  }
}

// Weights: mostly in (0, 2], some exactly 0 (masked) and some exactly 1.
inline float random_weight(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> pick(0, 9);
  std::uniform_real_distribution<float> uniform(0.0f, 2.0f);
  const int k = pick(rng);
  return k == 0 ? 0.0f : k == 1 ? 1.0f : uniform(rng);
}

// Offsets of `segments` ragged rows of random lengths in [0, max_length], some empty, and the
// total as offsets.back().
inline std::vector<int64_t> random_offsets(int64_t segments, int64_t max_length, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> length(0, max_length);
  std::vector<int64_t> offsets(static_cast<std::size_t>(segments + 1), 0);
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t n = s % 7 == 3 ? 0 : length(rng);
    offsets[static_cast<std::size_t>(s + 1)] = offsets[static_cast<std::size_t>(s)] + n;
  }
  return offsets;
}

inline int64_t logit_bytes(const ganloss_problem_t& p) {
  return p.dtype == GANLOSS_DTYPE_F32 ? 4 : 2;
}

inline int64_t grad_bytes(const ganloss_problem_t& p) {
  return p.fp32_gradients ? 4 : logit_bytes(p);
}

inline int32_t grad_dtype(const ganloss_problem_t& p) {
  return p.fp32_gradients ? GANLOSS_DTYPE_F32 : p.dtype;
}

inline void store_element(void* base, int32_t dtype, int64_t i, float v) {
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      static_cast<uint16_t*>(base)[i] = detail::float_to_half(v);
      break;
    case GANLOSS_DTYPE_BF16:
      static_cast<uint16_t*>(base)[i] = detail::float_to_bfloat16(v);
      break;
    default:
      static_cast<float*>(base)[i] = v;
  }
}

inline double load_element(const void* base, int32_t dtype, int64_t i) {
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      return detail::half_to_float(static_cast<const uint16_t*>(base)[i]);
    case GANLOSS_DTYPE_BF16:
      return detail::bfloat16_to_float(static_cast<const uint16_t*>(base)[i]);
    default:
      return static_cast<const float*>(base)[i];
  }
}

// What a HostCall holds beyond the logits.
struct CallData {
  bool real_weights = false;
  bool fake_weights = false;
  std::vector<int64_t> real_offsets;  // ragged problems: segments + 1 offsets
  std::vector<int64_t> fake_offsets;
};

// Host inputs and guarded outputs for one problem.
struct HostCall {
  ganloss_problem_t problem{};
  GuardedBuffer real, fake, real_weights, fake_weights, real_offsets, fake_offsets;
  GuardedBuffer d_loss, d_loss_real, d_loss_fake, g_loss, stats;
  GuardedBuffer grad_real, grad_real_g, grad_fake_d, grad_fake_g;
  GuardedBuffer loss_real, loss_real_g, loss_fake_d, loss_fake_g;
  GuardedBuffer workspace;

  // Allocates every buffer; the logits (random, over the whole extent, gaps included) are
  // rounded to the problem's dtype. For a ragged problem the counts are set from the offsets.
  explicit HostCall(const ganloss_problem_t& p, uint64_t seed = 1, const CallData& data = {})
      : problem(p) {
    if (p.ragged == 1) {
      problem.real_count = data.real_offsets.empty() ? 0 : data.real_offsets.back();
      problem.fake_count = data.fake_offsets.empty() ? 0 : data.fake_offsets.back();
      real_offsets = copy_of(data.real_offsets);
      fake_offsets = copy_of(data.fake_offsets);
    }
    const int64_t t = logit_bytes(problem);
    const int64_t g = grad_bytes(problem);
    const int64_t er = extent(problem, problem.real_count, problem.real_stride);
    const int64_t ef = extent(problem, problem.fake_count, problem.fake_stride);
    real = GuardedBuffer(static_cast<std::size_t>(er * t));
    fake = GuardedBuffer(static_cast<std::size_t>(ef * t));
    std::mt19937_64 rng(seed);
    for (int64_t i = 0; i < er; ++i)
      set_real(i, random_logit(rng));
    for (int64_t i = 0; i < ef; ++i)
      set_fake(i, random_logit(rng));
    if (data.real_weights) {
      real_weights = GuardedBuffer(static_cast<std::size_t>(er * 4));
      for (int64_t i = 0; i < er; ++i)
        real_weights.as<float>()[i] = random_weight(rng);
    }
    if (data.fake_weights) {
      fake_weights = GuardedBuffer(static_cast<std::size_t>(ef * 4));
      for (int64_t i = 0; i < ef; ++i)
        fake_weights.as<float>()[i] = random_weight(rng);
    }
    const auto seg = static_cast<std::size_t>(problem.segments * 4);
    for (GuardedBuffer* b : {&d_loss, &d_loss_real, &d_loss_fake, &g_loss}) {
      *b = GuardedBuffer(seg);
    }
    stats =
        GuardedBuffer(static_cast<std::size_t>(problem.segments) * sizeof(ganloss_segment_stats_t));
    for (GuardedBuffer* b : {&grad_real, &grad_real_g}) {
      *b = GuardedBuffer(static_cast<std::size_t>(er * g));
    }
    for (GuardedBuffer* b : {&loss_real, &loss_real_g}) {
      *b = GuardedBuffer(static_cast<std::size_t>(er * 4));
    }
    for (GuardedBuffer* b : {&grad_fake_d, &grad_fake_g}) {
      *b = GuardedBuffer(static_cast<std::size_t>(ef * g));
    }
    for (GuardedBuffer* b : {&loss_fake_d, &loss_fake_g}) {
      *b = GuardedBuffer(static_cast<std::size_t>(ef * 4));
    }
  }

  // Element i of the real or fake logits (in elements from the start, gaps included), rounded
  // to the problem's dtype.
  void set_real(int64_t i, float v) { store_element(real.data(), problem.dtype, i, v); }
  void set_fake(int64_t i, float v) { store_element(fake.data(), problem.dtype, i, v); }
  double real_at(int64_t i) const { return load_element(real.data(), problem.dtype, i); }
  double fake_at(int64_t i) const { return load_element(fake.data(), problem.dtype, i); }

  ganloss_inputs_t inputs() {
    ganloss_inputs_t in;
    ganloss_inputs_init(&in);
    in.real = real.data();
    in.fake = fake.data();
    in.real_weights = real_weights.bytes() ? real_weights.as<float>() : nullptr;
    in.fake_weights = fake_weights.bytes() ? fake_weights.as<float>() : nullptr;
    in.real_offsets = real_offsets.bytes() ? real_offsets.as<int64_t>() : nullptr;
    in.fake_offsets = fake_offsets.bytes() ? fake_offsets.as<int64_t>() : nullptr;
    return in;
  }

  ganloss_outputs_t all_outputs() {
    ganloss_outputs_t o;
    o.d_loss = d_loss.as<float>();
    o.d_loss_real = d_loss_real.as<float>();
    o.d_loss_fake = d_loss_fake.as<float>();
    o.g_loss = g_loss.as<float>();
    o.grad_real = grad_real.data();
    o.grad_real_g = grad_real_g.data();
    o.grad_fake_d = grad_fake_d.data();
    o.grad_fake_g = grad_fake_g.data();
    o.loss_real = loss_real.as<float>();
    o.loss_real_g = loss_real_g.as<float>();
    o.loss_fake_d = loss_fake_d.as<float>();
    o.loss_fake_g = loss_fake_g.as<float>();
    o.stats = stats.as<ganloss_segment_stats_t>();
    return o;
  }

  // Runs `backend` with a workspace of exactly the queried size.
  ganloss_status_t run(const ganloss_outputs_t& o, int32_t backend, int threads = 0) {
    return run(inputs(), o, backend, threads);
  }

  // The same with inputs of the caller's choosing (pointers elsewhere than this call's buffers).
  ganloss_status_t run(const ganloss_inputs_t& in, const ganloss_outputs_t& o, int32_t backend,
                       int threads = 0) {
    std::size_t bytes = 0;
    ganloss_status_t s = ganloss_workspace_size(&problem, backend, &bytes);
    if (s != GANLOSS_STATUS_SUCCESS) return s;
    workspace = GuardedBuffer(bytes);
    ganloss_execution_t e;
    ganloss_execution_init(&e);
    e.backend = backend;
    e.cpu_threads = threads;
    return ganloss_compute(&problem, &in, &o, workspace.data(), bytes, &e, nullptr);
  }

  std::vector<GuardedBuffer*> output_buffers() {
    return {&d_loss,      &d_loss_real, &d_loss_fake, &g_loss,      &stats,
            &grad_real,   &grad_real_g, &grad_fake_d, &grad_fake_g, &loss_real,
            &loss_real_g, &loss_fake_d, &loss_fake_g};
  }

  // Every output buffer's bytes, end to end: two calls gave the same bits iff these are equal.
  std::vector<uint8_t> output_bytes() {
    std::vector<uint8_t> bytes;
    for (GuardedBuffer* b : output_buffers()) {
      const auto* p = static_cast<const uint8_t*>(b->data());
      bytes.insert(bytes.end(), p, p + b->bytes());
    }
    return bytes;
  }

 private:
  static GuardedBuffer copy_of(const std::vector<int64_t>& v) {
    GuardedBuffer b(v.size() * sizeof(int64_t));
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.bytes());
    return b;
  }
};

using Comparison = detail::Comparison;

inline std::string describe(const ganloss_problem_t& p) {
  std::ostringstream s;
  s << "S=" << p.segments << " Nr=" << p.real_count << " Nf=" << p.fake_count
    << " sr=" << p.real_stride << " sf=" << p.fake_stride << (p.ragged ? " ragged" : "")
    << " d=" << p.d_loss << " g=" << p.g_loss << " red=" << p.reduction << " dtype=" << p.dtype
    << (p.fp32_gradients ? "/f32grad" : "") << " scale=" << p.grad_scale
    << " t=" << p.params.real_target << "/" << p.params.fake_target;
  return s.str();
}

// The values of every requested output of `call` against the reference.
inline Comparison compare_values_with_reference(HostCall& call, const ganloss_outputs_t& o,
                                                const detail::ErrorModel& depth) {
  const ganloss_inputs_t in = call.inputs();
  const reference::Result ref = reference::evaluate(call.problem, in);
  return detail::compare_with_reference(call.problem, in, ref, o, depth);
}

// compare_values_with_reference, and every byte outside the rows (gaps between rows, guard
// bytes, outputs not requested) untouched.
inline Comparison compare_with_reference(HostCall& call, const ganloss_outputs_t& o,
                                         const detail::ErrorModel& depth) {
  const ganloss_problem_t& p = call.problem;
  Comparison c = compare_values_with_reference(call, o, depth);
  auto flag = [&](const std::string& what) {
    c.gradients = INFINITY;
    if (c.first_failure.empty()) c.first_failure = what;
  };
  auto fenced = [&](GuardedBuffer& b, const void* out, int64_t count, int64_t stride_arg,
                    int64_t elem, const char* name) {
    if (!b.guards_intact()) flag(std::string(name) + ": guard bytes overwritten");
    if (out == nullptr) {
      if (!b.all_untouched()) flag(std::string(name) + ": written though not requested");
      return;
    }
    if (p.ragged == 1) return;  // no gaps
    const int64_t stride = stride_of(p, count, stride_arg);
    for (int64_t s = 0; s + 1 < p.segments; ++s) {
      for (int64_t i = count; i < stride; ++i) {
        for (int64_t k = 0; k < elem; ++k) {
          if (!b.untouched(static_cast<std::size_t>((s * stride + i) * elem + k))) {
            flag(std::string(name) + ": gap between rows written");
            return;
          }
        }
      }
    }
  };
  const int64_t t = grad_bytes(p);
  fenced(call.grad_real, o.grad_real, p.real_count, p.real_stride, t, "grad_real");
  fenced(call.grad_real_g, o.grad_real_g, p.real_count, p.real_stride, t, "grad_real_g");
  fenced(call.grad_fake_d, o.grad_fake_d, p.fake_count, p.fake_stride, t, "grad_fake_d");
  fenced(call.grad_fake_g, o.grad_fake_g, p.fake_count, p.fake_stride, t, "grad_fake_g");
  fenced(call.loss_real, o.loss_real, p.real_count, p.real_stride, 4, "loss_real");
  fenced(call.loss_real_g, o.loss_real_g, p.real_count, p.real_stride, 4, "loss_real_g");
  fenced(call.loss_fake_d, o.loss_fake_d, p.fake_count, p.fake_stride, 4, "loss_fake_d");
  fenced(call.loss_fake_g, o.loss_fake_g, p.fake_count, p.fake_stride, 4, "loss_fake_g");
  const std::pair<GuardedBuffer*, const void*> per_segment[] = {{&call.d_loss, o.d_loss},
                                                                {&call.d_loss_real, o.d_loss_real},
                                                                {&call.d_loss_fake, o.d_loss_fake},
                                                                {&call.g_loss, o.g_loss},
                                                                {&call.stats, o.stats}};
  for (const auto& [b, out] : per_segment) {
    if (!b->guards_intact()) flag("per-segment output guard bytes overwritten");
    if (out == nullptr && !b->all_untouched())
      flag("a per-segment output written though not requested");
  }
  for (GuardedBuffer* b : {&call.real, &call.fake, &call.real_weights, &call.fake_weights,
                           &call.real_offsets, &call.fake_offsets}) {
    if (!b->guards_intact()) flag("input guard bytes overwritten");
  }
  if (!call.workspace.guards_intact()) flag("workspace guard bytes overwritten");
  return c;
}

// Number of outputs only() can pick.
constexpr int kOutputCount = 13;

// Only output number `which` (0 to kOutputCount - 1, in ganloss_outputs_t order) of `all`.
inline ganloss_outputs_t only(const ganloss_outputs_t& all, int which) {
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  switch (which) {
    case 0:
      o.d_loss = all.d_loss;
      break;
    case 1:
      o.d_loss_real = all.d_loss_real;
      break;
    case 2:
      o.d_loss_fake = all.d_loss_fake;
      break;
    case 3:
      o.g_loss = all.g_loss;
      break;
    case 4:
      o.grad_real = all.grad_real;
      break;
    case 5:
      o.grad_fake_d = all.grad_fake_d;
      break;
    case 6:
      o.grad_fake_g = all.grad_fake_g;
      break;
    case 7:
      o.grad_real_g = all.grad_real_g;
      break;
    case 8:
      o.loss_real = all.loss_real;
      break;
    case 9:
      o.loss_fake_d = all.loss_fake_d;
      break;
    case 10:
      o.loss_fake_g = all.loss_fake_g;
      break;
    case 11:
      o.loss_real_g = all.loss_real_g;
      break;
    default:
      o.stats = all.stats;
      break;
  }
  return o;
}

inline ganloss_problem_t make_problem(int64_t segments, int64_t nr, int64_t nf, int32_t d_kind,
                                      int32_t g_kind, int32_t reduction) {
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.segments = segments;
  p.real_count = nr;
  p.fake_count = nf;
  p.d_loss = d_kind;
  p.g_loss = g_kind;
  p.reduction = reduction;
  return p;
}

inline const char* kind_name(int32_t k) {
  static const char* names[] = {"nonsaturating", "minimax",      "hinge", "wasserstein",
                                "least_squares", "relativistic", "ra",    "ra_hinge",
                                "ra_ls"};
  return (k >= 0 && k < 9) ? names[k] : "unknown";
}

inline const char* dtype_name(int32_t t) {
  static const char* names[] = {"f32", "f16", "bf16"};
  return (t >= 0 && t < 3) ? names[t] : "unknown";
}

inline const char* reduction_name(int32_t r) {
  static const char* names[] = {"none", "sum", "mean", "mean_nonzero"};
  return (r >= 0 && r < 4) ? names[r] : "unknown";
}

}  // namespace testing
}  // namespace ganloss

#endif  // GANLOSS_TESTS_TEST_SUPPORT_HPP_
