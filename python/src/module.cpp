// ganloss._ganloss: the Python bindings over the C ABI.
//
// Arrays arrive through DLPack (nanobind's ndarray), from any framework, without copies. This
// layer only checks what the C ABI cannot see from raw pointers: that every array lives on the
// backend's device, has the dtype the problem says, and holds exactly the elements the problem
// describes in row-major order. Everything else (sizes, enumerations, parameters, aliasing,
// workspace) is the library's own validation, whose status and message become the exception.
// Allocation, streams and frameworks are the Python package's business.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>

#include "ganloss/ganloss.h"
#ifdef GANLOSS_WITH_CUDA
#include <cuda_runtime_api.h>
#endif
#ifdef GANLOSS_WITH_XLA_FFI
#include "xla_ffi.hpp"
#endif

namespace nb = nanobind;

namespace {

using InputArray = nb::ndarray<nb::ro>;
using OutputArray = nb::ndarray<>;

[[noreturn]] void raise_status(ganloss_status_t status) {
  std::string message = ganloss_status_string(status);
  const char* detail = ganloss_last_error_message();
  if (detail != nullptr && detail[0] != '\0') message += std::string(": ") + detail;
  switch (status) {
    case GANLOSS_STATUS_UNSUPPORTED:
    case GANLOSS_STATUS_BACKEND_UNAVAILABLE:
    case GANLOSS_STATUS_CUDA_ERROR:
    case GANLOSS_STATUS_INTERNAL_ERROR:
      throw std::runtime_error(message);
    default:
      // Everything else is a property of the arguments.
      throw nb::value_error(message.c_str());
  }
}

bool is_host_device(int device_type) {
  return device_type == nb::device::cpu::value || device_type == nb::device::cuda_host::value ||
         device_type == nb::device::cuda_managed::value;
}

bool is_cuda_device(int device_type) {
  return device_type == nb::device::cuda::value || device_type == nb::device::cuda_managed::value;
}

struct DType {
  nb::dlpack::dtype_code code;
  int bits;
  const char* name;
};

DType logits_dtype(int32_t dtype) {
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      return {nb::dlpack::dtype_code::Float, 16, "float16"};
    case GANLOSS_DTYPE_BF16:
      return {nb::dlpack::dtype_code::Bfloat, 16, "bfloat16"};
    default:
      return {nb::dlpack::dtype_code::Float, 32, "float32"};
  }
}

constexpr DType kFloat32{nb::dlpack::dtype_code::Float, 32, "float32"};
constexpr DType kInt64{nb::dlpack::dtype_code::Int, 64, "int64"};

// Checks every array of one call against the problem and the backend's memory, and hands out
// their pointers.
class ArrayChecker {
 public:
  ArrayChecker(const ganloss_problem_t& problem, int32_t backend)
      : problem_(problem), cuda_(backend == GANLOSS_BACKEND_CUDA) {}

  // Elements of one side's per-element arrays: a total when ragged, else segments x count.
  int64_t side_elements(bool real) const {
    const int64_t count = real ? problem_.real_count : problem_.fake_count;
    return problem_.ragged != 0 ? count : problem_.segments * count;
  }

