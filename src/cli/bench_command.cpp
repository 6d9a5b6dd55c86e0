// `ganloss bench`: best-of-R timings of the backends on synthetic logits, as a table or JSON.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "backend_call.hpp"
#include "check_cases.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "device_info.hpp"
#include "enum_names.hpp"
#include "json_writer.hpp"
#include "options.hpp"

namespace ganloss {
namespace cli {
namespace {

constexpr const char kBenchHelp[] =
    R"(Usage: ganloss bench [options]

Times D and G losses with all three gradients and the four per-segment totals (mean
reduction, one segment) on synthetic logits, split evenly between real and fake, with the
logits and their gradients stored in --dtype (losses and totals are f32), and, in the same
run, a copy of as many bytes as the call moves.
Each time is the best of R calls after one warm-up call: wall time for the host backends,
CUDA events around the call for cuda (host-device copies excluded). The calls and the copies
alternate, so that both see the same machine.

Options:
  --backend B     all (default: reference, cpu, and cuda when usable), auto (cuda when
                  usable, else cpu), cuda, cpu or reference
  --sizes LIST    total logits per call, comma-separated integers or powers written 2^N
                  (default 2^16,2^20,2^24; the reference runs only up to 2^22 unless
                  --sizes is given)
  --threads N     CPU backend threads, at most 1024 (default 0: all)
  --repeat R      timed calls per measurement (default 3)
  --loss KIND     loss for D and G (default nonsaturating): nonsaturating, minimax,
                  hinge, wasserstein, least-squares, relativistic (paired: every size
                  must be even), relativistic-average, relativistic-average-hinge,
                  relativistic-average-least-squares
  --dtype D       f32 (default), f16 or bf16: the logits' and the gradients' dtype
  --data D        realistic (default): normal logits with standard deviation 3, mean +1
                  for real and -1 for fake, like a discriminator's outputs; extreme: the
                  finite mix of `ganloss check`: 9 in 16 uniform in [-8, 8), the others
                  within 1e-3 of 0, subnormal or tiny (within 1e-38 of 0), near +-17,
                  +-30, +-88 or +-1e4, or on a formula's branch points (0, +-0.5, +-1, +-2)
  --json          print one JSON object instead of the table

Columns: elements/s = logits / time; GB/s = bytes / time / 1e9 with, for E bytes per
element of --dtype (4 for f32, 2 for f16 and bf16),
  bytes = E * (Nr + Nf)       logits read
        + E * (Nr + 2 * Nf)   gradients written (real; fake for D and for G)
        + 16 * segments       totals written (d_loss, d_loss_real, d_loss_fake, g_loss)
copy_ratio = copy time / call time, where the copy reads bytes/2 and writes bytes/2 in the
backend's memory (1.0: the call runs as fast as a copy of as many bytes): memcpy on as many
threads as the call (the cpu backend runs calls below 2^16 logits on one thread; the
reference on one), or a device-to-device cudaMemcpyAsync for cuda;
and "vs ref" the reference's time over this backend's at the same size. The relativistic
average kinds read the logits twice (their means come first); bytes counts them once.

Exit status: 0 success, 1 failure, 2 usage error.
)";

constexpr OptionSpec kBenchOptions[] = {{"--backend", true}, {"--sizes", true}, {"--threads", true},
                                        {"--repeat", true},  {"--loss", true},  {"--dtype", true},
                                        {"--data", true},    {"--json", false}};

// Above this many logits the reference (about 2e7 logits/s) is skipped unless --sizes is given.
constexpr int64_t kDefaultReferenceLimit = int64_t{1} << 22;
constexpr int64_t kMaxElements = int64_t{1} << 40;
// Below this many logits the CPU backend runs a call on the calling thread alone, and so does
// the copy it is compared with.
constexpr int64_t kCpuParallelThreshold = int64_t{1} << 16;

enum class Data { realistic, extreme };

struct Measurement {
  int32_t backend;
  int64_t real_count;
  int64_t fake_count;
  double seconds;
  double bytes;
  double copy_seconds;       // a copy of as many bytes, in the backend's memory
  int copy_threads;          // host threads of that copy (0 for cuda)
  double reference_seconds;  // 0 when the reference did not run at this size
};

int64_t parse_size(std::string_view text) {
  if (text.size() > 2 && text.substr(0, 2) == "2^") {
    // The exponent parsed as any integer, so that every one outside [1, 40] gets this message.
    const int64_t exponent =
        parse_int64("--sizes", text.substr(2), std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max());
    if (exponent < 1 || exponent > 40) {
      throw_usage_error("--sizes: %s is outside [2, 2^40]", quoted(text).c_str());
    }
    return int64_t{1} << exponent;
  }
  return parse_int64("--sizes", text, 2, kMaxElements);
}

std::string time_text(double seconds) {
  char text[32];
  if (seconds < 1e-3) {
    std::snprintf(text, sizeof text, "%.2f us", seconds * 1e6);
  } else if (seconds < 1.0) {
    std::snprintf(text, sizeof text, "%.3f ms", seconds * 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.3f s", seconds);
  }
  return text;
}

std::string device_description(int32_t backend, int threads) {
  switch (backend) {
    case GANLOSS_BACKEND_CUDA:
      return gpu_name();
    case GANLOSS_BACKEND_REFERENCE:
      return cpu_model_name() + ", 1 thread";
    default: {
      const int n = effective_threads(threads);
      return cpu_model_name() + ", " + std::to_string(n) + (n == 1 ? " thread" : " threads");
    }
  }
}

// What one measurement runs: everything but the backend and the size.
struct BenchConfig {
  int32_t loss;
  int32_t dtype;
  int threads;
  int repeat;
  Data data;
};

const char* data_name(Data data) {
  return data == Data::realistic ? "realistic" : "extreme";
}

std::vector<float> bench_logits(Data data, int64_t count, int side) {
  // Real logits (side 0) around +1, fake ones around -1.
  if (data == Data::realistic) {
    return normal_logits(count, 0x5EED + side, side == 0 ? 1.0 : -1.0, 3.0);
  }
  return check_logits(count, side + 1, false);
}

// Threads of the copy a backend's call is compared with.
int copy_threads(int32_t backend, int64_t elements, int threads) {
  if (backend != GANLOSS_BACKEND_CPU || elements < kCpuParallelThreshold) return 1;
  return effective_threads(threads);
}

// "E*(Nr+Nf) + E*(Nr+2*Nf) + 16*segments" with E the element size of the logits (and of
// their gradients, which bench stores in the same dtype).
std::string bytes_formula(int32_t dtype) {
  const std::string e = std::to_string(dtype_bytes(dtype));
  return e + "*(Nr+Nf) + " + e + "*(Nr+2*Nf) + 16*segments";
}

Measurement measure(int32_t backend, int64_t elements, const BenchConfig& config) {
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.real_count = elements / 2;
  p.fake_count = elements - p.real_count;
  p.d_loss = p.g_loss = config.loss;
  p.dtype = config.dtype;
  // The outputs a training step uses: no dL_G / d real (real logits do not depend on G).
  OutputRequest request;
  request.grad_real_g = false;
  BackendCall call(p, backend, config.threads, request);
  call.upload(bench_logits(config.data, p.real_count, 0),
              bench_logits(config.data, p.fake_count, 1));
  const auto logit_bytes = static_cast<double>(dtype_bytes(p.dtype));
  const auto grad_bytes = static_cast<double>(dtype_bytes(gradient_dtype(p)));
  const double bytes = logit_bytes * static_cast<double>(p.real_count + p.fake_count) +
                       grad_bytes * static_cast<double>(p.real_count + 2 * p.fake_count) +
                       16.0 * static_cast<double>(p.segments);
  // The copy reads half of the bytes and writes the other half.
  const auto copy_bytes = static_cast<std::size_t>(bytes / 2.0);
  const MemorySpace space = memory_space_of(backend);
  DeviceBuffer source(space, copy_bytes), destination(space, copy_bytes);
  source.fill(0x3C);
  destination.fill(0);
  const int threads = copy_threads(backend, elements, config.threads);
  // Warm-up: first-touch page faults, thread start-up, CUDA module loading.
  call.run();
  timed_copy(source, destination, copy_bytes, threads);
  double best = std::numeric_limits<double>::infinity();
  double best_copy = std::numeric_limits<double>::infinity();
  for (int i = 0; i < config.repeat; ++i) {
    best = std::min(best, call.timed_run());
    best_copy = std::min(best_copy, timed_copy(source, destination, copy_bytes, threads));
  }
  // A clock too coarse to see the call must not divide by 0.
  best = std::max(best, 1e-9);
  best_copy = std::max(best_copy, 1e-9);
  return Measurement{backend,
                     p.real_count,
                     p.fake_count,
                     best,
                     bytes,
                     best_copy,
                     space == MemorySpace::host ? threads : 0,
                     0.0};
}

std::string table(const std::vector<Measurement>& results, const std::vector<int32_t>& backends,
                  const BenchConfig& config) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line,
                "ganloss bench: %s D and G, mean reduction, %s, 3 gradients + 4 totals, %s "
                "logits, best of %d\n",
                loss_kind_name(config.loss), dtype_name(config.dtype), data_name(config.data),
                config.repeat);
  out += line;
  for (const int32_t b : backends) {
    out += "device: " + std::string(backend_name(b)) + ": " +
           device_description(b, config.threads) + "\n";
  }
  std::snprintf(line, sizeof line, "%-10s %12s %12s %12s %9s %10s %8s\n", "backend", "elements",
                "time", "elements/s", "GB/s", "copy_ratio", "vs ref");
  out += line;
  for (const Measurement& m : results) {
    const double n = static_cast<double>(m.real_count + m.fake_count);
    std::string ratio = "-";
    if (m.reference_seconds > 0.0) {
      char r[32];
      std::snprintf(r, sizeof r, "%.2fx", m.reference_seconds / m.seconds);
      ratio = r;
    }
    std::snprintf(line, sizeof line, "%-10s %12lld %12s %12.3g %9.2f %10.2f %8s\n",
                  backend_name(m.backend), static_cast<long long>(m.real_count + m.fake_count),
                  time_text(m.seconds).c_str(), n / m.seconds, m.bytes / m.seconds / 1e9,
                  m.copy_seconds / m.seconds, ratio.c_str());
    out += line;
  }
  const std::string e = std::to_string(dtype_bytes(config.dtype));
  out += "bytes = " + e + "*(Nr+Nf) logits read + " + e +
         "*(Nr+2*Nf) gradients written + 16*segments totals; copy_ratio = time of a copy of "
         "bytes/2 into bytes/2 over the call's\n";
  return out;
}

std::string json(const std::vector<Measurement>& results, const std::vector<int32_t>& backends,
                 const BenchConfig& config) {
  JsonWriter w;
  w.begin_object();
  w.key("loss");
  w.string(loss_kind_name(config.loss));
  w.key("reduction");
  w.string("mean");
  w.key("dtype");
  w.string(dtype_name(config.dtype));
  w.key("data");
  w.string(data_name(config.data));
  w.key("repeat");
  w.integer(config.repeat);
  w.key("bytes");
  w.string(bytes_formula(config.dtype));
  w.key("copy");
  w.string(
      "bytes/2 copied into bytes/2: memcpy on copy_threads threads (host backends), "
      "cudaMemcpyAsync device to device (cuda)");
  w.key("devices");
  w.begin_array(true);
  for (const int32_t b : backends) {
    w.begin_object();
    w.key("backend");
    w.string(backend_name(b));
    w.key("device");
    w.string(b == GANLOSS_BACKEND_CUDA ? gpu_name() : cpu_model_name());
    w.key("threads");
    if (b == GANLOSS_BACKEND_CUDA) {
      w.null();
    } else {
      w.integer(b == GANLOSS_BACKEND_REFERENCE ? 1 : effective_threads(config.threads));
    }
    w.end_object();
  }
  w.end_array();
  w.key("results");
  w.begin_array(true);
  for (const Measurement& m : results) {
    const double n = static_cast<double>(m.real_count + m.fake_count);
    w.begin_object();
    w.key("backend");
    w.string(backend_name(m.backend));
    w.key("elements");
    w.integer(m.real_count + m.fake_count);
    w.key("real_count");
    w.integer(m.real_count);
    w.key("fake_count");
    w.integer(m.fake_count);
    w.key("seconds");
    w.number(m.seconds, 6);
    w.key("elements_per_second");
    w.number(n / m.seconds, 6);
    w.key("bytes");
    w.number(m.bytes, 15);
    w.key("gigabytes_per_second");
    w.number(m.bytes / m.seconds / 1e9, 6);
    w.key("copy_seconds");
    w.number(m.copy_seconds, 6);
    w.key("copy_threads");
    if (m.copy_threads > 0) {
      w.integer(m.copy_threads);
    } else {
      w.null();
    }
    w.key("copy_ratio");
    w.number(m.copy_seconds / m.seconds, 6);
    w.key("speedup_vs_reference");
    if (m.reference_seconds > 0.0) {
      w.number(m.reference_seconds / m.seconds, 6);
    } else {
      w.null();
    }
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.text();
}

}  // namespace

int run_bench(std::span<char* const> args) {
  if (wants_help(args)) {
    write_stdout(kBenchHelp);
    return kExitSuccess;
  }
  const ParsedOptions o = parse_options("bench", args, kBenchOptions);
  BackendChoice choice = BackendChoice::all;
  if (const auto v = o.value("--backend")) choice = parse_backend("--backend", *v, true, true);
  std::vector<int64_t> sizes = {int64_t{1} << 16, int64_t{1} << 20, int64_t{1} << 24};
  int64_t reference_limit = kDefaultReferenceLimit;
  if (const auto v = o.value("--sizes")) {
    sizes.clear();
    for (const std::string_view item : split_list("--sizes", *v))
      sizes.push_back(parse_size(item));
    reference_limit = kMaxElements;
  }
  const int threads = threads_option(o);
  int repeat = 3;
  if (const auto v = o.value("--repeat")) {
    repeat = static_cast<int>(parse_int64("--repeat", *v, 1, 1000000));
  }
  int32_t loss = GANLOSS_LOSS_NONSATURATING;
  if (const auto v = o.value("--loss")) loss = parse_loss_kind("--loss", *v);
  if (loss == GANLOSS_LOSS_RELATIVISTIC) {
    for (const int64_t n : sizes) {
      if (n % 2 != 0) {
        throw_usage_error(
            "--sizes: the paired relativistic loss splits a size into as many "
            "real as fake logits, so it must be even, got %lld",
            static_cast<long long>(n));
      }
    }
  }
  int32_t dtype = GANLOSS_DTYPE_F32;
  if (const auto v = o.value("--dtype")) dtype = parse_dtype("--dtype", *v);
  Data data = Data::realistic;
  if (const auto v = o.value("--data")) {
    if (*v == "realistic") {
      data = Data::realistic;
    } else if (*v == "extreme") {
      data = Data::extreme;
    } else {
      throw_usage_error("--data: expected realistic or extreme, got %s", quoted(*v).c_str());
    }
  }
  const bool as_json = o.has("--json");
  const BenchConfig config{loss, dtype, threads, repeat, data};

  std::vector<int32_t> backends;
  if (choice == BackendChoice::all) {
    backends = {GANLOSS_BACKEND_REFERENCE, GANLOSS_BACKEND_CPU};
    if (backend_available(GANLOSS_BACKEND_CUDA)) backends.push_back(GANLOSS_BACKEND_CUDA);
  } else {
    backends = {resolve_backend(choice)};
  }

  std::vector<Measurement> results;
  for (const int64_t n : sizes) {
    double reference_seconds = 0.0;
    for (const int32_t b : backends) {
      if (b == GANLOSS_BACKEND_REFERENCE && n > reference_limit) continue;
      Measurement m = measure(b, n, config);
      if (b == GANLOSS_BACKEND_REFERENCE) reference_seconds = m.seconds;
      m.reference_seconds = reference_seconds;
      results.push_back(m);
    }
  }
  write_stdout(as_json ? json(results, backends, config) : table(results, backends, config));
  return kExitSuccess;
}

}  // namespace cli
}  // namespace ganloss
