// ganloss_cpu_bench: the CPU backend, with 1, 2, 4, ... up to every hardware thread, against the
// double-precision reference on the same problems and against a copy of as many bytes on as
// many threads, through the C ABI of the shipped library.
//
// Names are reference/<loss>/<dtype>/seg:<length|single>/log2n:<k>,
// cpu/<loss>/<dtype>/seg:<length|single>/log2n:<k>/threads:<t>,
// vjp/nonsaturating/<dtype>/seg:single/log2n:<k>/threads:<t> (ganloss_plan_vjp),
// weighted/nonsaturating/<dtype>/seg:single/log2n:<k>/threads:<t> and
// weighted-vjp/nonsaturating/... (the cpu/ and vjp/ calls with a weight per logit) and
// copy/<dtype>/log2n:<k>/threads:<t>. Each reference runs before the CPU
// benchmarks of its problem, which then report x_reference: the reference's time over theirs.
// Each CPU benchmark also times, right after its own loop, a copy of as many bytes on as many
// threads and reports copy_ratio: the copy's time over its own.
#include <benchmark/benchmark.h>
#include <ganloss/ganloss.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_problem.hpp"

namespace ganloss_bench {
namespace {

constexpr int kLog2Sizes[] = {10, 14, 18, 22, 24};
// The non-saturating loss in one segment also at 2^20 and 2^24 pairs of logits, the sizes the
// copy_ratio targets name (docs/benchmarks.md); too slow for the reference at 2^25.
constexpr int kLog2PairSizes[] = {21, 25};
// The VJP call and the weighted call at those sizes, and at 2^18 logits for the smoke test.
constexpr int kLog2VjpSizes[] = {18, 21, 25};
constexpr int kMaxReferenceLog2 = 24;
constexpr int64_t kSegmentLengths[] = {1024, kSingleSegment};
// Wall time per benchmark unless --benchmark_min_time is given; the reference at 2^24 logits
// takes about a second per call and runs once.
constexpr double kDefaultMinSeconds = 0.1;

std::map<std::string, double> reference_seconds;

// `threads` threads copying one buffer into another, each one contiguous part with memcpy,
// the caller taking part 0. The threads are started once and wait at a barrier between copies,
// as the library's workers wait between calls.
class CopyTeam {
 public:
  explicit CopyTeam(int threads) : threads_(threads), start_(threads), finish_(threads) {
    for (int t = 1; t < threads; ++t)
      workers_.emplace_back([this, t] { serve(t); });
  }
  ~CopyTeam() {
    stop_ = true;
    start_.arrive_and_wait();
    for (std::thread& w : workers_)
      w.join();
  }
  CopyTeam(const CopyTeam&) = delete;
  CopyTeam& operator=(const CopyTeam&) = delete;

  void copy(const void* source, void* destination, std::size_t bytes) {
    source_ = static_cast<const char*>(source);
    destination_ = static_cast<char*>(destination);
    bytes_ = bytes;
    start_.arrive_and_wait();
    part(0);
    finish_.arrive_and_wait();
  }

  // The team of `threads` threads, started on first use and kept until exit.
  static CopyTeam& of(int threads) {
    static std::map<int, std::unique_ptr<CopyTeam>> teams;
    std::unique_ptr<CopyTeam>& team = teams[threads];
    if (!team) team = std::make_unique<CopyTeam>(threads);
    return *team;
  }

 private:
  void serve(int t) {
    for (;;) {
      start_.arrive_and_wait();
      if (stop_) return;
      part(t);
      finish_.arrive_and_wait();
    }
  }

  void part(int t) const {
    const std::size_t size = (bytes_ + static_cast<std::size_t>(threads_) - 1) / threads_;
    const std::size_t first = std::min(bytes_, size * static_cast<std::size_t>(t));
    const std::size_t last = std::min(bytes_, first + size);
    if (last > first) std::memcpy(destination_ + first, source_ + first, last - first);
  }

