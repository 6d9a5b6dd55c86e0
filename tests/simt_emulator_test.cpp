// The host SIMT emulator itself: blocks that run at once, in an order the seed picks, each with
// shared memory of its own; the memory model it gives ThreadSanitizer (without the writer's
// fence, or with a plain load of the partials, the kernel's last-block pattern is a data race);
// and the coalescing report, which holds the kernel's vector accesses at full sector
// efficiency for aligned rows and reports less for patterns that waste sectors.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#define GANLOSS_EMULATOR 1
#include "detail/simt.hpp"
#include "detail/vector_io.hpp"
#include "emulated_call.hpp"
#include "emulator/emulated_backend.hpp"
#include "emulator/host_types.hpp"
#include "emulator/simt_emulator.hpp"
#include "kernel_cases.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace {

using detail::kernel::kAccumulationDepth;
using detail::kernel::Regime;
using emulator::AccessSite;
using emulator::EmulatedOptions;
using emulator::EmulatedRun;
using emulator::launch;
using emulator::LaunchConfig;
using emulator::LaunchReport;
using testing::C;
using testing::Comparison;
using testing::HostCall;
using testing::make_problem;
using testing::run_emulated;

bool under_thread_sanitizer() {
#if defined(__SANITIZE_THREAD__)
  return true;
#else
  return false;
#endif
}

// Waits until `count` reaches `target`, for at most 30 seconds; whether it did.
bool wait_for(const std::atomic<unsigned>& count, unsigned target) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (count.load(std::memory_order_relaxed) < target) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Two blocks with two slots run at once: each waits for the other to have started.
TEST(EmulatedBlocks, RunConcurrently) {
  LaunchConfig config;
  config.grid = 2;
  config.block = 64;
  config.concurrent_blocks = 2;
  std::atomic<unsigned> started{0};
  std::atomic<unsigned> met{0};
  const LaunchReport report = launch(config, [&] {
    if (simt::thread_index() != 0) return;
    started.fetch_add(1, std::memory_order_relaxed);
    if (wait_for(started, 2)) met.fetch_add(1, std::memory_order_relaxed);
  });
  EXPECT_EQ(met.load(), 2u) << "the two blocks did not run at the same time";
  EXPECT_EQ(report.concurrent_blocks, 2u);
  EXPECT_EQ(report.threads, 128u);
}

// The OS threads are bounded by the concurrent blocks, not the grid.
TEST(EmulatedBlocks, ThreadsBoundedByConcurrentBlocks) {
  for (unsigned concurrent : {1u, 3u}) {
    LaunchConfig config;
    config.grid = 40;
    config.block = 32;
    config.concurrent_blocks = concurrent;
    std::atomic<unsigned> blocks{0};
    const LaunchReport report = launch(config, [&] {
      if (simt::thread_index() == 0) blocks.fetch_add(1, std::memory_order_relaxed);
    });
    EXPECT_EQ(blocks.load(), 40u);
    EXPECT_EQ(report.threads, 32u * concurrent);
    EXPECT_EQ(report.concurrent_blocks, concurrent);
  }
}

// The seed picks the order: every block once, the same order for the same seed, another for
// another seed.
TEST(EmulatedBlocks, OrderFollowsTheSeed) {
  auto order = [](uint64_t seed) {
    LaunchConfig config;
    config.grid = 24;
    config.block = 32;
    config.seed = seed;
    config.concurrent_blocks = 1;
    std::vector<unsigned> started;
    launch(config, [&] {
      if (simt::thread_index() == 0) started.push_back(simt::block_index());
    });
    return started;
  };
  const std::vector<unsigned> a = order(1);
  std::vector<unsigned> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (unsigned b = 0; b < 24; ++b)
    ASSERT_EQ(sorted[b], b);
  EXPECT_EQ(order(1), a);
  EXPECT_NE(order(2), a);
}

