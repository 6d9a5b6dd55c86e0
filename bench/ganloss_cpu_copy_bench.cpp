// ganloss_cpu_copy_bench: the CPU backend against a copy of the same bytes with the same
// threads, in one run, and the cost of subnormal logits.
//
// The non-saturating D and G losses with the three gradients and the four totals, one segment
// of 2^k real and 2^k fake logits, through the C ABI of the shipped library with `cpu_threads`
// threads (2 unless GANLOSS_BENCH_THREADS says otherwise). Names:
//   copy/<dtype>/log2n:<k>                 memcpy of the call's bytes (read + written) over the
//                                          same threads, each a contiguous share
//   cpu/<dtype>/<data>/log2n:<k>           the call; data `normal` (standard deviation 3, like a
//                                          discriminator's outputs) or `subnormal16` (the same
//                                          with 1 logit in 16 subnormal)
// Each call reports copy_ratio (the copy's time over its own: 1 is the bandwidth limit), and
// the subnormal16 case x_normal (its time over the normal data's).
#include <benchmark/benchmark.h>
#include <ganloss/ganloss.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

int bench_threads() {
  const char* env = std::getenv("GANLOSS_BENCH_THREADS");
  return env ? std::max(1, std::atoi(env)) : 2;
}

std::map<std::string, double> seconds_of;

uint16_t to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

int64_t logit_size(int32_t dtype) {
  return dtype == GANLOSS_DTYPE_F32 ? 4 : 2;
}

// Bytes a call reads and writes: both sides' logits, three gradients.
double call_bytes(int32_t dtype, int k) {
  return static_cast<double>(int64_t{1} << k) * static_cast<double>(logit_size(dtype)) * 5.0;
}

std::vector<uint8_t> logits(int32_t dtype, int k, bool subnormal, uint32_t seed) {
  const auto n = static_cast<std::size_t>(int64_t{1} << k);
  std::vector<uint8_t> bytes(n * static_cast<std::size_t>(logit_size(dtype)));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (std::size_t i = 0; i < n; ++i) {
    float v = normal(rng);
    // Subnormal in the dtype: bf16 and f32 share the exponent range.
    if (subnormal && i % 16 == 7) v = (i % 32 == 7 ? 1.0f : -1.0f) * 3e-39f;
    if (dtype == GANLOSS_DTYPE_F32) {
      std::memcpy(bytes.data() + i * 4, &v, 4);
    } else {
      const uint16_t h = to_bf16(v);
      std::memcpy(bytes.data() + i * 2, &h, 2);
    }
  }
  return bytes;
}

std::string tag(int32_t dtype, int k) {
  return std::string(dtype == GANLOSS_DTYPE_F32 ? "f32" : "bf16") + "/log2n:" + std::to_string(k);
}

void copy(benchmark::State& state, int32_t dtype, int k) {
  const auto half = static_cast<std::size_t>(call_bytes(dtype, k) / 2);
  std::vector<uint8_t> src(half, 1), dst(half, 0);
  const int threads = bench_threads();
  for (auto _ : state) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const std::size_t begin = half * static_cast<std::size_t>(t) / threads;
        const std::size_t end = half * static_cast<std::size_t>(t + 1) / threads;
        std::memcpy(dst.data() + begin, src.data() + begin, end - begin);
      });
    }
    for (std::thread& t : pool)
      t.join();
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(call_bytes(dtype, k)) * state.iterations());
}

