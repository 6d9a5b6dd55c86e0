// ganloss_bench: the CUDA backend (through the C ABI) against the bandwidth of a plain copy, the
// launch floor, and the unfused pipeline a framework would run, over every loss kind, both
// training dtypes, sizes from 2^10 to 2^28 logits and the four segment-length regimes; the
// backward pass (ganloss_plan_vjp); and the host time of a call against an empty launch's.
//
// Names are <what>/<loss>/<dtype>/seg:<length|single>/log2n:<log2 of the logits>, which
// bench/plot.py reads back, and host/<call>/<loss>/<dtype>/log2n:<k> for the host times.
// Without a usable GPU every benchmark skips, saying why, and the binary exits 0.
#include <benchmark/benchmark.h>
#include <ganloss/ganloss.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench_problem.hpp"
#include "cuda_baselines.hpp"
#include "device_timing.hpp"

namespace ganloss_bench {
namespace {

constexpr int kMinLog2Elements = 10;
constexpr int kMaxLog2Elements = 28;
// Every other power of two keeps the full sweep within minutes and still draws the curve.
constexpr int kLog2ElementsStep = 2;
constexpr int64_t kSegmentLengths[] = {64, 1024, 65536, kSingleSegment};
constexpr int32_t kDtypes[] = {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16};
// Manual time per benchmark unless --benchmark_min_time is given: small calls run thousands of
// times, each behind an L2 flush, and the longest still run a few dozen times.
constexpr double kDefaultMinSeconds = 0.02;

std::string skip_reason;  // set when no device is usable

std::string problem_name(const char* what, const char* loss, int32_t dtype, int64_t segment,
                         int log2_elements) {
  return std::string(what) + "/" + loss + "/" + dtype_name(dtype) +
         "/seg:" + segment_label(segment) + "/log2n:" + std::to_string(log2_elements);
}

// The device buffers of one problem: logits, gradients, losses and workspace.
struct ProblemBuffers {
  DeviceBuffer real;
  DeviceBuffer fake;
  DeviceBuffer grad_real;
  DeviceBuffer grad_fake_d;
  DeviceBuffer grad_fake_g;
  DeviceBuffer grad_real_g;
  DeviceBuffer losses;

  ProblemBuffers(const BenchProblem& b, bool with_grad_real_g)
      : real(side_bytes(b, b.real_total())),
        fake(side_bytes(b, b.fake_total())),
        grad_real(side_bytes(b, b.real_total())),
        grad_fake_d(side_bytes(b, b.fake_total())),
        grad_fake_g(side_bytes(b, b.fake_total())),
        grad_real_g(with_grad_real_g ? side_bytes(b, b.real_total()) : 0),
        losses(sizeof(float) * 4 * static_cast<std::size_t>(b.problem.segments)) {}

  bool ok() const {
    return real.ok() && fake.ok() && grad_real.ok() && grad_fake_d.ok() && grad_fake_g.ok() &&
           grad_real_g.ok() && losses.ok();
  }

  OutputBuffers outputs() const {
    return {losses.as<float>(), grad_real.get(), grad_fake_d.get(), grad_fake_g.get(),
            grad_real_g.get()};
  }

  // Both sides get their own synthetic logits.
  cudaError_t fill(const BenchProblem& b, cudaStream_t stream) const {
    const bool bf16 = b.problem.dtype == GANLOSS_DTYPE_BF16;
    cudaError_t e = fill_logits(real.get(), b.real_total(), bf16, 1, stream);
    if (e == cudaSuccess) e = fill_logits(fake.get(), b.fake_total(), bf16, 2, stream);
    return e;
  }

