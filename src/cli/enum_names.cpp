// Name tables for the library's enumerations; see enum_names.hpp.
#include "enum_names.hpp"

#include <string>

#include "cli_error.hpp"
#include "options.hpp"

namespace ganloss {
namespace cli {
namespace {

struct Named {
  const char* name;
  int32_t value;
};

constexpr Named kLossKinds[] = {
    {"nonsaturating", GANLOSS_LOSS_NONSATURATING},
    {"minimax", GANLOSS_LOSS_MINIMAX},
    {"hinge", GANLOSS_LOSS_HINGE},
    {"wasserstein", GANLOSS_LOSS_WASSERSTEIN},
    {"least-squares", GANLOSS_LOSS_LEAST_SQUARES},
    {"relativistic", GANLOSS_LOSS_RELATIVISTIC},
    {"relativistic-average", GANLOSS_LOSS_RELATIVISTIC_AVERAGE},
    {"relativistic-average-hinge", GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE},
    {"relativistic-average-least-squares", GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES}};

constexpr Named kReductions[] = {{"none", GANLOSS_REDUCTION_NONE},
                                 {"sum", GANLOSS_REDUCTION_SUM},
                                 {"mean", GANLOSS_REDUCTION_MEAN},
                                 {"mean-nonzero", GANLOSS_REDUCTION_MEAN_NONZERO}};

constexpr Named kDTypes[] = {
    {"f32", GANLOSS_DTYPE_F32}, {"f16", GANLOSS_DTYPE_F16}, {"bf16", GANLOSS_DTYPE_BF16}};

// kDTypes plus "all", which no ganloss_dtype_t has as its value.
constexpr int32_t kAllDTypes = -1;
constexpr Named kDTypesOrAll[] = {{"f32", GANLOSS_DTYPE_F32},
                                  {"f16", GANLOSS_DTYPE_F16},
                                  {"bf16", GANLOSS_DTYPE_BF16},
                                  {"all", kAllDTypes}};

constexpr Named kBackends[] = {{"cuda", GANLOSS_BACKEND_CUDA},
                               {"cpu", GANLOSS_BACKEND_CPU},
                               {"reference", GANLOSS_BACKEND_REFERENCE}};

template <std::size_t N>
int32_t lookup(const Named (&table)[N], std::string_view option, std::string_view name,
               const char* what) {
  std::string accepted;
  for (const Named& n : table) {
    if (name == n.name) return n.value;
    if (!accepted.empty()) accepted += ", ";
    accepted += n.name;
  }
  throw_usage_error("%s: unknown %s %s (expected one of: %s)", std::string(option).c_str(), what,
                    quoted(name).c_str(), accepted.c_str());
}

template <std::size_t N>
const char* name_of(const Named (&table)[N], int32_t value) {
  for (const Named& n : table) {
    if (n.value == value) return n.name;
  }
  return "unknown";
}

}  // namespace

ganloss_loss_kind_t parse_loss_kind(std::string_view option, std::string_view name) {
  return static_cast<ganloss_loss_kind_t>(lookup(kLossKinds, option, name, "loss kind"));
}

ganloss_reduction_t parse_reduction(std::string_view option, std::string_view name) {
  return static_cast<ganloss_reduction_t>(lookup(kReductions, option, name, "reduction"));
}

ganloss_dtype_t parse_dtype(std::string_view option, std::string_view name) {
  return static_cast<ganloss_dtype_t>(lookup(kDTypes, option, name, "dtype"));
}

std::optional<ganloss_dtype_t> parse_dtype_or_all(std::string_view option, std::string_view name) {
  const int32_t v = lookup(kDTypesOrAll, option, name, "dtype");
  if (v == kAllDTypes) return std::nullopt;
  return static_cast<ganloss_dtype_t>(v);
}

BackendChoice parse_backend(std::string_view option, std::string_view name, bool allow_all,
                            bool allow_reference) {
  if (name == "auto") return BackendChoice::auto_select;
  if (name == "cuda") return BackendChoice::cuda;
  if (name == "cpu") return BackendChoice::cpu;
  if (allow_reference && name == "reference") return BackendChoice::reference;
  if (allow_all && name == "all") return BackendChoice::all;
  const char* accepted = allow_all         ? "auto, cuda, cpu, reference, all"
                         : allow_reference ? "auto, cuda, cpu, reference"
                                           : "auto, cuda, cpu";
  throw_usage_error("%s: unknown backend %s (expected one of: %s)", std::string(option).c_str(),
                    quoted(name).c_str(), accepted);
}

bool is_relativistic(int32_t kind) {
  return kind >= GANLOSS_LOSS_RELATIVISTIC;
}

const char* loss_kind_name(int32_t kind) {
  return name_of(kLossKinds, kind);
}
const char* reduction_name(int32_t reduction) {
  return name_of(kReductions, reduction);
}
const char* dtype_name(int32_t dtype) {
  return name_of(kDTypes, dtype);
}
const char* backend_name(int32_t backend) {
  return name_of(kBackends, backend);
}

}  // namespace cli
}  // namespace ganloss
