"""The losses in float64 NumPy, written from the README's table, to check every framework."""

import numpy as np

# Unit roundoff of each dtype: tolerances derive from these, never tuned to a result.
UNIT_ROUNDOFF = {"float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}


def sp(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def terms(kind, r, f):
    """(D real term, grad), (D fake term, grad), (G fake term, grad) for the basic kinds."""
    if kind in ("nonsaturating", "minimax"):
        g = (sp(-f), -sigmoid(-f)) if kind == "nonsaturating" else (-sp(f), -sigmoid(f))
        return (sp(-r), -sigmoid(-r)), (sp(f), sigmoid(f)), g
    if kind == "hinge":
        return ((np.maximum(1 - r, 0), -1.0 * (r < 1.0)), (np.maximum(1 + f, 0), 1.0 * (f > -1.0)),
                (-f, -np.ones_like(f)))
    if kind == "wasserstein":
        return (-r, -np.ones_like(r)), (f, np.ones_like(f)), (-f, -np.ones_like(f))
    if kind == "least-squares":
        return (((r - 1) ** 2 / 2, r - 1), (f**2 / 2, f), ((f - 1) ** 2 / 2, f - 1))
    raise ValueError(kind)


def losses(kind, real, fake, reduction="mean"):
    """Per-segment d_loss, g_loss and the three gradients of [segments, count] float64 logits."""
    (lr, gr), (lf, gfd), (lg, gfg) = terms(kind, real, fake)
    nr = real.shape[-1] if reduction == "mean" else 1
    nf = fake.shape[-1] if reduction == "mean" else 1
    return {
        "d_loss": lr.sum(-1) / nr + lf.sum(-1) / nf,
        "g_loss": lg.sum(-1) / nf,
        "grad_real": gr / nr,
        "grad_fake_d": gfd / nf,
        "grad_fake_g": gfg / nf,
    }


def assert_close(actual, expected, dtype, terms_per_value=1):
    """Within the rounding of the stored dtype plus fp32 arithmetic over the summed terms."""
    actual = np.asarray(actual, dtype=np.float64)
    u = UNIT_ROUNDOFF[dtype] + 64 * terms_per_value * UNIT_ROUNDOFF["float32"]
    scale = np.max(np.abs(expected)) if np.size(expected) else 0.0
    np.testing.assert_allclose(actual, expected, rtol=u, atol=u * scale + 1e-30)
