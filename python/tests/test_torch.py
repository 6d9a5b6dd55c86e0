"""PyTorch on the CPU: the modules and ops against the float64 reference and BCEWithLogitsLoss,
shapes, weights, targets, AMP, every derivative (gradcheck, gradgradcheck, forward mode),
opcheck and torch.compile with dynamic shapes."""

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (python/run-tests.sh installs it with "
    "GANLOSS_PY_TORCH=1)")

import ganloss  # noqa: E402
import ganloss.torch as gt  # noqa: E402
from ganloss import _torch_math  # noqa: E402
from reference import UNIT_ROUNDOFF, assert_close, losses  # noqa: E402

F = torch.nn.functional
PARAMS = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
KINDS = list(ganloss.LOSS_KINDS)
BASIC = ["nonsaturating", "minimax", "hinge", "wasserstein", "least-squares"]
DTYPE_NAME = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def logits(shape, seed, dtype=torch.float32, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g, dtype=torch.float64)).to(dtype)


def bce_d(r, f, weight_r=None, weight_f=None):
    return (F.binary_cross_entropy_with_logits(r, torch.ones_like(r), weight=weight_r)
            + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f), weight=weight_f))


# ---- shapes and reductions, against BCEWithLogitsLoss --------------------------------------

@pytest.mark.parametrize("shape", [(16,), (16, 1), (4, 1, 6, 5)])
def test_shapes_reduce_like_bce_with_logits(shape):
    real = logits(shape, 1).requires_grad_()
    fake = logits(shape, 2).requires_grad_()
    d = gt.DiscriminatorLoss()(real, fake)
    g = gt.GeneratorLoss()(fake)
    assert d.shape == () and g.shape == ()
    (d + 3 * g).backward()
    r64, f64 = real.detach().double().requires_grad_(), fake.detach().double().requires_grad_()
    d64 = bce_d(r64, f64)
    g64 = F.binary_cross_entropy_with_logits(f64, torch.ones_like(f64))
    (d64 + 3 * g64).backward()
    n = real.numel()
    assert_close(d.detach().numpy(), d64.detach().numpy(), "float32", n)
    assert_close(g.detach().numpy(), g64.detach().numpy(), "float32", n)
    assert real.grad.shape == shape
    assert_close(real.grad.numpy(), r64.grad.numpy(), "float32")
    assert_close(fake.grad.numpy(), f64.grad.numpy(), "float32", 2)


def test_relativistic_average_over_b_by_1_is_over_every_element():
    real, fake = logits((32, 1), 3), logits((32, 1), 4)
    crit = gt.DiscriminatorLoss("relativistic-average")
    torch.testing.assert_close(crit(real, fake), crit(real.flatten(), fake.flatten()))


@pytest.mark.parametrize("kind", BASIC)
def test_segment_dims_gives_per_segment_losses(kind):
    real, fake = logits((3, 2, 8), 5), logits((3, 2, 8), 6)
    d, g = gt.losses(real, fake, loss=kind, segment_dims=2)
    assert d.shape == (3, 2) and g.shape == (3, 2)
    ref = losses(kind, real.double().reshape(6, 8).numpy(), fake.double().reshape(6, 8).numpy())
    assert_close(d.reshape(-1).numpy(), ref["d_loss"], "float32", 8)
    assert_close(g.reshape(-1).numpy(), ref["g_loss"], "float32", 8)
    with pytest.raises(ValueError, match="same segments"):
        gt.losses(real, fake[:2], segment_dims=1)
    # No segments at all: the library's message, not a failed reshape.
    with pytest.raises(ValueError, match="segments must be >= 1"):
        gt.losses(real[:0], fake[:0], loss=kind, segment_dims=1)
    with pytest.raises(ValueError, match="segments must be >= 1"):
        gt.DiscriminatorLoss(kind, segment_dims=2)(real[:, :0], fake[:, :0])


