// Argument validation for every entry point; see validate.hpp.
#include "validate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "error.hpp"

namespace ganloss {
namespace detail {
namespace {

bool valid_dtype(int32_t v) {
  return v >= GANLOSS_DTYPE_F32 && v <= GANLOSS_DTYPE_BF16;
}
bool valid_kind(int32_t v) {
  return v >= GANLOSS_LOSS_NONSATURATING && v <= GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES;
}
bool valid_reduction(int32_t v) {
  return v >= GANLOSS_REDUCTION_NONE && v <= GANLOSS_REDUCTION_MEAN_NONZERO;
}
bool relativistic_kind(int32_t v) {
  return v >= GANLOSS_LOSS_RELATIVISTIC;
}

Status check_finite(float v, const char* name) {
  if (!std::isfinite(v)) return fail(Status::InvalidValue, "%s must be finite, got %g", name, v);
  return Status::Success;
}

// grad_scale: finite, and small enough that grad_scale / (a weight sum in [0.5, 1)), the
// weighted mean's gradient coefficient (see SideScale), stays within fp32's range.
Status check_grad_scale(float v) {
  Status s = check_finite(v, "grad_scale");
  if (s != Status::Success) return s;
  if (std::fabs(v) > kMaxGradScale) {
    return fail(Status::InvalidValue, "grad_scale must be at most 2^126 (%g) in magnitude, got %g",
                static_cast<double>(kMaxGradScale), static_cast<double>(v));
  }
  return Status::Success;
}

Status check_unit(float v, const char* name) {
  if (!(v >= 0.0f && v <= 1.0f)) {
    return fail(Status::InvalidValue, "%s must lie in [0, 1], got %g", name, v);
  }
  return Status::Success;
}

// Elements spanned by `segments` rows: (segments - 1) * stride + count, and that many bytes of
// the widest per-element type (4), both within int64.
Status check_extent(int64_t segments, int64_t count, int64_t stride, const char* side) {
  int64_t span = 0, extent = 0, bytes = 0;
  if (__builtin_mul_overflow(segments - 1, stride, &span) ||
      __builtin_add_overflow(span, count, &extent) ||
      __builtin_mul_overflow(extent, int64_t{4}, &bytes)) {
    return fail(Status::SizeOverflow,
                "%s logits span (segments - 1) * stride + count = (%lld - 1) * %lld + %lld "
                "elements, which overflows int64 bytes",
                side, static_cast<long long>(segments), static_cast<long long>(stride),
                static_cast<long long>(count));
  }
  return Status::Success;
}

Status check_side_shape(int64_t segments, int64_t count, int64_t stride, bool ragged,
                        const char* side) {
  if (ragged) {
    int64_t bytes = 0;
    if (count < 0) {
      return fail(Status::InvalidSize,
                  "%s_count (the ragged array's length) must be >= 0, got %lld", side,
                  static_cast<long long>(count));
    }
    if (stride != 0) {
      return fail(Status::InvalidSize, "%s_stride must be 0 for a ragged problem, got %lld", side,
                  static_cast<long long>(stride));
    }
    if (__builtin_mul_overflow(count, int64_t{8}, &bytes)) {
      return fail(Status::SizeOverflow, "%s_count (%lld) overflows int64 bytes", side,
                  static_cast<long long>(count));
    }
    return Status::Success;
  }
  if (count < 0) {
    return fail(Status::InvalidSize, "%s_count must be >= 0, got %lld", side,
                static_cast<long long>(count));
  }
  if (stride < 0) {
    return fail(Status::InvalidSize, "%s_stride must be >= 0 (0 = dense), got %lld", side,
                static_cast<long long>(stride));
  }
  if (segments > 1 && stride != 0 && stride < count) {
    return fail(Status::InvalidSize,
                "%s_stride (%lld) is smaller than %s_count (%lld): rows would overlap", side,
                static_cast<long long>(stride), side, static_cast<long long>(count));
  }
  return check_extent(segments, count, effective_stride(segments, count, stride), side);
}

// A buffer of the call as a set of byte ranges: `rows` rows of `row_bytes` bytes, one every
// `stride_bytes` bytes from `base`.
struct Region {
  const char* name;
  uintptr_t base;
  uint64_t row_bytes;
  uint64_t stride_bytes;
  uint64_t rows;
  uint64_t alignment;
  bool written;
  int in_place_of;  // index of the input region this output may coincide with, or -1