  template <typename Array>
  void check(const char* name, const Array& a, const DType* dtype, int64_t elements) {
    const int device = a.device_type();
    if (cuda_ ? !is_cuda_device(device) : !is_host_device(device)) {
      throw nb::value_error((std::string(name) +
                             (cuda_ ? " is not in CUDA device memory" : " is not in host memory") +
                             " (backend " + (cuda_ ? "cuda" : "cpu") + ")")
                                .c_str());
    }
    if (cuda_) {
      if (device_id_ < 0) device_id_ = a.device_id();
      if (a.device_id() != device_id_) {
        throw nb::value_error((std::string(name) + " is on CUDA device " +
                               std::to_string(a.device_id()) + ", other arrays on device " +
                               std::to_string(device_id_))
                                  .c_str());
      }
    }
    if (dtype != nullptr && (a.dtype().code != static_cast<uint8_t>(dtype->code) ||
                             a.dtype().bits != dtype->bits || a.dtype().lanes != 1)) {
      throw nb::type_error((std::string(name) + " must have dtype " + dtype->name).c_str());
    }
    // Row-major without gaps: the C ABI describes rows by a count and a stride, and the
    // bindings always pass dense rows. Strides of an empty array mean nothing.
    int64_t expected_stride = 1;
    for (size_t d = a.ndim(); a.size() != 0 && d-- > 0;) {
      if (a.shape(d) != 1 && a.stride(d) != expected_stride) {
        throw nb::value_error((std::string(name) + " must be C-contiguous").c_str());
      }
      expected_stride *= static_cast<int64_t>(a.shape(d));
    }
    if (elements >= 0 && static_cast<int64_t>(a.size()) != elements) {
      throw nb::value_error((std::string(name) + " has " + std::to_string(a.size()) +
                             " elements, the problem needs " + std::to_string(elements))
                                .c_str());
    }
  }

  const void* input(const nb::dict& arrays, const char* name, const DType& dtype,
                    int64_t elements) {
    if (!arrays.contains(name) || arrays[name].is_none()) return nullptr;
    InputArray a;
    if (!nb::try_cast(arrays[name], a)) {
      throw nb::type_error((std::string(name) + " must be an array supporting DLPack").c_str());
    }
    check(name, a, &dtype, elements);
    return a.data();
  }

  void* output(const nb::dict& arrays, const char* name, const DType& dtype, int64_t elements) {
    if (!arrays.contains(name) || arrays[name].is_none()) return nullptr;
    OutputArray a;
    if (!nb::try_cast(arrays[name], a)) {
      throw nb::type_error(
          (std::string(name) + " must be a writable array supporting DLPack").c_str());
    }
    check(name, a, &dtype, elements);
    return a.data();
  }

  // Raw bytes (workspace, statistics): any dtype; returns the pointer and the size in bytes.
  std::pair<void*, size_t> bytes(const nb::handle& object, const char* name) {
    OutputArray a;
    if (!nb::try_cast(object, a)) {
      throw nb::type_error(
          (std::string(name) + " must be a writable array supporting DLPack").c_str());
    }
    check(name, a, nullptr, -1);
    return {a.data(), a.nbytes()};
  }

 private:
  const ganloss_problem_t& problem_;
  bool cuda_;
  int device_id_ = -1;
};

size_t workspace_size(const ganloss_problem_t& problem, int32_t backend) {
  size_t bytes = 0;
  const ganloss_status_t status = ganloss_workspace_size(&problem, backend, &bytes);
  if (status != GANLOSS_STATUS_SUCCESS) raise_status(status);
  return bytes;
}

