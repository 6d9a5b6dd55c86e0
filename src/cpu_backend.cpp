// CPU backend. Each segment is a virtual row: its real row then its fake row (or its pairs, for
// the paired relativistic loss). Short segments are packed whole into work items of about
// kChunk elements and finished by the item; long fixed-length segments are cut into chunks of
// kChunk elements whose sums go to workspace slots, added per segment in index order once all
// chunks are done. Sums are double, in a fixed lane order. Hence the results do not depend on
// the thread count or on which thread ran what. A call is one main pass, preceded by a prepass
// for weight totals and means and followed by a gradient pass for the relativistic average.
#include "cpu_backend.hpp"

#include <algorithm>
#include <cstring>

#include "cpu_pieces.hpp"
#include "segment_math.hpp"
#include "thread_pool.hpp"

namespace ganloss {
namespace detail {
namespace cpu {
namespace {

// Below this many elements in total the call runs on the calling thread alone.
constexpr int64_t kParallelThreshold = 1 << 16;

struct Sums {
  double v[kAccumulators];
  double operator[](int i) const { return v[i]; }
};

// The decomposition of a call into work items.
struct Layout {
  bool used[2];
  int64_t length;  // virtual row of a fixed-length segment: used real + fake (or pairs)
  int64_t chunks;  // per segment; > 1 only for long fixed-length segments
  int64_t segments_per_item;
  int64_t items;
};

Layout make_layout(const CallParams& q) {
  Layout l;
  // A VJP call writes every gradient it asks for, zeros where no term depends on the logit.
  l.used[0] = side_used(q, true) || q.grad_real_g || q.loss_real_g || (q.vjp && q.grad_real);
  l.used[1] = side_used(q, false) || (q.vjp && q.grad_fake_d);
  const bool paired = q.relativity == Relativity::paired;
  const bool ragged = q.real.offsets != nullptr || q.fake.offsets != nullptr;
  if (ragged) {
    // Lengths vary and live in the offsets: whole segments, about kChunk elements per item.
    const int64_t total = (l.used[0] ? q.real.count : 0) + (l.used[1] ? q.fake.count : 0);
    const int64_t average = std::max<int64_t>(1, total / q.segments);
    l.length = 0;
    l.chunks = 1;
    l.segments_per_item = std::max<int64_t>(1, kChunk / average);
  } else {
    l.length =
        paired ? q.real.count : (l.used[0] ? q.real.count : 0) + (l.used[1] ? q.fake.count : 0);
    l.chunks = l.length > kChunk ? (l.length + kChunk - 1) / kChunk : 1;
    l.segments_per_item =
        l.chunks > 1 ? 0 : std::max<int64_t>(1, kChunk / std::max<int64_t>(1, l.length));
  }
  l.items = l.chunks > 1 ? q.segments * l.chunks
                         : (q.segments + l.segments_per_item - 1) / l.segments_per_item;
  return l;
}

// What a pass needs to know about one segment.
struct SegmentContext {
  Extent extent[2];
  SideScale scale[2];
  AverageCoupling coupling{};  // zero until a prepass has written the state
  bool valid;
  int64_t segment;
};

SegmentContext context(const CallParams& q, const Layout& l, int64_t s, const double* state) {
  SegmentContext c;
  c.segment = s;
  const double* st = state ? state + s * kStateFields : nullptr;
  c.extent[0] = segment_extent(q.real, l.used[0], s);
  c.extent[1] = segment_extent(q.fake, l.used[1], s);
  c.valid = c.extent[0].valid && c.extent[1].valid;
  if (q.relativity == Relativity::paired && c.extent[0].size != c.extent[1].size) c.valid = false;
  if (!c.valid) c.extent[0].size = c.extent[1].size = 0;
  c.scale[0] = side_scale(q, q.real, 0, c.extent[0].size, st);
  c.scale[1] = side_scale(q, q.fake, 1, c.extent[1].size, st);
  if (q.relativity == Relativity::paired) {
    c.scale[1] = c.scale[0];
    c.scale[1].count = static_cast<double>(c.extent[1].size);
  }
  if (q.relativity == Relativity::average && st) c.coupling = average_coupling(c.scale, st);
  return c;
}

void* offset_bytes(void* base, int64_t index, int64_t size) {
  return base ? static_cast<char*>(base) + index * size : nullptr;
}

float* offset_floats(float* base, int64_t index) {
  return base ? base + index : nullptr;
}

class Runner {
 public:
  Runner(const CallParams& q, void* workspace, int threads)
      : q_(q), layout_(make_layout(q)), threads_(threads) {
    char* w = static_cast<char*>(workspace);
    // Workspace: per-segment state (when a problem may need it), then chunk slots.
    const bool state = call_has_state(q);
    state_ = state ? reinterpret_cast<double*>(w) : nullptr;
    if (state) w += q.segments * kStateFields * sizeof(double);
    slots_ = reinterpret_cast<Sums*>(w);
    d_fn_ = select_piece(q.real_d.kind, q.real_g.kind);
    f_fn_ = select_piece(q.fake_d.kind, q.fake_g.kind);
    pair_fn_ = select_piece(q.real_d.kind, q.fake_g.kind);
  }