  static std::size_t side_bytes(const BenchProblem& b, int64_t count) {
    return static_cast<std::size_t>(count * dtype_bytes(b.problem.dtype));
  }
};

// Returns the context, or skips the benchmark (no device, or no memory) and returns nullptr.
DeviceContext* usable_context(benchmark::State& state) {
  DeviceContext* context = DeviceContext::current();
  if (context == nullptr) state.SkipWithError(skip_reason.c_str());
  return context;
}

bool skip_on_error(benchmark::State& state, cudaError_t e, const char* what) {
  if (e == cudaSuccess) return false;
  state.SkipWithError(cuda_error_text(what, e).c_str());
  return true;
}

bool skip_without_memory(benchmark::State& state, bool ok) {
  if (!ok) state.SkipWithError("not enough device memory for this size");
  return !ok;
}

void fused(benchmark::State& state, int32_t kind, int32_t dtype, int64_t elements,
           int64_t segment_length, const std::string& key) {
  DeviceContext* context = usable_context(state);
  if (context == nullptr) return;
  const BenchProblem b = make_problem(kind, dtype, elements, segment_length);
  ProblemBuffers buffers(b, b.grad_real_g);
  std::size_t workspace_bytes = 0;
  if (ganloss_workspace_size(&b.problem, GANLOSS_BACKEND_CUDA, &workspace_bytes) !=
      GANLOSS_STATUS_SUCCESS) {
    state.SkipWithError(ganloss_last_error_message());
    return;
  }
  DeviceBuffer workspace(workspace_bytes);
  if (skip_without_memory(state, buffers.ok() && workspace.ok())) return;
  const cudaStream_t stream = context->stream();
  // A training loop zeroes the workspace once and lets every call leave it zeroed.
  if (skip_on_error(state, cudaMemsetAsync(workspace.get(), 0, workspace_bytes, stream),
                    "zeroing the workspace") ||
      skip_on_error(state, buffers.fill(b, stream), "filling the logits")) {
    return;
  }
  ganloss_inputs_t inputs;
  ganloss_inputs_init(&inputs);
  inputs.real = buffers.real.get();
  inputs.fake = buffers.fake.get();
  const ganloss_outputs_t outputs = make_outputs(b, buffers.outputs());
  ganloss_execution_t execution;
  ganloss_execution_init(&execution);
  execution.backend = GANLOSS_BACKEND_CUDA;
  execution.workspace_initialized = 1;
  auto call = [&] {
    return ganloss_compute(&b.problem, &inputs, &outputs, workspace.get(), workspace_bytes,
                           &execution, stream);
  };
  // The warm-up call also shows whether ganloss accepts the problem at all.
  if (const ganloss_status_t s = call(); s != GANLOSS_STATUS_SUCCESS) {
    state.SkipWithError(
        (std::string(ganloss_status_string(s)) + ": " + ganloss_last_error_message()).c_str());
    return;
  }
  const double seconds = run_timed_loop(state, [&]() -> cudaError_t {
    return call() == GANLOSS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown;
  });
  if (seconds <= 0.0) return;
  context->record(key, seconds);
  report_bandwidth(state, b.bytes(), static_cast<double>(elements), seconds);
}

// A plan for one problem on the CUDA backend, destroyed with the benchmark.
class Plan {
 public:
  explicit Plan(const ganloss_problem_t& problem) {
    ganloss_execution_t execution;
    ganloss_execution_init(&execution);
    execution.backend = GANLOSS_BACKEND_CUDA;
    status_ = ganloss_plan_create(&problem, &execution, &plan_);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() { ganloss_plan_destroy(plan_); }

  ganloss_plan_t get() const { return plan_; }
  ganloss_status_t status() const { return status_; }

 private:
  ganloss_plan_t plan_ = nullptr;
  ganloss_status_t status_ = GANLOSS_STATUS_SUCCESS;
};

bool skip_on_status(benchmark::State& state, ganloss_status_t s, const char* what) {
  if (s == GANLOSS_STATUS_SUCCESS) return false;
  state.SkipWithError(
      (std::string(what) + ": " + ganloss_status_string(s) + ": " + ganloss_last_error_message())
          .c_str());
  return true;
}

// Host-side cost of enqueueing work: calls in batches of kHostBatch (well within the launch
// queue) timed on the host clock, with a wait for the stream after each batch outside the
// timing. The iteration time is the mean host time per call.
constexpr int kHostBatch = 64;

double run_host_loop(benchmark::State& state, cudaStream_t stream,
                     const std::function<cudaError_t()>& enqueue) {
  double total = 0.0;
  for (auto _ : state) {
    cudaError_t e = cudaSuccess;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kHostBatch && e == cudaSuccess; ++i)
      e = enqueue();
    const auto stop = std::chrono::steady_clock::now();
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
    if (skip_on_error(state, e, "enqueueing")) return 0.0;
    const double seconds = std::chrono::duration<double>(stop - start).count() / kHostBatch;
    state.SetIterationTime(seconds);
    total += seconds;
  }
  if (state.error_occurred() || state.iterations() == 0) return 0.0;
  return total / static_cast<double>(state.iterations());
}

// Host seconds per empty-kernel launch, the floor of any call's host cost: the median of 64
// batches, measured once per process.
double empty_launch_host_seconds(cudaStream_t stream) {
  static double cached = -1.0;
  if (cached >= 0.0) return cached;
  std::vector<double> batches;
  for (int b = 0; b < 64; ++b) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kHostBatch; ++i)
      launch_empty_kernel(stream);
    const auto stop = std::chrono::steady_clock::now();
    if (cudaStreamSynchronize(stream) != cudaSuccess) return 0.0;
    batches.push_back(std::chrono::duration<double>(stop - start).count() / kHostBatch);
  }
  std::nth_element(batches.begin(), batches.begin() + 32, batches.end());
  cached = batches[32];
  return cached;
}

