// ganloss C++ API: typed enums and structs with defaults over the C ABI of ganloss.h.
//
// Header-only; every call forwards to an exported ganloss_* function, so C++ users link
// the same shared library as C and FFI users.
#ifndef GANLOSS_GANLOSS_HPP_
#define GANLOSS_GANLOSS_HPP_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "ganloss/ganloss.h"

namespace ganloss {

//! Result of every call. Compare with Status::Success; status_string() describes it.
enum class Status : int32_t {
  Success = GANLOSS_STATUS_SUCCESS,
  NullPointer = GANLOSS_STATUS_NULL_POINTER,
  InvalidSize = GANLOSS_STATUS_INVALID_SIZE,
  SizeOverflow = GANLOSS_STATUS_SIZE_OVERFLOW,
  InvalidEnum = GANLOSS_STATUS_INVALID_ENUM,
  InvalidValue = GANLOSS_STATUS_INVALID_VALUE,
  Unsupported = GANLOSS_STATUS_UNSUPPORTED,
  InvalidAliasing = GANLOSS_STATUS_INVALID_ALIASING,
  MisalignedPointer = GANLOSS_STATUS_MISALIGNED_POINTER,
  WorkspaceTooSmall = GANLOSS_STATUS_WORKSPACE_TOO_SMALL,
  BackendUnavailable = GANLOSS_STATUS_BACKEND_UNAVAILABLE,
  CudaError = GANLOSS_STATUS_CUDA_ERROR,
  InternalError = GANLOSS_STATUS_INTERNAL_ERROR,
  InvalidMemory = GANLOSS_STATUS_INVALID_MEMORY,
};

enum class DType : int32_t {
  f32 = GANLOSS_DTYPE_F32,
  f16 = GANLOSS_DTYPE_F16,
  bf16 = GANLOSS_DTYPE_BF16,
};

enum class LossKind : int32_t {
  nonsaturating = GANLOSS_LOSS_NONSATURATING,
  minimax = GANLOSS_LOSS_MINIMAX,
  hinge = GANLOSS_LOSS_HINGE,
  wasserstein = GANLOSS_LOSS_WASSERSTEIN,
  least_squares = GANLOSS_LOSS_LEAST_SQUARES,
  relativistic = GANLOSS_LOSS_RELATIVISTIC,
  relativistic_average = GANLOSS_LOSS_RELATIVISTIC_AVERAGE,
  relativistic_average_hinge = GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE,
  relativistic_average_least_squares = GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES,
};

enum class Reduction : int32_t {
  none = GANLOSS_REDUCTION_NONE,
  sum = GANLOSS_REDUCTION_SUM,
  mean = GANLOSS_REDUCTION_MEAN,
  mean_nonzero = GANLOSS_REDUCTION_MEAN_NONZERO,
};

enum class Backend : int32_t {
  cuda = GANLOSS_BACKEND_CUDA,
  cpu = GANLOSS_BACKEND_CPU,
  reference = GANLOSS_BACKEND_REFERENCE,
};

using Stream = ganloss_stream_t;  // the same type as cudaStream_t

//! Loss parameters; see ganloss_loss_params_t for their meaning.
struct LossParams {
  float real_target = 1.0f;
  float fake_target = 0.0f;
  float margin_real = 1.0f;
  float margin_fake = 1.0f;
  float ls_fake_label = 0.0f;
  float ls_real_label = 1.0f;
  float ls_gen_label = 1.0f;
};

//! One batched problem: `segments` rows of `real_count` real and `fake_count` fake logits.
struct Problem {
  int64_t segments = 1;
  int64_t real_count = 0;
  int64_t fake_count = 0;
  int64_t real_stride = 0;  // elements between rows; 0 = dense
  int64_t fake_stride = 0;
  bool ragged = false;  // rows given by offsets (Inputs), counts are totals
  DType dtype = DType::f32;
  LossKind d_loss = LossKind::nonsaturating;
  LossKind g_loss = LossKind::nonsaturating;
  Reduction reduction = Reduction::mean;
  bool fp32_gradients = false;  // store gradients as f32 whatever the logits' dtype
  float grad_scale = 1.0f;
  LossParams params;
};

using SegmentStats = ganloss_segment_stats_t;

//! The data of a call; see ganloss_inputs_t.
struct Inputs {
  const void* real = nullptr;
  const void* fake = nullptr;
  const float* real_weights = nullptr;
  const float* fake_weights = nullptr;
  const int64_t* real_offsets = nullptr;
  const int64_t* fake_offsets = nullptr;
};

//! Requested outputs; null members are not computed. See ganloss_outputs_t.
struct Outputs {
  float* d_loss = nullptr;
  float* d_loss_real = nullptr;
  float* d_loss_fake = nullptr;
  float* g_loss = nullptr;
  void* grad_real = nullptr;
  void* grad_fake_d = nullptr;
  void* grad_fake_g = nullptr;
  void* grad_real_g = nullptr;
  float* loss_real = nullptr;
  float* loss_fake_d = nullptr;
  float* loss_fake_g = nullptr;
  float* loss_real_g = nullptr;
  SegmentStats* stats = nullptr;
};

struct Execution {
  Backend backend = Backend::cuda;
  int32_t cpu_threads = 0;             // 0 = hardware concurrency
  bool workspace_initialized = false;  // see ganloss_execution_t
  bool check_memory = false;           // plans: check memory spaces at every execution
};

//! Per-segment upstream gradients of a VJP call (Plan::vjp), `segments` floats each in the
//! plan backend's memory; null means 0 and leaves that loss out. See ganloss_cotangents_t.
struct Cotangents {
  const float* d_loss = nullptr;  // u_d[s], the upstream gradient of segment s's D loss
  const float* g_loss = nullptr;  // u_g[s], the upstream gradient of segment s's G loss
};

inline ganloss_problem_t to_c(const Problem& p) {
  ganloss_problem_t c;
  c.segments = p.segments;
  c.real_count = p.real_count;
  c.fake_count = p.fake_count;
  c.real_stride = p.real_stride;
  c.fake_stride = p.fake_stride;
  c.ragged = p.ragged ? 1 : 0;
  c.dtype = static_cast<int32_t>(p.dtype);
  c.d_loss = static_cast<int32_t>(p.d_loss);
  c.g_loss = static_cast<int32_t>(p.g_loss);
  c.reduction = static_cast<int32_t>(p.reduction);
  c.fp32_gradients = p.fp32_gradients ? 1 : 0;
  c.grad_scale = p.grad_scale;
  c.params.real_target = p.params.real_target;
  c.params.fake_target = p.params.fake_target;
  c.params.margin_real = p.params.margin_real;
  c.params.margin_fake = p.params.margin_fake;
  c.params.ls_fake_label = p.params.ls_fake_label;
  c.params.ls_real_label = p.params.ls_real_label;
  c.params.ls_gen_label = p.params.ls_gen_label;
  return c;
}

inline ganloss_outputs_t to_c(const Outputs& o) {
  ganloss_outputs_t c;
  c.d_loss = o.d_loss;
  c.d_loss_real = o.d_loss_real;
  c.d_loss_fake = o.d_loss_fake;
  c.g_loss = o.g_loss;
  c.grad_real = o.grad_real;
  c.grad_fake_d = o.grad_fake_d;
  c.grad_fake_g = o.grad_fake_g;
  c.grad_real_g = o.grad_real_g;
  c.loss_real = o.loss_real;
  c.loss_fake_d = o.loss_fake_d;
  c.loss_fake_g = o.loss_fake_g;
  c.loss_real_g = o.loss_real_g;
  c.stats = o.stats;
  return c;
}

inline ganloss_inputs_t to_c(const Inputs& in) {
  ganloss_inputs_t c;
  c.real = in.real;
  c.fake = in.fake;
  c.real_weights = in.real_weights;
  c.fake_weights = in.fake_weights;
  c.real_offsets = in.real_offsets;
  c.fake_offsets = in.fake_offsets;
  return c;
}

inline ganloss_execution_t to_c(const Execution& e) {
  ganloss_execution_t c;
  c.backend = static_cast<int32_t>(e.backend);
  c.cpu_threads = e.cpu_threads;
  c.workspace_initialized = e.workspace_initialized ? 1 : 0;
  c.check_memory = e.check_memory ? 1 : 0;
  return c;
}

inline ganloss_cotangents_t to_c(const Cotangents& u) {
  ganloss_cotangents_t c;
  c.d_loss = u.d_loss;
  c.g_loss = u.g_loss;
  return c;
}

//! A fixed English description of `status`.
inline const char* status_string(Status status) {
  return ganloss_status_string(static_cast<ganloss_status_t>(status));
}

//! Details of the last failing call on this thread.
inline const char* last_error_message() {
  return ganloss_last_error_message();
}

//! Success if `backend` can run on this machine, else BackendUnavailable.
inline Status backend_available(Backend backend) {
  return static_cast<Status>(ganloss_backend_available(static_cast<int32_t>(backend)));
}

//! Workspace bytes that compute() needs for `problem` on `backend`; shapes only.
inline Status workspace_size(const Problem& problem, Backend backend, std::size_t* bytes) {
  const ganloss_problem_t c = to_c(problem);
  return static_cast<Status>(ganloss_workspace_size(&c, static_cast<int32_t>(backend), bytes));
}

//! Losses, gradients and statistics of one batched problem; see ganloss_compute().
//!
//! @code
//!   ganloss::Problem p;
//!   p.segments = 1; p.real_count = n; p.fake_count = n;
//!   ganloss::Outputs out;
//!   out.d_loss = d_loss; out.grad_real = d_grad_real; out.grad_fake_d = d_grad_fake;
//!   std::size_t bytes = 0;
//!   ganloss::workspace_size(p, ganloss::Backend::cuda, &bytes);
//!   ganloss::Status s = ganloss::compute(p, {d_real, d_fake}, out, d_ws, bytes, {}, stream);
//! @endcode
inline Status compute(const Problem& problem, const Inputs& inputs, const Outputs& outputs,
                      void* workspace, std::size_t workspace_bytes,
                      const Execution& execution = Execution{}, Stream stream = nullptr) {
  const ganloss_problem_t p = to_c(problem);
  const ganloss_inputs_t in = to_c(inputs);
  const ganloss_outputs_t o = to_c(outputs);
  const ganloss_execution_t e = to_c(execution);
  return static_cast<Status>(ganloss_compute(&p, &in, &o, workspace, workspace_bytes, &e, stream));
}

//! A problem validated once for one backend and executed many times: the forward (execute) and
//! backward (vjp) passes of a training step with only constant-time checks and the launches.
//! Owns its ganloss_plan_t; move-only. Immutable once created: any number of threads may call
//! execute and vjp on one plan at once, each with its own outputs and workspace.
//!
//! @code
//!   ganloss::Problem p;
//!   p.segments = 1; p.real_count = n; p.fake_count = n;
//!   ganloss::Execution e;                       // CUDA
//!   ganloss::Plan plan;
//!   if (ganloss::Plan::create(p, e, &plan) != ganloss::Status::Success) { /* last_error_message()
//!   */ } void* ws = nullptr; cudaMalloc(&ws, plan.workspace_size());     // once
//!   plan.workspace_init(ws, plan.workspace_size(), stream);  // once per workspace
//!   for (;;) {                                  // every step
//!     ganloss::Outputs out;
//!     out.d_loss = d_loss; out.g_loss = g_loss;
//!     plan.execute({d_real, d_fake}, out, ws, plan.workspace_size(), stream);
//!     ganloss::Cotangents u;
//!     u.d_loss = d_upstream_d;                  // dL/dd_loss[s], on the device
//!     plan.vjp({d_real, d_fake}, u, d_grad_real, d_grad_fake, ws, plan.workspace_size(), stream);
//!   }
//! @endcode
class Plan {
 public:
  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  Plan(Plan&& other) noexcept : plan_(std::exchange(other.plan_, nullptr)) {}
  Plan& operator=(Plan&& other) noexcept {
    if (this != &other) {
      ganloss_plan_destroy(plan_);
      plan_ = std::exchange(other.plan_, nullptr);
    }
    return *this;
  }
  ~Plan() { ganloss_plan_destroy(plan_); }

