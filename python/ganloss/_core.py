"""The framework-neutral API: loss configuration, problem shapes and `compute`."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

from . import _frameworks, _ganloss

LOSS_KINDS = {
    "nonsaturating": 0,
    "minimax": 1,
    "hinge": 2,
    "wasserstein": 3,
    "least-squares": 4,
    "relativistic": 5,
    "relativistic-average": 6,
    "relativistic-average-hinge": 7,
    "relativistic-average-least-squares": 8,
}
REDUCTIONS = {"none": 0, "sum": 1, "mean": 2, "mean-nonzero": 3}
BACKENDS = {"cuda": 0, "cpu": 1, "reference": 2}
DTYPES = {"float32": 0, "float16": 1, "bfloat16": 2}

PER_SEGMENT_OUTPUTS = ("d_loss", "d_loss_real", "d_loss_fake", "g_loss")
REAL_OUTPUTS = ("grad_real", "grad_real_g", "loss_real", "loss_real_g")
FAKE_OUTPUTS = ("grad_fake_d", "grad_fake_g", "loss_fake_d", "loss_fake_g")
OUTPUTS = PER_SEGMENT_OUTPUTS + REAL_OUTPUTS + FAKE_OUTPUTS + ("stats",)
DEFAULT_OUTPUTS = ("d_loss", "g_loss", "grad_real", "grad_fake_d", "grad_fake_g")

# ganloss_segment_stats_t: five floats, padding, two int64 counts.
STATS_FLOAT_FIELDS = (
    "mean_sigmoid_real",
    "mean_sigmoid_fake",
    "frac_real_positive",
    "frac_fake_negative",
    "mean_sign_real",
)
STATS_INT_FIELDS = ("nonfinite_real", "nonfinite_fake")
assert _ganloss.STATS_BYTES == 40, "ganloss_segment_stats_t changed; update the parsing"


def _lookup(table: Mapping[str, int], what: str, name: str) -> int:
    key = name.replace("_", "-").lower() if isinstance(name, str) else name
    if key not in table:
        raise ValueError(f"unknown {what} {name!r}; expected one of {', '.join(table)}")
    return table[key]


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Everything about a call except the data: loss kinds, reduction and parameters.

    Frozen and hashable, so that it can be a static argument under jax.jit and a key for
    caches. Names are the C enumerators' in lower case with dashes ("least-squares").
    """

    d_loss: str = "nonsaturating"
    g_loss: str = "nonsaturating"
    reduction: str = "mean"
    grad_scale: float = 1.0
    fp32_gradients: bool = False
    real_target: float = 1.0
    fake_target: float = 0.0
    margin_real: float = 1.0
    margin_fake: float = 1.0
    ls_fake_label: float = 0.0
    ls_real_label: float = 1.0
    ls_gen_label: float = 1.0

    @classmethod
    def make(cls, loss="nonsaturating", d_loss=None, g_loss=None, **kwargs) -> "LossConfig":
        """`loss` sets both kinds; `d_loss` and `g_loss` override it for one side."""
        d = d_loss if d_loss is not None else loss
        g = g_loss if g_loss is not None else loss
        return cls(d_loss=d, g_loss=g, **kwargs)

    def __post_init__(self):
        # Fail on unknown names and on kinds no path computes when the configuration is made
        # (make, the constructor, dataclasses.replace), with the names the caller used: the
        # PyTorch and JAX compositions would otherwise compute some other loss.
        dk = _lookup(LOSS_KINDS, "loss kind", self.d_loss)
        gk = _lookup(LOSS_KINDS, "loss kind", self.g_loss)
        if dk != gk and max(dk, gk) >= LOSS_KINDS["relativistic"]:
            raise ValueError(f"a relativistic loss must be both the D and the G kind, not "
                             f"d_loss={self.d_loss!r} and g_loss={self.g_loss!r}")
        _lookup(REDUCTIONS, "reduction", self.reduction)

    @property
    def relativistic(self) -> bool:
        return _lookup(LOSS_KINDS, "loss kind", self.d_loss) >= LOSS_KINDS["relativistic"]

    def problem(self, dtype: str, segments: int, real_count: int, fake_count: int,
                ragged: bool = False) -> _ganloss.Problem:
        p = _ganloss.Problem()
        p.segments = segments
        p.real_count = real_count
        p.fake_count = fake_count
        p.ragged = int(ragged)
        if dtype not in DTYPES:
            raise TypeError(f"logits must be float32, float16 or bfloat16, not {dtype}")
        p.dtype = DTYPES[dtype]
        p.d_loss = _lookup(LOSS_KINDS, "loss kind", self.d_loss)
        p.g_loss = _lookup(LOSS_KINDS, "loss kind", self.g_loss)
        p.reduction = _lookup(REDUCTIONS, "reduction", self.reduction)
        p.fp32_gradients = int(self.fp32_gradients)
        p.grad_scale = float(self.grad_scale)
        for field in ("real_target", "fake_target", "margin_real", "margin_fake",
                      "ls_fake_label", "ls_real_label", "ls_gen_label"):
            setattr(p, field, float(getattr(self, field)))
        return p


