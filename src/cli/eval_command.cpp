// `ganloss eval`: losses and gradients of logits read from text, printed as one JSON object.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend_call.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "device_info.hpp"
#include "enum_names.hpp"
#include "input_files.hpp"
#include "json_writer.hpp"
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
                       least-squares, or one of the relativistic kinds, which must be both
                       the D and the G loss: relativistic (paired, D sp(f_i - r_i): as many
                       real as fake logits in each segment), relativistic-average,
                       relativistic-average-hinge, relativistic-average-least-squares
                       (r - mean(f) against f - mean(r) in each segment)
  --d-loss KIND        D loss (overrides --loss; without --loss, give --g-loss too)
  --g-loss KIND        G loss (overrides --loss)
  --reduction R        mean (default), sum, none or mean-nonzero, per side and segment:
                       mean divides the sum of w*l by the sum of the weights w (by the
                       count without weights), mean-nonzero by the number of w != 0
  --real-target T      logistic D target of the real term, in [0, 1] (default 1); for label
                       smoothing ls, one-sided: T = 1 - ls, two-sided (TF-GAN): T = 1 - ls/2
  --fake-target T      logistic D target of the fake term, in [0, 1] (default 0)
  --margin-real M      hinge margin m_r (default 1)
  --margin-fake M      hinge margin m_f (default 1)
  --ls-labels A,B,C    least-squares labels: A fake, B real, C generator (default 0,1,1)
  --grad-scale X       multiplies every gradient, e.g. a loss scale (default 1)

Input:
  --real FILE          real logits ('-' reads standard input)
  --fake FILE          fake logits ('-' reads standard input; one input file at most may)
  --real-weights FILE  one weight per real logit (per pair for relativistic), finite and
                       >= 0: each term is multiplied by its weight
  --fake-weights FILE  one weight per fake logit (not with relativistic)
  --segments S         split each file into S segments of equal size (default 1); value i
                       of segment s is value s * (count / S) + i of the file
  --real-offsets FILE  ragged segments, of any length, empty ones included: S + 1 integers,
  --fake-offsets FILE  non-decreasing within [0, count]; segment s holds the values
                       [o[s], o[s+1]) of its file. Give both (relativistic: with equal
                       lengths); --segments, if given, must be S. A value outside every
                       segment has no loss and a zero gradient.
  --dtype D            f32 (default), f16 or bf16: how the logits, and by default their
                       gradients, are stored for the call
  --fp32-gradients     store the gradients as f32 whatever --dtype is (for f16 and bf16
                       gradients too small for the dtype, e.g. a mean over many logits)

Output selection:
  --stats              also print per-segment statistics of the logits (see "stats")

Execution:
  --backend B          auto (default: cuda when usable, else cpu), cuda, cpu or reference
  --threads N          CPU backend threads, at most 1024 (default 0: all)

Input format: decimal numbers separated by any mix of spaces, tabs, newlines and commas;
nan, inf, -inf and infinity are accepted in any case. A value beyond the range of the dtype
is an error (never rounded to infinity); one too small for it rounds to 0 or a subnormal.
Weights are read the same way as f32; offsets must be integers (no fraction or exponent).