// Blocks running at once do not share __shared__ storage: each writes its index, both have
// written before either reads it back.
TEST(EmulatedBlocks, SharedMemoryIsPerBlock) {
  LaunchConfig config;
  config.grid = 2;
  config.block = 64;
  config.concurrent_blocks = 2;
  std::atomic<unsigned> written{0};
  std::atomic<unsigned> wrong{0};
  std::atomic<unsigned> met{0};
  const LaunchReport report = launch(config, [&] {
    GANLOSS_SHARED simt::SharedArray<unsigned, 2> owner;
    if (simt::thread_index() == 0) {
      owner[1] = simt::block_index();
      written.fetch_add(1, std::memory_order_relaxed);
      if (wait_for(written, 2)) met.fetch_add(1, std::memory_order_relaxed);
    }
    simt::sync_block();
    if (owner[1] != simt::block_index()) wrong.fetch_add(1, std::memory_order_relaxed);
  });
  EXPECT_EQ(met.load(), 2u);
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(report.hazard_count, 0u);
}

// Shared memory holds nothing a block did not write: reading an element no thread of the
// block wrote (here, one the block before it in the same slot wrote) is a hazard, and the
// value read is poison.
TEST(EmulatedBlocks, ReadingUnwrittenSharedMemoryIsAHazard) {
  LaunchConfig config;
  config.grid = 2;
  config.block = 32;
  config.concurrent_blocks = 1;
  uint32_t seen = 0;
  const LaunchReport report = launch(config, [&] {
    GANLOSS_SHARED simt::SharedArray<float, 4> a;
    if (simt::thread_index() == 0) {
      if (simt::block_index() == 0) a[2] = 1.0f;
      const float v = a[2];
      if (simt::block_index() == 1) std::memcpy(&seen, &v, 4);
    }
  });
  EXPECT_EQ(report.hazard_count, 1u);
  ASSERT_EQ(report.hazards.size(), 1u);
  EXPECT_NE(report.hazards[0].find("block 1 thread 0 reads shared element 2 that no thread"),
            std::string::npos)
      << report.hazards[0];
  EXPECT_EQ(seen, 0xffffffffu);
}

// The same bits however many blocks run at once and in whichever order, in the chunk regime
// (whose last block of a segment depends on timing) and the warp regime.
TEST(EmulatedBlocks, ResultsIndependentOfConcurrency) {
  const int64_t shapes[][2] = {{3, C + 200}, {20, 150}};  // segments, real count
  for (const auto& shape : shapes) {
    const int64_t real_count = shape[1];
    auto p = make_problem(shape[0], real_count, 100, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_HINGE,
                          GANLOSS_REDUCTION_MEAN);
    HostCall call(p, 21);
    const ganloss_outputs_t o = call.all_outputs();
    EmulatedOptions options;
    options.concurrent_blocks = 1;
    ASSERT_EQ(run_emulated(call, o, options).status, GANLOSS_STATUS_SUCCESS);
    const std::vector<uint8_t> first = call.output_bytes();
    for (unsigned concurrent : {2u, 4u}) {
      options.concurrent_blocks = concurrent;
      options.seed = concurrent;
      const EmulatedRun run = run_emulated(call, o, options);
      ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
      EXPECT_EQ(run.report.hazard_count, 0u);
      EXPECT_TRUE(call.output_bytes() == first) << real_count << " on " << concurrent;
    }
  }
}

// The k-th fence of each thread in each block is dropped, like drop_barrier: in the chunk
// regime each block publishes its partials with a fence, so dropping the first removes one
// per block.
TEST(EmulatedFences, DropFenceRemovesTheKthFenceOfEachBlock) {
  if (under_thread_sanitizer()) {
    GTEST_SKIP() << "under ThreadSanitizer a dropped fence is a data race: see "
                    "tsan_reports_dropped_fence";
  }
  auto p = make_problem(1, C, 8, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 5);
  const EmulatedRun intact = run_emulated(call, call.all_outputs());
  ASSERT_EQ(intact.status, GANLOSS_STATUS_SUCCESS);
  ASSERT_EQ(intact.regime, Regime::chunk);
  EXPECT_GE(intact.report.fences, 2u);  // one per block of 2 chunks, at least
  EXPECT_EQ(intact.report.dropped_fences, 0u);
  EmulatedOptions options;
  options.drop_fence = 0;
  const EmulatedRun dropped = run_emulated(call, call.all_outputs(), options);
  ASSERT_EQ(dropped.status, GANLOSS_STATUS_SUCCESS);
  EXPECT_GE(dropped.report.dropped_fences, 2u);
  EXPECT_EQ(dropped.report.fences + dropped.report.dropped_fences, intact.report.fences);
}

