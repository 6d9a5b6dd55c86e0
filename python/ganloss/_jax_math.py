"""The losses of the README's table written in jax.numpy operations, per segment.

ganloss.jax runs this composition where the FFI call does not apply: weights, per-element
targets and per-element losses (reduction="none"). It is the same formulation as
ganloss._torch_math (the PyTorch composition), term for term: softplus as logaddexp(x, 0),
exact in both tails and differentiable to any order, so jax.grad, jax.hessian, jax.jvp, vmap
and sharded jit work on it as on any jnp function (XLA partitions it; the weighted means are
sums and weight sums that it reduces across devices itself). Logits arrive as [segments,
count] arrays in float32 (16-bit logits are widened first, as the library computes in fp32).
"""

from __future__ import annotations

import jax.numpy as jnp

from ._core import LossConfig

LOGISTIC = ("nonsaturating", "minimax")
AVERAGE = ("relativistic-average", "relativistic-average-hinge",
           "relativistic-average-least-squares")


def kind(name: str) -> str:
    return name.replace("_", "-").lower()


def softplus(x):
    return jnp.logaddexp(x, 0.0)


def relu(x):
    """max(x, 0), NaN for NaN (as torch.relu and the library), derivative 0 at 0."""
    return jnp.where(x <= 0, jnp.zeros_like(x), x)


def cross_entropy(x, t):
    """t sp(-x) + (1 - t) sp(x); a target of exactly 1 or 0 keeps one term (no 0 * inf)."""
    if isinstance(t, (int, float)):
        if t == 1:
            return softplus(-x)
        if t == 0:
            return softplus(x)
    return t * softplus(-x) + (1 - t) * softplus(x)


def basic_terms(cfg: LossConfig, r, f, real_target=None, fake_target=None):
    """Element terms (D real, D fake, G fake) of the non-relativistic kinds."""
    d, g = kind(cfg.d_loss), kind(cfg.g_loss)
    rt = cfg.real_target if real_target is None else real_target
    ft = cfg.fake_target if fake_target is None else fake_target
    if d in LOGISTIC:
        real_d, fake_d = cross_entropy(r, rt), cross_entropy(f, ft)
    elif d == "hinge":
        real_d, fake_d = relu(cfg.margin_real - r), relu(cfg.margin_fake + f)
    elif d == "wasserstein":
        real_d, fake_d = -r, f
    else:
        real_d = 0.5 * jnp.square(r - cfg.ls_real_label)
        fake_d = 0.5 * jnp.square(f - cfg.ls_fake_label)
    if g == "nonsaturating":
        fake_g = softplus(-f)
    elif g == "minimax":
        fake_g = -softplus(f)
    elif g in ("hinge", "wasserstein"):
        fake_g = -f
    else:
        fake_g = 0.5 * jnp.square(f - cfg.ls_gen_label)
    return real_d, fake_d, fake_g


def average_terms(cfg: LossConfig, rt, ft):
    """Element terms (D real, D fake, G real, G fake) of a relativistic average kind, of
    r~ = r - mean f and f~ = f - mean r."""
    k = kind(cfg.d_loss)
    if k == "relativistic-average-hinge":
        return (relu(cfg.margin_real - rt), relu(cfg.margin_fake + ft),
                relu(cfg.margin_fake + rt), relu(cfg.margin_real - ft))
    if k == "relativistic-average-least-squares":
        return (0.5 * jnp.square(rt - 1), 0.5 * jnp.square(ft + 1), 0.5 * jnp.square(rt + 1),
                0.5 * jnp.square(ft - 1))
    return softplus(-rt), softplus(ft), softplus(rt), softplus(-ft)


def weighted(term, w):
    """w * term: exactly 0 where w is 0, even for a NaN or infinite term (as in the library),
    and differentiable in w there too (d/dw is the term where it is finite)."""
    if w is None:
        return term
    # + 0: a zero weight times a negative term is -0; the library's 0 is +0.
    return w * jnp.where((w != 0) | jnp.isfinite(term), term, jnp.zeros_like(term)) + 0.0


