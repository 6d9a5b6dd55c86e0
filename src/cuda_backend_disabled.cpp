// The CUDA backend of a build without CUDA: always unavailable, with a message saying why.
#include "cuda_backend.hpp"
#include "error.hpp"

namespace ganloss {
namespace detail {
namespace cuda {

Status available() {
  return fail(Status::BackendUnavailable,
              "this ganloss library was built without its CUDA backend (GANLOSS_ENABLE_CUDA=OFF)");
}

std::size_t workspace_bytes(const ganloss_problem_t&) {
  return 0;
}

Status current_device(int*) {
  return available();
}

Status check_pointers(const CallParams&, bool, int) {
  return Status::Success;
}

Status init_workspace(const ganloss_problem_t&, void*, ganloss_stream_t) {
  return available();
}

Status run(const CallParams&, void*, bool, ganloss_stream_t) {
  return available();
}

}  // namespace cuda
}  // namespace detail
}  // namespace ganloss
