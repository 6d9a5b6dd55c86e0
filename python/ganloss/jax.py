"""ganloss for JAX: the fused call as an XLA FFI custom call, differentiable through a custom VJP.

The call runs inside XLA: the CPU backend on XLA's CPU platform and the CUDA backend on XLA's
stream on its CUDA platform (when the package was built with CUDA). It traces, jits, vmaps and
differentiates (reverse mode, second derivatives for most kinds) like any jnp function, and partitions across devices: under
jit with sharded logits each device runs the call on its own shard and the global losses are
formed from the per-shard results.

    import ganloss.jax as gj
    d_loss, g_loss = gj.losses(real_logits, fake_logits, loss="hinge")   # scalars
    grads = jax.grad(lambda r, f: gj.losses(r, f)[0], argnums=(0, 1))(real_logits, fake_logits)
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.custom_partitioning import (ArrayMapping, SdyShardingRule,
                                                  custom_partitioning)
from jax.sharding import NamedSharding, PartitionSpec

from . import _ganloss
from . import _jax_math
from ._core import BACKENDS, LossConfig, rows_of, smoothed

if not hasattr(_ganloss, "xla_ffi_cpu_handler"):
    raise ImportError(
        "this ganloss was built without the XLA FFI handlers (no jaxlib at build time); "
        "reinstall with jaxlib available to the build, see docs/python.md")

_TARGET = "ganloss_compute"
_PER_SEGMENT = ("d_loss", "d_loss_real", "d_loss_fake", "g_loss")
_GRADIENTS = ("grad_real", "grad_fake_d", "grad_fake_g", "grad_real_g")
_NAMES = _PER_SEGMENT + _GRADIENTS
# Kinds whose loss of one element depends on a mean over every logit of the other side: a
# shard cannot compute its part alone.
_AVERAGE_KINDS = frozenset(("relativistic-average", "relativistic-average-hinge",
                            "relativistic-average-least-squares"))


@functools.cache
def _register() -> None:
    jax.ffi.register_ffi_target(_TARGET, _ganloss.xla_ffi_cpu_handler(), platform="cpu")
    if _ganloss.built_with_cuda:
        jax.ffi.register_ffi_target(_TARGET, _ganloss.xla_ffi_cuda_handler(), platform="CUDA")


def _workspace_bytes(problem) -> int:
    # The platform is chosen after tracing, so the workspace covers every backend built in.
    backends = [BACKENDS["cpu"]] + ([BACKENDS["cuda"]] if _ganloss.built_with_cuda else [])
    return max(_ganloss.workspace_size(problem, b) for b in backends)


def _kind(name: str) -> str:
    return name.replace("_", "-").lower()


# Inside shard_map, arrays carry the mesh axes they vary over (their "vma"). The call's outputs
# vary over every axis its inputs vary over: each device computes from its own shard.
def _varying(x) -> frozenset:
    aval = jax.typeof(x)
    mat = getattr(aval, "mat", None)
    if mat is not None:
        return frozenset(mat.varying)
    return frozenset(getattr(aval, "vma", ()))


def _cast_varying(x, axes):
    if not axes:
        return x
    axes = tuple(sorted(axes, key=str))
    if hasattr(jax.lax, "pcast"):
        return jax.lax.pcast(x, axes, to="varying")
    return jax.lax.pvary(x, axes)


def _result(shape, dtype, varying, like):
    """The type of an output of the call: varying over `varying`, on the mesh of `like`."""
    if not varying:
        return jax.ShapeDtypeStruct(shape, dtype)
    if hasattr(jax.sharding, "ManualAxisType"):
        mesh = jax.typeof(like).sharding.mesh
        return jax.ShapeDtypeStruct(
            shape, dtype, sharding=NamedSharding(mesh, PartitionSpec()),
            manual_axis_type=jax.sharding.ManualAxisType(varying=varying))
    return jax.ShapeDtypeStruct(shape, dtype, vma=varying)


def _in_manual_context() -> bool:
    """Whether the trace is inside shard_map (some mesh axes are manual)."""
    get_mesh = getattr(jax.sharding, "get_abstract_mesh", None)
    return bool(get_mesh is not None and getattr(get_mesh(), "manual_axes", ()))


def _ffi(real, fake, cfg: LossConfig, grad_scale=None) -> dict:
    """One FFI call on [count] or [segments, count] logits: every per-segment result and
    every gradient, as a dict."""
    _register()
    if real.dtype != fake.dtype:
        raise TypeError(f"real and fake logits must have one dtype, not {real.dtype} and "
                        f"{fake.dtype}")
    real_segments, real_count = rows_of(real.shape, "real")
    fake_segments, fake_count = rows_of(fake.shape, "fake")
    if real.ndim != fake.ndim or real_segments != fake_segments:
        raise ValueError(f"real logits of shape {real.shape} and fake logits of shape "
                         f"{fake.shape} do not have the same segments")
    # The call computes every output, and each side's depend on its logits: the library
    # refuses an empty side when it runs, so refuse it here, at trace time.
    for side, x, count in (("real", real, real_count), ("fake", fake, fake_count)):
        if count == 0:
            raise ValueError(f"{side} logits of shape {x.shape} have no elements per segment: "
                             f"the losses need at least one {side} logit")
    # Validates the whole configuration at trace time, with the library's message.
    problem = cfg.problem(str(real.dtype), real_segments, real_count, fake_count)
    if grad_scale is not None:
        problem.grad_scale = grad_scale
    workspace = _workspace_bytes(problem)

    varying = _varying(real) | _varying(fake)
    real = _cast_varying(real, varying - _varying(real))
    fake = _cast_varying(fake, varying - _varying(fake))
    segment_shape = real.shape[:-1]
    grad_dtype = jnp.float32 if cfg.fp32_gradients else real.dtype
    results = [_result(segment_shape, jnp.float32, varying, real) for _ in _PER_SEGMENT]
    results += [_result(shape, grad_dtype, varying, real)
                for shape in (real.shape, fake.shape, fake.shape, real.shape)]
    results.append(_result((workspace,), jnp.uint8, varying, real))
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
    return dict(zip(_NAMES, outputs[:-1]))


def _segmented(real, fake, cfg: LossConfig, segment_dims: int, grad_scale=None) -> tuple:
    """The 8 results for logits of any shape whose leading `segment_dims` dimensions index
    segments: per-segment results of shape real.shape[:segment_dims], gradients shaped like
    their logits."""
    segment_shape = real.shape[:segment_dims]
    segments = math.prod(segment_shape)
    real_count = math.prod(real.shape[segment_dims:])
    fake_count = math.prod(fake.shape[segment_dims:])
    if segment_dims == 0:
        real2, fake2 = real.reshape(real_count), fake.reshape(fake_count)
    else:
        real2 = real.reshape(segments, real_count)
        fake2 = fake.reshape(segments, fake_count)
    out = _ffi(real2, fake2, cfg, grad_scale)
    shapes = {"grad_real": real.shape, "grad_real_g": real.shape, "grad_fake_d": fake.shape,
              "grad_fake_g": fake.shape}
    return tuple(out[name].reshape(shapes.get(name, segment_shape)) for name in _NAMES)


# ---- Across devices: the call on each shard, the global losses from the per-shard ones ----

def _decomposable(cfg: LossConfig) -> bool:
    """Whether a segment's losses follow from the losses of equal parts of it."""
    return (_kind(cfg.d_loss) not in _AVERAGE_KINDS and _kind(cfg.g_loss) not in _AVERAGE_KINDS
            and _kind(cfg.reduction) in ("mean", "sum"))


