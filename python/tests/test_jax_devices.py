"""Runs jax_devices.py (ganloss.jax across 4 host devices) in a process of its own: XLA fixes
the number of host devices when jax is first imported, which the other tests have done."""

import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("jax", reason="jax is not installed")
pytest.importorskip("ganloss.jax", reason="ganloss was built without the XLA FFI handlers")


def test_across_four_host_devices():
    here = pathlib.Path(__file__).parent
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         str(here / "jax_devices.py")],
        cwd=here, env=env, capture_output=True, text=True, timeout=900)
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-4000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout, result.stdout
