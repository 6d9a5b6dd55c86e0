// The CUDA kernel, run by the host SIMT emulator, against the double-precision reference: every
// loss kind, reduction and regime, sizes at and around every regime boundary, odd sizes,
// Nr != Nf, strided and unaligned rows, optional outputs on and off, many segments; plus
// shared-memory hazard checks, determinism across block orders and grid sizes, ticket reset,
// and proof that the emulator catches a deleted __syncthreads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define GANLOSS_EMULATOR 1
#include "detail/simt.hpp"
#include "emulator/emulated_backend.hpp"
#include "emulator/simt_emulator.hpp"
#include "kernel_cases.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace {

using detail::kernel::kAccumulationDepth;
using detail::kernel::Regime;
using emulator::emulated_compute;
using emulator::EmulatedOptions;
using emulator::EmulatedRun;
using testing::C;
using testing::Comparison;
using testing::HostCall;
using testing::KernelCase;
using testing::kShapes;
using testing::make_problem;
using testing::Shape;

EmulatedRun run_emulated(HostCall& call, const ganloss_outputs_t& o,
                         const EmulatedOptions& options = {}) {
  const std::size_t bytes = emulator::emulated_workspace_size(call.problem);
  call.workspace = testing::GuardedBuffer(bytes);
  return emulated_compute(call.problem, call.real.data(), call.fake.data(), o,
                          call.workspace.data(), bytes, options);
}

void expect_tickets_zero(HostCall& call) {
  if (call.workspace.bytes() == 0) return;
  const auto* tickets = call.workspace.as<uint32_t>();
  for (int64_t s = 0; s < call.problem.segments; ++s) {
    EXPECT_EQ(tickets[s], 0u) << "segment " << s << " left its ticket set";
  }
}

class EmulatedMatrix : public ::testing::TestWithParam<KernelCase> {};

TEST_P(EmulatedMatrix, MatchesReference) {
  const KernelCase& c = GetParam();
  HostCall call(testing::problem_of(c), std::hash<std::string>{}(c.name()));
  const ganloss_outputs_t o = call.all_outputs();
  const EmulatedRun run = run_emulated(call, o);
  ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
  ASSERT_TRUE(run.launched);
  EXPECT_EQ(run.regime, c.shape.regime);
  EXPECT_EQ(run.report.hazard_count, 0u)
      << (run.report.hazards.empty() ? "" : run.report.hazards[0]);
  const Comparison cmp = testing::compare_with_reference(call, o, kAccumulationDepth);
  EXPECT_LE(cmp.worst, 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
  expect_tickets_zero(call);
}

INSTANTIATE_TEST_SUITE_P(Cases, EmulatedMatrix, ::testing::ValuesIn(testing::kernel_cases()),
                         [](const ::testing::TestParamInfo<KernelCase>& i) {
                           return i.param.name();
                         });

// Optional outputs: one at a time, and only the G outputs (which shortens the virtual row to
// the fake side and may change the regime), in every regime.
TEST(EmulatedOutputs, SubsetsInEveryRegime) {
  for (const Shape& s : {kShapes[2], kShapes[6], kShapes[12]}) {
    for (int which = 0; which < 10; ++which) {
      auto p = make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_NONSATURATING,
                            GANLOSS_LOSS_MINIMAX, GANLOSS_REDUCTION_MEAN);
      HostCall call(p, static_cast<uint64_t>(which));
      const ganloss_outputs_t o = testing::only(call.all_outputs(), which);
      const EmulatedRun run = run_emulated(call, o);
      ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
      EXPECT_EQ(run.report.hazard_count, 0u);
      const Comparison cmp = testing::compare_with_reference(call, o, kAccumulationDepth);
      EXPECT_LE(cmp.worst, 1.0) << s.name << " output " << which << ": " << cmp.first_failure;
    }
  }
}

