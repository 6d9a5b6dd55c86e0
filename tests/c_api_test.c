/* The C ABI compiled as C11 against the shared library: defaults, status strings, the size
 * query, CPU and reference results on the same inputs, plans and the VJP call, and error
 * reporting. */
#include <ganloss/ganloss.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

enum { kSegments = 3, kReal = 5, kFake = 4 };

static ganloss_status_t run(int32_t backend, const ganloss_problem_t* p, const float* real,
                            const float* fake, float* d_loss, float* g_loss, float* grad_real,
                            float* grad_fake_d, float* grad_fake_g) {
  static double workspace[64];
  ganloss_inputs_t in;
  ganloss_outputs_t o;
  ganloss_execution_t e;
  size_t bytes = 0;
  ganloss_status_t s = ganloss_workspace_size(p, backend, &bytes);
  if (s != GANLOSS_STATUS_SUCCESS || bytes > sizeof workspace) return GANLOSS_STATUS_INTERNAL_ERROR;
  ganloss_outputs_init(&o);
  o.d_loss = d_loss;
  o.g_loss = g_loss;
  o.grad_real = grad_real;
  o.grad_fake_d = grad_fake_d;
  o.grad_fake_g = grad_fake_g;
  ganloss_execution_init(&e);
  e.backend = backend;
  e.cpu_threads = 2;
  ganloss_inputs_init(&in);
  in.real = real;
  in.fake = fake;
  return ganloss_compute(p, &in, &o, workspace, bytes, &e, NULL);
}

