// libFuzzer harness for the C ABI: ganloss_workspace_size, ganloss_compute and the plan API
// (ganloss_plan_create, _execute, _vjp) with every field
// of the problem and the execution decoded from the input, and every pointer chosen among null,
// a buffer of its own, that buffer shifted by a few bytes, another pointer of the call, a few
// bytes into another pointer's buffer, or any place in the harness's memory. Backends: CPU and
// reference only.
//
// Every buffer lives in one arena the harness allocated. The harness never gives the library a
// pointer whose extent (from the problem, as ganloss.h defines it) the arena does not hold,
// unless its own model of ganloss.h's rules says the problem or the execution is invalid, in
// which case the call must fail before it touches any pointer. For a valid problem an
// unbacked pointer (a huge size, a buffer pushed past the arena's end) is passed as null.
//
// Checked on every call: a known status, never INTERNAL_ERROR; a message exactly on failure;
// the call fails whenever the model says it must (invalid problem, null required pointers,
// misaligned or overlapping buffers, a workspace too small); a failed call leaves every byte of
// the arena as it was; a successful one changes only the rows of the requested outputs (not
// the gaps between rows, not the inputs) and the workspace; statistics stay in their ranges;
// and for moderate finite inputs every loss, f32/bf16 gradient and statistic is finite.
// Plans, on the same decoded call: creation succeeds exactly for a valid problem and execution;
// an execution gives ganloss_compute's status and bytes; a VJP (cotangents at the d_loss and
// g_loss slots, gradients at grad_real and grad_fake_d) writes nothing when it fails and only the
// gradients' extents and the workspace when it succeeds.
//
// Input layout (byte_reader.hpp; tests/fuzz/make_corpus.py mirrors it), in order:
//   u8 mode (1: null problem, 2: null inputs, 3: null outputs, 4: null `bytes` for the size
//     query; anything else: a normal call)
//   problem: segments, real_count, fake_count, real_stride, fake_stride as size fields
//     (u8 selector + i64); ragged, dtype, d_loss, g_loss, reduction, fp32_gradients as enum
//     fields (u8 selector + i32); grad_scale and the 7 loss parameters as float fields
//     (u8 selector + f32)
//   execution: backend (u8 + i32), cpu_threads (u8 + i32), a flags i32: workspace_initialized
//     (its bit 0, or the whole field when its low byte is 250 or more) and check_memory (its
//     bits 8 and 9)
//   19 pointer choices (inputs then outputs, in struct order): u8 kind + u16 parameter each
//   workspace: u8 kind + u16 parameter, u8 size selector + u32
//   u8 logit fill mode, u8 weight fill mode, u8 real offsets mode, u8 fake offsets mode
//   the rest: payload bytes that fill the buffers (cycled)
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <vector>

#include "byte_reader.hpp"
#include "ganloss/ganloss.h"
#include "host_dtype.hpp"