Output: one JSON object with
  "backend"      the backend that ran: "cpu", "cuda" or "reference"
  "dtype"        the dtype of the logits
  "fp32_gradients"
                 true when the gradients were stored as f32 (--fp32-gradients), false when
                 in the logits' dtype
  "d_loss", "d_loss_real", "d_loss_fake", "g_loss"
                 per-segment losses (one number per segment; sums for --reduction none);
                 g_loss includes the G terms over the real logits (relativistic)
  "grad_real", "grad_fake_d", "grad_fake_g", "grad_real_g"
                 gradients of every logit, in file order, as stored: rounded to the
                 gradient dtype; grad_real_g (dL_G / d real) is zero unless the loss is
                 relativistic
  "loss_real", "loss_fake_d", "loss_fake_g", "loss_real_g"
                 per-element losses times their weights, with --reduction none only
  "stats"        with --stats: an object of arrays with one entry per segment, over the
                 segment's finite logits, unweighted (0 when there are none):
                 mean_sigmoid_real (D(x)), mean_sigmoid_fake (D(G(z))),
                 frac_real_positive and frac_fake_negative (D's accuracy), mean_sign_real
                 (the ADA overfitting heuristic), and the counts of NaN or infinite logits
                 nonfinite_real and nonfinite_fake
Losses are always computed and stored in f32 (from the logits as stored in --dtype).
Numbers have 9 significant digits (enough to round-trip f32). JSON has no NaN or infinity:
those values are printed as the strings "NaN", "Infinity" and "-Infinity".

Exit status: 0 success, 1 failure (input, data or library error), 2 usage error.
)";

