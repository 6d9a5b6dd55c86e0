// libFuzzer harness for the CPU backend's numbers: a valid problem decoded from the input (every
// loss kind and reduction, the three dtypes, strides with gaps, ragged segments, weights,
// statistics, f32 gradients, any subset of the outputs) with logits from the input bytes,
// NaN and infinities included. The CPU backend's outputs must
//   - match reference::evaluate within detail::compare_with_reference's bounds (detail::kCpuError);
//   - be bitwise identical on 1 and on 3 threads and from one call to the next;
//   - be bitwise identical when a gradient replaces its own logits (in place);
//   - leave the gaps between rows untouched.
// Most problems are small (at most 6 segments of 64 logits); two values of one byte ask for
// segments longer than the backend's 8192-element chunks, or for the 65536 elements from which
// it uses several threads.
//
// Input layout (byte_reader.hpp; tests/fuzz/make_corpus.py mirrors it), one byte each unless
// said: d_loss, g_loss, reduction, dtype, flags (1 ragged, 2 real weights, 4 fake weights,
// 8 f32 gradients, 16 in-place check, 32 dense rows), size class ('L' long segments, 'P' many
// elements, else small), segments, real_count (u16), fake_count (u16), real gap, fake
// gap, outputs (u16, one bit per output in ganloss_outputs_t order, 0 = all), grad_scale, the
// 7 loss parameters, ragged real lengths (8), ragged fake lengths (8), ragged lead and tail
// per side (4); then the payload: 2 bytes per logit, then 1 byte per weight, cycled.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "byte_reader.hpp"
#include "comparison.hpp"
#include "ganloss/ganloss.h"
#include "host_dtype.hpp"
#include "reference.hpp"

namespace {

using ganloss::fuzz::ByteReader;
using ganloss::fuzz::PayloadCycle;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr uint8_t kFill = 0xA5;
// Size-class byte values for the two large classes (any other value: a small problem).
constexpr uint8_t kLongSegments = 0x4C;
constexpr uint8_t kManyElements = 0x50;

// A zero-initialised host buffer aligned for any output (and the workspace's 16 bytes).
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes_ == 0) return;
    data_.reset(static_cast<uint8_t*>(::operator new (bytes_, std::align_val_t{64})));
    std::memset(data_.get(), kFill, bytes_);
  }
  uint8_t* data() const { return data_.get(); }
  std::size_t bytes() const { return bytes_; }
  bool same_bytes(const Buffer& o) const {
    return bytes_ == o.bytes_ && (bytes_ == 0 || std::memcmp(data(), o.data(), bytes_) == 0);
  }

 private:
  struct Free {
    void operator()(uint8_t* p) const { ::operator delete (p, std::align_val_t{64}); }
  };
  std::size_t bytes_ = 0;
  std::unique_ptr<uint8_t[], Free> data_;
};

// One value from two payload bytes: small values mostly, then wide magnitudes and specials.
float logit_value(uint8_t b0, uint8_t b1) {
  static constexpr float kSpecial[] = {
      0.0f,    -0.0f,  kNaN,   kInf,    -kInf, 3.4028235e38f, -3.4028235e38f, 1.1754944e-38f,
      1e-45f,  88.72f, 89.0f,  -103.0f, 17.0f, -17.0f,        1e-3f,          65504.0f,
      65520.f, 1e30f,  -1e30f, 0.5f,    -0.5f, 1e-8f,         30.0f,          -30.0f};
  const auto s1 = static_cast<int8_t>(b1);
  switch (b0 >> 5) {
    case 4:
      return static_cast<float>(s1) * 4.0f;
    case 5:
    case 7:
      return kSpecial[b1 % std::size(kSpecial)];
    case 6: {
      const float mantissa = 1.0f + static_cast<float>(b0 & 15) / 16.0f;
      return std::ldexp(b1 & 0x80 ? -mantissa : mantissa, (b1 & 0x7f) % 80 - 40);
    }
    default:
      return static_cast<float>(s1) / 8.0f;
  }
}

float weight_value(uint8_t b) {
  static constexpr float kSpecial[] = {1e-30f, 1e-40f, 100.0f, 1e4f, 0.5f, 2.0f, 1e-3f, 16.0f};
  if (b < 128) return static_cast<float>(b) / 32.0f;
  if (b < 192) return 1.0f;
  if (b < 224) return 0.0f;
  return kSpecial[b % std::size(kSpecial)];
}

