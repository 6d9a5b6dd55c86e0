/* ganloss C ABI: the stable, exported interface of the library.
 *
 * Every symbol the shared library exports is declared here and starts with `ganloss_`.
 * No function throws; every failure is a ganloss_status_t plus a message retrievable
 * with ganloss_last_error_message() on the calling thread. The C++ API in ganloss.hpp
 * is a header-only layer over these functions.
 */
#ifndef GANLOSS_GANLOSS_H_
#define GANLOSS_GANLOSS_H_

#include <stddef.h>
#include <stdint.h>

#define GANLOSS_VERSION_MAJOR 0
#define GANLOSS_VERSION_MINOR 1
#define GANLOSS_VERSION_PATCH 0
#define GANLOSS_STRINGIFY_(x) #x
#define GANLOSS_STRINGIFY(x) GANLOSS_STRINGIFY_(x)
#define GANLOSS_VERSION_STRING             \
  GANLOSS_STRINGIFY(GANLOSS_VERSION_MAJOR) \
  "." GANLOSS_STRINGIFY(GANLOSS_VERSION_MINOR) "." GANLOSS_STRINGIFY(GANLOSS_VERSION_PATCH)

/* The most threads a CPU backend call runs (ganloss_execution_t::cpu_threads). */
#define GANLOSS_MAX_CPU_THREADS 1024

#if defined(__GNUC__) || defined(__clang__)
#define GANLOSS_API __attribute__((visibility("default")))
#else
#define GANLOSS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Same type as cudaStream_t, declared without the CUDA headers. */
typedef struct CUstream_st* ganloss_stream_t;

/*! Result of every ganloss_* call. */
typedef enum ganloss_status {
  GANLOSS_STATUS_SUCCESS = 0,
  GANLOSS_STATUS_NULL_POINTER = 1,         /* a required pointer is null */
  GANLOSS_STATUS_INVALID_SIZE = 2,         /* a count, segment number or stride is out of range */
  GANLOSS_STATUS_SIZE_OVERFLOW = 3,        /* sizes whose product or extent overflows */
  GANLOSS_STATUS_INVALID_ENUM = 4,         /* unknown dtype, loss kind, reduction or backend */
  GANLOSS_STATUS_INVALID_VALUE = 5,        /* a parameter, flag, weight or offset out of domain */
  GANLOSS_STATUS_UNSUPPORTED = 6,          /* valid, but not available in this configuration */
  GANLOSS_STATUS_INVALID_ALIASING = 7,     /* buffers overlap in a way the call cannot honour */
  GANLOSS_STATUS_MISALIGNED_POINTER = 8,   /* a pointer is not aligned to its element type */
  GANLOSS_STATUS_WORKSPACE_TOO_SMALL = 9,  /* workspace_bytes below ganloss_workspace_size() */
  GANLOSS_STATUS_BACKEND_UNAVAILABLE = 10, /* backend not built, or no usable CUDA device */
  GANLOSS_STATUS_CUDA_ERROR = 11,          /* a CUDA runtime call failed */
  GANLOSS_STATUS_INTERNAL_ERROR = 12,      /* resource exhaustion or a library defect */
  GANLOSS_STATUS_INVALID_MEMORY = 13       /* a pointer is not memory the backend can access */
} ganloss_status_t;

/*! Element type of the logits and, by default, of their gradients. */
typedef enum ganloss_dtype {
  GANLOSS_DTYPE_F32 = 0,
  GANLOSS_DTYPE_F16 = 1,
  GANLOSS_DTYPE_BF16 = 2
} ganloss_dtype_t;

/*! Loss kinds. The discriminator's and the generator's are chosen independently among the
 *  first five; a relativistic kind must be both the D and the G kind. */
