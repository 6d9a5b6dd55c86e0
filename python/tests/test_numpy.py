"""The plain API on NumPy arrays (CPU and reference backends) against the float64 reference."""

import dataclasses

import numpy as np
import pytest

import ganloss
from reference import assert_close, losses, terms

BASIC_KINDS = ["nonsaturating", "minimax", "hinge", "wasserstein", "least-squares"]


def logits(shape, dtype, seed):
    return (3 * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("kind", BASIC_KINDS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", [(37,), (5, 300)])
@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_matches_reference(kind, reduction, dtype, shape, backend):
    real = logits(shape, dtype, 1)
    fake = logits(shape[:-1] + (shape[-1] + 3,), dtype, 2)
    out = ganloss.compute(real, fake, loss=kind, reduction=reduction, backend=backend)
    ref = losses(kind, np.atleast_2d(real.astype(np.float64)),
                 np.atleast_2d(fake.astype(np.float64)), reduction)
    for name, expected in ref.items():
        expected = expected.reshape(out[name].shape)
        if name.startswith("grad"):
            assert out[name].dtype == np.dtype(dtype)
            assert_close(out[name], expected, dtype)
        else:
            assert out[name].shape == (() if len(shape) == 1 else shape[:1])
            assert_close(out[name], expected, "float32", terms_per_value=shape[-1])


def test_out_arrays_are_written_in_place():
    real, fake = logits((4, 16), "float32", 3), logits((4, 16), "float32", 4)
    d_loss = np.full(4, np.nan, np.float32)
    grad_real = np.empty_like(real)
    out = ganloss.compute(real, fake, out={"d_loss": d_loss, "grad_real": grad_real})
    assert out["d_loss"] is d_loss and out["grad_real"] is grad_real
    ref = losses("nonsaturating", real.astype(np.float64), fake.astype(np.float64))
    assert_close(d_loss, ref["d_loss"], "float32", 16)
    assert_close(grad_real, ref["grad_real"], "float32")


def test_weights_ragged_and_stats():
    real = logits((10,), "float32", 5)
    fake = logits((7,), "float32", 6)
    offsets_r = np.array([0, 4, 10], np.int64)
    offsets_f = np.array([0, 0, 7], np.int64)
    w = np.linspace(0.5, 2, 10).astype(np.float32)
    out = ganloss.compute(real, fake, real_offsets=offsets_r, fake_offsets=offsets_f,
                          real_weights=w, reduction="sum", outputs=["d_loss_real", "stats"])
    (lr, _), _, _ = terms("nonsaturating", real.astype(np.float64),
                          fake.astype(np.float64))
    expected = [np.sum(w[0:4] * lr[0:4]), np.sum(w[4:] * lr[4:])]
    assert_close(out["d_loss_real"], np.array(expected), "float32", 10)
    stats = out["stats"]
    assert stats["frac_real_positive"].shape == (2,)
    np.testing.assert_allclose(stats["frac_real_positive"][1], np.mean(real[4:] > 0), rtol=1e-6)
    assert stats["nonfinite_fake"].tolist() == [0, 0]


def test_relativistic_gradients_sum_to_zero():
    real, fake = logits((3, 20), "float32", 7), logits((3, 20), "float32", 8)
    out = ganloss.compute(real, fake, loss="relativistic-average")
    assert "grad_real_g" in out
    total = out["grad_real"].sum(-1) + out["grad_fake_d"].sum(-1)
    np.testing.assert_allclose(total, 0, atol=1e-6)


def test_errors_carry_the_library_message():
    real, fake = logits((8,), "float32", 9), logits((8,), "float32", 10)
    with pytest.raises(ValueError, match="real_target"):
        ganloss.compute(real, fake, real_target=2.0)
    with pytest.raises(ValueError, match="unknown loss kind"):
        ganloss.compute(real, fake, loss="nonexistent")
    with pytest.raises(TypeError, match="float32, float16 or bfloat16"):
        ganloss.compute(real.astype(np.float64), fake.astype(np.float64))
    with pytest.raises(ValueError, match="segments"):
        ganloss.compute(logits((2, 8), "float32", 1), logits((3, 8), "float32", 1))
    with pytest.raises(ValueError, match="elements"):
        ganloss.compute(real, fake, out={"grad_real": np.empty(7, np.float32)})
    with pytest.raises(TypeError, match="dtype float32"):
        ganloss.compute(real, fake, out={"d_loss": np.empty((), np.float64)})
    with pytest.raises(ValueError, match="real_count is 0"):
        ganloss.compute(None, fake, outputs=["d_loss"])


@pytest.mark.parametrize("d_loss, g_loss", [("relativistic", "wasserstein"),
                                             ("hinge", "relativistic-average"),
                                             ("relativistic-average", "relativistic")])
def test_a_relativistic_kind_on_one_side_only_is_refused(d_loss, g_loss):
    """Refused when the configuration is made, whichever way it is made: the framework
    compositions, which run without the library, would compute some other loss."""
    match = "relativistic loss must be both the D and the G kind"
    with pytest.raises(ValueError, match=match):
        ganloss.LossConfig.make(d_loss=d_loss, g_loss=g_loss)
    with pytest.raises(ValueError, match=match):
        ganloss.LossConfig(d_loss=d_loss, g_loss=g_loss)
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(ganloss.LossConfig(d_loss=d_loss, g_loss=d_loss), g_loss=g_loss)
    real, fake = logits((8,), "float32", 9), logits((8,), "float32", 10)
    with pytest.raises(ValueError, match=match):
        ganloss.compute(real, fake, d_loss=d_loss, g_loss=g_loss)


def test_kind_names_in_any_case():
    config = ganloss.LossConfig.make("Relativistic_Average")
    assert config.relativistic
    real, fake = logits((8,), "float32", 9), logits((8,), "float32", 10)
    a = ganloss.compute(real, fake, loss="Relativistic_Average")
    b = ganloss.compute(real, fake, loss="relativistic-average")
    for name in b:
        np.testing.assert_array_equal(a[name], b[name])


def test_backend_availability():
    assert ganloss.backend_available("cpu")
    with pytest.raises(ValueError, match="unknown backend"):
        ganloss.backend_available("tpu")


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_offsets_that_leave_elements_outside_every_segment(backend):
    """Elements before the first offset or from the last belong to no segment: the library
    neither reads nor writes them, so allocated outputs are 0 there and out= keeps its values."""
    real = logits((8,), "float32", 11)
    fake = logits((5,), "float32", 12)
    offsets_r = np.array([2, 5], np.int64)  # elements 0, 1 and 5 to 7 in no segment
    offsets_f = np.array([0, 5], np.int64)
    wanted = ["d_loss", "grad_real", "loss_real"]
    out = ganloss.compute(real, fake, real_offsets=offsets_r, fake_offsets=offsets_f,
                          outputs=wanted, backend=backend)
    outside = np.r_[0:2, 5:8]
    for name in ("grad_real", "loss_real"):
        np.testing.assert_array_equal(out[name][outside], 0.0)
    ref = losses("nonsaturating", real[None, 2:5].astype(np.float64),
                 fake[None].astype(np.float64))
    assert_close(out["grad_real"][2:5], ref["grad_real"][0], "float32")
    assert_close(out["d_loss"], ref["d_loss"], "float32", 8)
    mine = np.full(8, -7.0, np.float32)
    ganloss.compute(real, fake, real_offsets=offsets_r, fake_offsets=offsets_f,
                    outputs=["grad_real"], out={"grad_real": mine}, backend=backend)
    np.testing.assert_array_equal(mine[outside], -7.0)
    np.testing.assert_array_equal(mine[2:5], out["grad_real"][2:5])


def test_weights_in_another_shape_are_refused():
    real, fake = logits((2, 3), "float32", 13), logits((2, 3), "float32", 14)
    with pytest.raises(ValueError, match=r"real_weights of shape \(3, 2\).*\(2, 3\)"):
        ganloss.compute(real, fake, real_weights=np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="fake_weights of shape"):
        ganloss.compute(real, fake, fake_weights=np.ones(6, np.float32))
    with pytest.raises(ValueError, match="fake_offsets must be one-dimensional"):
        ganloss.compute(real.ravel(), fake.ravel(), real_offsets=np.array([0, 6]),
                        fake_offsets=np.array([[0, 6]]))
    with pytest.raises(ValueError, match="cpu_threads"):
        ganloss.compute(real, fake, cpu_threads=2**31)


def test_stats_into_an_out_buffer_come_back_as_a_dict_of_views():
    real, fake = logits((3, 16), "float32", 15), logits((3, 16), "float32", 16)
    buffer = np.zeros(3 * 40, np.uint8)
    got = ganloss.compute(real, fake, outputs=["stats"], out={"stats": buffer})["stats"]
    expected = ganloss.compute(real, fake, outputs=["stats"])["stats"]
    assert set(got) == set(expected)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])
        assert np.shares_memory(got[name], buffer), name


