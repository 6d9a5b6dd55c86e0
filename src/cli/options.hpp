// Command-line option parsing for the ganloss tool: `--name value` and `--name=value` pairs and
// value-less flags, plus strict parsers for the numbers they carry. Every malformed option is a
// usage error (exit status 2) whose message names the option.
#ifndef GANLOSS_CLI_OPTIONS_HPP_
#define GANLOSS_CLI_OPTIONS_HPP_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ganloss {
namespace cli {

struct OptionSpec {
  std::string_view name;  // with the leading "--"
  bool takes_value;
};

// The options of one command line, each given at most once.
class ParsedOptions {
 public:
  explicit ParsedOptions(std::string_view command) : command_(command) {}

  // The option's value, or nothing if it was not given (flags give an empty value).
  std::optional<std::string_view> value(std::string_view name) const;
  bool has(std::string_view name) const { return value(name).has_value(); }
  // The value of an option the command cannot do without.
  std::string_view required(std::string_view name) const;

  // Records one option; giving the same option twice is a usage error.
  void add(std::string_view name, std::string_view value);

 private:
  std::string command_;
  std::vector<std::pair<std::string_view, std::string_view>> values_;
};

// Whether the arguments ask for help (`--help` or `-h` anywhere), which wins over any error.
bool wants_help(std::span<char* const> args);

// Parses the arguments after the command name. Unknown options, repeated options, missing
// values and positional arguments are usage errors.
ParsedOptions parse_options(std::string_view command, std::span<char* const> args,
                            std::span<const OptionSpec> specs);

// Decimal text to float, the whole text or nothing: an optional sign, digits with an optional
// point and exponent, or nan / inf / infinity in any case. Magnitudes too large for f32 are
// `overflow`, never rounded to infinity; magnitudes too small round to 0 or a subnormal.
enum class FloatText { ok, not_a_number, overflow };
FloatText parse_float_text(std::string_view text, float* value);

// Strict number parsers for option values: the whole text must be the number, in range.
int64_t parse_int64(std::string_view option, std::string_view text, int64_t min, int64_t max);
uint64_t parse_uint64(std::string_view option, std::string_view text);
float parse_finite_float(std::string_view option, std::string_view text);

// The CPU backend's thread count from --threads: 0 (all hardware threads) when absent.
int threads_option(const ParsedOptions& options);

// Splits "a,b,c" at commas; empty items are a usage error.
std::vector<std::string_view> split_list(std::string_view option, std::string_view text);

// Printable form of user text for messages: quoted, control bytes escaped (UTF-8 passes), and
// cut after `max_shown` bytes (a bad token can be a whole binary file; a path must stay whole).
std::string quoted(std::string_view text, std::size_t max_shown = 40);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_OPTIONS_HPP_
