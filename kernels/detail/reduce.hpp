// Warp and block sums of a small fixed set of accumulators, in a fixed order: the butterfly
// pattern and the shared-memory layout never depend on timing, so every result is bitwise
// repeatable.
#ifndef GANLOSS_KERNELS_DETAIL_REDUCE_HPP_
#define GANLOSS_KERNELS_DETAIL_REDUCE_HPP_

#include "detail/simt.hpp"

namespace ganloss {
namespace detail {

// K running sums carried together through one reduction.
template <class T, int K>
struct Sums {
  T v[K];

  GANLOSS_DEVICE static Sums zero() {
    Sums s;
    GANLOSS_UNROLL
    for (int k = 0; k < K; ++k)
      s.v[k] = T(0);
    return s;
  }
  GANLOSS_DEVICE Sums& operator+=(const Sums& o) {
    GANLOSS_UNROLL
    for (int k = 0; k < K; ++k)
      v[k] += o.v[k];
    return *this;
  }
};

// Butterfly sum over the 32 lanes of a warp of the sums whose bit is set in kActive (the others
// are left as they are); every lane ends with the totals. All 32 lanes must call it together.
// The active sums travel together: one shuffle step per offset.
template <uint32_t kActive, class T, int K>
GANLOSS_DEVICE Sums<T, K> warp_sum(Sums<T, K> s) {
  constexpr int kCount = __builtin_popcount(kActive & ((K < 32 ? 1u << K : 0u) - 1u));
  static_assert(kCount > 0 && kCount <= simt::kMaxShuffleValues, "1 to 16 active sums");
  T packed[kCount];
  GANLOSS_UNROLL
  for (int offset = simt::kWarpSize / 2; offset > 0; offset /= 2) {
    int n = 0;
    GANLOSS_UNROLL
    for (int k = 0; k < K; ++k) {
      if (kActive & (1u << k)) packed[n++] = s.v[k];
    }
    simt::shfl_xor_sync(simt::kFullMask, packed, kCount, offset);
    n = 0;
    GANLOSS_UNROLL
    for (int k = 0; k < K; ++k) {
      if (kActive & (1u << k)) s.v[k] += packed[n++];
    }
  }
  return s;
}

// Sum over a block of kThreads threads (a multiple of 32): warp sums, then the warp partials
// through shared memory summed by warp 0. Every thread of the block must call it; thread 0
// gets the total. Ends with a barrier, so it may be called again straight away.
template <int kThreads, uint32_t kActive, class T, int K>
GANLOSS_DEVICE Sums<T, K> block_sum(Sums<T, K> s) {
  static_assert(kThreads % simt::kWarpSize == 0 && kThreads <= 1024, "whole warps, one block");
  constexpr int kWarps = kThreads / simt::kWarpSize;
  GANLOSS_SHARED simt::SharedArray<Sums<T, K>, kWarps> partials;
  s = warp_sum<kActive>(s);
  if (simt::lane_index() == 0) partials[static_cast<int>(simt::warp_index())] = s;
  simt::sync_block();
  if (simt::warp_index() == 0) {
    const int lane = static_cast<int>(simt::lane_index());
    s = lane < kWarps ? static_cast<Sums<T, K>>(partials[lane]) : Sums<T, K>::zero();
    s = warp_sum<kActive>(s);
  }
  simt::sync_block();
  return s;
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_DETAIL_REDUCE_HPP_
