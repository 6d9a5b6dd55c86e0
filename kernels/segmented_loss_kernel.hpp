// The fused segmented loss kernel body: for every segment, one read of each logit and one write
// of each requested gradient and element loss per pass, and the segment's totals and
// statistics, without a second launch for the reduction. See segmented_loss_plan.hpp for the
// mapping onto warps, blocks and chunks, and segment_math.hpp for the passes.
//
// Device code only through detail/simt.hpp, so that the host emulator can run it; the
// __global__ wrapper and its launch live in segmented_loss_launch.cuh.
#ifndef GANLOSS_KERNELS_SEGMENTED_LOSS_KERNEL_HPP_
#define GANLOSS_KERNELS_SEGMENTED_LOSS_KERNEL_HPP_

#include <cstdint>

#include "detail/reduce.hpp"
#include "detail/simt.hpp"
#include "detail/vector_io.hpp"
#include "ganloss/losses.hpp"
#include "segment_math.hpp"
#include "segmented_loss_plan.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

using LossSums = Sums<float, kAccumulators>;

// Per-element arrays of one side, each at its own element type: logits T, gradients G, weights
// and element losses float; null = absent.
template <class T, class G>
struct Row {
  const T* x;
  const float* w;
  G* grad_d;
  G* grad_g;
  float* loss_d;
  float* loss_g;
};

template <class T, class G>
GANLOSS_DEVICE Row<T, G> row_at(const SideParams& side, void* grad_d, void* grad_g, float* loss_d,
                                float* loss_g, int64_t begin) {
  Row<T, G> r;
  r.x = static_cast<const T*>(side.logits) + begin;
  r.w = side.weights ? side.weights + begin : nullptr;
  r.grad_d = grad_d ? static_cast<G*>(grad_d) + begin : nullptr;
  r.grad_g = grad_g ? static_cast<G*>(grad_g) + begin : nullptr;
  r.loss_d = loss_d ? loss_d + begin : nullptr;
  r.loss_g = loss_g ? loss_g + begin : nullptr;
  return r;
}

// Everything a pass needs about one segment of one side.
struct SideContext {
  Term d;
  Term g;
  bool logistic;
  bool vector_ok;
  int side;               // accumulator offset
  float shift;            // relativistic average: the other side's mean
  float coef;             // gradient multiplier
  float weight_scale[2];  // see SideScale
  float offset_d;
  float offset_g;
};

template <class T, class G, int N>
GANLOSS_DEVICE void store_group(G* p, int64_t i, const Vec<G, N>& v) {
  if (N == 1) {
    p[i] = v.v[0];
  } else {
    store_vector(p + i, v);
  }
}

template <int N>
GANLOSS_DEVICE void store_floats(float* p, int64_t i, const Vec<float, N>& v) {
  if (N == 1) {
    p[i] = v.v[0];
  } else {
    store_vector(p + i, v);
  }
}

// The statistics of one raw logit into the side's accumulators.
GANLOSS_DEVICE void add_statistics(LossSums& acc, int side, float x, float sigma) {
  if (!(x - x == 0.0f)) return;  // NaN or infinite: only counted as non-finite
  acc.v[kSigmoid + side] += sigma;
  acc.v[kCorrect + side] += (side == 0 ? x > 0.0f : x < 0.0f) ? 1.0f : 0.0f;
  if (side == 0) acc.v[kSignReal] += x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
  acc.v[kFinite + side] += 1.0f;
}