  uint64_t size() const { return (rows - 1) * stride_bytes + row_bytes; }
};

bool rows_meet_interval(const Region& r, uintptr_t lo, uintptr_t hi) {
  // Row k spans [base + k*stride, base + k*stride + row_bytes).
  if (hi <= r.base) return false;
  const uint64_t s = r.stride_bytes;
  if (s == 0) return lo < r.base + r.row_bytes;  // every row at base
  // Smallest k with base + k*s + row_bytes > lo.
  uint64_t k_min = 0;
  if (lo >= r.base + r.row_bytes) k_min = (lo - r.base - r.row_bytes) / s + 1;
  // Largest k with base + k*s < hi.
  const uint64_t k_max = (hi - r.base - 1) / s;
  return k_min <= k_max && k_min < r.rows;
}

// Whether two regions share a byte. Exact when either has one row or both have the same
// stride (up to the ends of the row ranges); otherwise conservative (any intersection of
// their extents counts).
bool overlap(const Region& a, const Region& b) {
  // An empty region (a side of count 0) has no byte to share, whatever its stride.
  if (a.row_bytes == 0 || b.row_bytes == 0 || a.rows == 0 || b.rows == 0) return false;
  const uintptr_t a_end = a.base + a.size();
  const uintptr_t b_end = b.base + b.size();
  if (a_end <= b.base || b_end <= a.base) return false;
  if (b.rows == 1) return rows_meet_interval(a, b.base, b_end);
  if (a.rows == 1) return rows_meet_interval(b, a.base, a_end);
  if (a.stride_bytes == b.stride_bytes) {
    const uint64_t s = a.stride_bytes;
    if (s == 0) return true;  // both non-empty rows at one address each: they meet
    const uint64_t d = b.base >= a.base ? (b.base - a.base) % s : (s - (a.base - b.base) % s) % s;
    // b's rows start d bytes into a's period: they meet a's rows unless [d, d + b.row) stays
    // inside the gap [a.row, s).
    return d < a.row_bytes || d + b.row_bytes > s;
  }
  return true;
}

// A per-element array of one side: its rows (fixed length) or the whole array (ragged).
Region side_region(const char* name, const void* ptr, const SideParams& side, int64_t segments,
                   int64_t elem_bytes, bool written) {
  Region r;
  r.name = name;
  r.base = reinterpret_cast<uintptr_t>(ptr);
  r.row_bytes = static_cast<uint64_t>(side.count * elem_bytes);
  r.stride_bytes = side.offsets ? r.row_bytes : static_cast<uint64_t>(side.stride * elem_bytes);
  r.rows = side.offsets ? 1 : static_cast<uint64_t>(segments);
  r.alignment = static_cast<uint64_t>(elem_bytes);
  r.written = written;
  r.in_place_of = -1;
  return r;
}

Region flat_region(const char* name, const void* ptr, uint64_t bytes, uint64_t alignment) {
  return Region{name, reinterpret_cast<uintptr_t>(ptr), bytes, bytes, 1, alignment, true, -1};
}

Status check_pointer(const Region& r) {
  if (r.base % r.alignment != 0) {
    return fail(Status::MisalignedPointer, "%s (%p) is not aligned to %llu bytes", r.name,
                reinterpret_cast<const void*>(r.base),
                static_cast<unsigned long long>(r.alignment));
  }
  if (r.base + r.size() < r.base) {
    return fail(Status::SizeOverflow, "%s (%p) plus its %llu bytes wraps the address space", r.name,
                reinterpret_cast<const void*>(r.base), static_cast<unsigned long long>(r.size()));
  }
  return Status::Success;
}

// Every pair in which at least one buffer is written must be disjoint, except a gradient
// given exactly the address of its own logits (in place: each element is read before its
// gradient is written, and both share one layout and dtype).
Status check_aliasing(const Region* regions, int n) {
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      const Region& a = regions[i];
      const Region& b = regions[j];
      if (!a.written && !b.written) continue;
      if (b.in_place_of == i && a.base == b.base) continue;
      if (overlap(a, b)) return fail(Status::InvalidAliasing, "%s overlaps %s", b.name, a.name);
    }
  }
  return Status::Success;
}

Term real_d_term(int32_t kind, const ganloss_loss_params_t& p) {
  switch (kind) {
    case GANLOSS_LOSS_RELATIVISTIC:  // of d = f - r: sp(d)
      return make_logistic_term(1.0f, 0.0f);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE:  // sp(-r~)
      return make_logistic_term(1.0f, 1.0f);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE:  // relu(m_r - r~)
      return make_hinge_term(1.0f, p.margin_real);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES:  // (r~ - 1)^2 / 2
      return make_squared_term(1.0f);
    case GANLOSS_LOSS_HINGE:
      return make_hinge_term(1.0f, p.margin_real);
    case GANLOSS_LOSS_WASSERSTEIN:
      return make_linear_term(-1.0f);
    case GANLOSS_LOSS_LEAST_SQUARES:
      return make_squared_term(p.ls_real_label);
    default:  // nonsaturating and minimax share the logistic D
      return make_logistic_term(1.0f, p.real_target);
  }
}

Term fake_d_term(int32_t kind, const ganloss_loss_params_t& p) {
  switch (kind) {
    case GANLOSS_LOSS_RELATIVISTIC:  // folded into the real D term
      return make_none_term();
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE:  // sp(f~)
      return make_logistic_term(1.0f, 0.0f);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE:  // relu(m_f + f~)
      return make_hinge_term(-1.0f, p.margin_fake);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES:  // (f~ + 1)^2 / 2
      return make_squared_term(-1.0f);
    case GANLOSS_LOSS_HINGE:
      return make_hinge_term(-1.0f, p.margin_fake);
    case GANLOSS_LOSS_WASSERSTEIN:
      return make_linear_term(1.0f);
    case GANLOSS_LOSS_LEAST_SQUARES:
      return make_squared_term(p.ls_fake_label);
    default:
      return make_logistic_term(1.0f, p.fake_target);
  }
}

// The G term on the real logits: only the relativistic average kinds have one.
Term real_g_term(int32_t kind, const ganloss_loss_params_t& p) {
  switch (kind) {
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE:  // sp(r~)
      return make_logistic_term(1.0f, 0.0f);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE:  // relu(m_f + r~)
      return make_hinge_term(-1.0f, p.margin_fake);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES:  // (r~ + 1)^2 / 2
      return make_squared_term(-1.0f);
    default:
      return make_none_term();
  }
}

Term fake_g_term(int32_t kind, const ganloss_loss_params_t& p) {
  switch (kind) {
    case GANLOSS_LOSS_RELATIVISTIC:  // of d = f - r: sp(-d)
      return make_logistic_term(1.0f, 1.0f);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE:  // sp(-f~)
      return make_logistic_term(1.0f, 1.0f);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE:  // relu(m_r - f~)
      return make_hinge_term(1.0f, p.margin_real);
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES:  // (f~ - 1)^2 / 2
      return make_squared_term(1.0f);
    case GANLOSS_LOSS_MINIMAX:
      return make_logistic_term(-1.0f, 0.0f);  // -sp(f)
    case GANLOSS_LOSS_HINGE:
    case GANLOSS_LOSS_WASSERSTEIN:
      return make_linear_term(-1.0f);
    case GANLOSS_LOSS_LEAST_SQUARES:
      return make_squared_term(p.ls_gen_label);
    default:
      return make_logistic_term(1.0f, 1.0f);  // sp(-f)
  }
}

Status check_side_used(const char* side, int64_t count, bool ragged, const void* logits,
                       const int64_t* offsets) {
  if (ragged) {
    if (offsets == nullptr) {
      return fail(Status::NullPointer,
                  "%s_offsets are null in a ragged problem that reads the %s "
                  "logits",
                  side, side);
    }
    if (count > 0 && logits == nullptr) {
      return fail(Status::NullPointer,
                  "%s logits are null but outputs that depend on them were requested", side);
    }
    return Status::Success;
  }
  if (count == 0) {
    return fail(Status::InvalidSize,
                "%s_count is 0 but outputs that depend on the %s logits were requested", side,
                side);
  }
  if (logits == nullptr) {
    return fail(Status::NullPointer,
                "%s logits are null but outputs that depend on them were requested", side);
  }
  return Status::Success;
}

}  // namespace

