"""examples/gan_mixture.py: ganloss's losses train the GAN like PyTorch's BCEWithLogitsLoss."""

import pathlib
import sys

import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (python/run-tests.sh installs it with "
    "GANLOSS_PY_TORCH=1)")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples"))
import gan_mixture  # noqa: E402


def test_loss_curves_match_bce_with_logits():
    # Identical up to fp32 rounding, which a GAN's training dynamics amplify over hundreds of
    # steps: compare the first steps tightly, where rounding has not grown yet.
    steps = 60
    ours = gan_mixture.train("ganloss", steps=steps, seed=1)
    theirs = gan_mixture.train("torch", steps=steps, seed=1)
    for key in ("d_loss", "g_loss"):
        for a, b in zip(ours[key], theirs[key]):
            assert a == pytest.approx(b, rel=1e-3)
