"""ganloss for PyTorch: loss modules and differentiable functions over the fused library calls.

    import ganloss.torch as gt
    d_criterion = gt.DiscriminatorLoss("hinge")
    g_criterion = gt.GeneratorLoss("hinge")
    d_loss = d_criterion(D(x), D(G(z).detach()))     # any shape: [B], [B, 1], [B, 1, H, W]
    g_loss = g_criterion(D(G(z)))

Shapes and reductions follow BCEWithLogitsLoss: a loss reduces over every element of its
logits to a scalar unless `segment_dims=k` makes the first k dimensions index independent
segments (one loss each); `reduction="none"` returns per-element losses in the logits' shape.

The forward pass is one execution of a cached library plan (ganloss_plan_execute) that
computes only the wanted losses (and statistics when asked); the backward pass is one VJP call
(ganloss_plan_vjp) that takes the upstream gradients as tensors on the device and writes each
logit's gradient once, in the logits' dtype, from fp32 arithmetic (a GradScaler's scale is
applied before rounding). Both are torch.library custom ops with fake kernels, so
torch.compile(fullgraph=True) traces them with dynamic shapes. Second derivatives and
forward-mode AD, float64 logits, per-element targets, weights that require a gradient and
`reduction="none"` run the same losses written in PyTorch operations (ganloss._torch_math).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from . import _core, _ganloss
from . import _torch_math as _math
from ._core import LossConfig

_PARAM_FIELDS = ("real_target", "fake_target", "margin_real", "margin_fake", "ls_fake_label",
                 "ls_real_label", "ls_gen_label")
_LIBRARY_DTYPES = {torch.float32: "float32", torch.float16: "float16",
                   torch.bfloat16: "bfloat16"}
_STATS_BYTES = _ganloss.STATS_BYTES
_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)
_LIBRARY_DEVICES = ("cpu", "cuda") if _ganloss.built_with_cuda else ("cpu",)

# Which results a forward op computes.
_WANT_D, _WANT_G, _WANT_STATS = 1, 2, 4


# --------------------------------------------------------------------------------------------
# Plans and workspaces

class _PlanCache:
    """Library plans per (configuration, dtype, shapes, backend, device), least recently used
    first out, and one workspace per plan, device and stream (per thread on the CPU), allocated
    once (see _new_workspace) and prepared once by ganloss_plan_workspace_init.

    A CUDA graph captured through a plan keeps that plan's workspace address for as long as the
    graph lives, which this cache cannot see: the workspaces of an evicted plan that ran inside
    a stream capture are kept for the life of the process (bytes per plan: Plan.workspace_bytes)
    rather than freed under a graph that may still replay. Nothing is evicted during a capture,
    where freeing device memory is not allowed."""

    def __init__(self, capacity: int = 128):
        self._capacity = capacity
        self._entries: collections.OrderedDict = collections.OrderedDict()
        self._kept: list = []
        self._configs: dict = {}
        self._lock = threading.Lock()

    def config(self, key) -> LossConfig:
        cfg = self._configs.get(key)
        if cfg is None:
            d_loss, g_loss, reduction, params = key
            cfg = LossConfig.make(d_loss=d_loss, g_loss=g_loss, reduction=reduction,
                                  **dict(zip(_PARAM_FIELDS, params)))
            self._configs[key] = cfg
        return cfg

    def get(self, key, logits: Tensor, segments: int, real_count: int, fake_count: int):
        device = logits.device
        cuda = device.type == "cuda"
        stream = torch.cuda.current_stream(device).cuda_stream if cuda else 0
        # Host calls run on the calling thread: one workspace per thread.
        lane = stream if cuda else threading.get_ident()
        plan_key = (key, logits.dtype, segments, real_count, fake_count, device)
        with self._lock:
            entry = self._entries.get(plan_key)
            if entry is not None:
                self._entries.move_to_end(plan_key)
        new = entry is None
        if new:
            problem = self.config(key).problem(_LIBRARY_DTYPES[logits.dtype], segments,
                                               real_count, fake_count)
            backend = _core.BACKENDS["cuda" if cuda else "cpu"]
            if cuda:
                with torch.cuda.device(device):
                    plan = _Plan(problem, backend)
            else:
                plan = _Plan(problem, backend)
            # [plan, workspaces by lane, whether a call ran inside a stream capture]
            entry = [plan, {}, False]
        plan, workspaces = entry[0], entry[1]
        # Asked once per call, and only where a workspace or an eviction depends on it.
        capturing = cuda and (new or plan.workspace_bytes > 0) and \
            torch.cuda.is_current_stream_capturing()
        if new:
            with self._lock:
                self._entries[plan_key] = entry
                if len(self._entries) > self._capacity and not capturing:
                    self._evict()
        workspace = workspaces.get(lane)
        if workspace is None and plan.workspace_bytes:
            workspace = _new_workspace(plan.workspace_bytes, device, capturing)
            plan.workspace_init(workspace, stream)
            workspaces[lane] = workspace
        if capturing and workspace is not None:
            entry[2] = True
        return plan, workspace, stream

    def _evict(self):
        while len(self._entries) > self._capacity:
            _, (_, workspaces, captured) = self._entries.popitem(last=False)
            if captured:
                self._kept.extend(workspaces.values())


def _new_workspace(nbytes: int, device: torch.device, capturing: bool) -> Tensor:
    """A plan's workspace, which outlives the call that allocates it. CUDA workspaces live in
    the extension's own device memory, not in PyTorch's caching allocator: while
    torch.compile(mode="reduce-overhead") warms up or records a CUDA graph, that allocator puts
    every allocation of the thread into the graph's private pool, where memory that outlives
    the graph's own tensors gets reused by them. A workspace first needed inside a stream
    capture (torch.cuda.graph on a stream without a warm-up call) cannot be allocated outside
    it (cudaMalloc is not capturable): it comes from the capture's pool, held by this cache for
    as long as the plan, so the pool never hands those bytes out again."""
    if device.type == "cuda" and not capturing:
        index = device.index if device.index is not None else torch.cuda.current_device()
        return _ganloss.cuda_buffer(nbytes, index)
    return torch.empty(nbytes, dtype=torch.uint8, device=device)


_plans = _PlanCache()


def _Plan(problem, backend):
    return _ganloss.Plan(problem, backend)


def _key(d_loss: str, g_loss: str, reduction: str, params: Sequence[float]):
    return (d_loss, g_loss, reduction, tuple(float(p) for p in params))


def _problem_of(real: Optional[Tensor], fake: Optional[Tensor]):
    logits = real if real is not None else fake
    return (logits, logits.shape[0], 0 if real is None else real.shape[1],
            0 if fake is None else fake.shape[1])


# --------------------------------------------------------------------------------------------
# The custom ops: forward (ganloss_plan_execute) and VJP (ganloss_plan_vjp)

def _loss_impl(real, fake, real_weights, fake_weights, d_loss, g_loss, reduction, params,
               outputs):
    logits, segments, nr, nf = _problem_of(real, fake)
    plan, workspace, stream = _plans.get(_key(d_loss, g_loss, reduction, params), logits,
                                         segments, nr, nf)

    def per_segment(bit):
        if outputs & bit:
            return torch.empty(segments, dtype=torch.float32, device=logits.device)
        return logits.new_empty((0,), dtype=torch.float32)

    d, dr, df, g = (per_segment(_WANT_D), per_segment(_WANT_D), per_segment(_WANT_D),
                    per_segment(_WANT_G))
    # Zeroed: the statistics hold 4 bytes of padding that the library does not write.
    stats = (torch.zeros((segments, _STATS_BYTES), dtype=torch.uint8, device=logits.device)
             if outputs & _WANT_STATS else logits.new_empty((0,), dtype=torch.uint8))
    on = bool(outputs & _WANT_D)
    plan.execute(real, fake, real_weights, fake_weights, d if on else None, dr if on else None,
                 df if on else None, g if outputs & _WANT_G else None,
                 stats if outputs & _WANT_STATS else None, workspace, stream)
    if outputs & _WANT_STATS:
        # The 4 bytes of padding after the five floats are not values: zero them, so that the
        # output is a function of the inputs.
        stats[:, 20:24] = 0
    return d, dr, df, g, stats


@torch.library.custom_op("ganloss::loss", mutates_args=())
def _loss_op(real: Optional[Tensor], fake: Optional[Tensor], real_weights: Optional[Tensor],
             fake_weights: Optional[Tensor], d_loss: str, g_loss: str, reduction: str,
             params: list[float], outputs: int
             ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Per-segment d_loss, d_loss_real, d_loss_fake, g_loss and the raw statistics of
    [segments, count] logits; results not asked for by `outputs` (1: D, 2: G, 4: statistics)
    are empty."""
    return _loss_impl(real, fake, real_weights, fake_weights, d_loss, g_loss, reduction,
                      params, outputs)


