// Error construction and the single-line error report of the ganloss tool.
#include "cli_error.hpp"

#include <cstdarg>
#include <cstdio>
#include <vector>

namespace ganloss {
namespace cli {
namespace {

std::string vformat(const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return format;
  std::vector<char> buffer(static_cast<std::size_t>(n) + 1);
  std::vsnprintf(buffer.data(), buffer.size(), format, args);
  return std::string(buffer.data(), static_cast<std::size_t>(n));
}

}  // namespace

void throw_usage_error(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::string message = vformat(format, args);
  va_end(args);
  throw CliError(kExitUsage, message);
}

void throw_failure(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::string message = vformat(format, args);
  va_end(args);
  throw CliError(kExitFailure, message);
}

void check_status(ganloss_status_t status, const char* what) {
  if (status == GANLOSS_STATUS_SUCCESS) return;
  const char* detail = ganloss_last_error_message();
  if (detail == nullptr || *detail == '\0') detail = ganloss_status_string(status);
  if (*what == '\0') throw_failure("%s", detail);
  throw_failure("%s: %s", what, detail);
}

void print_error_line(const std::string& message) {
  std::string line = "ganloss: error: ";
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", u);
      line += escaped;
    } else {
      line += c;
    }
  }
  line += '\n';
  std::fflush(stdout);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace cli
}  // namespace ganloss