void call(benchmark::State& state, int32_t dtype, int k, bool subnormal) {
  const int64_t n = int64_t{1} << k;
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.segments = 1;
  p.real_count = n;
  p.fake_count = n;
  p.dtype = dtype;
  p.d_loss = GANLOSS_LOSS_NONSATURATING;
  p.g_loss = GANLOSS_LOSS_NONSATURATING;
  p.reduction = GANLOSS_REDUCTION_MEAN;
  const std::vector<uint8_t> real = logits(dtype, k, subnormal, 1);
  const std::vector<uint8_t> fake = logits(dtype, k, subnormal, 2);
  const auto grad_bytes = static_cast<std::size_t>(n * logit_size(dtype));
  std::vector<uint8_t> grad_real(grad_bytes), grad_fake_d(grad_bytes), grad_fake_g(grad_bytes);
  float totals[4];
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = real.data();
  in.fake = fake.data();
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  o.d_loss = totals;
  o.d_loss_real = totals + 1;
  o.d_loss_fake = totals + 2;
  o.g_loss = totals + 3;
  o.grad_real = grad_real.data();
  o.grad_fake_d = grad_fake_d.data();
  o.grad_fake_g = grad_fake_g.data();
  std::size_t workspace_bytes = 0;
  ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &workspace_bytes);
  std::vector<double> workspace(workspace_bytes / sizeof(double) + 1);
  ganloss_execution_t e;
  ganloss_execution_init(&e);
  e.backend = GANLOSS_BACKEND_CPU;
  e.cpu_threads = bench_threads();
  for (auto _ : state) {
    if (ganloss_compute(&p, &in, &o, workspace.data(), workspace_bytes, &e, nullptr) !=
        GANLOSS_STATUS_SUCCESS) {
      state.SkipWithError(ganloss_last_error_message());
      return;
    }
    benchmark::DoNotOptimize(totals);
  }
  state.SetBytesProcessed(static_cast<int64_t>(call_bytes(dtype, k)) * state.iterations());
}

// Seconds per iteration of each finished benchmark, for the ratios of later ones. Adds the
// ratios to each run, then hands the runs to Google Benchmark's own display reporter (made after
// Initialize, so it follows --benchmark_format and --benchmark_color: no colour off a terminal).
class RatioReporter : public benchmark::BenchmarkReporter {
 public:
  explicit RatioReporter(benchmark::BenchmarkReporter* display) : display_(display) {}
  bool ReportContext(const Context& context) override { return display_->ReportContext(context); }
  void Finalize() override { display_->Finalize(); }
  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> out = runs;
    for (Run& r : out) {
      if (r.run_type != Run::RT_Iteration || r.iterations == 0) continue;
      const double seconds = r.GetAdjustedRealTime() * 1e-9;  // ns
      const std::string name = r.benchmark_name();
      seconds_of[name] = seconds;
      // cpu/<dtype>/<data>/log2n:<k>/...: the copy of the same size, and the normal data.
      const std::size_t a = name.find('/'), b = name.find('/', a + 1), c = name.find("/log2n:");
      if (name.rfind("cpu/", 0) == 0 && a != std::string::npos && b != std::string::npos &&
          c != std::string::npos) {
        const std::string dtype = name.substr(a + 1, b - a - 1);
        const std::string rest = name.substr(c);
        const std::string copy = "copy/" + dtype + rest;
        if (seconds_of.count(copy)) r.counters["copy_ratio"] = seconds_of[copy] / seconds;
        const std::string normal = "cpu/" + dtype + "/normal" + rest;
        if (name != normal && seconds_of.count(normal)) {
          r.counters["x_normal"] = seconds / seconds_of[normal];
        }
      }
    }
    display_->ReportRuns(out);
  }

 private:
  benchmark::BenchmarkReporter* display_;  // owned by Google Benchmark
};

}  // namespace

int main(int argc, char** argv) {
  for (int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_BF16}) {
    for (int k : {16, 20, 22, 24}) {
      const std::string t = tag(dtype, k);
      benchmark::RegisterBenchmark(("copy/" + t).c_str(), copy, dtype, k)->UseRealTime();
      benchmark::RegisterBenchmark(
          ("cpu/" + std::string(dtype == GANLOSS_DTYPE_F32 ? "f32" : "bf16") +
           "/normal/log2n:" + std::to_string(k))
              .c_str(),
          call, dtype, k, false)
          ->UseRealTime();
      benchmark::RegisterBenchmark(
          ("cpu/" + std::string(dtype == GANLOSS_DTYPE_F32 ? "f32" : "bf16") +
           "/subnormal16/log2n:" + std::to_string(k))
              .c_str(),
          call, dtype, k, true)
          ->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
