// How the fused kernel maps a problem onto the GPU: the regime chosen by segment length, the
// workspace layout, and the argument block of one launch. Host code (the CUDA backend and
// the host emulator) fills a KernelArgs; the kernel body reads it.
//
// A segment is its real row followed by its fake row: length L = Nr + Nf (a side whose terms
// are not requested counts 0). One warp, one block or one chunk sees both rows, so per-segment
// outputs come out of the same launch without a second pass.
//   warp   L <= kWarpMaxLength:  one warp per segment, kThreads / 32 segments per block
//   block  L <= kChunkLength:    one block per segment
//   chunk  longer:               blocks of kChunkLength elements; each writes its partial sums
//                                to the workspace, and the last block of a segment to finish
//                                (fence + atomic ticket) adds them in index order and resets
//                                the ticket, so the tickets stay zero between calls.
// Every constant is fixed at compile time, independent of the device, so the decomposition,
// the order of every sum and therefore every result are the same on every GPU.
#ifndef GANLOSS_KERNELS_SEGMENTED_LOSS_PLAN_HPP_
#define GANLOSS_KERNELS_SEGMENTED_LOSS_PLAN_HPP_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "call_params.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;
constexpr int64_t kWarpMaxLength = 2048;
constexpr int64_t kChunkLength = 16384;
// Grid size cap; blocks loop over the work units beyond it (results do not depend on it).
constexpr int64_t kMaxGrid = int64_t{1} << 20;
// Loss sums per unit of work: D real, D fake, G.
constexpr int kSums = 3;
// The most fp32 additions a term passes through on its way into a total: sequential in one
// thread (at most kChunkLength / kThreads, the warp regime included), then a warp and a block
// tree; chunk partials are combined in double.
constexpr int kAccumulationDepth = static_cast<int>(kChunkLength / kThreads) + 5 + 3;

enum class Regime : int32_t { warp = 0, block = 1, chunk = 2 };

inline Regime regime_for(int64_t length) {
  if (length <= kWarpMaxLength) return Regime::warp;
  if (length <= kChunkLength) return Regime::block;
  return Regime::chunk;
}

inline int64_t chunks_for(int64_t length) {
  return (length + kChunkLength - 1) / kChunkLength;
}

// Workspace: a uint32 ticket per segment, then kSums floats per chunk, for the chunk regime;
// nothing otherwise. Shapes only: the largest need of any call on these shapes.
struct WorkspaceLayout {
  std::size_t ticket_bytes = 0;
  std::size_t partial_bytes = 0;
  std::size_t total() const { return ticket_bytes + partial_bytes; }
};

inline WorkspaceLayout workspace_layout(int64_t segments, int64_t length) {
  WorkspaceLayout w;
  if (regime_for(length) != Regime::chunk) return w;
  const auto tickets = static_cast<std::size_t>(segments) * sizeof(uint32_t);
  w.ticket_bytes = (tickets + 255) / 256 * 256;
  w.partial_bytes = static_cast<std::size_t>(segments * chunks_for(length)) * kSums * sizeof(float);
  return w;
}

// One side as the kernel sees it: its terms, whether vector access is safe (every per-element
// array of the side has the logits' alignment modulo 16 bytes), and its used length.
struct SideArgs {
  Term a;  // D term
  Term b;  // G term (fake side only)
  bool logistic;
  bool vector_ok;
  int64_t length;  // elements per segment this launch touches (0 if the side is unused)
  float coef;
};

struct KernelArgs {
  CallParams call;
  SideArgs real;
  SideArgs fake;
  Regime regime;
  int64_t length;  // real.length + fake.length
  int64_t chunks;  // per segment, chunk regime
  int64_t units;   // warp: segment groups; block: segments; chunk: segments * chunks
  int64_t grid;
  uint32_t* tickets;
  float* partials;
};

// Whether array `k` (elements of k_size bytes) reaches 16-byte alignment at the same element
// index as the logits `x` (elements of x_size <= k_size bytes), for every row: then the
// 16-byte groups of the logits map onto whole 16-byte accesses of `k`.
inline bool same_phase(const void* x, int64_t x_size, const void* k, int64_t k_size) {
  if (k == nullptr) return true;
  const auto per_vector = static_cast<uintptr_t>(16 / k_size);
  const uintptr_t xi = reinterpret_cast<uintptr_t>(x) / static_cast<uintptr_t>(x_size);
  const uintptr_t ki = reinterpret_cast<uintptr_t>(k) / static_cast<uintptr_t>(k_size);
  return xi % per_vector == ki % per_vector;
}

inline SideArgs side_args(const SideParams& side, int64_t x_size, int64_t grad_size, const Term& a,
                          const Term& b, float coef, const void* grad_a, const void* grad_b,
                          const void* loss_a, const void* loss_b) {
  SideArgs s;
  s.a = a;
  s.b = b;
  s.logistic = a.kind == TermKind::logistic || b.kind == TermKind::logistic;
  const bool used = a.kind != TermKind::none || b.kind != TermKind::none;
  s.length = used ? side.count : 0;
  s.coef = coef;
  const void* x = side.logits;
  s.vector_ok = same_phase(x, x_size, grad_a, grad_size) &&
                same_phase(x, x_size, grad_b, grad_size) && same_phase(x, x_size, loss_a, 4) &&
                same_phase(x, x_size, loss_b, 4);
  return s;
}

// The launch for a validated call; `workspace` holds at least workspace_layout() bytes.
inline KernelArgs make_kernel_args(const CallParams& q, void* workspace) {
  KernelArgs k;
  k.call = q;
  const int64_t x_size = dtype_size(q.dtype);
  const int64_t g_size = dtype_size(q.grad_dtype);
  k.real = side_args(q.real, x_size, g_size, q.real_d, make_none_term(), q.real_grad_coef,
                     q.grad_real, nullptr, q.loss_real, nullptr);
  k.fake = side_args(q.fake, x_size, g_size, q.fake_d, q.fake_g, q.fake_grad_coef, q.grad_fake_d,
                     q.grad_fake_g, q.loss_fake_d, q.loss_fake_g);
  k.length = k.real.length + k.fake.length;
  k.regime = regime_for(k.length);
  k.chunks = k.regime == Regime::chunk ? chunks_for(k.length) : 1;
  switch (k.regime) {
    case Regime::warp:
      k.units = (q.segments + kWarpsPerBlock - 1) / kWarpsPerBlock;
      break;
    case Regime::block:
      k.units = q.segments;
      break;
    default:
      k.units = q.segments * k.chunks;
  }
  k.grid = std::min(k.units, kMaxGrid);
  const WorkspaceLayout w = workspace_layout(q.segments, k.length);
  k.tickets = w.total() ? static_cast<uint32_t*>(workspace) : nullptr;
  k.partials = w.total() ? reinterpret_cast<float*>(static_cast<char*>(workspace) + w.ticket_bytes)
                         : nullptr;
  return k;
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENTED_LOSS_PLAN_HPP_