def _paired(cfg: LossConfig) -> bool:
    return _kind(cfg.d_loss) == "relativistic" or _kind(cfg.g_loss) == "relativistic"


def _shard_axes(arg, mesh) -> list:
    """Per dimension, the mesh axes that split it into equal shards (others: not split)."""
    sharding = arg.sharding
    if not isinstance(sharding, NamedSharding):
        return [()] * len(arg.shape)
    spec = tuple(sharding.spec) + (None,) * (len(arg.shape) - len(sharding.spec))
    axes = []
    for size, entry in zip(arg.shape, spec):
        names = () if entry is None else (entry,) if isinstance(entry, str) else tuple(entry)
        names = tuple(n for n in names if isinstance(n, str))
        shards = math.prod(mesh.shape[n] for n in names)
        # Uneven shards would be padded: the padding would enter the sums.
        axes.append(names if names and size % shards == 0 else ())
    return axes


def _spec(axes) -> PartitionSpec:
    return PartitionSpec(*(a if len(a) > 1 else a[0] if a else None for a in axes))


def _names(axes) -> tuple:
    return tuple(n for a in axes for n in a)


def _plan(cfg: LossConfig, segment_dims: int, mesh, arg_shapes):
    """(real axes, fake axes): per dimension, the mesh axes that split it across devices.

    Segment dimensions split freely: segments are independent. Element dimensions split only
    where a segment's losses follow from its parts' (equal shards): the mean of a side is the
    mean of its shards' means, its sum the sum of theirs. The relativistic averages and
    mean-nonzero need every element of a segment at once, and a mean whose two sides are
    split into different numbers of shards would need two gradient scales: their element
    dimensions stay whole on every device.
    """
    k = segment_dims
    real, fake = arg_shapes
    real_axes, fake_axes = _shard_axes(real, mesh), _shard_axes(fake, mesh)
    # Both sides and the per-segment results share the segment dimensions' split.
    segment_axes = real_axes[:k]
    used = set(_names(segment_axes))
    real_elements = [tuple(n for n in a if n not in used) for a in real_axes[k:]]
    fake_elements = [tuple(n for n in a if n not in used) for a in fake_axes[k:]]
    if _paired(cfg):
        # Pairs (real[i], fake[i]) stay on one device.
        if real.shape == fake.shape:
            fake_elements = real_elements
        else:
            real_elements = [()] * len(real_elements)
            fake_elements = [()] * len(fake_elements)
    shards_real = math.prod(mesh.shape[n] for n in _names(real_elements))
    shards_fake = math.prod(mesh.shape[n] for n in _names(fake_elements))
    if not _decomposable(cfg) or (_kind(cfg.reduction) == "mean" and shards_real != shards_fake):
        real_elements = [()] * len(real_elements)
        fake_elements = [()] * len(fake_elements)
    return segment_axes + real_elements, segment_axes + fake_elements


