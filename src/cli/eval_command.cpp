// `ganloss eval`: losses and gradients of logits read from text, printed as one JSON object.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "backend_call.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "device_info.hpp"
#include "enum_names.hpp"
#include "json_writer.hpp"
#include "logits_file.hpp"
#include "options.hpp"

namespace ganloss {
namespace cli {
namespace {

constexpr const char kEvalHelp[] =
    R"(Usage: ganloss eval --loss KIND --real FILE --fake FILE [options]

Computes the discriminator (D) and generator (G) losses of the logits in two text files and
their gradients, and prints them as one JSON object.

Loss:
  --loss KIND          D and G loss: nonsaturating, minimax, hinge, wasserstein,
                       least-squares
  --d-loss KIND        D loss (overrides --loss; without --loss, give --g-loss too)
  --g-loss KIND        G loss (overrides --loss)
  --reduction R        mean (default), sum or none
  --real-target T      logistic D target of the real term, in [0, 1] (default 1); for label
                       smoothing ls, one-sided: T = 1 - ls, two-sided (TF-GAN): T = 1 - ls/2
  --fake-target T      logistic D target of the fake term, in [0, 1] (default 0)
  --margin-real M      hinge margin m_r (default 1)
  --margin-fake M      hinge margin m_f (default 1)
  --ls-labels A,B,C    least-squares labels: A fake, B real, C generator (default 0,1,1)
  --grad-scale X       multiplies every gradient, e.g. a loss scale (default 1)

Input:
  --real FILE          real logits ('-' reads standard input)
  --fake FILE          fake logits ('-' reads standard input; not both)
  --segments S         split each file into S segments of equal size (default 1); value i
                       of segment s is value s * (count / S) + i of the file
  --dtype D            f32 (default), f16 or bf16: how the logits, and by default their
                       gradients, are stored for the call
  --fp32-gradients     store the gradients as f32 whatever --dtype is (for f16 and bf16
                       gradients too small for the dtype, e.g. a mean over many logits)

Execution:
  --backend B          auto (default: cuda when usable, else cpu), cuda, cpu or reference
  --threads N          CPU backend threads (default 0: all)

Input format: decimal numbers separated by any mix of spaces, tabs, newlines and commas;
nan, inf, -inf and infinity are accepted in any case. A value beyond the range of the dtype
is an error (never rounded to infinity); one too small for it rounds to 0 or a subnormal.

Output: one JSON object with
  "backend"      the backend that ran: "cpu", "cuda" or "reference"
  "dtype"        the dtype of the logits
  "fp32_gradients"
                 true when the gradients were stored as f32 (--fp32-gradients), false when
                 in the logits' dtype
  "d_loss", "d_loss_real", "d_loss_fake", "g_loss"
                 per-segment losses (one number per segment; sums for --reduction none)
  "grad_real", "grad_fake_d", "grad_fake_g"
                 gradients of every logit, segment after segment, as stored: rounded to
                 the gradient dtype
  "loss_real", "loss_fake_d", "loss_fake_g"
                 per-element losses, with --reduction none only
Losses are always computed and stored in f32 (from the logits as stored in --dtype).
Numbers have 9 significant digits (enough to round-trip f32). JSON has no NaN or infinity:
those values are printed as the strings "NaN", "Infinity" and "-Infinity".

Exit status: 0 success, 1 failure (input, data or library error), 2 usage error.
)";

constexpr OptionSpec kEvalOptions[] = {
    {"--loss", true},
    {"--d-loss", true},
    {"--g-loss", true},
    {"--real", true},
    {"--fake", true},
    {"--segments", true},
    {"--real-target", true},
    {"--fake-target", true},
    {"--margin-real", true},
    {"--margin-fake", true},
    {"--ls-labels", true},
    {"--grad-scale", true},
    {"--reduction", true},
    {"--backend", true},
    {"--threads", true},
    {"--dtype", true},
    {"--fp32-gradients", false},
};

// Overrides *value with the option's, if given.
void set_float(const ParsedOptions& o, std::string_view option, float* value) {
  if (const auto v = o.value(option)) *value = parse_finite_float(option, *v);
}

// Loss kinds, reduction, dtype and parameters from the options, shapes left at 0.
ganloss_problem_t problem_from(const ParsedOptions& o) {
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  const auto loss = o.value("--loss");
  const auto d_loss = o.value("--d-loss");
  const auto g_loss = o.value("--g-loss");
  if (!loss && !(d_loss && g_loss)) {
    throw_usage_error(
        "missing option --loss (or both --d-loss and --g-loss; see 'ganloss eval --help')");
  }
  if (loss) p.d_loss = p.g_loss = parse_loss_kind("--loss", *loss);
  if (d_loss) p.d_loss = parse_loss_kind("--d-loss", *d_loss);
  if (g_loss) p.g_loss = parse_loss_kind("--g-loss", *g_loss);
  if (const auto v = o.value("--reduction")) p.reduction = parse_reduction("--reduction", *v);
  if (const auto v = o.value("--dtype")) p.dtype = parse_dtype("--dtype", *v);
  p.fp32_gradients = o.has("--fp32-gradients") ? 1 : 0;
  set_float(o, "--grad-scale", &p.grad_scale);
  ganloss_loss_params_t& lp = p.params;
  set_float(o, "--real-target", &lp.real_target);
  set_float(o, "--fake-target", &lp.fake_target);
  set_float(o, "--margin-real", &lp.margin_real);
  set_float(o, "--margin-fake", &lp.margin_fake);
  if (const auto v = o.value("--ls-labels")) {
    const std::vector<std::string_view> labels = split_list("--ls-labels", *v);
    if (labels.size() != 3) {
      throw_usage_error("--ls-labels needs three numbers A,B,C (fake, real, generator), got %s",
                        quoted(*v).c_str());
    }
    lp.ls_fake_label = parse_finite_float("--ls-labels", labels[0]);
    lp.ls_real_label = parse_finite_float("--ls-labels", labels[1]);
    lp.ls_gen_label = parse_finite_float("--ls-labels", labels[2]);
  }
  return p;
}

// Logits per segment of one side: the value count must split evenly.
int64_t per_segment(const std::vector<float>& values, int64_t segments, const std::string& path,
                    const char* side) {
  const auto n = static_cast<int64_t>(values.size());
  if (n % segments != 0) {
    throw_failure("%s logits: %lld values in %s do not split into %lld equal segments", side,
                  static_cast<long long>(n), source_name(path).c_str(),
                  static_cast<long long>(segments));
  }
  return n / segments;
}

std::string to_json(const ganloss_problem_t& p, int32_t backend, const HostResults& r) {
  JsonWriter json;
  json.begin_object();
  json.key("backend");
  json.string(backend_name(backend));
  json.key("dtype");
  json.string(dtype_name(p.dtype));
  json.key("fp32_gradients");
  json.boolean(p.fp32_gradients != 0);
  const struct {
    const char* name;
    const std::vector<float>* values;
  } arrays[] = {{"d_loss", &r.d_loss},           {"d_loss_real", &r.d_loss_real},
                {"d_loss_fake", &r.d_loss_fake}, {"g_loss", &r.g_loss},
                {"grad_real", &r.grad_real},     {"grad_fake_d", &r.grad_fake_d},
                {"grad_fake_g", &r.grad_fake_g}, {"loss_real", &r.loss_real},
                {"loss_fake_d", &r.loss_fake_d}, {"loss_fake_g", &r.loss_fake_g}};
  for (const auto& a : arrays) {
    if (a.values->empty()) continue;  // element losses exist only for --reduction none
    json.key(a.name);
    json.float_array(*a.values);
  }
  json.end_object();
  return json.text();
}

}  // namespace

int run_eval(std::span<char* const> args) {
  if (wants_help(args)) {
    write_stdout(kEvalHelp);
    return kExitSuccess;
  }
  const ParsedOptions o = parse_options("eval", args, kEvalOptions);
  ganloss_problem_t p = problem_from(o);
  int64_t segments = 1;
  if (const auto v = o.value("--segments")) {
    segments = parse_int64("--segments", *v, 1, std::numeric_limits<int64_t>::max());
  }
  const std::string real_path(o.required("--real"));
  const std::string fake_path(o.required("--fake"));
  if (real_path == "-" && fake_path == "-") {
    throw_usage_error("--real and --fake cannot both read standard input");
  }
  BackendChoice choice = BackendChoice::auto_select;
  if (const auto v = o.value("--backend")) choice = parse_backend("--backend", *v, false, true);
  const int threads = threads_option(o);

  const int32_t backend = resolve_backend(choice);
  const std::vector<float> real = read_logits(real_path, p.dtype);
  const std::vector<float> fake = read_logits(fake_path, p.dtype);
  p.segments = segments;
  p.real_count = per_segment(real, segments, real_path, "real");
  p.fake_count = per_segment(fake, segments, fake_path, "fake");

  BackendCall call(p, backend, threads, p.reduction == GANLOSS_REDUCTION_NONE);
  call.upload(real, fake);
  call.run();
  const HostResults results = call.download();
  if (!results.stray_writes.empty()) {
    throw_failure("internal error: the %s backend: %s", backend_name(backend),
                  results.stray_writes[0].c_str());
  }
  write_stdout(to_json(p, backend, results));
  return kExitSuccess;
}

}  // namespace cli
}  // namespace ganloss
