"""ganloss for PyTorch: custom ops with autograd, and loss modules.

The fused call computes the losses and their gradients with respect to the logits in the
forward pass; backward only scales those gradients by the incoming ones, so `loss.backward()`
never reads the logits again. The ops are torch.library custom ops with fake kernels, so
torch.compile traces through them without graph breaks, and they run on the logits' device:
the CPU backend for CPU tensors, the CUDA backend on PyTorch's current stream for CUDA tensors.

    import ganloss.torch as gt
    d_criterion = gt.DiscriminatorLoss("hinge")
    g_criterion = gt.GeneratorLoss("hinge")
    d_loss = d_criterion(D(x), D(G(z).detach()))
    g_loss = g_criterion(D(G(z)))
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch
from torch import Tensor

from . import _core
from ._core import LossConfig, rows_of

_PARAM_FIELDS = ("real_target", "fake_target", "margin_real", "margin_fake", "ls_fake_label",
                 "ls_real_label", "ls_gen_label")


def _config(d_loss: str, g_loss: str, reduction: str, grad_scale: float, fp32_gradients: bool,
            params: list[float]) -> LossConfig:
    return LossConfig.make(d_loss=d_loss, g_loss=g_loss, reduction=reduction,
                           grad_scale=grad_scale, fp32_gradients=fp32_gradients,
                           **dict(zip(_PARAM_FIELDS, params)))


def _grad_dtype(logits: Tensor, fp32_gradients: bool) -> torch.dtype:
    return torch.float32 if fp32_gradients else logits.dtype


def _segment_shape(real: Optional[Tensor], fake: Tensor) -> torch.Size:
    """The per-segment losses' shape; checks what eager calls would reject, for fake tensors."""
    fake_segments, _ = rows_of(fake.shape, "fake")
    if real is not None:
        real_segments, _ = rows_of(real.shape, "real")
        if real.dim() != fake.dim() or real_segments != fake_segments:
            raise ValueError(f"real logits of shape {tuple(real.shape)} and fake logits of "
                             f"shape {tuple(fake.shape)} do not have the same segments")
    return fake.shape[:-1]


