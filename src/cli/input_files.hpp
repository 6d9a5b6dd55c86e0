// The inputs of `ganloss eval` as text: logits, weights and offsets, read from a file or
// standard input ("-") as numbers separated by any mix of spaces, tabs, newlines and commas.
// Errors name the source and the line.
#ifndef GANLOSS_CLI_INPUT_FILES_HPP_
#define GANLOSS_CLI_INPUT_FILES_HPP_

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

// Per-element weights: f32 numbers, each finite and >= 0 (the library's contract).
std::vector<float> parse_weights(std::string_view text, std::string_view source);

// Segment offsets: at least two integers (a number with a fraction or an exponent is a
// failure). Their order and range are checked against the logits by the caller.
std::vector<int64_t> parse_offsets(std::string_view text, std::string_view source);

// read_text() then the parser.
std::vector<float> read_logits(const std::string& path, int32_t dtype);
std::vector<float> read_weights(const std::string& path);
std::vector<int64_t> read_offsets(const std::string& path);

// How messages name a path: 'file.txt', or standard input.
std::string source_name(const std::string& path);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_INPUT_FILES_HPP_