// Base pointers off the 16-byte grid, alike (vector path with heads and tails) and unlike
// (scalar path), for every element offset within 16 bytes.
TEST(EmulatedAlignment, EveryOffsetWithinSixteenBytes) {
  const int64_t nr = 1000, nf = 777;
  auto p = make_problem(3, nr, nf, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_LEAST_SQUARES,
                        GANLOSS_REDUCTION_SUM);
  p.real_stride = nr + 3;
  p.fake_stride = nf + 2;
  for (int logits_offset = 0; logits_offset < 4; ++logits_offset) {
    for (int output_offset = 0; output_offset < 4; ++output_offset) {
      // Buffers with room for the shift; the HostCall holds the reference copies.
      HostCall call(p, static_cast<uint64_t>(logits_offset * 4 + output_offset));
      const std::size_t er = static_cast<std::size_t>(2 * p.real_stride + nr);
      const std::size_t ef = static_cast<std::size_t>(2 * p.fake_stride + nf);
      std::vector<float> real(er + 8), fake(ef + 8), gr(er + 8), gfd(ef + 8), gfg(ef + 8),
          lr(er + 8);
      float* r =
          real.data() + 4 - reinterpret_cast<uintptr_t>(real.data()) % 16 / 4 + logits_offset;
      float* f =
          fake.data() + 4 - reinterpret_cast<uintptr_t>(fake.data()) % 16 / 4 + logits_offset;
      std::memcpy(r, call.real.data(), er * 4);
      std::memcpy(f, call.fake.data(), ef * 4);
      auto shifted = [&](std::vector<float>& v) {
        return v.data() + 4 - reinterpret_cast<uintptr_t>(v.data()) % 16 / 4 + output_offset;
      };
      ganloss_outputs_t o;
      ganloss_outputs_init(&o);
      float d_loss[3], g_loss[3];
      o.d_loss = d_loss;
      o.g_loss = g_loss;
      o.grad_real = shifted(gr);
      o.grad_fake_d = shifted(gfd);
      o.grad_fake_g = shifted(gfg);
      o.loss_real = shifted(lr);
      std::vector<uint8_t> ws(emulator::emulated_workspace_size(p) + 16);
      const EmulatedRun run = emulated_compute(p, r, f, o, ws.data(), ws.size(), EmulatedOptions{});
      ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
      EXPECT_EQ(run.report.hazard_count, 0u);
      // Copy back into the HostCall's buffers to reuse the reference comparison.
      const ganloss_outputs_t all = call.all_outputs();
      std::memcpy(all.grad_real, o.grad_real, er * 4);
      std::memcpy(all.grad_fake_d, o.grad_fake_d, ef * 4);
      std::memcpy(all.grad_fake_g, o.grad_fake_g, ef * 4);
      std::memcpy(all.loss_real, o.loss_real, er * 4);
      std::memcpy(all.d_loss, d_loss, sizeof d_loss);
      std::memcpy(all.g_loss, g_loss, sizeof g_loss);
      ganloss_outputs_t checked = all;
      checked.d_loss_real = checked.d_loss_fake = nullptr;
      checked.loss_fake_d = checked.loss_fake_g = nullptr;
      // Gaps were copied along with the rows, so compare values only.
      const Comparison cmp =
          testing::compare_values_with_reference(call, checked, kAccumulationDepth);
      EXPECT_LE(cmp.worst, 1.0) << "offsets " << logits_offset << "/" << output_offset << ": "
                                << cmp.first_failure;
    }
  }
}

std::vector<uint8_t> snapshot(HostCall& call) {
  std::vector<uint8_t> bytes;
  for (testing::GuardedBuffer* b : call.output_buffers()) {
    const auto* p = static_cast<const uint8_t*>(b->data());
    bytes.insert(bytes.end(), p, p + b->bytes());
  }
  return bytes;
}

// The same bits whatever the block order and however many blocks share the work.
TEST(EmulatedDeterminism, BitwiseAcrossBlockOrdersAndGridSizes) {
  for (const Shape& s : {kShapes[1], kShapes[6], kShapes[13]}) {
    auto p = make_problem(s.segments, s.real_count, s.fake_count, GANLOSS_LOSS_NONSATURATING,
                          GANLOSS_LOSS_NONSATURATING, GANLOSS_REDUCTION_MEAN);
    p.real_stride = s.real_stride;
    p.fake_stride = s.fake_stride;
    HostCall call(p, 99);
    const ganloss_outputs_t o = call.all_outputs();
    ASSERT_EQ(run_emulated(call, o).status, GANLOSS_STATUS_SUCCESS);
    const std::vector<uint8_t> first = snapshot(call);
    for (const EmulatedOptions& options :
         {EmulatedOptions{7, 0, -1, false}, EmulatedOptions{3, 1, -1, false},
          EmulatedOptions{5, 2, -1, false}}) {
      ASSERT_EQ(run_emulated(call, o, options).status, GANLOSS_STATUS_SUCCESS);
      EXPECT_TRUE(snapshot(call) == first)
          << s.name << " seed " << options.seed << " grid " << options.grid_cap;
    }
  }
}

// Tickets go back to zero, so a workspace zeroed once serves every later call.
TEST(EmulatedWorkspace, ZeroedOnceServesManyCalls) {
  auto p =
      make_problem(3, C, C + 100, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_HINGE, GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 4);
  const std::size_t bytes = emulator::emulated_workspace_size(p);
  ASSERT_GT(bytes, 0u);
  std::vector<uint8_t> ws(bytes, 0);
  const ganloss_outputs_t o = call.all_outputs();
  for (int i = 0; i < 3; ++i) {
    const EmulatedRun run = emulated_compute(p, call.real.data(), call.fake.data(), o, ws.data(),
                                             bytes, EmulatedOptions{uint64_t(i), 0, -1, true});
    ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
    EXPECT_EQ(run.regime, Regime::chunk);
    for (int64_t s = 0; s < 3; ++s)
      EXPECT_EQ(reinterpret_cast<uint32_t*>(ws.data())[s], 0u);
    const Comparison cmp = testing::compare_values_with_reference(call, o, kAccumulationDepth);
    EXPECT_LE(cmp.worst, 1.0) << cmp.first_failure;
  }
}