@torch.library.custom_op("ganloss::losses", mutates_args=())
def _losses_op(real: Tensor, fake: Tensor, real_weights: Optional[Tensor],
               fake_weights: Optional[Tensor], d_loss: str, g_loss: str, reduction: str,
               grad_scale: float, fp32_gradients: bool, params: list[float]
               ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """D and G losses per segment and their gradients: grad_real, grad_fake_d, grad_fake_g,
    grad_real_g (empty unless the losses are relativistic)."""
    cfg = _config(d_loss, g_loss, reduction, grad_scale, fp32_gradients, params)
    wanted = ["d_loss", "g_loss", "grad_real", "grad_fake_d", "grad_fake_g"]
    if cfg.relativistic:
        wanted.append("grad_real_g")
    out = _core.compute(real, fake, real_weights=real_weights, fake_weights=fake_weights,
                        outputs=wanted, **dataclasses.asdict(cfg))
    grad_real_g = out.get("grad_real_g")
    if grad_real_g is None:
        grad_real_g = real.new_empty((0,), dtype=_grad_dtype(real, fp32_gradients))
    return (out["d_loss"], out["g_loss"], out["grad_real"], out["grad_fake_d"],
            out["grad_fake_g"], grad_real_g)


@_losses_op.register_fake
def _losses_fake(real, fake, real_weights, fake_weights, d_loss, g_loss, reduction, grad_scale,
                 fp32_gradients, params):
    cfg = _config(d_loss, g_loss, reduction, grad_scale, fp32_gradients, params)
    segments = _segment_shape(real, fake)
    grad_dtype = _grad_dtype(real, fp32_gradients)
    return (fake.new_empty(segments, dtype=torch.float32),
            fake.new_empty(segments, dtype=torch.float32),
            real.new_empty(real.shape, dtype=grad_dtype),
            fake.new_empty(fake.shape, dtype=grad_dtype),
            fake.new_empty(fake.shape, dtype=grad_dtype),
            real.new_empty(real.shape if cfg.relativistic else (0,), dtype=grad_dtype))


def _losses_setup_context(ctx, inputs, output):
    real, fake = inputs[0], inputs[1]
    ctx.save_for_backward(*output[2:])
    ctx.dtypes = (real.dtype, fake.dtype)
    ctx.relativistic = _config(*inputs[4:]).relativistic


def _losses_backward(ctx, grad_d, grad_g, *unused):
    grad_real, grad_fake_d, grad_fake_g, grad_real_g = ctx.saved_tensors
    # The forward call computed d(loss)/d(logit) per segment: scale by each segment's incoming
    # gradient, broadcast along the segment's logits.
    grad_d = grad_d.unsqueeze(-1)
    grad_g = grad_g.unsqueeze(-1)
    real = fake = None
    if ctx.needs_input_grad[0]:
        real = grad_d * grad_real
        if ctx.relativistic:
            real = real + grad_g * grad_real_g
        real = real.to(ctx.dtypes[0])
    if ctx.needs_input_grad[1]:
        fake = (grad_d * grad_fake_d + grad_g * grad_fake_g).to(ctx.dtypes[1])
    return real, fake, None, None, None, None, None, None, None, None


_losses_op.register_autograd(_losses_backward, setup_context=_losses_setup_context)


@torch.library.custom_op("ganloss::generator_loss", mutates_args=())
def _generator_op(fake: Tensor, fake_weights: Optional[Tensor], g_loss: str, reduction: str,
                  grad_scale: float, fp32_gradients: bool, params: list[float]
                  ) -> tuple[Tensor, Tensor]:
    """The G loss per segment of a non-relativistic kind, which needs no real logits, and
    its gradient."""
    cfg = _config(g_loss, g_loss, reduction, grad_scale, fp32_gradients, params)
    out = _core.compute(None, fake, fake_weights=fake_weights,
                        outputs=["g_loss", "grad_fake_g"], **dataclasses.asdict(cfg))
    return out["g_loss"], out["grad_fake_g"]


@_generator_op.register_fake
def _generator_fake(fake, fake_weights, g_loss, reduction, grad_scale, fp32_gradients, params):
    segments = _segment_shape(None, fake)
    return (fake.new_empty(segments, dtype=torch.float32),
            fake.new_empty(fake.shape, dtype=_grad_dtype(fake, fp32_gradients)))


def _generator_setup_context(ctx, inputs, output):
    ctx.save_for_backward(output[1])
    ctx.dtype = inputs[0].dtype


def _generator_backward(ctx, grad_g, unused):
    (grad_fake,) = ctx.saved_tensors
    fake = (grad_g.unsqueeze(-1) * grad_fake).to(ctx.dtype) if ctx.needs_input_grad[0] else None
    return fake, None, None, None, None, None, None


_generator_op.register_autograd(_generator_backward, setup_context=_generator_setup_context)


def _op_args(cfg: LossConfig):
    return (cfg.reduction, float(cfg.grad_scale), bool(cfg.fp32_gradients),
            [float(getattr(cfg, f)) for f in _PARAM_FIELDS])


def losses(real: Tensor, fake: Tensor, *, loss: str = "nonsaturating",
           d_loss: Optional[str] = None, g_loss: Optional[str] = None, reduction: str = "mean",
           real_weights: Optional[Tensor] = None, fake_weights: Optional[Tensor] = None,
           **params) -> tuple[Tensor, Tensor]:
    """(discriminator loss, generator loss) per segment, differentiable in both logits.

    real, fake: [count] (the losses are scalars) or [segments, count] logits; the keyword
    arguments are those of ganloss.compute. With reduction="none" the losses are per-segment
    sums, and their gradients match (use ganloss.compute for per-element losses).
    """
    cfg = LossConfig.make(loss, d_loss, g_loss, reduction=reduction, **params)
    d, g, *_ = _losses_op(real, fake, real_weights, fake_weights, cfg.d_loss, cfg.g_loss,
                          *_op_args(cfg))
    return d, g


class DiscriminatorLoss(torch.nn.Module):
    """The discriminator's loss: `DiscriminatorLoss("hinge")(real_logits, fake_logits)`.

    Takes the loss kind, the reduction and the loss parameters of ganloss.compute (for
    example real_target=0.9 for one-sided label smoothing).
    """

    def __init__(self, loss: str = "nonsaturating", reduction: str = "mean", **params):
        super().__init__()
        # Validate now, not at the first step.
        self.config = LossConfig.make(loss, reduction=reduction, **params)

    def forward(self, real_logits: Tensor, fake_logits: Tensor,
                real_weights: Optional[Tensor] = None,
                fake_weights: Optional[Tensor] = None) -> Tensor:
        cfg = self.config
        d, *_ = _losses_op(real_logits, fake_logits, real_weights, fake_weights, cfg.d_loss,
                           cfg.g_loss, *_op_args(cfg))
        return d

    def extra_repr(self) -> str:
        return f"loss={self.config.d_loss!r}, reduction={self.config.reduction!r}"


class GeneratorLoss(torch.nn.Module):
    """The generator's loss: `GeneratorLoss("nonsaturating")(fake_logits)`; the relativistic
    kinds also take the real logits: `GeneratorLoss("relativistic")(fake_logits, real_logits)`.
    """

    def __init__(self, loss: str = "nonsaturating", reduction: str = "mean", **params):
        super().__init__()
        self.config = LossConfig.make(loss, reduction=reduction, **params)

    def forward(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None,
                fake_weights: Optional[Tensor] = None) -> Tensor:
        cfg = self.config
        if real_logits is None and cfg.relativistic:
            raise ValueError(f"the {cfg.g_loss} generator loss needs the real logits")
        if real_logits is None:
            return _generator_op(fake_logits, fake_weights, cfg.g_loss, *_op_args(cfg))[0]
        _, g, *_ = _losses_op(real_logits, fake_logits, None, fake_weights, cfg.d_loss,
                              cfg.g_loss, *_op_args(cfg))
        return g

    def extra_repr(self) -> str:
        return f"loss={self.config.g_loss!r}, reduction={self.config.reduction!r}"