def _shardings(mesh, segment_dims, real_axes, fake_axes):
    real = NamedSharding(mesh, _spec(real_axes))
    fake = NamedSharding(mesh, _spec(fake_axes))
    segment = NamedSharding(mesh, _spec(real_axes[:segment_dims]))
    return (real, fake), (segment,) * 4 + (real, fake, fake, real)


@functools.cache
def _partitioned_call(cfg: LossConfig, real_ndim: int, fake_ndim: int, segment_dims: int):
    """The losses of (real, fake) with `segment_dims` leading segment dimensions, as one
    partitionable, batchable function of the logits returning the 8 results (4 per-segment
    losses, 4 gradients)."""
    k = segment_dims

    def whole(real, fake):
        return _segmented(real, fake, cfg, k)

    def partition(mesh, arg_shapes, result_shape):
        del result_shape
        real_axes, fake_axes = _plan(cfg, k, mesh, arg_shapes)
        arg_shardings, result_shardings = _shardings(mesh, k, real_axes, fake_axes)
        real_names, fake_names = _names(real_axes[k:]), _names(fake_axes[k:])
        if not real_names and not fake_names:
            # Whole segments on each device: nothing to combine.
            return mesh, whole, result_shardings, arg_shardings
        mean = _kind(cfg.reduction) == "mean"
        shards = math.prod(mesh.shape[n] for n in real_names or fake_names)

        def per_shard(real, fake):
            # Each shard's gradients carry the global mean's 1/count: a shard's mean divides
            # by its own count, the scale by the number of shards.
            scale = 1.0 / shards if mean else None
            _, d_real, d_fake, g, *grads = _segmented(real, fake, cfg, k, scale)

            def combine(value, names):
                if not names:
                    return value
                total = jax.lax.psum(value, names)
                return total / math.prod(mesh.shape[n] for n in names) if mean else total

            d_real = combine(d_real, real_names)
            d_fake = combine(d_fake, fake_names)
            # The generator loss sums over the fake logits (and the paired real ones, which
            # the paired kind keeps on the fake logits' devices).
            g = combine(g, fake_names)
            return (d_real + d_fake, d_real, d_fake, g, *grads)

        return mesh, per_shard, result_shardings, arg_shardings

    def infer_sharding_from_operands(mesh, arg_shapes, result_shape):
        del result_shape
        return _shardings(mesh, k, *_plan(cfg, k, mesh, arg_shapes))[1]

    segment_factors = tuple(f"s{i}" for i in range(k))
    real_factors = segment_factors + tuple(f"r{i}" for i in range(k, real_ndim))
    fake_factors = segment_factors + tuple(f"f{i}" for i in range(k, fake_ndim))
    if _paired(cfg) and real_ndim == fake_ndim:
        fake_factors = real_factors
    rule = SdyShardingRule(
        operand_mappings=(ArrayMapping(*real_factors), ArrayMapping(*fake_factors)),
        result_mappings=(ArrayMapping(*segment_factors),) * 4 + (
            ArrayMapping(*real_factors), ArrayMapping(*fake_factors),
            ArrayMapping(*fake_factors), ArrayMapping(*real_factors)))
    partitioned = custom_partitioning(whole)
    partitioned.def_partition(partition,
                              infer_sharding_from_operands=infer_sharding_from_operands,
                              sharding_rule=rule)

    @jax.custom_batching.custom_vmap
    def batchable(real, fake):
        if _in_manual_context() or _varying(real) or _varying(fake):
            # Inside shard_map every device already holds its own shard.
            return whole(real, fake)
        return partitioned(real, fake)

    @batchable.def_vmap
    def batched(axis_size, in_batched, real, fake):
        # The mapped axis becomes one more (leading) segment dimension of the same call.
        real_batched, fake_batched = in_batched
        if not real_batched:
            real = jnp.broadcast_to(real, (axis_size,) + real.shape)
        if not fake_batched:
            fake = jnp.broadcast_to(fake, (axis_size,) + fake.shape)
        call = _partitioned_call(cfg, real.ndim, fake.ndim, k + 1)
        return call(real, fake), (True,) * len(_NAMES)

    return batchable