def test_reduction_none_returns_element_losses_in_the_logits_shape():
    real = logits((4, 1, 3, 3), 7).requires_grad_()
    fake = logits((4, 1, 3, 3), 8)
    loss_real, loss_fake = gt.DiscriminatorLoss(reduction="none")(real, fake)
    assert loss_real.shape == real.shape and loss_fake.shape == fake.shape
    torch.testing.assert_close(loss_real, F.binary_cross_entropy_with_logits(
        real, torch.ones_like(real), reduction="none"))
    torch.testing.assert_close(loss_fake, F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake), reduction="none"))
    upstream = logits(real.shape, 9)
    (loss_real * upstream).sum().backward()
    torch.testing.assert_close(real.grad, upstream * -torch.sigmoid(-real.detach()))
    g = gt.GeneratorLoss(reduction="none")(fake)
    assert g.shape == fake.shape


def ops_called(fn):
    from torch.utils._python_dispatch import TorchDispatchMode

    seen = set()

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.add(str(func.overloadpacket))
            return func(*args, **(kwargs or {}))

    with Record():
        fn()
    return seen


def record_plan_calls(monkeypatch):
    """Every execution and VJP call of a library plan, in order, by the binding's name:
    "execute" and "vjp" take DLPack arrays, "execute_at" and "vjp_at" addresses."""
    calls = []

    class Recording:
        def __init__(self, plan):
            self._plan = plan

        def __getattr__(self, name):
            attr = getattr(self._plan, name)
            if name in ("execute", "execute_at", "vjp", "vjp_at"):
                def call(*args, **kwargs):
                    calls.append(name)
                    return attr(*args, **kwargs)
                return call
            return attr

    monkeypatch.setattr(gt, "_plans", gt._PlanCache())
    monkeypatch.setattr(gt, "_Plan", lambda problem, backend, _make=gt._Plan:
                        Recording(_make(problem, backend)))
    return calls


def test_plan_cache_keeps_the_most_recent_plans(monkeypatch):
    # Least recently used out; a plan that never ran inside a CUDA graph capture leaves
    # nothing behind (test_gpu.py covers one that did).
    cache = gt._PlanCache(capacity=2)
    monkeypatch.setattr(gt, "_plans", cache)
    criterion = gt.DiscriminatorLoss()
    for rows in (3, 4, 3, 5):
        criterion(logits((rows, 7), rows), logits((rows, 7), rows + 10))
    assert [key[3] for key in cache._entries] == [3 * 7, 5 * 7]  # real logits per segment
    assert cache._kept == []


def test_cuda_buffer_needs_a_cuda_build():
    if ganloss._ganloss.built_with_cuda:
        pytest.skip("this ganloss was built with CUDA (test_gpu.py uses cuda_buffer)")
    with pytest.raises(RuntimeError, match="built without CUDA"):
        ganloss._ganloss.cuda_buffer(256, 0)


def test_library_runs_forward_and_backward_and_float64_does_not(monkeypatch):
    calls = record_plan_calls(monkeypatch)

    def step(dtype):
        real = logits((8, 1), 81, dtype).requires_grad_()
        fake = logits((8, 1), 82, dtype).requires_grad_()
        (gt.DiscriminatorLoss()(real, fake) + gt.GeneratorLoss()(fake)).backward()

    step(torch.float32)
    # One execution per loss, one VJP per loss.
    assert sorted(calls) == ["execute_at"] * 2 + ["vjp_at"] * 2, calls
    calls.clear()
    step(torch.float64)
    assert calls == []
    # Compiled, the graph holds the custom op, whose backward is the VJP call.
    torch._dynamo.reset()
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    criterion = gt.DiscriminatorLoss()
    real = logits((8, 1), 83).requires_grad_()
    compiled = torch.compile(lambda r: criterion(r, r.detach()), backend=backend,
                             fullgraph=True)
    compiled(real).backward()
    targets = {str(node.target) for gm in graphs for node in gm.graph.nodes}
    assert "ganloss.loss.default" in targets, targets
    assert calls == ["execute", "vjp"], calls