  //! Validates `problem` for `execution.backend` and replaces *plan with the new plan; leaves
  //! *plan unchanged on failure. See ganloss_plan_create().
  static Status create(const Problem& problem, const Execution& execution, Plan* plan) {
    if (plan == nullptr) return create_into(problem, execution, nullptr);
    ganloss_plan_t made = nullptr;
    const Status s = create_into(problem, execution, &made);
    if (s == Status::Success) *plan = Plan(made);
    return s;
  }

  //! Whether this object holds a plan (a default-constructed or moved-from one does not).
  explicit operator bool() const { return plan_ != nullptr; }

  //! The underlying C handle, still owned by this object.
  ganloss_plan_t get() const { return plan_; }

  //! Workspace bytes every execute() and vjp() of this plan needs (0 without a plan).
  std::size_t workspace_size() const {
    std::size_t bytes = 0;
    if (ganloss_plan_workspace_size(plan_, &bytes) != GANLOSS_STATUS_SUCCESS) return 0;
    return bytes;
  }

  //! Prepares a freshly allocated workspace; see ganloss_plan_workspace_init().
  Status workspace_init(void* workspace, std::size_t workspace_bytes,
                        Stream stream = nullptr) const {
    return static_cast<Status>(
        ganloss_plan_workspace_init(plan_, workspace, workspace_bytes, stream));
  }