@_loss_op.register_fake
def _loss_fake(real, fake, real_weights, fake_weights, d_loss, g_loss, reduction, params,
               outputs):
    logits = real if real is not None else fake
    segments = logits.shape[0]

    def per_segment(bit):
        return logits.new_empty((segments,) if outputs & bit else (0,), dtype=torch.float32)

    stats = logits.new_empty((segments, _STATS_BYTES) if outputs & _WANT_STATS else (0,),
                             dtype=torch.uint8)
    return (per_segment(_WANT_D), per_segment(_WANT_D), per_segment(_WANT_D),
            per_segment(_WANT_G), stats)


def _loss_setup_context(ctx, inputs, output):
    real, fake, real_weights, fake_weights, d_loss, g_loss, reduction, params, _ = inputs
    ctx.save_for_backward(real, fake, real_weights, fake_weights)
    ctx.config = (d_loss, g_loss, reduction, params)
    ctx.outputs = inputs[8]
    ctx.mark_non_differentiable(output[4])
    ctx.set_materialize_grads(False)


def _add(a: Optional[Tensor], b: Optional[Tensor]) -> Optional[Tensor]:
    if a is None:
        return b
    return a if b is None else a + b


def _cotangent(u: Optional[Tensor]) -> Optional[Tensor]:
    # An upstream gradient may be an expanded scalar: the library reads `segments` floats.
    return None if u is None else u.to(torch.float32).contiguous()


def _loss_backward(ctx, grad_d, grad_d_real, grad_d_fake, grad_g, _grad_stats, vjp=None):
    real, fake, real_weights, fake_weights = ctx.saved_tensors
    d_loss, g_loss, reduction, params = ctx.config
    want_real = ctx.needs_input_grad[0] and real is not None
    want_fake = ctx.needs_input_grad[1] and fake is not None
    if not (want_real or want_fake):
        return None, None, None, None, None, None, None, None, None
    # Outputs that were not computed are empty; their gradients mean nothing.
    if not ctx.outputs & _WANT_D:
        grad_d = grad_d_real = grad_d_fake = None
    if not ctx.outputs & _WANT_G:
        grad_g = None
    kind = _math.kind(d_loss)
    if grad_d_real is None and grad_d_fake is None or kind == "relativistic":
        # The paired loss's D loss is its real part; its fake part is 0.
        calls = [(_add(grad_d, grad_d_real), grad_g, want_real, want_fake)]
    elif kind in _math.AVERAGE:
        # Both parts depend on every logit, and the VJP call takes the cotangent of their sum
        # only: differentiate the PyTorch composition instead.
        return _parts_vjp(ctx, real, fake, real_weights, fake_weights,
                          {"d_loss": grad_d, "d_loss_real": grad_d_real,
                           "d_loss_fake": grad_d_fake, "g_loss": grad_g},
                          want_real, want_fake) + (None,) * 7
    else:
        # The basic kinds: the real part depends on the real logits only, the fake part and
        # the G loss on the fake logits only; one call per side.
        calls = [(_add(grad_d, grad_d_real), None, want_real, False),
                 (_add(grad_d, grad_d_fake), grad_g, False, want_fake)]
    grad_real = grad_fake = None
    for u_d, u_g, wr, wf in calls:
        if not (wr or wf) or (u_d is None and u_g is None):
            continue
        gr, gf = (vjp or _vjp_op)(real, fake, real_weights, fake_weights, _cotangent(u_d),
                         _cotangent(u_g), d_loss, g_loss, reduction, params,
                         int(wr) | (int(wf) << 1))
        grad_real = gr if wr else grad_real
        grad_fake = gf if wf else grad_fake
    return grad_real, grad_fake, None, None, None, None, None, None, None