# ---- every kind against the float64 references ---------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_eager_module_calls_equal_the_general_path_bitwise(kind, dtype, monkeypatch):
    # Module calls without weights, targets or details run one plan execution and one VJP
    # call on the tensors' addresses (_OneLoss); the general path (the custom op's functions,
    # arrays through DLPack) must give bitwise the same losses and gradients, for any shape
    # and segment_dims, per-segment upstream gradients, and logits that need no gradient.
    calls = record_plan_calls(monkeypatch)

    def run(shape, segment_dims, seed):
        real = logits(shape, seed, dtype).requires_grad_()
        fake = logits(shape, seed + 1, dtype).requires_grad_()
        d = gt.DiscriminatorLoss(kind, segment_dims=segment_dims)(real, fake.detach())
        g = gt.GeneratorLoss(kind, segment_dims=segment_dims)(fake, real)
        u = torch.linspace(0.5, 2.0, d.numel()).reshape(d.shape)
        torch.autograd.backward([d, g], [u, 3 * u])
        return d.detach(), g.detach(), real.grad, fake.grad

    for seed, (shape, segment_dims) in enumerate([((64,), 0), ((8, 1), 0), ((4, 1, 3, 5), 0),
                                                   ((3, 40), 1), ((2, 3, 7), 2),
                                                   ((5, 1), 1)]):
        calls.clear()
        fast = run(shape, segment_dims, 10 * seed)
        assert sorted(calls) == ["execute_at"] * 2 + ["vjp_at"] * 2, calls
        calls.clear()
        with monkeypatch.context() as patch:
            patch.setattr(gt._LossModule, "_one_loss", lambda *args: None)
            general = run(shape, segment_dims, 10 * seed)
        assert sorted(calls) == ["execute"] * 2 + ["vjp"] * 2, calls
        for a, b in zip(fast, general):
            assert a.shape == b.shape and a.dtype == b.dtype
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("kind", BASIC)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_backward_matches_reference(kind, dtype):
    real = logits((4, 64), 1, dtype).requires_grad_()
    fake = logits((4, 64), 2, dtype).requires_grad_()
    d, g = gt.losses(real, fake, loss=kind, segment_dims=1)
    (d.sum() + 3.0 * g.sum()).backward()
    ref = losses(kind, real.detach().double().numpy(), fake.detach().double().numpy())
    name = DTYPE_NAME[dtype]
    assert real.grad.dtype == dtype and fake.grad.dtype == dtype
    assert_close(d.detach().numpy(), ref["d_loss"], "float32", 64)
    assert_close(g.detach().numpy(), ref["g_loss"], "float32", 64)
    assert_close(real.grad.float().numpy(), ref["grad_real"], name)
    assert_close(fake.grad.float().numpy(), ref["grad_fake_d"] + 3.0 * ref["grad_fake_g"],
                 name, 2)


@pytest.mark.parametrize("kind", BASIC)
def test_closed_form_matches_reference(kind):
    real, fake = logits((3, 40), 11, torch.float64), logits((3, 40), 12, torch.float64)
    out = _torch_math.losses(ganloss.LossConfig.make(kind), real, fake, None, None)
    ref = losses(kind, real.numpy(), fake.numpy())
    np.testing.assert_allclose(out["d_loss"].numpy(), ref["d_loss"], rtol=1e-12)
    np.testing.assert_allclose(out["g_loss"].numpy(), ref["g_loss"], rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "mean-nonzero"])
def test_library_matches_closed_form_for_every_kind(kind, reduction):
    """The library's losses and VJP in float32 against the PyTorch composition in float64,
    with weights, a quarter of them 0."""
    real = logits((3, 24), 13).requires_grad_()
    fake = logits((3, 24), 14).requires_grad_()
    w = torch.rand(3, 24, generator=torch.Generator().manual_seed(15))
    w[:, ::4] = 0
    fw = None if kind == "relativistic" else w.flip(-1)
    d, g = gt.losses(real, fake, loss=kind, reduction=reduction, segment_dims=1,
                     real_weights=w, fake_weights=fw)
    u_d, u_g = logits((3,), 16), logits((3,), 17)
    (u_d * d + u_g * g).sum().backward()
    r64, f64 = real.detach().double().requires_grad_(), fake.detach().double().requires_grad_()
    d64, g64 = gt.losses(r64, f64, loss=kind, reduction=reduction, segment_dims=1,
                         real_weights=w.double(), fake_weights=None if fw is None else fw.double())
    (u_d.double() * d64 + u_g.double() * g64).sum().backward()
    assert_close(d.detach().numpy(), d64.detach().numpy(), "float32", 48)
    assert_close(g.detach().numpy(), g64.detach().numpy(), "float32", 48)
    assert_close(real.grad.numpy(), r64.grad.numpy(), "float32", 48)
    assert_close(fake.grad.numpy(), f64.grad.numpy(), "float32", 48)