def masked(t, w):
    """A term's argument, 0 where the weight is 0 and the argument is not finite: such an
    element contributes nothing, and its gradient is 0 rather than NaN."""
    if w is None:
        return t
    return jnp.where((w == 0) & ~jnp.isfinite(t), jnp.zeros_like(t), t)


def reduce(reduction: str, terms, w):
    """Per segment: the sum of the weighted terms, divided as the reduction says; 0 where the
    divisor is 0, NaN where a weight is negative (or the weights sum to 0 while some are not
    0): a weighted mean is not defined there."""
    total = terms.sum(-1)
    if reduction in ("sum", "none"):
        norm = jnp.ones_like(total)
    elif w is None:
        norm = jnp.full_like(total, terms.shape[-1])
    elif reduction == "mean-nonzero":
        norm = (w != 0).sum(-1).astype(total.dtype)
    else:
        norm = w.sum(-1).astype(total.dtype)
    safe = jnp.where(norm != 0, norm, jnp.ones_like(norm))
    value = jnp.where(norm != 0, total / safe, jnp.zeros_like(total))
    if w is not None:
        bad = (w < 0).any(-1) | ((norm == 0) & (w != 0).any(-1))
        value = jnp.where(bad, jnp.full_like(value, jnp.nan), value)
    return value


def losses(cfg: LossConfig, r, f, rw=None, fw=None, real_target=None, fake_target=None) -> dict:
    """Per-segment d_loss_real, d_loss_fake, d_loss and g_loss of [segments, count] logits,
    and the weighted element terms loss_real, loss_fake_d, loss_fake_g, loss_real_g."""
    reduction = kind(cfg.reduction)
    k = kind(cfg.d_loss)
    if k == "relativistic":
        diff = masked(f - r, rw)
        ld, lg = weighted(softplus(diff), rw), weighted(softplus(-diff), rw)
        out = {"d_loss_real": reduce(reduction, ld, rw), "g_loss": reduce(reduction, lg, rw)}
        out["d_loss_fake"] = jnp.zeros_like(out["d_loss_real"])
        elements = {"loss_real": ld, "loss_fake_d": jnp.zeros_like(f), "loss_fake_g": lg,
                    "loss_real_g": jnp.zeros_like(r)}
    elif k in AVERAGE:
        mr = r.mean(-1, keepdims=True) if r.shape[-1] else jnp.zeros_like(r[..., :1])
        mf = f.mean(-1, keepdims=True) if f.shape[-1] else jnp.zeros_like(f[..., :1])
        dr, df, gr, gf = average_terms(cfg, masked(r - mf, rw), masked(f - mr, fw))
        dr, gr, df, gf = weighted(dr, rw), weighted(gr, rw), weighted(df, fw), weighted(gf, fw)
        out = {"d_loss_real": reduce(reduction, dr, rw), "d_loss_fake": reduce(reduction, df, fw),
               "g_loss": reduce(reduction, gr, rw) + reduce(reduction, gf, fw)}
        elements = {"loss_real": dr, "loss_fake_d": df, "loss_fake_g": gf, "loss_real_g": gr}
    else:
        real_d, fake_d, fake_g = basic_terms(cfg, masked(r, rw), masked(f, fw), real_target,
                                             fake_target)
        elements = {"loss_real": weighted(real_d, rw), "loss_fake_d": weighted(fake_d, fw),
                    "loss_fake_g": weighted(fake_g, fw), "loss_real_g": jnp.zeros_like(r)}
        out = {"d_loss_real": reduce(reduction, elements["loss_real"], rw),
               "d_loss_fake": reduce(reduction, elements["loss_fake_d"], fw),
               "g_loss": reduce(reduction, elements["loss_fake_g"], fw)}
    out["d_loss"] = out["d_loss_real"] + out["d_loss_fake"]
    out.update(elements)
    return out