def _parts_vjp(ctx, real, fake, real_weights, fake_weights, cotangents, want_real, want_fake):
    cfg = _plans.config(_key(*ctx.config))
    # Grad mode is on here exactly when the caller asked for create_graph=True: the gradients
    # are then differentiated through the composition, in the logits and the cotangents.
    create_graph = torch.is_grad_enabled()

    def leaf(x):
        if create_graph and x.requires_grad:
            return x.float()
        return x.detach().float().requires_grad_()

    with torch.enable_grad():
        r, f = leaf(real), leaf(fake)
        out = _math.losses(cfg, r, f, real_weights, fake_weights)
        total = sum((u * out[name]).sum() for name, u in cotangents.items() if u is not None)
        grad_real, grad_fake = torch.autograd.grad(total, (r, f), create_graph=create_graph)
    return (grad_real.to(real.dtype) if want_real else None,
            grad_fake.to(fake.dtype) if want_fake else None)


_loss_op.register_autograd(_loss_backward, setup_context=_loss_setup_context)


def _vjp_impl(real, fake, real_weights, fake_weights, cotangent_d, cotangent_g, d_loss, g_loss,
              reduction, params, grads):
    logits, segments, nr, nf = _problem_of(real, fake)
    plan, workspace, stream = _plans.get(_key(d_loss, g_loss, reduction, params), logits,
                                         segments, nr, nf)
    grad_real = torch.empty_like(real) if grads & 1 else logits.new_empty((0,))
    grad_fake = torch.empty_like(fake) if grads & 2 else logits.new_empty((0,))
    plan.vjp(real, fake, real_weights, fake_weights, cotangent_d, cotangent_g,
             grad_real if grads & 1 else None, grad_fake if grads & 2 else None, workspace,
             stream)
    return grad_real, grad_fake


@torch.library.custom_op("ganloss::loss_vjp", mutates_args=())
def _vjp_op(real: Optional[Tensor], fake: Optional[Tensor], real_weights: Optional[Tensor],
            fake_weights: Optional[Tensor], cotangent_d: Optional[Tensor],
            cotangent_g: Optional[Tensor], d_loss: str, g_loss: str, reduction: str,
            params: list[float], grads: int) -> tuple[Tensor, Tensor]:
    """d/dx of sum_s u_d[s] L_D[s] + u_g[s] L_G[s] for the real (grads & 1) and fake
    (grads & 2) logits, in their dtype; an unwanted gradient is empty."""
    return _vjp_impl(real, fake, real_weights, fake_weights, cotangent_d, cotangent_g, d_loss,
                     g_loss, reduction, params, grads)


@_vjp_op.register_fake
def _vjp_fake(real, fake, real_weights, fake_weights, cotangent_d, cotangent_g, d_loss, g_loss,
              reduction, params, grads):
    logits = real if real is not None else fake
    return (torch.empty_like(real) if grads & 1 else logits.new_empty((0,)),
            torch.empty_like(fake) if grads & 2 else logits.new_empty((0,)))


def _vjp_setup_context(ctx, inputs, output):
    real, fake, real_weights, fake_weights, cotangent_d, cotangent_g = inputs[:6]
    ctx.save_for_backward(real, fake, real_weights, fake_weights, cotangent_d, cotangent_g)
    ctx.config = inputs[6:10]
    ctx.grads = inputs[10]
    ctx.set_materialize_grads(False)


def _first_derivatives(cfg, real_weights, fake_weights, grads):
    """The VJP as PyTorch operations: (real, fake, u_d, u_g) -> the wanted gradients, in fp32
    arithmetic for 16-bit logits, like the library."""

    def total(r, f, u_d, u_g):
        out = _math.losses(cfg, _at_least_float32(r), _at_least_float32(f), real_weights,
                           fake_weights)
        value = 0
        if u_d is not None:
            value = value + (u_d.to(out["d_loss"].dtype) * out["d_loss"]).sum()
        if u_g is not None:
            value = value + (u_g.to(out["g_loss"].dtype) * out["g_loss"]).sum()
        return value

    def derivatives(r, f, u_d, u_g):
        wrt = [x for x, bit in ((r, 1), (f, 2)) if x is not None and grads & bit]
        with torch.enable_grad():
            value = total(r, f, u_d, u_g)
            found = (torch.autograd.grad(value, wrt, create_graph=True, allow_unused=True)
                     if torch.is_tensor(value) and value.requires_grad else [None] * len(wrt))
        found = [torch.zeros_like(x) if g is None else g for x, g in zip(wrt, found)]
        it = iter(found)
        return (next(it) if r is not None and grads & 1 else None,
                next(it) if f is not None and grads & 2 else None)

    return derivatives