int64_t effective_stride(int64_t segments, int64_t count, int64_t stride) {
  return (stride == 0 || segments == 1) ? count : stride;
}

Status validate_problem(const ganloss_problem_t* p) {
  if (p == nullptr) return fail(Status::NullPointer, "problem is null");
  if (!valid_dtype(p->dtype)) {
    return fail(Status::InvalidEnum, "dtype %d is not a ganloss_dtype_t value", p->dtype);
  }
  if (!valid_kind(p->d_loss)) {
    return fail(Status::InvalidEnum, "d_loss %d is not a ganloss_loss_kind_t value", p->d_loss);
  }
  if (!valid_kind(p->g_loss)) {
    return fail(Status::InvalidEnum, "g_loss %d is not a ganloss_loss_kind_t value", p->g_loss);
  }
  if (!valid_reduction(p->reduction)) {
    return fail(Status::InvalidEnum, "reduction %d is not a ganloss_reduction_t value",
                p->reduction);
  }
  if (p->segments < 1) {
    return fail(Status::InvalidSize, "segments must be >= 1, got %lld",
                static_cast<long long>(p->segments));
  }
  if (p->ragged != 0 && p->ragged != 1) {
    return fail(Status::InvalidValue, "ragged must be 0 or 1, got %d", p->ragged);
  }
  const bool ragged = p->ragged == 1;
  Status s = check_side_shape(p->segments, p->real_count, p->real_stride, ragged, "real");
  if (s != Status::Success) return s;
  s = check_side_shape(p->segments, p->fake_count, p->fake_stride, ragged, "fake");
  if (s != Status::Success) return s;
  if (!ragged && p->real_count == 0 && p->fake_count == 0) {
    return fail(Status::InvalidSize, "real_count and fake_count are both 0");
  }
  if ((relativistic_kind(p->d_loss) || relativistic_kind(p->g_loss)) && p->d_loss != p->g_loss) {
    return fail(Status::Unsupported,
                "a relativistic loss must be both the D and the G kind (d_loss %d, g_loss %d)",
                p->d_loss, p->g_loss);
  }
  if (p->d_loss == GANLOSS_LOSS_RELATIVISTIC && !ragged && p->real_count != p->fake_count) {
    return fail(Status::InvalidSize,
                "the paired relativistic loss needs real_count == fake_count, got %lld and %lld",
                static_cast<long long>(p->real_count), static_cast<long long>(p->fake_count));
  }
  int64_t segment_bytes = 0;
  if (__builtin_mul_overflow(p->segments, int64_t{sizeof(ganloss_segment_stats_t)},
                             &segment_bytes) ||
      p->segments == std::numeric_limits<int64_t>::max()) {
    return fail(Status::SizeOverflow, "segments (%lld) overflows the per-segment outputs",
                static_cast<long long>(p->segments));
  }
  const ganloss_loss_params_t& lp = p->params;
  const struct {
    float value;
    const char* name;
  } finite[] = {{lp.margin_real, "margin_real"},
                {lp.margin_fake, "margin_fake"},
                {lp.ls_fake_label, "ls_fake_label"},
                {lp.ls_real_label, "ls_real_label"},
                {lp.ls_gen_label, "ls_gen_label"}};
  s = check_grad_scale(p->grad_scale);
  if (s != Status::Success) return s;
  for (const auto& f : finite) {
    s = check_finite(f.value, f.name);
    if (s != Status::Success) return s;
  }
  s = check_unit(lp.real_target, "real_target");
  if (s != Status::Success) return s;
  s = check_unit(lp.fake_target, "fake_target");
  if (s != Status::Success) return s;
  if (p->fp32_gradients != 0 && p->fp32_gradients != 1) {
    return fail(Status::InvalidValue, "fp32_gradients must be 0 or 1, got %d", p->fp32_gradients);
  }
  return Status::Success;
}

