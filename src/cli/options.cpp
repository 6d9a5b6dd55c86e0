// Option and number parsing for the ganloss tool; see options.hpp.
#include "options.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "cli_error.hpp"
#include "ganloss/ganloss.h"

namespace ganloss {
namespace cli {
namespace {

// from_chars takes no leading '+', which people type; accept exactly one.
std::string_view without_plus(std::string_view text) {
  if (text.size() > 1 && text[0] == '+' && text[1] != '+' && text[1] != '-') text.remove_prefix(1);
  return text;
}

std::string to_string(std::string_view v) {
  return std::string(v);
}

}  // namespace

std::string quoted(std::string_view text, std::size_t max_shown) {
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < max_shown; ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", u);
      out += escaped;
    } else {
      out += text[i];
    }
  }
  if (text.size() > max_shown) out += "...";
  out += "'";
  return out;
}

std::optional<std::string_view> ParsedOptions::value(std::string_view name) const {
  for (const auto& [n, v] : values_) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::string_view ParsedOptions::required(std::string_view name) const {
  const std::optional<std::string_view> v = value(name);
  if (!v) {
    throw_usage_error("missing option %s (see 'ganloss %s --help')", to_string(name).c_str(),
                      command_.c_str());
  }
  return *v;
}

void ParsedOptions::add(std::string_view name, std::string_view value) {
  if (has(name)) throw_usage_error("option %s given more than once", to_string(name).c_str());
  values_.emplace_back(name, value);
}

bool wants_help(std::span<char* const> args) {
  for (const char* a : args) {
    const std::string_view arg(a);
    if (arg == "--help" || arg == "-h") return true;
  }
  return false;
}

ParsedOptions parse_options(std::string_view command, std::span<char* const> args,
                            std::span<const OptionSpec> specs) {
  ParsedOptions options(command);
  const std::string cmd(command);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg(args[i]);
    if (arg.size() > 1 && arg[0] == '-' && arg[1] != '-') {
      throw_usage_error(
          "unknown option %s for '%s' (options are spelled --name; see 'ganloss %s "
          "--help')",
          quoted(arg).c_str(), cmd.c_str(), cmd.c_str());
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      throw_usage_error("unexpected argument %s for '%s' (see 'ganloss %s --help')",
                        quoted(arg).c_str(), cmd.c_str(), cmd.c_str());
    }
    const std::size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      throw_usage_error("unknown option %s for '%s' (see 'ganloss %s --help')",
                        quoted(name).c_str(), cmd.c_str(), cmd.c_str());
    }
    if (!spec->takes_value) {
      if (eq != std::string_view::npos) {
        throw_usage_error("option %s takes no value", to_string(name).c_str());
      }
      options.add(name, "");
      continue;
    }
    if (eq != std::string_view::npos) {
      options.add(name, arg.substr(eq + 1));
      continue;
    }
    if (i + 1 >= args.size()) {
      throw_usage_error("option %s needs a value", to_string(name).c_str());
    }
    options.add(name, args[++i]);
  }
  return options;
}

int64_t parse_int64(std::string_view option, std::string_view text, int64_t min, int64_t max) {
  const std::string_view digits = without_plus(text);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc::result_out_of_range) {
    throw_usage_error("%s %s is out of range", to_string(option).c_str(), quoted(text).c_str());
  }
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    throw_usage_error("%s needs an integer, got %s", to_string(option).c_str(),
                      quoted(text).c_str());
  }
  if (v < min || v > max) {
    throw_usage_error("%s must lie in [%lld, %lld], got %lld", to_string(option).c_str(),
                      static_cast<long long>(min), static_cast<long long>(max),
                      static_cast<long long>(v));
  }
  return v;
}

uint64_t parse_uint64(std::string_view option, std::string_view text) {
  const std::string_view digits = without_plus(text);
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc::result_out_of_range) {
    throw_usage_error("%s %s is out of range", to_string(option).c_str(), quoted(text).c_str());
  }
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    throw_usage_error("%s needs a non-negative integer, got %s", to_string(option).c_str(),
                      quoted(text).c_str());
  }
  return v;
}

FloatText parse_float_text(std::string_view text, float* value) {
  const std::string_view number = without_plus(text);
  const char* const last = number.data() + number.size();
  float v = 0.0f;
  const auto [end, ec] = std::from_chars(number.data(), last, v);
  if (ec == std::errc::result_out_of_range && end == last) {
    // from_chars reports underflow and overflow alike; strtod (the "C" locale: the tool never
    // sets one) tells them apart and gives the tiny value to round.
    const std::string copy(number);
    const double wide = std::strtod(copy.c_str(), nullptr);
    if (std::fabs(wide) >= 1.0) return FloatText::overflow;
    *value = static_cast<float>(wide);
    return FloatText::ok;
  }
  if (ec != std::errc() || end != last) return FloatText::not_a_number;
  *value = v;
  return FloatText::ok;
}

float parse_finite_float(std::string_view option, std::string_view text) {
  float v = 0.0f;
  switch (parse_float_text(text, &v)) {
    case FloatText::overflow:
      throw_usage_error("%s %s is outside the f32 range", to_string(option).c_str(),
                        quoted(text).c_str());
    case FloatText::not_a_number:
      throw_usage_error("%s needs a number, got %s", to_string(option).c_str(),
                        quoted(text).c_str());
    case FloatText::ok:
      break;
  }
  if (!std::isfinite(v)) {
    throw_usage_error("%s must be finite, got %s", to_string(option).c_str(), quoted(text).c_str());
  }
  return v;
}

int threads_option(const ParsedOptions& options) {
  // The library runs at most GANLOSS_MAX_CPU_THREADS: a larger count would be printed but
  // never used.
  const auto v = options.value("--threads");
  return v ? static_cast<int>(parse_int64("--threads", *v, 0, GANLOSS_MAX_CPU_THREADS)) : 0;
}

std::vector<std::string_view> split_list(std::string_view option, std::string_view text) {
  std::vector<std::string_view> items;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t comma = text.find(',', begin);
    const std::string_view item = text.substr(
        begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin);
    if (item.empty()) {
      throw_usage_error("%s needs a comma-separated list without empty items, got %s",
                        to_string(option).c_str(), quoted(text).c_str());
    }
    items.push_back(item);
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  return items;
}

}  // namespace cli
}  // namespace ganloss