typedef enum ganloss_loss_kind {
  GANLOSS_LOSS_NONSATURATING = 0, /* logistic: D sp(-r) + sp(f), G sp(-f) */
  GANLOSS_LOSS_MINIMAX = 1,       /* logistic D as above, saturating G -sp(f) */
  GANLOSS_LOSS_HINGE = 2,         /* D relu(m_r - r) + relu(m_f + f), G -f */
  GANLOSS_LOSS_WASSERSTEIN = 3,   /* D -r + f, G -f */
  GANLOSS_LOSS_LEAST_SQUARES = 4, /* D (r-b)^2/2 + (f-a)^2/2, G (f-c)^2/2 */
  /* Paired (RpGAN), real_count == fake_count: D sp(f_i - r_i), G sp(r_i - f_i) per pair. */
  GANLOSS_LOSS_RELATIVISTIC = 5,
  /* Relativistic average, with r~ = r - mean(f), f~ = f - mean(r) per segment:
   *   logistic (RaSGAN)  D sp(-r~) + sp(f~)              G sp(r~) + sp(-f~)
   *   hinge              D relu(m_r - r~) + relu(m_f + f~)  G relu(m_f + r~) + relu(m_r - f~)
   *   least squares      D (r~ - 1)^2/2 + (f~ + 1)^2/2    G (r~ + 1)^2/2 + (f~ - 1)^2/2
   * The gradients include the terms through the means. */
  GANLOSS_LOSS_RELATIVISTIC_AVERAGE = 6,
  GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE = 7,
  GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES = 8
} ganloss_loss_kind_t;

/*! How per-element terms w_i * l_i become the per-segment losses and how gradients are
 *  normalised, per side (real, fake) and per segment. Without weights, w_i = 1. */
typedef enum ganloss_reduction {
  GANLOSS_REDUCTION_NONE = 0, /* per-element losses; unnormalised gradients; totals are sums */
  GANLOSS_REDUCTION_SUM = 1,
  GANLOSS_REDUCTION_MEAN = 2,        /* sum w l / sum w */
  GANLOSS_REDUCTION_MEAN_NONZERO = 3 /* sum w l / (number of w != 0) */
} ganloss_reduction_t;

/*! Where the call runs; pointers must be device pointers for CUDA, host pointers otherwise. */
typedef enum ganloss_backend {
  GANLOSS_BACKEND_CUDA = 0,
  GANLOSS_BACKEND_CPU = 1,      /* multi-threaded host implementation */
  GANLOSS_BACKEND_REFERENCE = 2 /* sequential double precision, for checking */
} ganloss_backend_t;

/*! Parameters of the loss terms. ganloss_problem_init() sets the defaults given here. */
typedef struct ganloss_loss_params {
  float real_target;   /* logistic D real term target t (1): t*sp(-r) + (1-t)*sp(r) */
  float fake_target;   /* logistic D fake term target (0) */
  float margin_real;   /* hinge m_r (1) */
  float margin_fake;   /* hinge m_f (1) */
  float ls_fake_label; /* least squares a (0) */
  float ls_real_label; /* least squares b (1) */
  float ls_gen_label;  /* least squares c (1) */
} ganloss_loss_params_t;

/*! One batched problem: `segments` rows of real and of fake logits.
 *
 * Fixed length (ragged = 0): row s of the real logits holds real_count elements starting at
 * element s*real_stride; likewise for fake. A stride of 0 means dense rows (stride = count).
 * Ragged (ragged = 1): real_count is the length of the real logits array, segment s holds its
 * elements [real_offsets[s], real_offsets[s+1]) (see ganloss_inputs_t), strides are 0; an empty
 * segment has zero losses and, under mean reductions, no division by zero. Elements in no
 * segment (before real_offsets[0], from real_offsets[segments]) are neither read nor written.
 * Per-element inputs and outputs (weights, gradients, element losses) use the layout of the
 * logits they belong to.
 */