# ---- Shapes and derivatives ----

def _check_shapes(real, fake, segment_dims):
    if real.dtype != fake.dtype:
        raise TypeError(f"real and fake logits must have one dtype, not {real.dtype} and "
                        f"{fake.dtype}")
    if not isinstance(segment_dims, (int, np.integer)) or isinstance(segment_dims, bool) \
            or segment_dims < 0:
        raise ValueError(f"segment_dims must be a non-negative int, not {segment_dims!r}")
    if segment_dims > min(real.ndim, fake.ndim):
        raise ValueError(f"segment_dims={segment_dims} exceeds the dimensions of the logits "
                         f"(real {real.shape}, fake {fake.shape})")
    if real.shape[:segment_dims] != fake.shape[:segment_dims]:
        raise ValueError(f"real logits of shape {real.shape} and fake logits of shape "
                         f"{fake.shape} differ in their {segment_dims} segment dimensions")


def _outputs(real, fake, cfg: LossConfig, segment_dims: int) -> tuple:
    return _partitioned_call(cfg, real.ndim, fake.ndim, segment_dims)(real, fake)


_NO_HIGHER_DERIVATIVES = (
    "ganloss.jax.losses has no second derivatives for {what}: first derivatives (jax.grad, "
    "jax.vjp, jax.jacrev) only; differentiate a jnp formulation of the loss for higher ones")


def _logistic_curvature(x):
    """sigma(x) (1 - sigma(x)), the second derivative of softplus, without cancellation."""
    e = jnp.exp(-jnp.abs(x))
    return e / jnp.square(1.0 + e)


def _curvature(kind: str, x, generator: bool):
    """Second derivative of one element's term (README's table) with respect to its logit."""
    if kind in ("hinge", "wasserstein"):
        return jnp.zeros_like(x)       # piecewise linear (0 at a hinge's kink too)
    if kind == "least-squares":
        return jnp.ones_like(x)
    h = _logistic_curvature(x)         # nonsaturating, minimax; targets do not change it
    return -h if generator and kind == "minimax" else h


def _resharded_like(x, like):
    """x with the sharding of `like` where that sharding is in the types (a mesh with
    Explicit axes), which refuse arithmetic between differently sharded arrays; x itself
    elsewhere."""
    target = getattr(jax.typeof(like), "sharding", None)
    mesh = getattr(target, "mesh", None)
    explicit = getattr(getattr(jax.sharding, "AxisType", None), "Explicit", None)
    if mesh is None or getattr(mesh, "empty", True) or explicit is None or \
            explicit not in getattr(mesh, "axis_types", ()):
        return x
    if jax.typeof(x).sharding.spec == target.spec:
        return x
    return jax.sharding.reshard(x, target)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _primal(real, fake, cfg, segment_dims):
    return _outputs(real, fake, cfg, segment_dims)


