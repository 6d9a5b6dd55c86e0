// The C ABI: argument validation, backend dispatch, plans, and the guarantee that no exception
// crosses into the caller.
#include <exception>
#include <memory>
#include <new>

#include "cpu_backend.hpp"
#include "cuda_backend.hpp"
#include "error.hpp"
#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"
#include "plan.hpp"
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

// The execution options every entry point accepts: a backend value, a thread count and the
// workspace flag (check_memory is a plan's only: ganloss_plan_create checks it).
Status check_execution(const ganloss_execution_t& exec) {
  Status s = check_backend(exec.backend);
  if (s != Status::Success) return s;
  if (exec.cpu_threads < 0) {
    return fail(Status::InvalidValue, "cpu_threads must be >= 0 (0 = all), got %d",
                exec.cpu_threads);
  }
  // A flag: any other value, as from a struct not filled by ganloss_execution_init, would skip
  // the CUDA counters' zeroing as 1 does.
  if (exec.workspace_initialized != 0 && exec.workspace_initialized != 1) {
    return fail(Status::InvalidValue, "workspace_initialized must be 0 or 1, got %d",
                exec.workspace_initialized);
  }
  return Status::Success;
}

// What ganloss_compute and ganloss_plan_create check first: the execution (defaults for null),
// the problem, and on CUDA that a device can run the kernels.
Status prepare(const ganloss_problem_t* problem, const ganloss_execution_t* execution,
               ganloss_execution_t* exec) {
  ganloss_execution_init(exec);
  if (execution != nullptr) *exec = *execution;
  Status s = validate_problem(problem);
  if (s != Status::Success) return s;
  s = check_execution(*exec);
  if (s != Status::Success) return s;
  return exec->backend == GANLOSS_BACKEND_CUDA ? cuda::available() : Status::Success;
}

// How a validated call runs on its backend.
struct Dispatch {
  const ganloss_execution_t* execution;
  bool zero_counters;  // CUDA: zero the tickets first (no initialised workspace)
  bool check_memory;   // one memory-space query per pointer
  int device;          // CUDA: the device the pointers must belong to (-1: the current one)
};

// Runs a validated call (`params` from make_params, make_call_params or make_vjp_params) on
// the backend of `d.execution`. The host backends also check ragged offsets and the weights'
// signs, which they can read: O(segments) and O(weights).
Status dispatch(const ganloss_problem_t& problem, const ganloss_inputs_t& inputs,
                const CallParams& params, void* workspace, const Dispatch& d,
                ganloss_stream_t stream) {
  const int32_t backend = d.execution->backend;
  if (backend == GANLOSS_BACKEND_CUDA) {
    if (d.check_memory) {
      const Status s = cuda::check_pointers(params, /*device_expected=*/true, d.device);
      if (s != Status::Success) return s;
    }
    return cuda::run(params, workspace, d.zero_counters, stream);
  }
  if (d.check_memory) {
    const Status s = cuda::check_pointers(params, /*device_expected=*/false);
    if (s != Status::Success) return s;
  }
  Status s = check_offsets(params);
  if (s == Status::Success) s = check_weights(params);
  if (s != Status::Success) return s;
  return backend == GANLOSS_BACKEND_CPU ? cpu::run(params, workspace, d.execution->cpu_threads)
                                        : reference::run(problem, inputs, params);
}

// Whether a validated compute call has nothing to do.
bool nothing_requested(const CallParams& params) {
  return !side_used(params, true) && !side_used(params, false) && params.grad_real_g == nullptr &&
         params.loss_real_g == nullptr;
}

Status check_plan(const ganloss_plan* plan) {
  if (plan == nullptr) return fail(Status::NullPointer, "plan is null");
  return Status::Success;
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
      return "a parameter, flag, weight or offset is out of its domain";
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
    Status s = prepare(problem, execution, &exec);
    if (s != Status::Success) return s;
    CallParams params;
    const std::size_t required = required_workspace(*problem, exec.backend);
    s = make_call_params(*problem, inputs, outputs, workspace, workspace_bytes, required, &params);
    if (s != Status::Success) return s;
    if (nothing_requested(params)) return Status::Success;
    const Dispatch d{&exec, exec.workspace_initialized == 0, /*check_memory=*/true, -1};
    return dispatch(*problem, *inputs, params, workspace, d, stream);
  });
}