  int threads_;
  std::barrier<> start_;
  std::barrier<> finish_;
  std::vector<std::thread> workers_;
  // Written by the caller before the start barrier, read by the workers after it.
  const char* source_ = nullptr;
  char* destination_ = nullptr;
  std::size_t bytes_ = 0;
  bool stop_ = false;
};

// Source and destination of a copy moving `bytes` in total (bytes / 2 read, bytes / 2
// written), every page touched.
struct CopyBuffers {
  std::vector<char> source;
  std::vector<char> destination;
  explicit CopyBuffers(double bytes)
      : source(static_cast<std::size_t>(bytes / 2.0), 1),
        destination(static_cast<std::size_t>(bytes / 2.0), 0) {}
  void copy(CopyTeam& team) { team.copy(source.data(), destination.data(), source.size()); }
};

// CPU time of every thread of this process, in seconds.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Mean seconds per call: wall time, and the CPU time of the whole process.
struct Seconds {
  double wall = 0.0;
  double cpu = 0.0;
};

// Mean seconds per copy over `runs` copies, after one warm-up copy.
Seconds mean_copy_seconds(CopyBuffers& buffers, CopyTeam& team, int64_t runs) {
  buffers.copy(team);
  const double cpu_start = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < runs; ++i)
    buffers.copy(team);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  const double cpu = process_cpu_seconds() - cpu_start;
  const auto n = static_cast<double>(runs);
  return Seconds{elapsed.count() / n, cpu / n};
}

// Host buffers of one problem; float storage keeps every buffer aligned for either dtype.
struct HostProblem {
  BenchProblem b;
  std::vector<float> real;
  std::vector<float> fake;
  std::vector<float> grad_real;
  std::vector<float> grad_fake_d;
  std::vector<float> grad_fake_g;
  std::vector<float> grad_real_g;
  std::vector<float> losses;
  std::vector<float> workspace;
  std::size_t workspace_bytes = 0;
  // Empty unless weigh() was called: then one f32 weight per logit.
  std::vector<float> real_weights;
  std::vector<float> fake_weights;

  HostProblem(const BenchProblem& problem, int32_t backend) : b(problem) {
    real = logits(b.real_total(), 1);
    fake = logits(b.fake_total(), 2);
    grad_real.resize(real.size());
    grad_fake_d.resize(fake.size());
    grad_fake_g.resize(fake.size());
    if (b.grad_real_g) grad_real_g.resize(real.size());
    losses.resize(4 * static_cast<std::size_t>(b.problem.segments));
    ganloss_workspace_size(&b.problem, backend, &workspace_bytes);
    workspace.resize((workspace_bytes + sizeof(float) - 1) / sizeof(float));
  }

  std::vector<float> logits(int64_t count, uint32_t seed) const {
    const auto n = static_cast<std::size_t>(count);
    if (b.problem.dtype == GANLOSS_DTYPE_F32) {
      std::vector<float> v(n);
      for (std::size_t i = 0; i < n; ++i)
        v[i] = synthetic_logit(i, seed);
      return v;
    }
    std::vector<float> v((n + 1) / 2);
    auto* bits = reinterpret_cast<uint16_t*>(v.data());
    const bool bf16 = b.problem.dtype == GANLOSS_DTYPE_BF16;
    for (std::size_t i = 0; i < n; ++i) {
      const float x = synthetic_logit(i, seed);
      bits[i] = bf16 ? float_to_bf16_bits(x) : float_to_f16_bits(x);
    }
    return v;
  }

  // Gives every logit a weight in [0.5, 1.5), deterministic and uncorrelated with the logits.
  void weigh() {
    const auto weights = [](int64_t count, uint32_t seed) {
      std::vector<float> w(static_cast<std::size_t>(count));
      for (std::size_t i = 0; i < w.size(); ++i)
        w[i] = 1.0f + synthetic_logit(i, seed) / 12.0f;
      return w;
    };
    real_weights = weights(b.real_total(), 3);
    fake_weights = weights(b.fake_total(), 4);
  }

  // The bytes a call moves: BenchProblem::bytes() and the weights read.
  double bytes() const {
    return b.bytes() + static_cast<double>(sizeof(float)) *
                           static_cast<double>(real_weights.size() + fake_weights.size());
  }

