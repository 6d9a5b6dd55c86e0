// The fused segmented loss kernel body: for every segment, one read of each logit, one write of
// each requested gradient and element loss, and the segment's loss totals, in one launch.
// See segmented_loss_plan.hpp for the mapping onto warps, blocks and chunks.
//
// Device code only through detail/simt.hpp, so that the host emulator can run it; the
// __global__ wrapper and its launch live in segmented_loss_<dtype>.cu.
#ifndef GANLOSS_KERNELS_SEGMENTED_LOSS_KERNEL_HPP_
#define GANLOSS_KERNELS_SEGMENTED_LOSS_KERNEL_HPP_

#include <cstdint>

#include "detail/reduce.hpp"
#include "detail/simt.hpp"
#include "detail/vector_io.hpp"
#include "ganloss/losses.hpp"
#include "segmented_loss_plan.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

using LossSums = Sums<float, kSums>;

// One row of one side: the logits (T) and the per-element outputs at the same offsets:
// gradients (G) and element losses (float).
template <class T, class G>
struct Row {
  const T* x;
  G* grad_a;
  G* grad_b;
  float* loss_a;
  float* loss_b;
};

template <class T, class G>
GANLOSS_DEVICE Row<T, G> row_of(const SideParams& side, void* grad_a, void* grad_b, float* loss_a,
                                float* loss_b, int64_t segment) {
  const int64_t offset = segment * side.stride;
  Row<T, G> r;
  r.x = static_cast<const T*>(side.logits) + offset;
  r.grad_a = grad_a ? static_cast<G*>(grad_a) + offset : nullptr;
  r.grad_b = grad_b ? static_cast<G*>(grad_b) + offset : nullptr;
  r.loss_a = loss_a ? loss_a + offset : nullptr;
  r.loss_b = loss_b ? loss_b + offset : nullptr;
  return r;
}

// N consecutive elements from index i: evaluated, stored, and added to the running sums in
// element order. N > 1 only at 16-byte aligned indices of a side whose arrays share alignment.
template <class T, class G, int N>
GANLOSS_DEVICE void evaluate_group(const Row<T, G>& r, int64_t i, const Vec<T, N>& x,
                                   const SideArgs& s, float& sum_a, float& sum_b) {
  Vec<G, N> ga, gb;
  Vec<float, N> la, lb;
  GANLOSS_UNROLL
  for (int k = 0; k < N; ++k) {
    const float v = to_float(x.v[k]);
    math::Logistic parts{};
    if (s.logistic) parts = math::logistic(v);
    const TermValue a = evaluate_term(s.a, v, parts);
    const TermValue b = evaluate_term(s.b, v, parts);
    ga.v[k] = from_float<G>(a.grad * s.coef);
    gb.v[k] = from_float<G>(b.grad * s.coef);
    la.v[k] = a.loss;
    lb.v[k] = b.loss;
    sum_a += a.loss;
    sum_b += b.loss;
  }
  if (N == 1) {
    if (r.grad_a) r.grad_a[i] = ga.v[0];
    if (r.grad_b) r.grad_b[i] = gb.v[0];
    if (r.loss_a) r.loss_a[i] = la.v[0];
    if (r.loss_b) r.loss_b[i] = lb.v[0];
  } else {
    if (r.grad_a) store_vector(r.grad_a + i, ga);
    if (r.grad_b) store_vector(r.grad_b + i, gb);
    if (r.loss_a) store_vector(r.loss_a + i, la);
    if (r.loss_b) store_vector(r.loss_b + i, lb);
  }
}

// Elements [begin, end) of a row, shared by `threads` threads of which this is `rank`: a scalar
// head up to 16-byte alignment, 16-byte groups (kUnroll loads in flight per thread), a scalar
// tail. Which thread adds which element, and in which order, depends only on the indices and
// the row's alignment, never on timing.
template <class T, class G>
GANLOSS_DEVICE void evaluate_range(const Row<T, G>& r, int64_t begin, int64_t end,
                                   const SideArgs& s, unsigned rank, unsigned threads, float& sum_a,
                                   float& sum_b) {
  constexpr int kWidth = kVectorBytes / static_cast<int>(sizeof(T));
  constexpr int kUnroll = 4;
  const int64_t step = threads;
  int64_t body = end;
  if (s.vector_ok) {
    const int64_t head = elements_to_alignment(r.x + begin);
    body = begin + (head < end - begin ? head : end - begin);
  }
  for (int64_t i = begin + rank; i < body; i += step) {
    Vec<T, 1> x;
    x.v[0] = r.x[i];
    evaluate_group<T, G, 1>(r, i, x, s, sum_a, sum_b);
  }
  const int64_t groups = (end - body) / kWidth;
  for (int64_t g = rank; g < groups; g += kUnroll * step) {
    Vec<T, kWidth> x[kUnroll];
    GANLOSS_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t gu = g + u * step;
      if (gu < groups) x[u] = load_vector<T, kWidth>(r.x + body + gu * kWidth);
    }
    GANLOSS_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t gu = g + u * step;
      if (gu < groups) evaluate_group<T, G, kWidth>(r, body + gu * kWidth, x[u], s, sum_a, sum_b);
    }
  }
  for (int64_t i = body + groups * kWidth + rank; i < end; i += step) {
    Vec<T, 1> x;
    x.v[0] = r.x[i];
    evaluate_group<T, G, 1>(r, i, x, s, sum_a, sum_b);
  }
}

