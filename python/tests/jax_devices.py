"""ganloss.jax across 4 host devices: sharded jit (per-shard calls, no gathering of the logits)
and shard_map (per-device types, pmean required).

XLA reads the device count once, when jax is first imported, so these tests run in a process
of their own: test_jax_devices.py starts pytest on this file with XLA_FLAGS set.
"""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import re  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax = pytest.importorskip("jax", reason="jax is not installed")
import jax.numpy as jnp  # noqa: E402
from jax.sharding import NamedSharding, PartitionSpec as P  # noqa: E402

from reference import UNIT_ROUNDOFF, assert_close, losses as reference_losses  # noqa: E402

gj = pytest.importorskip("ganloss.jax", reason="ganloss was built without the XLA FFI handlers")

if jax.device_count() != 4:
    pytest.skip(f"XLA made {jax.device_count()} devices, not 4", allow_module_level=True)

shard_map = getattr(jax, "shard_map", None)
if shard_map is None:  # JAX before 0.6
    from jax.experimental.shard_map import shard_map as _legacy_shard_map

    def shard_map(f, *, mesh, in_specs, out_specs):
        return _legacy_shard_map(f, mesh, in_specs, out_specs)

KINDS = ["nonsaturating", "hinge", "least-squares", "wasserstein", "relativistic"]
# Losses that need every logit at once: the call runs on whole arrays.
GATHERED = [("relativistic-average", "mean"), ("nonsaturating", "mean-nonzero"),
            ("hinge", "mean-nonzero")]


def logits(shape, seed, dtype=np.float32):
    return (3 * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def objective(kind, reduction="mean"):
    """Both losses and the gradients of d_loss + 2 g_loss."""
    def f(r, f_):
        def total(r, f_):
            d, g = gj.losses(r, f_, loss=kind, reduction=reduction)
            return d + 2.0 * g, (d, g)
        (_, (d, g)), grads = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(r, f_)
        return d, g, grads[0], grads[1]
    return f


def hlo(fn, *args):
    return jax.jit(fn).lower(*args).compile().as_text()


def collectives(text):
    """(op, result shape) of every cross-device operation in compiled HLO."""
    ops = "all-gather|all-reduce|all-to-all|collective-permute|reduce-scatter"
    found = re.findall(r"=\s*(.+?)\s+(" + ops + r")(?:-start)?\(", text)
    return [(op, shape) for shape, op in found]


def only_scalar_sums(text, shape="f32[]"):
    """Whether every cross-device operation is an all-reduce of per-segment f32 losses (of
    `shape`), and one exists."""
    ops = collectives(text)
    parts = [part.strip() for _, s in ops for part in re.split(r",\s*(?=f32)", s.strip("()"))]
    return bool(ops) and all(op == "all-reduce" for op, _ in ops) and all(
        re.fullmatch(re.escape(shape) + r"(\{0\})?", p) for p in parts)


def tolerance(n):
    """Two fp32 sums of n terms, each within 64 n u of the exact one (as assert_close): the
    per-shard sums and the whole-array sum differ by at most both bounds."""
    return 2 * 64 * n * UNIT_ROUNDOFF["float32"]


def assert_same(sharded, single, n):
    for a, b in zip(sharded, single):
        b = np.asarray(b, np.float64)
        tol = tolerance(n)
        np.testing.assert_allclose(np.asarray(a, np.float64), b, rtol=tol,
                                   atol=tol * (np.max(np.abs(b)) if b.size else 0) + 1e-30)


def make_mesh(shape, names, explicit=False):
    axis_type = getattr(jax.sharding, "AxisType", None)
    if axis_type is None:
        return jax.make_mesh(shape, names)
    kind = axis_type.Explicit if explicit else axis_type.Auto
    return jax.make_mesh(shape, names, axis_types=(kind,) * len(shape))


@pytest.fixture(scope="module")
def mesh():
    """Four devices along "batch", sharded automatically (AxisType.Auto)."""
    return make_mesh((4,), ("batch",))


@pytest.fixture(scope="module", params=["auto", "explicit"])
def any_mesh(request):
    """Four devices along "batch", with JAX's automatic or explicit sharding in types."""
    return make_mesh((4,), ("batch",), request.param == "explicit")


def put(mesh, spec, *arrays):
    return tuple(jax.device_put(a, NamedSharding(mesh, spec)) for a in arrays)


def call_shapes(text):
    """The shapes of the logits the ganloss custom calls of compiled HLO receive."""
    calls = [line for line in text.splitlines() if 'custom_call_target="ganloss_compute"' in line]
    operands = [line.split("operand_layout_constraints=")[1].split("api_version")[0]
                for line in calls]
    return {tuple(int(n) for n in dims.split(",")) for text in operands
            for dims in re.findall(r"f32\[([\d,]+)\]", text)}


def local_counts(text):
    """The logit counts the ganloss custom calls of compiled HLO receive."""
    return {int(np.prod(shape)) for shape in call_shapes(text)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(16,), (16, 1), (8, 1, 3, 5)])