// Without the fence that publishes a block's partials before its ticket, or reading the
// partials without a coherent load, the last block reads another block's plain stores with
// nothing ordering them: a data race, which ThreadSanitizer reports. The host's memory
// is too strong for the results to show it, so these run as the tsan_reports_dropped_fence
// and tsan_reports_incoherent_load tests, which expect the report; the intact kernel is
// race-free under ThreadSanitizer (the whole emulated suite runs there).
void run_last_block_fault(const EmulatedOptions& options) {
  if (!under_thread_sanitizer() || std::getenv("GANLOSS_TSAN_FENCE_DEMO") == nullptr) {
    GTEST_SKIP() << "a ThreadSanitizer demonstration: runs as a tsan_reports_ test";
  }
  // One segment of 2 chunks on 2 slots: the blocks run at once, one in each slot, and the
  // last to take its ticket reads the other's partials.
  auto p = make_problem(1, C, 8, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 6);
  EmulatedOptions o = options;
  o.concurrent_blocks = 2;
  const EmulatedRun run = run_emulated(call, call.all_outputs(), o);
  ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
  ASSERT_EQ(run.regime, Regime::chunk);
}

TEST(EmulatedFences, TsanDemoDroppedFence) {
  EmulatedOptions options;
  options.drop_fence = 0;
  run_last_block_fault(options);
}

TEST(EmulatedFences, TsanDemoIncoherentLoad) {
  EmulatedOptions options;
  options.incoherent_loads = true;
  run_last_block_fault(options);
}

// A fused sequence's passes (kernel::sequence_body) are separated by a block barrier, which
// publishes the per-segment state one pass's finish_segment wrote (thread 0) to the next pass's
// threads. Deleting it leaves those reads unordered after that write: a data race, which
// ThreadSanitizer reports (the tsan_reports_deleted_pass_barrier test expects it). A relativistic
// average in the block regime on one block: barriers 0 and 1 are the prepass's block_sum, 2 the
// one between the prepass and the main pass.
TEST(EmulatedSequence, TsanDemoDeletedPassBarrier) {
  if (!under_thread_sanitizer() || std::getenv("GANLOSS_TSAN_PASS_BARRIER_DEMO") == nullptr) {
    GTEST_SKIP() << "a ThreadSanitizer demonstration: runs as tsan_reports_deleted_pass_barrier";
  }
  auto p = make_problem(2, 1000, 800, GANLOSS_LOSS_RELATIVISTIC_AVERAGE,
                        GANLOSS_LOSS_RELATIVISTIC_AVERAGE, GANLOSS_REDUCTION_MEAN);
  HostCall call(p, 5);
  ganloss_outputs_t outputs = call.all_outputs();
  outputs.stats = nullptr;
  EmulatedOptions o;
  o.grid_cap = 1;
  o.drop_barrier = 2;
  const EmulatedRun run = run_emulated(call, outputs, o);
  ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS);
  ASSERT_EQ(run.regime, Regime::block);
  ASSERT_EQ(run.passes, 1);
}

// The last-block pattern itself: each block publishes a partial with a fence and takes a
// ticket; the last reads every partial with coherent loads. Race-free under ThreadSanitizer,
// whichever blocks run at once.
TEST(EmulatedFences, LastBlockPatternIsRaceFree) {
  static float partials[8];
  static unsigned ticket = 0;
  static float total = 0.0f;
  LaunchConfig config;
  config.grid = 8;
  config.block = 32;
  config.concurrent_blocks = 3;
  const LaunchReport report = launch(config, [] {
    if (simt::thread_index() != 0) return;
    partials[simt::block_index()] = static_cast<float>(simt::block_index() + 1);
    simt::thread_fence();
    if (simt::atomic_add(&ticket, 1u) + 1 != simt::grid_size()) return;
    float sum = 0.0f;
    for (int b = 0; b < 8; ++b)
      sum += simt::load_coherent(&partials[b]);
    total = sum;
  });
  EXPECT_EQ(total, 36.0f);
  EXPECT_EQ(report.fences, 8u);
}