float pick(uint8_t sel, float default_value, std::initializer_list<float> others) {
  if (sel < 128) return default_value;
  return others.begin()[sel % others.size()];
}

void store(uint8_t* base, int32_t dtype, int64_t i, float v) {
  if (dtype == GANLOSS_DTYPE_F32) {
    std::memcpy(base + 4 * i, &v, 4);
    return;
  }
  const uint16_t h = dtype == GANLOSS_DTYPE_F16 ? ganloss::detail::float_to_half(v)
                                                : ganloss::detail::float_to_bfloat16(v);
  std::memcpy(base + 2 * i, &h, 2);
}

enum Out {
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
  kOutputs
};
const char* const kOutNames[kOutputs] = {"d_loss",    "d_loss_real", "d_loss_fake", "g_loss",
                                         "grad_real", "grad_fake_d", "grad_fake_g", "grad_real_g",
                                         "loss_real", "loss_fake_d", "loss_fake_g", "loss_real_g",
                                         "stats"};

bool real_side(int o) {
  return o == kGradReal || o == kGradRealG || o == kLossReal || o == kLossRealG;
}
bool per_element(int o) {
  return o >= kGradReal && o <= kLossRealG;
}
bool gradient(int o) {
  return o >= kGradReal && o <= kGradRealG;
}

// Every output of one call, each in a buffer of exactly its extent.
struct OutputSet {
  Buffer buffers[kOutputs];

  ganloss_outputs_t view(unsigned mask) const {
    ganloss_outputs_t o;
    ganloss_outputs_init(&o);
    auto at = [&](int k) -> uint8_t* { return (mask >> k) & 1 ? buffers[k].data() : nullptr; };
    o.d_loss = reinterpret_cast<float*>(at(kDLoss));
    o.d_loss_real = reinterpret_cast<float*>(at(kDLossReal));
    o.d_loss_fake = reinterpret_cast<float*>(at(kDLossFake));
    o.g_loss = reinterpret_cast<float*>(at(kGLoss));
    o.grad_real = at(kGradReal);
    o.grad_fake_d = at(kGradFakeD);
    o.grad_fake_g = at(kGradFakeG);
    o.grad_real_g = at(kGradRealG);
    o.loss_real = reinterpret_cast<float*>(at(kLossReal));
    o.loss_fake_d = reinterpret_cast<float*>(at(kLossFakeD));
    o.loss_fake_g = reinterpret_cast<float*>(at(kLossFakeG));
    o.loss_real_g = reinterpret_cast<float*>(at(kLossRealG));
    o.stats = reinterpret_cast<ganloss_segment_stats_t*>(at(kStats));
    return o;
  }
};

class Harness {
 public:
  Harness(const uint8_t* data, std::size_t size) : in_(data, size) {}

  void run() {
    decode();
    fill();
    OutputSet one = make_outputs();
    OutputSet three = make_outputs();
    OutputSet again = make_outputs();
    call(one, inputs(), 1, "1 thread");
    call(three, inputs(), 3, "3 threads");
    call(again, inputs(), 3, "3 threads, again");
    for (int k = 0; k < kOutputs; ++k) {
      if (!three.buffers[k].same_bytes(one.buffers[k])) fail(kOutNames[k], "differs on 3 threads");
      if (!again.buffers[k].same_bytes(three.buffers[k]))
        fail(kOutNames[k], "differs call to call");
    }
    check_gaps(one);
    compare_with_reference(one);
    if (in_place_) check_in_place(one);
  }

