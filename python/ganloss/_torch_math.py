"""The losses of the README's table written in PyTorch operations, per segment.

This is the closed-form implementation ganloss.torch runs where the library cannot: float64
logits (the library computes in fp32), per-element target tensors, weights that require a
gradient, per-element losses (`reduction="none"`), and forward-mode AD (torch.func.jvp,
forward_ad). It is also the derivative of the library's VJP: the second derivatives of every
kind are these operations differentiated twice by autograd. Every function takes logits of
shape [segments, count] and returns per-segment tensors of shape [segments] (element losses
of shape [segments, count]).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ._core import LossConfig

LOGISTIC = ("nonsaturating", "minimax")
AVERAGE = ("relativistic-average", "relativistic-average-hinge",
           "relativistic-average-least-squares")


def kind(name: str) -> str:
    return name.replace("_", "-").lower()


def softplus(x: Tensor) -> Tensor:
    """log(1 + e^x), exact in both tails, with exact first and second derivatives."""
    return torch.logaddexp(x, torch.zeros_like(x))


def cross_entropy(x: Tensor, t) -> Tensor:
    """t * sp(-x) + (1 - t) * sp(x); a target of exactly 1 or 0 keeps one term (no 0 * inf)."""
    if isinstance(t, (int, float)):
        if t == 1:
            return softplus(-x)
        if t == 0:
            return softplus(x)
    return t * softplus(-x) + (1 - t) * softplus(x)


def basic_terms(cfg: LossConfig, r: Optional[Tensor], f: Optional[Tensor], real_target=None,
                fake_target=None):
    """Element terms (D real, D fake, G fake) of the non-relativistic kinds; None where a side
    or a loss is absent. Targets default to the configuration's."""
    d, g = kind(cfg.d_loss), kind(cfg.g_loss)
    rt = cfg.real_target if real_target is None else real_target
    ft = cfg.fake_target if fake_target is None else fake_target
    real_d = fake_d = fake_g = None
    if r is not None:
        if d in LOGISTIC:
            real_d = cross_entropy(r, rt)
        elif d == "hinge":
            real_d = torch.relu(cfg.margin_real - r)
        elif d == "wasserstein":
            real_d = -r
        else:
            real_d = 0.5 * (r - cfg.ls_real_label) ** 2
    if f is not None:
        if d in LOGISTIC:
            fake_d = cross_entropy(f, ft)
        elif d == "hinge":
            fake_d = torch.relu(cfg.margin_fake + f)
        elif d == "wasserstein":
            fake_d = f
        else:
            fake_d = 0.5 * (f - cfg.ls_fake_label) ** 2
        if g == "nonsaturating":
            fake_g = softplus(-f)
        elif g == "minimax":
            fake_g = -softplus(f)
        elif g in ("hinge", "wasserstein"):
            fake_g = -f
        else:
            fake_g = 0.5 * (f - cfg.ls_gen_label) ** 2
    return real_d, fake_d, fake_g


def average_terms(cfg: LossConfig, rt: Tensor, ft: Tensor):
    """Element terms (D real, D fake, G real, G fake) of a relativistic average kind, of
    r~ = r - mean f and f~ = f - mean r."""
    k = kind(cfg.d_loss)
    if k == "relativistic-average-hinge":
        return (torch.relu(cfg.margin_real - rt), torch.relu(cfg.margin_fake + ft),
                torch.relu(cfg.margin_fake + rt), torch.relu(cfg.margin_real - ft))
    if k == "relativistic-average-least-squares":
        return (0.5 * (rt - 1) ** 2, 0.5 * (ft + 1) ** 2, 0.5 * (rt + 1) ** 2,
                0.5 * (ft - 1) ** 2)
    return softplus(-rt), softplus(ft), softplus(rt), softplus(-ft)


def weighted(term: Tensor, w: Optional[Tensor]) -> Tensor:
    """w * term: exactly 0 where w is 0, even for a NaN or infinite term (as in the library),
    and differentiable in w there too (d/dw is the term where it is finite)."""
    if w is None:
        return term
    # + 0: a zero weight times a negative term is -0; the library's 0 is +0.
    return w * torch.where((w != 0) | torch.isfinite(term), term, torch.zeros_like(term)) + 0.0


def masked(t: Tensor, w: Optional[Tensor]) -> Tensor:
    """A term's argument, 0 where the weight is 0 and the argument is not finite: such an
    element contributes nothing, and its gradient is 0 rather than NaN."""
    if w is None:
        return t
    return torch.where((w == 0) & ~torch.isfinite(t), torch.zeros_like(t), t)


def normaliser(reduction: str, x: Tensor, w: Optional[Tensor]) -> Tensor:
    """Per segment: the divisor of a side's sums (1 for sum and none)."""
    if reduction in ("sum", "none"):
        return torch.ones(x.shape[:-1], dtype=x.dtype, device=x.device)
    if w is None:
        return torch.full(x.shape[:-1], x.shape[-1], dtype=x.dtype, device=x.device)
    if reduction == "mean-nonzero":
        return (w != 0).sum(-1).to(x.dtype)
    return w.sum(-1).to(x.dtype)


