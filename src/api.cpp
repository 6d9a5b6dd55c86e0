// The C ABI: argument validation, backend dispatch, and the guarantee that no exception
// crosses into the caller.
#include <exception>
#include <new>

#include "cpu_backend.hpp"
#include "cuda_backend.hpp"
#include "error.hpp"
#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"
#include "reference.hpp"
#include "validate.hpp"

namespace ganloss {
namespace detail {
namespace {

bool valid_backend(int32_t b) {
  return b >= GANLOSS_BACKEND_CUDA && b <= GANLOSS_BACKEND_REFERENCE;
}

Status check_backend(int32_t backend) {
  if (!valid_backend(backend)) {
    return fail(Status::InvalidEnum, "backend %d is not a ganloss_backend_t value", backend);
  }
  return Status::Success;
}

std::size_t required_workspace(const ganloss_problem_t& p, int32_t backend) {
  switch (backend) {
    case GANLOSS_BACKEND_CPU:
      return cpu::workspace_bytes(p);
    case GANLOSS_BACKEND_CUDA:
      return cuda::workspace_bytes(p);
    default:
      return 0;
  }
}

// Runs `body` and maps any escaping exception to a status, so none crosses the C ABI.
template <class Body>
ganloss_status_t guarded(Body&& body) {
  clear_error();
  try {
    return static_cast<ganloss_status_t>(body());
  } catch (const std::bad_alloc&) {
    return static_cast<ganloss_status_t>(fail(Status::InternalError, "out of host memory"));
  } catch (const std::exception& e) {
    return static_cast<ganloss_status_t>(fail(Status::InternalError, "%s", e.what()));
  } catch (...) {
    return static_cast<ganloss_status_t>(fail(Status::InternalError, "unknown exception"));
  }
}

}  // namespace
}  // namespace detail
}  // namespace ganloss

using namespace ganloss;
using namespace ganloss::detail;

extern "C" {

void ganloss_problem_init(ganloss_problem_t* problem) {
  if (problem != nullptr) *problem = to_c(Problem{});
}

void ganloss_execution_init(ganloss_execution_t* execution) {
  if (execution != nullptr) *execution = to_c(Execution{});
}

void ganloss_outputs_init(ganloss_outputs_t* outputs) {
  if (outputs != nullptr) *outputs = to_c(Outputs{});
}

void ganloss_inputs_init(ganloss_inputs_t* inputs) {
  if (inputs != nullptr) *inputs = to_c(Inputs{});
}

const char* ganloss_status_string(ganloss_status_t status) {
  switch (status) {
    case GANLOSS_STATUS_SUCCESS:
      return "success";
    case GANLOSS_STATUS_NULL_POINTER:
      return "a required pointer is null";
    case GANLOSS_STATUS_INVALID_SIZE:
      return "a count, segment number or stride is out of range";
    case GANLOSS_STATUS_SIZE_OVERFLOW:
      return "sizes overflow the index or address range";
    case GANLOSS_STATUS_INVALID_ENUM:
      return "unknown enumeration value";
    case GANLOSS_STATUS_INVALID_VALUE:
      return "a loss parameter or scale is out of its domain";
    case GANLOSS_STATUS_UNSUPPORTED:
      return "not supported in this configuration";
    case GANLOSS_STATUS_INVALID_ALIASING:
      return "buffers overlap in a way that is not allowed";
    case GANLOSS_STATUS_MISALIGNED_POINTER:
      return "a pointer is not aligned to its element type";
    case GANLOSS_STATUS_WORKSPACE_TOO_SMALL:
      return "the workspace is smaller than required";
    case GANLOSS_STATUS_BACKEND_UNAVAILABLE:
      return "the backend is not available";
    case GANLOSS_STATUS_CUDA_ERROR:
      return "a CUDA runtime call failed";
    case GANLOSS_STATUS_INTERNAL_ERROR:
      return "internal error";
    case GANLOSS_STATUS_INVALID_MEMORY:
      return "a pointer is not memory the backend can access";
  }
  return "unknown status";
}

const char* ganloss_last_error_message(void) {
  return detail::last_error_message();
}

int32_t ganloss_last_cuda_error(void) {
  return detail::last_cuda_error();
}

const char* ganloss_version(void) {
  return GANLOSS_VERSION_STRING;
}

ganloss_status_t ganloss_backend_available(int32_t backend) {
  return guarded([&] {
    Status s = check_backend(backend);
    if (s != Status::Success) return s;
    return backend == GANLOSS_BACKEND_CUDA ? cuda::available() : Status::Success;
  });
}

ganloss_status_t ganloss_workspace_size(const ganloss_problem_t* problem, int32_t backend,
                                        size_t* bytes) {
  return guarded([&] {
    if (bytes == nullptr) return fail(Status::NullPointer, "bytes is null");
    Status s = validate_problem(problem);
    if (s != Status::Success) return s;
    s = check_backend(backend);
    if (s != Status::Success) return s;
    *bytes = required_workspace(*problem, backend);
    return Status::Success;
  });
}

ganloss_status_t ganloss_compute(const ganloss_problem_t* problem, const ganloss_inputs_t* inputs,
                                 const ganloss_outputs_t* outputs, void* workspace,
                                 size_t workspace_bytes, const ganloss_execution_t* execution,
                                 ganloss_stream_t stream) {
  return guarded([&] {
    ganloss_execution_t exec;
    ganloss_execution_init(&exec);
    if (execution != nullptr) exec = *execution;
    Status s = validate_problem(problem);
    if (s != Status::Success) return s;
    s = check_backend(exec.backend);
    if (s != Status::Success) return s;
    if (exec.cpu_threads < 0) {
      return fail(Status::InvalidValue, "cpu_threads must be >= 0 (0 = all), got %d",
                  exec.cpu_threads);
    }
    if (exec.backend == GANLOSS_BACKEND_CUDA) {
      s = cuda::available();
      if (s != Status::Success) return s;
    }
    CallParams params;
    const std::size_t required = required_workspace(*problem, exec.backend);
    s = make_params(problem, inputs, outputs, workspace, workspace_bytes, required, &params);
    if (s != Status::Success) return s;
    const bool nothing = !side_used(params, true) && !side_used(params, false) &&
                         params.grad_real_g == nullptr && params.loss_real_g == nullptr;
    if (nothing) return Status::Success;
    if (exec.backend == GANLOSS_BACKEND_CUDA) {
      return cuda::run(params, workspace, exec.workspace_initialized != 0, stream);
    }
    s = cuda::check_pointers(params, /*device_expected=*/false);
    if (s != Status::Success) return s;
    s = check_offsets(params);
    if (s != Status::Success) return s;
    return exec.backend == GANLOSS_BACKEND_CPU ? cpu::run(params, workspace, exec.cpu_threads)
                                               : reference::run(*problem, *inputs, params);
  });
}

}  // extern "C"