int main(void) {
  float real[kSegments * kReal], fake[kSegments * kFake];
  float d_cpu[kSegments], g_cpu[kSegments], d_ref[kSegments], g_ref[kSegments];
  float gr_cpu[kSegments * kReal], gr_ref[kSegments * kReal];
  float gfd_cpu[kSegments * kFake], gfd_ref[kSegments * kFake];
  float gfg_cpu[kSegments * kFake], gfg_ref[kSegments * kFake];
  ganloss_problem_t p;
  int i, kind;

  for (i = 0; i < kSegments * kReal; ++i)
    real[i] = 0.37f * (float)i - 2.0f;
  for (i = 0; i < kSegments * kFake; ++i)
    fake[i] = 1.5f - 0.29f * (float)i;

  CHECK(strcmp(ganloss_version(), GANLOSS_VERSION_STRING) == 0);
  CHECK(strcmp(ganloss_status_string(GANLOSS_STATUS_SUCCESS), "success") == 0);
  CHECK(ganloss_backend_available(GANLOSS_BACKEND_CPU) == GANLOSS_STATUS_SUCCESS);
  CHECK(ganloss_last_cuda_error() == 0);

  for (kind = GANLOSS_LOSS_NONSATURATING; kind <= GANLOSS_LOSS_LEAST_SQUARES; ++kind) {
    ganloss_problem_init(&p);
    p.segments = kSegments;
    p.real_count = kReal;
    p.fake_count = kFake;
    p.d_loss = kind;
    p.g_loss = kind;
    CHECK(run(GANLOSS_BACKEND_CPU, &p, real, fake, d_cpu, g_cpu, gr_cpu, gfd_cpu, gfg_cpu) ==
          GANLOSS_STATUS_SUCCESS);
    CHECK(run(GANLOSS_BACKEND_REFERENCE, &p, real, fake, d_ref, g_ref, gr_ref, gfd_ref, gfg_ref) ==
          GANLOSS_STATUS_SUCCESS);
    for (i = 0; i < kSegments; ++i) {
      CHECK(fabsf(d_cpu[i] - d_ref[i]) <= 1e-6f * (1.0f + fabsf(d_ref[i])));
      CHECK(fabsf(g_cpu[i] - g_ref[i]) <= 1e-6f * (1.0f + fabsf(g_ref[i])));
    }
    for (i = 0; i < kSegments * kReal; ++i)
      CHECK(fabsf(gr_cpu[i] - gr_ref[i]) <= 1e-7f);
    for (i = 0; i < kSegments * kFake; ++i) {
      CHECK(fabsf(gfd_cpu[i] - gfd_ref[i]) <= 1e-7f);
      CHECK(fabsf(gfg_cpu[i] - gfg_ref[i]) <= 1e-7f);
    }
  }

  /* A plan executes as ganloss_compute does, bit for bit; its VJP with u_d = 1 and no u_g is
   * the D gradients of ganloss_compute. */
  for (kind = GANLOSS_LOSS_NONSATURATING; kind <= GANLOSS_LOSS_LEAST_SQUARES; ++kind) {
    static double workspace[64];
    float grad_real[kSegments * kReal], grad_fake[kSegments * kFake];
    const float ones[kSegments] = {1.0f, 1.0f, 1.0f};
    ganloss_plan_t plan = NULL;
    ganloss_execution_t e;
    ganloss_inputs_t in;
    ganloss_outputs_t o;
    ganloss_cotangents_t u;
    size_t bytes = 1;
    ganloss_problem_init(&p);
    p.segments = kSegments;
    p.real_count = kReal;
    p.fake_count = kFake;
    p.d_loss = kind;
    p.g_loss = kind;
    CHECK(run(GANLOSS_BACKEND_CPU, &p, real, fake, d_ref, g_ref, gr_ref, gfd_ref, gfg_ref) ==
          GANLOSS_STATUS_SUCCESS);
    ganloss_execution_init(&e);
    CHECK(e.check_memory == 0);
    e.backend = GANLOSS_BACKEND_CPU;
    e.cpu_threads = 2;
    CHECK(ganloss_plan_create(&p, &e, &plan) == GANLOSS_STATUS_SUCCESS);
    CHECK(ganloss_plan_workspace_size(plan, &bytes) == GANLOSS_STATUS_SUCCESS);
    CHECK(bytes <= sizeof workspace);
    CHECK(ganloss_plan_workspace_init(plan, workspace, bytes, NULL) == GANLOSS_STATUS_SUCCESS);
    ganloss_inputs_init(&in);
    in.real = real;
    in.fake = fake;
    ganloss_outputs_init(&o);
    o.d_loss = d_cpu;
    o.g_loss = g_cpu;
    o.grad_real = gr_cpu;
    o.grad_fake_d = gfd_cpu;
    o.grad_fake_g = gfg_cpu;
    CHECK(ganloss_plan_execute(plan, &in, &o, workspace, bytes, NULL) == GANLOSS_STATUS_SUCCESS);
    CHECK(memcmp(d_cpu, d_ref, sizeof d_cpu) == 0 && memcmp(g_cpu, g_ref, sizeof g_cpu) == 0);
    CHECK(memcmp(gr_cpu, gr_ref, sizeof gr_cpu) == 0);
    CHECK(memcmp(gfd_cpu, gfd_ref, sizeof gfd_cpu) == 0);
    CHECK(memcmp(gfg_cpu, gfg_ref, sizeof gfg_cpu) == 0);
    ganloss_plan_destroy(plan);

    e.backend = GANLOSS_BACKEND_REFERENCE;
    plan = NULL;
    CHECK(ganloss_plan_create(&p, &e, &plan) == GANLOSS_STATUS_SUCCESS);
    CHECK(run(GANLOSS_BACKEND_REFERENCE, &p, real, fake, d_ref, g_ref, gr_ref, gfd_ref, gfg_ref) ==
          GANLOSS_STATUS_SUCCESS);
    u.d_loss = ones;
    u.g_loss = NULL;
    CHECK(ganloss_plan_vjp(plan, &in, &u, grad_real, grad_fake, NULL, 0, NULL) ==
          GANLOSS_STATUS_SUCCESS);
    CHECK(memcmp(grad_real, gr_ref, sizeof grad_real) == 0);
    CHECK(memcmp(grad_fake, gfd_ref, sizeof grad_fake) == 0);
    /* Bad input: a status and a message naming the argument. */
    CHECK(ganloss_plan_vjp(plan, &in, &u, grad_real, grad_real, NULL, 0, NULL) ==
          GANLOSS_STATUS_INVALID_ALIASING);
    CHECK(strstr(ganloss_last_error_message(), "grad_fake") != NULL);
    CHECK(ganloss_plan_execute(plan, NULL, &o, NULL, 0, NULL) == GANLOSS_STATUS_NULL_POINTER);
    CHECK(strstr(ganloss_last_error_message(), "inputs") != NULL);
    ganloss_plan_destroy(plan);
  }
  {
    ganloss_plan_t plan = NULL;
    size_t bytes = 0;
    ganloss_problem_init(&p);
    CHECK(ganloss_plan_create(&p, NULL, NULL) == GANLOSS_STATUS_NULL_POINTER);
    CHECK(ganloss_plan_workspace_size(NULL, &bytes) == GANLOSS_STATUS_NULL_POINTER);
    CHECK(strstr(ganloss_last_error_message(), "plan") != NULL);
    CHECK(ganloss_plan_workspace_init(NULL, NULL, 0, NULL) == GANLOSS_STATUS_NULL_POINTER);
    CHECK(ganloss_plan_execute(NULL, NULL, NULL, NULL, 0, NULL) == GANLOSS_STATUS_NULL_POINTER);
    CHECK(ganloss_plan_vjp(NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL) ==
          GANLOSS_STATUS_NULL_POINTER);
    CHECK(plan == NULL);
    ganloss_plan_destroy(NULL);
  }

  /* Errors: a status, a message naming the argument, cleared by the next success. */
  ganloss_problem_init(&p);
  p.real_count = kReal;
  p.fake_count = kFake;
  p.reduction = 9;
  CHECK(run(GANLOSS_BACKEND_CPU, &p, real, fake, d_cpu, g_cpu, gr_cpu, gfd_cpu, gfg_cpu) ==
        GANLOSS_STATUS_INTERNAL_ERROR); /* the size query already refuses it */
  {
    size_t bytes = 0;
    CHECK(ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &bytes) == GANLOSS_STATUS_INVALID_ENUM);
    CHECK(strstr(ganloss_last_error_message(), "reduction") != NULL);
    p.reduction = GANLOSS_REDUCTION_SUM;
    CHECK(ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &bytes) == GANLOSS_STATUS_SUCCESS);
    CHECK(ganloss_last_error_message()[0] == '\0');
  }
  if (failures == 0) printf("ok\n");
  return failures == 0 ? 0 : 1;
}
