/* The C ABI compiled as C11 against the shared library: defaults, status strings, the size
 * query, CPU and reference results on the same inputs, and error reporting. */
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
