// `ganloss check`: a backend against the double-precision reference on built-in cases, with
// the error bounds of src/comparison.hpp; prints a table and PASS or FAIL.
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend_call.hpp"
#include "check_cases.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "comparison.hpp"
#include "device_info.hpp"
#include "enum_names.hpp"
#include "options.hpp"
#include "reference.hpp"
#include "segmented_loss_plan.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ganloss {
namespace cli {
namespace {

// The error model of compare_with_reference(): the CUDA kernel's (its hardware math and its
// launch plan's accumulation depth); the CPU backend rounds exactly and adds each block's loss
// terms in fp32 before double (detail::kCpuError).

constexpr const char kCheckHelp[] =
    R"(Usage: ganloss check [--backend auto|cuda|cpu] [--dtype D] [--threads N] [--seed N]

Runs a backend on built-in cases and compares every output (per-segment losses, all four
gradients, per-element losses, per-segment statistics) with the double-precision reference
backend, using the error bounds the unit tests use (src/comparison.hpp).

Basic matrix: every basic loss kind as D and as G (the five matched pairings and five mixed
ones, plus two with label smoothing), reductions none, sum and mean, and shapes from a single
element to 100003-element rows, many short rows and strided rows, with logits that include 0,
+-1e4, +-88, +-30, +-17, tiny and subnormal values, the hinge kinks, infinities and NaN.

Family: every relativistic kind (relativistic, relativistic-average, -hinge, -least-squares)
x every reduction (mean-nonzero included) x with and without per-element weights (the paired
kind: real weights only) x fixed-length and ragged segments (random offsets, some segments
empty; the paired kind uses the same offsets on both sides); two basic pairings with weights
and ragged segments the same way. Shapes: short rows, rows long enough for the CUDA chunk
regime, strided rows with custom parameters, non-finite logits, and ragged segments of average
length below and above 2048. Weights include zeros and segments that weigh nothing.
Output buffers are fenced: a write between rows, outside every ragged segment or past the end
fails.

f16 and bf16 run the basic matrix and a subset of the family (weighted, mean and mean-nonzero)
on the smaller shapes, which still reach every work mapping of the backends, each twice: with
the gradients stored in the logits' dtype and as f32 (fp32_gradients). Their logits are the
f32 values rounded to the dtype and the reference reads the same stored values, so only the
computation and the gradients' storage differ from the f32 cases.

Options:
  --backend B   auto (default: cuda when usable, else cpu), cuda or cpu
  --dtype D     f32, f16, bf16 or all (default)
  --threads N   CPU backend threads, at most 1024 (default 0: all)
  --seed N      seed of the logits, weights and offsets (default 1)

Each row prints, per output kind (gradients, element losses, per-segment totals,
statistics), the worst ratio |result - reference| / bound over the row's cases (<= 1
passes). The inputs column says whether the row has weights and ragged segments; the dtype
column is the logits' dtype, with "/f32grad" when the gradients are stored as f32. The last
line is "PASS: N cases" or "FAIL: k of N cases".

Exit status: 0 all cases pass, 1 a case fails or an error, 2 usage error.
)";

constexpr OptionSpec kCheckOptions[] = {
    {"--backend", true}, {"--dtype", true}, {"--threads", true}, {"--seed", true}};

std::string ratio_text(double r) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", r);
  return text;
}

// What a run covers, e.g. "f32 on 12 shapes; f16, f16/f32grad on 8 shapes" for the basic
// matrix (family = false) or the family.
std::string coverage(const std::vector<CheckStorage>& storages, bool family) {
  auto shapes = [&](const CheckStorage& storage) {
    int n = 0;
    for (const CheckShape& shape : check_shapes()) {
      n += shape.family == family && (storage.dtype == GANLOSS_DTYPE_F32 || shape.sixteen_bit) ? 1
                                                                                               : 0;
    }
    return n;
  };
  std::string text;
  for (std::size_t i = 0; i < storages.size(); ++i) {
    const int n = shapes(storages[i]);
    const bool last = i + 1 == storages.size();
    text += storage_name(storages[i]);
    if (!last && shapes(storages[i + 1]) == n) {
      text += ", ";
    } else {
      text += " on " + std::to_string(n) + " shapes" + (last ? "" : "; ");
    }
  }
  return text;
}

// The encoded inputs of one shape for one storage.
struct StoredData {
  std::vector<uint8_t> real, fake;
};

}  // namespace