// Synthetic access patterns of one warp and their sector efficiency, each from a site named
// by hand: contiguous 16-byte and 4-byte lanes use every byte; a 16-byte lane every 32 bytes
// half; a 4-byte lane every 32 bytes one eighth; a contiguous run 16 bytes off a sector
// boundary touches one sector more than it needs.
// The element loops widen bf16 logits two per 32-bit word (widen_bf16): every bf16 value, in
// either place of a word, to the fp32 bits the element-wise conversion gives (NaN payloads
// included).
TEST(EmulatedVectors, Bf16WordsWidenToTheElementwiseValues) {
  for (uint32_t v = 0; v < 0x10000u; ++v) {
    const uint16_t partner = static_cast<uint16_t>(v * 40503u);  // another value beside it
    for (int place = 0; place < 2; ++place) {
      detail::Vec<detail::HostBFloat16, 2> x;
      x.v[place].bits = static_cast<uint16_t>(v);
      x.v[1 - place].bits = partner;
      float out[2];
      detail::to_floats(x, out);
      for (int j = 0; j < 2; ++j) {
        uint32_t got = 0, want = 0;
        const float w = detail::to_float(x.v[j]);
        std::memcpy(&got, &out[j], 4);
        std::memcpy(&want, &w, 4);
        ASSERT_EQ(got, want) << "bf16 0x" << std::hex << x.v[j].bits << " in place " << j;
      }
    }
  }
}

TEST(EmulatedCoalescing, SectorEfficiencyOfKnownPatterns) {
  alignas(64) static float data[32 * 8 * 2 + 64];
  LaunchConfig config;
  config.grid = 2;
  config.block = 64;
  const LaunchReport report = launch(config, [] {
    const unsigned t = simt::thread_index();
    float* base = data + 32 * 8 * simt::warp_index();  // another region per warp
    const float sum = detail::load_vector<float, 4>(base + 4 * t % 128, "contiguous16", 1).v[0] +
                      detail::load_vector<float, 4>(base + 8 * (t % 32), "stride32", 1).v[0] +
                      detail::load_global(base + t % 32, "contiguous4", 1) +
                      detail::load_global(base + 8 * (t % 32), "stride32", 2) +
                      detail::load_vector<float, 4>(base + 4 + 4 * (t % 32), "offset16", 1).v[0];
    (void)sum;
  });
  struct Expected {
    const char* file;
    unsigned line;
    double efficiency;
  } expected[] = {{"contiguous16", 1, 1.0},
                  {"stride32", 1, 0.5},
                  {"contiguous4", 1, 1.0},
                  {"stride32", 2, 0.125},
                  {"offset16", 1, 16.0 / 17.0}};
  ASSERT_EQ(report.sites.size(), 5u) << emulator::describe_sites(report.sites);
  for (const Expected& e : expected) {
    auto it = std::find_if(report.sites.begin(), report.sites.end(), [&](const AccessSite& s) {
      return s.file == e.file && s.line == e.line;
    });
    ASSERT_NE(it, report.sites.end()) << e.file;
    EXPECT_DOUBLE_EQ(it->efficiency(), e.efficiency) << e.file << ":" << e.line;
    EXPECT_EQ(it->warp_accesses, 4u) << e.file;  // 2 blocks of 2 warps
    EXPECT_EQ(it->lane_accesses, 128u) << e.file;
    EXPECT_FALSE(it->store);
  }
}

