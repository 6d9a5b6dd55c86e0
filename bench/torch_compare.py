#!/usr/bin/env python3
"""PyTorch eager and torch.compile against ganloss's CUDA backend on the same tensors.

For each loss (nonsaturating as BCE-with-logits, hinge, wasserstein, least squares), dtype and
size, one training step's loss work: the D and G losses (mean reduction, one segment, half the
logits real and half fake) forward and backward, giving d_loss, d_loss_real, d_loss_fake, g_loss
and the gradients dL_D/d real, dL_D/d fake and dL_G/d fake. It runs
  - eager:    the losses as a training script writes them, then one autograd backward;
  - compile:  the same function through torch.compile (its backward compiled by AOTAutograd);
  - ganloss:  one execution of a library plan (ganloss_plan_execute) on the CUDA backend, with
              torch's device pointers and torch's current stream, through the package's binding
              on addresses (the installed package, or PYTHONPATH=build/python-package after a
              CMake build with -DGANLOSS_BUILD_PYTHON=ON): the library's own cost;
  - module:   the step as a training script writes it with ganloss.torch: DiscriminatorLoss and
              GeneratorLoss, then the same autograd backward as eager's (a forward and a VJP
              call per loss, and PyTorch's autograd around them): what a user of the modules
              gets.
Each time is the wall time per step over back-to-back steps, synchronised at the end, so the
host overhead of launching the work is included, as a training loop sees it. The three results
are checked against each other, the ratios printed, and everything written as JSON (bytes per
step included, so bench/plot.py can draw them as bandwidth).

    PYTHONPATH=build/python-package python3 bench/torch_compare.py
        [--sizes 2^12,2^16,2^20,2^24,2^26] [--dtypes f32,bf16] [--losses ...] [--json FILE]

Without PyTorch or a usable CUDA device it says so and exits 0. Exit status 1 when the results
disagree, ganloss fails or its package is not importable.
"""

import argparse
import functools
import json
import os
import sys
import time

LOSSES = ("nonsaturating", "hinge", "wasserstein", "least-squares")
DEFAULT_SIZES = "2^12,2^16,2^20,2^24,2^26"

# Agreement bounds per dtype, relative to each output's largest magnitude: the three compute in
# f32 with different summation orders, and PyTorch's BCE gradient sigmoid(x) - 1 loses the tail
# that ganloss keeps, which only an absolute bound at the output's scale forgives.
TOLERANCE = {"f32": 1e-5, "bf16": 1e-2}


def parse_size(text):
    text = text.strip()
    return 1 << int(text[2:]) if text.startswith("2^") else int(text)


def loss_terms(F, kind):
    """(D real term, D fake term, G term) as functions of the logits, mean reduction, with
    ganloss's default parameters (hinge margins 1, least-squares labels a=0, b=1, c=1)."""
    import torch

    if kind == "nonsaturating":
        return (lambda r: F.binary_cross_entropy_with_logits(r, torch.ones_like(r)),
                lambda f: F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)),
                lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f)))
    if kind == "hinge":
        return (lambda r: F.relu(1.0 - r).mean(), lambda f: F.relu(1.0 + f).mean(),
                lambda f: -f.mean())
    if kind == "wasserstein":
        return (lambda r: -r.mean(), lambda f: f.mean(), lambda f: -f.mean())
    if kind == "least-squares":
        return (lambda r: 0.5 * ((r - 1.0) ** 2).mean(), lambda f: 0.5 * (f ** 2).mean(),
                lambda f: 0.5 * ((f - 1.0) ** 2).mean())
    raise ValueError(kind)


def make_losses(F, kind):
    real_term, fake_term, gen_term = loss_terms(F, kind)

    # Losses in f32 whatever the logits' dtype, as autocast runs them.
    def losses(real, fake_d, fake_g):
        d_real = real_term(real.float())
        d_fake = fake_term(fake_d.float())
        return d_real + d_fake, d_real, d_fake, gen_term(fake_g.float())

    return losses


def torch_step(torch, losses_fn):
    """One step: forward, then one backward for both D and G. D's loss depends on real and
    fake_d only and G's on fake_g only, so the backward of their sum gives each its own
    gradients."""

    def step(real, fake):
        r = real.detach().requires_grad_()
        fd = fake.detach().requires_grad_()
        fg = fake.detach().requires_grad_()
        d_loss, d_real, d_fake, g_loss = losses_fn(r, fd, fg)
        grads = torch.autograd.grad(d_loss + g_loss, (r, fd, fg))
        return torch.stack([d_loss, d_real, d_fake, g_loss]).detach(), grads

    return step