void compute(const ganloss_problem_t& problem, const nb::dict& inputs, const nb::dict& outputs,
             const nb::object& workspace, int32_t backend, int32_t cpu_threads, uintptr_t stream) {
  if ((problem.real_stride != 0 && problem.real_stride != problem.real_count) ||
      (problem.fake_stride != 0 && problem.fake_stride != problem.fake_count)) {
    throw nb::value_error("the Python bindings take dense rows: strides must be 0");
  }
  ArrayChecker checker(problem, backend);
  const DType logits = logits_dtype(problem.dtype);
  const DType gradient = problem.fp32_gradients != 0 ? kFloat32 : logits;
  const int64_t n_real = checker.side_elements(true);
  const int64_t n_fake = checker.side_elements(false);
  const int64_t segments = problem.segments;

  for (auto [key, value] : inputs) {
    const std::string name = nb::cast<std::string>(key);
    if (name != "real" && name != "fake" && name != "real_weights" && name != "fake_weights" &&
        name != "real_offsets" && name != "fake_offsets") {
      throw nb::value_error(("unknown input '" + name + "'").c_str());
    }
  }
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = checker.input(inputs, "real", logits, n_real);
  in.fake = checker.input(inputs, "fake", logits, n_fake);
  in.real_weights =
      static_cast<const float*>(checker.input(inputs, "real_weights", kFloat32, n_real));
  in.fake_weights =
      static_cast<const float*>(checker.input(inputs, "fake_weights", kFloat32, n_fake));
  in.real_offsets =
      static_cast<const int64_t*>(checker.input(inputs, "real_offsets", kInt64, segments + 1));
  in.fake_offsets =
      static_cast<const int64_t*>(checker.input(inputs, "fake_offsets", kInt64, segments + 1));

  ganloss_outputs_t out;
  ganloss_outputs_init(&out);
  size_t known = 0;
  auto per_segment = [&](const char* name) {
    if (outputs.contains(name)) ++known;
    return static_cast<float*>(checker.output(outputs, name, kFloat32, segments));
  };
  auto per_element = [&](const char* name, const DType& dtype, int64_t elements) {
    if (outputs.contains(name)) ++known;
    return checker.output(outputs, name, dtype, elements);
  };
  out.d_loss = per_segment("d_loss");
  out.d_loss_real = per_segment("d_loss_real");
  out.d_loss_fake = per_segment("d_loss_fake");
  out.g_loss = per_segment("g_loss");
  out.grad_real = per_element("grad_real", gradient, n_real);
  out.grad_fake_d = per_element("grad_fake_d", gradient, n_fake);
  out.grad_fake_g = per_element("grad_fake_g", gradient, n_fake);
  out.grad_real_g = per_element("grad_real_g", gradient, n_real);
  out.loss_real = static_cast<float*>(per_element("loss_real", kFloat32, n_real));
  out.loss_fake_d = static_cast<float*>(per_element("loss_fake_d", kFloat32, n_fake));
  out.loss_fake_g = static_cast<float*>(per_element("loss_fake_g", kFloat32, n_fake));
  out.loss_real_g = static_cast<float*>(per_element("loss_real_g", kFloat32, n_real));
  if (outputs.contains("stats") && !outputs["stats"].is_none()) {
    ++known;
    auto [data, size] = checker.bytes(outputs["stats"], "stats");
    if (size != static_cast<size_t>(segments) * sizeof(ganloss_segment_stats_t)) {
      throw nb::value_error(("stats must hold " + std::to_string(segments) + " x " +
                             std::to_string(sizeof(ganloss_segment_stats_t)) + " bytes")
                                .c_str());
    }
    out.stats = static_cast<ganloss_segment_stats_t*>(data);
  }
  if (known != outputs.size()) throw nb::value_error("unknown output name in outputs");

  void* workspace_data = nullptr;
  size_t workspace_bytes = 0;
  if (!workspace.is_none()) {
    std::tie(workspace_data, workspace_bytes) = checker.bytes(workspace, "workspace");
  }

  ganloss_execution_t execution;
  ganloss_execution_init(&execution);
  execution.backend = backend;
  execution.cpu_threads = cpu_threads;
  ganloss_status_t status = GANLOSS_STATUS_SUCCESS;
  {
    // The CPU backend runs the whole problem here; the CUDA backend only enqueues. Neither
    // touches Python objects, and the error message is thread-local, so read it on this thread.
    nb::gil_scoped_release release;
    status = ganloss_compute(&problem, &in, &out, workspace_data, workspace_bytes, &execution,
                             reinterpret_cast<ganloss_stream_t>(stream));
  }
  if (status != GANLOSS_STATUS_SUCCESS) raise_status(status);
}

