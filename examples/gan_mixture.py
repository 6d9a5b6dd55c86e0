"""A small GAN on a 2-D mixture of 8 Gaussians, trained with ganloss's losses in PyTorch.

Trains the same model twice from the same seed, once with ganloss (DiscriminatorLoss and
GeneratorLoss) and once with PyTorch's BCEWithLogitsLoss, and prints both loss curves and how
many of the 8 modes each generator covers. The non-saturating GAN loss is exactly
BCE(D(x), 1) + BCE(D(G(z)), 0) for D and BCE(D(G(z)), 1) for G, so the two runs start
identical to float32 rounding; a GAN's training dynamics amplify those last-bit differences,
so after a few hundred steps the curves wander apart while both generators cover the modes.
python/tests/test_example.py compares the first steps. Runs on the GPU when one is present:

    python examples/gan_mixture.py [--steps 1000] [--warmup 50] [--device cpu|cuda]

The two runs take turns step by step, and each reports its median step time after the warm-up
steps: the losses are a small part of such a step (two MLPs and Adam), so the ratio shows what
the losses change in a whole step; examples/bench_torch.py times the losses alone.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from torch import nn

import ganloss.torch as gt


def mixture(n: int, generator: torch.Generator, device) -> torch.Tensor:
    """n samples of 8 Gaussians (std 0.05) on the circle of radius 2."""
    mode = torch.randint(0, 8, (n,), generator=generator)
    angle = mode.float() * (2 * math.pi / 8)
    centres = 2 * torch.stack([angle.cos(), angle.sin()], dim=1)
    return (centres + 0.05 * torch.randn(n, 2, generator=generator)).to(device)


def mlp(inputs: int, outputs: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, outputs))


class Run:
    """One training run: G and D from `seed`, with ganloss's losses or PyTorch's."""

    def __init__(self, losses: str, seed: int = 0, device: str = "cpu", batch: int = 256):
        torch.manual_seed(seed)
        self.data = torch.Generator().manual_seed(seed)
        self.device, self.batch = device, batch
        self.G, self.D = mlp(2, 2).to(device), mlp(2, 1).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=1e-3, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=1e-3, betas=(0.5, 0.999))
        if losses == "ganloss":
            # D's [batch, 1] outputs reduce over every element, as with BCEWithLogitsLoss.
            self.d_criterion, self.g_criterion = gt.DiscriminatorLoss(), gt.GeneratorLoss()
        else:
            bce = nn.BCEWithLogitsLoss()
            self.d_criterion = lambda r, f: (bce(r, torch.ones_like(r))
                                             + bce(f, torch.zeros_like(f)))
            self.g_criterion = lambda f: bce(f, torch.ones_like(f))

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One D step then one G step; returns both losses (detached, not synchronised)."""
        x = mixture(self.batch, self.data, self.device)
        z = torch.randn(self.batch, 2, generator=self.data).to(self.device)
        fake = self.G(z)
        d_loss = self.d_criterion(self.D(x), self.D(fake.detach()))
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        g_loss = self.g_criterion(self.D(fake))
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        return d_loss.detach(), g_loss.detach()

    def samples(self, n: int = 2048) -> torch.Tensor:
        with torch.no_grad():
            return self.G(torch.randn(n, 2, generator=self.data).to(self.device)).cpu()


def train(losses: str, steps: int = 1000, seed: int = 0, device: str = "cpu",
          batch: int = 256) -> dict:
    """Trains G and D; losses is "ganloss" or "torch". Returns the per-step losses and the
    final generator's samples."""
    run = Run(losses, seed, device, batch)
    d_curve, g_curve = [], []
    for _ in range(steps):
        d_loss, g_loss = run.step()
        d_curve.append(d_loss.item())
        g_curve.append(g_loss.item())
    return {"d_loss": d_curve, "g_loss": g_curve, "samples": run.samples()}


def modes_covered(samples: torch.Tensor) -> int:
    """Modes with at least 1% of the samples within 0.25 of their centre."""
    angle = torch.arange(8) * (2 * math.pi / 8)
    centres = 2 * torch.stack([angle.cos(), angle.sin()], dim=1)
    near = torch.cdist(samples, centres) < 0.25
    return int((near.float().mean(0) >= 0.01).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50,
                        help="steps left out of the timing (first calls, allocator, caches)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    names = ("ganloss", "torch")
    runs = {name: Run(name, args.seed, args.device) for name in names}
    curves = {name: {"d_loss": [], "g_loss": []} for name in names}
    seconds = {name: [] for name in names}
    # The two runs take turns, step by step, so that both see the same machine.
    for step in range(args.steps):
        for name in names:
            sync()
            start = time.perf_counter()
            d_loss, g_loss = runs[name].step()
            sync()
            seconds[name].append(time.perf_counter() - start)
            curves[name]["d_loss"].append(d_loss.item())
            curves[name]["g_loss"].append(g_loss.item())
    timed = {name: sorted(s[args.warmup:]) for name, s in seconds.items()}
    for name in names:
        median = statistics.median(timed[name]) if timed[name] else float("nan")
        print(f"{name:8s} {args.steps} steps on {args.device}: median step "
              f"{median * 1e3:.3f} ms after {args.warmup} warm-up steps, "
              f"{modes_covered(runs[name].samples())}/8 modes covered")
    if timed["ganloss"] and timed["torch"]:
        ratio = statistics.median(timed["torch"]) / statistics.median(timed["ganloss"])
        print(f"a whole step (two MLPs, Adam) with ganloss's losses is {ratio:.2f}x the speed "
              f"of the same step with BCEWithLogitsLoss")
    print(f"{'step':>6s} {'D ganloss':>10s} {'D torch':>10s} {'G ganloss':>10s} {'G torch':>10s}")
    for step in range(0, args.steps, max(1, args.steps // 10)):
        print(f"{step:6d} {curves['ganloss']['d_loss'][step]:10.5f} "
              f"{curves['torch']['d_loss'][step]:10.5f} "
              f"{curves['ganloss']['g_loss'][step]:10.5f} "
              f"{curves['torch']['g_loss'][step]:10.5f}")
    gap = max(abs(a - b) for k in ("d_loss", "g_loss")
              for a, b in zip(curves["ganloss"][k], curves["torch"][k]))
    print(f"largest difference between the curves: {gap:.2e}")


if __name__ == "__main__":
    main()
