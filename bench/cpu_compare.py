#!/usr/bin/env python3
"""ganloss's CPU backend against PyTorch eager and numpy on the CPU, in one run.

For each dtype and size, one training step's loss work for the non-saturating loss: the D and
G losses (mean reduction, one segment, half the logits real and half fake) and the gradients
dL_D/d real, dL_D/d fake and dL_G/d fake, stored in the logits' dtype, on the same arrays,
computed four ways:
  - ganloss:  one execution of a library plan (ganloss_plan_execute) on the CPU backend,
              cpu_threads = T, through the package's binding on the arrays' addresses (the
              installed package, or PYTHONPATH=build/python-package after a CMake build with
              -DGANLOSS_BUILD_PYTHON=ON: no `pip install` needed);
  - eager:    PyTorch eager in closed form, as users write it: softplus for the losses, sigmoid
              for the gradients, in f32 (as autocast does), torch.set_num_threads(T);
  - numpy:    vectorised numpy with the stable formulas (softplus and sigmoid from exp(-|x|),
              never 1 - sigmoid), f32 only (numpy has no bf16; its elementwise work runs on
              one thread);
  - copy:     torch.Tensor.copy_ of bytes/2 into bytes/2 on T threads, where bytes is what the
              step must move (logits read, gradients written, four f32 losses): the bandwidth
              no step can beat.
The logits are normal with standard deviation 3 (mean +1 real, -1 fake), like a
discriminator's outputs. Each measurement is the median wall time of back-to-back steps;
the methods take turns, --rounds times per size, and the JSON keeps every round, so ratios
come with their spread. ganloss's results are checked against numpy's and PyTorch's (exit 1 if
they disagree). Writes JSON and, with matplotlib, the bandwidth plot (bench/plot.py).

    PYTHONPATH=build/python-package python3 bench/cpu_compare.py [--threads 2]
        [--sizes 2^12,2^14,2^16,...] [--dtypes f32,bf16] [--rounds 3]
        [--json cpu_compare.json] [--plot cpu_compare.png]

Without numpy it says so and exits 0; without PyTorch the eager and copy columns and bf16 are
left out. Exit status 1 when the results disagree or the ganloss package is not importable.
"""

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DEFAULT_SIZES = ",".join("2^%d" % k for k in (12, 14, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25))
METHODS = ("ganloss", "eager", "numpy", "copy")

# Agreement, element by element, relative to the larger magnitude: in f32 the implementations
# differ in their exp and log (a few ulp) and summation orders; in bf16 both round an f32 value
# once, so they may differ by one bf16 ulp (2^-8) where the f32 values straddle a rounding point.
RTOL = {"f32": 1e-5, "bf16": 1e-2}


def parse_size(text):
    text = text.strip()
    return 1 << int(text[2:]) if text.startswith("2^") else int(text)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def step_bytes(element_bytes, n_real, n_fake):
    """The bytes a step must move: logits read, gradients written, four f32 losses."""
    return element_bytes * (n_real + n_fake) + element_bytes * (n_real + 2 * n_fake) + 16


def numpy_step(np, real, fake):
    """Losses (d_loss, d_loss_real, d_loss_fake, g_loss) and gradients of the non-saturating
    D and G, mean reduction. Never forms 1 - sigmoid, so the saturated tails keep precision."""
    inv_nr = np.float32(1.0 / real.size)
    inv_nf = np.float32(1.0 / fake.size)

    e_r = np.exp(-np.abs(real))
    d_r = 1.0 / (1.0 + e_r)  # sigmoid(|r|)
    softplus_neg_r = np.maximum(-real, 0.0) + np.log1p(e_r)
    sigmoid_neg_r = np.where(real >= 0, e_r * d_r, d_r)

    e_f = np.exp(-np.abs(fake))
    d_f = 1.0 / (1.0 + e_f)
    log_term = np.log1p(e_f)
    softplus_f = np.maximum(fake, 0.0) + log_term
    softplus_neg_f = np.maximum(-fake, 0.0) + log_term
    sigmoid_f = np.where(fake >= 0, d_f, e_f * d_f)
    sigmoid_neg_f = np.where(fake >= 0, e_f * d_f, d_f)

    d_loss_real = softplus_neg_r.mean()
    d_loss_fake = softplus_f.mean()
    g_loss = softplus_neg_f.mean()
    losses = np.array([d_loss_real + d_loss_fake, d_loss_real, d_loss_fake, g_loss],
                      dtype=np.float32)
    grads = (-sigmoid_neg_r * inv_nr, sigmoid_f * inv_nf, -sigmoid_neg_f * inv_nf)
    return losses, grads