// A plan (ganloss_plan_create) with the array checks of its calls. The checks a plan's
// execution skips (memory spaces) are done here from the DLPack device of each array, at no
// runtime cost; shapes, dtypes and contiguity likewise. The workspace belongs to the caller:
// allocated once per plan, device and stream by the framework's allocator and prepared once
// with workspace_init.
class Plan {
 public:
  Plan(const ganloss_problem_t& problem, int32_t backend, int32_t cpu_threads)
      : problem_(problem), backend_(backend) {
    if ((problem.real_stride != 0 && problem.real_stride != problem.real_count) ||
        (problem.fake_stride != 0 && problem.fake_stride != problem.fake_count)) {
      throw nb::value_error("the Python bindings take dense rows: strides must be 0");
    }
    ganloss_execution_t execution;
    ganloss_execution_init(&execution);
    execution.backend = backend;
    execution.cpu_threads = cpu_threads;
    const ganloss_status_t status = ganloss_plan_create(&problem, &execution, &plan_);
    if (status != GANLOSS_STATUS_SUCCESS) raise_status(status);
    const ganloss_status_t size_status = ganloss_plan_workspace_size(plan_, &workspace_bytes_);
    if (size_status != GANLOSS_STATUS_SUCCESS) {
      ganloss_plan_destroy(plan_);
      raise_status(size_status);
    }
  }
  ~Plan() { ganloss_plan_destroy(plan_); }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  size_t workspace_bytes() const { return workspace_bytes_; }

  void workspace_init(const nb::object& workspace, uintptr_t stream) {
    ArrayChecker checker(problem_, backend_);
    auto [data, bytes] = workspace_of(checker, workspace);
    const ganloss_status_t status =
        ganloss_plan_workspace_init(plan_, data, bytes, reinterpret_cast<ganloss_stream_t>(stream));
    if (status != GANLOSS_STATUS_SUCCESS) raise_status(status);
  }

  // Per-segment outputs (float32, `segments` values) and the statistics (raw bytes); every
  // output may be None.
  void execute(const std::optional<InputArray>& real, const std::optional<InputArray>& fake,
               const std::optional<InputArray>& real_weights,
               const std::optional<InputArray>& fake_weights,
               const std::optional<OutputArray>& d_loss,
               const std::optional<OutputArray>& d_loss_real,
               const std::optional<OutputArray>& d_loss_fake,
               const std::optional<OutputArray>& g_loss, const std::optional<OutputArray>& stats,
               const nb::object& workspace, uintptr_t stream) {
    ArrayChecker checker(problem_, backend_);
    const ganloss_inputs_t in = inputs(checker, real, fake, real_weights, fake_weights);
    const int64_t segments = problem_.segments;
    ganloss_outputs_t out;
    ganloss_outputs_init(&out);
    out.d_loss = per_segment(checker, "d_loss", d_loss, segments);
    out.d_loss_real = per_segment(checker, "d_loss_real", d_loss_real, segments);
    out.d_loss_fake = per_segment(checker, "d_loss_fake", d_loss_fake, segments);
    out.g_loss = per_segment(checker, "g_loss", g_loss, segments);
    if (stats) {
      checker.check("stats", *stats, nullptr, -1);
      if (stats->nbytes() != static_cast<size_t>(segments) * sizeof(ganloss_segment_stats_t)) {
        throw nb::value_error(("stats must hold " + std::to_string(segments) + " x " +
                               std::to_string(sizeof(ganloss_segment_stats_t)) + " bytes")
                                  .c_str());
      }
      out.stats = static_cast<ganloss_segment_stats_t*>(stats->data());
    }
    auto [data, bytes] = workspace_of(checker, workspace);
    ganloss_status_t status = GANLOSS_STATUS_SUCCESS;
    {
      nb::gil_scoped_release release;
      status = ganloss_plan_execute(plan_, &in, &out, data, bytes,
                                    reinterpret_cast<ganloss_stream_t>(stream));
    }
    if (status != GANLOSS_STATUS_SUCCESS) raise_status(status);
  }

