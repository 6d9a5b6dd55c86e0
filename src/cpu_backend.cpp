// CPU backend. Each side (real, fake) is cut into work items of at most kChunk elements: whole
// rows packed together when rows are short, fixed chunks of a row when rows are long. Every
// item writes its gradients and element losses and leaves its loss sums (double, fixed lane
// order) in its own workspace slot; a second pass adds each segment's slots in index order.
// Hence the results do not depend on the thread count or on which thread ran what.
#include "cpu_backend.hpp"

#include <algorithm>

#include "cpu_pieces.hpp"
#include "thread_pool.hpp"

namespace ganloss {
namespace detail {
namespace cpu {
namespace {

// Below this many elements in total the call runs on the calling thread alone.
constexpr int64_t kParallelThreshold = 1 << 16;

int64_t chunks_per_row(int64_t count) {
  return count <= kChunk ? 1 : (count + kChunk - 1) / kChunk;
}

// One side's decomposition into items and sum slots.
struct SideLayout {
  int64_t count = 0;
  int64_t chunks = 0;         // slots per row
  int64_t rows_per_item = 0;  // > 0: items are groups of whole rows; 0: items are chunks
  int64_t items = 0;

  SideLayout(int64_t segments, int64_t n) : count(n) {
    if (n == 0) return;
    chunks = chunks_per_row(n);
    if (chunks == 1) {
      rows_per_item = std::max<int64_t>(1, kChunk / n);
      items = (segments + rows_per_item - 1) / rows_per_item;
    } else {
      items = segments * chunks;
    }
  }
};

// Evaluates item `item` of one side. `sums_per_slot` is 1 (real) or 2 (fake).
void run_item(const SideLayout& layout, const SideParams& side, int64_t segments, int64_t item,
              PieceFn fn, const Term& td, const Term& tg, float coef, DType x_type, DType grad_type,
              void* grad_d, void* grad_g, float* loss_d, float* loss_g, double* slots,
              int sums_per_slot) {
  auto piece = [&](int64_t row, int64_t begin, int64_t n, int64_t slot) {
    const int64_t index = row * side.stride + begin;
    const int64_t grad_offset = index * dtype_size(grad_type);
    Piece p{static_cast<const char*>(side.logits) + index * dtype_size(x_type),
            x_type,
            n,
            grad_d ? static_cast<char*>(grad_d) + grad_offset : nullptr,
            grad_g ? static_cast<char*>(grad_g) + grad_offset : nullptr,
            grad_type,
            loss_d ? loss_d + index : nullptr,
            loss_g ? loss_g + index : nullptr,
            slots + slot * sums_per_slot};
    fn(p, td, tg, coef);
  };
  if (layout.rows_per_item > 0) {
    const int64_t first = item * layout.rows_per_item;
    const int64_t last = std::min(segments, first + layout.rows_per_item);
    for (int64_t row = first; row < last; ++row)
      piece(row, 0, layout.count, row);
  } else {
    const int64_t row = item / layout.chunks;
    const int64_t begin = (item % layout.chunks) * kChunk;
    piece(row, begin, std::min(kChunk, layout.count - begin), item);
  }
}

}  // namespace

std::size_t workspace_bytes(int64_t segments, int64_t real_count, int64_t fake_count) {
  const int64_t real_slots = real_count > 0 ? segments * chunks_per_row(real_count) : 0;
  const int64_t fake_slots = fake_count > 0 ? segments * chunks_per_row(fake_count) : 0;
  return static_cast<std::size_t>(real_slots + 2 * fake_slots) * sizeof(double);
}

Status run(const CallParams& q, void* workspace, int threads) {
  const bool use_real = q.real_d.kind != TermKind::none;
  const bool use_fake = q.fake_d.kind != TermKind::none || q.fake_g.kind != TermKind::none;
  const SideLayout real(q.segments, use_real ? q.real.count : 0);
  const SideLayout fake(q.segments, use_fake ? q.fake.count : 0);
  // Slots laid out as in workspace_bytes(): real first, then fake (two sums each).
  double* real_slots = static_cast<double*>(workspace);
  double* fake_slots =
      real_slots + (q.real.count > 0 ? q.segments * chunks_per_row(q.real.count) : 0);

  if (threads <= 0) threads = hardware_threads();
  const int64_t total = q.segments * (real.count + fake.count);
  if (total < kParallelThreshold) threads = 1;

  const PieceFn real_fn = select_piece(q.real_d.kind, TermKind::none);
  const PieceFn fake_fn = select_piece(q.fake_d.kind, q.fake_g.kind);
  parallel_for(real.items + fake.items, threads, 1, [&](int64_t item) {
    if (item < real.items) {
      run_item(real, q.real, q.segments, item, real_fn, q.real_d, q.fake_g, q.real_grad_coef,
               q.dtype, q.grad_dtype, q.grad_real, nullptr, q.loss_real, nullptr, real_slots, 1);
    } else {
      run_item(fake, q.fake, q.segments, item - real.items, fake_fn, q.fake_d, q.fake_g,
               q.fake_grad_coef, q.dtype, q.grad_dtype, q.grad_fake_d, q.grad_fake_g, q.loss_fake_d,
               q.loss_fake_g, fake_slots, 2);
    }
  });

  // Segment totals: each segment's slots in index order.
  const int64_t segment_grain = 4096;
  parallel_for(q.segments, q.segments > 4 * segment_grain ? threads : 1, segment_grain,
               [&](int64_t s) {
                 double d_real = 0, d_fake = 0, g = 0;
                 for (int64_t c = 0; c < real.chunks; ++c)
                   d_real += real_slots[s * real.chunks + c];
                 for (int64_t c = 0; c < fake.chunks; ++c) {
                   d_fake += fake_slots[2 * (s * fake.chunks + c)];
                   g += fake_slots[2 * (s * fake.chunks + c) + 1];
                 }
                 if (q.real.mean && real.count > 0) d_real /= static_cast<double>(real.count);
                 if (q.fake.mean && fake.count > 0) {
                   d_fake /= static_cast<double>(fake.count);
                   g /= static_cast<double>(fake.count);
                 }
                 if (q.d_loss) q.d_loss[s] = static_cast<float>(d_real + d_fake);
                 if (q.d_loss_real) q.d_loss_real[s] = static_cast<float>(d_real);
                 if (q.d_loss_fake) q.d_loss_fake[s] = static_cast<float>(d_fake);
                 if (q.g_loss) q.g_loss[s] = static_cast<float>(g);
               });
  return Status::Success;
}

}  // namespace cpu
}  // namespace detail
}  // namespace ganloss