def _vjp_backward(ctx, grad_grad_real, grad_grad_fake):
    real, fake, real_weights, fake_weights, cotangent_d, cotangent_g = ctx.saved_tensors
    d_loss, g_loss, reduction, params = ctx.config
    cfg = _plans.config(_key(d_loss, g_loss, reduction, params))
    derivatives = _first_derivatives(cfg, real_weights, fake_weights, ctx.grads)
    primals = [real, fake, cotangent_d, cotangent_g]
    # Autograd runs this with grad mode on only when the caller asked for create_graph=True:
    # the result is differentiable then, and a plain tensor without a graph otherwise.
    create_graph = torch.is_grad_enabled()
    # Differentiate the PyTorch composition of the VJP once more, with respect to whatever of
    # (real, fake, u_d, u_g) is present.
    with torch.enable_grad():
        leaves = [None if x is None else (x if x.requires_grad else x.detach().requires_grad_())
                  for x in primals]
        gr, gf = derivatives(*leaves)
        outputs, cotangents = [], []
        for out, upstream in ((gr, grad_grad_real), (gf, grad_grad_fake)):
            # A gradient that does not depend on anything (wasserstein, hinge: piecewise
            # linear terms) has a zero derivative.
            if out is not None and out.requires_grad and upstream is not None \
                    and upstream.numel():
                outputs.append(out)
                cotangents.append(upstream)
        wrt = [x for x in leaves if x is not None]
        if outputs:
            found = torch.autograd.grad(outputs, wrt, cotangents,
                                        create_graph=create_graph,
                                        allow_unused=True)
        else:
            found = [None] * len(wrt)
    it = iter(found)
    result = [None if x is None else next(it) for x in leaves]
    for i, (x, g, input_index) in enumerate(zip(leaves, result, (0, 1, 4, 5))):
        if x is not None and g is None and ctx.needs_input_grad[input_index]:
            result[i] = torch.zeros_like(x)
    return (result[0], result[1], None, None, result[2], result[3], None, None, None, None,
            None)


_vjp_op.register_autograd(_vjp_backward, setup_context=_vjp_setup_context)


class _LossFunction(torch.autograd.Function):
    """ganloss::loss and its autograd for eager calls, without the custom op's dispatch: the
    same forward, backward and double backward, at a fraction of the Python cost per call.
    torch.compile traces the custom ops instead."""

    @staticmethod
    def forward(ctx, real, fake, real_weights, fake_weights, d_loss, g_loss, reduction, params,
                outputs):
        inputs = (real, fake, real_weights, fake_weights, d_loss, g_loss, reduction, params,
                  outputs)
        output = _loss_impl(*inputs)
        _loss_setup_context(ctx, inputs, output)
        return output

    @staticmethod
    def backward(ctx, *grads):
        return _loss_backward(ctx, *grads, vjp=_VjpFunction.apply)


class _VjpFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, *inputs):
        output = _vjp_impl(*inputs)
        _vjp_setup_context(ctx, inputs, output)
        return output

    @staticmethod
    def backward(ctx, grad_grad_real, grad_grad_fake):
        return _vjp_backward(ctx, grad_grad_real, grad_grad_fake)


class _OneLoss(torch.autograd.Function):
    """One module's loss (the D loss, or the G loss) of unweighted logits for eager calls: one
    plan execution forward, one VJP call backward, on the buffers' addresses. The logits are
    the caller's contiguous tensors of any shape, read as [segments, count] rows; the loss has
    shape `shape` (segments values) and the gradients the logits' shapes, so the call adds no
    view to the autograd graph. _LossModule._one_loss checks what the DLPack path would. A
    backward that must itself be differentiable (create_graph=True) runs the VJP through
    _VjpFunction instead."""

    @staticmethod
    def forward(ctx, real, fake, key, generator, shape):
        segments = shape.numel()
        nr = 0 if real is None else real.numel() // segments
        nf = fake.numel() // segments
        plan, workspace, stream = _plans.get(key, fake, segments, nr, nf)
        loss = torch.empty(shape, dtype=torch.float32, device=fake.device)
        at = loss.data_ptr()
        space = (0 if workspace is None else workspace.data_ptr(), plan.workspace_bytes)
        plan.execute_at(0 if real is None else real.data_ptr(), fake.data_ptr(), 0, 0,
                        0 if generator else at, 0, 0, at if generator else 0, 0, *space,
                        stream)
        ctx.save_for_backward(real, fake)
        # On CUDA the backward runs on the forward's stream (autograd's rule), so it reuses the
        # plan and the workspace of that stream; holding them keeps them alive until then.
        ctx.call = (key, generator, segments, nr, nf, plan, workspace, space, stream)
        return loss

    @staticmethod
    def backward(ctx, upstream):
        real, fake = ctx.saved_tensors
        want_real = real is not None and ctx.needs_input_grad[0]
        want_fake = ctx.needs_input_grad[1]
        if not (want_real or want_fake) or upstream is None:
            return None, None, None, None, None
        key, generator, segments, nr, nf, plan, _, space, stream = ctx.call
        u = upstream
        if u.dtype != torch.float32 or not u.is_contiguous():
            u = u.to(torch.float32).contiguous()
        if torch.is_grad_enabled():
            d_loss, g_loss, reduction, params = key
            r2 = None if real is None else real.reshape(segments, nr)
            u = u.reshape(segments)
            gr, gf = _VjpFunction.apply(r2, fake.reshape(segments, nf), None, None,
                                        None if generator else u, u if generator else None,
                                        d_loss, g_loss, reduction, list(params),
                                        int(want_real) | (int(want_fake) << 1))
            return (gr.reshape(real.shape) if want_real else None,
                    gf.reshape(fake.shape) if want_fake else None, None, None, None)
        if fake.device.type == "cpu":
            # Host calls run on the calling thread, and the backward may run on another thread
            # than its forward: the workspace is this thread's.
            plan, workspace, stream = _plans.get(key, fake, segments, nr, nf)
            space = (0 if workspace is None else workspace.data_ptr(), plan.workspace_bytes)
        gr = torch.empty_like(real) if want_real else None
        gf = torch.empty_like(fake) if want_fake else None
        plan.vjp_at(0 if real is None else real.data_ptr(), fake.data_ptr(), 0, 0,
                    0 if generator else u.data_ptr(), u.data_ptr() if generator else 0,
                    0 if gr is None else gr.data_ptr(), 0 if gf is None else gf.data_ptr(),
                    *space, stream)
        return gr, gf, None, None, None


