"""PyTorch on the CPU: the custom ops against the reference, opcheck, autograd, torch.compile."""

import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (python/run-tests.sh installs it with "
    "GANLOSS_PY_TORCH=1)")

import ganloss  # noqa: E402
import ganloss.torch as gt  # noqa: E402
from reference import assert_close, losses  # noqa: E402

PARAMS = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]


def logits(shape, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (3 * torch.randn(shape, generator=g)).to(dtype)


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge", "least-squares"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_backward_matches_reference(kind, dtype):
    real = logits((4, 64), 1, dtype).requires_grad_()
    fake = logits((4, 64), 2, dtype).requires_grad_()
    d, g = gt.losses(real, fake, loss=kind)
    (d.sum() + 3.0 * g.sum()).backward()
    ref = losses(kind, real.detach().double().numpy(), fake.detach().double().numpy())
    name = str(dtype).removeprefix("torch.")
    assert_close(d.detach().numpy(), ref["d_loss"], "float32", 64)
    assert_close(real.grad.float().numpy(), ref["grad_real"], name)
    assert_close(fake.grad.float().numpy(), ref["grad_fake_d"] + 3.0 * ref["grad_fake_g"],
                 name, 2)


def test_opcheck():
    real = logits((3, 16), 3).requires_grad_()
    fake = logits((3, 16), 4).requires_grad_()
    torch.library.opcheck(torch.ops.ganloss.losses.default,
                          (real, fake, None, None, "hinge", "hinge", "mean", 1.0, False, PARAMS))
    torch.library.opcheck(
        torch.ops.ganloss.losses.default,
        (real, fake, None, None, "relativistic", "relativistic", "sum", 1.0, False, PARAMS))
    torch.library.opcheck(torch.ops.ganloss.generator_loss.default,
                          (fake, None, "nonsaturating", "mean", 1.0, False, PARAMS))


def test_modules_under_torch_compile_without_graph_breaks():
    d_criterion, g_criterion = gt.DiscriminatorLoss("hinge"), gt.GeneratorLoss("hinge")
    real, fake = logits((64,), 5), logits((64,), 6).requires_grad_()
    step = torch.compile(lambda r, f: d_criterion(r, f) + g_criterion(f), fullgraph=True)
    loss = step(real, fake)
    loss.backward()
    expected = d_criterion(real, fake.detach()) + g_criterion(fake.detach())
    torch.testing.assert_close(loss.detach(), expected)
    # Hinge: D's fake term has gradient [f > -1] / N, G's (-f) has -1 / N.
    expected_grad = (torch.where(fake.detach() > -1, 1.0, 0.0) - 1.0) / 64
    torch.testing.assert_close(fake.grad, expected_grad)


def test_plain_compute_allocates_torch_tensors():
    out = ganloss.compute(logits((2, 8), 7), logits((2, 8), 8), outputs=["d_loss", "stats"])
    assert isinstance(out["d_loss"], torch.Tensor) and out["d_loss"].shape == (2,)
    assert out["stats"]["nonfinite_real"].dtype == torch.int64
    with pytest.raises(ValueError, match="needs the real logits"):
        gt.GeneratorLoss("relativistic")(logits((8,), 9))