  ganloss_status_t compute(const ganloss_execution_t& execution) {
    ganloss_inputs_t inputs;
    ganloss_inputs_init(&inputs);
    inputs.real = real.data();
    inputs.fake = fake.data();
    if (!real_weights.empty()) inputs.real_weights = real_weights.data();
    if (!fake_weights.empty()) inputs.fake_weights = fake_weights.data();
    const ganloss_outputs_t outputs =
        make_outputs(b, {losses.data(), grad_real.data(), grad_fake_d.data(), grad_fake_g.data(),
                         grad_real_g.data()});
    return ganloss_compute(&b.problem, &inputs, &outputs, workspace.data(), workspace_bytes,
                           &execution, nullptr);
  }
};

// Runs the benchmark loop over `call` (returning a ganloss_status_t), which processes `elements`
// logits and moves `bytes`; returns the mean seconds per call, or 0 after skipping the benchmark
// with the library's message.
template <class Call>
Seconds run(benchmark::State& state, const Call& call, int64_t elements, double bytes) {
  // The warm-up call touches every page and starts the worker threads.
  if (const ganloss_status_t s = call(); s != GANLOSS_STATUS_SUCCESS) {
    state.SkipWithError(
        (std::string(ganloss_status_string(s)) + ": " + ganloss_last_error_message()).c_str());
    return Seconds{};
  }
  const double cpu_start = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  const double cpu = process_cpu_seconds() - cpu_start;
  const auto iterations = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(static_cast<double>(elements) * iterations));
  state.SetBytesProcessed(static_cast<int64_t>(bytes * iterations));
  return Seconds{elapsed.count() / iterations, cpu / iterations};
}

Seconds run(benchmark::State& state, HostProblem& h, const ganloss_execution_t& execution) {
  return run(
      state, [&] { return h.compute(execution); }, h.b.elements, h.bytes());
}

// Times a copy of `bytes` right after a call that took `call` and reports copy_ratio, so that
// both see the same machine: as many copies as calls (at least 3, at most 1000), on as many
// threads as the call. Below 2^16 logits the library runs the call on the calling thread, and
// the copy runs there too.
void report_copy_ratio(benchmark::State& state, const Seconds& call, int64_t elements, double bytes,
                       int threads) {
  const int copy_threads = elements < (int64_t{1} << 16) ? 1 : threads;
  CopyBuffers buffers(bytes);
  const int64_t runs = std::clamp<int64_t>(state.iterations(), 3, 1000);
  const Seconds copy = mean_copy_seconds(buffers, CopyTeam::of(copy_threads), runs);
  state.counters["copy_ratio"] = copy.wall / call.wall;
  // The same ratio in CPU time: what the work costs the cores, which other processes taking
  // turns on them change far less than the wall time (a thread that waits is not counted).
  if (call.cpu > 0.0) state.counters["copy_ratio_cpu"] = copy.cpu / call.cpu;
}

void reference(benchmark::State& state, BenchProblem b, const std::string& key) {
  HostProblem h(b, GANLOSS_BACKEND_REFERENCE);
  ganloss_execution_t execution;
  ganloss_execution_init(&execution);
  execution.backend = GANLOSS_BACKEND_REFERENCE;
  if (const double seconds = run(state, h, execution).wall; seconds > 0.0) {
    reference_seconds[key] = seconds;
  }
}

void cpu(benchmark::State& state, BenchProblem b, int threads, const std::string& key) {
  HostProblem h(b, GANLOSS_BACKEND_CPU);
  ganloss_execution_t execution;
  ganloss_execution_init(&execution);
  execution.backend = GANLOSS_BACKEND_CPU;
  execution.cpu_threads = threads;
  const Seconds call = run(state, h, execution);
  const double seconds = call.wall;
  if (seconds <= 0.0) return;
  state.counters["threads"] = threads;
  if (const auto it = reference_seconds.find(key); it != reference_seconds.end()) {
    state.counters["x_reference"] = it->second / seconds;
  }
  report_copy_ratio(state, call, b.elements, b.bytes(), threads);
}

