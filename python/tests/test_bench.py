"""bench/cpu_compare.py on the installed package: it runs, and its results agree with PyTorch's
and numpy's (the script exits 1 when they do not)."""

import json
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("numpy", reason="numpy is not installed")
pytest.importorskip("torch", reason="PyTorch is not installed")

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"


def test_cpu_compare_runs_on_the_package(tmp_path):
    out = tmp_path / "cpu_compare.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "cpu_compare.py"), "--sizes", "2^12,5000", "--rounds", "1",
         "--min-seconds", "0.01", "--threads", "2", "--json", str(out), "--plot", ""],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    records = json.loads(out.read_text())["results"]
    assert {(r["dtype"], r["elements"]) for r in records} == {
        ("f32", 4096), ("f32", 5000), ("bf16", 4096), ("bf16", 5000)}
    assert all(r["agree"] and r["ganloss_seconds"] > 0 for r in records)


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge", "wasserstein", "least-squares"])
def test_torch_compare_module_step_agrees_with_eager(kind):
    # bench/torch_compare.py times the ganloss.torch modules as a training step; its step
    # functions run on any device, so their agreement is checked here on the CPU, where the
    # script itself (GPU only) does not run.
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(BENCH))
    try:
        import torch_compare
    finally:
        sys.path.remove(str(BENCH))
    generator = torch.Generator().manual_seed(7)
    real = torch.randn(3000, generator=generator) * 4 + 1
    fake = torch.randn(2000, generator=generator) * 4 - 1
    eager = torch_compare.torch_step(torch, torch_compare.make_losses(F, kind))(real, fake)
    module = torch_compare.module_step(torch, kind)(real, fake)
    assert torch_compare.module_difference(torch, module, eager) <= torch_compare.TOLERANCE["f32"]
    # and it can fail: a gradient off by one part in 10^4 exceeds the f32 bound
    losses, grads = module
    off = (losses, (grads[0] * (1 + 1e-4),) + tuple(grads[1:]))
    assert torch_compare.module_difference(torch, off, eager) > torch_compare.TOLERANCE["f32"]