typedef struct ganloss_problem {
  int64_t segments;
  int64_t real_count; /* real logits per segment (total, if ragged); 0 if no output needs them */
  int64_t fake_count;
  int64_t real_stride;
  int64_t fake_stride;
  int32_t ragged;    /* 0: fixed-length rows; 1: rows given by offsets */
  int32_t dtype;     /* ganloss_dtype_t */
  int32_t d_loss;    /* ganloss_loss_kind_t */
  int32_t g_loss;    /* ganloss_loss_kind_t */
  int32_t reduction; /* ganloss_reduction_t */
  /* 0: gradients are stored in the logits' dtype; 1: as f32 (for f16/bf16 logits whose
   * gradients would fall below the dtype's range, e.g. a mean over many elements) */
  int32_t fp32_gradients;
  float grad_scale; /* multiplies every gradient (upstream gradient or loss scale), 1; finite,
                     * at most 2^126 in magnitude */
  ganloss_loss_params_t params;
} ganloss_problem_t;

/*! Outputs; every pointer may be null, meaning "not wanted".
 *
 * Per-segment outputs hold `segments` floats. Gradients have the logits' layout and dtype (f32
 * with fp32_gradients); grad_real may be the real pointer itself and one of grad_fake_d /
 * grad_fake_g may be the fake pointer itself (in place, when the gradient's dtype is the
 * logits'); no other overlap is allowed. Element losses are float and use the layout of their
 * input.
 */
typedef struct ganloss_outputs {
  float* d_loss;      /* d_loss_real + d_loss_fake */
  float* d_loss_real; /* reduced D term over the real logits */
  float* d_loss_fake; /* reduced D term over the fake logits */
  float* g_loss;      /* reduced G terms (over the fake logits and, relativistic, the real) */
  void* grad_real;    /* dL_D / d real */
  void* grad_fake_d;  /* dL_D / d fake */
  void* grad_fake_g;  /* dL_G / d fake */
  void* grad_real_g;  /* dL_G / d real: zero unless the losses are relativistic */
  float* loss_real;   /* per-element D term of each real logit (times its weight) */
  float* loss_fake_d; /* per-element D term of each fake logit */
  float* loss_fake_g; /* per-element G term of each fake logit */
  float* loss_real_g; /* per-element G term of each real logit: zero unless relativistic */
  struct ganloss_segment_stats* stats; /* per-segment training statistics */
} ganloss_outputs_t;

/*! What users log every step, per segment, from the raw logits, in the same pass. Means and
 *  fractions are over the finite logits of the segment (0 if there are none); sign is -1, 0
 *  or 1. Unweighted. */
typedef struct ganloss_segment_stats {
  float mean_sigmoid_real;  /* mean sigma(r), "D(x)" */
  float mean_sigmoid_fake;  /* mean sigma(f), "D(G(z))" */
  float frac_real_positive; /* fraction of r > 0: D's accuracy on real samples */
  float frac_fake_negative; /* fraction of f < 0: D's accuracy on fake samples */
  float mean_sign_real;     /* mean sign(r): the ADA overfitting heuristic */
  int64_t nonfinite_real;   /* NaN or infinite real logits */
  int64_t nonfinite_fake;
} ganloss_segment_stats_t;

/*! The data of a call. Only the logits are required, and only those some requested output
 *  depends on. Weights are f32, non-negative, in the layout of their logits; an element of
 *  weight 0 contributes nothing (its weighted terms, element losses and gradient part are 0,
 *  even where its logit is NaN or infinite; the unweighted statistics still see it). Only 0
 *  masks: a nonzero weight however small beside its side's others still carries an infinite
 *  or NaN term into the results. Under GANLOSS_REDUCTION_MEAN a side's weights may sum to any
 *  value up to FLT_MAX in a segment, subnormal included; above FLT_MAX that side's losses and
 *  gradients are NaN. A negative weight has no weighted mean: the host backends check the
 *  weights a call reads and return GANLOSS_STATUS_INVALID_VALUE naming the first negative one,
 *  writing nothing; the CUDA backend, which cannot read them before its kernels run, reads a
 *  negative weight as NaN, so its segment's losses (and the gradients its weight sum or term
 *  reaches) are NaN. Offsets (ragged problems) are segments + 1 non-decreasing int64 values
 *  within [0, count], in the memory of the backend; the host backends check them
 *  (GANLOSS_STATUS_INVALID_VALUE, or INVALID_SIZE for pairs of unequal lengths). The CUDA
 *  backend cannot read them before its kernels run: it checks them in a first launch and, if
 *  any is malformed, touches no element and writes NaN to every segment's losses and
 *  statistics. */