void report_host(benchmark::State& state, double seconds) {
  state.counters["host_us"] = seconds * 1e6;
  state.counters["host_us_over_empty_launch"] =
      (seconds - empty_launch_host_seconds(DeviceContext::current()->stream())) * 1e6;
}

void host_empty_launch(benchmark::State& state) {
  DeviceContext* context = usable_context(state);
  if (context == nullptr) return;
  const cudaStream_t stream = context->stream();
  const double seconds = run_host_loop(state, stream, [&] { return launch_empty_kernel(stream); });
  if (seconds > 0.0) state.counters["host_us"] = seconds * 1e6;
}

// The host cost of one call of a training step's problem: through a plan (ganloss_plan_execute,
// or ganloss_plan_vjp), or through ganloss_compute with an initialised workspace.
enum class HostCall { plan_execute, plan_vjp, compute };

void host_call(benchmark::State& state, HostCall how, int32_t kind, int32_t dtype,
               int64_t elements) {
  DeviceContext* context = usable_context(state);
  if (context == nullptr) return;
  const BenchProblem b = make_problem(kind, dtype, elements, kSingleSegment);
  ProblemBuffers buffers(b, b.grad_real_g);
  DeviceBuffer cotangents(2 * sizeof(float) * static_cast<std::size_t>(b.problem.segments));
  const Plan plan(b.problem);
  if (how != HostCall::compute && skip_on_status(state, plan.status(), "ganloss_plan_create")) {
    return;
  }
  std::size_t workspace_bytes = 0;
  const ganloss_status_t sized =
      how == HostCall::compute
          ? ganloss_workspace_size(&b.problem, GANLOSS_BACKEND_CUDA, &workspace_bytes)
          : ganloss_plan_workspace_size(plan.get(), &workspace_bytes);
  if (skip_on_status(state, sized, "workspace size")) return;
  DeviceBuffer workspace(workspace_bytes);
  if (skip_without_memory(state, buffers.ok() && workspace.ok() && cotangents.ok())) return;
  const cudaStream_t stream = context->stream();
  if (skip_on_error(state, cudaMemsetAsync(workspace.get(), 0, workspace_bytes, stream),
                    "zeroing the workspace") ||
      skip_on_error(state, cudaMemsetAsync(cotangents.get(), 0, cotangents.bytes(), stream),
                    "zeroing the cotangents") ||
      skip_on_error(state, buffers.fill(b, stream), "filling the logits")) {
    return;
  }
  ganloss_inputs_t inputs;
  ganloss_inputs_init(&inputs);
  inputs.real = buffers.real.get();
  inputs.fake = buffers.fake.get();
  const ganloss_outputs_t outputs = make_outputs(b, buffers.outputs());
  ganloss_execution_t execution;
  ganloss_execution_init(&execution);
  execution.backend = GANLOSS_BACKEND_CUDA;
  execution.workspace_initialized = 1;
  const ganloss_cotangents_t u{cotangents.as<float>(), cotangents.as<float>() + b.problem.segments};
  auto call = [&]() -> ganloss_status_t {
    switch (how) {
      case HostCall::plan_execute:
        return ganloss_plan_execute(plan.get(), &inputs, &outputs, workspace.get(), workspace_bytes,
                                    stream);
      case HostCall::plan_vjp:
        return ganloss_plan_vjp(plan.get(), &inputs, &u, buffers.grad_real.get(),
                                buffers.grad_fake_d.get(), workspace.get(), workspace_bytes,
                                stream);
      default:
        return ganloss_compute(&b.problem, &inputs, &outputs, workspace.get(), workspace_bytes,
                               &execution, stream);
    }
  };
  if (skip_on_status(state, call(), "warm-up call")) return;
  const double seconds = run_host_loop(state, stream, [&]() -> cudaError_t {
    return call() == GANLOSS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown;
  });
  if (seconds > 0.0) report_host(state, seconds);
}