def eager_step(torch, F, real, fake):
    """The same step in PyTorch eager, closed form: losses from softplus, gradients from
    sigmoid, computed in f32 and stored in the logits' dtype."""
    r = real.float()
    f = fake.float()
    d_loss_real = F.softplus(-r).mean()
    d_loss_fake = F.softplus(f).mean()
    g_loss = F.softplus(-f).mean()
    losses = torch.stack([d_loss_real + d_loss_fake, d_loss_real, d_loss_fake, g_loss])
    grads = ((torch.sigmoid(-r) * (-1.0 / r.numel())).to(real.dtype),
             (torch.sigmoid(f) * (1.0 / f.numel())).to(fake.dtype),
             (torch.sigmoid(-f) * (-1.0 / f.numel())).to(fake.dtype))
    return losses, grads


def median_seconds(fn, min_seconds, min_steps=3):
    """Median wall time of back-to-back calls, after one warm-up call, over at least
    `min_steps` calls and `min_seconds`."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_steps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def max_relative_difference(np, a, b):
    """max over elements of |a - b| / max(|a|, |b|) in f64; 0 where both are 0."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    return float(np.max(np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)))


def as_f64(np, torch, x):
    """A numpy array or torch tensor (bf16 included) as a float64 numpy array."""
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().double().numpy()
    return np.asarray(x, dtype=np.float64)