# --------------------------------------------------------------------------------------------
# Shapes, weights, and the choice between the library and the PyTorch composition

def _segments(x: Tensor, segment_dims: int, name: str) -> Tensor:
    """[segments, count] view (or copy, when not contiguous) of logits; the first
    `segment_dims` dimensions index the segments."""
    if not 0 <= segment_dims <= x.dim():
        raise ValueError(f"segment_dims={segment_dims} for {name} logits of shape "
                         f"{tuple(x.shape)}: expected 0 to {x.dim()}")
    # The count is named, not inferred: with no segments (a leading 0) -1 would be ambiguous.
    return x.reshape(x.shape[:segment_dims].numel(), x.shape[segment_dims:].numel())


def _broadcast(w: Optional[Tensor], x: Tensor, x2: Tensor, name: str) -> Optional[Tensor]:
    """Weights or targets broadcast against their logits (as BCEWithLogitsLoss's weight), in
    the logits' [segments, count] layout."""
    if w is None:
        return None
    if not torch.is_tensor(w):
        w = torch.as_tensor(w, device=x.device)
    if not w.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, not {w.dtype}")
    try:
        w = torch.broadcast_to(w, x.shape)
    except RuntimeError as error:
        raise ValueError(f"{name} of shape {tuple(w.shape)} does not broadcast to the logits' "
                         f"shape {tuple(x.shape)}") from error
    return w.reshape(x2.shape)


def _wrapped(t: Optional[Tensor]) -> bool:
    """Whether t carries a forward-mode tangent or is inside a torch.func transform."""
    if t is None:
        return False
    if torch._C._functorch.is_functorch_wrapped_tensor(t):
        return True
    return torch.autograd.forward_ad._current_level >= 0 and \
        torch.autograd.forward_ad.unpack_dual(t).tangent is not None


def _negative_weight_factor(weights) -> Optional[Tensor]:
    """Negative weights have no defined mean: a ValueError where the weights can be read
    before the call (CPU tensors, eagerly), else a factor per segment that is NaN where a
    segment has a negative weight and 1 elsewhere, multiplied into its losses (and so into
    their gradients)."""
    factor = None
    for name, w in weights:
        if w is None:
            continue
        if w.device.type == "cpu" and not torch.compiler.is_compiling():
            if bool((w < 0).any()):
                raise ValueError(f"{name} must be non-negative")
            continue
        bad = (w < 0).any(-1)
        f = torch.where(bad, torch.full(bad.shape, float("nan"), device=w.device),
                        torch.ones(bad.shape, device=w.device))
        factor = f if factor is None else factor * f
    return factor


def _at_least_float32(x: Optional[Tensor]) -> Optional[Tensor]:
    return x.float() if x is not None and x.dtype in (torch.float16, torch.bfloat16) else x


def _library_runs(cfg: LossConfig, tensors, weights, targets) -> bool:
    if _math.kind(cfg.reduction) == "none" or any(t is not None for t in targets):
        return False
    dtypes = {t.dtype for t in tensors if t is not None}
    if len(dtypes) != 1 or next(iter(dtypes)) not in _LIBRARY_DTYPES:
        return False
    device = next(t for t in tensors if t is not None).device
    if device.type not in ("cpu", "cuda") or (device.type == "cuda" and
                                              not _ganloss.built_with_cuda):
        return False
    if any(w is not None and w.requires_grad for w in weights):
        return False
    if not torch.compiler.is_compiling() and any(_wrapped(t) for t in (*tensors, *weights)):
        return False
    return True


def _stats_of(raw: Tensor) -> dict:
    floats = raw.view(torch.float32)
    ints = raw.view(torch.int64)
    stats = {name: floats[:, i] for i, name in enumerate(_core.STATS_FLOAT_FIELDS)}
    stats.update({name: ints[:, 3 + i] for i, name in enumerate(_core.STATS_INT_FIELDS)})
    return stats


