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