namespace {

// The fields every call shares: shapes, dtypes, reduction, the sides' arrays; no outputs, no
// terms.
void init_params(const ganloss_problem_t& p, const ganloss_inputs_t& in, CallParams* params) {
  CallParams& q = *params;
  q = CallParams{};
  const bool ragged = p.ragged == 1;
  q.segments = p.segments;
  q.dtype = static_cast<DType>(p.dtype);
  q.grad_dtype = p.fp32_gradients ? DType::f32 : q.dtype;
  q.reduction = static_cast<Reduction>(p.reduction);
  q.relativity = p.d_loss == GANLOSS_LOSS_RELATIVISTIC ? Relativity::paired
                 : relativistic_kind(p.d_loss)         ? Relativity::average
                                                       : Relativity::none;
  q.grad_scale = p.grad_scale;
  q.vjp = false;
  q.cotangent_d = nullptr;
  q.cotangent_g = nullptr;
  q.real = SideParams{in.real, in.real_weights, ragged ? in.real_offsets : nullptr, p.real_count,
                      ragged ? 0 : effective_stride(p.segments, p.real_count, p.real_stride)};
  q.fake = SideParams{in.fake, in.fake_weights, ragged ? in.fake_offsets : nullptr, p.fake_count,
                      ragged ? 0 : effective_stride(p.segments, p.fake_count, p.fake_stride)};
  q.real_d = q.real_g = q.fake_d = q.fake_g = make_none_term();
}

// The buffers of a call, checked together for alignment, address wrap and aliasing.
struct RegionList {
  Region regions[24];
  int n = 0;
  int real_index = -1;  // the logits regions, for in-place gradients
  int fake_index = -1;

