"""JAX on its CPU platform: the XLA FFI call under jit, grad and vmap, against the reference."""

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="jax is not installed")
import jax.numpy as jnp  # noqa: E402

import ganloss  # noqa: E402
from reference import assert_close, losses, sigmoid, sp, terms  # noqa: E402

gj = pytest.importorskip("ganloss.jax", reason="ganloss was built without the XLA FFI handlers")


def logits(shape, seed):
    return (3 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge", "least-squares"])
@pytest.mark.parametrize("shape", [(33,), (4, 100)])
def test_jit_matches_reference(kind, shape):
    real, fake = logits(shape, 1), logits(shape, 2)
    out = jax.jit(lambda r, f: gj.compute(r, f, loss=kind))(real, fake)
    ref = losses(kind, np.atleast_2d(real.astype(np.float64)),
                 np.atleast_2d(fake.astype(np.float64)))
    for name, expected in ref.items():
        assert_close(out[name], expected.reshape(out[name].shape), "float32",
                     terms_per_value=shape[-1])


def whole(kind, real, fake, reduction="mean"):
    """The reference over all elements of logits of any shape, gradients in their shapes."""
    ref = losses(kind, real.reshape(1, -1).astype(np.float64),
                 fake.reshape(1, -1).astype(np.float64), reduction)
    return {"d_loss": ref["d_loss"][0], "g_loss": ref["g_loss"][0],
            "grad_real": ref["grad_real"].reshape(real.shape),
            "grad_fake_d": ref["grad_fake_d"].reshape(fake.shape),
            "grad_fake_g": ref["grad_fake_g"].reshape(fake.shape)}


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge", "least-squares", "wasserstein"])
@pytest.mark.parametrize("shape", [(33,), (8, 1), (4, 1, 3, 5), ()])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_losses_reduce_every_element_to_a_scalar(kind, shape, reduction):
    # [B], [B,1] (DCGAN), [B,1,H,W] (PatchGAN): one loss over all elements, like
    # BCEWithLogitsLoss; fake logits may have another shape.
    real, fake = logits(shape, 1), logits(shape[:1] + (2,) + shape[1:], 2)

    def objective(r, f):
        d, g = gj.losses(r, f, loss=kind, reduction=reduction)
        return d + 2.0 * g, (d, g)

    (_, (d, g)), (grad_real, grad_fake) = jax.jit(
        jax.value_and_grad(objective, argnums=(0, 1), has_aux=True))(real, fake)
    assert d.shape == () and g.shape == ()
    ref = whole(kind, real, fake, reduction)
    n = real.size + fake.size
    assert_close(d, ref["d_loss"], "float32", n)
    assert_close(g, ref["g_loss"], "float32", n)
    assert grad_real.shape == real.shape and grad_fake.shape == fake.shape
    assert_close(grad_real, ref["grad_real"], "float32")
    assert_close(grad_fake, ref["grad_fake_d"] + 2.0 * ref["grad_fake_g"], "float32", 2)


def test_relativistic_average_over_b_by_1_is_over_all_elements():
    # [B,1] logits are one batch of B, not B batches of one logit.
    real, fake = logits((16, 1), 3), logits((16, 1), 4)
    column = gj.losses(real, fake, loss="relativistic-average")
    flat = gj.losses(real.ravel(), fake.ravel(), loss="relativistic-average")
    np.testing.assert_array_equal(np.asarray(column), np.asarray(flat))
    per_row = gj.losses(real, fake, loss="relativistic-average", segment_dims=1)
    assert per_row[0].shape == (16,)


def test_segment_dims_gives_per_segment_losses():
    real, fake = logits((3, 50), 3), logits((3, 50), 4)

    def objective(r, f):
        d, g = gj.losses(r, f, segment_dims=1)
        return d.sum() + 2.0 * g.sum()

    grad_real, grad_fake = jax.jit(jax.grad(objective, argnums=(0, 1)))(real, fake)
    ref = losses("nonsaturating", real.astype(np.float64), fake.astype(np.float64))
    assert_close(grad_real, ref["grad_real"], "float32")
    assert_close(grad_fake, ref["grad_fake_d"] + 2.0 * ref["grad_fake_g"], "float32", 2)


def test_segment_dims_over_several_dimensions():
    real, fake = logits((2, 3, 4, 5), 9), logits((2, 3, 7), 10)
    d, g = jax.jit(lambda r, f: gj.losses(r, f, loss="hinge", segment_dims=2))(real, fake)
    assert d.shape == (2, 3) and g.shape == (2, 3)
    ref = losses("hinge", real.reshape(6, 20).astype(np.float64),
                 fake.reshape(6, 7).astype(np.float64))
    assert_close(d, ref["d_loss"].reshape(2, 3), "float32", 27)
    assert_close(g, ref["g_loss"].reshape(2, 3), "float32", 7)


def test_bfloat16_and_vmap():
    real = jnp.asarray(logits((6, 32), 5), jnp.bfloat16)
    fake = jnp.asarray(logits((6, 32), 6), jnp.bfloat16)
    d, g = jax.vmap(gj.losses)(real, fake)   # one loss per row
    ref = losses("nonsaturating", np.asarray(real, np.float64), np.asarray(fake, np.float64))
    assert d.shape == (6,)
    assert_close(d, ref["d_loss"], "float32", 32)
    # vmap of grad: per-row gradients, in one call.
    per_row = jax.vmap(jax.grad(lambda r, f: gj.losses(r, f)[0]))(real, fake)
    assert per_row.dtype == jnp.bfloat16
    assert_close(per_row, ref["grad_real"], "bfloat16")
    grad_real = jax.grad(lambda r: gj.losses(r, fake)[0])(real)
    assert grad_real.dtype == jnp.bfloat16
    assert_close(grad_real, whole("nonsaturating", np.asarray(real, np.float64),
                                  np.asarray(fake, np.float64))["grad_real"], "bfloat16")


def test_float16_gradients_are_scaled_before_rounding():
    # A GradScaler-style loss scale of 2^16 over 4096 fp16 logits: every gradient is about
    # 1e-4 before scaling, subnormal or zero in fp16; scaled in fp32 and rounded once, each is
    # within fp16's rounding of the exact value.
    real = jnp.asarray(logits((64, 64), 21), jnp.float16)
    fake = jnp.asarray(logits((64, 64), 22), jnp.float16)
    scale = 65536.0
    grad_real, grad_fake = jax.jit(jax.grad(
        lambda r, f: scale * gj.losses(r, f)[0], argnums=(0, 1)))(real, fake)
    assert grad_real.dtype == jnp.float16
    ref = whole("nonsaturating", np.asarray(real, np.float64), np.asarray(fake, np.float64))
    assert_close(grad_real, scale * ref["grad_real"], "float16")
    assert_close(grad_fake, scale * ref["grad_fake_d"], "float16")
    assert np.count_nonzero(np.asarray(grad_real)) == real.size


def test_vmap_with_unmapped_fake_logits():
    real, fake = logits((5, 8, 1), 11), logits((8, 1), 12)
    d, g = jax.jit(jax.vmap(lambda r: gj.losses(r, fake, loss="least-squares"),
                            out_axes=0))(real)
    for i in range(5):
        ref = whole("least-squares", real[i], fake)
        assert_close(d[i], ref["d_loss"], "float32", 16)
        assert_close(g[i], ref["g_loss"], "float32", 8)


def curvature(kind, x, generator=False):
    """Second derivative of an element's term, float64, from the README's table."""
    if kind in ("hinge", "wasserstein"):
        return np.zeros_like(x)
    if kind == "least-squares":
        return np.ones_like(x)
    s = 1.0 / (1.0 + np.exp(-x))
    h = s * (1.0 - s)
    return -h if generator and kind == "minimax" else h


@pytest.mark.parametrize("kind", ["nonsaturating", "minimax", "hinge", "wasserstein",
                                  "least-squares", "relativistic"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_second_derivatives(kind, reduction):
    # Hessian-vector products of d + 2 g by grad of grad, against the float64 formulas.
    shape = (4, 1, 3)
    real, fake = logits(shape, 13), logits(shape if kind == "relativistic" else (5, 1, 3), 14)
    v_real, v_fake = logits(real.shape, 15), logits(fake.shape, 16)

    def total(r, f):
        d, g = gj.losses(r, f, loss=kind, reduction=reduction)
        return d + 2.0 * g

    def directional(r, f):
        grad_r, grad_f = jax.grad(total, argnums=(0, 1))(r, f)
        return jnp.sum(grad_r * v_real) + jnp.sum(grad_f * v_fake)

    hv_real, hv_fake = jax.jit(jax.grad(directional, argnums=(0, 1)))(real, fake)
    r, f = real.astype(np.float64), fake.astype(np.float64)
    c_real = 1.0 / real.size if reduction == "mean" else 1.0
    c_fake = 1.0 / fake.size if reduction == "mean" else 1.0
    if kind == "relativistic":
        coupled = 3.0 * c_real * curvature("nonsaturating", f - r) * (v_real - v_fake)
        expected = (coupled, -coupled)
    else:
        expected = (c_real * curvature(kind, r) * v_real,
                    c_fake * (curvature(kind, f) + 2.0 * curvature(kind, f, True)) * v_fake)
    assert_close(hv_real, expected[0], "float32", 2)
    assert_close(hv_fake, expected[1], "float32", 2)


def test_full_hessian_by_jacrev_and_per_segment():
    real, fake = logits((2, 6), 17), logits((2, 6), 18)

    def d_loss(r):
        return gj.losses(r, fake, segment_dims=1)[0].sum()

    hessian = jax.jacrev(jax.jacrev(d_loss))(real).reshape(12, 12)
    expected = np.diag(curvature("nonsaturating", real.astype(np.float64)).ravel() / 6)
    assert_close(hessian, expected, "float32")
    # jax.hessian is forward over reverse: the forward mode of the forward pass.
    assert_close(jax.hessian(d_loss)(real).reshape(12, 12), expected, "float32")
    # The loss's own derivative, through the forward pass: the gradient.
    value_grad = jax.grad(lambda r: jax.value_and_grad(d_loss)(r)[0])(real)
    np.testing.assert_allclose(np.asarray(value_grad), np.asarray(jax.grad(d_loss)(real)),
                               rtol=1e-6, atol=1e-9)


def test_unavailable_derivatives_are_refused_not_wrong():
    real, fake = logits((8,), 19), logits((8,), 20)

    def average(r):
        return gj.losses(r, fake, loss="relativistic-average")[0]

    with pytest.raises(NotImplementedError, match="relativistic averages"):
        jax.grad(lambda r: jax.grad(average)(r).sum())(real)
    with pytest.raises(NotImplementedError, match="mean-nonzero"):
        jax.grad(lambda r: jax.grad(
            lambda x: gj.losses(x, fake, reduction="mean-nonzero")[0])(r).sum())(real)
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(average, (real,), (np.ones_like(real),))
    with pytest.raises(NotImplementedError, match="relativistic averages"):
        jax.hessian(average)(real)
    # First derivatives through jacrev are those of grad.
    np.testing.assert_array_equal(np.asarray(jax.jacrev(average)(real)),
                                  np.asarray(jax.grad(average)(real)))


def test_shape_errors():
    real = jnp.asarray(logits((4, 3), 15))
    with pytest.raises(ValueError, match="segment dimensions"):
        gj.losses(real, real[:2], segment_dims=1)
    with pytest.raises(ValueError, match="segment_dims"):
        gj.losses(real, real, segment_dims=3)
    with pytest.raises(TypeError, match="one dtype"):
        gj.losses(real, real.astype(jnp.bfloat16))
    # An empty side is refused when traced, not when the compiled call runs.
    with pytest.raises(ValueError, match="no elements per segment"):
        jax.jit(lambda r, f: gj.losses(r, f)).lower(real[:, :0], real)
    with pytest.raises(ValueError, match="no elements per segment"):
        gj.compute(real, real[:, :0])


def test_plain_compute_hands_jax_arrays_to_xla():
    real, fake = jnp.asarray(logits((8,), 7)), jnp.asarray(logits((8,), 8))
    out = ganloss.compute(real, fake, loss="wasserstein")
    assert isinstance(out["d_loss"], jax.Array)
    with pytest.raises(ValueError, match="real_target"):
        jax.jit(lambda r, f: gj.losses(r, f, real_target=2.0))(real, fake)


# ---- Weights, targets and element losses (the jnp composition) ----

BASIC = ["nonsaturating", "minimax", "hinge", "wasserstein", "least-squares"]


def weighted_reference(kind, real, fake, rw, fw, reduction):
    """Per-segment D and G losses of [segments, count] float64 logits with weights."""
    (lr, _), (lf, _), (lg, _) = terms(kind, real, fake)

    def reduce(t, w):
        total = (w * t).sum(-1)
        if reduction == "sum":
            return total
        return total / (w.sum(-1) if reduction == "mean" else (w != 0).sum(-1))

    return reduce(lr, rw) + reduce(lf, fw), reduce(lg, fw)


@pytest.mark.parametrize("kind", BASIC)
@pytest.mark.parametrize("reduction", ["mean", "sum", "mean-nonzero"])
def test_weights_broadcast_like_bce_weight(kind, reduction):
    # [B, 1] weights over [B, H, W] logits, one loss per segment (segment_dims=1) and over all.
    real, fake = logits((3, 4, 5), 21), logits((3, 4, 5), 22)
    rng = np.random.default_rng(23)
    rw = rng.uniform(0.0, 2.0, (3, 1, 1)).astype(np.float32)
    fw = rng.uniform(0.0, 2.0, (3, 4, 5)).astype(np.float32)
    fw[0, 0, :3] = 0.0
    for k in (0, 1):
        d, g = jax.jit(lambda r, f, a, b: gj.losses(r, f, loss=kind, reduction=reduction,
                                                    segment_dims=k, real_weights=a,
                                                    fake_weights=b))(real, fake, rw, fw)
        segments = 3 if k else 1
        rows = (lambda x: np.broadcast_to(x, real.shape).reshape(segments, -1)
                .astype(np.float64))
        ref_d, ref_g = weighted_reference(kind, rows(real), rows(fake), rows(rw), rows(fw),
                                          reduction)
        assert d.shape == real.shape[:k] and g.shape == real.shape[:k]
        assert_close(d, ref_d.reshape(d.shape), "float32", real.size)
        assert_close(g, ref_g.reshape(g.shape), "float32", real.size)


def test_weights_get_their_gradient_and_second_derivatives():
    # d/dw_i of sum(w l) / sum(w) is (l_i - L) / sum(w), a zero weight's too; the Hessian of
    # the weighted mean of sp(-x) is diagonal, w_i sigma(x_i)(1 - sigma(x_i)) / sum(w).
    real, fake = logits((6,), 31), logits((6,), 32)
    w = np.linspace(0.5, 2.0, 6).astype(np.float32)
    w[2] = 0.0

    def d_loss(r, weights):
        return gj.losses(r, fake, real_weights=weights)[0]

    grad_w = jax.grad(d_loss, argnums=1)(real, w)
    r64, w64 = real.astype(np.float64), w.astype(np.float64)
    lr = sp(-r64)
    mean = (w64 * lr).sum() / w64.sum()
    assert_close(grad_w, (lr - mean) / w64.sum(), "float32", 6)
    hessian = jax.hessian(d_loss)(real, w)
    s = sigmoid(r64)
    assert_close(hessian, np.diag(w64 * s * (1 - s) / w64.sum()), "float32", 6)


@pytest.mark.parametrize("kind", BASIC)
def test_reduction_none_gives_element_losses_in_the_logits_shapes(kind):
    real, fake = logits((4, 1, 3), 41), logits((5, 2), 42)
    (d_real, d_fake), g = jax.jit(lambda r, f: gj.losses(r, f, loss=kind,
                                                         reduction="none"))(real, fake)
    (lr, _), (lf, _), (lg, _) = terms(kind, real.astype(np.float64), fake.astype(np.float64))
    assert d_real.shape == real.shape and d_fake.shape == fake.shape and g.shape == fake.shape
    assert_close(d_real, lr, "float32")
    assert_close(d_fake, lf, "float32")
    assert_close(g, lg, "float32")
    # Their gradients are the element terms' derivatives (a sum's, per element).
    grad = jax.grad(lambda r: gj.losses(r, fake, loss=kind, reduction="none")[0][0].sum())(real)
    (_, gr), _, _ = terms(kind, real.astype(np.float64), fake.astype(np.float64))
    assert_close(grad, gr, "float32")


def test_reduction_none_of_the_relativistic_kinds():
    real, fake = logits((8,), 43), logits((8,), 44)
    (d_real, d_fake), g = gj.losses(real, fake, loss="relativistic", reduction="none")
    r64, f64 = real.astype(np.float64), fake.astype(np.float64)
    assert_close(d_real, sp(f64 - r64), "float32")
    assert_close(d_fake, np.zeros(8), "float32")
    assert_close(g, sp(r64 - f64), "float32")
    (d_real, d_fake), (g_fake, g_real) = gj.losses(real, fake, loss="relativistic-average",
                                                   reduction="none")
    rt, ft = r64 - f64.mean(), f64 - r64.mean()
    for got, expected in ((d_real, sp(-rt)), (d_fake, sp(ft)), (g_fake, sp(-ft)),
                          (g_real, sp(rt))):
        assert_close(got, expected, "float32", 8)
    # Summed, they are the per-segment sums of the library's call.
    d, g = gj.losses(real, fake, loss="relativistic-average", reduction="sum")
    assert_close(d, (sp(-rt).sum() + sp(ft).sum()), "float32", 16)
    assert_close(g, (sp(-ft).sum() + sp(rt).sum()), "float32", 16)


def test_targets_and_label_smoothing_match_cross_entropy():
    real, fake = logits((4, 8), 51), logits((4, 8), 52)
    rng = np.random.default_rng(53)
    rt = rng.uniform(0.0, 1.0, (4, 8)).astype(np.float32)
    d, _ = jax.jit(lambda r, f, t: gj.losses(r, f, real_targets=t))(real, fake, rt)
    r64, f64, t64 = real.astype(np.float64), fake.astype(np.float64), rt.astype(np.float64)
    expected = (t64 * sp(-r64) + (1 - t64) * sp(r64)).mean() + sp(f64).mean()
    assert_close(d, expected, "float32", real.size)
    d, g = gj.losses(real, fake, label_smoothing=0.2)
    expected = (0.9 * sp(-r64) + 0.1 * sp(r64)).mean() + (0.1 * sp(-f64) + 0.9 * sp(f64)).mean()
    assert_close(d, expected, "float32", real.size)
    assert_close(g, sp(-f64).mean(), "float32", real.size)


def test_weight_and_target_errors():
    real, fake = jnp.asarray(logits((4, 3), 61)), jnp.asarray(logits((4, 3), 62))
    negative = -jnp.ones((4, 1))
    with pytest.raises(ValueError, match="non-negative"):
        gj.losses(real, fake, real_weights=negative)
    # Under jit the values are not known: the losses are NaN, never a silent number.
    d, g = jax.jit(lambda w: gj.losses(real, fake, fake_weights=w))(negative)
    assert np.isnan(np.asarray(d)) and np.isnan(np.asarray(g))
    with pytest.raises(ValueError, match="broadcast"):
        gj.losses(real, fake, real_weights=jnp.ones((3,)).reshape(3, 1))
    with pytest.raises(TypeError, match="floating"):
        gj.losses(real, fake, real_weights=jnp.ones((4, 3), jnp.int32))
    with pytest.raises(ValueError, match="logistic"):
        gj.losses(real, fake, loss="hinge", real_targets=jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="logistic"):
        gj.losses(real, fake, loss="hinge", label_smoothing=0.1)
    with pytest.raises(ValueError, match="grad_scale"):
        gj.losses(real, fake, real_weights=jnp.ones((4, 3)), grad_scale=2.0)
    # The library's call too: jax.grad would return grad_scale times the derivative.
    with pytest.raises(ValueError, match="grad_scale"):
        gj.losses(real, fake, grad_scale=2.0)
    with pytest.raises(ValueError, match="fp32_gradients"):
        gj.losses(real, fake, fp32_gradients=True)
    with pytest.raises(ValueError, match="real_target"):
        gj.losses(real, fake, reduction="none", real_target=2.0)
    with pytest.raises(ValueError, match="one weight per pair"):
        gj.losses(real, fake, loss="relativistic", fake_weights=jnp.ones((4, 3)))


def test_non_finite_logits_in_the_composition():
    # A NaN logit gives NaN terms (hinge too), except under a zero weight, where it contributes
    # nothing and gets a zero gradient, as in the library.
    real = logits((8,), 71)
    real[3] = np.nan
    fake = logits((8,), 72)
    (d_real, _), _ = gj.losses(real, fake, loss="hinge", reduction="none")
    assert np.isnan(np.asarray(d_real)[3]) and np.isfinite(np.asarray(d_real)[[0, 1, 2, 4]]).all()
    w = np.ones(8, np.float32)
    w[3] = 0.0
    for kind in ("nonsaturating", "hinge", "least-squares", "relativistic"):
        def d_loss(r, kind=kind):
            return gj.losses(r, fake, loss=kind, real_weights=w)[0]
        value, grad = jax.value_and_grad(d_loss)(real)
        assert np.isfinite(np.asarray(value)), kind
        grad = np.asarray(grad)
        assert grad[3] == 0.0 and np.isfinite(grad).all(), kind