def smoothed(loss: str, label_smoothing: float, params: dict) -> dict:
    """The loss parameters with `label_smoothing` as CrossEntropyLoss's: the logistic kinds'
    targets of the two classes move toward 1/2 by half of it."""
    if not label_smoothing:
        return params
    if loss.replace("_", "-").lower() not in ("nonsaturating", "minimax"):
        raise ValueError(f"label_smoothing applies to the logistic kinds (nonsaturating, "
                         f"minimax), not {loss}")
    if "real_target" in params or "fake_target" in params:
        raise ValueError("give label_smoothing or real_target/fake_target, not both")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
    return dict(params, real_target=1.0 - label_smoothing / 2, fake_target=label_smoothing / 2)


def rows_of(shape: Sequence[int], name: str) -> tuple[int, int]:
    """(segments, count) of a [count] or [segments, count] array of logits."""
    if len(shape) == 1:
        return 1, int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    raise ValueError(f"{name} must be [count] or [segments, count], not of shape {tuple(shape)}")


def version() -> str:
    """The version of the ganloss library inside this package."""
    return _ganloss.version()


def backend_available(backend: str) -> bool:
    """Whether `backend` ("cuda", "cpu", "reference") can run here."""
    return _ganloss.backend_unavailable_reason(_lookup(BACKENDS, "backend", backend)) is None


def workspace_size(real_shape, fake_shape, *, dtype: str = "float32", backend: str = "cpu",
                   ragged_segments: Optional[int] = None, **config) -> int:
    """Bytes of workspace `compute` allocates for these shapes (it does so by itself)."""
    cfg = LossConfig.make(**config)
    problem = _shape_problem(cfg, dtype, real_shape, fake_shape, ragged_segments)
    return _ganloss.workspace_size(problem, _lookup(BACKENDS, "backend", backend))


def _shape_problem(cfg: LossConfig, dtype: str, real_shape, fake_shape,
                   ragged_segments: Optional[int]) -> _ganloss.Problem:
    if real_shape is None and fake_shape is None:
        raise ValueError("at least one of real and fake logits is needed")
    if ragged_segments is not None:
        for name, shape in (("real", real_shape), ("fake", fake_shape)):
            if shape is not None and len(shape) != 1:
                raise ValueError(f"ragged {name} logits must be one-dimensional")
        return cfg.problem(dtype, ragged_segments, real_shape[0] if real_shape else 0,
                           fake_shape[0] if fake_shape else 0, ragged=True)
    real_rows = rows_of(real_shape, "real") if real_shape is not None else None
    fake_rows = rows_of(fake_shape, "fake") if fake_shape is not None else None
    if real_rows and fake_rows and real_rows[0] != fake_rows[0]:
        raise ValueError(
            f"real logits have {real_rows[0]} segments, fake logits {fake_rows[0]}")
    segments = (real_rows or fake_rows)[0]
    return cfg.problem(dtype, segments, real_rows[1] if real_rows else 0,
                       fake_rows[1] if fake_rows else 0)