 private:
  void decode() {
    const uint8_t d_sel = in_.u8();
    const uint8_t g_sel = in_.u8();
    ganloss_problem_init(&p_);
    p_.d_loss = d_sel % 9;
    p_.g_loss = p_.d_loss >= GANLOSS_LOSS_RELATIVISTIC ? p_.d_loss : g_sel % 5;
    p_.reduction = in_.u8() % 4;
    p_.dtype = in_.u8() % 3;
    const uint8_t flags = in_.u8();
    const uint8_t size_class = in_.u8();
    const uint8_t segments = in_.u8();
    const uint16_t real_count = in_.u16();
    const uint16_t fake_count = in_.u16();
    const uint8_t real_gap = in_.u8();
    const uint8_t fake_gap = in_.u8();
    mask_ = in_.u16() & ((1u << kOutputs) - 1);
    if (mask_ == 0) mask_ = (1u << kOutputs) - 1;
    p_.grad_scale =
        pick(in_.u8(), 1.0f,
             {0.5f, 2.0f, 65536.0f, -1.0f, 1e-3f, 0.0f, 1e4f, 0.1f, 1024.0f, -2.5f, 1e-20f, 3.0f});
    ganloss_loss_params_t& lp = p_.params;
    lp.real_target = pick(in_.u8(), 1.0f, {0.0f, 0.5f, 0.875f, 0.9f, 0.25f, 1.0f});
    lp.fake_target = pick(in_.u8(), 0.0f, {1.0f, 0.5f, 0.125f, 0.1f, 0.75f, 0.0f});
    lp.margin_real = pick(in_.u8(), 1.0f, {0.0f, 0.5f, 2.0f, -1.0f, 10.0f, 1e-3f, 100.0f});
    lp.margin_fake = pick(in_.u8(), 1.0f, {0.0f, 0.5f, 2.0f, -1.0f, 10.0f, 1e-3f, 100.0f});
    lp.ls_fake_label = pick(in_.u8(), 0.0f, {1.0f, -1.0f, 0.5f, 3.0f, -3.0f, 100.0f});
    lp.ls_real_label = pick(in_.u8(), 1.0f, {0.0f, -1.0f, 0.5f, 3.0f, -3.0f, 100.0f});
    lp.ls_gen_label = pick(in_.u8(), 1.0f, {0.0f, -1.0f, 0.5f, 3.0f, -3.0f, 100.0f});
    uint8_t lengths[2][8];
    for (auto& side : lengths) {
      for (uint8_t& l : side)
        l = in_.u8();
    }
    uint8_t lead_tail[4];
    for (uint8_t& b : lead_tail)
      b = in_.u8();

    const bool paired = p_.d_loss == GANLOSS_LOSS_RELATIVISTIC;
    p_.ragged = flags & 1;
    real_weights_ = (flags & 2) != 0;
    fake_weights_ = (flags & 4) != 0 && !paired;  // pair weights go in real_weights only
    p_.fp32_gradients = (flags & 8) ? 1 : 0;
    in_place_ = (flags & 16) != 0;
    const bool dense = (flags & 32) != 0;

    // Sizes by class: small; segments longer than the CPU backend's 8192-element chunks; just
    // over the 65536 elements from which it uses threads. The large classes cost a hundred
    // small calls each, so only one byte value asks for each of them.
    const int klass = size_class == kLongSegments ? 1 : size_class == kManyElements ? 2 : 0;
    p_.segments = klass == 0 ? 1 + segments % 6 : klass == 1 ? 1 + segments % 2 : 2;
    auto count_of = [&](uint16_t v) -> int64_t {
      return klass == 0 ? v % 65 : klass == 1 ? 4096 + v % 8192 : 16384 + v % 64;
    };
    auto length_of = [&](uint8_t v) -> int64_t {
      return klass == 0 ? v % 33 : klass == 1 ? 1000 + 40 * int64_t{v} : 16384 + v % 64;
    };
    if (p_.ragged) {
      for (int side = 0; side < 2; ++side) {
        std::vector<int64_t>& off = offsets_[side];
        off.assign(1, lead_tail[2 * side] % 3);
        for (int64_t s = 0; s < p_.segments; ++s) {
          // The paired loss needs as many fake as real logits in every segment.
          const int from = paired ? 0 : side;
          off.push_back(off.back() + length_of(lengths[from][s]));
        }
      }
      p_.real_count = offsets_[0].back() + lead_tail[1] % 3;
      p_.fake_count = offsets_[1].back() + lead_tail[3] % 3;
    } else {
      // Fixed rows: at least one logit per side, so that any output is valid.
      p_.real_count = std::max<int64_t>(1, count_of(real_count));
      p_.fake_count = paired ? p_.real_count : std::max<int64_t>(1, count_of(fake_count));
      p_.real_stride = dense ? 0 : p_.real_count + real_gap % 9;
      p_.fake_stride = dense ? 0 : p_.fake_count + fake_gap % 9;
    }
  }

  int64_t extent(bool real) const {
    const int64_t count = real ? p_.real_count : p_.fake_count;
    if (p_.ragged) return count;
    return (p_.segments - 1) * stride(real) + count;
  }
  int64_t stride(bool real) const {
    const int64_t s = real ? p_.real_stride : p_.fake_stride;
    return (s == 0 || p_.segments == 1) ? (real ? p_.real_count : p_.fake_count) : s;
  }
  int64_t logit_bytes() const { return p_.dtype == GANLOSS_DTYPE_F32 ? 4 : 2; }
  int64_t grad_bytes() const { return p_.fp32_gradients ? 4 : logit_bytes(); }

