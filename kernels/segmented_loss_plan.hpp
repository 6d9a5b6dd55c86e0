// How the fused kernel maps a problem onto the GPU: the regime chosen by segment length, the
// passes, the workspace layout, and the argument block of one launch. Host code (the CUDA
// backend and the host emulator) fills a KernelArgs; the kernel body reads it.
//
// A segment is its real row followed by its fake row, of length L = Nr + Nf (a side no
// requested output reads counts 0; the paired relativistic loss walks its Nr pairs instead).
// One warp, one block or one chunk sees both rows, so per-segment outputs leave the same pass.
//   warp   L <= kWarpShortLength, or L <= kWarpMaxLength in a call of at least
//          kWarpManySegments segments: one warp per segment, kThreads / 32 segments per block
//   block  L <= kBlockShortLength, or L <= kChunkLength in a call of at least kTargetUnits
//          segments: one block per segment
//   chunk  longer:               blocks of a chunk each; each writes its partial sums
//                                to the workspace, and the last block of a segment to finish
//                                (fence + atomic ticket) adds them in index order and resets
//                                the ticket, so the tickets stay zero between calls.
// Ragged problems, whose lengths only the device knows, use the warp or the block regime by
// their average length, each loop covering a whole segment of any length.
// Every constant is fixed at compile time, independent of the device, so the decomposition,
// the order of every sum and therefore every result are the same on every GPU.
#ifndef GANLOSS_KERNELS_SEGMENTED_LOSS_PLAN_HPP_
#define GANLOSS_KERNELS_SEGMENTED_LOSS_PLAN_HPP_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "call_params.hpp"
#include "segment_math.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;
// A warp takes a segment of up to 8 elements per lane, and a block one of up to 8 per thread,
// whatever the call; up to 64 per lane or thread only in a call of enough segments to fill
// kTargetUnits blocks. With fewer the call is latency-bound, each thread's rounds of loads one
// after another, and more threads per segment (a block instead of a warp, chunks instead of a
// block) take fewer rounds. On an H200, one segment of 1024 f32 logits, 8 rounds of a 16-byte
// load per lane in a warp, took 10.2 us, one of 16384 in a block 12.2 us, but one of 65536 in
// 256 chunks 11.2 us, and a copy of the bytes of 1024 logits 3.7 us.
constexpr int64_t kWarpShortLength = 256;
constexpr int64_t kWarpMaxLength = 2048;
constexpr int64_t kBlockShortLength = 2048;
// The chunk regime splits a segment into chunks of a power-of-two length between these, chosen
// from the shape alone so that a call has about kTargetUnits chunks in all: a single segment
// of 64K logits runs on 256 blocks, enough for every SM of a large GPU, and the same split
// (hence the same bits) on every device.
constexpr int64_t kChunkLength = 16384;
constexpr int64_t kMinChunkLength = 256;
constexpr int64_t kTargetUnits = 256;
// Grid size cap; blocks loop over the work units beyond it (results do not depend on it).
constexpr int64_t kMaxGrid = int64_t{1} << 20;
// The most fp32 additions a term passes through on its way into a total: sequential in one
// thread (at most kChunkLength / kThreads, the warp regime included, for fixed-length rows),
// then a warp and a block tree; chunk partials are combined in double. Ragged segments longer
// than the regime's length add more sequentially in each thread.
constexpr int kAccumulationDepth = static_cast<int>(kChunkLength / kThreads) + 5 + 3;

enum class Regime : int32_t { warp = 0, block = 1, chunk = 2 };

constexpr int64_t kWarpManySegments = kTargetUnits * kWarpsPerBlock;

// The regime of a call of `segments` rows of `length` (for ragged rows: their average length,
// and never chunks).
inline Regime regime_for(int64_t segments, int64_t length) {
  if (length <= kWarpShortLength) return Regime::warp;
  if (length <= kWarpMaxLength && segments >= kWarpManySegments) return Regime::warp;
  if (length <= kBlockShortLength) return Regime::block;
  if (length <= kChunkLength && segments >= kTargetUnits) return Regime::block;
  return Regime::chunk;
}