ganloss_status_t ganloss_plan_create(const ganloss_problem_t* problem,
                                     const ganloss_execution_t* execution, ganloss_plan_t* plan) {
  return guarded([&] {
    if (plan == nullptr) return fail(Status::NullPointer, "plan is null");
    ganloss_execution_t exec;
    Status s = prepare(problem, execution, &exec);
    if (s != Status::Success) return s;
    if (exec.check_memory != 0 && exec.check_memory != 1) {
      return fail(Status::InvalidValue, "check_memory must be 0 or 1, got %d", exec.check_memory);
    }
    int device = -1;
    if (exec.backend == GANLOSS_BACKEND_CUDA) {
      s = cuda::current_device(&device);
      if (s != Status::Success) return s;
    }
    auto made = std::make_unique<ganloss_plan>();
    made->problem = *problem;
    made->execution = exec;
    made->workspace_bytes = required_workspace(*problem, exec.backend);
    made->device = device;
    *plan = made.release();
    return Status::Success;
  });
}

void ganloss_plan_destroy(ganloss_plan_t plan) {
  delete plan;
}

ganloss_status_t ganloss_plan_workspace_size(ganloss_plan_t plan, size_t* bytes) {
  return guarded([&] {
    Status s = check_plan(plan);
    if (s != Status::Success) return s;
    if (bytes == nullptr) return fail(Status::NullPointer, "bytes is null");
    *bytes = plan->workspace_bytes;
    return Status::Success;
  });
}

ganloss_status_t ganloss_plan_workspace_init(ganloss_plan_t plan, void* workspace,
                                             size_t workspace_bytes, ganloss_stream_t stream) {
  return guarded([&] {
    Status s = check_plan(plan);
    if (s != Status::Success) return s;
    s = check_workspace(workspace, workspace_bytes, plan->workspace_bytes);
    if (s != Status::Success) return s;
    if (plan->execution.backend != GANLOSS_BACKEND_CUDA || plan->workspace_bytes == 0) {
      return Status::Success;
    }
    return cuda::init_workspace(plan->problem, workspace, stream);
  });
}

ganloss_status_t ganloss_plan_execute(ganloss_plan_t plan, const ganloss_inputs_t* inputs,
                                      const ganloss_outputs_t* outputs, void* workspace,
                                      size_t workspace_bytes, ganloss_stream_t stream) {
  return guarded([&] {
    Status s = check_plan(plan);
    if (s != Status::Success) return s;
    CallParams params;
    s = make_call_params(plan->problem, inputs, outputs, workspace, workspace_bytes,
                         plan->workspace_bytes, &params);
    if (s != Status::Success) return s;
    if (nothing_requested(params)) return Status::Success;
    const Dispatch d{&plan->execution, /*zero_counters=*/false, plan->execution.check_memory != 0,
                     plan->device};
    return dispatch(plan->problem, *inputs, params, workspace, d, stream);
  });
}

ganloss_status_t ganloss_plan_vjp(ganloss_plan_t plan, const ganloss_inputs_t* inputs,
                                  const ganloss_cotangents_t* cotangents, void* grad_real,
                                  void* grad_fake, void* workspace, size_t workspace_bytes,
                                  ganloss_stream_t stream) {
  return guarded([&] {
    Status s = check_plan(plan);
    if (s != Status::Success) return s;
    CallParams params;
    s = make_vjp_params(plan->problem, inputs, cotangents, grad_real, grad_fake, workspace,
                        workspace_bytes, plan->workspace_bytes, &params);
    if (s != Status::Success) return s;
    if (grad_real == nullptr && grad_fake == nullptr) return Status::Success;
    const Dispatch d{&plan->execution, /*zero_counters=*/false, plan->execution.check_memory != 0,
                     plan->device};
    return dispatch(plan->problem, *inputs, params, workspace, d, stream);
  });
}

}  // extern "C"