  void add(const Region& r) { regions[n++] = r; }

  // The inputs of the sides a call reads: logits, weights, offsets.
  void add_inputs(const ganloss_inputs_t& in, const CallParams& q, bool read_real, bool read_fake) {
    const int64_t t = dtype_size(q.dtype);
    const auto offsets_bytes = (static_cast<uint64_t>(q.segments) + 1) * 8;
    if (read_real) {
      real_index = n;
      add(side_region("real logits", in.real, q.real, q.segments, t, false));
    }
    if (read_fake) {
      fake_index = n;
      add(side_region("fake logits", in.fake, q.fake, q.segments, t, false));
    }
    if (read_real && in.real_weights) {
      add(side_region("real_weights", in.real_weights, q.real, q.segments, 4, false));
    }
    if (read_fake && in.fake_weights) {
      add(side_region("fake_weights", in.fake_weights, q.fake, q.segments, 4, false));
    }
    if (q.real.offsets && read_real) {
      add(flat_region("real_offsets", in.real_offsets, offsets_bytes, 8));
      regions[n - 1].written = false;
    }
    if (q.fake.offsets && read_fake) {
      add(flat_region("fake_offsets", in.fake_offsets, offsets_bytes, 8));
      regions[n - 1].written = false;
    }
  }

  // A per-element output of one side (in place of its logits allowed in the logits' dtype).
  void add_side_output(const char* name, const void* ptr, const CallParams& q, bool real,
                       int64_t elem_bytes, bool may_be_in_place) {
    if (ptr == nullptr) return;
    Region r = side_region(name, ptr, real ? q.real : q.fake, q.segments, elem_bytes, true);
    const bool same_dtype = dtype_size(q.grad_dtype) == dtype_size(q.dtype);
    r.in_place_of = may_be_in_place && same_dtype ? (real ? real_index : fake_index) : -1;
    add(r);
  }

  // A per-segment array of `elem_bytes` each.
  void add_segment_array(const char* name, const void* ptr, const CallParams& q,
                         uint64_t elem_bytes, bool written) {
    if (ptr == nullptr) return;
    add(flat_region(name, ptr, static_cast<uint64_t>(q.segments) * elem_bytes,
                    elem_bytes == 4 ? 4 : 8));
    regions[n - 1].written = written;
  }

  Status add_workspace(const void* workspace, std::size_t bytes, std::size_t required) {
    if (required == 0) return Status::Success;
    if (bytes < required) {
      return fail(Status::WorkspaceTooSmall,
                  "workspace_bytes (%zu) is below the %zu bytes this call requires", bytes,
                  required);
    }
    if (workspace == nullptr) {
      return fail(Status::NullPointer, "workspace is null but %zu bytes are required", required);
    }
    add(flat_region("workspace", workspace, required, kWorkspaceAlignment));
    return Status::Success;
  }

