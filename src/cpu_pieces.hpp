// The CPU backend's inner loop: one contiguous piece of one row (or, for the paired
// relativistic loss, of a real row and its fake row together), evaluated over whole SIMD
// registers with Google Highway, compiled once per instruction set (x86-64: AVX-512, AVX2 and
// a portable fallback; Arm: NEON) and picked at run time. See cpu_pieces.cpp and
// docs/numerics.md for what may differ between instruction sets.
#ifndef GANLOSS_SRC_CPU_PIECES_HPP_
#define GANLOSS_SRC_CPU_PIECES_HPP_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "call_params.hpp"
#include "ganloss/losses.hpp"
#include "segment_math.hpp"

namespace ganloss {
namespace detail {
namespace cpu {

// The fp32 additions a loss term passes through on its way into a total: the CPU backend adds
// the terms of each block of 64 elements in fp32 first, 16 float lanes of four terms each, and
// those lanes in double (cpu_pieces.cpp, Fold).
constexpr int kAccumulationDepth = 3;

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
  double offset_d;        // added to D gradients (relativistic average, gradient pass); double:
  double offset_g;        //   it may pass FLT_MAX where the gradient it enters does not
  // A VJP call: x's gradient is wd * coef_d + wg * coef_g + offset (see vjp_multipliers(); for
  // pairs, y's gradient is minus x's), written to out.grad_d (and out_y.grad_d); no sums but the
  // relativistic average's derivative sums.
  bool vjp;
  double coef_d;
  double coef_g;
  double offset;
  PieceOutputs out;    // x's side
  PieceOutputs out_y;  // paired: the fake side
  double* sums;        // kAccumulators running sums, added to
};

using PieceFn = void (*)(const Piece& piece, const Term& d, const Term& g);

// The evaluator for a pair of term kinds (either may be none), for the best instruction set
// this processor runs (or the one a test restricted the choice to, see below).
PieceFn select_piece(TermKind d, TermKind g);

// For tests: the instruction sets compiled in and supported by this processor, by Highway
// target bit and name; and a restriction of select_piece to one of them (0: the best again).
struct InstructionSet {
  int64_t target;
  std::string name;
};
std::vector<InstructionSet> available_instruction_sets();
void restrict_instruction_set(int64_t target);

// For tests: the vector math of the selected instruction set (as select_piece picks it), element
// by element over n values: exp_out[i] = exp(-|x[i]|) (with tiny |x| as 0, the loops' argument
// rule) and log1p_out[i] = log1p(x[i]) for x[i] in [0, 1], so that the tests hold each to its
// bound in docs/numerics.md. Either output may be null.
void vector_math_for_tests(const float* x, int64_t n, float* exp_out, float* log1p_out);

// For tests: sigma(-|t|) and sigma(|t|) as the selected instruction set's loops form them from
// e = exp(-|t|), element by element over n values e[i] in [0, 1], so that the tests hold each
// to its bound in docs/numerics.md.
void sigmoids_for_tests(const float* e, int64_t n, float* small_out, float* big_out);

// For tests: the bf16 bits of n floats as the selected instruction set's stores round them
// (the gradients' conversion).
void bf16_rounding_for_tests(const float* x, int64_t n, uint16_t* out);

// For tests: the f16 bits of n floats as the selected instruction set's stores round them, and
// the floats of n f16 values as its loads widen them.
void f16_rounding_for_tests(const float* x, int64_t n, uint16_t* out);
void f16_widening_for_tests(const uint16_t* h, int64_t n, float* out);

// For tests: the bf16 magnitude bits below which the selected instruction set's common bf16 loop
// stores the gradients of a scale without a test per store (normal_gradients_below in
// cpu_pieces.cpp; 0 where it has no such stores).
uint32_t bf16_normal_bound_for_tests(float scale);

// Whether the processor has AVX512_BF16, whose rounding instruction the AVX-512 code uses for
// bf16 stores (set when the library loads).
extern const bool kProcessorHasAvx512Bf16;

// Whether the processor's gathers are slower than loading their elements one at a time, taken
// as AMD's x86 processors. Measured on Zen 4 only: the common bf16 call ran 1.21 times as fast
// with such loads there (docs/benchmarks.md).
bool processor_gathers_slowly();

// Whether the bf16 loops on x86 load their table entries one at a time instead of gathering
// them (lookup_vectors in cpu_pieces.cpp): processor_gathers_slowly() unless a test sets it. The
// entries, and so the results, are the same bits either way.
inline std::atomic<bool>& scalar_entry_loads() {
  static std::atomic<bool> loads{processor_gathers_slowly()};
  return loads;
}

// For tests: whether pieces may take the specialised loops (the common main pass, the weighted
// main pass, the prepass and the common VJP), which give bitwise the results of the general
// loop; true unless a test turns them off to compare.
inline std::atomic<bool>& plain_loops_enabled() {
  static std::atomic<bool> enabled{true};
  return enabled;
}

}  // namespace cpu
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_CPU_PIECES_HPP_
