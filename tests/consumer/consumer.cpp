// Installed-package check from C++17: one CPU call and one plan (execute, VJP) through the
// header-only C++ API.
#include <ganloss/ganloss.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  ganloss::Problem p;
  p.real_count = 4;
  p.fake_count = 4;
  std::vector<float> real(4, 0.0f), fake(4, 0.0f), grad_real(4), grad_fake(4);
  float d_loss = 0.0f;
  ganloss::Outputs out;
  out.d_loss = &d_loss;
  out.grad_real = grad_real.data();
  out.grad_fake_d = grad_fake.data();
  std::size_t bytes = 0;
  if (ganloss::workspace_size(p, ganloss::Backend::cpu, &bytes) != ganloss::Status::Success)
    return 1;
  std::vector<double> workspace(bytes / sizeof(double) + 1);
  ganloss::Execution exec;
  exec.backend = ganloss::Backend::cpu;
  const ganloss::Status s =
      ganloss::compute(p, {real.data(), fake.data()}, out, workspace.data(), bytes, exec);
  if (s != ganloss::Status::Success) {
    std::printf("failed: %s: %s\n", ganloss::status_string(s), ganloss::last_error_message());
    return 1;
  }
  bool ok = std::fabs(d_loss - 2 * std::log(2.0f)) < 1e-6f && grad_real[0] == -0.125f &&
            grad_fake[3] == 0.125f;
  // A plan on the reference backend: the same loss, and a VJP with u_d = 2 (twice the D
  // gradients).
  ganloss::Execution reference;
  reference.backend = ganloss::Backend::reference;
  ganloss::Plan plan;
  if (ganloss::Plan::create(p, reference, &plan) != ganloss::Status::Success) return 1;
  std::vector<double> plan_workspace(plan.workspace_size() / sizeof(double) + 1);
  float plan_loss = 0.0f;
  ganloss::Outputs plan_out;
  plan_out.d_loss = &plan_loss;
  const float two = 2.0f;
  ganloss::Cotangents u;
  u.d_loss = &two;
  ok = ok &&
       plan.workspace_init(plan_workspace.data(), plan.workspace_size()) ==
           ganloss::Status::Success &&
       plan.execute({real.data(), fake.data()}, plan_out, plan_workspace.data(),
                    plan.workspace_size()) == ganloss::Status::Success &&
       plan_loss == d_loss &&
       plan.vjp({real.data(), fake.data()}, u, grad_real.data(), grad_fake.data(),
                plan_workspace.data(), plan.workspace_size()) == ganloss::Status::Success &&
       grad_real[0] == -0.25f && grad_fake[3] == 0.25f;
  std::printf("%s %s\n", ok ? "ok" : "wrong", ganloss_version());
  return ok ? 0 : 1;
}
