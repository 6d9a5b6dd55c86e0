"""ganloss: fused GAN losses and their logit gradients, for NumPy, PyTorch, JAX and CuPy.

`ganloss.compute` takes arrays of any of these frameworks (through DLPack) and returns the
losses and gradients as arrays of the same framework and device. Framework integrations:
`ganloss.torch` (a custom op with autograd, and loss modules), `ganloss.jax` (an XLA FFI
call with a custom VJP). See docs/python.md.
"""

from ._core import (
    LOSS_KINDS,
    OUTPUTS,
    REDUCTIONS,
    LossConfig,
    backend_available,
    compute,
    version,
    workspace_size,
)

__version__ = version()

__all__ = [
    "LOSS_KINDS",
    "OUTPUTS",
    "REDUCTIONS",
    "LossConfig",
    "backend_available",
    "compute",
    "version",
    "workspace_size",
]