  // One VJP call: per-segment float32 cotangents (None: 0), gradients in the logits' dtype (or
  // float32 with fp32_gradients), None where not wanted.
  void vjp(const std::optional<InputArray>& real, const std::optional<InputArray>& fake,
           const std::optional<InputArray>& real_weights,
           const std::optional<InputArray>& fake_weights,
           const std::optional<InputArray>& cotangent_d,
           const std::optional<InputArray>& cotangent_g,
           const std::optional<OutputArray>& grad_real, const std::optional<OutputArray>& grad_fake,
           const nb::object& workspace, uintptr_t stream) {
    ArrayChecker checker(problem_, backend_);
    const ganloss_inputs_t in = inputs(checker, real, fake, real_weights, fake_weights);
    const DType gradient = problem_.fp32_gradients != 0 ? kFloat32 : logits_dtype(problem_.dtype);
    ganloss_cotangents_t cotangents{nullptr, nullptr};
    if (cotangent_d) {
      checker.check("cotangent_d", *cotangent_d, &kFloat32, problem_.segments);
      cotangents.d_loss = static_cast<const float*>(cotangent_d->data());
    }
    if (cotangent_g) {
      checker.check("cotangent_g", *cotangent_g, &kFloat32, problem_.segments);
      cotangents.g_loss = static_cast<const float*>(cotangent_g->data());
    }
    void* gr = nullptr;
    void* gf = nullptr;
    if (grad_real) {
      checker.check("grad_real", *grad_real, &gradient, checker.side_elements(true));
      gr = grad_real->data();
    }
    if (grad_fake) {
      checker.check("grad_fake", *grad_fake, &gradient, checker.side_elements(false));
      gf = grad_fake->data();
    }
    auto [data, bytes] = workspace_of(checker, workspace);
    ganloss_status_t status = GANLOSS_STATUS_SUCCESS;
    {
      nb::gil_scoped_release release;
      status = ganloss_plan_vjp(plan_, &in, &cotangents, gr, gf, data, bytes,
                                reinterpret_cast<ganloss_stream_t>(stream));
    }
    if (status != GANLOSS_STATUS_SUCCESS) raise_status(status);
  }

  // execute and vjp on addresses (0: absent) instead of DLPack arrays, for ganloss.torch's
  // eager calls and the benchmarks in bench/: converting six arrays through DLPack costs more
  // than the call itself on a few thousand logits. execute_at also writes the gradients. The
  // caller guarantees what `execute` checks: every buffer is dense, on the plan's device, of
  // the plan's dtype and element count (the torch layer allocates the outputs and the
  // workspace itself and makes the inputs contiguous). Not a public API.
  void execute_at(uintptr_t real, uintptr_t fake, uintptr_t real_weights, uintptr_t fake_weights,
                  uintptr_t d_loss, uintptr_t d_loss_real, uintptr_t d_loss_fake, uintptr_t g_loss,
                  uintptr_t stats, uintptr_t workspace, size_t workspace_bytes, uintptr_t stream,
                  uintptr_t grad_real, uintptr_t grad_fake_d, uintptr_t grad_fake_g,
                  uintptr_t grad_real_g) {
    ganloss_inputs_t in = inputs_at(real, fake, real_weights, fake_weights);
    ganloss_outputs_t out;
    ganloss_outputs_init(&out);
    out.d_loss = reinterpret_cast<float*>(d_loss);
    out.d_loss_real = reinterpret_cast<float*>(d_loss_real);
    out.d_loss_fake = reinterpret_cast<float*>(d_loss_fake);
    out.g_loss = reinterpret_cast<float*>(g_loss);
    out.stats = reinterpret_cast<ganloss_segment_stats_t*>(stats);
    out.grad_real = reinterpret_cast<void*>(grad_real);
    out.grad_fake_d = reinterpret_cast<void*>(grad_fake_d);
    out.grad_fake_g = reinterpret_cast<void*>(grad_fake_g);
    out.grad_real_g = reinterpret_cast<void*>(grad_real_g);
    ganloss_status_t status = GANLOSS_STATUS_SUCCESS;
    {
      nb::gil_scoped_release release;
      status = ganloss_plan_execute(plan_, &in, &out, reinterpret_cast<void*>(workspace),
                                    workspace_bytes, reinterpret_cast<ganloss_stream_t>(stream));
    }
    if (status != GANLOSS_STATUS_SUCCESS) raise_status(status);
  }