// The cpu() call with a weight per logit (the weighted mean of each side), which the backend
// runs in its weighted loops. Bytes: those of cpu() and the weights read. copy_ratio as for cpu().
void weighted(benchmark::State& state, BenchProblem b, int threads) {
  HostProblem h(b, GANLOSS_BACKEND_CPU);
  h.weigh();
  ganloss_execution_t execution;
  ganloss_execution_init(&execution);
  execution.backend = GANLOSS_BACKEND_CPU;
  execution.cpu_threads = threads;
  const Seconds call = run(state, h, execution);
  if (call.wall <= 0.0) return;
  state.counters["threads"] = threads;
  report_copy_ratio(state, call, b.elements, h.bytes(), threads);
}

// The backward pass a framework runs on CPU tensors: ganloss_plan_vjp of the D loss alone
// (cotangents u_d = 1, u_g null, as in a discriminator step), one gradient per logit, on
// `threads` threads; `weighted`: with HostProblem::weigh()'s weights. Bytes: every logit read and
// its gradient written, and the weights read. copy_ratio as for cpu().
void vjp_call(benchmark::State& state, BenchProblem b, int threads, bool weighted) {
  HostProblem h(b, GANLOSS_BACKEND_CPU);
  if (weighted) h.weigh();
  ganloss_execution_t execution;
  ganloss_execution_init(&execution);
  execution.backend = GANLOSS_BACKEND_CPU;
  execution.cpu_threads = threads;
  ganloss_plan_t plan = nullptr;
  std::size_t workspace_bytes = 0;
  ganloss_status_t status = ganloss_plan_create(&b.problem, &execution, &plan);
  if (status == GANLOSS_STATUS_SUCCESS)
    status = ganloss_plan_workspace_size(plan, &workspace_bytes);
  std::vector<float> workspace((workspace_bytes + sizeof(float) - 1) / sizeof(float));
  const std::vector<float> u_d(static_cast<std::size_t>(b.problem.segments), 1.0f);
  const ganloss_cotangents_t u{u_d.data(), nullptr};
  ganloss_inputs_t inputs;
  ganloss_inputs_init(&inputs);
  inputs.real = h.real.data();
  inputs.fake = h.fake.data();
  if (weighted) {
    inputs.real_weights = h.real_weights.data();
    inputs.fake_weights = h.fake_weights.data();
  }
  const auto call = [&] {
    if (status != GANLOSS_STATUS_SUCCESS) return status;  // plan_create's or its workspace's
    return ganloss_plan_vjp(plan, &inputs, &u, h.grad_real.data(), h.grad_fake_d.data(),
                            workspace.data(), workspace_bytes, nullptr);
  };
  const double bytes =
      2.0 * static_cast<double>(dtype_bytes(b.problem.dtype)) * static_cast<double>(b.elements) +
      static_cast<double>(sizeof(float)) *
          static_cast<double>(h.real_weights.size() + h.fake_weights.size());
  const Seconds seconds = run(state, call, b.elements, bytes);
  ganloss_plan_destroy(plan);
  if (seconds.wall <= 0.0) return;
  state.counters["threads"] = threads;
  report_copy_ratio(state, seconds, b.elements, bytes, threads);
}

void vjp(benchmark::State& state, BenchProblem b, int threads) {
  vjp_call(state, b, threads, false);
}

void weighted_vjp(benchmark::State& state, BenchProblem b, int threads) {
  vjp_call(state, b, threads, true);
}

// The copy alone, moving the bytes of the non-saturating problem of the same size in one
// segment: the reference line of the bandwidth plot.
void copy(benchmark::State& state, BenchProblem b, int threads) {
  CopyBuffers buffers(b.bytes());
  CopyTeam& team = CopyTeam::of(threads);
  buffers.copy(team);  // warm-up: starts the threads
  for (auto _ : state) {
    buffers.copy(team);
    benchmark::ClobberMemory();
  }
  const auto iterations = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(static_cast<double>(b.elements) * iterations));
  state.SetBytesProcessed(static_cast<int64_t>(b.bytes() * iterations));
  state.counters["threads"] = threads;
}

// 1, 2, 4, ... below the hardware's thread count, then the count itself.
std::vector<int> thread_counts() {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> counts;
  for (int t = 1; t < hardware; t *= 2)
    counts.push_back(t);
  counts.push_back(hardware);
  return counts;
}

