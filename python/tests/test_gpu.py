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


def _torch_cuda():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    _require_cuda_backend()
    return torch


def _cuda_logits(torch, shape, seed, dtype):
    return torch.from_numpy(logits(shape, seed)).cuda().to(dtype).requires_grad_()


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_torch_module_calls_on_cuda(dtype, monkeypatch):
    # Eager module calls take the one-plan-call path on CUDA too: the reference's losses and
    # gradients (f32), and bitwise those of the general path (the custom op's functions).
    torch = _torch_cuda()
    import ganloss.torch as gt

    torch_dtype = getattr(torch, dtype)

    def run():
        real = _cuda_logits(torch, (4, 1, 8, 8), 7, torch_dtype)
        fake = _cuda_logits(torch, (4, 1, 8, 8), 8, torch_dtype)
        d = gt.DiscriminatorLoss()(real, fake.detach())
        g = gt.GeneratorLoss()(fake)
        (d + 2.0 * g).backward()
        torch.cuda.synchronize()
        return d.detach(), g.detach(), real.grad, fake.grad

    fast = run()
    if dtype == "float32":
        r64 = logits((4, 1, 8, 8), 7).reshape(1, -1).astype(np.float64)
        f64 = logits((4, 1, 8, 8), 8).reshape(1, -1).astype(np.float64)
        ref = losses("nonsaturating", r64, f64)
        assert_close(fast[0].cpu().numpy(), ref["d_loss"][0], "float32", 512)
        assert_close(fast[1].cpu().numpy(), ref["g_loss"][0], "float32", 256)
        assert_close(fast[2].cpu().numpy().ravel(), ref["grad_real"].ravel(), "float32")
        assert_close(fast[3].cpu().numpy().ravel(), 2.0 * ref["grad_fake_g"].ravel(), "float32")
    monkeypatch.setattr(gt._LossModule, "_one_loss", lambda *args: None)
    general = run()
    for a, b in zip(fast, general):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_torch_module_is_two_launches_per_loss():
    # One kernel forward (the plan's execution) and one backward (its VJP call), once the plan
    # and its workspace are cached.
    torch = _torch_cuda()
    import ganloss.torch as gt
    from torch.profiler import ProfilerActivity, profile

    criterion = gt.DiscriminatorLoss()
    real = _cuda_logits(torch, (256, 1), 9, torch.float32)
    fake = _cuda_logits(torch, (256, 1), 10, torch.float32).detach()

    def step():
        real.grad = None
        criterion(real, fake).backward()

    step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    names = [e.name for e in prof.events()
             if e.device_type == torch.autograd.DeviceType.CUDA]
    assert len([n for n in names if "ganloss" in n]) == 2, names


@pytest.mark.parametrize("shape", [(64, 1), (2, 1 << 17)])
def test_torch_compile_with_cuda_graphs(shape):
    # mode="reduce-overhead" captures the custom ops into CUDA graphs and replays them: the
    # results of several steps equal the eager ones, and the last steps replay a graph. The
    # plans' workspaces (a single segment's chunk tickets for the long rows) outlive the
    # graphs' warm-up and recording outside the graphs' memory pool, which PyTorch checks.
    torch = _torch_cuda()
    import ganloss.torch as gt

    d_criterion, g_criterion = gt.DiscriminatorLoss("hinge"), gt.GeneratorLoss("hinge")

    def losses_of(real, fake):
        return d_criterion(real, fake.detach()), g_criterion(fake)

    compiled = torch.compile(losses_of, mode="reduce-overhead", fullgraph=True)
    for step in range(4):
        results = []
        for fn in (compiled, losses_of):
            real = _cuda_logits(torch, shape, 20 + step, torch.float32)
            fake = _cuda_logits(torch, shape, 40 + step, torch.float32)
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA,
                                                    torch.profiler.ProfilerActivity.CPU]) as prof:
                d, g = fn(real, fake)
                (d + g).backward()
                torch.cuda.synchronize()
            results.append((d.detach().clone(), g.detach().clone(), real.grad.clone(),
                            fake.grad.clone()))
            if fn is compiled and step == 3:
                names = {e.name for e in prof.events()}
                assert any("cudaGraphLaunch" in n for n in names), sorted(names)
        torch.cuda.synchronize()
        for a, b in zip(*results):
            torch.testing.assert_close(a, b)


def test_torch_cuda_graph_capture_keeps_its_workspace(monkeypatch):
    # A module call captured with torch.cuda.graph, on a plan whose workspace for the capture's
    # stream is first needed inside the capture, then replayed after the plan cache evicted
    # that plan: the replays equal eager calls bitwise (the evicted plan's workspace is kept,
    # not freed under the graph).
    torch = _torch_cuda()
    import ganloss.torch as gt

    cache = gt._PlanCache(capacity=1)
    monkeypatch.setattr(gt, "_plans", cache)
    criterion = gt.DiscriminatorLoss("nonsaturating")
    shape = (2, 1 << 17)
    real = torch.zeros(shape, device="cuda")
    fake = torch.zeros(shape, device="cuda")
    criterion(real, fake)  # the plan, and a workspace for this stream only
    (plan, workspaces, _), = cache._entries.values()
    assert plan.workspace_bytes > 0 and len(workspaces) == 1
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = criterion(real, fake)
    (_, workspaces, ran_in_capture), = cache._entries.values()
    assert len(workspaces) == 2 and ran_in_capture
    criterion(torch.zeros(3, 5, device="cuda"), torch.zeros(3, 5, device="cuda"))  # evicts it
    assert len(cache._kept) == 2
    for seed in range(3):
        real.copy_(torch.from_numpy(logits(shape, 60 + seed)))
        fake.copy_(torch.from_numpy(logits(shape, 70 + seed)))
        graph.replay()
        eager = criterion(real, fake)
        torch.cuda.synchronize()
        torch.testing.assert_close(captured, eager, rtol=0, atol=0)