  //! The losses, gradients and statistics of `outputs`; see ganloss_plan_execute().
  Status execute(const Inputs& inputs, const Outputs& outputs, void* workspace,
                 std::size_t workspace_bytes, Stream stream = nullptr) const {
    const ganloss_inputs_t in = to_c(inputs);
    const ganloss_outputs_t o = to_c(outputs);
    return static_cast<Status>(
        ganloss_plan_execute(plan_, &in, &o, workspace, workspace_bytes, stream));
  }

  //! Each logit's gradient of sum_s u_d[s] L_D[s] + u_g[s] L_G[s]; see ganloss_plan_vjp().
  Status vjp(const Inputs& inputs, const Cotangents& cotangents, void* grad_real, void* grad_fake,
             void* workspace, std::size_t workspace_bytes, Stream stream = nullptr) const {
    const ganloss_inputs_t in = to_c(inputs);
    const ganloss_cotangents_t u = to_c(cotangents);
    return static_cast<Status>(
        ganloss_plan_vjp(plan_, &in, &u, grad_real, grad_fake, workspace, workspace_bytes, stream));
  }

 private:
  explicit Plan(ganloss_plan_t plan) : plan_(plan) {}
  static Status create_into(const Problem& problem, const Execution& execution,
                            ganloss_plan_t* plan) {
    const ganloss_problem_t p = to_c(problem);
    const ganloss_execution_t e = to_c(execution);
    return static_cast<Status>(ganloss_plan_create(&p, &e, plan));
  }

  ganloss_plan_t plan_ = nullptr;
};

}  // namespace ganloss

#endif  // GANLOSS_GANLOSS_HPP_