def test_sharded_jit_runs_per_shard(mesh, kind, shape):
    check_sharded_jit(mesh, kind, shape)


@pytest.mark.parametrize("kind", ["nonsaturating", "relativistic"])
def test_sharded_jit_with_explicit_axes(kind):
    check_sharded_jit(make_mesh((4,), ("batch",), explicit=True), kind, (8, 1, 3, 5))


def check_sharded_jit(mesh, kind, shape):
    real_np, fake_np = logits(shape, 1), logits(shape, 2)
    sharding = NamedSharding(mesh, P("batch"))
    real, fake = jax.device_put(real_np, sharding), jax.device_put(fake_np, sharding)
    f = objective(kind)

    text = hlo(f, real, fake)
    # Only scalars cross devices: the per-shard losses, summed.
    assert only_scalar_sums(text), collectives(text)
    # Each device's call sees its own quarter of the logits.
    assert local_counts(text) == {int(np.prod(shape)) // 4}, local_counts(text)

    sharded = jax.jit(f)(real, fake)
    single = jax.jit(f)(real_np, fake_np)  # one device
    n = int(np.prod(shape))
    assert_same(sharded, single, n)
    # The gradients stay sharded like the logits.
    assert sharded[2].sharding.is_equivalent_to(sharding, len(shape))
    if kind != "relativistic":
        ref = reference_losses(kind, real_np.reshape(1, -1).astype(np.float64),
                               fake_np.reshape(1, -1).astype(np.float64))
        assert_close(sharded[0], ref["d_loss"][0], "float32", n)
        assert_close(sharded[1], ref["g_loss"][0], "float32", n)
        assert_close(sharded[2], ref["grad_real"].reshape(shape), "float32")
        assert_close(sharded[3], (ref["grad_fake_d"] + 2 * ref["grad_fake_g"]).reshape(shape),
                     "float32", 2)


def test_sharded_sum_and_unequal_sides(mesh):
    # Sum reduction, fake logits twice as many as real ones, both split 4 ways.
    real_np, fake_np = logits((8, 2), 3), logits((16, 2), 4)
    sharding = NamedSharding(mesh, P("batch"))
    real, fake = jax.device_put(real_np, sharding), jax.device_put(fake_np, sharding)
    f = objective("least-squares", "sum")
    text = hlo(f, real, fake)
    assert only_scalar_sums(text), collectives(text)
    ref = reference_losses("least-squares", real_np.reshape(1, -1).astype(np.float64),
                           fake_np.reshape(1, -1).astype(np.float64), reduction="sum")
    d, g, grad_real, grad_fake = jax.jit(f)(real, fake)
    assert_close(d, ref["d_loss"][0], "float32", 32)
    assert_close(g, ref["g_loss"][0], "float32", 32)
    assert_close(grad_real, ref["grad_real"].reshape(8, 2), "float32")


def test_two_dimensional_mesh():
    # Split over one axis of a 2x2 mesh (replicated over the other), then over both.
    mesh2 = make_mesh((2, 2), ("a", "b"))
    real_np, fake_np = logits((8, 1, 2, 2), 5), logits((8, 1, 2, 2), 6)
    f = objective("nonsaturating")
    single = jax.jit(f)(real_np, fake_np)
    for spec, local in ((P("a"), 16), (P(("a", "b")), 8), (P("a", None, "b"), 8)):
        sharding = NamedSharding(mesh2, spec)
        real, fake = jax.device_put(real_np, sharding), jax.device_put(fake_np, sharding)
        text = hlo(f, real, fake)
        assert only_scalar_sums(text), (spec, collectives(text))
        assert local_counts(text) == {local}, (spec, local_counts(text))
        assert_same(jax.jit(f)(real, fake), single, real_np.size)


@pytest.mark.parametrize("kind,reduction", GATHERED)
def test_losses_over_every_logit_are_right_when_sharded(mesh, kind, reduction):
    real_np, fake_np = logits((16, 3), 7), logits((16, 3), 8)
    sharding = NamedSharding(mesh, P("batch"))
    real, fake = jax.device_put(real_np, sharding), jax.device_put(fake_np, sharding)
    f = objective(kind, reduction)
    assert_same(jax.jit(f)(real, fake), jax.jit(f)(real_np, fake_np), real_np.size)


def test_uneven_shards_are_not_padded_into_the_sums(mesh):
    # 10 rows over 4 devices: XLA would pad; the call runs on whole arrays instead.
    real_np, fake_np = logits((10, 3), 9), logits((10, 3), 10)
    real = jax.device_put(real_np, NamedSharding(mesh, P()))
    fake = jax.device_put(fake_np, NamedSharding(mesh, P()))
    f = objective("hinge")

    def constrained(r, f_):
        r = jax.lax.with_sharding_constraint(r, NamedSharding(mesh, P("batch")))
        f_ = jax.lax.with_sharding_constraint(f_, NamedSharding(mesh, P("batch")))
        return f(r, f_)

    assert_same(jax.jit(constrained)(real, fake), jax.jit(f)(real_np, fake_np), real_np.size)


def test_paired_second_derivatives_with_explicit_axes_and_two_shardings():
    # Explicit axes put the sharding in the types: the paired loss's second derivatives
    # move the fake logits onto the real ones' devices, as the call does.
    mesh2 = make_mesh((2, 2), ("a", "b"), explicit=True)
    real_np, fake_np = logits((8,), 28), logits((8,), 29)
    (real,), (fake,) = put(mesh2, P("a"), real_np), put(mesh2, P("b"), fake_np)

    def d_loss(r, f_):
        return gj.losses(r, f_, loss="relativistic")[0]

    sharded = jax.jit(jax.hessian(d_loss, argnums=(0, 1)))(real, fake)
    single = jax.jit(jax.hessian(d_loss, argnums=(0, 1)))(real_np, fake_np)
    for a, b in zip(jax.tree.leaves(sharded), jax.tree.leaves(single)):
        assert_same((a,), (b,), 8)
    # d2/dr2 of mean sp(f - r) is diag(s(1 - s)) / n at s = sigmoid(f - r).
    s = 1 / (1 + np.exp(-(fake_np.astype(np.float64) - real_np)))
    assert_close(np.diag(np.asarray(sharded[0][0])), s * (1 - s) / 8, "float32", 4)


def test_sharded_second_derivatives(mesh):
    # Hessian-vector products (grad of grad) stay per shard too.
    real_np, fake_np = logits((16, 3), 25), logits((16, 3), 26)
    v_np = logits((16, 3), 27)
    real, fake, v = put(mesh, P("batch"), real_np, fake_np, v_np)

    def hvp(r, f_, v):
        def directional(r):
            return jnp.sum(jax.grad(lambda x: gj.losses(x, f_)[0])(r) * v)
        return jax.grad(directional)(r)

    text = hlo(hvp, real, fake, v)
    # The losses are not needed: nothing crosses devices at all.
    assert collectives(text) == [], collectives(text)
    assert_same((jax.jit(hvp)(real, fake, v),), (jax.jit(hvp)(real_np, fake_np, v_np),), 48)


# ---- per-segment losses and vmap under sharding ----

def test_sharded_segments_need_no_communication(mesh):
    # Segments split across devices: each device computes its own segments' losses.
    real_np, fake_np = logits((16, 6), 19), logits((16, 3), 20)
    real, fake = put(mesh, P("batch"), real_np, fake_np)
    for kind in ("hinge", "relativistic-average"):
        def f(r, f_, kind=kind):
            def total(r, f_):
                d, g = gj.losses(r, f_, loss=kind, segment_dims=1)
                return (d + 2.0 * g).sum(), (d, g)
            (_, (d, g)), grads = jax.value_and_grad(total, (0, 1), has_aux=True)(r, f_)
            return d, g, grads[0], grads[1]

        text = hlo(f, real, fake)
        assert collectives(text) == [], collectives(text)
        assert call_shapes(text) == {(4, 6), (4, 3)}, call_shapes(text)
        sharded = jax.jit(f)(real, fake)
        assert sharded[0].shape == (16,)
        assert_same(sharded, jax.jit(f)(real_np, fake_np), 9)


def test_sharded_elements_of_segments_sum_per_segment_losses(mesh):
    real_np, fake_np = logits((3, 16), 21), logits((3, 8), 22)
    real, fake = put(mesh, P(None, "batch"), real_np, fake_np)

    def f(r, f_):
        d, g = gj.losses(r, f_, loss="least-squares", segment_dims=1)
        return d, g, jax.grad(lambda r: gj.losses(r, f_, loss="least-squares",
                                                  segment_dims=1)[0].sum())(r)

    text = hlo(f, real, fake)
    assert only_scalar_sums(text, "f32[3]"), collectives(text)
    assert call_shapes(text) == {(3, 4), (3, 2)}, call_shapes(text)
    sharded = jax.jit(f)(real, fake)
    assert_same(sharded, jax.jit(f)(real_np, fake_np), 24)
    ref = reference_losses("least-squares", real_np.astype(np.float64),
                           fake_np.astype(np.float64))
    assert_close(sharded[0], ref["d_loss"], "float32", 24)
    assert_close(sharded[2], ref["grad_real"], "float32")


def test_vmap_over_a_sharded_batch(mesh):
    # Per-example losses and gradients: the mapped axis is a segment axis, split as it is.
    real_np, fake_np = logits((16, 5), 23), logits((16, 5), 24)
    real, fake = put(mesh, P("batch"), real_np, fake_np)

    def f(r, f_):
        losses = jax.vmap(lambda r, f_: gj.losses(r, f_))(r, f_)
        grads = jax.vmap(jax.grad(lambda r, f_: gj.losses(r, f_)[0]))(r, f_)
        return losses[0], losses[1], grads

    text = hlo(f, real, fake)
    assert collectives(text) == [], collectives(text)
    assert local_counts(text) == {20}, call_shapes(text)
    sharded = jax.jit(f)(real, fake)
    ref = reference_losses("nonsaturating", real_np.astype(np.float64),
                           fake_np.astype(np.float64))
    assert_close(sharded[0], ref["d_loss"], "float32", 10)
    assert_close(sharded[1], ref["g_loss"], "float32", 5)
    assert_close(sharded[2], ref["grad_real"], "float32")


# ---- shard_map ----

def test_shard_map_outputs_vary_and_pmean_gives_the_global_loss(any_mesh):
    mesh = any_mesh
    real_np, fake_np = logits((16, 1), 11), logits((16, 1), 12)
    real, fake = put(mesh, P("batch"), real_np, fake_np)

    def local(r, f_):
        d, g = gj.losses(r, f_, loss="hinge")
        return jax.lax.pmean(d, "batch"), jax.lax.pmean(g, "batch")

    global_loss = shard_map(local, mesh=mesh, in_specs=(P("batch"), P("batch")),
                            out_specs=(P(), P()))
    single = gj.losses(real_np, fake_np, loss="hinge")
    n = real_np.size
    assert_same(jax.jit(global_loss)(real, fake), single, n)

    # jax.grad through shard_map, with the default checks.
    def total(r, f_):
        d, g = global_loss(r, f_)
        return d + 2.0 * g

    def single_total(r, f_):
        d, g = gj.losses(r, f_, loss="hinge")
        return d + 2.0 * g

    grads = jax.jit(jax.grad(total, argnums=(0, 1)))(real, fake)
    expected = jax.grad(single_total, argnums=(0, 1))(real_np, fake_np)
    assert_same(grads, expected, n)
    ref = reference_losses("hinge", real_np.reshape(1, -1).astype(np.float64),
                           fake_np.reshape(1, -1).astype(np.float64))
    assert_close(grads[0], ref["grad_real"].reshape(16, 1), "float32")


def test_shard_map_grad_inside_the_body(mesh):
    real_np, fake_np = logits((16,), 13), logits((16,), 14)
    real, fake = put(mesh, P("batch"), real_np, fake_np)

    def local_grads(r, f_):
        def total(r, f_):
            d, g = gj.losses(r, f_, loss="least-squares")
            return jax.lax.pmean(d, "batch") + jax.lax.pmean(g, "batch")
        return jax.grad(total, argnums=(0, 1))(r, f_)

    grads = shard_map(local_grads, mesh=mesh, in_specs=(P("batch"), P("batch")),
                      out_specs=(P("batch"), P("batch")))(real, fake)
    ref = reference_losses("least-squares", real_np.reshape(1, -1).astype(np.float64),
                           fake_np.reshape(1, -1).astype(np.float64))
    assert_close(grads[0], ref["grad_real"][0], "float32")
    assert_close(grads[1], ref["grad_fake_d"][0] + ref["grad_fake_g"][0], "float32", 2)


def test_shard_map_without_pmean_is_rejected(any_mesh):
    mesh = any_mesh
    real_np, fake_np = logits((16,), 15), logits((16,), 16)
    real, fake = put(mesh, P("batch"), real_np, fake_np)

    def local(r, f_):
        return gj.losses(r, f_)  # each device's own loss: varies over "batch"

    missing = shard_map(local, mesh=mesh, in_specs=(P("batch"), P("batch")),
                        out_specs=(P(), P()))
    with pytest.raises(ValueError, match="batch"):
        jax.jit(missing)(real, fake)
    # Returned per device, they are the four shards' losses.
    per_device = shard_map(lambda r, f_: tuple(x[None] for x in local(r, f_)), mesh=mesh,
                           in_specs=(P("batch"), P("batch")), out_specs=(P("batch"), P("batch")))
    d = np.asarray(per_device(real, fake)[0])
    for i in range(4):
        part = gj.losses(real_np[4 * i:4 * i + 4], fake_np[4 * i:4 * i + 4])[0]
        np.testing.assert_array_equal(d[i], np.asarray(part))


def test_shard_map_with_replicated_fake_logits(mesh):
    # Real logits split, fake ones whole on every device: the call's inputs are cast to vary.
    real_np, fake_np = logits((16,), 17), logits((4,), 18)
    (real,), (fake,) = put(mesh, P("batch"), real_np), put(mesh, P(), fake_np)

    def local(r, f_):
        d, g = gj.losses(r, f_, loss="wasserstein", reduction="sum")
        return jax.lax.psum(d, "batch"), g[None]

    d, g = jax.jit(shard_map(local, mesh=mesh, in_specs=(P("batch"), P()),
                             out_specs=(P(), P("batch"))))(real, fake)
    np.testing.assert_array_equal(np.asarray(g), np.full(4, np.float32(-fake_np.sum())))
    assert_close(d, -real_np.astype(np.float64).sum() + 4 * fake_np.astype(np.float64).sum(),
                 "float32", 20)


def test_shard_map_grad_with_replicated_fake_logits(mesh):
    # The replicated side's gradient is the sum over devices of each device's part (the
    # transpose of its cast to varying), outside the body and inside it.
    real_np, fake_np = logits((16,), 21), logits((4,), 22)
    (real,), (fake,) = put(mesh, P("batch"), real_np), put(mesh, P(), fake_np)

    def global_loss(r, f_):
        d, g = gj.losses(r, f_)
        return jax.lax.pmean(d + 2.0 * g, "batch")

    outside = jax.jit(jax.grad(shard_map(global_loss, mesh=mesh, in_specs=(P("batch"), P()),
                                         out_specs=P()), argnums=(0, 1)))(real, fake)
    inside = jax.jit(shard_map(jax.grad(global_loss, argnums=(0, 1)), mesh=mesh,
                               in_specs=(P("batch"), P()),
                               out_specs=(P("batch"), P())))(real, fake)
    ref = reference_losses("nonsaturating", real_np.reshape(1, -1).astype(np.float64),
                           fake_np.reshape(1, -1).astype(np.float64))
    # The mean over devices of (each device's real mean + the fake mean): real's gradient
    # is the global mean's, the fake logits' the single-device one.
    for grads in (outside, inside):
        assert_close(grads[0], ref["grad_real"][0], "float32", 4)
        assert_close(grads[1], ref["grad_fake_d"][0] + 2 * ref["grad_fake_g"][0], "float32",
                     8)


def test_sharded_weighted_losses_gather_no_logits(mesh):
    # Weights (and targets, element losses) run the jnp composition, which XLA partitions: the
    # weighted means are formed from per-shard sums and weight sums, never from gathered
    # logits, and equal the single-device results.
    real_np, fake_np = logits((16, 3), 11), logits((16, 3), 12)
    weights_np = np.random.default_rng(13).uniform(0.0, 2.0, (16, 1)).astype(np.float32)
    real, fake, weights = put(mesh, P("batch"), real_np, fake_np, weights_np)

    def f(r, f_, w):
        def total(r, f_, w):
            d, g = gj.losses(r, f_, real_weights=w, fake_weights=w)
            return d + 2.0 * g, (d, g)
        (_, (d, g)), grads = jax.value_and_grad(total, argnums=(0, 1, 2), has_aux=True)(
            r, f_, w)
        return (d, g) + grads

    text = hlo(f, real, fake, weights)
    assert all(op == "all-reduce" for op, _ in collectives(text)), collectives(text)
    assert_same(jax.jit(f)(real, fake, weights), f(real_np, fake_np, weights_np), 48)