typedef struct ganloss_inputs {
  const void* real;
  const void* fake;
  const float* real_weights; /* per real logit; per pair for the paired relativistic loss */
  const float* fake_weights; /* per fake logit */
  const int64_t* real_offsets;
  const int64_t* fake_offsets;
} ganloss_inputs_t;

/*! How a call runs. ganloss_execution_init() gives the defaults. */
typedef struct ganloss_execution {
  int32_t backend; /* ganloss_backend_t (CUDA) */
  /* CPU backend threads, the caller's included; 0 = hardware concurrency. At most
   * GANLOSS_MAX_CPU_THREADS run: a larger value gives that many. */
  int32_t cpu_threads;
  /* CUDA backend, long segments: the kernel keeps one counter per segment in the workspace,
   * which must be zero when a call starts; every call leaves it zero when it completes. With 0
   * (the default) each call zeroes it with one cudaMemsetAsync on its stream. Set 1 when the
   * workspace was zeroed once after allocation and has been used only by ganloss calls since,
   * to skip that memset. */
  int32_t workspace_initialized;
  /* Plans only (ganloss_plan_execute, ganloss_plan_vjp): 1 checks, at every execution, that
   * every pointer is memory the backend can access (one runtime query per pointer on CUDA), as
   * ganloss_compute always does; 0 (the default) skips those queries and keeps execution to
   * constant-time checks and the launches. */
  int32_t check_memory;
} ganloss_execution_t;

/*! A plan: a problem validated once for one backend, with its kernel specialisation, regime
 *  and workspace size chosen, executed many times (a training loop). Opaque; created by
 *  ganloss_plan_create, freed by ganloss_plan_destroy. A plan is immutable once created:
 *  any number of threads may execute one plan at once. It holds no device memory and no stream;
 *  executions of one plan on different streams may run at once when their outputs and
 *  workspaces differ. On CUDA a plan belongs to the device current when it was created. */
typedef struct ganloss_plan* ganloss_plan_t;

/*! Per-segment upstream cotangents of a VJP call: `segments` floats each, in the memory of the
 *  plan's backend (device memory for CUDA). A null pointer means 0 for every segment, and the
 *  loss is left out entirely (its non-finite terms cannot make NaN). */
typedef struct ganloss_cotangents {
  const float* d_loss; /* u_d[s]: the upstream gradient of the D loss of segment s */
  const float* g_loss; /* u_g[s]: the upstream gradient of the G loss of segment s */
} ganloss_cotangents_t;

/*! Fills *problem with one dense segment of f32 non-saturating losses, mean reduction and
 *  the default loss parameters; the caller then sets the counts. */
GANLOSS_API void ganloss_problem_init(ganloss_problem_t* problem);

/*! Fills *execution with the defaults (CUDA backend, all hardware threads). */
GANLOSS_API void ganloss_execution_init(ganloss_execution_t* execution);

/*! Zeroes every pointer of *outputs. */
GANLOSS_API void ganloss_outputs_init(ganloss_outputs_t* outputs);

/*! Zeroes every pointer of *inputs. */
GANLOSS_API void ganloss_inputs_init(ganloss_inputs_t* inputs);

/*! A fixed English description of a status. Never null. */
GANLOSS_API const char* ganloss_status_string(ganloss_status_t status);

/*! The message of the last failing call on this thread ("" after a success). The pointer is
 *  valid until the next ganloss_* call on this thread. */
GANLOSS_API const char* ganloss_last_error_message(void);

/*! The last CUDA runtime error a ganloss call on this thread observed (a cudaError_t value),
 *  0 if none. */
GANLOSS_API int32_t ganloss_last_cuda_error(void);

/*! GANLOSS_STATUS_SUCCESS if `backend` can run here, else BACKEND_UNAVAILABLE with a message
 *  naming the reason (not built with CUDA, no device, driver too old). */