  Status check() const {
    for (int i = 0; i < n; ++i) {
      const Status s = check_pointer(regions[i]);
      if (s != Status::Success) return s;
    }
    return check_aliasing(regions, n);
  }
};

// The logits, and the offsets of a ragged problem, of each side a call reads.
Status check_sides_read(const ganloss_problem_t& p, const ganloss_inputs_t& in, bool read_real,
                        bool read_fake) {
  const bool ragged = p.ragged == 1;
  if (read_real) {
    const Status s = check_side_used("real", p.real_count, ragged, in.real, in.real_offsets);
    if (s != Status::Success) return s;
  }
  if (read_fake) {
    const Status s = check_side_used("fake", p.fake_count, ragged, in.fake, in.fake_offsets);
    if (s != Status::Success) return s;
  }
  if (p.d_loss == GANLOSS_LOSS_RELATIVISTIC && in.fake_weights != nullptr) {
    return fail(Status::InvalidValue,
                "the paired relativistic loss takes one weight per pair: pass them as "
                "real_weights and leave fake_weights null");
  }
  return Status::Success;
}

}  // namespace

Status make_call_params(const ganloss_problem_t& p, const ganloss_inputs_t* in,
                        const ganloss_outputs_t* out, const void* workspace,
                        std::size_t workspace_bytes, std::size_t workspace_required,
                        CallParams* params) {
  if (in == nullptr) return fail(Status::NullPointer, "inputs is null");
  if (out == nullptr) return fail(Status::NullPointer, "outputs is null");

  CallParams& q = *params;
  init_params(p, *in, &q);

  // Which terms the requested outputs need.
  const bool want_d = out->d_loss || out->d_loss_real || out->d_loss_fake || out->grad_real ||
                      out->grad_fake_d || out->loss_real || out->loss_fake_d;
  const bool want_g =
      out->g_loss || out->grad_fake_g || out->grad_real_g || out->loss_fake_g || out->loss_real_g;
  q.stats = out->stats != nullptr;
  if (q.relativity == Relativity::none) {
    const bool real_d = out->d_loss || out->d_loss_real || out->grad_real || out->loss_real;
    const bool fake_d = out->d_loss || out->d_loss_fake || out->grad_fake_d || out->loss_fake_d;
    const bool fake_g = out->g_loss || out->grad_fake_g || out->loss_fake_g;
    q.real_d = real_d ? real_d_term(p.d_loss, p.params) : make_none_term();
    q.fake_d = fake_d ? fake_d_term(p.d_loss, p.params) : make_none_term();
    q.fake_g = fake_g ? fake_g_term(p.g_loss, p.params) : make_none_term();
    // Zero G terms on the real logits, still written where asked for.
    q.real_g = make_none_term();
  } else {
    // Relativistic terms couple the sides: a D output needs both D terms, a G output both G.
    q.real_d = want_d ? real_d_term(p.d_loss, p.params) : make_none_term();
    q.fake_d = want_d ? fake_d_term(p.d_loss, p.params) : make_none_term();
    q.real_g = want_g ? real_g_term(p.g_loss, p.params) : make_none_term();
    q.fake_g = want_g ? fake_g_term(p.g_loss, p.params) : make_none_term();
  }
  const bool real_outputs = out->grad_real_g || out->loss_real_g;
  const bool anything = want_d || want_g || q.stats;
  const bool read_real =
      anything && (side_used(q, true) || real_outputs || q.relativity != Relativity::none);
  const bool read_fake = anything && (side_used(q, false) || q.relativity != Relativity::none);
  Status s = check_sides_read(p, *in, read_real, read_fake);
  if (s != Status::Success) return s;

  q.grad_real = out->grad_real;
  q.grad_real_g = out->grad_real_g;
  q.grad_fake_d = out->grad_fake_d;
  q.grad_fake_g = out->grad_fake_g;
  q.loss_real = out->loss_real;
  q.loss_real_g = out->loss_real_g;
  q.loss_fake_d = out->loss_fake_d;
  q.loss_fake_g = out->loss_fake_g;
  q.d_loss = out->d_loss;
  q.d_loss_real = out->d_loss_real;
  q.d_loss_fake = out->d_loss_fake;
  q.g_loss = out->g_loss;
  q.stats_out = out->stats;

  // Every buffer the call touches, for alignment and aliasing checks. A gradient may replace
  // its logits only element for element: in the same dtype.
  const int64_t g = dtype_size(q.grad_dtype);
  RegionList list;
  list.add_inputs(*in, q, read_real, read_fake);
  list.add_segment_array("d_loss", out->d_loss, q, 4, true);
  list.add_segment_array("d_loss_real", out->d_loss_real, q, 4, true);
  list.add_segment_array("d_loss_fake", out->d_loss_fake, q, 4, true);
  list.add_segment_array("g_loss", out->g_loss, q, 4, true);
  list.add_segment_array("stats", out->stats, q, sizeof(ganloss_segment_stats_t), true);
  list.add_side_output("grad_real", out->grad_real, q, true, g, true);
  list.add_side_output("grad_real_g", out->grad_real_g, q, true, g, true);
  list.add_side_output("grad_fake_d", out->grad_fake_d, q, false, g, true);
  list.add_side_output("grad_fake_g", out->grad_fake_g, q, false, g, true);
  list.add_side_output("loss_real", out->loss_real, q, true, 4, false);
  list.add_side_output("loss_real_g", out->loss_real_g, q, true, 4, false);
  list.add_side_output("loss_fake_d", out->loss_fake_d, q, false, 4, false);
  list.add_side_output("loss_fake_g", out->loss_fake_g, q, false, 4, false);
  s = list.add_workspace(workspace, workspace_bytes, workspace_required);
  if (s != Status::Success) return s;
  return list.check();
}