// The main or gradient pass of evaluate_group.
template <class T, class G, Pass P, int N>
GANLOSS_DEVICE void evaluate_terms(const KernelArgs& k, const Row<T, G>& r, int64_t i,
                                   const Vec<T, N>& x, const Vec<float, N>& w, const SideContext& c,
                                   LossSums& acc) {
  const CallParams& q = k.call;
  Vec<G, N> gd, gg;
  Vec<float, N> ld, lg;
  GANLOSS_UNROLL
  for (int j = 0; j < N; ++j) {
    const float v = to_float(x.v[j]);
    const float t = v - c.shift;
    math::Logistic parts{};
    if (c.logistic) parts = math::logistic(t);
    const TermValue a = evaluate_term(c.d, t, parts);
    const TermValue b = evaluate_term(c.g, t, parts);
    const float ws = scaled_weight(w.v[j], c.weight_scale);
    const float wa = weighted(ws, a.grad);
    const float wb = weighted(ws, b.grad);
    ld.v[j] = weighted_loss(c.d, w.v[j], t, a.loss);
    lg.v[j] = weighted_loss(c.g, w.v[j], t, b.loss);
    if constexpr (P == Pass::gradients) {
      gd.v[j] = from_float<G>(wa * c.coef + c.offset_d);
      gg.v[j] = from_float<G>(wb * c.coef + c.offset_g);
      continue;
    }
    acc.v[kLossD + c.side] += weighted_loss(c.d, ws, t, a.loss);
    acc.v[kLossG + c.side] += weighted_loss(c.g, ws, t, b.loss);
    if (k.average) {
      acc.v[kDerivativeD + c.side] += wa;
      acc.v[kDerivativeG + c.side] += wb;
    }
    gd.v[j] = from_float<G>(wa * c.coef);
    gg.v[j] = from_float<G>(wb * c.coef);
    if (q.stats) {
      const float sigma =
          (c.logistic && c.shift == 0.0f) ? parts.sig_pos : math::logistic(v).sig_pos;
      add_statistics(acc, c.side, v, sigma);
    }
  }
  const bool write_gradients = P == Pass::gradients || !k.average;
  if (write_gradients && r.grad_d) store_group<T, G, N>(r.grad_d, i, gd);
  if (write_gradients && r.grad_g) store_group<T, G, N>(r.grad_g, i, gg);
  if (P == Pass::main && r.loss_d) store_floats<N>(r.loss_d, i, ld);
  if (P == Pass::main && r.loss_g) store_floats<N>(r.loss_g, i, lg);
}

// N consecutive elements of one side's row from index i: evaluated for the pass, stored, and
// added to the running sums in element order. N > 1 only at 16-byte aligned indices of a side
// whose arrays share that alignment.
template <class T, class G, Pass P, int N>
GANLOSS_DEVICE void evaluate_group(const KernelArgs& k, const Row<T, G>& r, int64_t i,
                                   const Vec<T, N>& x, const SideContext& c, LossSums& acc) {
  Vec<float, N> w;
  if (r.w) {
    w = N == 1 ? Vec<float, N>{{r.w[i]}} : load_vector<float, N>(r.w + i);
  } else {
    GANLOSS_UNROLL
    for (int j = 0; j < N; ++j)
      w.v[j] = 1.0f;
  }
  if constexpr (P == Pass::prepass) {
    GANLOSS_UNROLL
    for (int j = 0; j < N; ++j) {
      acc.v[kLogitSum + c.side] += to_float(x.v[j]);
      acc.v[kWeightSum + c.side] += w.v[j];
      acc.v[kNonzeroWeights + c.side] += w.v[j] != 0.0f ? 1.0f : 0.0f;
    }
  } else {
    evaluate_terms<T, G, P, N>(k, r, i, x, w, c, acc);
  }
}

