// Entry point of the `ganloss` tool: command dispatch, and the one place where every error
// becomes a single "ganloss: error:" line and an exit status.
#include <cstdio>
#include <exception>
#include <new>
#include <span>
#include <string>
#include <string_view>

#include "cli_error.hpp"
#include "commands.hpp"
#include "ganloss/ganloss.h"

namespace ganloss {
namespace cli {
namespace {

constexpr const char kMainHelp[] =
    R"(Usage: ganloss <command> [options]

Fused GAN losses and logit gradients: the command-line front end of the ganloss library.

Commands:
  eval     losses and gradients of logits read from text files, printed as JSON
  check    compare a backend with the double-precision reference on built-in cases
  bench    time the backends on synthetic logits

Run 'ganloss <command> --help' for the options of a command.

Options:
  -h, --help   print this help
  --version    print the version

Exit status: 0 success, 1 failure, 2 usage error. Errors are one line on stderr, starting
with "ganloss: error:".
)";

int run(std::span<char* const> args) {
  if (args.empty()) throw_usage_error("no command given (see 'ganloss --help')");
  const std::string_view command(args[0]);
  const std::span<char* const> rest = args.subspan(1);
  if (command == "--help" || command == "-h" || command == "help") {
    write_stdout(kMainHelp);
    return kExitSuccess;
  }
  if (command == "--version") {
    if (!rest.empty()) throw_usage_error("--version takes no arguments");
    write_stdout(std::string("ganloss ") + GANLOSS_VERSION_STRING + "\n");
    return kExitSuccess;
  }
  if (command == "eval") return run_eval(rest);
  if (command == "check") return run_check(rest);
  if (command == "bench") return run_bench(rest);
  const std::string name(command);
  throw_usage_error("unknown command '%s' (expected eval, check or bench; see 'ganloss --help')",
                    name.c_str());
}

}  // namespace

void write_stdout(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    throw_failure("cannot write to standard output");
  }
}

}  // namespace cli
}  // namespace ganloss

int main(int argc, char** argv) {
  using namespace ganloss::cli;
  const std::span<char* const> args(argv + (argc > 0 ? 1 : 0),
                                    static_cast<std::size_t>(argc > 1 ? argc - 1 : 0));
  try {
    return run(args);
  } catch (const CliError& e) {
    print_error_line(e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    print_error_line("out of memory");
  } catch (const std::exception& e) {
    print_error_line(std::string("internal error: ") + e.what());
  } catch (...) {
    print_error_line("internal error: unknown exception");
  }
  return kExitFailure;
}