def compute(real=None, fake=None, *, loss: str = "nonsaturating", d_loss: Optional[str] = None,
            g_loss: Optional[str] = None, reduction: str = "mean", real_weights=None,
            fake_weights=None, real_offsets=None, fake_offsets=None,
            outputs: Optional[Sequence[str]] = None, out: Optional[Mapping[str, Any]] = None,
            backend: Optional[str] = None, cpu_threads: int = 0, stream: Optional[int] = None,
            **params) -> dict:
    """Losses and logit gradients of a batch of GAN discriminator outputs, in one call.

    real, fake: logits, [count] (one segment) or [segments, count]; with offsets, 1-D arrays
        split into segments by int64 CSR offsets (`real_offsets`, `fake_offsets`, segments + 1
        values). NumPy, PyTorch and CuPy arrays run here; JAX arrays are handed to
        ganloss.jax.compute.
    loss, d_loss, g_loss: loss kinds (`loss` sets both); reduction: "mean", "sum", "none",
        "mean-nonzero".
    params: grad_scale, fp32_gradients, real_target, fake_target, margin_real, margin_fake,
        ls_fake_label, ls_real_label, ls_gen_label (see the README's table of losses).
    outputs: names of the wanted results (default: d_loss, g_loss, grad_real, grad_fake_d,
        grad_fake_g, plus grad_real_g for relativistic losses); out: arrays to write results
        into instead of allocating them (their names are wanted too).
    backend: "cuda" for GPU arrays and "cpu" for host arrays by default; "reference" runs the
        double-precision reference. stream: a cudaStream_t as an int (default: the current
        stream of the arrays' framework).

    Returns a dict of arrays of the logits' framework and device: per-segment losses of shape
    [segments] (a 0-d array for 1-D, non-ragged logits), gradients and element losses shaped
    like their logits, and for "stats" a dict of per-segment arrays. Raises ValueError or
    TypeError for invalid arguments, with the library's status and message.
    """
    if _frameworks.is_jax_array(real) or _frameworks.is_jax_array(fake):
        from . import jax as ganloss_jax

        if any(v is not None for v in (real_weights, fake_weights, real_offsets, fake_offsets,
                                       outputs, out, backend, stream)):
            raise ValueError("for JAX arrays, ganloss.compute takes the logits and the loss "
                             "configuration only (see ganloss.jax.compute)")
        return ganloss_jax.compute(real, fake, loss=loss, d_loss=d_loss, g_loss=g_loss,
                                   reduction=reduction, **params)

    cfg = LossConfig.make(loss, d_loss, g_loss, reduction=reduction, **params)
    logits = real if real is not None else fake
    if logits is None:
        raise ValueError("at least one of real and fake logits is needed")
    fw = _frameworks.framework_of(logits)
    arrays = {"real": real, "fake": fake, "real_weights": real_weights,
              "fake_weights": fake_weights, "real_offsets": real_offsets,
              "fake_offsets": fake_offsets}
    for name, a in arrays.items():
        if a is not None and _frameworks.framework_of(a) is not fw:
            raise TypeError(f"{name} is a {_frameworks.framework_of(a).name} array, the logits "
                            f"are {fw.name} arrays")
    arrays = {k: fw.contiguous(v) for k, v in arrays.items() if v is not None}
    real, fake = arrays.get("real"), arrays.get("fake")
    for side_name in ("real", "fake"):
        # Per logit, in the logits' shape: a weight array of another shape with as many
        # elements (a transposed mask) would be read in the logits' order.
        w, x = arrays.get(f"{side_name}_weights"), arrays.get(side_name)
        if w is not None and x is not None and tuple(w.shape) != tuple(x.shape):
            raise ValueError(f"{side_name}_weights of shape {tuple(w.shape)} for {side_name} "
                             f"logits of shape {tuple(x.shape)}: weights are per logit, in the "
                             f"logits' shape")

    ragged = real_offsets is not None or fake_offsets is not None
    segments = None
    if ragged:
        offsets = arrays.get("real_offsets", arrays.get("fake_offsets"))
        for name in ("real_offsets", "fake_offsets"):
            if name in arrays and (len(arrays[name].shape) != 1 or arrays[name].shape[0] < 1):
                raise ValueError(f"{name} must be one-dimensional with segments + 1 values, "
                                 f"not of shape {tuple(arrays[name].shape)}")
        segments = int(offsets.shape[0]) - 1
    dtypes = {fw.dtype_name(a) for a in (real, fake) if a is not None}
    if len(dtypes) != 1:
        raise TypeError(f"real and fake logits must have one dtype, not {sorted(dtypes)}")
    dtype = dtypes.pop()
    problem = _shape_problem(cfg, dtype, None if real is None else real.shape,
                             None if fake is None else fake.shape, segments)
    segment_shape = (problem.segments,) if ragged or len(logits.shape) == 2 else ()

    if backend is None:
        backend = "cuda" if fw.is_cuda(logits) else "cpu"
    backend_id = _lookup(BACKENDS, "backend", backend)
    if not 0 <= int(cpu_threads) < 2**31:
        raise ValueError(f"cpu_threads must be >= 0 (0 = all) and fit an int32, got {cpu_threads}")

    wanted = list(outputs) if outputs is not None else list(DEFAULT_OUTPUTS) + (
        ["grad_real_g"] if cfg.relativistic else [])
    out = dict(out or {})
    for name in list(wanted) + list(out):
        if name not in OUTPUTS:
            raise ValueError(f"unknown output {name!r}; expected one of {', '.join(OUTPUTS)}")
    grad_dtype = "float32" if cfg.fp32_gradients else dtype
    results = {}
    for name in dict.fromkeys(wanted + list(out)):
        if name in out:
            results[name] = out[name]
        elif name in PER_SEGMENT_OUTPUTS:
            results[name] = fw.empty(logits, segment_shape, "float32")
        elif name == "stats":
            results[name] = fw.empty(logits, (problem.segments * _ganloss.STATS_BYTES,), "uint8")
        else:
            side_name = "real" if name in REAL_OUTPUTS else "fake"
            side = arrays.get(side_name)
            if side is None:
                raise ValueError(f"output {name} needs the {side_name} logits")
            # Ragged offsets may leave elements outside every segment, which the library
            # neither reads nor writes: they are 0 in the arrays allocated here.
            allocate = fw.zeros if ragged else fw.empty
            results[name] = allocate(side, side.shape,
                                     grad_dtype if name.startswith("grad") else "float32")

    workspace_bytes = _ganloss.workspace_size(problem, backend_id)
    with fw.device(logits):
        workspace = fw.empty(logits, (workspace_bytes,), "uint8") if workspace_bytes else None
        _ganloss.compute(problem, arrays, results, workspace, backend_id, cpu_threads,
                         fw.stream(logits) if stream is None else int(stream))
    if "stats" in results:
        # A dict of per-segment views, of the caller's out= buffer too.
        results["stats"] = _parse_stats(fw, results["stats"], problem.segments, segment_shape)
    return results


def _parse_stats(fw, raw, segments: int, segment_shape) -> dict:
    rows = raw.reshape((segments, _ganloss.STATS_BYTES))
    floats = fw.view(rows, "float32")
    ints = fw.view(rows, "int64")
    stats = {name: floats[:, i].reshape(segment_shape) for i, name in
             enumerate(STATS_FLOAT_FIELDS)}
    # The counts follow the five floats and four bytes of padding: int64 slots 3 and 4.
    stats.update({name: ints[:, 3 + i].reshape(segment_shape) for i, name in
                  enumerate(STATS_INT_FIELDS)})
    return stats
