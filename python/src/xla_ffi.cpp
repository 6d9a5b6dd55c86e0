// XLA FFI handlers for JAX: one ganloss_compute call as an XLA custom call, on the CPU backend
// for XLA's CPU platform and on the CUDA backend, on XLA's stream, for its CUDA platform.
//
// Buffers are dense row-major (XLA's default layout): logits of shape [count] (one segment) or
// [segments, count]. Every output is a result buffer that XLA allocates, the workspace included,
// so that the call allocates nothing and stays capturable into XLA's command buffers. Its size
// comes from ganloss_workspace_size, asked by the Python side when it builds the call.
#include <cstdint>
#include <string>
#include <utility>

#include "ganloss/ganloss.h"
#include "xla/ffi/api/ffi.h"
#include "xla_ffi.hpp"

namespace ffi = xla::ffi;

namespace {

ffi::Error status_error(ganloss_status_t status) {
  std::string message = ganloss_status_string(status);
  message += std::string(": ") + ganloss_last_error_message();
  const ffi::ErrorCode code = status == GANLOSS_STATUS_CUDA_ERROR ||
                                      status == GANLOSS_STATUS_INTERNAL_ERROR ||
                                      status == GANLOSS_STATUS_BACKEND_UNAVAILABLE
                                  ? ffi::ErrorCode::kInternal
                                  : ffi::ErrorCode::kInvalidArgument;
  return ffi::Error(code, message);
}

bool logits_dtype(ffi::DataType type, int32_t* dtype) {
  switch (type) {
    case ffi::DataType::F32:
      *dtype = GANLOSS_DTYPE_F32;
      return true;
    case ffi::DataType::F16:
      *dtype = GANLOSS_DTYPE_F16;
      return true;
    case ffi::DataType::BF16:
      *dtype = GANLOSS_DTYPE_BF16;
      return true;
    default:
      return false;
  }
}

// Segments and count of a [count] or [segments, count] buffer.
bool rows(const ffi::AnyBuffer& logits, int64_t* segments, int64_t* count) {
  const auto dims = logits.dimensions();
  if (dims.size() == 1) {
    *segments = 1;
    *count = dims[0];
    return true;
  }
  if (dims.size() == 2) {
    *segments = dims[0];
    *count = dims[1];
    return true;
  }
  return false;
}

ffi::Error compute(int32_t backend, ganloss_stream_t stream, ffi::AnyBuffer real,
                   ffi::AnyBuffer fake, ffi::Result<ffi::Buffer<ffi::F32>> d_loss,
                   ffi::Result<ffi::Buffer<ffi::F32>> d_loss_real,
                   ffi::Result<ffi::Buffer<ffi::F32>> d_loss_fake,
                   ffi::Result<ffi::Buffer<ffi::F32>> g_loss, ffi::Result<ffi::AnyBuffer> grad_real,
                   ffi::Result<ffi::AnyBuffer> grad_fake_d, ffi::Result<ffi::AnyBuffer> grad_fake_g,
                   ffi::Result<ffi::AnyBuffer> grad_real_g, ffi::Result<ffi::AnyBuffer> workspace,
                   int32_t d_kind, int32_t g_kind, int32_t reduction, int32_t fp32_gradients,
                   float grad_scale, float real_target, float fake_target, float margin_real,
                   float margin_fake, float ls_fake_label, float ls_real_label,
                   float ls_gen_label) {
  ganloss_problem_t problem;
  ganloss_problem_init(&problem);
  int64_t real_segments = 0;
  int64_t fake_segments = 0;
  if (!rows(real, &real_segments, &problem.real_count) ||
      !rows(fake, &fake_segments, &problem.fake_count) || real_segments != fake_segments) {
    return ffi::Error::InvalidArgument(
        "ganloss: real and fake logits must be [count] or [segments, count] with equal segments");
  }
  if (real.element_type() != fake.element_type() ||
      !logits_dtype(real.element_type(), &problem.dtype)) {
    return ffi::Error::InvalidArgument(
        "ganloss: real and fake logits must share one dtype among f32, f16 and bf16");
  }
  problem.segments = real_segments;
  problem.d_loss = d_kind;
  problem.g_loss = g_kind;
  problem.reduction = reduction;
  problem.fp32_gradients = fp32_gradients;
  problem.grad_scale = grad_scale;
  problem.params.real_target = real_target;
  problem.params.fake_target = fake_target;
  problem.params.margin_real = margin_real;
  problem.params.margin_fake = margin_fake;
  problem.params.ls_fake_label = ls_fake_label;
  problem.params.ls_real_label = ls_real_label;
  problem.params.ls_gen_label = ls_gen_label;

  ganloss_inputs_t inputs;
  ganloss_inputs_init(&inputs);
  inputs.real = real.untyped_data();
  inputs.fake = fake.untyped_data();

  ganloss_outputs_t outputs;
  ganloss_outputs_init(&outputs);
  outputs.d_loss = d_loss->typed_data();
  outputs.d_loss_real = d_loss_real->typed_data();
  outputs.d_loss_fake = d_loss_fake->typed_data();
  outputs.g_loss = g_loss->typed_data();
  outputs.grad_real = grad_real->untyped_data();
  outputs.grad_fake_d = grad_fake_d->untyped_data();
  outputs.grad_fake_g = grad_fake_g->untyped_data();
  outputs.grad_real_g = grad_real_g->untyped_data();

  ganloss_execution_t execution;
  ganloss_execution_init(&execution);
  execution.backend = backend;
  const ganloss_status_t status =
      ganloss_compute(&problem, &inputs, &outputs, workspace->untyped_data(),
                      workspace->size_bytes(), &execution, stream);
  if (status != GANLOSS_STATUS_SUCCESS) return status_error(status);
  return ffi::Error::Success();
}

ffi::Error compute_cpu(
    ffi::AnyBuffer real, ffi::AnyBuffer fake, ffi::Result<ffi::Buffer<ffi::F32>> d_loss,
    ffi::Result<ffi::Buffer<ffi::F32>> d_loss_real, ffi::Result<ffi::Buffer<ffi::F32>> d_loss_fake,
    ffi::Result<ffi::Buffer<ffi::F32>> g_loss, ffi::Result<ffi::AnyBuffer> grad_real,
    ffi::Result<ffi::AnyBuffer> grad_fake_d, ffi::Result<ffi::AnyBuffer> grad_fake_g,
    ffi::Result<ffi::AnyBuffer> grad_real_g, ffi::Result<ffi::AnyBuffer> workspace, int32_t d_kind,
    int32_t g_kind, int32_t reduction, int32_t fp32_gradients, float grad_scale, float real_target,
    float fake_target, float margin_real, float margin_fake, float ls_fake_label,
    float ls_real_label, float ls_gen_label) {
  return compute(GANLOSS_BACKEND_CPU, nullptr, real, fake, d_loss, d_loss_real, d_loss_fake, g_loss,
                 grad_real, grad_fake_d, grad_fake_g, grad_real_g, workspace, d_kind, g_kind,
                 reduction, fp32_gradients, grad_scale, real_target, fake_target, margin_real,
                 margin_fake, ls_fake_label, ls_real_label, ls_gen_label);
}

ffi::Error compute_cuda(
    ganloss_stream_t stream, ffi::AnyBuffer real, ffi::AnyBuffer fake,
    ffi::Result<ffi::Buffer<ffi::F32>> d_loss, ffi::Result<ffi::Buffer<ffi::F32>> d_loss_real,
    ffi::Result<ffi::Buffer<ffi::F32>> d_loss_fake, ffi::Result<ffi::Buffer<ffi::F32>> g_loss,
    ffi::Result<ffi::AnyBuffer> grad_real, ffi::Result<ffi::AnyBuffer> grad_fake_d,
    ffi::Result<ffi::AnyBuffer> grad_fake_g, ffi::Result<ffi::AnyBuffer> grad_real_g,
    ffi::Result<ffi::AnyBuffer> workspace, int32_t d_kind, int32_t g_kind, int32_t reduction,
    int32_t fp32_gradients, float grad_scale, float real_target, float fake_target,
    float margin_real, float margin_fake, float ls_fake_label, float ls_real_label,
    float ls_gen_label) {
  return compute(GANLOSS_BACKEND_CUDA, stream, real, fake, d_loss, d_loss_real, d_loss_fake, g_loss,
                 grad_real, grad_fake_d, grad_fake_g, grad_real_g, workspace, d_kind, g_kind,
                 reduction, fp32_gradients, grad_scale, real_target, fake_target, margin_real,
                 margin_fake, ls_fake_label, ls_real_label, ls_gen_label);
}

// The arguments, results and attributes both handlers share, after any context.
template <typename Binding>
auto bind_call(Binding binding) {
  return std::move(binding)
      .template Arg<ffi::AnyBuffer>()         // real
      .template Arg<ffi::AnyBuffer>()         // fake
      .template Ret<ffi::Buffer<ffi::F32>>()  // d_loss
      .template Ret<ffi::Buffer<ffi::F32>>()  // d_loss_real
      .template Ret<ffi::Buffer<ffi::F32>>()  // d_loss_fake
      .template Ret<ffi::Buffer<ffi::F32>>()  // g_loss
      .template Ret<ffi::AnyBuffer>()         // grad_real
      .template Ret<ffi::AnyBuffer>()         // grad_fake_d
      .template Ret<ffi::AnyBuffer>()         // grad_fake_g
      .template Ret<ffi::AnyBuffer>()         // grad_real_g
      .template Ret<ffi::AnyBuffer>()         // workspace
      .template Attr<int32_t>("d_loss")
      .template Attr<int32_t>("g_loss")
      .template Attr<int32_t>("reduction")
      .template Attr<int32_t>("fp32_gradients")
      .template Attr<float>("grad_scale")
      .template Attr<float>("real_target")
      .template Attr<float>("fake_target")
      .template Attr<float>("margin_real")
      .template Attr<float>("margin_fake")
      .template Attr<float>("ls_fake_label")
      .template Attr<float>("ls_real_label")
      .template Attr<float>("ls_gen_label");
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(ganloss_xla_ffi_cpu, compute_cpu, bind_call(ffi::Ffi::Bind()));
XLA_FFI_DEFINE_HANDLER_SYMBOL(
    ganloss_xla_ffi_cuda, compute_cuda,
    bind_call(ffi::Ffi::Bind().Ctx<ffi::PlatformStream<ganloss_stream_t>>()));

void* ganloss_xla_ffi_cpu_handler() {
  return reinterpret_cast<void*>(ganloss_xla_ffi_cpu);
}
void* ganloss_xla_ffi_cuda_handler() {
  return reinterpret_cast<void*>(ganloss_xla_ffi_cuda);
}