  void run() {
    if (needs_prepass(q_)) pass(Pass::prepass);
    pass(Pass::main);
    if (needs_gradient_pass(q_)) pass(Pass::gradients);
  }

 private:
  void pass(Pass pass) {
    const Layout& l = layout_;
    const bool chunked = l.chunks > 1;
    // The prepass writes the state that later passes read; it reads none itself (the
    // workspace may hold anything before it).
    const double* state = pass == Pass::prepass ? nullptr : state_;
    parallel_for(l.items, threads_, 1, [&](int64_t item) {
      if (chunked) {
        const int64_t s = item / l.chunks;
        const int64_t begin = (item % l.chunks) * kChunk;
        const SegmentContext c = context(q_, l, s, state);
        Sums& slot = slots_[item];
        std::memset(&slot, 0, sizeof slot);
        if (c.valid) evaluate(pass, c, begin, std::min(l.length, begin + kChunk), slot.v);
        return;
      }
      const int64_t first = item * l.segments_per_item;
      const int64_t last = std::min(q_.segments, first + l.segments_per_item);
      for (int64_t s = first; s < last; ++s) {
        const SegmentContext c = context(q_, l, s, state);
        Sums sums{};
        const int64_t length = q_.relativity == Relativity::paired
                                   ? c.extent[0].size
                                   : c.extent[0].size + c.extent[1].size;
        if (c.valid) evaluate(pass, c, 0, length, sums.v);
        finish(pass, s, c, sums);
      }
    });
    if (chunked) {
      // Each segment's chunk sums in index order.
      parallel_for(q_.segments, threads_, 256, [&](int64_t s) {
        Sums total{};
        for (int64_t c = 0; c < l.chunks; ++c) {
          for (int k = 0; k < kAccumulators; ++k)
            total.v[k] += slots_[s * l.chunks + c].v[k];
        }
        finish(pass, s, context(q_, l, s, state), total);
      });
    }
  }

  // Elements [begin, end) of segment s's virtual row.
  void evaluate(Pass pass, const SegmentContext& c, int64_t begin, int64_t end,
                double* sums) const {
    const int64_t nr = q_.relativity == Relativity::paired ? end : c.extent[0].size;
    if (q_.relativity == Relativity::paired) {
      piece(pass, 0, true, c, begin, end - begin, sums, pair_fn_, q_.real_d, q_.fake_g);
      return;
    }
    if (begin < nr && layout_.used[0]) {
      piece(pass, 0, false, c, begin, std::min(end, nr) - begin, sums, d_fn_, q_.real_d, q_.real_g);
    }
    if (end > nr && layout_.used[1]) {
      const int64_t fb = std::max(begin, nr) - nr;
      piece(pass, 1, false, c, fb, end - nr - fb, sums, f_fn_, q_.fake_d, q_.fake_g);
    }
  }