  void vjp_at(uintptr_t real, uintptr_t fake, uintptr_t real_weights, uintptr_t fake_weights,
              uintptr_t cotangent_d, uintptr_t cotangent_g, uintptr_t grad_real,
              uintptr_t grad_fake, uintptr_t workspace, size_t workspace_bytes, uintptr_t stream) {
    ganloss_inputs_t in = inputs_at(real, fake, real_weights, fake_weights);
    const ganloss_cotangents_t cotangents{reinterpret_cast<const float*>(cotangent_d),
                                          reinterpret_cast<const float*>(cotangent_g)};
    ganloss_status_t status = GANLOSS_STATUS_SUCCESS;
    {
      nb::gil_scoped_release release;
      status =
          ganloss_plan_vjp(plan_, &in, &cotangents, reinterpret_cast<void*>(grad_real),
                           reinterpret_cast<void*>(grad_fake), reinterpret_cast<void*>(workspace),
                           workspace_bytes, reinterpret_cast<ganloss_stream_t>(stream));
    }
    if (status != GANLOSS_STATUS_SUCCESS) raise_status(status);
  }

 private:
  static ganloss_inputs_t inputs_at(uintptr_t real, uintptr_t fake, uintptr_t real_weights,
                                    uintptr_t fake_weights) {
    ganloss_inputs_t in;
    ganloss_inputs_init(&in);
    in.real = reinterpret_cast<const void*>(real);
    in.fake = reinterpret_cast<const void*>(fake);
    in.real_weights = reinterpret_cast<const float*>(real_weights);
    in.fake_weights = reinterpret_cast<const float*>(fake_weights);
    return in;
  }

  ganloss_inputs_t inputs(ArrayChecker& checker, const std::optional<InputArray>& real,
                          const std::optional<InputArray>& fake,
                          const std::optional<InputArray>& real_weights,
                          const std::optional<InputArray>& fake_weights) const {
    const DType logits = logits_dtype(problem_.dtype);
    ganloss_inputs_t in;
    ganloss_inputs_init(&in);
    if (real) {
      checker.check("real", *real, &logits, checker.side_elements(true));
      in.real = real->data();
    }
    if (fake) {
      checker.check("fake", *fake, &logits, checker.side_elements(false));
      in.fake = fake->data();
    }
    if (real_weights) {
      checker.check("real_weights", *real_weights, &kFloat32, checker.side_elements(true));
      in.real_weights = static_cast<const float*>(real_weights->data());
    }
    if (fake_weights) {
      checker.check("fake_weights", *fake_weights, &kFloat32, checker.side_elements(false));
      in.fake_weights = static_cast<const float*>(fake_weights->data());
    }
    return in;
  }

  static float* per_segment(ArrayChecker& checker, const char* name,
                            const std::optional<OutputArray>& a, int64_t segments) {
    if (!a) return nullptr;
    checker.check(name, *a, &kFloat32, segments);
    return static_cast<float*>(a->data());
  }

  static std::pair<void*, size_t> workspace_of(ArrayChecker& checker, const nb::object& workspace) {
    if (workspace.is_none()) return {nullptr, 0};
    return checker.bytes(workspace, "workspace");
  }

  ganloss_problem_t problem_;
  int32_t backend_;
  ganloss_plan_t plan_ = nullptr;
  size_t workspace_bytes_ = 0;
};

#ifdef GANLOSS_WITH_CUDA
// body() with `device` current, the previous device restored after; body's status, or the
// status of the first device query or switch that failed.
template <class F>
cudaError_t on_device(int device, F&& body) {
  int previous = -1;
  cudaError_t e = cudaGetDevice(&previous);
  if (e == cudaSuccess && previous != device) e = cudaSetDevice(device);
  if (e == cudaSuccess) e = body();
  if (previous >= 0 && previous != device) cudaSetDevice(previous);
  return e;
}
#endif