class Problem:
    """One size and dtype: the logits, ganloss's prepared call and its output arrays."""

    def __init__(self, np, torch, dtype, elements, threads):
        from ganloss import _ganloss
        from ganloss._core import BACKENDS, LossConfig

        pairs = elements // 2
        self.dtype = dtype
        self.n_real = pairs
        self.n_fake = elements - pairs
        rng = np.random.default_rng(elements)
        real = (rng.standard_normal(self.n_real, dtype=np.float32) * 3.0 + 1.0).astype(np.float32)
        fake = (rng.standard_normal(self.n_fake, dtype=np.float32) * 3.0 - 1.0).astype(np.float32)
        element_bytes = 4 if dtype == "f32" else 2
        self.bytes = step_bytes(element_bytes, self.n_real, self.n_fake)
        # f32: numpy arrays, which PyTorch shares; bf16: PyTorch tensors (numpy has no bf16).
        if dtype == "f32":
            self.real_np, self.fake_np = real, fake
            self.real, self.fake = real, fake
            alloc = np.empty_like
            address = lambda a: a.ctypes.data  # noqa: E731
            if torch is not None:
                self.torch_real, self.torch_fake = torch.from_numpy(real), torch.from_numpy(fake)
        else:
            self.real = self.torch_real = torch.from_numpy(real).to(torch.bfloat16)
            self.fake = self.torch_fake = torch.from_numpy(fake).to(torch.bfloat16)
            alloc = torch.empty_like
            address = lambda t: t.data_ptr()  # noqa: E731
        problem = LossConfig.make("nonsaturating").problem(
            "float32" if dtype == "f32" else "bfloat16", 1, self.n_real, self.n_fake)
        self.plan = _ganloss.Plan(problem, BACKENDS["cpu"], threads)
        workspace_bytes = self.plan.workspace_bytes
        self.workspace = np.zeros(max(workspace_bytes, 16), dtype=np.uint8)
        self.plan.workspace_init(self.workspace, 0)
        self.losses = np.zeros(4, dtype=np.float32)
        self.grads = (alloc(self.real), alloc(self.fake), alloc(self.fake))
        base = self.losses.ctypes.data
        # The arguments are bound once, so that timing many calls measures the library.
        self.ganloss = functools.partial(
            self.plan.execute_at, address(self.real), address(self.fake), 0, 0, base, base + 4,
            base + 8, base + 12, 0, self.workspace.ctypes.data, workspace_bytes, 0,
            address(self.grads[0]), address(self.grads[1]), address(self.grads[2]))
        if torch is not None:
            half = self.bytes // 2
            self.copy_source = torch.ones(half, dtype=torch.uint8)
            self.copy_destination = torch.zeros(half, dtype=torch.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help="logits per step, half real and half fake (default 2^12 to 2^25)")
    parser.add_argument("--dtypes", default="f32,bf16", help="f32 and/or bf16")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for ganloss, PyTorch and the copy (default 0: every CPU "
                             "this process may run on)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times each method is measured per size, taking turns")
    parser.add_argument("--min-seconds", type=float, default=0.1,
                        help="time each measurement at least this long")
    parser.add_argument("--json", default="cpu_compare.json", help="results file")
    parser.add_argument("--plot", default="cpu_compare.png",
                        help="bandwidth plot to write ('' for none)")
    args = parser.parse_args()

    try:
        import numpy as np
    except ImportError:
        print("cpu_compare: numpy is not installed (pip install numpy); nothing to compare")
        return 0
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = F = None
        print("cpu_compare: PyTorch is not installed (pip install torch): no eager, copy or "
              "bf16 columns")
    try:
        import ganloss
    except ImportError as error:
        print("cpu_compare: the ganloss package is not importable (%s): pip install ., or "
              "PYTHONPATH=build/python-package after a CMake build with "
              "-DGANLOSS_BUILD_PYTHON=ON" % error)
        return 1
    path = os.path.dirname(os.path.abspath(ganloss.__file__))
    threads = args.threads if args.threads > 0 else len(os.sched_getaffinity(0))
    if torch is not None:
        torch.set_num_threads(threads)
    dtypes = [d for d in args.dtypes.split(",") if d == "f32" or torch is not None]
    sizes = [parse_size(s) for s in args.sizes.split(",")]

    machine = cpu_model()
    print("%s, %d threads; ganloss %s (%s); numpy %s; PyTorch %s" % (
        machine, threads, ganloss.version(), path, np.__version__,
        torch.__version__ if torch is not None else "absent"))
    print("%-5s %10s %11s %11s %11s %11s %10s %10s %10s  %s" % (
        "dtype", "elements", "ganloss", "eager", "numpy", "copy", "x eager", "x numpy",
        "copy_ratio", "agree"))
    records = []
    failed = False
    for dtype in dtypes:
        for n in sizes:
            p = Problem(np, torch, dtype, n, threads)
            steps = {"ganloss": p.ganloss}
            if torch is not None:
                steps["eager"] = lambda: eager_step(torch, F, p.torch_real, p.torch_fake)
                steps["copy"] = lambda: p.copy_destination.copy_(p.copy_source)
            if dtype == "f32":
                steps["numpy"] = lambda: numpy_step(np, p.real_np, p.fake_np)

            # Agreement: ganloss's outputs against each other method's.
            p.ganloss()
            ours = [p.losses] + list(p.grads)
            differences = {}
            for name in ("eager", "numpy"):
                if name not in steps:
                    continue
                losses, grads = steps[name]()
                differences[name] = max(
                    max_relative_difference(np, as_f64(np, torch, a), as_f64(np, torch, b))
                    for a, b in zip(ours, [losses] + list(grads)))
            agree = all(d <= RTOL[dtype] for d in differences.values())
            failed |= not agree

            rounds = {name: [] for name in steps}
            for _ in range(args.rounds):
                for name, step in steps.items():
                    rounds[name].append(median_seconds(step, args.min_seconds / args.rounds))
            seconds = {name: statistics.median(v) for name, v in rounds.items()}
            record = {"loss": "nonsaturating", "dtype": dtype, "elements": n, "segments": 1,
                      "bytes": p.bytes, "threads": threads,
                      "max_relative_difference": differences, "tolerance": RTOL[dtype],
                      "agree": agree}
            for name in METHODS:
                record["%s_seconds" % name] = seconds.get(name)
                record["%s_rounds" % name] = rounds.get(name)
            ratios = {}
            for name, key in (("eager", "ganloss_over_eager"), ("numpy", "ganloss_over_numpy"),
                              ("copy", "copy_ratio")):
                if name in rounds:
                    per_round = [a / b for a, b in zip(rounds[name], rounds["ganloss"])]
                    record[key] = seconds[name] / seconds["ganloss"]
                    record[key + "_range"] = [min(per_round), max(per_round)]
                    ratios[name] = record[key]
                else:
                    record[key] = None
            records.append(record)

            def cell(name):
                return "%8.3f ms" % (seconds[name] * 1e3) if name in seconds else "%11s" % "-"

            def ratio(name):
                return "%9.2fx" % ratios[name] if name in ratios else "%10s" % "-"

            print("%-5s %10d %s %s %s %s %s %s %10s  %s" % (
                dtype, n, cell("ganloss"), cell("eager"), cell("numpy"), cell("copy"),
                ratio("eager"), ratio("numpy"),
                "%.2f" % ratios["copy"] if "copy" in ratios else "-",
                "yes" if agree else "NO %s" % differences))

    result = {"device": machine, "threads": threads, "ganloss_version": ganloss.version(),
              "ganloss_package": path, "numpy_version": np.__version__,
              "torch_version": torch.__version__ if torch is not None else None,
              "loss": "nonsaturating", "reduction": "mean",
              "logits": "normal, standard deviation 3, mean +1 (real) and -1 (fake)",
              "timing": "median wall time of back-to-back steps; methods take turns, rounds "
                        "times per size; *_seconds is the median of the rounds",
              "copy": "torch.Tensor.copy_ of bytes/2 into bytes/2 (uint8) on the same threads",
              "rounds": args.rounds, "results": records}
    with open(args.json, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    print("wrote %s" % args.json)
    if args.plot:
        import plot  # noqa: E402  (next to this script)
        plot.plot_comparison(result, args.plot)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
