// The CPU backend's inner loop: one contiguous piece of one row (or, for the paired
// relativistic loss, of a real row and its fake row together), evaluated tile by tile into
// stack buffers so that the compiler vectorizes it. Compiled once per instruction set; every
// variant performs the same IEEE operations in the same order, so all give identical bits.
#ifndef GANLOSS_SRC_CPU_PIECES_HPP_
#define GANLOSS_SRC_CPU_PIECES_HPP_

#include <cstdint>

#include "call_params.hpp"
#include "ganloss/losses.hpp"
#include "segment_math.hpp"

namespace ganloss {
namespace detail {
namespace cpu {

// Where one side's per-element outputs of a piece go (null = not wanted), already offset to
// the piece's first element.
struct PieceOutputs {
  void* grad_d;
  void* grad_g;
  float* loss_d;
  float* loss_g;
};

struct Piece {
  Pass pass;
  int side;     // 0 real, 1 fake: which accumulators and terms
  bool paired;  // x are real logits, y the fake logits of the same pairs
  bool stats;
  bool average;  // relativistic average: sums of derivatives, gradients in their own pass
  int64_t n;
  const void* x;
  const void* y;
  const float* w;  // weights of x's elements (or of the pairs); null = 1
  DType x_type;
  DType grad_type;
  float shift;            // subtracted from x (relativistic average)
  float coef;             // gradient multiplier
  float weight_scale[2];  // see SideScale
  float offset_d;         // added to D gradients (relativistic average, gradient pass)
  float offset_g;
  PieceOutputs out;    // x's side
  PieceOutputs out_y;  // paired: the fake side
  double* sums;        // kAccumulators running sums, added to
};

using PieceFn = void (*)(const Piece& piece, const Term& d, const Term& g);

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