GANLOSS_API ganloss_status_t ganloss_backend_available(int32_t backend);

/*! Bytes of workspace a call needs. Depends on the problem and the backend only (shapes,
 *  kinds, reduction), never on the data or the pointers.
 *
 * @param[in]  problem  validated as by ganloss_compute, without pointers
 * @param[in]  backend  ganloss_backend_t
 * @param[out] bytes    required size; 0 means the workspace pointer may be null
 */
GANLOSS_API ganloss_status_t ganloss_workspace_size(const ganloss_problem_t* problem,
                                                    int32_t backend, size_t* bytes);

/*! Computes the requested losses, gradients and statistics of one batched problem.
 *
 * One pass over the logits for the non-relativistic and paired kinds; the relativistic average
 * kinds and weighted means read the data again (the means and weight sums come first), inside
 * the same call. No allocation and, for CUDA, no synchronisation: the work is enqueued on
 * `stream` and the call can be captured into a CUDA graph. Everything that can be checked
 * without reading the data is checked before anything is written.
 *
 * @param[in]  problem     shapes, dtype, loss kinds, reduction, parameters
 * @param[in]  inputs      logits, and optional weights and offsets
 * @param[out] outputs     where to write; null members are skipped
 * @param[in]  workspace   at least ganloss_workspace_size() bytes, 16-byte aligned
 * @param[in]  execution   backend and its options; null means ganloss_execution_init()
 * @param[in]  stream      CUDA stream (ignored by host backends)
 *
 * @code
 *   ganloss_problem_t p; ganloss_problem_init(&p);
 *   p.segments = 1; p.real_count = n; p.fake_count = n;
 *   ganloss_inputs_t in; ganloss_inputs_init(&in);
 *   in.real = d_real; in.fake = d_fake;
 *   ganloss_outputs_t o; ganloss_outputs_init(&o);
 *   o.d_loss = d_loss; o.grad_real = grad_r; o.grad_fake_d = grad_f;
 *   size_t bytes; ganloss_workspace_size(&p, GANLOSS_BACKEND_CUDA, &bytes);
 *   ganloss_compute(&p, &in, &o, d_workspace, bytes, NULL, stream);
 * @endcode
 */
GANLOSS_API ganloss_status_t ganloss_compute(const ganloss_problem_t* problem,
                                             const ganloss_inputs_t* inputs,
                                             const ganloss_outputs_t* outputs, void* workspace,
                                             size_t workspace_bytes,
                                             const ganloss_execution_t* execution,
                                             ganloss_stream_t stream);

/*! Validates `problem` once for `execution->backend` and makes a plan for it: the problem's
 *  checks, the backend's (on CUDA: a device, the device count and the kernel image, and the
 *  device current now, which the plan belongs to) and the workspace size, all done here so that
 *  executing the plan costs only its launches.
 *
 *  What an execution (ganloss_plan_execute, ganloss_plan_vjp) then costs on the host: a fixed
 *  number of pointer comparisons (null, alignment, address wrap, aliasing, workspace size), no
 *  CUDA runtime call but the kernel launches (for a ragged problem, one more: the device-side
 *  offsets check, which writes its own verdict), no memset, no allocation, no lock. With
 *  execution->check_memory, one cudaPointerGetAttributes per pointer is added. The host backends
 *  also check a ragged problem's offsets, which they can read: O(segments).
 *
 * @param[in]  problem    as for ganloss_compute; copied into the plan
 * @param[in]  execution  backend, cpu_threads and check_memory (0 or 1); null means
 *                        ganloss_execution_init(); copied. workspace_initialized is not used:
 *                        see ganloss_plan_workspace_init.
 * @param[out] plan       the new plan; left untouched on failure
 */
GANLOSS_API ganloss_status_t ganloss_plan_create(const ganloss_problem_t* problem,
                                                 const ganloss_execution_t* execution,
                                                 ganloss_plan_t* plan);

/*! Frees a plan (null is ignored). Work it enqueued is not affected. */
GANLOSS_API void ganloss_plan_destroy(ganloss_plan_t plan);