// Device memory of the extension's own (cudaMalloc, freed with the last reference), returned
// as a PyTorch tensor. ganloss.torch keeps its plans' CUDA workspaces here rather than in
// PyTorch's caching allocator: while torch.compile's CUDA graphs warm up or record, that
// allocator puts every allocation of the thread into the graph's private pool, whose blocks the
// graphs reuse for their own tensors; a workspace that outlives the call must not live there.
// Not callable during stream capture (cudaMalloc is not capturable): the caller checks.
nb::object cuda_buffer(size_t bytes, int32_t device) {
#ifdef GANLOSS_WITH_CUDA
  struct Owned {
    void* data;
    int device;
  };
  if (bytes == 0) throw std::invalid_argument("cuda_buffer: bytes must be positive");
  void* data = nullptr;
  const cudaError_t e = on_device(device, [&] { return cudaMalloc(&data, bytes); });
  if (e != cudaSuccess) {
    cudaGetLastError();  // a failed cudaMalloc leaves no sticky error; clear the last one
    throw std::runtime_error(std::string("cuda_buffer: cudaMalloc of ") + std::to_string(bytes) +
                             " bytes on device " + std::to_string(device) +
                             " failed: " + cudaGetErrorString(e));
  }
  nb::capsule owner(new Owned{data, device}, [](void* p) noexcept {
    auto* owned = static_cast<Owned*>(p);
    // At interpreter exit the runtime may already be gone: nothing to report then.
    on_device(owned->device, [&] { return cudaFree(owned->data); });
    cudaGetLastError();
    delete owned;
  });
  const size_t shape[1] = {bytes};
  return nb::cast(nb::ndarray<nb::pytorch, uint8_t, nb::ndim<1>>(
      data, 1, shape, owner, nullptr, nb::dtype<uint8_t>(), nb::device::cuda::value, device));
#else
  (void)bytes;
  (void)device;
  throw std::runtime_error("cuda_buffer: this ganloss was built without CUDA");
#endif
}

}  // namespace