def reduce(total: Tensor, norm: Tensor, w: Optional[Tensor]) -> Tensor:
    """total / norm per segment; 0 where norm is 0, NaN where a weight is negative (or the
    weights sum to 0 while some are not 0)."""
    safe = torch.where(norm != 0, norm, torch.ones_like(norm))
    value = torch.where(norm != 0, total / safe, torch.zeros_like(total))
    if w is not None:
        bad = (w < 0).any(-1) | ((norm == 0) & (w != 0).any(-1))
        value = torch.where(bad, torch.full_like(value, float("nan")), value)
    return value


def losses(cfg: LossConfig, r: Optional[Tensor], f: Optional[Tensor], rw: Optional[Tensor],
           fw: Optional[Tensor], real_target=None, fake_target=None) -> dict:
    """Per-segment d_loss_real, d_loss_fake, d_loss, g_loss (and, for reduction "none", the
    weighted element terms loss_real, loss_fake_d, loss_fake_g, loss_real_g)."""
    reduction = kind(cfg.reduction)
    k = kind(cfg.d_loss)
    out = {}
    ref = r if r is not None else f
    zero = torch.zeros(ref.shape[:-1], dtype=ref.dtype, device=ref.device)
    if k == "relativistic":
        if fw is not None:
            raise ValueError("the paired relativistic loss takes one weight per pair: pass them "
                             "as real_weights")
        diff = masked(f - r, rw)
        ld, lg = weighted(softplus(diff), rw), weighted(softplus(-diff), rw)
        norm = normaliser(reduction, r, rw)
        out["d_loss_real"] = reduce(ld.sum(-1), norm, rw)
        out["d_loss_fake"] = zero
        out["g_loss"] = reduce(lg.sum(-1), norm, rw)
        elements = {"loss_real": ld, "loss_fake_d": torch.zeros_like(f), "loss_fake_g": lg,
                    "loss_real_g": torch.zeros_like(r)}
    elif k in AVERAGE:
        mr = r.mean(-1, keepdim=True) if r.shape[-1] else torch.zeros_like(r[..., :1])
        mf = f.mean(-1, keepdim=True) if f.shape[-1] else torch.zeros_like(f[..., :1])
        dr, df, gr, gf = average_terms(cfg, masked(r - mf, rw), masked(f - mr, fw))
        dr, gr = weighted(dr, rw), weighted(gr, rw)
        df, gf = weighted(df, fw), weighted(gf, fw)
        nr, nf = normaliser(reduction, r, rw), normaliser(reduction, f, fw)
        out["d_loss_real"] = reduce(dr.sum(-1), nr, rw)
        out["d_loss_fake"] = reduce(df.sum(-1), nf, fw)
        out["g_loss"] = reduce(gr.sum(-1), nr, rw) + reduce(gf.sum(-1), nf, fw)
        elements = {"loss_real": dr, "loss_fake_d": df, "loss_fake_g": gf, "loss_real_g": gr}
    else:
        real_d, fake_d, fake_g = basic_terms(cfg, None if r is None else masked(r, rw),
                                             None if f is None else masked(f, fw),
                                             real_target, fake_target)
        elements = {}
        out["d_loss_real"] = out["d_loss_fake"] = out["g_loss"] = zero
        if r is not None:
            elements["loss_real"] = weighted(real_d, rw)
            out["d_loss_real"] = reduce(elements["loss_real"].sum(-1),
                                        normaliser(reduction, r, rw), rw)
        if f is not None:
            nf = normaliser(reduction, f, fw)
            elements["loss_fake_d"] = weighted(fake_d, fw)
            elements["loss_fake_g"] = weighted(fake_g, fw)
            out["d_loss_fake"] = reduce(elements["loss_fake_d"].sum(-1), nf, fw)
            out["g_loss"] = reduce(elements["loss_fake_g"].sum(-1), nf, fw)
    out["d_loss"] = out["d_loss_real"] + out["d_loss_fake"]
    if reduction == "none":
        out.update(elements)
    return out


def statistics(r: Optional[Tensor], f: Optional[Tensor]) -> dict:
    """The per-segment training statistics of ganloss_segment_stats_t, detached."""
    def finite_mean(x, values):
        ok = torch.isfinite(x)
        n = ok.sum(-1)
        total = torch.where(ok, values, torch.zeros_like(values)).sum(-1)
        return torch.where(n > 0, total / n.clamp(min=1), torch.zeros_like(total)).float()

    out = {}
    for side, x in (("real", r), ("fake", f)):
        if x is None:
            continue
        x = x.detach()
        out[f"mean_sigmoid_{side}"] = finite_mean(x, torch.sigmoid(x))
        out[f"nonfinite_{side}"] = (~torch.isfinite(x)).sum(-1)
    if r is not None:
        r = r.detach()
        out["frac_real_positive"] = finite_mean(r, (r > 0).to(r.dtype))
        out["mean_sign_real"] = finite_mean(r, torch.sign(r))
    if f is not None:
        f = f.detach()
        out["frac_fake_negative"] = finite_mean(f, (f < 0).to(f.dtype))
    return out