  void piece(Pass pass, int side, bool paired, const SegmentContext& c, int64_t begin, int64_t n,
             double* sums, PieceFn fn, const Term& d, const Term& g) const {
    const SideParams& sp = side == 0 ? q_.real : q_.fake;
    const int64_t index = c.extent[side].begin + begin;
    const int64_t xs = dtype_size(q_.dtype);
    const int64_t gs = dtype_size(q_.grad_dtype);
    Piece p{};
    p.pass = pass;
    p.side = side;
    p.paired = paired;
    p.stats = q_.stats;
    p.average = q_.relativity == Relativity::average;
    p.n = n;
    p.x = static_cast<const char*>(sp.logits) + index * xs;
    p.w = sp.weights ? sp.weights + index : nullptr;
    p.x_type = q_.dtype;
    p.grad_type = q_.grad_dtype;
    p.coef = static_cast<float>(c.scale[side].coef);
    p.weight_scale[0] = c.scale[side].weight_scale[0];
    p.weight_scale[1] = c.scale[side].weight_scale[1];
    if (p.average) {
      p.shift = static_cast<float>(c.coupling.shift[side]);
      p.offset_d = c.coupling.offset_d[side];
      p.offset_g = c.coupling.offset_g[side];
    }
    if (q_.vjp) {
      // One gradient per element; a pair's real gradient is minus its fake one.
      const GradientMultipliers m =
          vjp_multipliers(q_, c.segment, c.scale[side], p.average ? c.coupling.offset_d[side] : 0.0,
                          p.average ? c.coupling.offset_g[side] : 0.0);
      const double sign = paired ? -1.0 : 1.0;
      p.vjp = true;
      p.coef_d = sign * m.coef_d;
      p.coef_g = sign * m.coef_g;
      p.offset = m.offset;
    }
    if (side == 0) {
      p.out = PieceOutputs{
          offset_bytes(q_.grad_real, index, gs), offset_bytes(q_.grad_real_g, index, gs),
          offset_floats(q_.loss_real, index), offset_floats(q_.loss_real_g, index)};
    } else {
      p.out = PieceOutputs{
          offset_bytes(q_.grad_fake_d, index, gs), offset_bytes(q_.grad_fake_g, index, gs),
          offset_floats(q_.loss_fake_d, index), offset_floats(q_.loss_fake_g, index)};
    }
    if (paired) {
      const int64_t fi = c.extent[1].begin + begin;
      p.y = static_cast<const char*>(q_.fake.logits) + fi * xs;
      p.out_y =
          PieceOutputs{offset_bytes(q_.grad_fake_d, fi, gs), offset_bytes(q_.grad_fake_g, fi, gs),
                       offset_floats(q_.loss_fake_d, fi), offset_floats(q_.loss_fake_g, fi)};
    }
    p.sums = sums;
    fn(p, d, g);
  }

  void finish(Pass pass, int64_t s, const SegmentContext& c, const Sums& sums) const {
    double* st = state_ ? state_ + s * kStateFields : nullptr;
    if (pass == Pass::prepass) {
      for (int side = 0; side < 2; ++side) {
        st[kStateLogitSum + side] = sums[kLogitSum + side];
        st[kStateWeightSum + side] = sums[kWeightSum + side];
        st[kStateNonzero + side] = sums[kNonzeroWeights + side];
        // Written by the main pass, which reads them (unused there) before.
        st[kStateDerivativeD + side] = 0.0;
        st[kStateDerivativeG + side] = 0.0;
      }
    } else if (pass == Pass::main) {
      if (q_.relativity == Relativity::average && st) {
        for (int side = 0; side < 2; ++side) {
          st[kStateDerivativeD + side] = sums[kDerivativeD + side];
          st[kStateDerivativeG + side] = sums[kDerivativeG + side];
        }
      }
      write_segment_outputs(q_, s, sums, c.scale, c.valid);
    }
  }

  const CallParams& q_;
  Layout layout_;
  int threads_;
  double* state_;
  Sums* slots_;
  PieceFn d_fn_;
  PieceFn f_fn_;
  PieceFn pair_fn_;  // the paired relativistic loss: D and G terms of f - r
};

}  // namespace

std::size_t workspace_bytes(const ganloss_problem_t& p) {
  std::size_t bytes = 0;
  if (problem_needs_state(p)) {
    bytes += static_cast<std::size_t>(p.segments) * kStateFields * sizeof(double);
  }
  if (p.ragged == 0) {
    const int64_t length =
        p.d_loss == GANLOSS_LOSS_RELATIVISTIC ? p.real_count : p.real_count + p.fake_count;
    if (length > kChunk) {
      const int64_t chunks = (length + kChunk - 1) / kChunk;
      bytes += static_cast<std::size_t>(p.segments * chunks) * sizeof(Sums);
    }
  }
  return bytes;
}

Status run(const CallParams& q, void* workspace, int threads) {
  if (threads <= 0) threads = hardware_threads();
  const int64_t total =
      q.real.offsets ? q.real.count + q.fake.count : q.segments * (q.real.count + q.fake.count);
  if (total < kParallelThreshold) threads = 1;
  Runner(q, workspace, threads).run();
  return Status::Success;
}

}  // namespace cpu
}  // namespace detail
}  // namespace ganloss