@_primal.defjvp
def _primal_jvp(cfg, segment_dims, primals, tangents):
    """Differentiating the forward pass itself: second derivatives through the custom VJP.

    The gradients' tangents are the diagonal second derivatives of the element terms (the
    paired relativistic loss couples each pair), scaled like the gradients; the losses'
    tangents are the gradients' dot products with the logits' tangents. The relativistic
    averages (whose second derivatives couple every element through the means) and
    mean-nonzero (whose divisor depends on the data) are refused.
    """
    d_kind, g_kind, reduction = _kind(cfg.d_loss), _kind(cfg.g_loss), _kind(cfg.reduction)
    if d_kind in _AVERAGE_KINDS or g_kind in _AVERAGE_KINDS:
        raise NotImplementedError(_NO_HIGHER_DERIVATIVES.format(what="the relativistic averages"))
    if reduction not in ("mean", "sum"):
        raise NotImplementedError(_NO_HIGHER_DERIVATIVES.format(what=f"reduction={reduction!r}"))
    real, fake = primals
    out = _primal(real, fake, cfg, segment_dims)
    _, _, _, _, grad_real, grad_fake_d, grad_fake_g, grad_real_g = out
    f32 = jnp.float32
    t_real, t_fake = (t.astype(f32) for t in tangents)
    k = segment_dims
    real_axes, fake_axes = tuple(range(k, real.ndim)), tuple(range(k, fake.ndim))

    def dot(grad, t, axes):
        # d(loss) = sum(dloss/dx dx).
        return jnp.sum(grad.astype(f32) * t, axis=axes)

    def coefficient(x):
        # What the call multiplies each element's derivative by: 1 over the count for a mean.
        count = math.prod(x.shape[k:])
        return 1.0 / count if reduction == "mean" and count else 1.0

    if _paired(cfg):
        # The pairs on the real logits' devices, as the call keeps them.
        fake, t_fake = _resharded_like(fake, real), _resharded_like(t_fake, real)
        # L_D = mean sp(f - r), L_G = mean sp(r - f): one curvature per pair, at f - r.
        d_real = dot(grad_real, t_real, real_axes) + dot(grad_fake_d, t_fake, fake_axes)
        d_fake = jnp.zeros_like(d_real)
        g = dot(grad_real_g, t_real, real_axes) + dot(grad_fake_g, t_fake, fake_axes)
        coupled = (coefficient(real)
                   * _logistic_curvature(fake.astype(f32) - real.astype(f32))
                   * (t_real - t_fake))
        grads = (coupled, -coupled, -coupled, coupled)
    else:
        d_real = dot(grad_real, t_real, real_axes)
        d_fake = dot(grad_fake_d, t_fake, fake_axes)
        g = dot(grad_fake_g, t_fake, fake_axes)
        c_real, c_fake = coefficient(real), coefficient(fake)
        grads = (c_real * _curvature(d_kind, real.astype(f32), False) * t_real,
                 c_fake * _curvature(d_kind, fake.astype(f32), False) * t_fake,
                 c_fake * _curvature(g_kind, fake.astype(f32), True) * t_fake,
                 jnp.zeros_like(t_real))
    # Each gradient's tangent sharded like the gradient.
    grads = tuple(_resharded_like(t.astype(p.dtype), p) for t, p in zip(grads, out[4:]))
    return out, (d_real + d_fake, d_real, d_fake, g) + grads


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _losses(real, fake, cfg, segment_dims):
    out = _primal(real, fake, cfg, segment_dims)
    return out[0], out[3]


def _losses_fwd(real, fake, cfg, segment_dims):
    out = _primal(real, fake, cfg, segment_dims)
    # Zero-size arrays carry the logits' dtypes to the backward pass.
    dtypes = (jnp.zeros((0,), real.dtype), jnp.zeros((0,), fake.dtype))
    return (out[0], out[3]), (out[4:], dtypes)


