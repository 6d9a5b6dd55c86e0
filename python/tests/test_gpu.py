"""GPU checks for PyTorch, JAX and CuPy: the CUDA backend on each framework's current stream.

Each test skips, with its reason in pytest's summary (run with -rs), where there is no GPU, the
framework is missing, or the package was built without CUDA.
"""

import numpy as np
import pytest

import ganloss
from reference import assert_close, losses


def _require_cuda_backend():
    if not ganloss.backend_available("cuda"):
        pytest.skip("no usable CUDA device, or ganloss was built without CUDA")


def logits(shape, seed):
    return (3 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def test_torch_cuda_on_a_side_stream():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    import ganloss.torch as gt

    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    _require_cuda_backend()
    real_np, fake_np = logits((8, 3000), 1), logits((8, 3000), 2)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        real = torch.from_numpy(real_np).cuda().requires_grad_()
        fake = torch.from_numpy(fake_np).cuda().requires_grad_()
        d, g = gt.losses(real, fake, loss="hinge", segment_dims=1)
        d.sum().backward()
    stream.synchronize()
    ref = losses("hinge", real_np.astype(np.float64), fake_np.astype(np.float64))
    assert_close(d.detach().cpu().numpy(), ref["d_loss"], "float32", 3000)
    assert_close(real.grad.cpu().numpy(), ref["grad_real"], "float32")
    compiled = torch.compile(lambda r, f: gt.DiscriminatorLoss()(r, f), fullgraph=True)
    torch.testing.assert_close(compiled(real, fake), gt.DiscriminatorLoss()(real, fake))


def test_jax_cuda_platform():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    gj = pytest.importorskip("ganloss.jax", reason="built without the XLA FFI handlers")
    if not any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("jax has no GPU platform (jax[cuda] is not installed or sees no GPU)")
    _require_cuda_backend()
    real, fake = logits((4, 5000), 3), logits((4, 5000), 4)
    d, g = jax.jit(gj.losses)(jax.device_put(real), jax.device_put(fake))
    ref = losses("nonsaturating", real.astype(np.float64), fake.astype(np.float64))
    assert_close(np.asarray(d), ref["d_loss"], "float32", 5000)
    assert_close(np.asarray(g), ref["g_loss"], "float32", 5000)


def test_cupy_on_its_current_stream():
    cupy = pytest.importorskip("cupy", reason="cupy is not installed")
    _require_cuda_backend()
    real_np, fake_np = logits((3, 20000), 5), logits((3, 20000), 6)
    with cupy.cuda.Stream(non_blocking=True) as stream:
        out = ganloss.compute(cupy.asarray(real_np), cupy.asarray(fake_np), loss="least-squares")
        stream.synchronize()
    assert isinstance(out["d_loss"], cupy.ndarray)
    ref = losses("least-squares", real_np.astype(np.float64), fake_np.astype(np.float64))
    assert_close(cupy.asnumpy(out["d_loss"]), ref["d_loss"], "float32", 20000)
    assert_close(cupy.asnumpy(out["grad_fake_g"]), ref["grad_fake_g"], "float32")
