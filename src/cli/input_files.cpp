// Reading and parsing the text inputs of `ganloss eval`; see input_files.hpp.
#include "input_files.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

#include "cli_error.hpp"
#include "enum_names.hpp"
#include "ganloss/ganloss.h"
#include "host_dtype.hpp"
#include "options.hpp"

namespace ganloss {
namespace cli {
namespace {

bool is_separator(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '\v' || c == '\f';
}

// Calls visit(token, line) for every token of `text`, in order.
template <typename Visit>
void for_each_token(std::string_view text, Visit visit) {
  int64_t line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    if (is_separator(text[i])) {
      if (text[i] == '\n') ++line;
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && !is_separator(text[end]))
      ++end;
    visit(text.substr(i, end - i), line);
    i = end;
  }
}

// Whether a finite float stays finite when stored as `dtype`.
bool fits(float v, int32_t dtype) {
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      return std::isfinite(detail::half_to_float(detail::float_to_half(v)));
    case GANLOSS_DTYPE_BF16:
      return std::isfinite(detail::bfloat16_to_float(detail::float_to_bfloat16(v)));
    default:
      return true;
  }
}

// One f32 token; not-a-number and overflow are failures naming the place.
float parse_number(std::string_view token, const std::string& name, int64_t line) {
  float v = 0.0f;
  switch (parse_float_text(token, &v)) {
    case FloatText::not_a_number:
      throw_failure("%s line %lld: %s is not a number", name.c_str(), static_cast<long long>(line),
                    quoted(token).c_str());
    case FloatText::overflow:
      throw_failure("%s line %lld: %s is outside the f32 range", name.c_str(),
                    static_cast<long long>(line), quoted(token).c_str());
    case FloatText::ok:
      break;
  }
  return v;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

void read_all(std::FILE* f, const std::string& name, std::string* text) {
  errno = 0;
  char chunk[1 << 16];
  for (;;) {
    const std::size_t n = std::fread(chunk, 1, sizeof chunk, f);
    text->append(chunk, n);
    if (n < sizeof chunk) break;
  }
  if (std::ferror(f)) {
    throw_failure("cannot read %s: %s", name.c_str(),
                  errno != 0 ? std::strerror(errno) : "read error");
  }
}

}  // namespace

std::string source_name(const std::string& path) {
  return path == "-" ? std::string("standard input") : quoted(path, path.size());
}

std::string read_text(const std::string& path) {
  const std::string name = source_name(path);
  std::string text;
  if (path == "-") {
    read_all(stdin, name, &text);
    return text;
  }
  errno = 0;
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw_failure("cannot open %s: %s", name.c_str(), std::strerror(errno));
  read_all(file.get(), name, &text);
  return text;
}

std::vector<float> parse_logits(std::string_view text, std::string_view source, int32_t dtype) {
  const std::string name(source);
  std::vector<float> values;
  for_each_token(text, [&](std::string_view token, int64_t line) {
    const float v = parse_number(token, name, line);
    if (std::isfinite(v) && !fits(v, dtype)) {
      throw_failure("%s line %lld: %s is outside the %s range", name.c_str(),
                    static_cast<long long>(line), quoted(token).c_str(), dtype_name(dtype));
    }
    values.push_back(v);
  });
  if (values.empty()) throw_failure("%s holds no logits", name.c_str());
  return values;
}

std::vector<float> parse_weights(std::string_view text, std::string_view source) {
  const std::string name(source);
  std::vector<float> values;
  for_each_token(text, [&](std::string_view token, int64_t line) {
    const float v = parse_number(token, name, line);
    // !(v >= 0) also catches NaN.
    if (!std::isfinite(v) || !(v >= 0.0f)) {
      throw_failure("%s line %lld: weight %s must be finite and >= 0", name.c_str(),
                    static_cast<long long>(line), quoted(token).c_str());
    }
    values.push_back(v);
  });
  if (values.empty()) throw_failure("%s holds no weights", name.c_str());
  return values;
}

std::vector<int64_t> parse_offsets(std::string_view text, std::string_view source) {
  const std::string name(source);
  std::vector<int64_t> values;
  for_each_token(text, [&](std::string_view token, int64_t line) {
    // from_chars takes no '+', which people type; accept one.
    std::string_view digits = token;
    if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc::result_out_of_range) {
      throw_failure("%s line %lld: offset %s is out of range", name.c_str(),
                    static_cast<long long>(line), quoted(token).c_str());
    }
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      throw_failure("%s line %lld: offset %s is not an integer", name.c_str(),
                    static_cast<long long>(line), quoted(token).c_str());
    }
    values.push_back(v);
  });
  if (values.size() < 2) {
    throw_failure("%s holds %zu offsets; segments + 1 (at least 2) are needed", name.c_str(),
                  values.size());
  }
  return values;
}

std::vector<float> read_logits(const std::string& path, int32_t dtype) {
  return parse_logits(read_text(path), source_name(path), dtype);
}

std::vector<float> read_weights(const std::string& path) {
  return parse_weights(read_text(path), source_name(path));
}

std::vector<int64_t> read_offsets(const std::string& path) {
  return parse_offsets(read_text(path), source_name(path));
}

}  // namespace cli
}  // namespace ganloss