def ganloss_step(torch, kind, dtype_name, real, fake):
    """A step through a ganloss plan on torch's tensors and stream; returns step() with the
    same results as torch_step's."""
    from ganloss import _ganloss
    from ganloss._core import BACKENDS, LossConfig

    problem = LossConfig.make(kind).problem(dtype_name, 1, real.numel(), fake.numel())
    plan = _ganloss.Plan(problem, BACKENDS["cuda"])
    stream = torch.cuda.current_stream().cuda_stream
    workspace_bytes = plan.workspace_bytes
    # Prepared once, then left prepared by every call: a training loop's set-up.
    workspace = torch.empty(max(workspace_bytes, 16), dtype=torch.uint8, device=real.device)
    plan.workspace_init(workspace, stream)
    losses = torch.empty(4, dtype=torch.float32, device=real.device)
    grads = (torch.empty_like(real), torch.empty_like(fake), torch.empty_like(fake))
    base = losses.data_ptr()
    # The arguments are bound once, so that timing many calls measures the library.
    call = functools.partial(plan.execute_at, real.data_ptr(), fake.data_ptr(), 0, 0, base,
                             base + 4, base + 8, base + 12, 0, workspace.data_ptr(),
                             workspace_bytes, stream, grads[0].data_ptr(), grads[1].data_ptr(),
                             grads[2].data_ptr())

    def step(real_unused, fake_unused):
        call()
        return losses, grads

    step.keep = (plan, workspace, losses, grads)  # alive as long as the step
    return step


def module_step(torch, kind):
    """A step through ganloss.torch's modules, with torch_step's autograd backward; returns
    (d_loss, g_loss) stacked and the three gradients."""
    import ganloss.torch as gt

    d_criterion, g_criterion = gt.DiscriminatorLoss(kind), gt.GeneratorLoss(kind)

    def step(real, fake):
        r = real.detach().requires_grad_()
        fd = fake.detach().requires_grad_()
        fg = fake.detach().requires_grad_()
        d_loss = d_criterion(r, fd)
        g_loss = g_criterion(fg)
        grads = torch.autograd.grad(d_loss + g_loss, (r, fd, fg))
        return torch.stack([d_loss, g_loss]).detach(), grads

    return step


def module_difference(torch, module_result, eager_result):
    """The largest scaled difference between the module step's losses and gradients and the
    eager step's (whose losses are d_loss, d_real, d_fake, g_loss)."""
    (losses, grads), (eager_losses, eager_grads) = module_result, eager_result
    outputs = [max_scaled_difference(torch, losses, eager_losses[[0, 3]])]
    outputs += [max_scaled_difference(torch, g, h) for g, h in zip(grads, eager_grads)]
    return max(outputs)


def wall_seconds(torch, step, real, fake, min_seconds, min_steps):
    """Wall time per step over back-to-back steps after warm-up, synchronised at both ends."""
    for _ in range(3):
        step(real, fake)
    torch.cuda.synchronize()
    steps = 0
    start = time.perf_counter()
    while True:
        step(real, fake)
        steps += 1
        if steps >= min_steps and steps % min_steps == 0:
            torch.cuda.synchronize()
            if time.perf_counter() - start >= min_seconds:
                break
    return (time.perf_counter() - start) / steps


def max_scaled_difference(torch, a, b):
    """max |a - b| over max(|a|, |b|), in f64: 0 for identical outputs."""
    a = a.detach().double()
    b = b.detach().double()
    scale = torch.maximum(a.abs().max(), b.abs().max()).item()
    return (a - b).abs().max().item() / scale if scale > 0 else 0.0