  void fill() {
    PayloadCycle payload(in_.rest());
    for (int side = 0; side < 2; ++side) {
      const int64_t n = extent(side == 0);
      logits_[side] = Buffer(static_cast<std::size_t>(n * logit_bytes()));
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t b0 = payload.next();
        const uint8_t b1 = payload.next();
        store(logits_[side].data(), p_.dtype, i, logit_value(b0, b1));
      }
    }
    for (int side = 0; side < 2; ++side) {
      if (!(side == 0 ? real_weights_ : fake_weights_)) continue;
      const int64_t n = extent(side == 0);
      weights_[side] = Buffer(static_cast<std::size_t>(n * 4));
      for (int64_t i = 0; i < n; ++i) {
        const float w = weight_value(payload.next());
        std::memcpy(weights_[side].data() + 4 * i, &w, 4);
      }
    }
  }

  ganloss_inputs_t inputs(const Buffer* real = nullptr, const Buffer* fake = nullptr) const {
    ganloss_inputs_t in;
    ganloss_inputs_init(&in);
    in.real = (real ? real : &logits_[0])->data();
    in.fake = (fake ? fake : &logits_[1])->data();
    // A ragged side of no logits still gets a pointer: the harness never relies on null here.
    if (p_.ragged && in.real == nullptr) in.real = &dummy_;
    if (p_.ragged && in.fake == nullptr) in.fake = &dummy_;
    in.real_weights = reinterpret_cast<const float*>(weights_[0].data());
    in.fake_weights = reinterpret_cast<const float*>(weights_[1].data());
    if (p_.ragged) {
      in.real_offsets = offsets_[0].data();
      in.fake_offsets = offsets_[1].data();
    }
    return in;
  }

  OutputSet make_outputs() const {
    OutputSet o;
    const auto segments = static_cast<std::size_t>(p_.segments);
    for (int k = 0; k < kOutputs; ++k) {
      if (!((mask_ >> k) & 1)) continue;
      std::size_t bytes = segments * 4;
      if (k == kStats) bytes = segments * sizeof(ganloss_segment_stats_t);
      if (per_element(k)) {
        bytes = static_cast<std::size_t>(extent(real_side(k)) * (gradient(k) ? grad_bytes() : 4));
      }
      o.buffers[k] = Buffer(bytes);
    }
    return o;
  }

  void call(OutputSet& out, const ganloss_inputs_t& in, int threads, const char* what) {
    std::size_t bytes = 0;
    ganloss_status_t s = ganloss_workspace_size(&p_, GANLOSS_BACKEND_CPU, &bytes);
    if (s != GANLOSS_STATUS_SUCCESS) fail("workspace_size", ganloss_last_error_message());
    const Buffer workspace(bytes);
    ganloss_execution_t e;
    ganloss_execution_init(&e);
    e.backend = GANLOSS_BACKEND_CPU;
    e.cpu_threads = threads;
    const ganloss_outputs_t o = out.view(mask_);
    s = ganloss_compute(&p_, &in, &o, workspace.data(), bytes, &e, nullptr);
    if (s != GANLOSS_STATUS_SUCCESS) {
      fail(what, (std::string("a valid call failed: ") + ganloss_last_error_message()).c_str());
    }
  }

  // Calls visit(first, count) for the element range of every row of a side.
  template <class Visit>
  void for_each_row(bool real, Visit visit) const {
    for (int64_t s = 0; s < p_.segments; ++s) {
      if (p_.ragged) {
        const std::vector<int64_t>& off = offsets_[real ? 0 : 1];
        const auto k = static_cast<std::size_t>(s);
        visit(off[k], off[k + 1] - off[k]);
      } else {
        visit(s * stride(real), real ? p_.real_count : p_.fake_count);
      }
    }
  }

  // 1 for the elements of a side's rows, 0 for the gaps between them (and, ragged, for the
  // elements before, after and between the segments).
  std::vector<uint8_t> row_mask(bool real) const {
    std::vector<uint8_t> in_row(static_cast<std::size_t>(extent(real)), 0);
    for_each_row(real, [&](int64_t first, int64_t n) {
      std::fill(in_row.begin() + first, in_row.begin() + first + n, uint8_t{1});
    });
    return in_row;
  }

  void check_gaps(const OutputSet& out) const {
    const std::vector<uint8_t> rows[2] = {row_mask(true), row_mask(false)};
    for (int k = kGradReal; k <= kLossRealG; ++k) {
      const Buffer& b = out.buffers[k];
      if (b.bytes() == 0) continue;
      const std::vector<uint8_t>& in_row = rows[real_side(k) ? 0 : 1];
      const std::size_t elem = b.bytes() / in_row.size();
      for (std::size_t i = 0; i < in_row.size(); ++i) {
        if (in_row[i]) continue;
        for (std::size_t j = i * elem; j < (i + 1) * elem; ++j) {
          if (b.data()[j] != kFill) fail(kOutNames[k], "a gap byte written");
        }
      }
    }
  }

  void compare_with_reference(const OutputSet& out) const {
    const ganloss_inputs_t in = inputs();
    const ganloss::reference::Result ref = ganloss::reference::evaluate(p_, in);
    const ganloss::detail::Comparison c = ganloss::detail::compare_with_reference(
        p_, in, ref, out.view(mask_), ganloss::detail::kCpuError);
    if (c.worst() > 1.0) {
      std::fprintf(stderr,
                   "worst error / bound: gradients %g, element losses %g, totals %g, "
                   "statistics %g\n",
                   c.gradients, c.element_losses, c.totals, c.statistics);
      fail("comparison with the reference", c.first_failure.c_str());
    }
  }

  // Whether the totals `in_place` are those `out_of_place`, bitwise, but where a total in place
  // is +-inf or NaN: a call that writes a gradient over its logits keeps its fp32 blocks' loss
  // sums, which terms near FLT_MAX can overflow where the double sums out of place do not
  // (docs/numerics.md, "Terms beyond fp32's range").
  static bool same_totals_but_overflow(const Buffer& in_place, const Buffer& out_of_place) {
    if (in_place.bytes() != out_of_place.bytes()) return false;
    for (std::size_t at = 0; at + 4 <= in_place.bytes(); at += 4) {
      float a, b;
      std::memcpy(&a, in_place.data() + at, 4);
      std::memcpy(&b, out_of_place.data() + at, 4);
      if (std::isfinite(a) && std::memcmp(&a, &b, 4) != 0) return false;
    }
    return true;
  }

  // A gradient given its own logits' address gives the same bits as out of place, and the
  // other outputs are unchanged by it, but for totals that overflow in place (above).
  void check_in_place(const OutputSet& one) {
    if (grad_bytes() != logit_bytes()) return;
    int target[2] = {-1, -1};
    if ((mask_ >> kGradReal) & 1) {
      target[0] = kGradReal;
    } else if ((mask_ >> kGradRealG) & 1) {
      target[0] = kGradRealG;
    }
    if ((mask_ >> kGradFakeD) & 1) {
      target[1] = kGradFakeD;
    } else if ((mask_ >> kGradFakeG) & 1) {
      target[1] = kGradFakeG;
    }
    if (target[0] < 0 && target[1] < 0) return;
    Buffer copies[2];
    for (int side = 0; side < 2; ++side) {
      copies[side] = Buffer(logits_[side].bytes());
      if (logits_[side].bytes()) {
        std::memcpy(copies[side].data(), logits_[side].data(), logits_[side].bytes());
      }
    }
    OutputSet out = make_outputs();
    ganloss_outputs_t o = out.view(mask_);
    for (int side = 0; side < 2; ++side) {
      void* self = copies[side].data();
      if (self == nullptr) continue;  // a ragged side without logits: nothing to replace
      switch (target[side]) {
        case kGradReal:
          o.grad_real = self;
          break;
        case kGradRealG:
          o.grad_real_g = self;
          break;
        case kGradFakeD:
          o.grad_fake_d = self;
          break;
        case kGradFakeG:
          o.grad_fake_g = self;
          break;
        default:
          break;
      }
    }
    const ganloss_inputs_t in = inputs(&copies[0], &copies[1]);
    std::size_t bytes = 0;
    if (ganloss_workspace_size(&p_, GANLOSS_BACKEND_CPU, &bytes) != GANLOSS_STATUS_SUCCESS) {
      fail("workspace_size", ganloss_last_error_message());
    }
    const Buffer workspace(bytes);
    ganloss_execution_t e;
    ganloss_execution_init(&e);
    e.backend = GANLOSS_BACKEND_CPU;
    e.cpu_threads = 1;
    if (ganloss_compute(&p_, &in, &o, workspace.data(), bytes, &e, nullptr) !=
        GANLOSS_STATUS_SUCCESS) {
      fail("in place",
           (std::string("a valid call failed: ") + ganloss_last_error_message()).c_str());
    }
    for (int k = 0; k < kOutputs; ++k) {
      const bool replaced = k == target[0] || k == target[1];
      if (!replaced) {
        const bool total = k == kDLoss || k == kDLossReal || k == kDLossFake || k == kGLoss;
        if (total ? !same_totals_but_overflow(out.buffers[k], one.buffers[k])
                  : !out.buffers[k].same_bytes(one.buffers[k])) {
          fail(kOutNames[k], "differs in place");
        }
        continue;
      }
      const bool real = real_side(k);
      const Buffer& got = copies[real ? 0 : 1];
      const auto g = static_cast<std::size_t>(grad_bytes());
      for_each_row(real, [&](int64_t first, int64_t n) {
        const auto at = static_cast<std::size_t>(first) * g;
        if (n > 0 && std::memcmp(got.data() + at, one.buffers[k].data() + at,
                                 static_cast<std::size_t>(n) * g) != 0) {
          fail(kOutNames[k], "in place differs from out of place");
        }
      });
    }
  }

  float load(const Buffer& b, int64_t i) const {
    if (p_.dtype == GANLOSS_DTYPE_F32) {
      float v;
      std::memcpy(&v, b.data() + 4 * i, 4);
      return v;
    }
    uint16_t h;
    std::memcpy(&h, b.data() + 2 * i, 2);
    return p_.dtype == GANLOSS_DTYPE_F16 ? ganloss::detail::half_to_float(h)
                                         : ganloss::detail::bfloat16_to_float(h);
  }

  [[noreturn]] void fail(const char* what, const char* detail) const {
    std::fprintf(
        stderr,
        "\nfuzz_cpu_backend: %s: %s\nproblem: segments=%lld real_count=%lld "
        "fake_count=%lld real_stride=%lld fake_stride=%lld ragged=%d dtype=%d d_loss=%d "
        "g_loss=%d reduction=%d fp32_gradients=%d grad_scale=%g targets=%g/%g "
        "margins=%g/%g ls_labels=%g/%g/%g\nweights real=%d fake=%d outputs mask=0x%x\n",
        what, detail, static_cast<long long>(p_.segments), static_cast<long long>(p_.real_count),
        static_cast<long long>(p_.fake_count), static_cast<long long>(p_.real_stride),
        static_cast<long long>(p_.fake_stride), p_.ragged, p_.dtype, p_.d_loss, p_.g_loss,
        p_.reduction, p_.fp32_gradients, static_cast<double>(p_.grad_scale),
        static_cast<double>(p_.params.real_target), static_cast<double>(p_.params.fake_target),
        static_cast<double>(p_.params.margin_real), static_cast<double>(p_.params.margin_fake),
        static_cast<double>(p_.params.ls_fake_label), static_cast<double>(p_.params.ls_real_label),
        static_cast<double>(p_.params.ls_gen_label), real_weights_ ? 1 : 0, fake_weights_ ? 1 : 0,
        mask_);
    for (int side = 0; side < 2 && p_.ragged; ++side) {
      std::fprintf(stderr, "%s offsets:", side == 0 ? "real" : "fake");
      for (const int64_t o : offsets_[side])
        std::fprintf(stderr, " %lld", static_cast<long long>(o));
      std::fprintf(stderr, "\n");
    }
    // The data of small problems, in full.
    for (int side = 0; side < 2; ++side) {
      const int64_t n = extent(side == 0);
      if (n > 256) continue;
      std::fprintf(stderr, "%s logits:", side == 0 ? "real" : "fake");
      for (int64_t i = 0; i < n; ++i)
        std::fprintf(stderr, " %.9g", static_cast<double>(load(logits_[side], i)));
      if (weights_[side].bytes() != 0) {
        std::fprintf(stderr, "\n%s weights:", side == 0 ? "real" : "fake");
        for (int64_t i = 0; i < n; ++i) {
          float w;
          std::memcpy(&w, weights_[side].data() + 4 * i, 4);
          std::fprintf(stderr, " %.9g", static_cast<double>(w));
        }
      }
      std::fprintf(stderr, "\n");
    }
    std::fflush(stderr);
    std::abort();
  }

  ByteReader in_;
  ganloss_problem_t p_{};
  unsigned mask_ = 0;
  bool real_weights_ = false;
  bool fake_weights_ = false;
  bool in_place_ = false;
  std::vector<int64_t> offsets_[2];
  Buffer logits_[2];
  Buffer weights_[2];
  float dummy_ = 0.0f;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  Harness(data, size).run();
  return 0;
}
