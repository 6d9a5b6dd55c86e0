"""JAX on its CPU platform: the XLA FFI call under jit, grad and vmap, against the reference."""

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="jax is not installed")
import jax.numpy as jnp  # noqa: E402

import ganloss  # noqa: E402
from reference import assert_close, losses  # noqa: E402

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


def test_grad_uses_the_forward_gradients():
    real, fake = logits((3, 50), 3), logits((3, 50), 4)

    def objective(r, f):
        d, g = gj.losses(r, f)
        return d.sum() + 2.0 * g.sum()

    grad_real, grad_fake = jax.jit(jax.grad(objective, argnums=(0, 1)))(real, fake)
    ref = losses("nonsaturating", real.astype(np.float64), fake.astype(np.float64))
    assert_close(grad_real, ref["grad_real"], "float32")
    assert_close(grad_fake, ref["grad_fake_d"] + 2.0 * ref["grad_fake_g"], "float32", 2)


def test_bfloat16_and_vmap():
    real = jnp.asarray(logits((6, 32), 5), jnp.bfloat16)
    fake = jnp.asarray(logits((6, 32), 6), jnp.bfloat16)
    d, g = jax.vmap(gj.losses)(real, fake)
    ref = losses("nonsaturating", np.asarray(real, np.float64), np.asarray(fake, np.float64))
    assert_close(d, ref["d_loss"], "float32", 32)
    grad_real = jax.grad(lambda r: gj.losses(r, fake)[0].sum())(real)
    assert grad_real.dtype == jnp.bfloat16
    assert_close(grad_real, ref["grad_real"], "bfloat16")


def test_plain_compute_hands_jax_arrays_to_xla():
    real, fake = jnp.asarray(logits((8,), 7)), jnp.asarray(logits((8,), 8))
    out = ganloss.compute(real, fake, loss="wasserstein")
    assert isinstance(out["d_loss"], jax.Array)
    with pytest.raises(ValueError, match="real_target"):
        jax.jit(lambda r, f: gj.losses(r, f, real_target=2.0))(real, fake)
