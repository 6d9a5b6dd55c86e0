// libFuzzer harness for the text inputs of `ganloss eval` (src/cli/input_files.hpp): the whole
// input is given to parse_logits with each dtype, to parse_weights and to parse_offsets. Each
// either returns or throws the tool's CliError with a one-line message; any other exception
// aborts. A successful parse must agree with an independent reading of the same text: one value
// per token (tokens split at spaces, tabs, newlines, commas, \v and \f), each equal to the C
// library's strtof / strtoll of the token, within the dtype's range for logits, finite and
// >= 0 for weights.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "byte_reader.hpp"
#include "cli_error.hpp"
#include "ganloss/ganloss.h"
#include "host_dtype.hpp"
#include "input_files.hpp"

namespace {

using ganloss::cli::CliError;

bool separator(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '\v' || c == '\f';
}

std::vector<std::string> tokens_of(std::string_view text) {
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    if (separator(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && !separator(text[end]))
      ++end;
    tokens.emplace_back(text.substr(i, end - i));
    i = end;
  }
  return tokens;
}

[[noreturn]] void mismatch(const char* what, const std::string& token) {
  std::fprintf(stderr, "\nfuzz_logits_parser: %s, token '", what);
  for (const char c : token)
    std::fprintf(stderr, std::isprint(static_cast<unsigned char>(c)) ? "%c" : "\\x%02x",
                 static_cast<unsigned char>(c));
  std::fprintf(stderr, "'\n");
  std::fflush(stderr);
  std::abort();
}

// The float a parsed token must give: the C library's correctly rounded strtof of the token
// (a leading '+' allowed), which must consume the whole token. NaN matches any NaN.
void check_float(const std::string& token, float got) {
  errno = 0;
  char* end = nullptr;
  const float want = std::strtof(token.c_str(), &end);
  if (end != token.c_str() + token.size()) mismatch("accepted a token strtof does not", token);
  if (std::isnan(want) != std::isnan(got)) mismatch("NaN differs from strtof", token);
  if (!std::isnan(want) && std::memcmp(&want, &got, sizeof want) != 0) {
    std::fprintf(stderr, "parsed %.9g (%a), strtof %.9g (%a)\n", static_cast<double>(got),
                 static_cast<double>(got), static_cast<double>(want), static_cast<double>(want));
    mismatch("value differs from strtof", token);
  }
}

void check_message(const CliError& e) {
  const std::string m = e.what();
  FUZZ_CHECK(!m.empty());
  FUZZ_CHECK(e.exit_code() == ganloss::cli::kExitFailure);
}

void parse_logits(std::string_view text, const std::vector<std::string>& tokens, int32_t dtype) {
  std::vector<float> values;
  try {
    values = ganloss::cli::parse_logits(text, "fuzz input", dtype);
  } catch (const CliError& e) {
    check_message(e);
    return;
  }
  FUZZ_CHECK(!values.empty());
  FUZZ_CHECK(values.size() == tokens.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    check_float(tokens[i], values[i]);
    const float v = values[i];
    if (!std::isfinite(v)) continue;  // NaN and infinities are logits too
    if (dtype == GANLOSS_DTYPE_F16) {
      FUZZ_CHECK(std::isfinite(ganloss::detail::half_to_float(ganloss::detail::float_to_half(v))));
    } else if (dtype == GANLOSS_DTYPE_BF16) {
      FUZZ_CHECK(
          std::isfinite(ganloss::detail::bfloat16_to_float(ganloss::detail::float_to_bfloat16(v))));
    }
  }
}

void parse_weights(std::string_view text, const std::vector<std::string>& tokens) {
  std::vector<float> values;
  try {
    values = ganloss::cli::parse_weights(text, "fuzz input");
  } catch (const CliError& e) {
    check_message(e);
    return;
  }
  FUZZ_CHECK(!values.empty());
  FUZZ_CHECK(values.size() == tokens.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    check_float(tokens[i], values[i]);
    FUZZ_CHECK(std::isfinite(values[i]) && values[i] >= 0.0f);
  }
}

void parse_offsets(std::string_view text, const std::vector<std::string>& tokens) {
  std::vector<int64_t> values;
  try {
    values = ganloss::cli::parse_offsets(text, "fuzz input");
  } catch (const CliError& e) {
    check_message(e);
    return;
  }
  FUZZ_CHECK(values.size() >= 2);
  FUZZ_CHECK(values.size() == tokens.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string& t = tokens[i];
    // Decimal digits after at most one sign; strtoll reads it the same way.
    const std::size_t digits = (t[0] == '+' || t[0] == '-') ? 1 : 0;
    if (t.size() == digits) mismatch("accepted a sign alone", t);
    for (std::size_t k = digits; k < t.size(); ++k) {
      if (t[k] < '0' || t[k] > '9') mismatch("accepted a non-digit in an offset", t);
    }
    errno = 0;
    const long long want = std::strtoll(t.c_str(), nullptr, 10);
    if (errno == ERANGE) mismatch("accepted an offset beyond int64", t);
    if (want != values[i]) mismatch("offset differs from strtoll", t);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> tokens = tokens_of(text);
  try {
    for (const int32_t dtype : {GANLOSS_DTYPE_F32, GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16})
      parse_logits(text, tokens, dtype);
    parse_weights(text, tokens);
    parse_offsets(text, tokens);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nfuzz_logits_parser: unexpected exception: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "\nfuzz_logits_parser: unexpected exception of an unknown type\n");
    std::abort();
  }
  return 0;
}