Status make_params(const ganloss_problem_t* p, const ganloss_inputs_t* in,
                   const ganloss_outputs_t* out, const void* workspace, std::size_t workspace_bytes,
                   std::size_t workspace_required, CallParams* params) {
  const Status s = validate_problem(p);
  if (s != Status::Success) return s;
  return make_call_params(*p, in, out, workspace, workspace_bytes, workspace_required, params);
}

Status make_vjp_params(const ganloss_problem_t& p, const ganloss_inputs_t* in,
                       const ganloss_cotangents_t* cotangents, void* grad_real, void* grad_fake,
                       const void* workspace, std::size_t workspace_bytes,
                       std::size_t workspace_required, CallParams* params) {
  if (in == nullptr) return fail(Status::NullPointer, "inputs is null");
  CallParams& q = *params;
  init_params(p, *in, &q);
  q.vjp = true;
  const bool any_gradient = grad_real != nullptr || grad_fake != nullptr;
  // A loss whose cotangent is null (or that no requested gradient depends on) has no terms.
  if (cotangents != nullptr && any_gradient) {
    q.cotangent_d = cotangents->d_loss;
    q.cotangent_g = cotangents->g_loss;
  }
  const bool ud = q.cotangent_d != nullptr;
  const bool ug = q.cotangent_g != nullptr;
  if (q.relativity == Relativity::none) {
    if (ud && grad_real) q.real_d = real_d_term(p.d_loss, p.params);
    if (ud && grad_fake) q.fake_d = fake_d_term(p.d_loss, p.params);
    if (ug && grad_fake) q.fake_g = fake_g_term(p.g_loss, p.params);
  } else {
    // Relativistic terms couple the sides: either gradient needs both sides' terms.
    if (ud) {
      q.real_d = real_d_term(p.d_loss, p.params);
      q.fake_d = fake_d_term(p.d_loss, p.params);
    }
    if (ug) {
      q.real_g = real_g_term(p.g_loss, p.params);
      q.fake_g = fake_g_term(p.g_loss, p.params);
    }
  }
  // A side whose gradient is requested is written in full (0 where no term contributes); a
  // relativistic term reads the other side too.
  const bool coupled = q.relativity != Relativity::none && (ud || ug);
  const bool read_real = grad_real != nullptr || (coupled && grad_fake != nullptr);
  const bool read_fake = grad_fake != nullptr || (coupled && grad_real != nullptr);
  Status s = check_sides_read(p, *in, read_real, read_fake);
  if (s != Status::Success) return s;
  q.grad_real = grad_real;
  q.grad_fake_d = grad_fake;

  const int64_t g = dtype_size(q.grad_dtype);
  RegionList list;
  list.add_inputs(*in, q, read_real, read_fake);
  list.add_segment_array("cotangents->d_loss", q.cotangent_d, q, 4, false);
  list.add_segment_array("cotangents->g_loss", q.cotangent_g, q, 4, false);
  list.add_side_output("grad_real", grad_real, q, true, g, true);
  list.add_side_output("grad_fake", grad_fake, q, false, g, true);
  s = list.add_workspace(workspace, workspace_bytes, workspace_required);
  if (s != Status::Success) return s;
  return list.check();
}