def test_amp_gradients_are_scaled_before_rounding():
    """fp16 logits with a GradScaler-style upstream 65536: fp32 math, then one fp16 rounding."""
    n = 4096
    real = logits((n,), 21, torch.float16).requires_grad_()
    fake = logits((n,), 22, torch.float16).requires_grad_()
    d = gt.DiscriminatorLoss()(real, fake)
    (d * 65536.0).backward()
    ref = losses("nonsaturating", real.detach().double().numpy()[None],
                 fake.detach().double().numpy()[None])
    for grad, exact in ((real.grad, ref["grad_real"][0]), (fake.grad, ref["grad_fake_d"][0])):
        expected = 65536.0 * exact
        np.testing.assert_allclose(grad.double().numpy(), expected,
                                   rtol=UNIT_ROUNDOFF["float16"] + 64 * UNIT_ROUNDOFF["float32"],
                                   atol=2.0**-24)
        assert int((grad == 0).sum()) == int((expected == 0).sum())


# ---- weights, targets, label smoothing -----------------------------------------------------

def test_weights_broadcast_in_any_float_dtype():
    real, fake = logits((4, 1, 3, 3), 31), logits((4, 1, 3, 3), 32)
    w = torch.rand(4, 1, 1, 1, generator=torch.Generator().manual_seed(33))
    for dtype in (torch.float32, torch.bfloat16, torch.float64):
        wd = w.to(dtype)
        ours = gt.DiscriminatorLoss()(real, fake, wd, wd)
        # A weighted mean: sum w l / sum w, with w broadcast to every element.
        wide = wd.float().expand(real.shape)
        expected = ((F.binary_cross_entropy_with_logits(real, torch.ones_like(real),
                                                        reduction="none") * wide).sum()
                    + (F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake),
                                                          reduction="none") * wide).sum()
                    ) / wide.sum()
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="does not broadcast"):
        gt.DiscriminatorLoss()(real, fake, torch.ones(5))


def test_weights_that_require_grad_get_their_gradient():
    # d/dw_i of sum(w l) / sum(w) is (l_i - L) / sum(w), a zero weight's too.
    real, fake = logits((16,), 34), logits((16,), 35)
    w = torch.rand(16, generator=torch.Generator().manual_seed(36), dtype=torch.float64)
    w[5] = 0.0
    w32 = w.float().requires_grad_()
    gt.DiscriminatorLoss()(real, fake, w32).backward()
    w64 = w.clone().requires_grad_()
    gt.DiscriminatorLoss()(real.double(), fake.double(), w64).backward()
    terms = np.logaddexp(0.0, -real.double().numpy())
    mean = (w.numpy() * terms).sum() / w.numpy().sum()
    expected = (terms - mean) / w.numpy().sum()
    assert_close(w32.grad.numpy(), expected, "float32", 16)
    assert_close(w64.grad.numpy(), expected, "float32", 16)


