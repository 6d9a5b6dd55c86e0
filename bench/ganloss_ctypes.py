"""The ganloss C ABI (include/ganloss/ganloss.h) through ctypes, for the benchmark scripts.

Only the standard library is used, so the scripts that import this module decide for themselves
what to do when numpy or torch is missing.
"""

import ctypes
import glob
import os

STATUS_SUCCESS = 0

DTYPE_F32 = 0
DTYPE_F16 = 1
DTYPE_BF16 = 2

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

REDUCTION_MEAN = 2

BACKEND_CUDA = 0
BACKEND_CPU = 1
BACKEND_REFERENCE = 2


class LossParams(ctypes.Structure):
    _fields_ = [
        ("real_target", ctypes.c_float),
        ("fake_target", ctypes.c_float),
        ("margin_real", ctypes.c_float),
        ("margin_fake", ctypes.c_float),
        ("ls_fake_label", ctypes.c_float),
        ("ls_real_label", ctypes.c_float),
        ("ls_gen_label", ctypes.c_float),
    ]


class Problem(ctypes.Structure):
    _fields_ = [
        ("segments", ctypes.c_int64),
        ("real_count", ctypes.c_int64),
        ("fake_count", ctypes.c_int64),
        ("real_stride", ctypes.c_int64),
        ("fake_stride", ctypes.c_int64),
        ("ragged", ctypes.c_int32),
        ("dtype", ctypes.c_int32),
        ("d_loss", ctypes.c_int32),
        ("g_loss", ctypes.c_int32),
        ("reduction", ctypes.c_int32),
        ("fp32_gradients", ctypes.c_int32),
        ("grad_scale", ctypes.c_float),
        ("params", LossParams),
    ]


class Outputs(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_void_p)
        for name in (
            "d_loss", "d_loss_real", "d_loss_fake", "g_loss",
            "grad_real", "grad_fake_d", "grad_fake_g", "grad_real_g",
            "loss_real", "loss_fake_d", "loss_fake_g", "loss_real_g",
            "stats",
        )
    ]


class Inputs(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_void_p)
        for name in ("real", "fake", "real_weights", "fake_weights", "real_offsets", "fake_offsets")
    ]


class Execution(ctypes.Structure):
    _fields_ = [
        ("backend", ctypes.c_int32),
        ("cpu_threads", ctypes.c_int32),
        ("workspace_initialized", ctypes.c_int32),
    ]


class GanlossError(RuntimeError):
    pass


def find_library(explicit=None):
    """The shared library: `explicit`, else $GANLOSS_LIBRARY, else the newest build*/src/ one."""
    if explicit:
        return explicit
    if os.environ.get("GANLOSS_LIBRARY"):
        return os.environ["GANLOSS_LIBRARY"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = glob.glob(os.path.join(root, "build*", "src", "libganloss.so"))
    return max(found, key=os.path.getmtime) if found else None


class Library:
    """The C ABI of one loaded libganloss.so."""

    def __init__(self, path):
        self.path = path
        self.lib = ctypes.CDLL(path)
        lib = self.lib
        lib.ganloss_problem_init.argtypes = [ctypes.POINTER(Problem)]
        lib.ganloss_problem_init.restype = None
        lib.ganloss_outputs_init.argtypes = [ctypes.POINTER(Outputs)]
        lib.ganloss_outputs_init.restype = None
        lib.ganloss_inputs_init.argtypes = [ctypes.POINTER(Inputs)]
        lib.ganloss_inputs_init.restype = None
        lib.ganloss_execution_init.argtypes = [ctypes.POINTER(Execution)]
        lib.ganloss_execution_init.restype = None
        lib.ganloss_status_string.argtypes = [ctypes.c_int]
        lib.ganloss_status_string.restype = ctypes.c_char_p
        lib.ganloss_last_error_message.argtypes = []
        lib.ganloss_last_error_message.restype = ctypes.c_char_p
        lib.ganloss_backend_available.argtypes = [ctypes.c_int32]
        lib.ganloss_backend_available.restype = ctypes.c_int
        lib.ganloss_workspace_size.argtypes = [
            ctypes.POINTER(Problem), ctypes.c_int32, ctypes.POINTER(ctypes.c_size_t)]
        lib.ganloss_workspace_size.restype = ctypes.c_int
        lib.ganloss_compute.argtypes = [
            ctypes.POINTER(Problem), ctypes.POINTER(Inputs), ctypes.POINTER(Outputs),
            ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(Execution), ctypes.c_void_p]
        lib.ganloss_compute.restype = ctypes.c_int
        lib.ganloss_version.argtypes = []
        lib.ganloss_version.restype = ctypes.c_char_p

    def version(self):
        return self.lib.ganloss_version().decode()

    def _check(self, status, what):
        if status != STATUS_SUCCESS:
            raise GanlossError("%s: %s: %s" % (
                what, self.lib.ganloss_status_string(status).decode(),
                self.lib.ganloss_last_error_message().decode()))

    def backend_unavailable_reason(self, backend):
        """None if `backend` runs here, else the library's reason."""
        if self.lib.ganloss_backend_available(backend) == STATUS_SUCCESS:
            return None
        return self.lib.ganloss_last_error_message().decode()

    def problem(self, real_count, fake_count, segments=1, kind="nonsaturating", dtype=DTYPE_F32):
        p = Problem()
        self.lib.ganloss_problem_init(ctypes.byref(p))
        p.segments = segments
        p.real_count = real_count
        p.fake_count = fake_count
        p.dtype = dtype
        p.d_loss = p.g_loss = LOSS_KINDS[kind]
        p.reduction = REDUCTION_MEAN
        return p

    def workspace_size(self, problem, backend):
        size = ctypes.c_size_t(0)
        self._check(self.lib.ganloss_workspace_size(ctypes.byref(problem), backend,
                                                    ctypes.byref(size)), "ganloss_workspace_size")
        return size.value

    def outputs(self, **pointers):
        """An Outputs block with the given members (addresses as ints), every other one null."""
        o = Outputs()
        self.lib.ganloss_outputs_init(ctypes.byref(o))
        for name, address in pointers.items():
            setattr(o, name, address)
        return o

    def prepare(self, problem, real, fake, outputs, workspace, workspace_bytes, backend,
                cpu_threads=0, workspace_initialized=0, stream=None):
        """A zero-argument callable making one ganloss_compute call with these arguments
        (pointers are integer addresses, host or device). The ctypes arguments are built once,
        so that timing many calls measures the library rather than Python."""
        inputs = Inputs()
        self.lib.ganloss_inputs_init(ctypes.byref(inputs))
        inputs.real = real
        inputs.fake = fake
        execution = Execution()
        self.lib.ganloss_execution_init(ctypes.byref(execution))
        execution.backend = backend
        execution.cpu_threads = cpu_threads
        execution.workspace_initialized = workspace_initialized
        args = (ctypes.byref(problem), ctypes.byref(inputs), ctypes.byref(outputs), workspace,
                workspace_bytes, ctypes.byref(execution), stream)
        keep = (problem, inputs, outputs, execution)  # the structures the pointers refer to
        compute = self.lib.ganloss_compute

        def call():
            status = compute(*args)
            if status != STATUS_SUCCESS:
                self._check(status, "ganloss_compute")
            return keep

        return call