// Elements [begin, end) of segment s's virtual row (its real row, then its fake row).
template <class T, class G>
GANLOSS_DEVICE LossSums evaluate_segment_part(const KernelArgs& k, int64_t s, int64_t begin,
                                              int64_t end, unsigned rank, unsigned threads) {
  const CallParams& q = k.call;
  LossSums acc = LossSums::zero();
  float unused = 0.0f;
  const int64_t nr = k.real.length;
  if (begin < nr) {
    const Row<T, G> r = row_of<T, G>(q.real, q.grad_real, nullptr, q.loss_real, nullptr, s);
    evaluate_range(r, begin, end < nr ? end : nr, k.real, rank, threads, acc.v[0], unused);
  }
  if (end > nr) {
    const Row<T, G> f =
        row_of<T, G>(q.fake, q.grad_fake_d, q.grad_fake_g, q.loss_fake_d, q.loss_fake_g, s);
    evaluate_range(f, begin > nr ? begin - nr : 0, end - nr, k.fake, rank, threads, acc.v[1],
                   acc.v[2]);
  }
  return acc;
}

// Per-segment outputs from the segment's three totals (any accumulator type).
template <class A>
GANLOSS_DEVICE void write_segment(const KernelArgs& k, int64_t s, const A& totals) {
  const CallParams& q = k.call;
  double d_real = static_cast<double>(totals.v[0]);
  double d_fake = static_cast<double>(totals.v[1]);
  double g = static_cast<double>(totals.v[2]);
  if (q.real.mean && k.real.length > 0) d_real /= static_cast<double>(k.real.length);
  if (q.fake.mean && k.fake.length > 0) {
    d_fake /= static_cast<double>(k.fake.length);
    g /= static_cast<double>(k.fake.length);
  }
  if (q.d_loss) q.d_loss[s] = static_cast<float>(d_real + d_fake);
  if (q.d_loss_real) q.d_loss_real[s] = static_cast<float>(d_real);
  if (q.d_loss_fake) q.d_loss_fake[s] = static_cast<float>(d_fake);
  if (q.g_loss) q.g_loss[s] = static_cast<float>(g);
}

template <class T, class G>
GANLOSS_DEVICE void warp_regime(const KernelArgs& k) {
  const unsigned lane = simt::lane_index();
  for (int64_t unit = simt::block_index(); unit < k.units; unit += simt::grid_size()) {
    const int64_t s = unit * kWarpsPerBlock + simt::warp_index();
    if (s >= k.call.segments) continue;  // the whole warp skips together
    LossSums acc = evaluate_segment_part<T, G>(k, s, 0, k.length, lane, simt::kWarpSize);
    acc = warp_sum(acc);
    if (lane == 0) write_segment(k, s, acc);
  }
}

template <class T, class G>
GANLOSS_DEVICE void block_regime(const KernelArgs& k) {
  const unsigned tid = simt::thread_index();
  for (int64_t s = simt::block_index(); s < k.call.segments; s += simt::grid_size()) {
    LossSums acc = evaluate_segment_part<T, G>(k, s, 0, k.length, tid, kThreads);
    acc = block_sum<kThreads>(acc);
    if (tid == 0) write_segment(k, s, acc);
  }
}

template <class T, class G>
GANLOSS_DEVICE void chunk_regime(const KernelArgs& k) {
  const unsigned tid = simt::thread_index();
  GANLOSS_SHARED simt::SharedArray<int, 1> last_block;
  for (int64_t unit = simt::block_index(); unit < k.units; unit += simt::grid_size()) {
    const int64_t s = unit / k.chunks;
    const int64_t begin = (unit % k.chunks) * kChunkLength;
    const int64_t end = begin + kChunkLength < k.length ? begin + kChunkLength : k.length;
    LossSums acc = evaluate_segment_part<T, G>(k, s, begin, end, tid, kThreads);
    acc = block_sum<kThreads>(acc);
    if (tid == 0) {
      for (int j = 0; j < kSums; ++j)
        k.partials[unit * kSums + j] = acc.v[j];
      simt::thread_fence();  // the partials are visible before the ticket is
      const unsigned arrived = simt::atomic_add(&k.tickets[s], 1u);
      const bool last = arrived + 1 == static_cast<unsigned>(k.chunks);
      if (last) simt::atomic_exchange(&k.tickets[s], 0u);  // ready for the next call
      last_block[0] = last ? 1 : 0;
    }
    simt::sync_block();
    if (last_block[0] != 0) {
      simt::thread_fence();
      Sums<double, kSums> total = Sums<double, kSums>::zero();
      const float* partials = k.partials + s * k.chunks * kSums;
      for (int64_t c = tid; c < k.chunks; c += kThreads) {
        for (int j = 0; j < kSums; ++j) {
          total.v[j] += static_cast<double>(simt::load_coherent(partials + c * kSums + j));
        }
      }
      total = block_sum<kThreads>(total);
      if (tid == 0) write_segment(k, s, total);
    }
  }
}

// The kernel body for logits of type T and gradients of type G: every block of the launch runs
// it with kThreads threads.
template <class T, class G>
GANLOSS_DEVICE void segmented_loss_body(const KernelArgs& k) {
  switch (k.regime) {
    case Regime::warp:
      warp_regime<T, G>(k);
      break;
    case Regime::block:
      block_regime<T, G>(k);
      break;
    default:
      chunk_regime<T, G>(k);
  }
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENTED_LOSS_KERNEL_HPP_