// Deleting a __syncthreads from the kernel is caught: the emulator skips one block barrier
// (the k-th each thread reaches in a block) and must report a shared-memory hazard.
TEST(EmulatedBarriers, DeletedBarriersAreCaught) {
#if defined(__SANITIZE_THREAD__)
  // The deleted barriers are real data races, which ThreadSanitizer reports (and then fails
  // the run); the tsan_reports_deleted_barrier test runs this expecting exactly that.
  if (std::getenv("GANLOSS_TSAN_DELETED_BARRIER_DEMO") == nullptr) {
    GTEST_SKIP() << "under ThreadSanitizer this runs as tsan_reports_deleted_barrier";
  }
#endif
  struct BarrierCase {
    const char* name;
    Shape shape;
    int64_t grid_cap;
    std::vector<int> drops;
  };
  // Block regime, one block doing segments 0 and 2 (of 4): barriers 0 and 1 are block_sum's
  // for the first segment, 2 and 3 for the second. Deleting 0 or 2 lets warp 0 read the warp
  // partials before they are written; deleting 1 lets the next segment overwrite them while
  // they are read. (3 guards nothing in this launch: the block ends there.)
  // Chunk regime, one block doing all 6 chunks of 2 segments: per chunk block_sum (0, 1) and
  // the last-block flag (2); the third chunk finishes segment 0 and adds the double block_sum
  // (9, 10). Deleting 0 or 9 must be caught; 2 as well, in the death test below, because
  // threads that read the flag too early diverge and hang. (1 and 10 are redundant here: the
  // flag barrier, and the next chunk's barriers, already separate the accesses they guard.)
  const BarrierCase barrier_cases[] = {
      {"block", Shape{"", 4, 3000, 2000, 0, 0, Regime::block}, 2, {0, 1, 2}},
      {"chunk", Shape{"", 2, C, C + 5, 0, 0, Regime::chunk}, 1, {0, 9}},
  };
  for (const BarrierCase& bc : barrier_cases) {
    auto p = make_problem(bc.shape.segments, bc.shape.real_count, bc.shape.fake_count,
                          GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                          GANLOSS_REDUCTION_MEAN);
    HostCall call(p, 1);
    const EmulatedRun intact =
        run_emulated(call, call.all_outputs(), EmulatedOptions{1, bc.grid_cap, -1, false});
    ASSERT_EQ(intact.status, GANLOSS_STATUS_SUCCESS);
    ASSERT_EQ(intact.regime, bc.shape.regime);
    EXPECT_EQ(intact.report.hazard_count, 0u);
    for (int drop : bc.drops) {
      const EmulatedRun run =
          run_emulated(call, call.all_outputs(), EmulatedOptions{1, bc.grid_cap, drop, false});
      ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
      EXPECT_GT(run.report.hazard_count, 0u)
          << bc.name << ": deleting block barrier " << drop << " went unnoticed";
      if (!run.report.hazards.empty()) {
        std::printf("[ %s, barrier %d deleted ] %s\n", bc.name, drop,
                    run.report.hazards[0].c_str());
      }
    }
  }
}

#if !defined(__SANITIZE_THREAD__)
// Death tests fork; ThreadSanitizer builds skip them.
TEST(EmulatedDeathTest, DivergentBarrierTripsTheWatchdog) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        emulator::LaunchConfig config;
        config.grid = 1;
        config.block = 64;
        config.timeout = std::chrono::seconds(1);
        emulator::launch(config, [] {
          if (simt::thread_index() < 32) simt::sync_block();
        });
      },
      "watchdog");
}

TEST(EmulatedDeathTest, DeletedLastBlockFlagBarrierIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto p = make_problem(2, C, C + 5, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 1);
  EXPECT_DEATH(
      {
        EmulatedOptions options;
        options.grid_cap = 1;
        options.drop_barrier = 2;
        options.abort_on_hazard = true;
        run_emulated(call, call.all_outputs(), options);
      },
      "shared-memory hazard: block 0 thread [0-9]+ (reads|overwrites) shared element 0");
}

TEST(EmulatedDeathTest, PartialShuffleMaskAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        emulator::LaunchConfig config;
        config.block = 32;
        emulator::launch(config, [] { simt::shfl_xor_sync(0xffffu, 1.0f, 1); });
      },
      "partial mask");
}
#endif

}  // namespace
}  // namespace ganloss