// The backward pass: ganloss_plan_vjp writing the one gradient of every real and fake logit
// from per-segment cotangents (u_d = 1, u_g = 0.5). Its bytes: every logit read once, every
// gradient written once, the two cotangents read.
void vjp(benchmark::State& state, int32_t kind, int32_t dtype, int64_t elements,
         int64_t segment_length) {
  DeviceContext* context = usable_context(state);
  if (context == nullptr) return;
  const BenchProblem b = make_problem(kind, dtype, elements, segment_length);
  const Plan plan(b.problem);
  if (skip_on_status(state, plan.status(), "ganloss_plan_create")) return;
  std::size_t workspace_bytes = 0;
  if (skip_on_status(state, ganloss_plan_workspace_size(plan.get(), &workspace_bytes),
                     "ganloss_plan_workspace_size")) {
    return;
  }
  const auto e = static_cast<std::size_t>(dtype_bytes(dtype));
  const auto segments = static_cast<std::size_t>(b.problem.segments);
  DeviceBuffer real(e * static_cast<std::size_t>(b.real_total()));
  DeviceBuffer fake(e * static_cast<std::size_t>(b.fake_total()));
  DeviceBuffer grad_real(real.bytes());
  DeviceBuffer grad_fake(fake.bytes());
  DeviceBuffer cotangents(2 * sizeof(float) * segments);
  DeviceBuffer workspace(workspace_bytes);
  if (skip_without_memory(state, real.ok() && fake.ok() && grad_real.ok() && grad_fake.ok() &&
                                     cotangents.ok() && workspace.ok())) {
    return;
  }
  const cudaStream_t stream = context->stream();
  std::vector<float> u(2 * segments, 1.0f);
  std::fill(u.begin() + static_cast<std::ptrdiff_t>(segments), u.end(), 0.5f);
  const bool bf16 = dtype == GANLOSS_DTYPE_BF16;
  if (skip_on_error(state,
                    cudaMemcpyAsync(cotangents.get(), u.data(), cotangents.bytes(),
                                    cudaMemcpyHostToDevice, stream),
                    "copying the cotangents") ||
      skip_on_error(state, fill_logits(real.get(), b.real_total(), bf16, 1, stream),
                    "filling the logits") ||
      skip_on_error(state, fill_logits(fake.get(), b.fake_total(), bf16, 2, stream),
                    "filling the logits") ||
      skip_on_status(
          state, ganloss_plan_workspace_init(plan.get(), workspace.get(), workspace_bytes, stream),
          "ganloss_plan_workspace_init")) {
    return;
  }
  ganloss_inputs_t inputs;
  ganloss_inputs_init(&inputs);
  inputs.real = real.get();
  inputs.fake = fake.get();
  const ganloss_cotangents_t cot{cotangents.as<float>(),
                                 cotangents.as<float>() + b.problem.segments};
  auto call = [&] {
    return ganloss_plan_vjp(plan.get(), &inputs, &cot, grad_real.get(), grad_fake.get(),
                            workspace.get(), workspace_bytes, stream);
  };
  if (skip_on_status(state, call(), "ganloss_plan_vjp")) return;
  const double seconds = run_timed_loop(state, [&]() -> cudaError_t {
    return call() == GANLOSS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown;
  });
  if (seconds <= 0.0) return;
  const double bytes = 2.0 * static_cast<double>(real.bytes() + fake.bytes()) +
                       static_cast<double>(cotangents.bytes());
  report_bandwidth(state, bytes, static_cast<double>(elements), seconds);
}