// The chunk length of a chunked problem of `segments` rows of `length`.
inline int64_t chunk_length_for(int64_t segments, int64_t length) {
  const int64_t per_segment = std::max<int64_t>(1, (kTargetUnits + segments - 1) / segments);
  const int64_t want = (length + per_segment - 1) / per_segment;
  int64_t c = kMinChunkLength;
  while (c < want && c < kChunkLength)
    c *= 2;
  return c;
}

inline int64_t chunks_for(int64_t segments, int64_t length) {
  const int64_t c = chunk_length_for(segments, length);
  return (length + c - 1) / c;
}

// Workspace: per-segment state (double, multi-pass calls); for ragged problems a flag the
// offsets check writes; for the chunk regime a uint32 ticket per segment and kAccumulators
// floats per chunk. Depends on the problem alone: the largest need of any call on it. Only
// the tickets (ticket_bytes from state_bytes + flag_bytes on) need zeroing, once: every call
// leaves them zero, and the offsets check writes its flag whole.
struct WorkspaceLayout {
  std::size_t state_bytes = 0;
  std::size_t flag_bytes = 0;
  std::size_t ticket_bytes = 0;
  std::size_t partial_bytes = 0;
  std::size_t total() const { return state_bytes + flag_bytes + ticket_bytes + partial_bytes; }
};

inline std::size_t round_up(std::size_t n) {
  return (n + 255) / 256 * 256;
}

inline WorkspaceLayout workspace_layout(const ganloss_problem_t& p) {
  WorkspaceLayout w;
  const auto segments = static_cast<std::size_t>(p.segments);
  if (problem_needs_state(p)) w.state_bytes = round_up(segments * kStateFields * sizeof(double));
  if (p.ragged != 0) {
    w.flag_bytes = round_up(sizeof(uint32_t));
    return w;
  }
  // The rows a call on the problem can walk (make_kernel_args: both sides, or the one side its
  // outputs read; pairs), each in its regime: the partials of the most chunks any of them
  // takes. A shorter row can take more chunks (chunk_length_for: 65536 logits make 256
  // chunks of 256, 65537 make 129 of 512), so the whole row's count is not enough.
  const int64_t lengths[] = {
      p.d_loss == GANLOSS_LOSS_RELATIVISTIC ? p.real_count : p.real_count + p.fake_count,
      p.real_count, p.fake_count};
  int64_t chunks = 0;
  for (const int64_t length : lengths) {
    if (regime_for(p.segments, length) == Regime::chunk) {
      chunks = std::max(chunks, chunks_for(p.segments, length));
    }
  }
  if (chunks == 0) return w;
  w.ticket_bytes = round_up(segments * sizeof(uint32_t));
  w.partial_bytes = static_cast<std::size_t>(p.segments * chunks) * kAccumulators * sizeof(float);
  return w;
}

// A term with the constants its element loop needs, formed once on the host. The loop reads
// them as kernel parameters, which the compiler takes from the constant bank at each use
// instead of holding them in registers through the loop (see LoopTerm in
// segmented_loss_kernel.hpp): a logistic term sign [w_pos sp(x) + w_neg sp(-x)] is evaluated
// without its sign, with ap = sign w_pos, an = sign w_neg, and `scale` = sign multiplying its
// gradients, element losses and totals; the other kinds have ap = an = 0 and scale 1.
struct TermConstants {
  Term term;
  float ap;
  float an;
  float scale;
};

inline TermConstants term_constants(const Term& t) {
  const bool logistic = t.kind == TermKind::logistic;
  TermConstants c;
  c.term = t;
  c.scale = logistic ? t.sign : 1.0f;
  c.ap = logistic ? t.sign * t.w_pos : 0.0f;
  c.an = logistic ? t.sign * t.w_neg : 0.0f;
  return c;
}

// One side as the kernel sees it.
struct SideArgs {
  bool used;        // the pass reads these logits
  bool logistic;    // a term needs softplus/sigmoid
  bool vector_ok;   // every per-element array of the side shares the logits' 16-byte phase
  TermConstants d;  // the side's D and G terms (pairs: the real side's D term and the fake
  TermConstants g;  //   side's G term, which every pair evaluates)
};