def step_bytes(element_bytes, n_real, n_fake):
    """ganloss's bytes for one step: logits read, gradients written, four f32 losses."""
    return element_bytes * (n_real + n_fake) + element_bytes * (n_real + 2 * n_fake) + 16


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help="logits per step, half real and half fake (default %s)"
                        % DEFAULT_SIZES)
    parser.add_argument("--dtypes", default="f32,bf16", help="f32 and/or bf16")
    parser.add_argument("--losses", default=",".join(LOSSES), help="comma-separated kinds")
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode")
    parser.add_argument("--min-seconds", type=float, default=0.2,
                        help="time each measurement at least this long")
    parser.add_argument("--json", default="torch_compare.json", help="results file")
    args = parser.parse_args()

    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("torch_compare: PyTorch is not installed; nothing to compare")
        return 0
    if not torch.cuda.is_available():
        print("torch_compare: no usable CUDA device for PyTorch; nothing to compare")
        return 0
    try:
        import ganloss
        from ganloss import _ganloss
        from ganloss._core import BACKENDS
    except ImportError as error:
        print("torch_compare: the ganloss package is not importable (%s): pip install ., or "
              "PYTHONPATH=build/python-package after a CMake build with -DGANLOSS_BUILD_PYTHON=ON "
              "-DGANLOSS_ENABLE_CUDA=ON" % error)
        return 1
    path = os.path.dirname(os.path.abspath(ganloss.__file__))
    why_not = _ganloss.backend_unavailable_reason(BACKENDS["cuda"])
    if why_not is not None:
        print("torch_compare: the ganloss CUDA backend cannot run: %s" % why_not)
        return 1
    # One compiled graph per loss, dtype and size.
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 256)

    dtypes = {"f32": (torch.float32, "float32", 4), "bf16": (torch.bfloat16, "bfloat16", 2)}
    device = torch.device("cuda")
    print("PyTorch %s, %s, ganloss %s (%s)" % (torch.__version__,
                                              torch.cuda.get_device_name(device),
                                              ganloss.version(), path))
    print("%-14s %-5s %10s %12s %12s %12s %12s %9s %9s %9s  %s"
          % ("loss", "dtype", "elements", "eager", "compile", "ganloss", "module", "x eager",
             "x compile", "module x", "agree"))
    records = []
    failed = False
    for kind in args.losses.split(","):
        losses_fn = make_losses(F, kind)
        eager = torch_step(torch, losses_fn)
        compiled = torch_step(torch, torch.compile(losses_fn, mode=args.compile_mode,
                                                   dynamic=False))
        module = module_step(torch, kind)
        for dtype_name in args.dtypes.split(","):
            torch_dtype, library_dtype, element_bytes = dtypes[dtype_name]
            for n in (parse_size(s) for s in args.sizes.split(",")):
                generator = torch.Generator(device=device).manual_seed(n)
                real = (torch.randn(n // 2, device=device, generator=generator) * 4 + 1).to(
                    torch_dtype)
                fake = (torch.randn(n - n // 2, device=device, generator=generator) * 4 - 1).to(
                    torch_dtype)
                fused = ganloss_step(torch, kind, library_dtype, real, fake)
                steps = (("eager", eager), ("compile", compiled), ("ganloss", fused),
                         ("module", module))
                results = {name: step(real, fake) for name, step in steps}
                torch.cuda.synchronize()
                # ganloss against each PyTorch variant, losses and every gradient.
                tolerance = TOLERANCE[dtype_name]
                differences = {}
                for name in ("eager", "compile"):
                    losses, grads = results[name]
                    outputs = [max_scaled_difference(torch, losses, results["ganloss"][0])]
                    outputs += [max_scaled_difference(torch, g, h)
                                for g, h in zip(grads, results["ganloss"][1])]
                    differences[name] = max(outputs)
                differences["module"] = module_difference(torch, results["module"],
                                                          results["eager"])
                agree = all(d <= tolerance for d in differences.values())
                failed |= not agree
                seconds = {name: wall_seconds(torch, step, real, fake, args.min_seconds, 10)
                           for name, step in steps}
                record = {
                    "loss": kind, "dtype": dtype_name, "elements": n, "segments": 1,
                    "bytes": step_bytes(element_bytes, real.numel(), fake.numel()),
                    "eager_seconds": seconds["eager"], "compile_seconds": seconds["compile"],
                    "ganloss_seconds": seconds["ganloss"],
                    "ganloss_over_eager": seconds["eager"] / seconds["ganloss"],
                    "ganloss_over_compile": seconds["compile"] / seconds["ganloss"],
                    "module_seconds": seconds["module"],
                    "module_over_eager": seconds["eager"] / seconds["module"],
                    "module_over_compile": seconds["compile"] / seconds["module"],
                    "max_difference_vs_eager": differences["eager"],
                    "max_difference_vs_compile": differences["compile"],
                    "max_difference_module_vs_eager": differences["module"],
                    "tolerance": tolerance, "agree": agree,
                }
                records.append(record)
                print("%-14s %-5s %10d %9.1f us %9.1f us %9.1f us %9.1f us %8.2fx %8.2fx "
                      "%8.2fx  %s"
                      % (kind, dtype_name, n, seconds["eager"] * 1e6,
                         seconds["compile"] * 1e6, seconds["ganloss"] * 1e6,
                         seconds["module"] * 1e6, record["ganloss_over_eager"],
                         record["ganloss_over_compile"], record["module_over_eager"],
                         "yes" if agree else "NO (eager %.2e, compile %.2e, module %.2e)"
                         % (differences["eager"], differences["compile"],
                            differences["module"])))
    with open(args.json, "w") as out:
        json.dump({"torch_version": torch.__version__,
                   "device": torch.cuda.get_device_name(device),
                   "ganloss_version": ganloss.version(), "compile_mode": args.compile_mode,
                   "timing": "wall time per step, back-to-back steps, host overhead included",
                   "results": records}, out, indent=2)
        out.write("\n")
    print("wrote %s" % args.json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