@pytest.mark.parametrize("dtype, count", [(torch.bfloat16, 257), (torch.float16, 70000)])
@pytest.mark.parametrize("route", ["targets", "weights that require grad", "reduction none"])
def test_sixteen_bit_logits_in_the_composition_compute_in_fp32(dtype, count, route):
    """Targets, weights that require a gradient and reduction="none" run the PyTorch
    composition, which computes in fp32 for 16-bit logits as the library does: 257 is not a
    bfloat16, and 70000 elements overflow a float16 count or sum."""
    real, fake = logits((count,), 46).to(dtype), logits((count,), 47).to(dtype)
    stats = gt.DiscriminatorLoss(details=True)
    results = []
    for r, f in ((real, fake), (real.double(), fake.double())):
        r, f = r.clone().requires_grad_(), f.clone().requires_grad_()
        w = torch.ones((), dtype=r.dtype, requires_grad=route == "weights that require grad")
        if route == "targets":
            d = gt.DiscriminatorLoss()(r, f, real_targets=torch.ones_like(r))
        elif route == "reduction none":
            d = sum(x.double().sum() for x in gt.DiscriminatorLoss(reduction="none")(r, f)) \
                / count
        else:
            d = gt.DiscriminatorLoss()(r, f, w, w)
        g = gt.GeneratorLoss()(f, None, w if w.requires_grad else None)
        # Each loss's gradients alone: autograd adds two losses' gradients in the logits'
        # dtype, where the D and G terms of a fake logit cancel.
        gr, gf = torch.autograd.grad(d, (r, f))
        (gg,) = torch.autograd.grad(g, f)
        _, info = stats(r.detach(), f.detach(), real_targets=torch.ones_like(r)) \
            if route == "targets" else stats(r.detach(), f.detach())
        results.append((d, g, gr, gf, gg, info["stats"]["mean_sigmoid_real"]))
    (d, g, gr, gf, gg, sig), (d64, g64, gr64, gf64, gg64, sig64) = results
    if route == "reduction none":
        # A mean of the element losses, each rounded to the logits' dtype.
        assert_close(d.detach().numpy(), d64.detach().numpy(), DTYPE_NAME[dtype], 16)
    else:
        assert d.dtype == g.dtype == torch.float32
        assert_close(d.detach().double().numpy(), d64.detach().numpy(), "float32", 16)
    for a, b in ((g, g64), (sig, sig64)):
        assert_close(a.detach().double().numpy(), b.detach().numpy(), "float32", 16)
    # Each gradient within one unit of its dtype of the float64 one, the spacing of the
    # subnormals included (fp16 gradients of a mean over 70000 logits are subnormal).
    finfo = torch.finfo(dtype)
    for a, b in ((gr, gr64), (gf, gf64), (gg, gg64)):
        assert a.dtype == dtype
        torch.testing.assert_close(a.double(), b, rtol=finfo.eps,
                                   atol=finfo.smallest_normal * finfo.eps)
    if route == "reduction none":
        loss_real, _ = gt.DiscriminatorLoss(reduction="none")(real, fake)
        assert loss_real.dtype == dtype
        expected = gt.DiscriminatorLoss(reduction="none")(real.double(), fake.double())[0]
        assert_close(loss_real.double().numpy(), expected.numpy(), DTYPE_NAME[dtype])


def test_zero_weights_silence_non_finite_logits_in_the_composition():
    # Under a zero weight a NaN logit contributes nothing and gets a zero gradient, on the
    # PyTorch composition (weights that require a gradient) as in the library.
    real = logits((8,), 39).requires_grad_()
    fake = logits((8,), 40)
    with torch.no_grad():
        real[3] = float("nan")
    w = torch.ones(8)
    w[3] = 0.0
    for kind in ("nonsaturating", "hinge", "least-squares", "relativistic"):
        real.grad = None
        loss = gt.DiscriminatorLoss(kind)(real, fake, w.clone().requires_grad_())
        loss.backward()
        assert torch.isfinite(loss), kind
        assert real.grad[3] == 0.0 and torch.isfinite(real.grad).all(), kind


def test_negative_weights_are_refused():
    real, fake = logits((8,), 37), logits((8,), 38)
    w = torch.ones(8)
    w[3] = -1
    with pytest.raises(ValueError, match="non-negative"):
        gt.DiscriminatorLoss()(real, fake, w)
    # Compiled, the library's CPU backend checks them (docs/python.md, Weights).
    torch._dynamo.reset()
    criterion = gt.DiscriminatorLoss()
    compiled = torch.compile(lambda r, f, w: criterion(r, f, w), backend="aot_eager",
                             fullgraph=True)
    with pytest.raises(ValueError, match="non-negative"):
        compiled(real, fake, w)
    # Where the weights cannot be read before the call (the factor path), the segment is NaN.
    out = _torch_math.losses(ganloss.LossConfig.make(), real[None].double(),
                             fake[None].double(), w[None].double(), None)
    assert torch.isnan(out["d_loss"]).all()


