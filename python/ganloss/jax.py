"""ganloss for JAX: the fused call as an XLA FFI custom call, differentiable through a custom VJP.

The call runs inside XLA: the CPU backend on XLA's CPU platform and the CUDA backend on XLA's
stream on its CUDA platform (when the package was built with CUDA). It traces, jits, and
differentiates like any jnp function; under vmap it loops over the mapped axis.

    import ganloss.jax as gj
    d_loss, g_loss = gj.losses(real_logits, fake_logits, loss="hinge")
    grads = jax.grad(lambda r, f: gj.losses(r, f)[0], argnums=(0, 1))(real_logits, fake_logits)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import _ganloss
from ._core import BACKENDS, LossConfig, rows_of

if not hasattr(_ganloss, "xla_ffi_cpu_handler"):
    raise ImportError(
        "this ganloss was built without the XLA FFI handlers (no jaxlib at build time); "
        "reinstall with jaxlib available to the build, see docs/python.md")

_TARGET = "ganloss_compute"
_PER_SEGMENT = ("d_loss", "d_loss_real", "d_loss_fake", "g_loss")
_GRADIENTS = ("grad_real", "grad_fake_d", "grad_fake_g", "grad_real_g")


@functools.cache
def _register() -> None:
    jax.ffi.register_ffi_target(_TARGET, _ganloss.xla_ffi_cpu_handler(), platform="cpu")
    if _ganloss.built_with_cuda:
        jax.ffi.register_ffi_target(_TARGET, _ganloss.xla_ffi_cuda_handler(), platform="CUDA")


def _workspace_bytes(problem) -> int:
    # The platform is chosen after tracing, so the workspace covers every backend built in.
    backends = [BACKENDS["cpu"]] + ([BACKENDS["cuda"]] if _ganloss.built_with_cuda else [])
    return max(_ganloss.workspace_size(problem, b) for b in backends)


def _call(real, fake, cfg: LossConfig) -> dict:
    _register()
    real = jnp.asarray(real)
    fake = jnp.asarray(fake)
    if real.dtype != fake.dtype:
        raise TypeError(f"real and fake logits must have one dtype, not {real.dtype} and "
                        f"{fake.dtype}")
    real_segments, real_count = rows_of(real.shape, "real")
    fake_segments, fake_count = rows_of(fake.shape, "fake")
    if real.ndim != fake.ndim or real_segments != fake_segments:
        raise ValueError(f"real logits of shape {real.shape} and fake logits of shape "
                         f"{fake.shape} do not have the same segments")
    # Validates the whole configuration at trace time, with the library's message.
    problem = cfg.problem(str(real.dtype), real_segments, real_count, fake_count)
    workspace = _workspace_bytes(problem)

    segment_shape = real.shape[:-1]
    grad_dtype = jnp.float32 if cfg.fp32_gradients else real.dtype
    results = [jax.ShapeDtypeStruct(segment_shape, jnp.float32) for _ in _PER_SEGMENT]
    results += [jax.ShapeDtypeStruct(shape, grad_dtype)
                for shape in (real.shape, fake.shape, fake.shape, real.shape)]
    results.append(jax.ShapeDtypeStruct((workspace,), jnp.uint8))
    call = jax.ffi.ffi_call(_TARGET, results, vmap_method="sequential")
    outputs = call(
        real, fake,
        d_loss=np.int32(problem.d_loss), g_loss=np.int32(problem.g_loss),
        reduction=np.int32(problem.reduction), fp32_gradients=np.int32(problem.fp32_gradients),
        grad_scale=np.float32(problem.grad_scale), real_target=np.float32(problem.real_target),
        fake_target=np.float32(problem.fake_target),
        margin_real=np.float32(problem.margin_real),
        margin_fake=np.float32(problem.margin_fake),
        ls_fake_label=np.float32(problem.ls_fake_label),
        ls_real_label=np.float32(problem.ls_real_label),
        ls_gen_label=np.float32(problem.ls_gen_label))
    return dict(zip(_PER_SEGMENT + _GRADIENTS, outputs[:-1]))


def compute(real, fake, *, loss: str = "nonsaturating", d_loss=None, g_loss=None,
            reduction: str = "mean", **params) -> dict:
    """Every per-segment loss and every gradient of one fused call, as a dict of jax arrays.

    real, fake: [count] or [segments, count] logits of one dtype (float32, float16, bfloat16).
    The keyword arguments are those of ganloss.compute, except weights, offsets, statistics
    and per-element losses, which the JAX call does not take. Not differentiable itself: the
    gradients are among its outputs (see `losses` for a differentiable form).
    """
    cfg = LossConfig.make(loss, d_loss, g_loss, reduction=reduction, **params)
    return _call(real, fake, cfg)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _losses(real, fake, cfg):
    out = _call(real, fake, cfg)
    return out["d_loss"], out["g_loss"]


def _losses_fwd(real, fake, cfg):
    out = _call(real, fake, cfg)
    # Zero-size arrays carry the logits' dtypes to the backward pass.
    dtypes = (jnp.zeros((0,), real.dtype), jnp.zeros((0,), fake.dtype))
    return (out["d_loss"], out["g_loss"]), (tuple(out[g] for g in _GRADIENTS), dtypes)


def _losses_bwd(cfg, residuals, cotangents):
    (grad_real, grad_fake_d, grad_fake_g, grad_real_g), (real_dtype, fake_dtype) = residuals
    ct_d, ct_g = (c[..., None].astype(jnp.float32) for c in cotangents)
    # The forward call already computed d(loss)/d(logit) for each loss; the chain rule only
    # scales them by the cotangent of their segment's loss.
    real = ct_d * grad_real.astype(jnp.float32)
    if cfg.relativistic:
        real = real + ct_g * grad_real_g.astype(jnp.float32)
    fake = ct_d * grad_fake_d.astype(jnp.float32) + ct_g * grad_fake_g.astype(jnp.float32)
    return real.astype(real_dtype.dtype), fake.astype(fake_dtype.dtype)


_losses.defvjp(_losses_fwd, _losses_bwd)


def losses(real, fake, *, loss: str = "nonsaturating", d_loss=None, g_loss=None,
           reduction: str = "mean", **params):
    """(discriminator loss, generator loss), differentiable with respect to both logits.

    Per-segment losses: scalars for [count] logits, [segments] for [segments, count]. The
    backward pass reuses the gradients of the forward call: no second pass over the logits.
    With reduction="none" the losses are per-segment sums and the gradients match them.
    """
    cfg = LossConfig.make(loss, d_loss, g_loss, reduction=reduction, **params)
    return _losses(real, fake, cfg)