int run_check(std::span<char* const> args) {
  if (wants_help(args)) {
    write_stdout(kCheckHelp);
    return kExitSuccess;
  }
  const ParsedOptions o = parse_options("check", args, kCheckOptions);
  BackendChoice choice = BackendChoice::auto_select;
  if (const auto v = o.value("--backend")) choice = parse_backend("--backend", *v, false, false);
  std::optional<int32_t> dtype;
  if (const auto v = o.value("--dtype")) dtype = parse_dtype_or_all("--dtype", *v);
  const int threads = threads_option(o);
  uint64_t seed = 1;
  if (const auto v = o.value("--seed")) seed = parse_uint64("--seed", *v);
  const int32_t backend = resolve_backend(choice);
  const detail::ErrorModel depth =
      backend == GANLOSS_BACKEND_CUDA ? detail::kCudaKernelError : detail::kCpuError;
  const std::vector<CheckStorage> storages = check_storages(dtype);
  const std::vector<CheckRow> rows = check_rows(storages);
  const auto start = std::chrono::steady_clock::now();
#if defined(__GLIBC__)
  // Every case allocates and frees the same large buffers (outputs, reference results); glibc
  // would give them back to the kernel each time and fault them in again, which costs a fifth
  // of the run. Keep them in the process instead.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif

  // One set of inputs per shape (and per pairing form: the paired kind needs as many fake
  // logits as real ones), shared by every storage, pairing and reduction (16-bit runs round
  // the same values), so that a case differs from its f32 twin only in the dtype.
  const std::span<const CheckShape> shapes = check_shapes();
  std::map<std::pair<std::size_t, bool>, CheckData> data;
  auto data_for = [&](std::size_t k, bool paired) -> const CheckData& {
    const auto key = std::make_pair(k, paired);
    auto it = data.find(key);
    if (it == data.end()) {
      const uint64_t shape_seed = (seed * 0x100000001b3ull + k) * 2 + (paired ? 1 : 0);
      it = data.emplace(key, make_check_data(shapes[k], paired, shape_seed)).first;
    }
    return it->second;
  };

  std::string device = backend_name(backend);
  if (backend == GANLOSS_BACKEND_CPU) {
    device += " (" + std::to_string(effective_threads(threads)) + " threads)";
  } else if (backend == GANLOSS_BACKEND_CUDA) {
    device += " (" + gpu_name() + ")";
  }
  std::size_t basic_rows = 0;
  for (const CheckRow& row : rows)
    basic_rows += row.family ? 0 : 1;
  write_stdout("ganloss check: " + device + " against the reference, seed " + std::to_string(seed) +
               "\n  basic kinds (pairings x none, sum, mean): " + std::to_string(basic_rows) +
               " rows; " + coverage(storages, false) +
               "\n  relativistic, weights, ragged: " + std::to_string(rows.size() - basic_rows) +
               " rows; " + coverage(storages, true) + "\n");
  char line[400];
  const char* const kRowFormat = "%-48s %-14s %-12s %-9s %6s %10s %10s %10s %10s  %s\n";
  std::snprintf(line, sizeof line, kRowFormat, "case", "inputs", "dtype", "backend", "shapes",
                "grads", "el.losses", "totals", "stats", "result");
  write_stdout(line);

  int cases = 0;
  int failures = 0;
  // Rows come grouped by storage: the encoded inputs of the current dtype.
  int32_t stored_dtype = -1;
  std::map<std::pair<std::size_t, bool>, StoredData> stored;
  for (const CheckRow& row : rows) {
    if (row.storage.dtype != stored_dtype) {
      stored.clear();
      stored_dtype = row.storage.dtype;
    }
    const bool paired = row.pairing.d_loss == GANLOSS_LOSS_RELATIVISTIC;
    detail::Comparison worst;
    std::string first_failure;
    int row_cases = 0;
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      const CheckShape& shape = shapes[k];
      if (!runs_on(row, shape)) continue;
      const CheckData& d = data_for(k, paired);
      // The logits as the backend and the reference read them: stored in the row's dtype.
      auto it = stored.find({k, paired});
      if (it == stored.end()) {
        StoredData s{encode_values(d.real, row.storage.dtype),
                     encode_values(d.fake, row.storage.dtype)};
        it = stored.emplace(std::make_pair(k, paired), std::move(s)).first;
      }
      HostInputs inputs{it->second.real, it->second.fake, {}, {}, d.real_offsets, d.fake_offsets};
      if (row.weighted) {
        inputs.real_weights = d.real_weights;
        if (!paired) inputs.fake_weights = d.fake_weights;
      }
      const ganloss_problem_t p = make_check_problem(row, shape, d);
      BackendCall call(p, backend, threads, OutputRequest{true, true, true});
      call.upload(inputs);
      call.run();
      HostResults got = call.download();
      const ganloss_inputs_t host = library_inputs(inputs);
      const reference::Result want = reference::evaluate(p, host);
      const detail::Comparison c =
          detail::compare_with_reference(p, host, want, got.outputs(), depth);
      ++cases;
      ++row_cases;
      // As the unit tests judge: every ratio within its bound, and nothing written outside.
      if (!(c.worst() <= 1.0) || !got.stray_writes.empty()) {
        ++failures;
        if (first_failure.empty()) {
          first_failure = std::string(shape.name) + ": " +
                          (c.worst() <= 1.0 ? got.stray_writes[0] : c.first_failure);
        }
      }
      worst.merge(c);
    }
    const std::string name = pairing_name(row.pairing) + " " + reduction_name(row.reduction);
    std::snprintf(line, sizeof line, kRowFormat, name.c_str(), inputs_name(row).c_str(),
                  storage_name(row.storage).c_str(), backend_name(backend),
                  std::to_string(row_cases).c_str(), ratio_text(worst.gradients).c_str(),
                  ratio_text(worst.element_losses).c_str(), ratio_text(worst.totals).c_str(),
                  ratio_text(worst.statistics).c_str(), first_failure.empty() ? "PASS" : "FAIL");
    write_stdout(line);
    if (!first_failure.empty()) write_stdout("    first failure: " + first_failure + "\n");
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char summary[128];
  std::snprintf(summary, sizeof summary, "time: %.2f s\n", seconds);
  write_stdout(summary);
  if (failures == 0) {
    std::snprintf(summary, sizeof summary, "PASS: %d cases\n", cases);
  } else {
    std::snprintf(summary, sizeof summary, "FAIL: %d of %d cases\n", failures, cases);
  }
  write_stdout(summary);
  return failures == 0 ? kExitSuccess : kExitFailure;
}

}  // namespace cli
}  // namespace ganloss