// The main pass of evaluate_pair_group.
template <class T, class G, int N>
GANLOSS_DEVICE void evaluate_pair_terms(const KernelArgs& k, const Row<T, G>& r, const Row<T, G>& f,
                                        int64_t i, const Vec<T, N>& x, const Vec<T, N>& y,
                                        const Vec<float, N>& w, const SideContext& c,
                                        LossSums& acc) {
  const CallParams& q = k.call;
  Vec<G, N> grd, grg, gfd, gfg;
  Vec<float, N> lrd, lfg, zero;
  GANLOSS_UNROLL
  for (int j = 0; j < N; ++j) {
    const float rv = to_float(x.v[j]);
    const float fv = to_float(y.v[j]);
    const float d = fv - rv;
    const math::Logistic parts = math::logistic(d);
    const TermValue a = evaluate_term(c.d, d, parts);
    const TermValue b = evaluate_term(c.g, d, parts);
    const float ws = scaled_weight(w.v[j], c.weight_scale);
    lrd.v[j] = weighted(w.v[j], a.loss);
    lfg.v[j] = weighted(w.v[j], b.loss);
    zero.v[j] = 0.0f;
    acc.v[kLossD + 0] += weighted(ws, a.loss);
    acc.v[kLossG + 1] += weighted(ws, b.loss);
    const float ga = weighted(ws, a.grad) * c.coef;
    const float gb = weighted(ws, b.grad) * c.coef;
    grd.v[j] = from_float<G>(-ga);
    grg.v[j] = from_float<G>(-gb);
    gfd.v[j] = from_float<G>(ga);
    gfg.v[j] = from_float<G>(gb);
    if (q.stats) {
      add_statistics(acc, 0, rv, math::logistic(rv).sig_pos);
      add_statistics(acc, 1, fv, math::logistic(fv).sig_pos);
    }
  }
  if (r.grad_d) store_group<T, G, N>(r.grad_d, i, grd);
  if (r.grad_g) store_group<T, G, N>(r.grad_g, i, grg);
  if (f.grad_d) store_group<T, G, N>(f.grad_d, i, gfd);
  if (f.grad_g) store_group<T, G, N>(f.grad_g, i, gfg);
  if (r.loss_d) store_floats<N>(r.loss_d, i, lrd);
  if (r.loss_g) store_floats<N>(r.loss_g, i, zero);
  if (f.loss_d) store_floats<N>(f.loss_d, i, zero);
  if (f.loss_g) store_floats<N>(f.loss_g, i, lfg);
}

// N consecutive pairs from index i (paired relativistic loss): their weights (prepass), or
// d = f - r, the D term sp(d) and the G term sp(-d), their gradients with respect to r (-) and
// f (+) (main pass).
template <class T, class G, Pass P, int N>
GANLOSS_DEVICE void evaluate_pair_group(const KernelArgs& k, const Row<T, G>& r, const Row<T, G>& f,
                                        int64_t i, const Vec<T, N>& x, const Vec<T, N>& y,
                                        const SideContext& c, LossSums& acc) {
  Vec<float, N> w;
  if (r.w) {
    w = N == 1 ? Vec<float, N>{{r.w[i]}} : load_vector<float, N>(r.w + i);
  } else {
    GANLOSS_UNROLL
    for (int j = 0; j < N; ++j)
      w.v[j] = 1.0f;
  }
  if constexpr (P == Pass::prepass) {
    GANLOSS_UNROLL
    for (int j = 0; j < N; ++j) {
      acc.v[kWeightSum] += w.v[j];
      acc.v[kNonzeroWeights] += w.v[j] != 0.0f ? 1.0f : 0.0f;
    }
  } else {
    evaluate_pair_terms<T, G, N>(k, r, f, i, x, y, w, c, acc);
  }
}

// Elements [begin, end) of a row (of pairs, when f is given), shared by `threads` threads of
// which this is `rank`: a scalar head up to 16-byte alignment, 16-byte groups (kUnroll loads
// in flight per thread), a scalar tail. Which thread adds which element, and in which order,
// depends only on the indices and the row's alignment, never on timing.
template <class T, class G, Pass P, bool kPaired>
GANLOSS_DEVICE void evaluate_range(const KernelArgs& k, const Row<T, G>& r, const Row<T, G>& f,
                                   int64_t begin, int64_t end, const SideContext& c, unsigned rank,
                                   unsigned threads, LossSums& acc) {
  constexpr int kWidth = kVectorBytes / static_cast<int>(sizeof(T));
  constexpr int kUnroll = sizeof(T) == 4 ? 4 : 2;  // 16-byte loads in flight per thread
  const int64_t step = threads;
  int64_t body = end;
  if (c.vector_ok) {
    const int64_t head = elements_to_alignment(r.x + begin);
    body = begin + (head < end - begin ? head : end - begin);
  }
  auto scalar = [&](int64_t i) {
    Vec<T, 1> x;
    x.v[0] = r.x[i];
    if constexpr (kPaired) {
      Vec<T, 1> y;
      y.v[0] = f.x[i];
      evaluate_pair_group<T, G, P, 1>(k, r, f, i, x, y, c, acc);
    } else {
      evaluate_group<T, G, P, 1>(k, r, i, x, c, acc);
    }
  };
  for (int64_t i = begin + rank; i < body; i += step)
    scalar(i);
  const int64_t groups = (end - body) / kWidth;
  for (int64_t g = rank; g < groups; g += kUnroll * step) {
    Vec<T, kWidth> x[kUnroll];
    Vec<T, kWidth> y[kPaired ? kUnroll : 1];
    GANLOSS_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t gu = g + u * step;
      if (gu < groups) {
        x[u] = load_vector<T, kWidth>(r.x + body + gu * kWidth);
        if constexpr (kPaired) y[u] = load_vector<T, kWidth>(f.x + body + gu * kWidth);
      }
    }
    GANLOSS_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t gu = g + u * step;
      if (gu >= groups) continue;
      if constexpr (kPaired) {
        evaluate_pair_group<T, G, P, kWidth>(k, r, f, body + gu * kWidth, x[u], y[u], c, acc);
      } else {
        evaluate_group<T, G, P, kWidth>(k, r, body + gu * kWidth, x[u], c, acc);
      }
    }
  }
  for (int64_t i = body + groups * kWidth + rank; i < end; i += step)
    scalar(i);
}