// The unfused non-saturating pipeline on the problem `fused` runs for the same name.
void unfused(benchmark::State& state, int32_t dtype, int64_t elements, int64_t segment_length,
             const std::string& fused_key) {
  DeviceContext* context = usable_context(state);
  if (context == nullptr) return;
  const BenchProblem b = make_problem(GANLOSS_LOSS_NONSATURATING, dtype, elements, segment_length);
  ProblemBuffers buffers(b, false);
  const UnfusedProblem p{b.problem.segments, b.problem.real_count,
                         b.problem.dtype == GANLOSS_DTYPE_BF16};
  const char* error = nullptr;
  const std::size_t workspace_bytes = unfused_workspace_bytes(p, &error);
  if (workspace_bytes == 0) {
    state.SkipWithError(error);
    return;
  }
  DeviceBuffer workspace(workspace_bytes);
  if (skip_without_memory(state, buffers.ok() && workspace.ok())) return;
  const cudaStream_t stream = context->stream();
  if (skip_on_error(state, buffers.fill(b, stream), "filling the logits") ||
      skip_on_error(state, unfused_prepare(p, workspace.get(), workspace_bytes, stream),
                    "preparing the unfused pipeline")) {
    return;
  }
  const UnfusedBuffers args{buffers.real.get(),        buffers.fake.get(),
                            buffers.grad_real.get(),   buffers.grad_fake_d.get(),
                            buffers.grad_fake_g.get(), buffers.losses.as<float>()};
  auto run = [&] { return unfused_run(p, args, workspace.get(), workspace_bytes, stream); };
  if (skip_on_error(state, run(), "unfused warm-up")) return;
  const double seconds = run_timed_loop(state, run);
  if (seconds <= 0.0) return;
  report_bandwidth(state, b.bytes(), static_cast<double>(elements), seconds);
  // How many times longer the unfused pipeline takes than ganloss on the same problem.
  if (const double fused_seconds = context->recorded(fused_key); fused_seconds > 0.0) {
    state.counters["fused_speedup"] = seconds / fused_seconds;
  }
}

// The copy kernel alone, on the byte count of the non-saturating problem of this size, for the
// reference line of the plots.
void copy_baseline(benchmark::State& state, double bytes) {
  DeviceContext* context = usable_context(state);
  if (context == nullptr) return;
  const auto half = (static_cast<std::size_t>(bytes) / 2 + 15) / 16 * 16;
  DeviceBuffer src(half);
  DeviceBuffer dst(half);
  if (skip_without_memory(state, src.ok() && dst.ok())) return;
  const cudaStream_t stream = context->stream();
  if (skip_on_error(state, cudaMemsetAsync(src.get(), 0, half, stream), "filling the source")) {
    return;
  }
  const double seconds =
      run_timed_loop(state, [&] { return launch_copy(src.get(), dst.get(), half, stream); });
  if (seconds <= 0.0) return;
  const auto iterations = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes * iterations));
  state.counters["GB/s"] = bytes / seconds * 1e-9;
}

void empty_kernel(benchmark::State& state) {
  DeviceContext* context = usable_context(state);
  if (context == nullptr) return;
  const cudaStream_t stream = context->stream();
  const double seconds = run_timed_loop(state, [&] { return launch_empty_kernel(stream); });
  if (seconds <= 0.0) return;
  state.counters["us"] = seconds * 1e6;
}

benchmark::internal::Benchmark* configure(benchmark::internal::Benchmark* b, bool default_time) {
  b->UseManualTime()->Unit(benchmark::kMicrosecond);
  if (default_time) b->MinTime(kDefaultMinSeconds);
  return b;
}

// Every size of the sweep at which `segment_length` gives at least two segments (the single
// segment runs at every size).
std::vector<int> log2_sizes(int64_t segment_length) {
  std::vector<int> sizes;
  for (int k = kMinLog2Elements; k <= kMaxLog2Elements; k += kLog2ElementsStep) {
    if (segment_length == kSingleSegment || (int64_t{1} << k) > segment_length) sizes.push_back(k);
  }
  return sizes;
}