def _evaluate(cfg: LossConfig, real: Optional[Tensor], fake: Optional[Tensor], real_weights,
              fake_weights, *, want_d: bool, want_g: bool, stats: bool, segment_dims: int,
              real_targets=None, fake_targets=None) -> dict:
    """The per-segment losses ([segments]) or, for reduction "none", the element losses of
    [segments, count] views, from the library or from the PyTorch composition."""
    if cfg.grad_scale != 1.0 or cfg.fp32_gradients:
        raise ValueError("ganloss.torch differentiates the losses themselves: grad_scale and "
                         "fp32_gradients do not apply (scale the loss, e.g. with a GradScaler; "
                         "gradients are formed in fp32 and rounded once to the logits' dtype)")
    if real is not None and fake is not None:
        if real.dtype != fake.dtype:
            raise TypeError(f"real and fake logits must have one dtype, not {real.dtype} and "
                            f"{fake.dtype}")
        if real.device != fake.device:
            raise ValueError(f"real logits are on {real.device}, fake logits on {fake.device}")
    kind = _math.kind(cfg.d_loss)
    if kind == "relativistic" and real is not None and fake is not None \
            and real.shape != fake.shape:
        raise ValueError(f"the paired relativistic loss needs real and fake logits of one shape, "
                         f"not {tuple(real.shape)} and {tuple(fake.shape)}")
    if (real_targets is not None or fake_targets is not None) and kind not in _math.LOGISTIC:
        raise ValueError(f"per-element targets apply to the logistic D kinds (nonsaturating, "
                         f"minimax), not {cfg.d_loss}")
    r2 = None if real is None else _segments(real, segment_dims, "real")
    f2 = None if fake is None else _segments(fake, segment_dims, "fake")
    if r2 is not None and f2 is not None and r2.shape[0] != f2.shape[0]:
        raise ValueError(f"real logits of shape {tuple(real.shape)} and fake logits of shape "
                         f"{tuple(fake.shape)} do not have the same segments "
                         f"(segment_dims={segment_dims})")
    rw = None if real is None else _broadcast(real_weights, real, r2, "real_weights")
    fw = None if fake is None else _broadcast(fake_weights, fake, f2, "fake_weights")
    rt = None if real is None else _broadcast(real_targets, real, r2, "real_targets")
    ft = None if fake is None else _broadcast(fake_targets, fake, f2, "fake_targets")
    if kind == "relativistic" and fw is not None:
        raise ValueError("the paired relativistic loss takes one weight per pair: pass them as "
                         "real_weights")
    factor = _negative_weight_factor((("real_weights", rw), ("fake_weights", fw)))

    if _library_runs(cfg, (r2, f2), (rw, fw), (rt, ft)):
        params = [float(getattr(cfg, f)) for f in _PARAM_FIELDS]
        outputs = (_WANT_D if want_d else 0) | (_WANT_G if want_g else 0) | \
            (_WANT_STATS if stats else 0)
        as_f32 = (lambda w: None if w is None else w.to(torch.float32).contiguous())
        call = _loss_op if torch.compiler.is_compiling() else _LossFunction.apply
        d, dr, df, g, raw = call(
            None if r2 is None else r2.contiguous(), None if f2 is None else f2.contiguous(),
            as_f32(rw), as_f32(fw), cfg.d_loss, cfg.g_loss, cfg.reduction, params, outputs)
        out = {}
        if want_d:
            out.update(d_loss=d, d_loss_real=dr, d_loss_fake=df)
        if want_g:
            out["g_loss"] = g
        if stats:
            out["stats"] = _stats_of(raw)
    else:
        # The composition computes in fp32 for 16-bit tensors, as the library does: in their
        # own dtype a count, a weight sum or a sum of terms would round, or pass 65504 and
        # overflow in fp16. Autograd rounds each gradient once, to its tensor's dtype.
        r2, f2, rw, fw, rt, ft = (_at_least_float32(x) for x in (r2, f2, rw, fw, rt, ft))
        out = _math.losses(cfg, r2, f2, rw, fw, rt, ft)
        if stats:
            out["stats"] = _math.statistics(r2, f2)
    if factor is not None:
        for name in ("d_loss", "d_loss_real", "d_loss_fake", "g_loss"):
            if name in out:
                out[name] = out[name] * factor.to(out[name].dtype)
    return out


def _process_group_mean(cfg: LossConfig, real, fake, real_weights, fake_weights, group, *,
                        want_d, want_g, stats, segment_dims, real_targets, fake_targets):
    """Mean reductions over the union of every rank's logits: each rank's sums and weight sums
    (or counts) are all-reduced; each rank's logits get the exact gradient of the global mean,
    d/dx (sum over all ranks) / (global weight sum)."""
    import torch.distributed as dist

    kind = _math.kind(cfg.d_loss)
    reduction = _math.kind(cfg.reduction)
    if kind in _math.AVERAGE:
        raise ValueError(f"process_group: the {cfg.d_loss} loss needs the global means of the "
                         "logits, which a per-rank call cannot form; use a basic or the paired "
                         "relativistic kind")
    if reduction not in ("mean", "mean-nonzero", "sum"):
        return _evaluate(cfg, real, fake, real_weights, fake_weights, want_d=want_d,
                         want_g=want_g, stats=stats, segment_dims=segment_dims,
                         real_targets=real_targets, fake_targets=fake_targets)
    local = _evaluate(dataclasses.replace(cfg, reduction="sum"), real, fake, real_weights,
                      fake_weights, want_d=want_d, want_g=want_g, stats=stats,
                      segment_dims=segment_dims, real_targets=real_targets,
                      fake_targets=fake_targets)

    def norm(x, w):
        if x is None:
            return None
        x2 = _segments(x, segment_dims, "logits")
        w2 = _broadcast(w, x, x2, "weights")
        if reduction == "sum":
            return torch.ones(x2.shape[0], dtype=torch.float64, device=x.device)
        if w2 is None:
            return torch.full((x2.shape[0],), x2.shape[1], dtype=torch.float64, device=x.device)
        if reduction == "mean-nonzero":
            return (w2 != 0).sum(-1).double()
        # In double: a 16-bit sum would round, or pass 65504 and overflow in fp16. Differentiable
        # in weights that require a gradient: the mean's divisor depends on them.
        return w2.double().sum(-1)

    ref = real if real is not None else fake
    segments = _segments(ref, segment_dims, "logits").shape[0]
    zeros = torch.zeros(segments, dtype=torch.float64, device=ref.device)
    n_real = norm(real, real_weights)
    n_fake = norm(fake, fake_weights)
    parts = {"d_loss_real": (n_real, local.get("d_loss_real")),
             "d_loss_fake": (n_real if kind == "relativistic" else n_fake,
                             local.get("d_loss_fake")),
             "g_loss": (n_real if kind == "relativistic" else n_fake, local.get("g_loss"))}
    names = [k for k, (_, v) in parts.items() if v is not None]
    buffer = torch.stack([(parts[k][1].detach().double()) for k in names] +
                         [zeros if n is None else n.detach() for n in (n_real, n_fake)])
    dist.all_reduce(buffer, group=group)
    totals = dict(zip(names, buffer[:len(names)]))

    def global_of(local, total):
        # The local weight sum carries the weights' gradient; the other ranks' are constants.
        if local is None or not local.requires_grad:
            return total
        return local + (total - local).detach()

    global_norm = {"real": global_of(n_real, buffer[len(names)]),
                   "fake": global_of(n_fake, buffer[len(names) + 1])}
    out = {}
    for name in names:
        side = "real" if name == "d_loss_real" or kind == "relativistic" else "fake"
        n = global_norm[side]
        value = parts[name][1]
        if reduction == "sum":
            scale = torch.ones_like(n).to(value.dtype)
        else:
            safe = torch.where(n != 0, n, torch.ones_like(n))
            scale = torch.where(n != 0, 1.0 / safe, torch.zeros_like(n)).to(value.dtype)
        # The local part carries the gradient; the other ranks' parts are constants.
        out[name] = (value + (totals[name].to(value.dtype) - value).detach()) * scale
    if want_d:
        out["d_loss"] = out["d_loss_real"] + out["d_loss_fake"]
    if stats:
        out["stats"] = local["stats"]
    return out


