"""A small GAN on a 2-D mixture of 8 Gaussians, trained with ganloss's losses in PyTorch.

Trains the same model twice from the same seed, once with ganloss (DiscriminatorLoss and
GeneratorLoss) and once with PyTorch's BCEWithLogitsLoss, and prints both loss curves and how
many of the 8 modes each generator covers. The non-saturating GAN loss is exactly
BCE(D(x), 1) + BCE(D(G(z)), 0) for D and BCE(D(G(z)), 1) for G, so the two runs start
identical to float32 rounding; a GAN's training dynamics amplify those last-bit differences,
so after a few hundred steps the curves wander apart while both generators cover the modes.
python/tests/test_example.py compares the first steps. Runs on the GPU when one is present:

    python examples/gan_mixture.py [--steps 1000] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import math
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


def train(losses: str, steps: int = 1000, seed: int = 0, device: str = "cpu",
          batch: int = 256) -> dict:
    """Trains G and D; losses is "ganloss" or "torch". Returns the per-step losses and the
    final generator's samples."""
    torch.manual_seed(seed)
    data = torch.Generator().manual_seed(seed)
    G, D = mlp(2, 2).to(device), mlp(2, 1).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    if losses == "ganloss":
        d_criterion, g_criterion = gt.DiscriminatorLoss(), gt.GeneratorLoss()
    else:
        bce = nn.BCEWithLogitsLoss()
        d_criterion = lambda r, f: bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
        g_criterion = lambda f: bce(f, torch.ones_like(f))
    d_curve, g_curve = [], []
    for _ in range(steps):
        x = mixture(batch, data, device)
        z = torch.randn(batch, 2, generator=data).to(device)
        fake = G(z)
        # D's logits flattened to one segment of `batch` logits.
        d_loss = d_criterion(D(x).flatten(), D(fake.detach()).flatten())
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = g_criterion(D(fake).flatten())
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        d_curve.append(d_loss.item())
        g_curve.append(g_loss.item())
    with torch.no_grad():
        samples = G(torch.randn(2048, 2, generator=data).to(device)).cpu()
    return {"d_loss": d_curve, "g_loss": g_curve, "samples": samples}


def modes_covered(samples: torch.Tensor) -> int:
    """Modes with at least 1% of the samples within 0.25 of their centre."""
    angle = torch.arange(8) * (2 * math.pi / 8)
    centres = 2 * torch.stack([angle.cos(), angle.sin()], dim=1)
    near = torch.cdist(samples, centres) < 0.25
    return int((near.float().mean(0) >= 0.01).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    runs = {}
    for losses in ("ganloss", "torch"):
        start = time.perf_counter()
        runs[losses] = train(losses, args.steps, args.seed, args.device)
        print(f"{losses:8s} {args.steps} steps on {args.device} in "
              f"{time.perf_counter() - start:.1f} s, "
              f"{modes_covered(runs[losses]['samples'])}/8 modes covered")
    print(f"{'step':>6s} {'D ganloss':>10s} {'D torch':>10s} {'G ganloss':>10s} {'G torch':>10s}")
    for step in range(0, args.steps, max(1, args.steps // 10)):
        print(f"{step:6d} {runs['ganloss']['d_loss'][step]:10.5f} "
              f"{runs['torch']['d_loss'][step]:10.5f} {runs['ganloss']['g_loss'][step]:10.5f} "
              f"{runs['torch']['g_loss'][step]:10.5f}")
    gap = max(abs(a - b) for k in ("d_loss", "g_loss")
              for a, b in zip(runs["ganloss"][k], runs["torch"][k]))
    print(f"largest difference between the curves: {gap:.2e}")


if __name__ == "__main__":
    main()