def _losses_bwd(cfg, segment_dims, residuals, cotangents):
    (grad_real, grad_fake_d, grad_fake_g, grad_real_g), (real_dtype, fake_dtype) = residuals
    ct_d, ct_g = (c.astype(jnp.float32) for c in cotangents)

    def per_element(ct, ndim):
        # A segment's cotangent, broadcast over the segment's elements.
        return ct.reshape(ct.shape + (1,) * (ndim - segment_dims))

    # The forward call already computed d(loss)/d(logit) for each loss; the chain rule only
    # scales them by the cotangent of their segment's loss.
    real = per_element(ct_d, grad_real.ndim) * grad_real.astype(jnp.float32)
    if cfg.relativistic:
        real = real + per_element(ct_g, grad_real.ndim) * grad_real_g.astype(jnp.float32)
    fake = (per_element(ct_d, grad_fake_d.ndim) * grad_fake_d.astype(jnp.float32)
            + per_element(ct_g, grad_fake_d.ndim) * grad_fake_g.astype(jnp.float32))
    return real.astype(real_dtype.dtype), fake.astype(fake_dtype.dtype)


_losses.defvjp(_losses_fwd, _losses_bwd)


def compute(real, fake, *, loss: str = "nonsaturating", d_loss=None, g_loss=None,
            reduction: str = "mean", **params) -> dict:
    """Every per-segment loss and every gradient of one fused call, as a dict of jax arrays.

    real, fake: [count] or [segments, count] logits of one dtype (float32, float16, bfloat16),
    shaped as in ganloss.compute. The keyword arguments are those of ganloss.compute, except
    weights, offsets, statistics and per-element losses, which the JAX call does not take. Not
    differentiable itself: the gradients are among its outputs (see `losses` for a
    differentiable form).
    """
    cfg = LossConfig.make(loss, d_loss, g_loss, reduction=reduction, **params)
    return _ffi(jnp.asarray(real), jnp.asarray(fake), cfg)