// A segment as one pass sees it.
struct SegmentState {
  Extent extent[2];
  SideScale scale[2];
  AverageCoupling coupling;
  bool valid;
};

GANLOSS_DEVICE SegmentState segment_state(const KernelArgs& k, int64_t s) {
  const CallParams& q = k.call;
  SegmentState st;
  st.extent[0] = segment_extent(q.real, k.real.used, s);
  st.extent[1] = segment_extent(q.fake, k.fake.used, s);
  // A malformed offset anywhere (see offsets_check_body) voids every segment: segments of
  // offsets that are not monotone may overlap, and their gradients would race.
  const bool offsets_ok = k.offsets_flag == nullptr || simt::load_coherent(k.offsets_flag) == 0;
  st.valid = offsets_ok && st.extent[0].valid && st.extent[1].valid &&
             (!k.paired || st.extent[0].size == st.extent[1].size);
  if (!st.valid) st.extent[0].size = st.extent[1].size = 0;
  const double* state = k.state ? k.state + s * kStateFields : nullptr;
  const double* totals = (k.weighted && k.pass != Pass::prepass) ? state : nullptr;
  st.scale[0] = side_scale(q, q.real, 0, st.extent[0].size, totals);
  st.scale[1] = side_scale(q, q.fake, 1, st.extent[1].size, totals);
  if (k.paired) {
    st.scale[1] = st.scale[0];
    st.scale[1].count = static_cast<double>(st.extent[1].size);
  }
  if (k.average && k.pass != Pass::prepass) st.coupling = average_coupling(q, st.scale, state);
  return st;
}

GANLOSS_DEVICE SideContext side_context(const KernelArgs& k, const SegmentState& st, int side) {
  const CallParams& q = k.call;
  SideContext c;
  c.side = side;
  c.d = side == 0 ? q.real_d : q.fake_d;
  c.g = side == 0 ? q.real_g : q.fake_g;
  if (k.paired) c.g = q.fake_g;
  c.logistic = side == 0 ? k.real.logistic : k.fake.logistic;
  c.vector_ok = side == 0 ? k.real.vector_ok : k.fake.vector_ok;
  c.coef = static_cast<float>(st.scale[side].coef);
  c.weight_scale[0] = st.scale[side].weight_scale[0];
  c.weight_scale[1] = st.scale[side].weight_scale[1];
  c.shift = 0.0f;
  c.offset_d = 0.0f;
  c.offset_g = 0.0f;
  if (k.average && k.pass != Pass::prepass) {
    c.shift = static_cast<float>(st.coupling.shift[side]);
    c.offset_d = static_cast<float>(st.coupling.offset_d[side]);
    c.offset_g = static_cast<float>(st.coupling.offset_g[side]);
  }
  return c;
}