def test_label_smoothing_and_target_tensors_match_bce():
    real, fake = logits((32,), 41), logits((32,), 42)
    ours = gt.DiscriminatorLoss(label_smoothing=0.2)(real, fake)
    expected = (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 0.9))
                + F.binary_cross_entropy_with_logits(fake, torch.full_like(fake, 0.1)))
    torch.testing.assert_close(ours, expected)
    targets = torch.rand(32, generator=torch.Generator().manual_seed(43))
    ours = gt.DiscriminatorLoss()(real, fake, real_targets=targets, fake_targets=1 - targets)
    expected = (F.binary_cross_entropy_with_logits(real, targets)
                + F.binary_cross_entropy_with_logits(fake, 1 - targets))
    torch.testing.assert_close(ours, expected)
    with pytest.raises(ValueError, match="logistic"):
        gt.DiscriminatorLoss("hinge", label_smoothing=0.1)
    with pytest.raises(ValueError, match="logistic"):
        gt.DiscriminatorLoss("hinge")(real, fake, real_targets=targets)


def test_details_return_the_parts_and_statistics_of_the_same_call():
    real, fake = logits((2, 50), 44), logits((2, 50), 45)
    d, info = gt.DiscriminatorLoss("hinge", segment_dims=1, details=True)(real, fake)
    out = ganloss.compute(real, fake, loss="hinge", outputs=["d_loss_real", "d_loss_fake",
                                                             "stats"])
    torch.testing.assert_close(info["d_loss_real"], out["d_loss_real"])
    torch.testing.assert_close(info["d_loss_fake"], out["d_loss_fake"])
    torch.testing.assert_close(d, info["d_loss_real"] + info["d_loss_fake"])
    for name, value in out["stats"].items():
        torch.testing.assert_close(info["stats"][name], value)
    torch.testing.assert_close(info["stats"]["mean_sigmoid_real"],
                               torch.sigmoid(real).mean(-1))
    # The float64 composition reports the same statistics.
    _, info64 = gt.DiscriminatorLoss("hinge", segment_dims=1, details=True)(real.double(),
                                                                             fake.double())
    for name, value in out["stats"].items():
        torch.testing.assert_close(info64["stats"][name].to(value.dtype), value)


def test_parts_are_differentiable_for_the_basic_kinds():
    real = logits((24,), 46).requires_grad_()
    fake = logits((24,), 47).requires_grad_()
    _, info = gt.DiscriminatorLoss(details=True)(real, fake)
    (2 * info["d_loss_real"] + 5 * info["d_loss_fake"]).backward()
    torch.testing.assert_close(real.grad, 2 * -torch.sigmoid(-real.detach()) / 24)
    torch.testing.assert_close(fake.grad, 5 * torch.sigmoid(fake.detach()) / 24)
    # The relativistic average: each part depends on both sides.
    for kind in ("relativistic-average", "relativistic-average-least-squares"):
        grads = []
        for r, f in ((real, fake), (real.detach().double(), fake.detach().double())):
            r, f = r.detach().clone().requires_grad_(), f.detach().clone().requires_grad_()
            _, info = gt.DiscriminatorLoss(kind, details=True)(r, f)
            grads.append(torch.autograd.grad(2 * info["d_loss_real"] + 5 * info["d_loss_fake"],
                                             (r, f)))
        for a, b in zip(*grads):
            assert_close(a.numpy(), b.numpy(), "float32", 48)


# ---- every derivative right or refused -----------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_and_gradgradcheck_in_float64(kind):
    # Away from the hinge kinks, where the derivative is not defined.
    real = (logits((2, 5), 51, torch.float64) + 0.37).requires_grad_()
    fake = (logits((2, 5), 52, torch.float64) - 0.29).requires_grad_()

    def fn(r, f):
        d, g = gt.losses(r, f, loss=kind, segment_dims=1)
        return d, g

    assert torch.autograd.gradcheck(fn, (real, fake))
    assert torch.autograd.gradgradcheck(fn, (real, fake))