def _shape_results(out: dict, ref: Tensor, segment_dims: int) -> dict:
    shape = ref.shape[:segment_dims]
    result = {}
    for name, value in out.items():
        if name == "stats":
            result[name] = {k: v.reshape(shape) for k, v in value.items()}
        elif value.dim() == 1:
            result[name] = value.reshape(shape)
        else:
            result[name] = value
    return result


def _element_losses(out: dict, real, fake) -> dict:
    result = {}
    for name, like in (("loss_real", real), ("loss_real_g", real), ("loss_fake_d", fake),
                       ("loss_fake_g", fake)):
        if like is not None and name in out:
            # In the logits' dtype, like BCEWithLogitsLoss's: formed in fp32, rounded once.
            result[name] = out[name].reshape(like.shape).to(like.dtype)
    return result


# --------------------------------------------------------------------------------------------
# The public API

def _make_config(loss, reduction, label_smoothing, params) -> LossConfig:
    return LossConfig.make(loss, reduction=reduction,
                           **_core.smoothed(loss, label_smoothing, params))


def losses(real: Tensor, fake: Tensor, *, loss: str = "nonsaturating",
           d_loss: Optional[str] = None, g_loss: Optional[str] = None, reduction: str = "mean",
           real_weights: Optional[Tensor] = None, fake_weights: Optional[Tensor] = None,
           segment_dims: int = 0, **params) -> tuple[Tensor, Tensor]:
    """(discriminator loss, generator loss), differentiable in both logits, from one call.

    Reduces over every element by default (scalars); `segment_dims=k` gives one loss per
    index of the first k dimensions. Weights broadcast against their logits. The keyword
    parameters are the loss parameters of ganloss.compute (real_target, margin_real, ...).
    With reduction="none" the losses are the per-segment sums.
    """
    cfg = LossConfig.make(loss, d_loss, g_loss, reduction=reduction, **params)
    if _math.kind(cfg.reduction) == "none":
        cfg = dataclasses.replace(cfg, reduction="sum")
    out = _evaluate(cfg, real, fake, real_weights, fake_weights, want_d=True, want_g=True,
                    stats=False, segment_dims=segment_dims)
    out = _shape_results(out, real, segment_dims)
    return out["d_loss"], out["g_loss"]


class _LossModule(torch.nn.Module):
    def __init__(self, loss, reduction, segment_dims, label_smoothing, process_group, details,
                 params):
        super().__init__()
        # Validated now, not at the first step.
        self.config = _make_config(loss, reduction, label_smoothing, params)
        if self.config.grad_scale != 1.0 or self.config.fp32_gradients:
            raise ValueError("ganloss.torch differentiates the losses themselves: grad_scale "
                             "and fp32_gradients do not apply")
        if segment_dims < 0:
            raise ValueError(f"segment_dims must be >= 0, got {segment_dims}")
        self.segment_dims = int(segment_dims)
        self.process_group = process_group
        self.details = bool(details)

    def _library_call(self):
        """(plan-cache key, paired) of the current configuration, or None where module calls
        need the general path (a process group, details, reduction "none"). Read at every
        call: the attributes may be changed after construction."""
        if self.process_group is not None or self.details:
            return None
        cfg = self.config
        cached = self.__dict__.get("_library_key")
        if cached is None or cached[0] is not cfg:
            key = _key(cfg.d_loss, cfg.g_loss, cfg.reduction,
                       [float(getattr(cfg, f)) for f in _PARAM_FIELDS])
            call = None if _math.kind(cfg.reduction) == "none" else \
                (key, _math.kind(cfg.d_loss) == "relativistic")
            cached = (cfg, call)
            self.__dict__["_library_key"] = cached
        return cached[1]

    def _one_loss(self, real: Optional[Tensor], fake: Tensor, generator: bool):
        """The loss of an eager call through _OneLoss, or None where the call needs the
        general path (which also gives every error its message)."""
        call = self._library_call()
        if call is None:
            return None
        key, paired = call
        dtype, device = fake.dtype, fake.device
        if dtype not in _LIBRARY_DTYPES or type(fake) not in _PLAIN_TENSORS or \
                fake.layout is not torch.strided or device.type not in _LIBRARY_DEVICES or \
                torch.compiler.is_compiling() or _wrapped(fake):
            return None
        k = self.segment_dims
        shape = fake.shape[:k]
        if k > fake.dim() or fake.numel() == 0:
            return None
        if real is not None:
            if real.dtype != dtype or real.device != device or \
                    type(real) not in _PLAIN_TENSORS or real.layout is not torch.strided or \
                    _wrapped(real) or real.shape[:k] != shape or real.numel() == 0 or \
                    (paired and real.shape != fake.shape):
                return None
            real = real.contiguous()
        return _OneLoss.apply(real, fake.contiguous(), key, generator, shape)

    def _run(self, real, fake, real_weights, fake_weights, real_targets, fake_targets, *,
             want_d, want_g):
        cfg = self.config
        kwargs = dict(want_d=want_d, want_g=want_g, stats=self.details,
                      segment_dims=self.segment_dims, real_targets=real_targets,
                      fake_targets=fake_targets)
        if self.process_group is not None:
            out = _process_group_mean(cfg, real, fake, real_weights, fake_weights,
                                      self.process_group, **kwargs)
        else:
            out = _evaluate(cfg, real, fake, real_weights, fake_weights, **kwargs)
        ref = real if real is not None else fake
        if _math.kind(cfg.reduction) == "none":
            result = _element_losses(out, real, fake)
            if "stats" in out:
                result["stats"] = _shape_results({"stats": out["stats"]}, ref,
                                                 self.segment_dims)["stats"]
            return result
        return _shape_results(out, ref, self.segment_dims)

    def extra_repr(self) -> str:
        extra = f", segment_dims={self.segment_dims}" if self.segment_dims else ""
        return f"loss={self.config.d_loss!r}, reduction={self.config.reduction!r}{extra}"