def test_inputs_in_other_byte_orders_or_misaligned_are_copied():
    real, fake = logits((4, 5), "float32", 17), logits((4, 5), "float32", 18)
    expected = ganloss.compute(real, fake, real_weights=np.full((4, 5), 0.5, np.float32))
    swapped = ganloss.compute(real.astype(">f4"), fake.astype(">f4"),
                              real_weights=np.full((4, 5), 0.5, ">f4"))
    raw = np.zeros(real.nbytes + 1, np.uint8)
    raw[1:] = real.view(np.uint8).ravel()
    misaligned = np.frombuffer(raw.data, np.float32, offset=1).reshape(4, 5)
    assert not misaligned.flags.aligned
    shifted = ganloss.compute(misaligned, fake, real_weights=np.full((4, 5), 0.5, np.float32))
    for name in expected:
        np.testing.assert_array_equal(swapped[name], expected[name])
        np.testing.assert_array_equal(shifted[name], expected[name])


def test_negative_weights_are_refused():
    # A weighted mean of negative weights is not defined: the host backends say so and write
    # nothing, rather than return a number.
    real = np.linspace(-2, 2, 12, dtype=np.float32).reshape(2, 6)
    weights = np.ones((2, 6), np.float32)
    weights[1, 4] = -0.25
    for backend in ("cpu", "reference"):
        with pytest.raises(ValueError, match=r"real_weights\[10\].*non-negative"):
            ganloss.compute(real, real, real_weights=weights, backend=backend)