Status check_workspace(const void* workspace, std::size_t workspace_bytes,
                       std::size_t workspace_required) {
  RegionList list;
  const Status s = list.add_workspace(workspace, workspace_bytes, workspace_required);
  if (s != Status::Success) return s;
  return list.check();
}

bool touches_side(const CallParams& q, bool real) {
  if (real) return side_used(q, true) || q.grad_real_g || q.loss_real_g || (q.vjp && q.grad_real);
  return side_used(q, false) || (q.vjp && q.grad_fake_d);
}

namespace {

// The two sides with the names of their per-element inputs, and whether a call reads them.
struct ReadSide {
  const char* offsets_name;
  const char* weights_name;
  const SideParams* side;
  bool used;
};

std::array<ReadSide, 2> read_sides(const CallParams& q) {
  return {{{"real_offsets", "real_weights", &q.real, touches_side(q, true)},
           {"fake_offsets", "fake_weights", &q.fake, touches_side(q, false)}}};
}

}  // namespace

Status check_offsets(const CallParams& q) {
  for (const ReadSide& sd : read_sides(q)) {
    const int64_t* off = sd.side->offsets;
    if (off == nullptr || !sd.used) continue;
    if (off[0] < 0 || off[q.segments] > sd.side->count) {
      return fail(Status::InvalidValue, "%s span [%lld, %lld], outside the array's [0, %lld]",
                  sd.offsets_name, static_cast<long long>(off[0]),
                  static_cast<long long>(off[q.segments]), static_cast<long long>(sd.side->count));
    }
    for (int64_t s = 0; s < q.segments; ++s) {
      if (off[s + 1] < off[s]) {
        return fail(Status::InvalidValue, "%s decrease at segment %lld (%lld > %lld)",
                    sd.offsets_name, static_cast<long long>(s), static_cast<long long>(off[s]),
                    static_cast<long long>(off[s + 1]));
      }
    }
  }
  if (q.relativity == Relativity::paired && q.real.offsets && q.fake.offsets) {
    for (int64_t s = 0; s < q.segments; ++s) {
      if (q.real.offsets[s + 1] - q.real.offsets[s] != q.fake.offsets[s + 1] - q.fake.offsets[s]) {
        return fail(Status::InvalidSize,
                    "segment %lld has %lld real and %lld fake logits; the paired relativistic "
                    "loss needs as many of each",
                    static_cast<long long>(s),
                    static_cast<long long>(q.real.offsets[s + 1] - q.real.offsets[s]),
                    static_cast<long long>(q.fake.offsets[s + 1] - q.fake.offsets[s]));
      }
    }
  }
  return Status::Success;
}

Status check_weights(const CallParams& q) {
  for (const ReadSide& sd : read_sides(q)) {
    const float* w = sd.side->weights;
    if (w == nullptr || !sd.used) continue;
    // The rows a call reads: one span of a ragged side, else `segments` rows of `count`.
    const bool ragged = sd.side->offsets != nullptr;
    const int64_t rows = ragged ? 1 : q.segments;
    const int64_t begin = ragged ? sd.side->offsets[0] : 0;
    const int64_t length = ragged ? sd.side->offsets[q.segments] - begin : sd.side->count;
    const int64_t stride = ragged ? 0 : sd.side->stride;
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = w + begin + r * stride;
      // In blocks without an early exit inside, which compilers vectorise.
      constexpr int64_t kBlock = 1024;
      for (int64_t b = 0; b < length; b += kBlock) {
        const int64_t n = std::min(kBlock, length - b);
        bool negative = false;
        for (int64_t i = 0; i < n; ++i)
          negative |= row[b + i] < 0.0f;
        if (!negative) continue;
        for (int64_t i = b; i < b + n; ++i) {
          if (row[i] < 0.0f) {
            return fail(Status::InvalidValue,
                        "%s[%lld] is %g: weights must be non-negative (a weighted mean of "
                        "negative weights is not defined)",
                        sd.weights_name, static_cast<long long>(row + i - w),
                        static_cast<double>(row[i]));
          }
        }
      }
    }
  }
  return Status::Success;
}

}  // namespace detail
}  // namespace ganloss
