// The names the ganloss tool uses for the library's enumerations, in both directions. Parsing
// an unknown name is a usage error that lists the accepted ones.
#ifndef GANLOSS_CLI_ENUM_NAMES_HPP_
#define GANLOSS_CLI_ENUM_NAMES_HPP_

#include <cstdint>
#include <optional>
#include <string_view>

#include "ganloss/ganloss.h"

namespace ganloss {
namespace cli {

// Backend choices on the command line: the library's three plus `auto` (CUDA when usable,
// else the CPU backend) and `all` (bench only).
enum class BackendChoice { auto_select, cuda, cpu, reference, all };

ganloss_loss_kind_t parse_loss_kind(std::string_view option, std::string_view name);
ganloss_reduction_t parse_reduction(std::string_view option, std::string_view name);
ganloss_dtype_t parse_dtype(std::string_view option, std::string_view name);
// A dtype, or nothing for "all".
std::optional<ganloss_dtype_t> parse_dtype_or_all(std::string_view option, std::string_view name);
// `allow_all` admits "all"; `allow_reference` admits "reference".
BackendChoice parse_backend(std::string_view option, std::string_view name, bool allow_all,
                            bool allow_reference);

// Whether `kind` is one of the relativistic kinds, which must be both the D and the G kind.
bool is_relativistic(int32_t kind);

const char* loss_kind_name(int32_t kind);
const char* reduction_name(int32_t reduction);
const char* dtype_name(int32_t dtype);
const char* backend_name(int32_t backend);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_ENUM_NAMES_HPP_
