// Installed-package check from C++17: one CPU call through the header-only C++ API.
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
  const bool ok = std::fabs(d_loss - 2 * std::log(2.0f)) < 1e-6f && grad_real[0] == -0.125f &&
                  grad_fake[3] == 0.125f;
  std::printf("%s %s\n", ok ? "ok" : "wrong", ganloss_version());
  return ok ? 0 : 1;
}
