// Reading and parsing logits text for `ganloss eval`; see logits_file.hpp.
#include "logits_file.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

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
    const std::string_view token = text.substr(i, end - i);
    float v = 0.0f;
    switch (parse_float_text(token, &v)) {
      case FloatText::not_a_number:
        throw_failure("%s line %lld: %s is not a number", name.c_str(),
                      static_cast<long long>(line), quoted(token).c_str());
      case FloatText::overflow:
        throw_failure("%s line %lld: %s is outside the f32 range", name.c_str(),
                      static_cast<long long>(line), quoted(token).c_str());
      case FloatText::ok:
        break;
    }
    if (std::isfinite(v) && !fits(v, dtype)) {
      throw_failure("%s line %lld: %s is outside the %s range", name.c_str(),
                    static_cast<long long>(line), quoted(token).c_str(), dtype_name(dtype));
    }
    values.push_back(v);
    i = end;
  }
  if (values.empty()) throw_failure("%s holds no logits", name.c_str());
  return values;
}

std::vector<float> read_logits(const std::string& path, int32_t dtype) {
  return parse_logits(read_text(path), source_name(path), dtype);
}

}  // namespace cli
}  // namespace ganloss
