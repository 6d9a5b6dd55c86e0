// `ganloss check`: a backend against the double-precision reference on built-in cases, with
// the error bounds of src/tolerance.hpp; prints a table and PASS or FAIL.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend_call.hpp"
#include "check_cases.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "device_info.hpp"
#include "enum_names.hpp"
#include "options.hpp"
#include "reference.hpp"
#include "reference_comparison.hpp"
#include "segmented_loss_plan.hpp"

namespace ganloss {
namespace cli {
namespace {

// fp32 additions a term may pass through on its way into a total (the `depth` of
// total_tolerance()): the CUDA kernel's, from its launch plan; the CPU backend sums in double.
constexpr int kCudaAccumulationDepth = detail::kernel::kAccumulationDepth;

constexpr const char kCheckHelp[] =
    R"(Usage: ganloss check [--backend auto|cuda|cpu] [--dtype D] [--threads N] [--seed N]

Runs a backend on built-in cases and compares every output (per-segment losses, all three
gradients, per-element losses) with the double-precision reference backend, using the error
bounds the unit tests use. Cases: every loss kind as D and as G (the five matched pairings
and five mixed ones, plus two with label smoothing), every reduction, and shapes from a
single element to 100003-element rows, many short rows and strided rows, with logits that
include 0, +-1e4, +-88, +-30, +-17, tiny and subnormal values, the hinge kinks, infinities
and NaN. Output buffers are fenced: a write between strided rows or past the end fails.

f16 and bf16 run the same pairings and reductions on the smaller shapes, which still reach
every work mapping of the backends, each twice: with the gradients stored in the logits'
dtype and as f32 (fp32_gradients). Their logits are the f32 values rounded to the dtype and
the reference reads the same stored values, so only the computation and the gradients'
storage differ from the f32 cases.

Options:
  --backend B   auto (default: cuda when usable, else cpu), cuda or cpu
  --dtype D     f32, f16, bf16 or all (default)
  --threads N   CPU backend threads (default 0: all)
  --seed N      seed of the logits (default 1)

Each row prints, per output kind, the worst ratio |result - reference| / bound over the
row's cases (<= 1 passes). The dtype column is the logits' dtype, with "/f32grad" when the
gradients are stored as f32. The last line is "PASS: N cases" or "FAIL: k of N cases".

Exit status: 0 all cases pass, 1 a case fails or an error, 2 usage error.
)";

constexpr OptionSpec kCheckOptions[] = {
    {"--backend", true}, {"--dtype", true}, {"--threads", true}, {"--seed", true}};

constexpr int32_t kReductions[] = {GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_SUM,
                                   GANLOSS_REDUCTION_MEAN};

std::string ratio_text(double r) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", r);
  return text;
}

// One side pair of logits, as f32 values or stored in a dtype.
template <typename T>
struct SideLogits {
  std::vector<T> real, fake;
};

int shape_count(const CheckStorage& storage) {
  int n = 0;
  for (const CheckShape& shape : check_shapes())
    n += runs_with(shape, storage) ? 1 : 0;
  return n;
}

// What a run covers, e.g. "f32 on 12 shapes; f16, f16/f32grad on 8 shapes".
std::string coverage(const std::vector<CheckStorage>& storages) {
  std::string text;
  for (std::size_t i = 0; i < storages.size(); ++i) {
    const int shapes = shape_count(storages[i]);
    const bool last = i + 1 == storages.size();
    text += storage_name(storages[i]);
    if (!last && shape_count(storages[i + 1]) == shapes) {
      text += ", ";
    } else {
      text += " on " + std::to_string(shapes) + " shapes" + (last ? "" : "; ");
    }
  }
  return text;
}

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
  const int depth = backend == GANLOSS_BACKEND_CUDA ? kCudaAccumulationDepth : 0;
  const std::vector<CheckStorage> storages = check_storages(dtype);
  const auto start = std::chrono::steady_clock::now();

  // One set of logits per shape, shared by every storage, pairing and reduction (16-bit runs
  // round the same values), so that a case differs from its f32 twin only in the dtype.
  std::vector<SideLogits<float>> logits;
  uint64_t logit_seed = seed * 0x100000001b3ull;
  for (const CheckShape& shape : check_shapes()) {
    const ganloss_problem_t p =
        make_check_problem(check_pairings()[0], shape, GANLOSS_REDUCTION_MEAN, storages[0]);
    SideLogits<float> l;
    l.real =
        check_logits(side_extent(p, p.real_count, p.real_stride), ++logit_seed, shape.non_finite);
    l.fake =
        check_logits(side_extent(p, p.fake_count, p.fake_stride), ++logit_seed, shape.non_finite);
    logits.push_back(std::move(l));
  }

  std::string device = backend_name(backend);
  if (backend == GANLOSS_BACKEND_CPU) {
    device += " (" + std::to_string(effective_threads(threads)) + " threads)";
  } else if (backend == GANLOSS_BACKEND_CUDA) {
    device += " (" + gpu_name() + ")";
  }
  write_stdout("ganloss check: " + device + " against the reference, seed " + std::to_string(seed) +
               ", " + std::to_string(check_pairings().size()) + " pairings x 3 reductions; " +
               coverage(storages) + "\n");
  char row[320];
  std::snprintf(row, sizeof row, "%-40s %-12s %-9s %6s %10s %10s %10s  %s\n", "case", "dtype",
                "backend", "shapes", "grads", "el.losses", "totals", "result");
  write_stdout(row);

  int cases = 0;
  int failures = 0;
  for (const CheckStorage& storage : storages) {
    // The logits as the backend and the reference read them: stored in the storage's dtype.
    std::vector<SideLogits<uint8_t>> stored(logits.size());
    for (std::size_t k = 0; k < logits.size(); ++k) {
      if (!runs_with(check_shapes()[k], storage)) continue;
      stored[k].real = encode_values(logits[k].real, storage.dtype);
      stored[k].fake = encode_values(logits[k].fake, storage.dtype);
    }
    for (const CheckPairing& pairing : check_pairings()) {
      for (const int32_t reduction : kReductions) {
        ComparisonRatios worst;
        std::string first_failure;
        int shapes = 0;
        for (std::size_t k = 0; k < check_shapes().size(); ++k) {
          const CheckShape& shape = check_shapes()[k];
          if (!runs_with(shape, storage)) continue;
          const ganloss_problem_t p = make_check_problem(pairing, shape, reduction, storage);
          BackendCall call(p, backend, threads, true);
          call.upload_encoded(stored[k].real, stored[k].fake);
          call.run();
          const HostResults got = call.download();
          const reference::Result want =
              reference::evaluate(p, stored[k].real.data(), stored[k].fake.data());
          const ComparisonRatios ratios = compare_with_reference(p, want, got, depth);
          ++cases;
          ++shapes;
          if (!ratios.passed()) {
            ++failures;
            if (first_failure.empty())
              first_failure = std::string(shape.name) + ": " + ratios.first_failure;
          }
          worst.merge(ratios);
        }
        const std::string name = pairing_name(pairing) + " " + reduction_name(reduction);
        std::snprintf(row, sizeof row, "%-40s %-12s %-9s %6d %10s %10s %10s  %s\n", name.c_str(),
                      storage_name(storage).c_str(), backend_name(backend), shapes,
                      ratio_text(worst.gradients).c_str(), ratio_text(worst.element_losses).c_str(),
                      ratio_text(worst.totals).c_str(), first_failure.empty() ? "PASS" : "FAIL");
        write_stdout(row);
        if (!first_failure.empty()) write_stdout("    first failure: " + first_failure + "\n");
      }
    }
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
