"""What ganloss needs from each array framework: dtypes, allocation, devices and streams.

Data never goes through this module: arrays reach the library through DLPack. This is only
how outputs are allocated "like" an input, and which CUDA stream and device a call runs on,
for NumPy, PyTorch and CuPy arrays. JAX arrays are immutable and go through the XLA FFI
handler instead (ganloss.jax).
"""

from __future__ import annotations

import contextlib
import sys


class NumPy:
    name = "numpy"

    @staticmethod
    def accepts(x) -> bool:
        np = sys.modules.get("numpy")
        return np is not None and isinstance(x, np.ndarray)

    @staticmethod
    def dtype_name(x) -> str:
        return str(x.dtype)

    @staticmethod
    def is_cuda(x) -> bool:
        return False

    @staticmethod
    def empty(like, shape, dtype: str):
        import numpy as np

        return np.empty(shape, dtype=dtype)

    @staticmethod
    def zeros(like, shape, dtype: str):
        import numpy as np

        return np.zeros(shape, dtype=dtype)

    @staticmethod
    def contiguous(x):
        import numpy as np

        # The library reads native-endian, aligned, C-contiguous elements: anything else is
        # copied into such an array first.
        if not x.dtype.isnative:
            x = x.astype(x.dtype.newbyteorder("="))
        return np.require(x, requirements=["C_CONTIGUOUS", "ALIGNED"])

    @staticmethod
    def view(x, dtype: str):
        return x.view(dtype)

    @staticmethod
    def stream(x) -> int:
        return 0

    @staticmethod
    def device(x):
        return contextlib.nullcontext()


class Torch:
    name = "torch"

    @staticmethod
    def accepts(x) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(x, torch.Tensor)

    @staticmethod
    def _dtype(name: str):
        import torch

        return getattr(torch, name)

    @staticmethod
    def dtype_name(x) -> str:
        return str(x.dtype).removeprefix("torch.")

    @staticmethod
    def is_cuda(x) -> bool:
        return x.device.type == "cuda"

    @staticmethod
    def empty(like, shape, dtype: str):
        import torch

        return torch.empty(shape, dtype=Torch._dtype(dtype), device=like.device)

    @staticmethod
    def zeros(like, shape, dtype: str):
        import torch

        return torch.zeros(shape, dtype=Torch._dtype(dtype), device=like.device)

    @staticmethod
    def contiguous(x):
        return x.detach().contiguous()

    @staticmethod
    def view(x, dtype: str):
        return x.view(Torch._dtype(dtype))

    @staticmethod
    def stream(x) -> int:
        import torch

        # PyTorch's current stream for the tensor's device: the call is ordered after whatever
        # produced the logits, and the outputs' allocations belong to the same stream.
        return torch.cuda.current_stream(x.device).cuda_stream if Torch.is_cuda(x) else 0

    @staticmethod
    def device(x):
        import torch

        return torch.cuda.device(x.device) if Torch.is_cuda(x) else contextlib.nullcontext()


class CuPy:
    name = "cupy"

    @staticmethod
    def accepts(x) -> bool:
        cupy = sys.modules.get("cupy")
        return cupy is not None and isinstance(x, cupy.ndarray)

    @staticmethod
    def dtype_name(x) -> str:
        return str(x.dtype)

    @staticmethod
    def is_cuda(x) -> bool:
        return True

    @staticmethod
    def empty(like, shape, dtype: str):
        import cupy

        with like.device:
            return cupy.empty(shape, dtype=dtype)

    @staticmethod
    def zeros(like, shape, dtype: str):
        import cupy

        with like.device:
            return cupy.zeros(shape, dtype=dtype)

    @staticmethod
    def contiguous(x):
        import cupy

        with x.device:
            return cupy.ascontiguousarray(x)

    @staticmethod
    def view(x, dtype: str):
        return x.view(dtype)

    @staticmethod
    def stream(x) -> int:
        import cupy

        # CuPy's current stream (per device and thread), as `with stream:` sets it.
        with x.device:
            return cupy.cuda.get_current_stream().ptr

    @staticmethod
    def device(x):
        return x.device


def is_jax_array(x) -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, jax.Array)


def framework_of(x):
    for framework in (NumPy, Torch, CuPy):
        if framework.accepts(x):
            return framework
    raise TypeError(
        f"ganloss takes NumPy, PyTorch, CuPy or JAX arrays, not {type(x).__module__}."
        f"{type(x).__qualname__}"
    )
