// The CPU backend's inner loop: one contiguous piece of a row, evaluated tile by tile into
// stack buffers (so that the compiler vectorizes it), its outputs copied out and its loss sums
// accumulated in double in a fixed lane order. Compiled once per instruction set; every
// variant performs the same IEEE operations in the same order, so all give identical bits.
#ifndef GANLOSS_SRC_CPU_PIECES_HPP_
#define GANLOSS_SRC_CPU_PIECES_HPP_

#include <cstdint>

#include "call_params.hpp"
#include "ganloss/losses.hpp"

namespace ganloss {
namespace detail {
namespace cpu {

// One row piece: `n` logits of type x_type from `x`; per-element outputs (null = not wanted)
// at the same element offsets, gradients of type grad_type; the sums of the piece's D and G
// terms go to sums[0] and, for the fake side, sums[1].
struct Piece {
  const void* x;
  DType x_type;
  int64_t n;
  void* grad_d;
  void* grad_g;
  DType grad_type;
  float* loss_d;
  float* loss_g;
  double* sums;
};

using PieceFn = void (*)(const Piece& piece, const Term& d, const Term& g, float grad_coef);

// The evaluator for a pair of term kinds (either may be none), per instruction set.
namespace baseline {
PieceFn select_piece(TermKind d, TermKind g);
}
namespace avx2 {
PieceFn select_piece(TermKind d, TermKind g);
}

// The best variant this processor runs.
PieceFn select_piece(TermKind d, TermKind g);

}  // namespace cpu
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_CPU_PIECES_HPP_
