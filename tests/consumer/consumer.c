/* Installed-package check from C: the C ABI, its defaults and an error status. */
#include <ganloss/ganloss.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  ganloss_problem_t p;
  ganloss_inputs_t in;
  ganloss_outputs_t o;
  ganloss_execution_t e;
  float real[3] = {0.5f, -1.0f, 2.0f}, fake[3] = {-0.5f, 0.25f, -3.0f};
  float d_loss = 0.0f, g_loss = 0.0f, grad[3];
  double workspace[16];
  size_t bytes = 0;
  ganloss_status_t s;

  ganloss_problem_init(&p);
  p.real_count = 3;
  p.fake_count = 3;
  p.d_loss = GANLOSS_LOSS_HINGE;
  p.g_loss = GANLOSS_LOSS_HINGE;
  p.reduction = GANLOSS_REDUCTION_SUM;
  ganloss_outputs_init(&o);
  o.d_loss = &d_loss;
  o.g_loss = &g_loss;
  o.grad_real = grad;
  ganloss_execution_init(&e);
  e.backend = GANLOSS_BACKEND_CPU;
  ganloss_inputs_init(&in);
  in.real = real;
  in.fake = fake;
  if (ganloss_workspace_size(&p, GANLOSS_BACKEND_CPU, &bytes) != GANLOSS_STATUS_SUCCESS ||
      bytes > sizeof workspace) {
    return 1;
  }
  s = ganloss_compute(&p, &in, &o, workspace, bytes, &e, NULL);
  if (s != GANLOSS_STATUS_SUCCESS) {
    printf("failed: %s: %s\n", ganloss_status_string(s), ganloss_last_error_message());
    return 1;
  }
  /* relu(1 - r): 0.5 + 2 + 0; relu(1 + f): 0.5 + 1.25 + 0; G: -sum f = 3.25 */
  if (fabsf(d_loss - 4.25f) > 1e-6f || fabsf(g_loss - 3.25f) > 1e-6f || grad[0] != -1.0f ||
      grad[2] != 0.0f) {
    printf("wrong: %g %g\n", (double)d_loss, (double)g_loss);
    return 1;
  }
  p.segments = 0;
  s = ganloss_compute(&p, &in, &o, workspace, bytes, &e, NULL);
  if (s != GANLOSS_STATUS_INVALID_SIZE ||
      strstr(ganloss_last_error_message(), "segments") == NULL) {
    return 1;
  }
  printf("ok\n");
  return 0;
}