void register_benchmarks(bool default_time) {
  configure(benchmark::RegisterBenchmark("empty_kernel", empty_kernel), default_time);
  for (const int32_t dtype : kDtypes) {
    for (const int k : log2_sizes(kSingleSegment)) {
      const int64_t n = int64_t{1} << k;
      const double bytes =
          make_problem(GANLOSS_LOSS_NONSATURATING, dtype, n, kSingleSegment).bytes();
      const std::string name =
          std::string("copy/") + dtype_name(dtype) + "/log2n:" + std::to_string(k);
      configure(benchmark::RegisterBenchmark(name.c_str(), copy_baseline, bytes), default_time);
    }
  }
  for (const LossCase& loss : kLossCases) {
    for (const int32_t dtype : kDtypes) {
      for (const int64_t segment : kSegmentLengths) {
        for (const int k : log2_sizes(segment)) {
          const std::string name = problem_name("fused", loss.name, dtype, segment, k);
          configure(benchmark::RegisterBenchmark(name.c_str(), fused, loss.kind, dtype,
                                                 int64_t{1} << k, segment, name),
                    default_time);
        }
      }
    }
  }
  // The backward pass of every kind, one segment, every size.
  for (const LossCase& loss : kLossCases) {
    for (const int32_t dtype : kDtypes) {
      for (const int k : log2_sizes(kSingleSegment)) {
        const std::string name = problem_name("vjp", loss.name, dtype, kSingleSegment, k);
        configure(benchmark::RegisterBenchmark(name.c_str(), vjp, loss.kind, dtype, int64_t{1} << k,
                                               kSingleSegment),
                  default_time);
      }
    }
  }
  // Host time per call at 2^10 logits (the launch-bound end), against an empty launch's.
  configure(benchmark::RegisterBenchmark("host/empty_launch", host_empty_launch), default_time);
  constexpr int kHostLog2 = 10;
  const struct {
    const char* what;
    HostCall how;
  } host_calls[] = {{"plan_execute", HostCall::plan_execute},
                    {"plan_vjp", HostCall::plan_vjp},
                    {"compute", HostCall::compute}};
  for (const auto& h : host_calls) {
    for (const LossCase& loss : kLossCases) {
      if (loss.kind != GANLOSS_LOSS_NONSATURATING &&
          loss.kind != GANLOSS_LOSS_RELATIVISTIC_AVERAGE) {
        continue;
      }
      for (const int32_t dtype : kDtypes) {
        const std::string name = std::string("host/") + h.what + "/" + loss.name + "/" +
                                 dtype_name(dtype) + "/log2n:" + std::to_string(kHostLog2);
        configure(benchmark::RegisterBenchmark(name.c_str(), host_call, h.how, loss.kind, dtype,
                                               int64_t{1} << kHostLog2),
                  default_time);
      }
    }
  }
  for (const int32_t dtype : kDtypes) {
    for (const int64_t segment : kSegmentLengths) {
      for (const int k : log2_sizes(segment)) {
        const std::string name = problem_name("unfused", "nonsaturating", dtype, segment, k);
        const std::string fused_key = problem_name("fused", "nonsaturating", dtype, segment, k);
        configure(benchmark::RegisterBenchmark(name.c_str(), unfused, dtype, int64_t{1} << k,
                                               segment, fused_key),
                  default_time);
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
  std::string why_not;
  if (DeviceContext* context = DeviceContext::open(&why_not); context != nullptr) {
    benchmark::AddCustomContext("cuda_device", context->device_name());
    std::fprintf(stderr, "ganloss_bench: CUDA device %s, L2 %zu bytes\n",
                 context->device_name().c_str(), context->l2_bytes());
  } else {
    skip_reason = "skipped: " + why_not;
    benchmark::AddCustomContext("cuda_device", "none: " + why_not);
    std::fprintf(stderr, "ganloss_bench: every CUDA benchmark skips: %s\n", why_not.c_str());
  }
  register_benchmarks(default_time);
  // Zero benchmarks run means a filter that matches nothing: a mistake, not a pass.
  const std::size_t ran = benchmark::RunSpecifiedBenchmarks();
  DeviceContext::close();
  benchmark::Shutdown();
  return ran == 0 ? 1 : 0;
}