namespace {

using ganloss::fuzz::ByteReader;
using ganloss::fuzz::PayloadCycle;

constexpr std::size_t kGuard = 64;      // bytes before, between and after buffers
constexpr uint64_t kMaxFresh = 16384;   // one buffer of its own: at most 4096 f32 elements
constexpr double kTameMagnitude = 1e3;  // inputs below this give finite outputs

// Sizes where overflow checks live: around 2^31, 2^32, int64 / 4 (bytes of f32 elements),
// int64 / 40 and / 80 (per-segment statistics and CPU state), and the ends of int64.
constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kSizes[] = {0,
                              1,
                              -1,
                              2,
                              7,
                              8,
                              17,
                              64,
                              4096,
                              8192,
                              8193,
                              65536,
                              std::numeric_limits<int32_t>::max(),
                              int64_t{1} << 31,
                              int64_t{1} << 32,
                              int64_t{1} << 40,
                              int64_t{1} << 61,
                              int64_t{1} << 62,
                              kMax64 / 4,
                              kMax64 / 4 + 1,
                              kMax64 / 8,
                              kMax64 / 40,
                              kMax64 / 40 + 1,
                              kMax64 / 80,
                              kMax64 / 2,
                              kMax64 - 1,
                              kMax64,
                              std::numeric_limits<int64_t>::min(),
                              std::numeric_limits<int64_t>::min() + 1,
                              -(int64_t{1} << 40)};

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kFloats[] = {0.0f,
                             -0.0f,
                             1.0f,
                             -1.0f,
                             0.5f,
                             2.0f,
                             0.875f,
                             1e-3f,
                             10.0f,
                             1000.0f,
                             65536.0f,
                             1e30f,
                             -1e30f,
                             3.4e38f,
                             1.2e-38f,
                             1e-45f,
                             kInf,
                             -kInf,
                             std::numeric_limits<float>::quiet_NaN(),
                             1.0000001f};

int64_t size_field(ByteReader& r, int64_t small_max) {
  const uint8_t sel = r.u8();
  const auto raw = r.i64();
  if (sel < 160) return static_cast<int64_t>(static_cast<uint64_t>(raw) % (small_max + 1));
  if (sel < 224) return kSizes[static_cast<uint64_t>(raw) % std::size(kSizes)];
  return raw;
}

int32_t enum_field(ByteReader& r, int32_t valid_values) {
  const uint8_t sel = r.u8();
  const int32_t raw = r.i32();
  return sel < 224 ? sel % valid_values : raw;
}

float float_field(ByteReader& r, float default_value) {
  const uint8_t sel = r.u8();
  const float raw = r.f32();
  if (sel < 128) return default_value;
  if (sel < 208) return kFloats[sel % std::size(kFloats)];
  return raw;
}

// The pointers of a call, in the order of their choices in the input.
enum Slot {
  kReal,
  kFake,
  kRealWeights,
  kFakeWeights,
  kRealOffsets,
  kFakeOffsets,
  kDLoss,
  kDLossReal,
  kDLossFake,
  kGLoss,
  kStats,
  kGradReal,
  kGradRealG,
  kGradFakeD,
  kGradFakeG,
  kLossReal,
  kLossRealG,
  kLossFakeD,
  kLossFakeG,
  kWorkspace,
  kSlots
};

const char* const kSlotNames[kSlots] = {
    "real",         "fake",        "real_weights", "fake_weights", "real_offsets",
    "fake_offsets", "d_loss",      "d_loss_real",  "d_loss_fake",  "g_loss",
    "stats",        "grad_real",   "grad_real_g",  "grad_fake_d",  "grad_fake_g",
    "loss_real",    "loss_real_g", "loss_fake_d",  "loss_fake_g",  "workspace"};

bool is_output(int slot) {
  return slot >= kDLoss && slot <= kLossFakeG;
}
bool on_real_side(int slot) {
  return slot == kReal || slot == kRealWeights || slot == kRealOffsets || slot == kGradReal ||
         slot == kGradRealG || slot == kLossReal || slot == kLossRealG;
}
bool per_element(int slot) {
  return slot == kReal || slot == kFake || slot == kRealWeights || slot == kFakeWeights ||
         (slot >= kGradReal && slot <= kLossFakeG);
}
bool is_gradient(int slot) {
  return slot >= kGradReal && slot <= kGradFakeG;
}

// ganloss.h's rules for a problem, written from the header (not from validate.cpp).
bool problem_valid(const ganloss_problem_t& p) {
  if (p.dtype < 0 || p.dtype > 2) return false;
  if (p.d_loss < 0 || p.d_loss > 8 || p.g_loss < 0 || p.g_loss > 8) return false;
  if (p.reduction < 0 || p.reduction > 3) return false;
  if (p.segments < 1) return false;
  if (p.ragged != 0 && p.ragged != 1) return false;
  if (p.fp32_gradients != 0 && p.fp32_gradients != 1) return false;
  const bool ragged = p.ragged == 1;
  for (const auto& [count, stride] :
       {std::pair{p.real_count, p.real_stride}, std::pair{p.fake_count, p.fake_stride}}) {
    if (count < 0) return false;
    if (ragged) {
      if (stride != 0) return false;
      if (static_cast<__int128>(count) * 8 > kMax64) return false;
      continue;
    }
    if (stride < 0) return false;
    if (p.segments > 1 && stride != 0 && stride < count) return false;
    const int64_t eff = (stride == 0 || p.segments == 1) ? count : stride;
    const __int128 extent = static_cast<__int128>(p.segments - 1) * eff + count;
    if (extent > kMax64 / 4) return false;  // the bytes of f32 elements overflow int64
  }
  if (!ragged && p.real_count == 0 && p.fake_count == 0) return false;
  const bool rel = p.d_loss >= GANLOSS_LOSS_RELATIVISTIC || p.g_loss >= GANLOSS_LOSS_RELATIVISTIC;
  if (rel && p.d_loss != p.g_loss) return false;
  if (p.d_loss == GANLOSS_LOSS_RELATIVISTIC && !ragged && p.real_count != p.fake_count) {
    return false;
  }
  // The per-segment outputs must be addressable.
  if (static_cast<__int128>(p.segments) * static_cast<__int128>(sizeof(ganloss_segment_stats_t)) >
          kMax64 ||
      p.segments == kMax64) {
    return false;
  }
  const ganloss_loss_params_t& lp = p.params;
  for (const float v : {p.grad_scale, lp.margin_real, lp.margin_fake, lp.ls_fake_label,
                        lp.ls_real_label, lp.ls_gen_label}) {
    if (!std::isfinite(v)) return false;
  }
  if (std::fabs(p.grad_scale) > 0x1p126f) return false;
  for (const float t : {lp.real_target, lp.fake_target}) {
    if (!(t >= 0.0f && t <= 1.0f)) return false;
  }
  return true;
}

int64_t logit_size(const ganloss_problem_t& p) {
  return p.dtype == GANLOSS_DTYPE_F16 || p.dtype == GANLOSS_DTYPE_BF16 ? 2 : 4;
}
int64_t grad_size(const ganloss_problem_t& p) {
  return p.fp32_gradients == 1 ? 4 : logit_size(p);
}

// Elements a side's per-element arrays span, or nothing where the problem does not say.
std::optional<__int128> side_elements(const ganloss_problem_t& p, bool real) {
  const int64_t count = real ? p.real_count : p.fake_count;
  const int64_t stride = real ? p.real_stride : p.fake_stride;
  if (count < 0) return std::nullopt;
  if (p.ragged == 1) return count;
  if (p.ragged != 0 || stride < 0 || p.segments < 1) return std::nullopt;
  if (count == 0) return 0;
  const int64_t eff = (stride == 0 || p.segments == 1) ? count : stride;
  return static_cast<__int128>(p.segments - 1) * eff + count;
}

// Bytes slot `slot` spans for problem `p` (the workspace: its declared bytes), if known.
std::optional<uint64_t> slot_bytes(const ganloss_problem_t& p, int slot, uint64_t ws_bytes) {
  __int128 bytes = 0;
  if (slot == kWorkspace) return ws_bytes;
  if (per_element(slot)) {
    const std::optional<__int128> n = side_elements(p, on_real_side(slot));
    if (!n || *n > (__int128{1} << 62)) return std::nullopt;
    int64_t elem = 4;
    if (slot == kReal || slot == kFake) elem = logit_size(p);
    if (is_gradient(slot)) elem = grad_size(p);
    bytes = *n * elem;
  } else {
    if (p.segments < 1) return std::nullopt;
    const __int128 s = p.segments;
    if (slot == kRealOffsets || slot == kFakeOffsets) {
      bytes = (s + 1) * 8;
    } else if (slot == kStats) {
      bytes = s * static_cast<__int128>(sizeof(ganloss_segment_stats_t));
    } else {
      bytes = s * 4;
    }
  }
  if (bytes < 0 || bytes > (__int128{1} << 62)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

uint64_t slot_alignment(const ganloss_problem_t& p, int slot) {
  if (slot == kReal || slot == kFake) return static_cast<uint64_t>(logit_size(p));
  if (is_gradient(slot)) return static_cast<uint64_t>(grad_size(p));
  if (slot == kRealOffsets || slot == kFakeOffsets || slot == kStats) return 8;
  if (slot == kWorkspace) return 16;
  return 4;
}

enum class Kind { null, fresh, shifted, same_as, inside_of, anywhere };

Kind decode_kind(uint8_t k) {
  switch (k % 8) {
    case 0:
      return Kind::null;
    case 4:
      return Kind::shifted;
    case 5:
      return Kind::same_as;
    case 6:
      return Kind::inside_of;
    case 7:
      return Kind::anywhere;
    default:
      return Kind::fresh;
  }
}

// One value of the logits from the payload, as the fill mode asks.
float logit_value(uint8_t mode, PayloadCycle& payload) {
  static constexpr float kSpecial[] = {
      0.0f,    -0.0f,  1.0f,   -1.0f,  17.0f,
      -17.0f,  88.7f,  -88.7f, 1e-30f, 30.0f,
      -30.0f,  100.0f, kInf,   -kInf,  std::numeric_limits<float>::quiet_NaN(),
      65504.0f};
  if (mode < 170) {
    const auto b = static_cast<int8_t>(payload.next());
    return static_cast<float>(b) / 8.0f;
  }
  return kSpecial[payload.next() % std::size(kSpecial)];
}

void store_logit(uint8_t* at, int64_t size, float v, int32_t dtype) {
  if (size == 4) {
    std::memcpy(at, &v, 4);
    return;
  }
  const uint16_t h = dtype == GANLOSS_DTYPE_BF16 ? ganloss::detail::float_to_bfloat16(v)
                                                 : ganloss::detail::float_to_half(v);
  std::memcpy(at, &h, 2);
}

float load_value(const uint8_t* at, int64_t size, int32_t dtype) {
  if (size == 4) {
    float v;
    std::memcpy(&v, at, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, at, 2);
  return dtype == GANLOSS_DTYPE_BF16 ? ganloss::detail::bfloat16_to_float(h)
                                     : ganloss::detail::half_to_float(h);
}

bool known_status(ganloss_status_t s) {
  return s >= GANLOSS_STATUS_SUCCESS && s <= GANLOSS_STATUS_INVALID_MEMORY;
}

// The harness's memory: every buffer of a call, with guard bytes around and between them.
struct Arena {
  std::vector<uint8_t> storage;
  uintptr_t begin = 0;  // 64-byte aligned; buffers and the guards around them follow
  uintptr_t end = 0;

  bool holds(uintptr_t p, uint64_t bytes) const {
    return p >= begin && p <= end && bytes <= end - p;
  }
  uint8_t* at(uintptr_t p) {
    return storage.data() + (p - reinterpret_cast<uintptr_t>(storage.data()));
  }
  std::size_t index(uintptr_t p) const {
    return static_cast<std::size_t>(p - reinterpret_cast<uintptr_t>(storage.data()));
  }
};

class Harness {
 public:
  Harness(const uint8_t* data, std::size_t size) : in_(data, size) {}

  void run() {
    decode();
    query_workspace();
    build_arena();
    fill_inputs();
    choose_pointers();
    call();
  }

 private:
  void decode() {
    mode_ = in_.u8();
    ganloss_problem_init(&p_);
    p_.segments = size_field(in_, 8);
    p_.real_count = size_field(in_, 64);
    p_.fake_count = size_field(in_, 64);
    p_.real_stride = size_field(in_, 80);
    p_.fake_stride = size_field(in_, 80);
    p_.ragged = enum_field(in_, 2);
    p_.dtype = enum_field(in_, 3);
    p_.d_loss = enum_field(in_, 9);
    p_.g_loss = enum_field(in_, 9);
    p_.reduction = enum_field(in_, 4);
    p_.fp32_gradients = enum_field(in_, 2);
    p_.grad_scale = float_field(in_, 1.0f);
    ganloss_loss_params_t& lp = p_.params;
    lp.real_target = float_field(in_, 1.0f);
    lp.fake_target = float_field(in_, 0.0f);
    lp.margin_real = float_field(in_, 1.0f);
    lp.margin_fake = float_field(in_, 1.0f);
    lp.ls_fake_label = float_field(in_, 0.0f);
    lp.ls_real_label = float_field(in_, 1.0f);
    lp.ls_gen_label = float_field(in_, 1.0f);

    ganloss_execution_init(&exec_);
    const uint8_t backend_sel = in_.u8();
    const int32_t backend_raw = in_.i32();
    exec_.backend = backend_sel < 150   ? GANLOSS_BACKEND_CPU
                    : backend_sel < 240 ? GANLOSS_BACKEND_REFERENCE
                                        : backend_raw;
    // Never CUDA: these runs have no GPU, and the pointers are host memory.
    if (exec_.backend == GANLOSS_BACKEND_CUDA) exec_.backend = 3;
    const uint8_t threads_sel = in_.u8();
    const int32_t threads_raw = in_.i32();
    exec_.cpu_threads = threads_sel < 240 ? threads_sel % 5 : threads_raw;
    const int32_t flags = in_.i32();
    // Mostly 0 or 1 (bit 0); when the low byte is 250 or more, the whole field, which the
    // library refuses unless it is 0 or 1.
    exec_.workspace_initialized = (flags & 0xff) < 250 ? (flags & 1) : flags;
    // Plans only: from bits 8 and 9 of the same field, so that 2 and 3 (invalid) occur too.
    exec_.check_memory = (flags >> 8) & 3;

    for (int s = 0; s < kSlots; ++s) {
      kind_[s] = decode_kind(in_.u8());
      param_[s] = in_.u16();
    }
    ws_size_sel_ = in_.u8();
    ws_size_raw_ = in_.u32();
    logit_mode_ = in_.u8();
    weight_mode_ = in_.u8();
    offsets_mode_[0] = in_.u8();
    offsets_mode_[1] = in_.u8();

    problem_valid_ = problem_valid(p_);
    backend_valid_ =
        exec_.backend == GANLOSS_BACKEND_CPU || exec_.backend == GANLOSS_BACKEND_REFERENCE;
    call_valid_ = problem_valid_ && backend_valid_ && exec_.cpu_threads >= 0 &&
                  (exec_.workspace_initialized == 0 || exec_.workspace_initialized == 1);
  }

  void query_workspace() {
    std::size_t bytes = 12345;
    if (mode_ == 4) {
      const ganloss_status_t s = ganloss_workspace_size(&p_, exec_.backend, nullptr);
      check_status_and_message(s);
      FUZZ_CHECK(s != GANLOSS_STATUS_SUCCESS);
    }
    const ganloss_status_t s =
        ganloss_workspace_size(mode_ == 1 ? nullptr : &p_, exec_.backend, &bytes);
    check_status_and_message(s);
    if (mode_ == 1) {
      FUZZ_CHECK(s == GANLOSS_STATUS_NULL_POINTER);
    } else if (!problem_valid_ || !backend_valid_) {
      FUZZ_CHECK(s != GANLOSS_STATUS_SUCCESS);
    } else {
      FUZZ_CHECK(s == GANLOSS_STATUS_SUCCESS);
      required_ = bytes;
      // The size depends on the problem and the backend only: asking again gives the same.
      std::size_t again = 0;
      FUZZ_CHECK(ganloss_workspace_size(&p_, exec_.backend, &again) == GANLOSS_STATUS_SUCCESS);
      FUZZ_CHECK(again == bytes);
    }
    const uint64_t extra = ws_size_raw_ % 256;
    switch (required_ ? ws_size_sel_ % 8 : 7) {
      case 4:
        ws_bytes_ = *required_ > 0 ? *required_ - 1 : 0;
        break;
      case 5:
        ws_bytes_ = 0;
        break;
      case 6:
        ws_bytes_ = *required_ + extra;
        break;
      case 7:
        ws_bytes_ =
            ws_size_raw_ == 0xffffffffu ? std::numeric_limits<std::size_t>::max() : ws_size_raw_;
        break;
      default:
        ws_bytes_ = *required_;
    }
  }

  // Lays out a buffer of its own for every slot whose kind asks for one.
  void build_arena() {
    uint64_t cursor = kGuard;
    for (int s = 0; s < kSlots; ++s) {
      extent_[s] = slot_bytes(p_, s, ws_bytes_);
      if (kind_[s] != Kind::fresh && kind_[s] != Kind::shifted) continue;
      shift_[s] = kind_[s] == Kind::shifted ? 1 + param_[s] % 15 : 0;
      // Too large to hold: a token buffer, so that the pointer is real but not backed.
      const uint64_t bytes = extent_[s] && *extent_[s] <= kMaxFresh ? *extent_[s] : 64;
      cursor = (cursor + 63) / 64 * 64;
      fresh_offset_[s] = cursor;
      cursor += shift_[s] + bytes + kGuard;
    }
    // The last buffer is followed by a guard too: `cursor` covers it.
    arena_.storage.assign(static_cast<std::size_t>(cursor + 64), 0xA5);
    const auto raw = reinterpret_cast<uintptr_t>(arena_.storage.data());
    arena_.begin = (raw + 63) / 64 * 64;
    arena_.end = arena_.begin + cursor;
  }

  uintptr_t fresh_address(int s) const { return arena_.begin + fresh_offset_[s] + shift_[s]; }

  // Logits, weights and offsets in the buffers of their own; outputs keep the 0xA5 pattern.
  void fill_inputs() {
    PayloadCycle payload(in_.rest());
    const int64_t t = logit_size(p_);
    for (const int s : {kReal, kFake}) {
      if (!owns_buffer(s)) continue;
      uint8_t* b = arena_.at(fresh_address(s));
      const uint64_t n = *extent_[s] / static_cast<uint64_t>(t);
      for (uint64_t i = 0; i < n; ++i) {
        if (logit_mode_ < 85) {
          for (int64_t k = 0; k < t; ++k)
            b[i * static_cast<uint64_t>(t) + static_cast<uint64_t>(k)] = payload.next();
        } else {
          store_logit(b + i * static_cast<uint64_t>(t), t, logit_value(logit_mode_, payload),
                      p_.dtype);
        }
      }
    }
    for (const int s : {kRealWeights, kFakeWeights}) {
      if (!owns_buffer(s)) continue;
      uint8_t* b = arena_.at(fresh_address(s));
      for (uint64_t i = 0; i < *extent_[s] / 4; ++i) {
        // Mostly weights the contract allows, sometimes any bit pattern.
        const float w = weight_mode_ < 192 ? static_cast<float>(payload.next()) / 16.0f
                                           : payload.next_as<float>();
        std::memcpy(b + 4 * i, &w, 4);
      }
    }
    std::vector<int64_t> real_offsets;
    for (const int s : {kRealOffsets, kFakeOffsets}) {
      if (!owns_buffer(s)) continue;
      const bool real = s == kRealOffsets;
      const uint8_t mode = offsets_mode_[real ? 0 : 1];
      const int64_t count = real ? p_.real_count : p_.fake_count;
      const auto n = static_cast<std::size_t>(*extent_[s] / 8);
      std::vector<int64_t> off(n);
      if (mode >= 192) {
        for (auto& o : off)
          o = payload.next_as<int64_t>();
      } else {
        // Non-decreasing within [0, count], some segments empty; the fake side may copy the
        // real offsets (the paired loss needs equal lengths).
        const bool copy = !real && mode < 64 && real_offsets.size() == n;
        off[0] = std::min<int64_t>(count, copy ? real_offsets[0] : payload.next() % 3);
        for (std::size_t k = 1; k < n; ++k) {
          off[k] = std::min(count, copy ? real_offsets[k] : off[k - 1] + payload.next() % 33);
        }
        if (real) real_offsets = off;
      }
      std::memcpy(arena_.at(fresh_address(s)), off.data(), n * 8);
    }
  }

  // A buffer of its own that holds the slot's whole extent.
  bool owns_buffer(int s) const {
    return (kind_[s] == Kind::fresh || kind_[s] == Kind::shifted) && extent_[s] &&
           *extent_[s] <= kMaxFresh;
  }

  void choose_pointers() {
    for (int s = 0; s < kSlots; ++s) {
      uintptr_t a = 0;
      switch (kind_[s]) {
        case Kind::null:
          break;
        case Kind::fresh:
        case Kind::shifted:
          a = fresh_address(s);
          break;
        case Kind::same_as:  // low byte: which earlier slot
          a = s > 0 ? addr_[(param_[s] & 0xff) % s] : 0;
          break;
        case Kind::inside_of:  // and high byte: how many bytes into it, 1 to 63
          if (s > 0 && addr_[(param_[s] & 0xff) % s] != 0) {
            a = addr_[(param_[s] & 0xff) % s] + 1 + (param_[s] >> 8) % 63;
          }
          break;
        case Kind::anywhere:
          a = arena_.begin + param_[s] % (arena_.end - arena_.begin + 1);
          break;
      }
      addr_[s] = a;
    }
    // A valid call may run: it gets only pointers whose whole extent the arena holds.
    for (int s = 0; s < kSlots; ++s) {
      backed_[s] = addr_[s] != 0 && extent_[s] && arena_.holds(addr_[s], *extent_[s]);
      if (call_valid_ && addr_[s] != 0 && !backed_[s]) addr_[s] = 0;
    }
  }

  template <class T>
  T* ptr(int s) const {
    return reinterpret_cast<T*>(addr_[s]);
  }

  void check_status_and_message(ganloss_status_t s) {
    FUZZ_CHECK(known_status(s));
    FUZZ_CHECK(s != GANLOSS_STATUS_INTERNAL_ERROR);
    FUZZ_CHECK(s != GANLOSS_STATUS_CUDA_ERROR);
    const char* text = ganloss_status_string(s);
    FUZZ_CHECK(text != nullptr && *text != '\0');
    const char* message = ganloss_last_error_message();
    FUZZ_CHECK(message != nullptr);
    if (s == GANLOSS_STATUS_SUCCESS) {
      FUZZ_CHECK(*message == '\0');
    } else {
      FUZZ_CHECK(*message != '\0');
    }
  }

  void call() {
    ganloss_inputs_t in;
    ganloss_inputs_init(&in);
    in.real = ptr<const void>(kReal);
    in.fake = ptr<const void>(kFake);
    in.real_weights = ptr<const float>(kRealWeights);
    in.fake_weights = ptr<const float>(kFakeWeights);
    in.real_offsets = ptr<const int64_t>(kRealOffsets);
    in.fake_offsets = ptr<const int64_t>(kFakeOffsets);
    ganloss_outputs_t out;
    out.d_loss = ptr<float>(kDLoss);
    out.d_loss_real = ptr<float>(kDLossReal);
    out.d_loss_fake = ptr<float>(kDLossFake);
    out.g_loss = ptr<float>(kGLoss);
    out.stats = ptr<ganloss_segment_stats_t>(kStats);
    out.grad_real = ptr<void>(kGradReal);
    out.grad_real_g = ptr<void>(kGradRealG);
    out.grad_fake_d = ptr<void>(kGradFakeD);
    out.grad_fake_g = ptr<void>(kGradFakeG);
    out.loss_real = ptr<float>(kLossReal);
    out.loss_real_g = ptr<float>(kLossRealG);
    out.loss_fake_d = ptr<float>(kLossFakeD);
    out.loss_fake_g = ptr<float>(kLossFakeG);

    // For triage: GANLOSS_FUZZ_VERBOSE=1 prints the call a crashing input makes.
    if (std::getenv("GANLOSS_FUZZ_VERBOSE") != nullptr) describe();
    plan_calls(in, out);
    const std::vector<uint8_t> before = arena_.storage;
    const ganloss_status_t s = ganloss_compute(
        mode_ == 1 ? nullptr : &p_, mode_ == 2 ? nullptr : &in, mode_ == 3 ? nullptr : &out,
        ptr<void>(kWorkspace), static_cast<std::size_t>(ws_bytes_), &exec_, nullptr);
    if (std::getenv("GANLOSS_FUZZ_VERBOSE") != nullptr) {
      std::fprintf(stderr, "status %d: %s\n", static_cast<int>(s), ganloss_last_error_message());
    }
    check_status_and_message(s);
    if (s != GANLOSS_STATUS_SUCCESS) {
      // A rejected call writes nothing.
      FUZZ_CHECK(arena_.storage == before);
      return;
    }
    FUZZ_CHECK(mode_ < 1 || mode_ > 3);
    FUZZ_CHECK(call_valid_);
    FUZZ_CHECK(backend_valid_);
    check_must_fail_rules();
    check_writes(before);
    check_values(before);
  }

  // The plan API on the call's arguments; leaves the arena as it found it.
  void plan_calls(const ganloss_inputs_t& in, const ganloss_outputs_t& out) {
    const std::vector<uint8_t> before = arena_.storage;
    ganloss_plan_t plan = nullptr;
    const ganloss_status_t created = ganloss_plan_create(mode_ == 1 ? nullptr : &p_, &exec_, &plan);
    check_status_and_message(created);
    FUZZ_CHECK(arena_.storage == before);
    const bool plan_valid = mode_ != 1 && call_valid_ && exec_.check_memory <= 1;
    FUZZ_CHECK((created == GANLOSS_STATUS_SUCCESS) == plan_valid);
    if (created != GANLOSS_STATUS_SUCCESS) {
      FUZZ_CHECK(plan == nullptr);
      return;
    }
    std::size_t plan_bytes = 0;
    FUZZ_CHECK(ganloss_plan_workspace_size(plan, &plan_bytes) == GANLOSS_STATUS_SUCCESS);
    FUZZ_CHECK(required_ && plan_bytes == *required_);
    void* ws = ptr<void>(kWorkspace);
    const auto ws_bytes = static_cast<std::size_t>(ws_bytes_);

    // An execution: ganloss_compute's status and bytes.
    const ganloss_status_t executed = ganloss_plan_execute(
        plan, mode_ == 2 ? nullptr : &in, mode_ == 3 ? nullptr : &out, ws, ws_bytes, nullptr);
    check_status_and_message(executed);
    const std::vector<uint8_t> after_plan = arena_.storage;
    arena_.storage = before;
    const ganloss_status_t computed =
        ganloss_compute(&p_, mode_ == 2 ? nullptr : &in, mode_ == 3 ? nullptr : &out, ws, ws_bytes,
                        &exec_, nullptr);
    FUZZ_CHECK(computed == executed);
    FUZZ_CHECK(arena_.storage == after_plan);
    arena_.storage = before;

    // A VJP, only where every pointer it may dereference is backed by the arena (the harness's
    // model of a valid call is compute's, not the VJP's).
    const int used[] = {kReal,  kFake,  kRealWeights, kFakeWeights, kRealOffsets, kFakeOffsets,
                        kDLoss, kGLoss, kGradReal,    kGradFakeD,   kWorkspace};
    bool backed = mode_ != 2;
    for (const int u : used)
      backed = backed && (addr_[u] == 0 || backed_[u]);
    if (backed) {
      const ganloss_cotangents_t cot{ptr<const float>(kDLoss), ptr<const float>(kGLoss)};
      const ganloss_status_t v = ganloss_plan_vjp(plan, &in, &cot, ptr<void>(kGradReal),
                                                  ptr<void>(kGradFakeD), ws, ws_bytes, nullptr);
      check_status_and_message(v);
      if (v != GANLOSS_STATUS_SUCCESS) {
        FUZZ_CHECK(arena_.storage == before);
      } else {
        // Only the gradients' extents and the workspace may change.
        std::vector<bool> writable(before.size(), false);
        for (const int w : {kGradReal, kGradFakeD, kWorkspace}) {
          if (addr_[w] == 0 || !extent_[w]) continue;
          const std::size_t first = arena_.index(addr_[w]);
          for (uint64_t k = 0; k < *extent_[w] && first + k < writable.size(); ++k)
            writable[first + k] = true;
        }
        for (std::size_t k = 0; k < before.size(); ++k) {
          if (!writable[k]) FUZZ_CHECK(arena_.storage[k] == before[k]);
        }
      }
      arena_.storage = before;
    }
    ganloss_plan_destroy(plan);
  }

  void describe() const {
    const ganloss_loss_params_t& lp = p_.params;
    std::fprintf(stderr,
                 "mode %d; problem: segments %lld, real_count %lld, fake_count %lld, real_stride "
                 "%lld, fake_stride %lld, ragged %d, dtype %d, d_loss %d, g_loss %d, reduction "
                 "%d, fp32_gradients %d, grad_scale %g, targets %g %g, margins %g %g, labels %g "
                 "%g %g\nexecution: backend %d, cpu_threads %d; valid: problem %d, call %d; "
                 "workspace required %lld, declared %llu\n",
                 mode_, static_cast<long long>(p_.segments), static_cast<long long>(p_.real_count),
                 static_cast<long long>(p_.fake_count), static_cast<long long>(p_.real_stride),
                 static_cast<long long>(p_.fake_stride), p_.ragged, p_.dtype, p_.d_loss, p_.g_loss,
                 p_.reduction, p_.fp32_gradients, static_cast<double>(p_.grad_scale),
                 static_cast<double>(lp.real_target), static_cast<double>(lp.fake_target),
                 static_cast<double>(lp.margin_real), static_cast<double>(lp.margin_fake),
                 static_cast<double>(lp.ls_fake_label), static_cast<double>(lp.ls_real_label),
                 static_cast<double>(lp.ls_gen_label), exec_.backend, exec_.cpu_threads,
                 problem_valid_ ? 1 : 0, call_valid_ ? 1 : 0,
                 required_ ? static_cast<long long>(*required_) : -1LL,
                 static_cast<unsigned long long>(ws_bytes_));
    for (int s = 0; s < kSlots; ++s) {
      if (addr_[s] == 0) continue;
      std::fprintf(stderr, "  %-12s arena+%lld (%s), extent %lld bytes", kSlotNames[s],
                   static_cast<long long>(addr_[s] - arena_.begin),
                   backed_[s] ? "backed" : "not backed",
                   extent_[s] ? static_cast<long long>(*extent_[s]) : -1LL);
      // The first values of the inputs.
      const int64_t size = s <= kFake ? logit_size(p_) : s <= kFakeWeights ? 4 : 8;
      const uint64_t n =
          backed_[s] && s <= kFakeOffsets ? *extent_[s] / static_cast<uint64_t>(size) : 0;
      for (uint64_t i = 0; i < std::min<uint64_t>(n, 24); ++i) {
        const uint8_t* at =
            arena_.storage.data() + arena_.index(addr_[s]) + i * static_cast<uint64_t>(size);
        if (size == 8) {
          int64_t v;
          std::memcpy(&v, at, 8);
          std::fprintf(stderr, " %lld", static_cast<long long>(v));
        } else {
          std::fprintf(stderr, " %g",
                       static_cast<double>(load_value(at, size, s <= kFake ? p_.dtype : 0)));
        }
      }
      std::fprintf(stderr, "\n");
    }
  }

  // Offsets of side `real` as they were before the call, if the slot holds valid ones.
  std::optional<std::vector<int64_t>> offsets_of(int slot,
                                                 const std::vector<uint8_t>& before) const {
    if (addr_[slot] == 0) return std::nullopt;
    std::vector<int64_t> off(static_cast<std::size_t>(p_.segments + 1));
    std::memcpy(off.data(), before.data() + arena_.index(addr_[slot]), off.size() * 8);
    return off;
  }

  // Calls visit(first_byte, bytes) for every row of slot `s` (its segments' elements, for a
  // ragged problem with offsets).
  template <class Visit>
  void for_each_row(int s, const std::vector<uint8_t>& before, Visit visit) const {
    if (addr_[s] == 0 || !extent_[s]) return;
    if (!per_element(s)) {
      visit(addr_[s], *extent_[s]);
      return;
    }
    const bool real = on_real_side(s);
    const int64_t count = real ? p_.real_count : p_.fake_count;
    uint64_t elem = 4;
    if (s == kReal || s == kFake) elem = static_cast<uint64_t>(logit_size(p_));
    if (is_gradient(s)) elem = static_cast<uint64_t>(grad_size(p_));
    if (p_.ragged == 1) {
      const auto off = offsets_of(real ? kRealOffsets : kFakeOffsets, before);
      if (!off) return;  // a call that succeeded without them must not write this side
      // A successful host call has checked them: non-decreasing within [0, count].
      FUZZ_CHECK((*off)[0] >= 0 && off->back() <= count);
      for (std::size_t k = 0; k + 1 < off->size(); ++k)
        FUZZ_CHECK((*off)[k] <= (*off)[k + 1]);
      for (int64_t k = 0; k < p_.segments; ++k) {
        const auto lo = static_cast<uint64_t>((*off)[static_cast<std::size_t>(k)]);
        const auto hi = static_cast<uint64_t>((*off)[static_cast<std::size_t>(k) + 1]);
        visit(addr_[s] + lo * elem, (hi - lo) * elem);
      }
      return;
    }
    const int64_t stride = real ? p_.real_stride : p_.fake_stride;
    const int64_t eff = (stride == 0 || p_.segments == 1) ? count : stride;
    for (int64_t k = 0; k < p_.segments; ++k) {
      visit(addr_[s] + static_cast<uint64_t>(k * eff) * elem, static_cast<uint64_t>(count) * elem);
    }
  }

  // What must have made the call fail, had it been there: the call succeeded, so none is.
  void check_must_fail_rules() {
    const bool real_read = addr_[kGradReal] || addr_[kLossReal];
    const bool fake_read =
        addr_[kGradFakeD] || addr_[kGradFakeG] || addr_[kLossFakeD] || addr_[kLossFakeG];
    auto read = [&](int s) {
      if (s == kRealOffsets || s == kFakeOffsets) {
        if (p_.ragged != 1) return false;
      } else if (s > kFakeOffsets) {
        return false;
      }
      return on_real_side(s) ? real_read : fake_read;
    };
    // Required pointers.
    if (real_read) FUZZ_CHECK(addr_[kReal] != 0 || p_.real_count == 0);
    if (fake_read) FUZZ_CHECK(addr_[kFake] != 0 || p_.fake_count == 0);
    if (real_read && p_.ragged == 1) FUZZ_CHECK(addr_[kRealOffsets] != 0);
    if (fake_read && p_.ragged == 1) FUZZ_CHECK(addr_[kFakeOffsets] != 0);
    if (*required_ > 0) {
      FUZZ_CHECK(addr_[kWorkspace] != 0);
      FUZZ_CHECK(ws_bytes_ >= *required_);
    }
    // Alignment of every output, of the inputs read and of a required workspace.
    for (int s = 0; s < kSlots; ++s) {
      if (addr_[s] == 0) continue;
      if (is_output(s) || read(s) || (s == kWorkspace && *required_ > 0)) {
        if (addr_[s] % slot_alignment(p_, s) != 0) {
          std::fprintf(stderr, "%s at %p is misaligned\n", kSlotNames[s],
                       reinterpret_cast<void*>(addr_[s]));
          FUZZ_FAIL("a misaligned pointer was accepted");
        }
      }
    }
    // Overlap: no byte belongs to two outputs, to an output and an input read (except a
    // gradient given exactly its own logits, in their dtype), or to the workspace and either.
    std::vector<uint32_t> owners(arena_.storage.size(), 0);
    const std::vector<uint8_t>& now = arena_.storage;
    for (int s = 0; s < kSlots; ++s) {
      if (addr_[s] == 0) continue;
      if (!(is_output(s) || read(s) || (s == kWorkspace && *required_ > 0))) continue;
      const uint64_t bytes_limit = s == kWorkspace ? *required_ : ~uint64_t{0};
      for_each_row(s, now, [&](uintptr_t first, uint64_t bytes) {
        bytes = std::min(bytes, bytes_limit);
        for (uint64_t i = 0; i < bytes; ++i)
          owners[arena_.index(first + i)] |= 1u << s;
      });
    }
    auto in_place = [&](int a, int b) {
      const int grad = is_gradient(a) ? a : b;
      const int logits = grad == a ? b : a;
      const bool same_side = on_real_side(grad) == on_real_side(logits);
      return is_gradient(grad) && (logits == kReal || logits == kFake) && same_side &&
             addr_[grad] == addr_[logits] && grad_size(p_) == logit_size(p_);
    };
    for (std::size_t i = 0; i < owners.size(); ++i) {
      const uint32_t o = owners[i];
      if ((o & (o - 1)) == 0) continue;  // one owner at most
      for (int a = 0; a < kSlots; ++a) {
        for (int b = a + 1; b < kSlots; ++b) {
          if (!(o & (1u << a)) || !(o & (1u << b))) continue;
          const bool written = is_output(a) || is_output(b) || a == kWorkspace || b == kWorkspace;
          if (!written || in_place(a, b)) continue;
          std::fprintf(stderr, "%s and %s share a byte\n", kSlotNames[a], kSlotNames[b]);
          FUZZ_FAIL("overlapping buffers were accepted");
        }
      }
    }
  }

  // Only the rows of the requested outputs and the workspace changed.
  void check_writes(const std::vector<uint8_t>& before) {
    std::vector<uint8_t> allowed(arena_.storage.size(), 0);
    for (int s = 0; s < kSlots; ++s) {
      if (!is_output(s) && s != kWorkspace) continue;
      const uint64_t bytes_limit = s == kWorkspace ? *required_ : ~uint64_t{0};
      for_each_row(s, before, [&](uintptr_t first, uint64_t bytes) {
        bytes = std::min(bytes, bytes_limit);
        for (uint64_t i = 0; i < bytes; ++i)
          allowed[arena_.index(first + i)] = 1;
      });
    }
    for (std::size_t i = 0; i < allowed.size(); ++i) {
      if (allowed[i] || arena_.storage[i] == before[i]) continue;
      const auto at = reinterpret_cast<uintptr_t>(arena_.storage.data()) + i;
      int owner = -1;
      for (int s = 0; s < kSlots && owner < 0; ++s) {
        if (addr_[s] && extent_[s] && at >= addr_[s] && at - addr_[s] < *extent_[s]) owner = s;
      }
      std::fprintf(stderr, "byte %zu of the arena changed (inside %s)\n", i,
                   owner >= 0 ? kSlotNames[owner] : "no buffer: a guard");
      FUZZ_FAIL("a byte outside the requested outputs was written");
    }
  }

  // Whether every element of a side's logits (and weights) is finite and moderate.
  bool tame_inputs(const std::vector<uint8_t>& before) const {
    const int64_t t = logit_size(p_);
    for (const int s : {kReal, kFake, kRealWeights, kFakeWeights}) {
      if (addr_[s] == 0 || !extent_[s]) continue;
      const int64_t size = (s == kReal || s == kFake) ? t : 4;
      const uint8_t* b = before.data() + arena_.index(addr_[s]);
      for (uint64_t i = 0; i < *extent_[s] / static_cast<uint64_t>(size); ++i) {
        const float v =
            load_value(b + i * static_cast<uint64_t>(size), size, s <= kFake ? p_.dtype : 0);
        if (!std::isfinite(v) || std::fabs(v) > kTameMagnitude) return false;
        if (s >= kRealWeights && v < 0.0f) return false;
      }
    }
    const ganloss_loss_params_t& lp = p_.params;
    for (const float v : {p_.grad_scale, lp.margin_real, lp.margin_fake, lp.ls_fake_label,
                          lp.ls_real_label, lp.ls_gen_label}) {
      if (std::fabs(v) > kTameMagnitude) return false;
    }
    return true;
  }

  void check_values(const std::vector<uint8_t>& before) {
    // Statistics keep their ranges for any input: over the finite logits, 0 if none.
    if (addr_[kStats] != 0) {
      const auto real_off = offsets_of(kRealOffsets, before);
      const auto fake_off = offsets_of(kFakeOffsets, before);
      for (int64_t k = 0; k < p_.segments; ++k) {
        ganloss_segment_stats_t st;
        std::memcpy(&st, arena_.at(addr_[kStats]) + k * static_cast<int64_t>(sizeof st), sizeof st);
        for (const float v : {st.mean_sigmoid_real, st.mean_sigmoid_fake, st.frac_real_positive,
                              st.frac_fake_negative}) {
          FUZZ_CHECK(v >= 0.0f && v <= 1.0f);
        }
        FUZZ_CHECK(st.mean_sign_real >= -1.0f && st.mean_sign_real <= 1.0f);
        const auto k1 = static_cast<std::size_t>(k);
        const int64_t nr =
            p_.ragged == 1 ? (real_off ? (*real_off)[k1 + 1] - (*real_off)[k1] : 0) : p_.real_count;
        const int64_t nf =
            p_.ragged == 1 ? (fake_off ? (*fake_off)[k1 + 1] - (*fake_off)[k1] : 0) : p_.fake_count;
        FUZZ_CHECK(st.nonfinite_real >= 0 && st.nonfinite_real <= nr);
        FUZZ_CHECK(st.nonfinite_fake >= 0 && st.nonfinite_fake <= nf);
      }
    }
    if (!tame_inputs(before)) return;
    // Moderate finite inputs: finite results (NaN and infinity only come from the inputs).
    for (int s = kDLoss; s <= kLossFakeG; ++s) {
      if (addr_[s] == 0) continue;
      if (is_gradient(s) && grad_size(p_) == 2 && p_.dtype == GANLOSS_DTYPE_F16) {
        continue;  // fp16 gradients of moderate inputs may overflow 65504
      }
      const int64_t size = is_gradient(s) ? grad_size(p_) : 4;
      const int32_t dtype = is_gradient(s) && size == 2 ? p_.dtype : GANLOSS_DTYPE_F32;
      for_each_row(s, before, [&](uintptr_t first, uint64_t bytes) {
        if (s == kStats) return;
        for (uint64_t i = 0; i + static_cast<uint64_t>(size) <= bytes;
             i += static_cast<uint64_t>(size)) {
          const float v = load_value(arena_.at(first + i), size, dtype);
          if (!std::isfinite(v)) {
            std::fprintf(stderr, "%s holds %g at byte %llu\n", kSlotNames[s],
                         static_cast<double>(v), static_cast<unsigned long long>(i));
            FUZZ_FAIL("a non-finite output from moderate finite inputs");
          }
        }
      });
    }
    if (addr_[kStats] != 0) {
      for (int64_t k = 0; k < p_.segments; ++k) {
        ganloss_segment_stats_t st;
        std::memcpy(&st, arena_.at(addr_[kStats]) + k * static_cast<int64_t>(sizeof st), sizeof st);
        FUZZ_CHECK(st.nonfinite_real == 0 && st.nonfinite_fake == 0);
      }
    }
  }

  ByteReader in_;
  uint8_t mode_ = 0;
  ganloss_problem_t p_{};
  ganloss_execution_t exec_{};
  Kind kind_[kSlots] = {};
  uint16_t param_[kSlots] = {};
  uint8_t ws_size_sel_ = 0;
  uint32_t ws_size_raw_ = 0;
  uint8_t logit_mode_ = 0;
  uint8_t weight_mode_ = 0;
  uint8_t offsets_mode_[2] = {};
  bool problem_valid_ = false;
  bool backend_valid_ = false;
  bool call_valid_ = false;
  std::optional<std::size_t> required_;
  uint64_t ws_bytes_ = 0;
  std::optional<uint64_t> extent_[kSlots];
  uint64_t fresh_offset_[kSlots] = {};
  uint64_t shift_[kSlots] = {};
  uintptr_t addr_[kSlots] = {};
  bool backed_[kSlots] = {};
  Arena arena_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  Harness(data, size).run();
  return 0;
}