void register_problem(const LossCase& loss, int32_t dtype, int64_t segment, int k,
                      bool default_time) {
  const std::string key = std::string(loss.name) + "/" + dtype_name(dtype) +
                          "/seg:" + segment_label(segment) + "/log2n:" + std::to_string(k);
  const BenchProblem b = make_problem(loss.kind, dtype, int64_t{1} << k, segment);
  if (loss.kind == GANLOSS_LOSS_NONSATURATING && segment == kSingleSegment) {
    const int t = thread_counts().back();
    const std::string name = std::string("copy/") + dtype_name(dtype) +
                             "/log2n:" + std::to_string(k) + "/threads:" + std::to_string(t);
    auto* c = benchmark::RegisterBenchmark(name.c_str(), copy, b, t);
    c->UseRealTime()->Unit(benchmark::kMillisecond);
    if (default_time) c->MinTime(kDefaultMinSeconds);
  }
  if (k <= kMaxReferenceLog2) {
    auto* r = benchmark::RegisterBenchmark(("reference/" + key).c_str(), reference, b, key);
    r->UseRealTime()->Unit(benchmark::kMillisecond);
    if (default_time) r->MinTime(kDefaultMinSeconds);
  }
  for (const int t : thread_counts()) {
    const std::string name = "cpu/" + key + "/threads:" + std::to_string(t);
    auto* c = benchmark::RegisterBenchmark(name.c_str(), cpu, b, t, key);
    c->UseRealTime()->Unit(benchmark::kMillisecond);
    if (default_time) c->MinTime(kDefaultMinSeconds);
  }
}

// The `family` benchmarks (vjp, weighted or weighted-vjp) of one problem in one segment, every
// thread count.
void register_single(const char* family, void (*fn)(benchmark::State&, BenchProblem, int),
                     const LossCase& loss, int32_t dtype, int k, bool default_time) {
  const BenchProblem b = make_problem(loss.kind, dtype, int64_t{1} << k, kSingleSegment);
  for (const int t : thread_counts()) {
    const std::string name = std::string(family) + "/" + loss.name + "/" + dtype_name(dtype) +
                             "/seg:single/log2n:" + std::to_string(k) +
                             "/threads:" + std::to_string(t);
    auto* c = benchmark::RegisterBenchmark(name.c_str(), fn, b, t);
    c->UseRealTime()->Unit(benchmark::kMillisecond);
    if (default_time) c->MinTime(kDefaultMinSeconds);
  }
}

void register_benchmarks(bool default_time) {
  // Every kind in f32; the mixed-precision paths in bf16 and f16 with the most common kind
  // (f16 on one segment only).
  for (const LossCase& loss : kLossCases) {
    for (const int64_t segment : kSegmentLengths) {
      for (const int k : kLog2Sizes) {
        register_problem(loss, GANLOSS_DTYPE_F32, segment, k, default_time);
        if (loss.kind == GANLOSS_LOSS_NONSATURATING) {
          register_problem(loss, GANLOSS_DTYPE_BF16, segment, k, default_time);
        }
      }
    }
    if (loss.kind == GANLOSS_LOSS_NONSATURATING) {
      for (const int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16, GANLOSS_DTYPE_F16}) {
        for (const int k : kLog2PairSizes)
          register_problem(loss, dtype, kSingleSegment, k, default_time);
        for (const int k : kLog2VjpSizes) {
          register_single("vjp", vjp, loss, dtype, k, default_time);
          register_single("weighted", weighted, loss, dtype, k, default_time);
          register_single("weighted-vjp", weighted_vjp, loss, dtype, k, default_time);
        }
      }
    }
  }
}

}  // namespace
}  // namespace ganloss_bench

int main(int argc, char** argv) {
  using namespace ganloss_bench;
  const bool default_time = !has_flag(argc, argv, "--benchmark_min_time");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("ganloss_version", ganloss_version());
  register_benchmarks(default_time);
  // Zero benchmarks run means a filter that matches nothing: a mistake, not a pass.
  const std::size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return ran == 0 ? 1 : 0;
}
