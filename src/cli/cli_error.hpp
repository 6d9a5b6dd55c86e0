// How the ganloss tool fails: every error is a CliError carrying its exit status, thrown
// where the problem is found and printed as a single line by main().
#ifndef GANLOSS_CLI_CLI_ERROR_HPP_
#define GANLOSS_CLI_CLI_ERROR_HPP_

#include <stdexcept>
#include <string>

#include "ganloss/ganloss.h"

namespace ganloss {
namespace cli {

// Exit statuses, as most Unix tools use them: 2 tells a script that the command line itself
// was wrong, so retrying with other data will not help.
constexpr int kExitSuccess = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

class CliError : public std::runtime_error {
 public:
  CliError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// printf-style message builders; they throw and never return.
[[noreturn]] void throw_usage_error(const char* format, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void throw_failure(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Throws a failure with the library's message, after "`what`: " unless `what` is empty, when
// `status` is not SUCCESS.
void check_status(ganloss_status_t status, const char* what);

// One line on stderr: "ganloss: error: <message>", with control characters made visible so
// that the message can never span lines.
void print_error_line(const std::string& message);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_CLI_ERROR_HPP_
