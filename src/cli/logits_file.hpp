// Logits as text: decimal numbers separated by any mix of spaces, tabs, newlines and commas,
// read from a file or standard input ("-"). Every value must be representable in the dtype
// the call will use; errors name the source and the line.
#ifndef GANLOSS_CLI_LOGITS_FILE_HPP_
#define GANLOSS_CLI_LOGITS_FILE_HPP_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ganloss {
namespace cli {

// The whole content of `path`, or of standard input for "-".
std::string read_text(const std::string& path);

// The values of `text`, read from `source` (used in messages). Empty input, a token that is
// not a number, and a value beyond the range of `dtype` (a ganloss_dtype_t) are failures.
std::vector<float> parse_logits(std::string_view text, std::string_view source, int32_t dtype);

// read_text() then parse_logits().
std::vector<float> read_logits(const std::string& path, int32_t dtype);

// How messages name a path: 'file.txt', or standard input.
std::string source_name(const std::string& path);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_LOGITS_FILE_HPP_