struct KernelArgs {
  CallParams call;
  SideArgs real;
  SideArgs fake;
  Pass pass;
  uint32_t spec;  // the instantiation: encode(Spec)
  Regime regime;
  bool paired;
  bool average;
  bool weighted;   // a prepass gave weight totals: side scales read the state
  int64_t length;  // fixed-length virtual row (paired: pairs)
  int64_t chunks;  // per segment, chunk regime
  int64_t chunk_length;
  int64_t units;  // warp: segment groups; block: segments; chunk: segments * chunks
  int64_t grid;
  double* state;
  uint32_t* offsets_flag;  // ragged: nonzero once the offsets check found a malformed offset
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

inline bool all_same_phase(const void* x, int64_t x_size, int64_t g_size,
                           std::initializer_list<const void*> grads,
                           std::initializer_list<const void*> floats) {
  for (const void* g : grads) {
    if (!same_phase(x, x_size, g, g_size)) return false;
  }
  for (const void* f : floats) {
    if (!same_phase(x, x_size, f, 4)) return false;
  }
  return true;
}

// What a kernel instantiation is specialised for, fixed at compile time so that its element
// loop carries only the call's work: the pass, pairs or not, the relativistic average, the term
// families of the D and the G terms, weights, statistics and element losses.
//
// A family names the kind of a term slot's terms (the D terms of both sides, or the G terms):
// `logistic`, `hinge`, `linear` or `squared`, each evaluated without a test of the kind. The
// non-relativistic loss kinds pair them as (logistic, logistic) for the non-saturating and
// minimax losses, (hinge, linear), (linear, linear) and (squared, squared): these loops are
// the ones the instruction budget covers. A slot without terms (an output not requested) takes
// its partner's family, whose values then reach no output, except in the VJP pass, which masks
// the slot (SideContext::has_d, has_g). Every other combination (a D loss of one kind with a G
// loss of another, the statistics, the relativistic average) uses `any`: logistic or not per
// launch, and the other kinds by a switch per element (`cheap`, which the prepass, summing
// logits and weights only, also names).
// Outside the average, the real side has no G term, at compile time.
enum class Family : uint32_t {
  cheap = 0,
  logistic = 1,
  any = 2,
  hinge = 3,
  linear = 4,
  squared = 5,
};

struct Spec {
  Pass pass;
  bool paired;
  bool average;
  Family d;
  Family g;
  bool weighted;
  bool stats;
  bool losses;  // element losses may be written (main pass)
};

constexpr uint32_t encode(const Spec& s) {
  return static_cast<uint32_t>(s.pass) | (s.paired ? 1u << 2 : 0u) | (s.average ? 1u << 3 : 0u) |
         static_cast<uint32_t>(s.d) << 4 | static_cast<uint32_t>(s.g) << 7 |
         (s.weighted ? 1u << 10 : 0u) | (s.stats ? 1u << 11 : 0u) | (s.losses ? 1u << 12 : 0u);
}

constexpr Spec decode(uint32_t c) {
  return Spec{static_cast<Pass>(c & 3u),
              (c >> 2 & 1u) != 0,
              (c >> 3 & 1u) != 0,
              static_cast<Family>(c >> 4 & 7u),
              static_cast<Family>(c >> 7 & 7u),
              (c >> 10 & 1u) != 0,
              (c >> 11 & 1u) != 0,
              (c >> 12 & 1u) != 0};
}

constexpr Family kL = Family::logistic;
constexpr Family kC = Family::cheap;
constexpr Family kA = Family::any;
constexpr Family kH = Family::hinge;
constexpr Family kLin = Family::linear;
constexpr Family kSq = Family::squared;

// The (D, G) family pairs with instantiations of their own, `any` last.
struct FamilyPair {
  Family d;
  Family g;
};
constexpr FamilyPair kFamilyPairs[] = {{kL, kL}, {kH, kLin}, {kLin, kLin}, {kSq, kSq}, {kA, kA}};

// Instantiations per logit and gradient dtype.
constexpr int kSpecCount = 48;

struct SpecTable {
  uint32_t codes[kSpecCount];
  int count;
};

// Every instantiation a call can need, in one table.
constexpr SpecTable make_spec_table() {
  SpecTable t{};
  auto add = [&t](const Spec& s) { t.codes[t.count++] = encode(s); };
  // prepass: weight sums and logit sums
  add({Pass::prepass, false, false, kC, kC, false, false, false});
  add({Pass::prepass, true, false, kC, kC, false, false, false});
  // main and VJP, non-relativistic, without statistics: each family pair's loops (the budgeted
  // ones, and `any`), with and without weights, and for the main pass element losses
  for (const FamilyPair& f : kFamilyPairs) {
    for (bool weighted : {false, true}) {
      for (bool losses : {false, true})
        add({Pass::main, false, false, f.d, f.g, weighted, false, losses});
      add({Pass::vjp, false, false, f.d, f.g, weighted, false, false});
    }
  }
  for (bool weighted : {false, true}) {
    // main with statistics
    add({Pass::main, false, false, kA, kA, weighted, true, true});
    // the relativistic average: its main pass (with and without statistics), its gradient
    // pass, its VJP pass
    for (bool stats : {false, true})
      add({Pass::main, false, true, kA, kA, weighted, stats, true});
    add({Pass::gradients, false, true, kA, kA, weighted, false, false});
    add({Pass::vjp, false, true, kA, kA, weighted, false, false});
    // pairs
    for (bool stats : {false, true})
      add({Pass::main, true, false, kL, kL, weighted, stats, true});
    add({Pass::vjp, true, false, kL, kL, weighted, false, false});
  }
  return t;
}

inline constexpr SpecTable kSpecTable = make_spec_table();
static_assert(kSpecTable.count == kSpecCount, "kSpecCount is the number of instantiations");
inline constexpr const uint32_t (&kSpecs)[kSpecCount] = kSpecTable.codes;

// Calls f.template operator()<kTable.codes[i]>() for the entry of kTable (a table of
// instantiation codes: SpecTable, SequenceTable) equal to `code`; false if none matches.
template <const auto& kTable, int I = 0, class Code, class F>
bool dispatch_code(Code code, F& f) {
  if constexpr (I == kTable.count) {
    (void)code;
    (void)f;
    return false;
  } else {
    if (code == kTable.codes[I]) {
      f.template operator()<kTable.codes[I]>();
      return true;
    }
    return dispatch_code<kTable, I + 1>(code, f);
  }
}

// The instantiation of a launch's spec (the one place where a spec picks its kernel, for the
// CUDA launch and the emulator alike).
template <class F>
bool dispatch_spec(uint32_t code, F& f) {
  return dispatch_code<kSpecTable>(code, f);
}

// The family of a term kind; none for TermKind::none (a slot without terms).
inline bool family_of(TermKind k, Family* f) {
  switch (k) {
    case TermKind::logistic:
      *f = kL;
      return true;
    case TermKind::hinge:
      *f = kH;
      return true;
    case TermKind::linear:
      *f = kLin;
      return true;
    case TermKind::squared:
      *f = kSq;
      return true;
    default:
      return false;
  }
}

// The (D, G) families of a non-relativistic call's loop: the kinds of its D terms (real and
// fake) and of its G terms; a slot without terms takes its partner's family (the first pair
// that has it); `any` where the kinds have no pair of their own or the two sides' terms of a
// slot differ in kind.
inline FamilyPair loop_families(const Term& real_d, const Term& fake_d, const Term& fake_g) {
  Family d = kA, g = kA, other = kA;
  const bool real_has_d = family_of(real_d.kind, &d);
  const bool fake_has_d = family_of(fake_d.kind, &other);
  const bool has_d = real_has_d || fake_has_d;
  if (real_d.kind != TermKind::none && fake_d.kind != TermKind::none && d != other) {
    return FamilyPair{kA, kA};
  }
  if (real_d.kind == TermKind::none) d = other;
  const bool has_g = family_of(fake_g.kind, &g);
  for (const FamilyPair& p : kFamilyPairs) {
    if ((!has_d || p.d == d) && (!has_g || p.g == g) && (has_d || has_g)) return p;
  }
  return FamilyPair{kA, kA};
}

// Accumulators an instantiation sums, fixed by its spec: the reductions carry only these.
constexpr uint32_t active_accumulators(const Spec& s) {
  auto bits = [](int first, int count) { return ((1u << count) - 1u) << first; };
  switch (s.pass) {
    case Pass::prepass:
      return bits(kLogitSum, 2) | bits(kWeightSum, 2) | bits(kNonzeroWeights, 2);
    case Pass::main: {
      uint32_t a = bits(kLossD, 2) | bits(kLossG, 2);
      if (s.average) a |= bits(kDerivativeD, 2) | bits(kDerivativeG, 2);
      if (s.stats) {
        a |= bits(kSigmoid, 2) | bits(kCorrect, 2) | bits(kSignReal, 1) | bits(kFinite, 2);
      }
      return a;
    }
    default:
      return 0;
  }
}

// The one place where a pass of a validated call picks its instantiation.
inline uint32_t spec_for(const CallParams& q, Pass pass) {
  const bool paired = q.relativity == Relativity::paired;
  const bool average = q.relativity == Relativity::average;
  if (pass == Pass::prepass) return encode({pass, paired, false, kC, kC, false, false, false});
  const bool weighted = q.real.weights != nullptr || q.fake.weights != nullptr;
  const bool stats = q.stats && pass == Pass::main;
  const bool main = pass == Pass::main;
  if (paired) return encode({pass, true, false, kL, kL, weighted, stats, main});
  if (average || stats || pass == Pass::gradients) {
    return encode({pass, false, average, kA, kA, weighted, stats, main});
  }
  const bool losses = main && (q.loss_real != nullptr || q.loss_real_g != nullptr ||
                               q.loss_fake_d != nullptr || q.loss_fake_g != nullptr);
  const FamilyPair f = loop_families(q.real_d, q.fake_d, q.fake_g);
  return encode({pass, false, false, f.d, f.g, weighted, false, losses});
}

// The launch of one pass of a validated call; `workspace` holds workspace_layout() bytes of
// its problem.
inline KernelArgs make_kernel_args(const CallParams& q, Pass pass, void* workspace) {
  KernelArgs k;
  k.call = q;
  k.pass = pass;
  k.paired = q.relativity == Relativity::paired;
  k.average = q.relativity == Relativity::average;
  k.weighted = needs_prepass(q) && needs_weight_totals(q.reduction);
  k.spec = spec_for(q, pass);
  const int64_t xs = dtype_size(q.dtype);
  const int64_t gs = dtype_size(q.grad_dtype);
  // A VJP call writes every logit's gradient, terms or not.
  const bool vjp = pass == Pass::vjp;
  const bool read_real =
      side_used(q, true) || q.grad_real_g || q.loss_real_g || (vjp && q.grad_real != nullptr);
  k.real.used = read_real;
  k.real.logistic = q.real_d.kind == TermKind::logistic || q.real_g.kind == TermKind::logistic;
  k.real.vector_ok = all_same_phase(q.real.logits, xs, gs, {q.grad_real, q.grad_real_g},
                                    {q.real.weights, q.loss_real, q.loss_real_g});
  k.real.d = term_constants(q.real_d);
  k.real.g = term_constants(k.paired ? q.fake_g : q.real_g);
  k.fake.used = side_used(q, false) || (vjp && q.grad_fake_d != nullptr);
  k.fake.logistic = q.fake_d.kind == TermKind::logistic || q.fake_g.kind == TermKind::logistic;
  k.fake.vector_ok = all_same_phase(q.fake.logits, xs, gs, {q.grad_fake_d, q.grad_fake_g},
                                    {q.fake.weights, q.loss_fake_d, q.loss_fake_g});
  k.fake.d = term_constants(q.fake_d);
  k.fake.g = term_constants(q.fake_g);
  if (k.paired) {
    // Pairs are read together: vector access only if both rows share one phase too.
    const bool ok =
        k.real.vector_ok && k.fake.vector_ok && same_phase(q.real.logits, xs, q.fake.logits, xs);
    k.real.vector_ok = k.fake.vector_ok = ok;
    k.real.logistic = true;
  }
  const bool ragged = q.real.offsets != nullptr || q.fake.offsets != nullptr;
  k.offsets_flag = nullptr;
  if (ragged) {
    const int64_t total = (k.real.used ? q.real.count : 0) + (k.fake.used ? q.fake.count : 0);
    k.length = 0;
    k.regime =
        regime_for(q.segments, total / q.segments) == Regime::warp ? Regime::warp : Regime::block;
  } else {
    k.length = k.paired ? q.real.count
                        : (k.real.used ? q.real.count : 0) + (k.fake.used ? q.fake.count : 0);
    k.regime = regime_for(q.segments, k.length);
  }
  k.chunk_length = k.regime == Regime::chunk ? chunk_length_for(q.segments, k.length) : k.length;
  k.chunks = k.regime == Regime::chunk ? chunks_for(q.segments, k.length) : 1;
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
  // The layout of workspace_layout(), for this call's needs (never more than the problem's).
  char* w = static_cast<char*>(workspace);
  const auto segments = static_cast<std::size_t>(q.segments);
  const bool state = call_has_state(q);
  k.state = state ? reinterpret_cast<double*>(w) : nullptr;
  if (state) w += round_up(segments * kStateFields * sizeof(double));
  if (ragged) {
    k.offsets_flag = reinterpret_cast<uint32_t*>(w);
    w += round_up(sizeof(uint32_t));
  }
  k.tickets = k.regime == Regime::chunk ? reinterpret_cast<uint32_t*>(w) : nullptr;
  k.partials = k.regime == Regime::chunk
                   ? reinterpret_cast<float*>(w + round_up(segments * sizeof(uint32_t)))
                   : nullptr;
  return k;
}

// One launch for every pass of a call whose segments each fit in one warp or one block: the
// warp or block that holds a segment runs the passes one after another, with a block barrier
// between them, so that a pass reads the state its segment's previous pass wrote (the same
// block wrote it; no other block touches it). The relativistic average then costs one launch
// instead of three and the weighted means one instead of two, and a segment's logits (at most
// kChunkLength of them, or a ragged segment of any length) are read again by the warp or block
// that just read them, from L1 or L2 while they fit there. The chunk regime, whose segments span
// blocks, keeps one launch per pass: waiting for the other blocks of a segment needs a grid-wide
// barrier, hence every block resident at once, a grid bounded by the device's SM count, where the
// decomposition depends on the shape alone.
//
// A sequence is named by its passes' spec codes, 16 bits each from the first pass on (kNoPass
// where it has fewer than three): the fused kernel's template argument, which the kernel
// report decodes.
constexpr uint64_t kNoPass = 0xffffu;

constexpr uint64_t sequence_code(uint32_t a, uint32_t b, uint32_t c = kNoPass) {
  return uint64_t{a} | uint64_t{b} << 16 | uint64_t{c} << 32;
}

constexpr uint32_t sequence_pass(uint64_t code, int i) {
  return static_cast<uint32_t>(code >> (16 * i) & 0xffffu);
}

constexpr int sequence_count(uint64_t code) {
  return sequence_pass(code, 2) == kNoPass ? 2 : 3;
}

// Every fused sequence, from the spec table: a multi-pass call's passes as launch_sequence
// forms them. Compute calls: the weighted means' prepass and main pass; the relativistic
// average's prepass, main pass and (when gradients are asked for) gradient pass. VJP calls:
// the weighted means' prepass and VJP pass; the average's prepass, sums and VJP pass.
constexpr int kSequenceCount = 29;

struct SequenceTable {
  uint64_t codes[kSequenceCount];
  int count;
};

constexpr SequenceTable make_sequence_table() {
  SequenceTable t{};
  for (const uint32_t code : kSpecTable.codes) {
    const Spec s = decode(code);
    const uint32_t pre = encode({Pass::prepass, s.paired, false, kC, kC, false, false, false});
    if (s.pass == Pass::prepass || s.pass == Pass::gradients) continue;
    if (!s.average) {
      if (s.weighted) t.codes[t.count++] = sequence_code(pre, code);
      continue;
    }
    if (s.pass == Pass::main) {
      t.codes[t.count++] = sequence_code(pre, code);
      t.codes[t.count++] = sequence_code(
          pre, code, encode({Pass::gradients, false, true, kA, kA, s.weighted, false, false}));
    } else {
      t.codes[t.count++] = sequence_code(
          pre, encode({Pass::main, false, true, kA, kA, s.weighted, false, true}), code);
    }
  }
  return t;
}

inline constexpr SequenceTable kSequenceTable = make_sequence_table();
static_assert(kSequenceTable.count == kSequenceCount, "kSequenceCount is the number of sequences");
inline constexpr const uint64_t (&kSequences)[kSequenceCount] = kSequenceTable.codes;

// The fused kernel of a sequence, picked as dispatch_spec picks a single pass's.
template <class F>
bool dispatch_sequence(uint64_t code, F& f) {
  return dispatch_code<kSequenceTable>(code, f);
}

struct LaunchSequence;
inline uint64_t fused_sequence_for(const LaunchSequence& seq);

// The launches of a validated call, in order, as the CUDA backend and the emulator run them:
// for a ragged call first the offsets check (check_offsets, with args[0]), then one launch per
// pass, or one for all of them where `fused` names their sequence. Compute calls: [prepass]
// main [gradients]; VJP calls: [prepass] [main] vjp, where the main pass of the relativistic
// average only forms the sums through the means (it writes no gradient).
struct LaunchSequence {
  bool check_offsets = false;
  int count = 0;
  // Nonzero when one launch runs every pass (fused_sequence_for): the code of that sequence.
  uint64_t fused = 0;
  KernelArgs args[3];
};

inline LaunchSequence launch_sequence(const CallParams& q, void* workspace) {
  LaunchSequence seq;
  if (q.vjp) {
    if (needs_prepass(q)) seq.args[seq.count++] = make_kernel_args(q, Pass::prepass, workspace);
    if (q.relativity == Relativity::average) {
      CallParams sums = q;
      sums.grad_real = sums.grad_fake_d = nullptr;
      seq.args[seq.count++] = make_kernel_args(sums, Pass::main, workspace);
    }
    seq.args[seq.count++] = make_kernel_args(q, Pass::vjp, workspace);
  } else {
    if (needs_prepass(q)) seq.args[seq.count++] = make_kernel_args(q, Pass::prepass, workspace);
    seq.args[seq.count++] = make_kernel_args(q, Pass::main, workspace);
    if (needs_gradient_pass(q)) {
      seq.args[seq.count++] = make_kernel_args(q, Pass::gradients, workspace);
    }
  }
  seq.check_offsets = seq.args[0].offsets_flag != nullptr;
  seq.fused = fused_sequence_for(seq);
  return seq;
}

// The arguments of a ragged call's offsets check: the first pass's, with every side that any
// pass reads (a weighted mean's prepass may read one side only, its VJP pass both), so that a
// malformed offset of any side the call reads voids the call.
inline KernelArgs offsets_check_args(const LaunchSequence& seq) {
  KernelArgs k = seq.args[0];
  for (int i = 1; i < seq.count; ++i) {
    k.real.used = k.real.used || seq.args[i].real.used;
    k.fake.used = k.fake.used || seq.args[i].fake.used;
  }
  return k;
}

// The fused sequence of a call's passes, or 0 where they need launches of their own: a single
// pass, the chunk regime, passes in different regimes, or passes of no fused sequence.
inline uint64_t fused_sequence_for(const LaunchSequence& seq) {
  if (seq.count < 2) return 0;
  const Regime r = seq.args[0].regime;
  if (r == Regime::chunk) return 0;
  uint32_t specs[3] = {kNoPass, kNoPass, kNoPass};
  for (int i = 0; i < seq.count; ++i) {
    if (seq.args[i].regime != r || seq.args[i].units != seq.args[0].units) return 0;
    specs[i] = seq.args[i].spec;
  }
  const uint64_t code = sequence_code(specs[0], specs[1], specs[2]);
  for (const uint64_t c : kSequences) {
    if (c == code) return code;
  }
  return 0;
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENTED_LOSS_PLAN_HPP_