// Every access more than one lane of a warp takes part in (the element loops' logits, weights,
// gradients and element losses, and the last block's reads of the chunk partials; not the
// per-segment outputs and partials one lane writes) uses every byte of every sector it touches
// when the rows are 32-byte aligned and their lengths whole sectors, in every regime, for f32
// and bf16: with the totals and gradients (a training step; these mixed kinds take the `any`
// family: 16-byte groups of f32, 8-byte groups of bf16) and with every output (element losses
// and statistics: one logit per group).
TEST(EmulatedCoalescing, MainLoopFullyCoalescedWhenAligned) {
  struct Case {
    int64_t segments, real_count, fake_count;
    Regime regime;
    bool weights;
  } cases[] = {
      {8, 128, 64, Regime::warp, false},
      {2, 1024, 512, Regime::block, true},
      {1, C, 2048, Regime::chunk, false},
  };
  for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16}) {
    for (const Case& c : cases) {
      for (const bool every_output : {false, true}) {
        auto p = make_problem(c.segments, c.real_count, c.fake_count, GANLOSS_LOSS_NONSATURATING,
                              GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_REDUCTION_MEAN);
        p.dtype = dtype;
        HostCall call(p, 11, testing::CallData{c.weights, c.weights, {}, {}});
        ganloss_outputs_t o = call.all_outputs();
        if (!every_output) {
          o.loss_real = o.loss_real_g = o.loss_fake_d = o.loss_fake_g = nullptr;
          o.stats = nullptr;
        }
        const EmulatedRun run = run_emulated(call, o);
        ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
        ASSERT_EQ(run.regime, c.regime);
        const Comparison cmp = testing::compare_with_reference(call, o, detail::kCudaKernelError);
        EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
        const std::string where =
            std::string(testing::dtype_name(dtype)) + " " + std::to_string(c.real_count) + "+" +
            std::to_string(c.fake_count) + (every_output ? ", every output" : ", training") +
            ":\n" + emulator::describe_sites(run.report.sites);
        int loads = 0, stores = 0;
        unsigned widest_load = 0;
        for (const AccessSite& s : run.report.sites) {
          if (s.lane_accesses == s.warp_accesses) continue;  // one lane at a time
          (s.store ? stores : loads) += 1;
          if (!s.store) widest_load = std::max(widest_load, s.lane_bytes_max);
          EXPECT_EQ(s.efficiency(), 1.0) << where;
        }
        EXPECT_GT(loads, 0) << where;
        EXPECT_GT(stores, 0) << where;
        if (!every_output) {
          EXPECT_GE(widest_load, dtype == GANLOSS_DTYPE_F32 ? 16u : 8u) << where;
        }
        EXPECT_EQ(run.report.unrecorded_accesses, 0u) << where;
      }
    }
  }
}

// The measure can fail: rows 16 bytes off a 32-byte boundary (still 16-byte aligned, so the
// kernel uses its vector path) make every full warp's 512 bytes touch 17 sectors.
TEST(EmulatedCoalescing, RowsOffASectorBoundaryWasteSectors) {
  const int64_t n = 1024;
  auto p = make_problem(1, n, n, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_MEAN);
  HostCall source(p, 12);
  testing::GuardedBuffer buffers[4];
  for (testing::GuardedBuffer& b : buffers)
    b = testing::GuardedBuffer(static_cast<std::size_t>(n * 4 + 32));
  auto at16 = [](testing::GuardedBuffer& b) { return static_cast<uint8_t*>(b.data()) + 16; };
  std::memcpy(at16(buffers[0]), source.real.data(), static_cast<std::size_t>(n * 4));
  std::memcpy(at16(buffers[1]), source.fake.data(), static_cast<std::size_t>(n * 4));
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = at16(buffers[0]);
  in.fake = at16(buffers[1]);
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  float totals[2];
  o.d_loss = &totals[0];
  o.g_loss = &totals[1];
  o.grad_real = at16(buffers[2]);
  o.grad_fake_d = at16(buffers[3]);
  std::vector<double> ws(emulator::emulated_workspace_size(p) / 8 + 1);
  const EmulatedRun run = emulator::emulated_compute(p, in, o, ws.data(), ws.size() * 8);
  ASSERT_EQ(run.status, GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
  const std::string sites = emulator::describe_sites(run.report.sites);
  int vector_sites = 0;
  for (const AccessSite& s : run.report.sites) {
    if (s.lane_bytes_min < 16) continue;
    ++vector_sites;
    EXPECT_LT(s.efficiency(), 1.0) << sites;
    EXPECT_GE(s.efficiency(), 16.0 / 17.0 - 1e-12) << sites;
  }
  EXPECT_GT(vector_sites, 0) << sites;
}

}  // namespace
}  // namespace ganloss