// Elements [begin, end) of segment s's virtual row: its real row, then its fake row (or its
// pairs), shared by `threads` threads.
template <class T, class G, Pass P, bool kPaired>
GANLOSS_DEVICE LossSums evaluate_segment_part(const KernelArgs& k, const SegmentState& st,
                                              int64_t begin, int64_t end, unsigned rank,
                                              unsigned threads) {
  const CallParams& q = k.call;
  LossSums acc = LossSums::zero();
  const Row<T, G> real = row_at<T, G>(q.real, q.grad_real, q.grad_real_g, q.loss_real,
                                      q.loss_real_g, st.extent[0].begin);
  const Row<T, G> fake = row_at<T, G>(q.fake, q.grad_fake_d, q.grad_fake_g, q.loss_fake_d,
                                      q.loss_fake_g, st.extent[1].begin);
  if constexpr (kPaired) {
    evaluate_range<T, G, P, true>(k, real, fake, begin, end, side_context(k, st, 0), rank, threads,
                                  acc);
    return acc;
  }
  const int64_t nr = st.extent[0].size;
  if (begin < nr) {
    evaluate_range<T, G, P, false>(k, real, real, begin, end < nr ? end : nr,
                                   side_context(k, st, 0), rank, threads, acc);
  }
  if (end > nr) {
    evaluate_range<T, G, P, false>(k, fake, fake, begin > nr ? begin - nr : 0, end - nr,
                                   side_context(k, st, 1), rank, threads, acc);
  }
  return acc;
}

GANLOSS_DEVICE int64_t segment_length(const KernelArgs& k, const SegmentState& st) {
  return k.paired ? st.extent[0].size : st.extent[0].size + st.extent[1].size;
}

// A segment's totals of one pass (any accumulator type): the state for the next pass, and the
// per-segment outputs after the main pass.
template <class A>
GANLOSS_DEVICE void finish_segment(const KernelArgs& k, int64_t s, const SegmentState& st,
                                   const A& totals) {
  double* state = k.state ? k.state + s * kStateFields : nullptr;
  if (k.pass == Pass::prepass) {
    for (int side = 0; side < 2; ++side) {
      state[kStateLogitSum + side] = static_cast<double>(totals.v[kLogitSum + side]);
      state[kStateWeightSum + side] = static_cast<double>(totals.v[kWeightSum + side]);
      state[kStateNonzero + side] = static_cast<double>(totals.v[kNonzeroWeights + side]);
    }
    return;
  }
  if (k.pass != Pass::main) return;
  if (k.average) {
    for (int side = 0; side < 2; ++side) {
      state[kStateDerivativeD + side] = static_cast<double>(totals.v[kDerivativeD + side]);
      state[kStateDerivativeG + side] = static_cast<double>(totals.v[kDerivativeG + side]);
    }
  }
  struct Indexed {
    const A& a;
    GANLOSS_DEVICE double operator[](int i) const { return static_cast<double>(a.v[i]); }
  };
  write_segment_outputs(k.call, s, Indexed{totals}, st.scale, st.valid);
}

template <class T, class G, Pass P, bool kPaired>
GANLOSS_DEVICE void warp_regime(const KernelArgs& k) {
  const unsigned lane = simt::lane_index();
  for (int64_t unit = simt::block_index(); unit < k.units; unit += simt::grid_size()) {
    const int64_t s = unit * kWarpsPerBlock + simt::warp_index();
    if (s >= k.call.segments) continue;  // the whole warp skips together
    const SegmentState st = segment_state(k, s);
    LossSums acc = evaluate_segment_part<T, G, P, kPaired>(k, st, 0, segment_length(k, st), lane,
                                                           simt::kWarpSize);
    if (k.active == 0) continue;  // gradient pass: nothing to sum
    acc = warp_sum(acc, k.active);
    if (lane == 0) finish_segment(k, s, st, acc);
  }
}

template <class T, class G, Pass P, bool kPaired>
GANLOSS_DEVICE void block_regime(const KernelArgs& k) {
  const unsigned tid = simt::thread_index();
  for (int64_t s = simt::block_index(); s < k.call.segments; s += simt::grid_size()) {
    const SegmentState st = segment_state(k, s);
    LossSums acc =
        evaluate_segment_part<T, G, P, kPaired>(k, st, 0, segment_length(k, st), tid, kThreads);
    if (k.active == 0) continue;
    acc = block_sum<kThreads>(acc, k.active);
    if (tid == 0) finish_segment(k, s, st, acc);
  }
}