def _side(w, x, segments: int, name: str):
    """Weights or targets broadcast against their logits (as BCEWithLogitsLoss's weight), as
    [segments, count] float32; negative weights refused where their values are known."""
    if w is None:
        return None
    w = jnp.asarray(w)
    if not jnp.issubdtype(w.dtype, jnp.floating):
        raise TypeError(f"{name} must be a floating-point array, not {w.dtype}")
    try:
        w = jnp.broadcast_to(w, x.shape)
    except ValueError as error:
        raise ValueError(f"{name} of shape {w.shape} does not broadcast to the logits' shape "
                         f"{x.shape}") from error
    if name.endswith("weights") and not isinstance(w, jax.core.Tracer) and bool((w < 0).any()):
        raise ValueError(f"{name} must be non-negative")
    return w.astype(jnp.float32).reshape(segments, math.prod(x.shape) // max(segments, 1))


def _composed(cfg: LossConfig, real, fake, segment_dims, weights, targets):
    """losses() through the jnp composition (ganloss._jax_math): weights, per-element
    targets, reduction="none"."""
    kind = _kind(cfg.d_loss)
    if real.dtype not in (jnp.float32, jnp.float16, jnp.bfloat16):
        raise TypeError(f"logits must be float32, float16 or bfloat16, not {real.dtype}")
    # The library's checks of the kinds and parameters, with its messages.
    _ganloss.workspace_size(cfg.problem("float32", 1, 1, 1), BACKENDS["cpu"])
    if any(t is not None for t in targets) and kind not in _jax_math.LOGISTIC:
        raise ValueError(f"per-element targets apply to the logistic D kinds (nonsaturating, "
                         f"minimax), not {cfg.d_loss}")
    if kind == "relativistic":
        if real.shape != fake.shape:
            raise ValueError(f"the paired relativistic loss needs real and fake logits of one "
                             f"shape, not {real.shape} and {fake.shape}")
        if weights[1] is not None:
            raise ValueError("the paired relativistic loss takes one weight per pair: pass them "
                             "as real_weights")
    k = segment_dims
    shape = real.shape[:k]
    segments = math.prod(shape)

    def rows(x):
        return x.astype(jnp.float32).reshape(segments, math.prod(x.shape[k:]))

    r, f = rows(real), rows(fake)
    rw, fw = _side(weights[0], real, segments, "real_weights"), \
        _side(weights[1], fake, segments, "fake_weights")
    rt, ft = _side(targets[0], real, segments, "real_targets"), \
        _side(targets[1], fake, segments, "fake_targets")
    out = _jax_math.losses(cfg, r, f, rw, fw, rt, ft)
    if _kind(cfg.reduction) != "none":
        return out["d_loss"].reshape(shape), out["g_loss"].reshape(shape)
    d = (out["loss_real"].reshape(real.shape), out["loss_fake_d"].reshape(fake.shape))
    g = out["loss_fake_g"].reshape(fake.shape)
    if kind in _AVERAGE_KINDS:
        g = (g, out["loss_real_g"].reshape(real.shape))
    return d, g


def losses(real, fake, *, loss: str = "nonsaturating", d_loss=None, g_loss=None,
           reduction: str = "mean", segment_dims: int = 0, real_weights=None,
           fake_weights=None, real_targets=None, fake_targets=None,
           label_smoothing: float = 0.0, **params):
    """(discriminator loss, generator loss), differentiable with respect to both logits.

    real, fake: logits of any shape (float32, float16 or bfloat16, one dtype), for example
    [B], [B, 1] or [B, 1, H, W]. By default each loss reduces over all elements of its logits
    to a scalar, like torch.nn.BCEWithLogitsLoss: "mean" (the default) or "sum".
    segment_dims=k makes the leading k dimensions (equal for both logits) index independent
    segments: the losses then have shape real.shape[:k], each reduced over its segment's
    elements. "mean-nonzero" divides by the number of non-zero terms (weights).
    reduction="none" gives the element losses in the logits' shapes: ((D real terms, D fake
    terms), G fake terms), the G terms of the relativistic averages a pair (fake, real).

    real_weights, fake_weights broadcast against their logits (a weighted mean is
    sum(w l) / sum(w) per segment; negative weights raise ValueError where their values are
    known, else give NaN losses); real_targets, fake_targets are per-element targets of the
    logistic kinds (t sp(-x) + (1 - t) sp(x)); label_smoothing=s as CrossEntropyLoss's
    (targets 1 - s/2 and s/2). Weights, targets and reduction="none" run the losses as
    jax.numpy operations (ganloss._jax_math), differentiable in every argument to any order
    and partitioned by XLA; everything else runs the library's call, as follows.

    Under jax.jit with logits sharded across devices, each device runs the call on its shards:
    split segments need no communication, and split elements of a segment are combined from
    the per-shard losses (no gathering of the logits), except for the relativistic-average
    kinds and "mean-nonzero", which need every logit of a segment at once. Inside shard_map
    the losses are those of the device's shards and vary over the same mesh axes (use
    jax.lax.pmean for the global mean). The backward pass reuses the gradients of the forward
    call: no second pass over the logits. Second derivatives (grad of grad, jax.hessian) for
    the basic kinds and the paired relativistic loss under "mean" and "sum"; the relativistic
    averages and "mean-nonzero" raise NotImplementedError, and forward mode on losses itself
    (jax.jvp) JAX's TypeError for a custom_vjp.
    """
    cfg = LossConfig.make(loss, d_loss, g_loss, reduction=reduction,
                          **smoothed(d_loss or loss, label_smoothing, params))
    if cfg.grad_scale != 1.0 or cfg.fp32_gradients:
        # jax.grad of the losses is their derivative: a scale on the gradients alone would
        # make it something else. The scale belongs on the loss (its cotangent).
        raise ValueError("ganloss.jax.losses is differentiated by JAX: grad_scale and "
                         "fp32_gradients do not apply (scale the loss instead; the gradients "
                         "of 16-bit logits stay in fp32 until scaled by its cotangent)")
    real, fake = jnp.asarray(real), jnp.asarray(fake)
    _check_shapes(real, fake, segment_dims)
    weights, targets = (real_weights, fake_weights), (real_targets, fake_targets)
    if _kind(reduction) == "none" or any(x is not None for x in weights + targets):
        return _composed(cfg, real, fake, int(segment_dims), weights, targets)
    if real.dtype != jnp.float32:
        # The backward pass multiplies the gradients by the cotangents (a loss scale of 2^16,
        # say): kept in fp32 until then, they are rounded to the logits' dtype once, after
        # scaling, instead of before (where small ones would round to 0).
        cfg = dataclasses.replace(cfg, fp32_gradients=True)
    # Inside shard_map both sides vary over the same axes, cast here, outside the custom VJP:
    # the cast's transpose (a psum) then reduces the cotangent of a side that was invariant,
    # which the VJP's own outputs, varying like the call's, could not be.
    varying = _varying(real) | _varying(fake)
    real = _cast_varying(real, varying - _varying(real))
    fake = _cast_varying(fake, varying - _varying(fake))
    return _losses(real, fake, cfg, int(segment_dims))
