// A HostCall run on the emulated CUDA kernel, with a guarded workspace of exactly the size the
// CUDA backend asks for: what every emulated test does first.
#ifndef GANLOSS_TESTS_EMULATED_CALL_HPP_
#define GANLOSS_TESTS_EMULATED_CALL_HPP_

#include "emulator/emulated_backend.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace testing {

inline emulator::EmulatedRun run_emulated(HostCall& call, const ganloss_outputs_t& o,
                                          const emulator::EmulatedOptions& options = {}) {
  const std::size_t bytes = emulator::emulated_workspace_size(call.problem);
  call.workspace = GuardedBuffer(bytes);
  return emulator::emulated_compute(call.problem, call.inputs(), o, call.workspace.data(), bytes,
                                    options);
}

}  // namespace testing
}  // namespace ganloss

#endif  // GANLOSS_TESTS_EMULATED_CALL_HPP_