constexpr OptionSpec kEvalOptions[] = {
    {"--loss", true},         {"--d-loss", true},      {"--g-loss", true},
    {"--real", true},         {"--fake", true},        {"--real-weights", true},
    {"--fake-weights", true}, {"--segments", true},    {"--real-offsets", true},
    {"--fake-offsets", true}, {"--real-target", true}, {"--fake-target", true},
    {"--margin-real", true},  {"--margin-fake", true}, {"--ls-labels", true},
    {"--grad-scale", true},   {"--reduction", true},   {"--backend", true},
    {"--threads", true},      {"--dtype", true},       {"--fp32-gradients", false},
    {"--stats", false},
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
  if ((is_relativistic(p.d_loss) || is_relativistic(p.g_loss)) && p.d_loss != p.g_loss) {
    throw_usage_error("a relativistic loss must be both the D and the G loss, got D %s and G %s",
                      loss_kind_name(p.d_loss), loss_kind_name(p.g_loss));
  }
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

// The files of one command line, each optional one empty when not given.
struct InputPaths {
  std::string real, fake, real_weights, fake_weights, real_offsets, fake_offsets;
};

// Usage errors about which files are given, before any is read.
InputPaths input_paths(const ParsedOptions& o, const ganloss_problem_t& p) {
  InputPaths paths;
  paths.real = std::string(o.required("--real"));
  paths.fake = std::string(o.required("--fake"));
  const struct {
    const char* option;
    std::string* path;
  } optional[] = {{"--real-weights", &paths.real_weights},
                  {"--fake-weights", &paths.fake_weights},
                  {"--real-offsets", &paths.real_offsets},
                  {"--fake-offsets", &paths.fake_offsets}};
  for (const auto& f : optional) {
    const auto v = o.value(f.option);
    if (!v) continue;
    // An empty path would read as "not given".
    if (v->empty()) throw_usage_error("%s needs a file name", f.option);
    *f.path = std::string(*v);
  }
  // Standard input can be read once.
  const char* from_stdin = nullptr;
  const std::pair<const char*, const std::string*> all[] = {
      {"--real", &paths.real},
      {"--fake", &paths.fake},
      {"--real-weights", &paths.real_weights},
      {"--fake-weights", &paths.fake_weights},
      {"--real-offsets", &paths.real_offsets},
      {"--fake-offsets", &paths.fake_offsets}};
  for (const auto& [option, path] : all) {
    if (*path != "-") continue;
    if (from_stdin != nullptr) {
      throw_usage_error("%s and %s cannot both read standard input", from_stdin, option);
    }
    from_stdin = option;
  }
  if (paths.real_offsets.empty() != paths.fake_offsets.empty()) {
    throw_usage_error("%s needs %s too: a ragged problem takes the offsets of both sides",
                      paths.real_offsets.empty() ? "--fake-offsets" : "--real-offsets",
                      paths.real_offsets.empty() ? "--real-offsets" : "--fake-offsets");
  }
  if (p.d_loss == GANLOSS_LOSS_RELATIVISTIC && !paths.fake_weights.empty()) {
    throw_usage_error(
        "--fake-weights: the paired relativistic loss takes one weight per pair; give them "
        "with --real-weights");
  }
  return paths;
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

// Weights, when given, one per logit of their side.
std::vector<float> read_side_weights(const std::string& path, std::size_t logits,
                                     const std::string& logits_path, const char* side) {
  if (path.empty()) return {};
  std::vector<float> weights = read_weights(path);
  if (weights.size() != logits) {
    throw_failure("%s weights: %zu values in %s, but %s holds %zu %s logits", side, weights.size(),
                  source_name(path).c_str(), source_name(logits_path).c_str(), logits, side);
  }
  return weights;
}

// What the library requires of offsets, checked here for every backend (for CUDA the library
// could not read them before the launch; the data is on the host anyway).
void check_offsets(const std::vector<int64_t>& offsets, int64_t count, const std::string& path,
                   const char* side) {
  const std::string name = source_name(path);
  for (std::size_t s = 0; s < offsets.size(); ++s) {
    const int64_t v = offsets[s];
    if (v < 0 || v > count) {
      throw_failure(
          "%s offsets: offset %zu (%lld) in %s is outside [0, %lld], the %s logits' "
          "count",
          side, s, static_cast<long long>(v), name.c_str(), static_cast<long long>(count), side);
    }
    if (s > 0 && v < offsets[s - 1]) {
      throw_failure(
          "%s offsets: offset %zu (%lld) in %s is below the one before it (%lld); "
          "offsets must be non-decreasing",
          side, s, static_cast<long long>(v), name.c_str(), static_cast<long long>(offsets[s - 1]));
    }
  }
}

void add_stats(JsonWriter& json, const std::vector<ganloss_segment_stats_t>& stats) {
  const struct {
    const char* name;
    float ganloss_segment_stats_t::*member;
  } means[] = {{"mean_sigmoid_real", &ganloss_segment_stats_t::mean_sigmoid_real},
               {"mean_sigmoid_fake", &ganloss_segment_stats_t::mean_sigmoid_fake},
               {"frac_real_positive", &ganloss_segment_stats_t::frac_real_positive},
               {"frac_fake_negative", &ganloss_segment_stats_t::frac_fake_negative},
               {"mean_sign_real", &ganloss_segment_stats_t::mean_sign_real}};
  const struct {
    const char* name;
    int64_t ganloss_segment_stats_t::*member;
  } counts[] = {{"nonfinite_real", &ganloss_segment_stats_t::nonfinite_real},
                {"nonfinite_fake", &ganloss_segment_stats_t::nonfinite_fake}};
  json.key("stats");
  json.begin_object();
  for (const auto& m : means) {
    std::vector<float> values;
    for (const ganloss_segment_stats_t& st : stats)
      values.push_back(st.*m.member);
    json.key(m.name);
    json.float_array(values);
  }
  for (const auto& c : counts) {
    json.key(c.name);
    json.begin_array();
    for (const ganloss_segment_stats_t& st : stats)
      json.integer(st.*c.member);
    json.end_array();
  }
  json.end_object();
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
    const HostArray* values;
  } arrays[] = {{"d_loss", &r.d_loss},           {"d_loss_real", &r.d_loss_real},
                {"d_loss_fake", &r.d_loss_fake}, {"g_loss", &r.g_loss},
                {"grad_real", &r.grad_real},     {"grad_fake_d", &r.grad_fake_d},
                {"grad_fake_g", &r.grad_fake_g}, {"grad_real_g", &r.grad_real_g},
                {"loss_real", &r.loss_real},     {"loss_fake_d", &r.loss_fake_d},
                {"loss_fake_g", &r.loss_fake_g}, {"loss_real_g", &r.loss_real_g}};
  for (const auto& a : arrays) {
    if (a.values->empty()) continue;  // element losses exist only for --reduction none
    json.key(a.name);
    json.float_array(a.values->values());
  }
  if (!r.stats.empty()) add_stats(json, r.stats);
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
  std::optional<int64_t> segments_option;
  if (const auto v = o.value("--segments")) {
    segments_option = parse_int64("--segments", *v, 1, std::numeric_limits<int64_t>::max());
  }
  const InputPaths paths = input_paths(o, p);
  BackendChoice choice = BackendChoice::auto_select;
  if (const auto v = o.value("--backend")) choice = parse_backend("--backend", *v, false, true);
  const int threads = threads_option(o);
  const bool paired = p.d_loss == GANLOSS_LOSS_RELATIVISTIC;

  const int32_t backend = resolve_backend(choice);
  const std::vector<float> real = read_logits(paths.real, p.dtype);
  const std::vector<float> fake = read_logits(paths.fake, p.dtype);
  const std::vector<float> real_weights =
      read_side_weights(paths.real_weights, real.size(), paths.real, "real");
  const std::vector<float> fake_weights =
      read_side_weights(paths.fake_weights, fake.size(), paths.fake, "fake");
  std::vector<int64_t> real_offsets, fake_offsets;
  if (!paths.real_offsets.empty()) {
    real_offsets = read_offsets(paths.real_offsets);
    fake_offsets = read_offsets(paths.fake_offsets);
    if (real_offsets.size() != fake_offsets.size()) {
      throw_failure("%s holds %zu offsets and %s %zu: both sides need segments + 1",
                    source_name(paths.real_offsets).c_str(), real_offsets.size(),
                    source_name(paths.fake_offsets).c_str(), fake_offsets.size());
    }
    const auto segments = static_cast<int64_t>(real_offsets.size()) - 1;
    if (segments_option && *segments_option != segments) {
      throw_failure("--segments %lld disagrees with the offsets, which give %lld segments",
                    static_cast<long long>(*segments_option), static_cast<long long>(segments));
    }
    check_offsets(real_offsets, static_cast<int64_t>(real.size()), paths.real_offsets, "real");
    check_offsets(fake_offsets, static_cast<int64_t>(fake.size()), paths.fake_offsets, "fake");
    for (int64_t s = 0; paired && s < segments; ++s) {
      const auto i = static_cast<std::size_t>(s);
      const int64_t nr = real_offsets[i + 1] - real_offsets[i];
      const int64_t nf = fake_offsets[i + 1] - fake_offsets[i];
      if (nr != nf) {
        throw_failure(
            "the relativistic loss pairs real and fake logits: segment %lld has %lld "
            "real and %lld fake",
            static_cast<long long>(s), static_cast<long long>(nr), static_cast<long long>(nf));
      }
    }
    p.ragged = 1;
    p.segments = segments;
    p.real_count = static_cast<int64_t>(real.size());
    p.fake_count = static_cast<int64_t>(fake.size());
  } else {
    p.segments = segments_option.value_or(1);
    p.real_count = per_segment(real, p.segments, paths.real, "real");
    p.fake_count = per_segment(fake, p.segments, paths.fake, "fake");
    if (paired && p.real_count != p.fake_count) {
      throw_failure(
          "the relativistic loss pairs real and fake logits: it needs as many of each "
          "per segment, got %lld real and %lld fake",
          static_cast<long long>(p.real_count), static_cast<long long>(p.fake_count));
    }
  }

  OutputRequest request;
  request.element_losses = p.reduction == GANLOSS_REDUCTION_NONE;
  request.stats = o.has("--stats");
  BackendCall call(p, backend, threads, request);
  const std::vector<uint8_t> real_bytes = encode_values(real, p.dtype);
  const std::vector<uint8_t> fake_bytes = encode_values(fake, p.dtype);
  call.upload(
      HostInputs{real_bytes, fake_bytes, real_weights, fake_weights, real_offsets, fake_offsets});
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