template <class T, class G, Pass P, bool kPaired>
GANLOSS_DEVICE void chunk_regime(const KernelArgs& k) {
  const unsigned tid = simt::thread_index();
  GANLOSS_SHARED simt::SharedArray<int, 1> last_block;
  for (int64_t unit = simt::block_index(); unit < k.units; unit += simt::grid_size()) {
    const int64_t s = unit / k.chunks;
    const int64_t begin = (unit % k.chunks) * kChunkLength;
    const int64_t end = begin + kChunkLength < k.length ? begin + kChunkLength : k.length;
    const SegmentState st = segment_state(k, s);
    LossSums acc = evaluate_segment_part<T, G, P, kPaired>(k, st, begin, end, tid, kThreads);
    if (k.active == 0) continue;
    acc = block_sum<kThreads>(acc, k.active);
    if (tid == 0) {
      for (int j = 0; j < kAccumulators; ++j)
        k.partials[unit * kAccumulators + j] = acc.v[j];
      simt::thread_fence();  // the partials are visible before the ticket is
      const unsigned arrived = simt::atomic_add(&k.tickets[s], 1u);
      const bool last = arrived + 1 == static_cast<unsigned>(k.chunks);
      if (last) simt::atomic_exchange(&k.tickets[s], 0u);  // ready for the next pass or call
      last_block[0] = last ? 1 : 0;
    }
    simt::sync_block();
    if (last_block[0] != 0) {
      simt::thread_fence();
      Sums<double, kAccumulators> total = Sums<double, kAccumulators>::zero();
      const float* partials = k.partials + s * k.chunks * kAccumulators;
      for (int64_t c = tid; c < k.chunks; c += kThreads) {
        for (int j = 0; j < kAccumulators; ++j) {
          if (k.active & (1u << j)) {
            total.v[j] +=
                static_cast<double>(simt::load_coherent(partials + c * kAccumulators + j));
          }
        }
      }
      total = block_sum<kThreads>(total, k.active);
      if (tid == 0) finish_segment(k, s, st, total);
    }
  }
}

// The offsets check of a ragged call, launched before its passes on a zeroed flag: raises the
// flag if any offset of a side the call reads is outside [0, count], decreases, or (paired) if
// a segment's real and fake lengths differ.
GANLOSS_DEVICE void offsets_check_body(const KernelArgs& k) {
  const CallParams& q = k.call;
  const int64_t first = static_cast<int64_t>(simt::block_index()) * kThreads + simt::thread_index();
  const int64_t step = static_cast<int64_t>(simt::grid_size()) * kThreads;
  for (int64_t s = first; s <= q.segments; s += step) {
    bool bad = false;
    for (int side = 0; side < 2; ++side) {
      const SideParams& sp = side == 0 ? q.real : q.fake;
      const bool used = side == 0 ? k.real.used : k.fake.used;
      if (!used || sp.offsets == nullptr) continue;
      const int64_t a = sp.offsets[s];
      bad |= a < 0 || a > sp.count;
      if (s < q.segments) bad |= sp.offsets[s + 1] < a;
    }
    if (k.paired && s < q.segments) {
      bad |= q.real.offsets[s + 1] - q.real.offsets[s] != q.fake.offsets[s + 1] - q.fake.offsets[s];
    }
    if (bad) simt::atomic_exchange(k.offsets_flag, 1u);
  }
}

// The kernel body for logits of type T, gradients of type G, pass P (k.pass) and pairs or not
// (k.paired): every block of the launch runs it with kThreads threads. One instantiation per
// pass keeps each kernel to the code and registers its pass needs.
template <class T, class G, Pass P, bool kPaired>
GANLOSS_DEVICE void segmented_loss_body(const KernelArgs& k) {
  switch (k.regime) {
    case Regime::warp:
      warp_regime<T, G, P, kPaired>(k);
      break;
    case Regime::block:
      block_regime<T, G, P, kPaired>(k);
      break;
    default:
      chunk_regime<T, G, P, kPaired>(k);
  }
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENTED_LOSS_KERNEL_HPP_
