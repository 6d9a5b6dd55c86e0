// CPU pieces for any processor of the target architecture.
#define GANLOSS_CPU_ISA baseline
#include "cpu_pieces.inl"

namespace ganloss {
namespace detail {
namespace cpu {

#if !defined(__x86_64__)
namespace avx2 {
PieceFn select_piece(TermKind d, TermKind g) {
  return baseline::select_piece(d, g);
}
}  // namespace avx2
#endif

PieceFn select_piece(TermKind d, TermKind g) {
#if defined(__x86_64__)
  static const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (has_avx2) return avx2::select_piece(d, g);
#endif
  return baseline::select_piece(d, g);
}

}  // namespace cpu
}  // namespace detail
}  // namespace ganloss
