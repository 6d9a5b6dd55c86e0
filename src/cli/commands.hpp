// The tool's commands. Each takes the arguments after its name, writes its report to stdout
// and returns the exit status; errors are thrown as CliError.
#ifndef GANLOSS_CLI_COMMANDS_HPP_
#define GANLOSS_CLI_COMMANDS_HPP_

#include <span>
#include <string>

namespace ganloss {
namespace cli {

int run_eval(std::span<char* const> args);
int run_check(std::span<char* const> args);
int run_bench(std::span<char* const> args);

// Writes `text` to stdout and flushes it; a failed write (full disk, closed pipe) is an error.
void write_stdout(const std::string& text);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_COMMANDS_HPP_