def second_derivatives(outer, leaves):
    """d outer / d leaf for each leaf without create_graph (zeros where unused): plain tensors,
    none of which keeps a graph."""
    found = torch.autograd.grad(outer, leaves, allow_unused=True)
    assert not any(h is not None and h.requires_grad for h in found)
    return tuple(torch.zeros_like(x) if h is None else h for x, h in zip(leaves, found))


def assert_second_derivatives_match(h32, h64, logits_nonzero):
    """float32 against float64; the derivative in the scale s (last) is never 0, nor, where
    the loss is not piecewise linear, those in the logits."""
    for a, b in zip(h32, h64):
        assert_close(a.numpy(), b.numpy(), "float32", 24)
    assert float(h32[-1].abs().min()) > 0
    if logits_nonzero:
        assert any(float(h.abs().max()) > 0 for h in h32[:-1])


@pytest.mark.parametrize("kind", KINDS)
def test_double_backward_of_the_library_path(kind):
    """Hessian-vector products through the VJP op's derivative, in float32, against float64."""
    real, fake = logits((2, 12), 53) + 0.37, logits((2, 12), 54) - 0.29
    v_r, v_f = logits((2, 12), 55), logits((2, 12), 56)

    def hvp(r, f):
        # The upstream gradient of D depends on a parameter s, as in a gradient penalty: the
        # second derivatives are with respect to the logits and to the cotangent.
        r, f = r.clone().requires_grad_(), f.clone().requires_grad_()
        s = torch.tensor([1.5, -0.5], dtype=r.dtype, requires_grad=True)
        d, g = gt.losses(r, f, loss=kind, segment_dims=1)
        gr, gf = torch.autograd.grad((s * d + 0.5 * g).sum(), (r, f), create_graph=True)
        product = (gr * v_r.to(r.dtype)).sum() + (gf * v_f.to(f.dtype)).sum()
        # d(grad . v)/ds is the first derivative along v.
        return second_derivatives(product, (r, f, s))

    assert_second_derivatives_match(hvp(real, fake), hvp(real.double(), fake.double()),
                                    kind in ("nonsaturating", "least-squares"))


@pytest.mark.parametrize("kind", [k for k in KINDS if k.startswith("relativistic-average")])
@pytest.mark.parametrize("part", ["d_loss_real", "d_loss_fake"])
def test_double_backward_of_the_average_parts(kind, part):
    """The parts of an average kind's D loss (details=True) depend on both sides, and their
    gradient is differentiated through the PyTorch composition: with create_graph=True it is
    itself differentiable, as in float64; without, it keeps no graph."""
    real, fake = logits((2, 12), 57) + 0.37, logits((2, 12), 58) - 0.29

    def hvp(r, f):
        r, f = r.clone().requires_grad_(), f.clone().requires_grad_()
        s = torch.tensor(1.5, dtype=r.dtype, requires_grad=True)
        _, info = gt.DiscriminatorLoss(kind, details=True)(r, f)
        gr, gf = torch.autograd.grad(s * info[part], (r, f), create_graph=True)
        assert gr.requires_grad and gf.requires_grad
        # d(penalty)/ds = 2 penalty / s.
        return second_derivatives((gr * gr).sum() + (gf * gf).sum(), (r, f, s))

    assert_second_derivatives_match(hvp(real, fake), hvp(real.double(), fake.double()),
                                    kind != "relativistic-average-hinge")


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge", "relativistic-average"])
def test_forward_mode_is_right(kind):
    real, fake = logits((10,), 61) + 0.37, logits((10,), 62) - 0.29
    t_r, t_f = logits((10,), 63), logits((10,), 64)
    d_fn = (lambda r, f: gt.losses(r, f, loss=kind)[0])
    _, tangent = torch.func.jvp(d_fn, (real, fake), (t_r, t_f))
    r64, f64 = real.double().requires_grad_(), fake.double().requires_grad_()
    gr, gf = torch.autograd.grad(d_fn(r64, f64), (r64, f64))
    expected = (gr * t_r.double()).sum() + (gf * t_f.double()).sum()
    assert_close(tangent.numpy(), expected.numpy(), "float32", 20)
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        out = d_fn(fwAD.make_dual(real, t_r), fwAD.make_dual(fake, t_f))
        assert_close(fwAD.unpack_dual(out).tangent.numpy(), expected.numpy(), "float32", 20)
    grads = torch.func.grad(d_fn, argnums=(0, 1))(real, fake)
    assert_close(grads[0].numpy(), gr.numpy(), "float32", 20)