/*! Workspace bytes the plan's executions and VJP calls need (ganloss_workspace_size of its
 *  problem and backend). */
GANLOSS_API ganloss_status_t ganloss_plan_workspace_size(ganloss_plan_t plan, size_t* bytes);

/*! Prepares a freshly allocated workspace for the plan's executions: on CUDA one
 *  cudaMemsetAsync on `stream` of the counters at the start of the workspace; nothing on the
 *  host backends (after the same checks). Call it once after allocating the workspace (or after
 *  using it for anything but this plan's calls, or after a call that failed on the device);
 *  every execution leaves the counters as it found them, so no execution zeroes anything. A
 *  workspace zeroed whole (cudaMemset) after allocation needs no call. Checks the workspace as
 *  an execution does: at least ganloss_plan_workspace_size bytes, not null unless 0 are
 *  needed, 16-byte aligned. */
GANLOSS_API ganloss_status_t ganloss_plan_workspace_init(ganloss_plan_t plan, void* workspace,
                                                         size_t workspace_bytes,
                                                         ganloss_stream_t stream);

/*! Executes the plan: ganloss_compute of the plan's problem on new inputs and outputs, with the
 *  same results bit for bit, but only constant-time checks of the pointers (null, alignment,
 *  address wrap, aliasing, workspace size) and, with execution.check_memory, their memory
 *  spaces. No device query, no memset, no allocation: the workspace must have been prepared by
 *  ganloss_plan_workspace_init. On CUDA the device current at ganloss_plan_create must be
 *  current. The host backends run synchronously and ignore `stream`. */
GANLOSS_API ganloss_status_t ganloss_plan_execute(ganloss_plan_t plan,
                                                  const ganloss_inputs_t* inputs,
                                                  const ganloss_outputs_t* outputs, void* workspace,
                                                  size_t workspace_bytes, ganloss_stream_t stream);

/*! The vector-Jacobian product of the plan's losses: for every real and fake logit x, writes
 *
 *      d/dx  sum_s ( u_d[s] * L_D[s] + u_g[s] * L_G[s] )
 *
 *  where L_D[s], L_G[s] are the per-segment D and G losses that ganloss_plan_execute reports
 *  in d_loss and g_loss, with the plan's reduction, weights and grad_scale. Each gradient is
 *  formed in fp32 and rounded once to the gradient dtype (the logits', or f32 with
 *  fp32_gradients), so a loss scale in the cotangents keeps fp16 gradients in range. This is the
 *  backward pass of an autograd function whose forward is ganloss_plan_execute: nothing but the
 *  inputs is kept between the two. On CUDA it reads the cotangents on the device, and for the
 *  basic and paired kinds reads each logit once in one launch. Checks and costs as for
 *  ganloss_plan_execute, with the same workspace.
 *
 *  A requested gradient is written for every element of its rows, 0 where no term contributes
 *  (a zero weight, a null cotangent). The logits of a side whose gradient is requested are
 *  required; for the relativistic kinds with a non-null cotangent, both sides' are.
 *
 * @param[in]  cotangents  per-segment u_d and u_g: `segments` floats each, 4-byte aligned,
 *                         overlapping no gradient and not the workspace; a null member means 0
 *                         and leaves that loss out (its non-finite terms cannot make NaN); null
 *                         means both are null
 * @param[out] grad_real   gradient of every real logit, in the real logits' layout; null if
 *                         not wanted; may be the real logits themselves (same dtype), and may
 *                         overlap nothing else
 * @param[out] grad_fake   likewise for the fake logits
 */
GANLOSS_API ganloss_status_t ganloss_plan_vjp(ganloss_plan_t plan, const ganloss_inputs_t* inputs,
                                              const ganloss_cotangents_t* cotangents,
                                              void* grad_real, void* grad_fake, void* workspace,
                                              size_t workspace_bytes, ganloss_stream_t stream);

/*! "MAJOR.MINOR.PATCH" of the library actually loaded. */
GANLOSS_API const char* ganloss_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GANLOSS_GANLOSS_H_ */
