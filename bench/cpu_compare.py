#!/usr/bin/env python3
"""The non-saturating GAN step in vectorised numpy against ganloss's CPU backend.

Computes the D and G losses (mean reduction, one segment) and the three gradients, dL_D/d real,
dL_D/d fake and dL_G/d fake, with the stable formulas (softplus and sigmoid from exp(-|x|)), on
--elements f32 logits split evenly between real and fake (default 2^24). Prints the best of
--repeat timings as pairs/s (one real and one fake logit per pair) and, when the shared library
is found (--library, $GANLOSS_LIBRARY, or the newest build*/src/libganloss.so), times the CPU
backend on the same arrays, prints ganloss CPU / numpy, and checks that both agree.

    python3 bench/numpy_baseline.py [--elements N] [--repeat R] [--threads T] [--json FILE]

Exit status: 0 success (numpy missing, or the library missing, is reported, not a failure);
1 when the two disagree.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ganloss_ctypes  # noqa: E402  (next to this script)

# Agreement bounds: both compute in f32 from the same formulas, with different exp and log
# implementations and summation orders (ganloss adds in double, numpy pairwise in f32).
LOSS_RTOL = 1e-5
GRAD_RTOL = 1e-5


def numpy_step(np, real, fake):
    """Losses (d_loss, d_loss_real, d_loss_fake, g_loss) and gradients of the non-saturating
    D and G, mean reduction. Never forms 1 - sigmoid, so the saturated tails keep precision."""
    inv_nr = np.float32(1.0 / real.size)
    inv_nf = np.float32(1.0 / fake.size)

    e_r = np.exp(-np.abs(real))
    d_r = 1.0 / (1.0 + e_r)  # sigmoid(|r|)
    softplus_neg_r = np.maximum(-real, 0.0) + np.log1p(e_r)
    sigmoid_neg_r = np.where(real >= 0, e_r * d_r, d_r)

    e_f = np.exp(-np.abs(fake))
    d_f = 1.0 / (1.0 + e_f)
    log_term = np.log1p(e_f)
    softplus_f = np.maximum(fake, 0.0) + log_term
    softplus_neg_f = np.maximum(-fake, 0.0) + log_term
    sigmoid_f = np.where(fake >= 0, d_f, e_f * d_f)
    sigmoid_neg_f = np.where(fake >= 0, e_f * d_f, d_f)

    d_loss_real = softplus_neg_r.mean()
    d_loss_fake = softplus_f.mean()
    g_loss = softplus_neg_f.mean()
    losses = np.array([d_loss_real + d_loss_fake, d_loss_real, d_loss_fake, g_loss],
                      dtype=np.float32)
    grads = (-sigmoid_neg_r * inv_nr, sigmoid_f * inv_nf, -sigmoid_neg_f * inv_nf)
    return losses, grads


def best_seconds(fn, repeat):
    fn()  # warm-up: page faults, thread start-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def max_relative_difference(np, a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    return float(np.max(np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--elements", type=int, default=1 << 24,
                        help="logits in total, half real and half fake (default 2^24)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the best counts")
    parser.add_argument("--threads", type=int, default=0,
                        help="ganloss CPU backend threads (default 0: all)")
    parser.add_argument("--library", help="path to libganloss.so")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    try:
        import numpy as np
    except ImportError:
        print("numpy_baseline: numpy is not installed (pip install numpy); nothing to compare")
        return 0

    pairs = args.elements // 2
    rng = np.random.default_rng(0)
    # Logits of a discriminator in training: mostly moderate, some saturated.
    real = (rng.standard_normal(pairs, dtype=np.float32) * 4.0 + 1.0).astype(np.float32)
    fake = (rng.standard_normal(pairs, dtype=np.float32) * 4.0 - 1.0).astype(np.float32)

    result = {"elements": 2 * pairs, "pairs": pairs, "dtype": "f32", "loss": "nonsaturating",
              "reduction": "mean", "repeat": args.repeat, "numpy_version": np.__version__}
    numpy_seconds = best_seconds(lambda: numpy_step(np, real, fake), args.repeat)
    result["numpy_seconds"] = numpy_seconds
    print("numpy %s: %d pairs (%d logits), best of %d: %.3f ms, %.3g pairs/s"
          % (np.__version__, pairs, 2 * pairs, args.repeat, numpy_seconds * 1e3,
             pairs / numpy_seconds))

    path = ganloss_ctypes.find_library(args.library)
    if path is None or not os.path.exists(path):
        print("numpy_baseline: libganloss.so not found (build it, or pass --library); "
              "ganloss not compared")
        return _finish(args, result, 0)
    lib = ganloss_ctypes.Library(path)
    problem = lib.problem(pairs, pairs)
    backend = ganloss_ctypes.BACKEND_CPU
    workspace_bytes = lib.workspace_size(problem, backend)
    workspace = np.zeros(max(workspace_bytes, 16), dtype=np.uint8)
    losses = np.zeros(4, dtype=np.float32)
    grads = [np.empty_like(real), np.empty_like(fake), np.empty_like(fake)]
    address = lambda a: a.ctypes.data  # noqa: E731
    outputs = lib.outputs(
        d_loss=address(losses), d_loss_real=address(losses) + 4, d_loss_fake=address(losses) + 8,
        g_loss=address(losses) + 12, grad_real=address(grads[0]), grad_fake_d=address(grads[1]),
        grad_fake_g=address(grads[2]))
    call = lib.prepare(problem, address(real), address(fake), outputs, address(workspace),
                       workspace_bytes, backend, cpu_threads=args.threads)
    ganloss_seconds = best_seconds(call, args.repeat)
    threads = args.threads if args.threads > 0 else os.cpu_count()
    result.update({"ganloss_version": lib.version(), "ganloss_library": path,
                   "ganloss_threads": threads, "ganloss_seconds": ganloss_seconds,
                   "ganloss_over_numpy": numpy_seconds / ganloss_seconds})
    print("ganloss %s CPU backend, %d threads: best of %d: %.3f ms, %.3g pairs/s"
          % (lib.version(), threads, args.repeat, ganloss_seconds * 1e3,
             pairs / ganloss_seconds))
    print("ganloss CPU / numpy: %.2fx" % (numpy_seconds / ganloss_seconds))

    expected_losses, expected_grads = numpy_step(np, real, fake)
    loss_diff = max_relative_difference(np, losses, expected_losses)
    grad_diff = max(max_relative_difference(np, g, e) for g, e in zip(grads, expected_grads))
    agree = loss_diff <= LOSS_RTOL and grad_diff <= GRAD_RTOL
    result.update({"max_relative_difference_losses": loss_diff,
                   "max_relative_difference_gradients": grad_diff, "agree": agree})
    print("agreement: losses %.2e (bound %.0e), gradients %.2e (bound %.0e): %s"
          % (loss_diff, LOSS_RTOL, grad_diff, GRAD_RTOL, "PASS" if agree else "FAIL"))
    return _finish(args, result, 0 if agree else 1)


def _finish(args, result, status):
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
            out.write("\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