# ---- custom ops, torch.compile -------------------------------------------------------------

def test_opcheck():
    real = logits((3, 16), 71).requires_grad_()
    fake = logits((3, 16), 72).requires_grad_()
    w = torch.rand(3, 16, generator=torch.Generator().manual_seed(73))
    for args in ((real, fake, None, None, "hinge", "hinge", "mean", PARAMS, 3),
                 (real, fake, w, None, "relativistic", "relativistic", "sum", PARAMS, 7),
                 (None, fake, None, w, "nonsaturating", "nonsaturating", "mean", PARAMS, 2),
                 (real, fake, None, None, "relativistic-average", "relativistic-average",
                  "mean", PARAMS, 3)):
        torch.library.opcheck(torch.ops.ganloss.loss.default, args)
    u = torch.rand(3, generator=torch.Generator().manual_seed(74)).requires_grad_()
    torch.library.opcheck(torch.ops.ganloss.loss_vjp.default,
                          (real, fake, None, None, u, u, "least-squares", "least-squares",
                           "mean", PARAMS, 3))


def test_compile_fullgraph_without_recompiling_per_batch_size():
    from torch._dynamo.testing import CompileCounterWithBackend

    torch._dynamo.reset()
    d_criterion, g_criterion = gt.DiscriminatorLoss("hinge"), gt.GeneratorLoss("hinge")

    def step(r, f):
        return d_criterion(r, f) + g_criterion(f)

    def bce_step(r, f):
        return bce_d(r, f) + F.binary_cross_entropy_with_logits(f, torch.ones_like(f))

    counts = {}
    for name, fn in (("ganloss", step), ("torch", bce_step)):
        counter = CompileCounterWithBackend("aot_eager")
        compiled = torch.compile(fn, backend=counter, fullgraph=True)
        for batch in (64, 48, 96, 10, 33, 128, 7, 250, 17):
            real, fake = logits((batch, 1), batch), logits((batch, 1), batch + 1)
            fake.requires_grad_()
            loss = compiled(real, fake)
            loss.backward()
            if name == "ganloss":
                torch.testing.assert_close(loss.detach(), step(real, fake.detach()))
                # Hinge: D's fake term has gradient [f > -1] / B, G's (-f) has -1 / B.
                expected = (torch.where(fake.detach() > -1, 1.0, 0.0) - 1.0) / batch
                torch.testing.assert_close(fake.grad, expected)
        counts[name] = counter.frame_count
    assert counts["ganloss"] <= counts["torch"] and counts["ganloss"] <= 2, counts


def test_plain_compute_allocates_torch_tensors():
    out = ganloss.compute(logits((2, 8), 7), logits((2, 8), 8), outputs=["d_loss", "stats"])
    assert isinstance(out["d_loss"], torch.Tensor) and out["d_loss"].shape == (2,)
    assert out["stats"]["nonfinite_real"].dtype == torch.int64
    with pytest.raises(ValueError, match="needs the real logits"):
        gt.GeneratorLoss("relativistic")(logits((8,), 9))
    with pytest.raises(ValueError, match="grad_scale"):
        gt.DiscriminatorLoss(grad_scale=2.0)


def test_module_settings_changed_after_construction_apply():
    # The eager path reads the module's settings at every call.
    real, fake = logits((16,), 90), logits((16,), 91)
    criterion = gt.DiscriminatorLoss()
    criterion(real, fake)
    criterion.details = True
    loss, info = criterion(real, fake)
    assert "stats" in info and "d_loss_real" in info
    criterion.details = False
    criterion.config = gt.DiscriminatorLoss("hinge").config
    torch.testing.assert_close(criterion(real, fake), gt.DiscriminatorLoss("hinge")(real, fake),
                               rtol=0, atol=0)
    assert not torch.equal(criterion(real, fake), gt.DiscriminatorLoss()(real, fake))
