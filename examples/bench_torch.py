"""The cost of ganloss.torch against PyTorch's own losses, forward and backward, in one run.

For every size, one training step's losses: the discriminator's (real and detached fake
logits) and the generator's (the fake logits), each forward then backward, with
ganloss.torch's DiscriminatorLoss/GeneratorLoss and with BCEWithLogitsLoss written the usual
way (`bce(r, ones_like(r)) + bce(f, zeros_like(f))`, `bce(f, ones_like(f))`). The two are timed
alternately, after a warm-up, and the median of several rounds is reported with their ratio.

    python examples/bench_torch.py [--device cpu|cuda] [--max-log2 24] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import ganloss.torch as gt


def make_steps(device):
    d_criterion, g_criterion = gt.DiscriminatorLoss(), gt.GeneratorLoss()
    bce = nn.BCEWithLogitsLoss()

    def ganloss_step(real, fake):
        d_criterion(real, fake.detach()).backward()
        g_criterion(fake).backward()

    def torch_step(real, fake):
        f = fake.detach()
        (bce(real, torch.ones_like(real)) + bce(f, torch.zeros_like(f))).backward()
        bce(fake, torch.ones_like(fake)).backward()

    return {"ganloss": ganloss_step, "torch": torch_step}


def time_once(step, real, fake, repeats, sync):
    start = time.perf_counter()
    for _ in range(repeats):
        real.grad = None
        fake.grad = None
        step(real, fake)
    sync()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--min-log2", type=int, default=6)
    parser.add_argument("--max-log2", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: keep)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = (torch.cuda.synchronize if device.type == "cuda" else (lambda: None))
    steps = make_steps(device)
    print(f"D+G forward+backward, float32, {device}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    print(f"{'logits':>10s} {'ganloss us':>12s} {'BCE us':>12s} {'BCE/ganloss':>12s}")
    for log2 in range(args.min_log2, args.max_log2 + 1, 2):
        n = 1 << log2
        g = torch.Generator().manual_seed(log2)
        real = (3 * torch.randn(n, generator=g)).to(device).requires_grad_()
        fake = (3 * torch.randn(n, generator=g)).to(device).requires_grad_()
        # About 0.1 s per measurement, at least one step.
        for step in steps.values():
            time_once(step, real, fake, 3, sync)
        probe = max(time_once(steps["torch"], real, fake, 1, sync), 1e-6)
        repeats = max(1, int(0.1 / probe))
        samples = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                samples[name].append(time_once(step, real, fake, repeats, sync))
        ours = statistics.median(samples["ganloss"])
        theirs = statistics.median(samples["torch"])
        print(f"{n:>10d} {ours * 1e6:>12.1f} {theirs * 1e6:>12.1f} {theirs / ours:>12.2f}")


if __name__ == "__main__":
    main()