class DiscriminatorLoss(_LossModule):
    """The discriminator's loss: `DiscriminatorLoss("hinge")(real_logits, fake_logits)`.

    loss: a kind of ganloss (nonsaturating, minimax, hinge, wasserstein, least-squares,
        relativistic, relativistic-average[-hinge|-least-squares]).
    reduction: "mean" (default), "sum", "mean-nonzero" (weighted by the count of non-zero
        weights) or "none": per-element losses, returned as (real part, fake part) in the
        logits' shapes.
    segment_dims: 0 (default) reduces over every element to a scalar, like
        BCEWithLogitsLoss; k > 0 gives one loss per index of the first k dimensions.
    label_smoothing: for the logistic kinds, CrossEntropyLoss's smoothing of the two classes
        (targets 1 - s/2 and s/2); `real_target=0.9` is one-sided smoothing.
    process_group: a torch.distributed group over which mean reductions are global: the sums
        and weight sums (or counts) of every rank are all-reduced, so the loss is the mean over
        the union of the ranks' logits and each rank's logits receive its exact gradient.
    details: also return a dict with d_loss_real, d_loss_fake and the statistics
        (mean_sigmoid_real, mean_sigmoid_fake, frac_real_positive, frac_fake_negative,
        mean_sign_real, nonfinite_real, nonfinite_fake), from the same call.
    params: the loss parameters of ganloss.compute (real_target, fake_target, margin_real,
        margin_fake, ls_fake_label, ls_real_label).

    forward(real_logits, fake_logits, real_weights=None, fake_weights=None, *,
            real_targets=None, fake_targets=None): weights and targets broadcast against their
    logits, in any floating dtype; per-element targets apply to the logistic kinds.
    """

    def __init__(self, loss: str = "nonsaturating", reduction: str = "mean", *,
                 segment_dims: int = 0, label_smoothing: float = 0.0, process_group=None,
                 details: bool = False, **params):
        super().__init__(loss, reduction, segment_dims, label_smoothing, process_group,
                         details, params)

    def forward(self, real_logits: Tensor, fake_logits: Tensor,
                real_weights: Optional[Tensor] = None, fake_weights: Optional[Tensor] = None,
                *, real_targets: Optional[Tensor] = None,
                fake_targets: Optional[Tensor] = None):
        if real_weights is None and fake_weights is None and \
                real_targets is None and fake_targets is None and \
                torch.is_tensor(real_logits) and torch.is_tensor(fake_logits):
            loss = self._one_loss(real_logits, fake_logits, False)
            if loss is not None:
                return loss
        out = self._run(real_logits, fake_logits, real_weights, fake_weights, real_targets,
                        fake_targets, want_d=True, want_g=False)
        if _math.kind(self.config.reduction) == "none":
            loss = (out["loss_real"], out["loss_fake_d"])
            info = {"stats": out["stats"]} if "stats" in out else {}
        else:
            loss = out["d_loss"]
            info = {k: out[k] for k in ("d_loss_real", "d_loss_fake", "stats") if k in out}
        return (loss, info) if self.details else loss


class GeneratorLoss(_LossModule):
    """The generator's loss: `GeneratorLoss("nonsaturating")(fake_logits)`; the relativistic
    kinds also take the real logits: `GeneratorLoss("relativistic")(fake_logits, real_logits)`.

    Takes the arguments of DiscriminatorLoss. With reduction="none" it returns the
    per-element G terms of the fake logits (and, for the relativistic average kinds, a pair
    (fake terms, real terms)).
    """

    def __init__(self, loss: str = "nonsaturating", reduction: str = "mean", *,
                 segment_dims: int = 0, process_group=None, details: bool = False, **params):
        super().__init__(loss, reduction, segment_dims, 0.0, process_group, details, params)

    def forward(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None,
                fake_weights: Optional[Tensor] = None, real_weights: Optional[Tensor] = None):
        cfg = self.config
        if real_logits is None and cfg.relativistic:
            raise ValueError(f"the {cfg.g_loss} generator loss needs the real logits")
        if not cfg.relativistic:
            # The basic G losses do not depend on the real logits.
            real_logits = real_weights = None
        if real_weights is None and fake_weights is None and \
                torch.is_tensor(fake_logits) and \
                (real_logits is None or torch.is_tensor(real_logits)):
            loss = self._one_loss(real_logits, fake_logits, True)
            if loss is not None:
                return loss
        out = self._run(real_logits, fake_logits, real_weights, fake_weights, None, None,
                        want_d=False, want_g=True)
        if _math.kind(cfg.reduction) == "none":
            if _math.kind(cfg.d_loss) in _math.AVERAGE:
                loss: Union[Tensor, tuple] = (out["loss_fake_g"], out["loss_real_g"])
            else:
                loss = out["loss_fake_g"]
            info = {"stats": out["stats"]} if "stats" in out else {}
        else:
            loss = out["g_loss"]
            info = {"stats": out["stats"]} if "stats" in out else {}
        return (loss, info) if self.details else loss