NB_MODULE(_ganloss, m) {
  m.doc() = "Bindings over the ganloss C ABI; use the `ganloss` package instead.";
  // Frameworks keep bound objects (plans held by registered custom ops) until the interpreter
  // exits, after nanobind's own teardown checks: those are not reference-count errors.
  nb::set_leak_warnings(false);

  m.def("version", [] { return std::string(ganloss_version()); });
  m.def("status_string",
        [](int status) { return std::string(ganloss_status_string(ganloss_status_t(status))); });
  m.def(
      "backend_unavailable_reason",
      [](int32_t backend) -> std::optional<std::string> {
        if (ganloss_backend_available(backend) == GANLOSS_STATUS_SUCCESS) return std::nullopt;
        return std::string(ganloss_last_error_message());
      },
      nb::arg("backend"), "None if the backend can run here, else why it cannot.");
  m.attr("built_with_cuda") =
#ifdef GANLOSS_WITH_CUDA
      true;
#else
      false;
#endif

  nb::class_<ganloss_problem_t>(m, "Problem", "ganloss_problem_t, with the C defaults")
      .def("__init__", [](ganloss_problem_t* p) { ganloss_problem_init(p); })
      .def_rw("segments", &ganloss_problem_t::segments)
      .def_rw("real_count", &ganloss_problem_t::real_count)
      .def_rw("fake_count", &ganloss_problem_t::fake_count)
      .def_rw("real_stride", &ganloss_problem_t::real_stride)
      .def_rw("fake_stride", &ganloss_problem_t::fake_stride)
      .def_rw("ragged", &ganloss_problem_t::ragged)
      .def_rw("dtype", &ganloss_problem_t::dtype)
      .def_rw("d_loss", &ganloss_problem_t::d_loss)
      .def_rw("g_loss", &ganloss_problem_t::g_loss)
      .def_rw("reduction", &ganloss_problem_t::reduction)
      .def_rw("fp32_gradients", &ganloss_problem_t::fp32_gradients)
      .def_rw("grad_scale", &ganloss_problem_t::grad_scale)
#define GANLOSS_PARAM(field)                                             \
  def_prop_rw(                                                           \
      #field, [](const ganloss_problem_t& p) { return p.params.field; }, \
      [](ganloss_problem_t& p, float value) { p.params.field = value; })
      .GANLOSS_PARAM(real_target)
      .GANLOSS_PARAM(fake_target)
      .GANLOSS_PARAM(margin_real)
      .GANLOSS_PARAM(margin_fake)
      .GANLOSS_PARAM(ls_fake_label)
      .GANLOSS_PARAM(ls_real_label)
      .GANLOSS_PARAM(ls_gen_label);
#undef GANLOSS_PARAM

  m.attr("STATS_BYTES") = sizeof(ganloss_segment_stats_t);
  m.def("workspace_size", &workspace_size, nb::arg("problem"), nb::arg("backend"),
        "Bytes of workspace a call needs; raises ValueError for an invalid problem.");
  m.def("cuda_buffer", &cuda_buffer, nb::arg("bytes"), nb::arg("device"),
        "A torch.uint8 CUDA tensor of `bytes` bytes in memory of the extension's own "
        "(cudaMalloc), outside PyTorch's allocator and its CUDA graph pools.");
  m.def("compute", &compute, nb::arg("problem"), nb::arg("inputs"), nb::arg("outputs"),
        nb::arg("workspace").none(), nb::arg("backend"), nb::arg("cpu_threads") = 0,
        nb::arg("stream") = 0,
        "One ganloss_compute call: inputs and outputs are dicts of DLPack arrays by C field "
        "name, stats and workspace raw bytes.");

  nb::class_<Plan>(m, "Plan",
                   "ganloss_plan_t: a problem validated once for a backend, executed many "
                   "times; execute and vjp take DLPack arrays and a cudaStream_t as an int.")
      .def(nb::init<const ganloss_problem_t&, int32_t, int32_t>(), nb::arg("problem"),
           nb::arg("backend"), nb::arg("cpu_threads") = 0)
      .def_prop_ro("workspace_bytes", &Plan::workspace_bytes)
      .def("workspace_init", &Plan::workspace_init, nb::arg("workspace").none(),
           nb::arg("stream") = 0)
      .def("execute", &Plan::execute, nb::arg("real").none(), nb::arg("fake").none(),
           nb::arg("real_weights").none(), nb::arg("fake_weights").none(), nb::arg("d_loss").none(),
           nb::arg("d_loss_real").none(), nb::arg("d_loss_fake").none(), nb::arg("g_loss").none(),
           nb::arg("stats").none(), nb::arg("workspace").none(), nb::arg("stream") = 0)
      .def("vjp", &Plan::vjp, nb::arg("real").none(), nb::arg("fake").none(),
           nb::arg("real_weights").none(), nb::arg("fake_weights").none(),
           nb::arg("cotangent_d").none(), nb::arg("cotangent_g").none(),
           nb::arg("grad_real").none(), nb::arg("grad_fake").none(), nb::arg("workspace").none(),
           nb::arg("stream") = 0)
      .def("execute_at", &Plan::execute_at, nb::arg("real"), nb::arg("fake"),
           nb::arg("real_weights"), nb::arg("fake_weights"), nb::arg("d_loss"),
           nb::arg("d_loss_real"), nb::arg("d_loss_fake"), nb::arg("g_loss"), nb::arg("stats"),
           nb::arg("workspace"), nb::arg("workspace_bytes"), nb::arg("stream"),
           nb::arg("grad_real") = 0, nb::arg("grad_fake_d") = 0, nb::arg("grad_fake_g") = 0,
           nb::arg("grad_real_g") = 0,
           "execute on addresses (0: absent) of buffers the caller checked (ganloss.torch, "
           "bench/)")
      .def("vjp_at", &Plan::vjp_at,
           "vjp on addresses (0: absent) of buffers the caller checked; ganloss.torch's");

#ifdef GANLOSS_WITH_XLA_FFI
  m.def("xla_ffi_cpu_handler", [] { return nb::capsule(ganloss_xla_ffi_cpu_handler()); });
  m.def("xla_ffi_cuda_handler", [] { return nb::capsule(ganloss_xla_ffi_cuda_handler()); });
#endif
}
