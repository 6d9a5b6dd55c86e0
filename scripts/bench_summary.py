#!/usr/bin/env python3
"""The summary tables of scripts/gpu-validate.sh from the benchmarks' JSON: Google Benchmark's
output of ganloss_bench (--bench) and bench/torch_compare.py's (--torch). Standard library only.

  bench_summary.py --bench bench.json [--torch torch.json]

Prints, per benchmark that ran, its time and the counters that compare it with the hardware:
copy_ratio (against a same-byte copy in the same process), us_over_empty (above the empty
kernel), GB/s, and for the host-overhead benchmarks the host time per call and its excess over
an empty launch's; skipped benchmarks with their reason; then PyTorch's ratios.
"""

import argparse
import json
import os
import sys


def fmt(value, width, precision):
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{precision}f}"


def bench_table(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    context = data.get("context", {})
    print(f"Benchmarks ({context.get('cuda_device', 'unknown device')}; "
          f"ganloss {context.get('ganloss_version', '?')})")
    rows, skipped = [], []
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        name = b["name"].replace("/manual_time", "").replace("/real_time", "")
        name = name.split("/min_time:")[0]
        if b.get("error_occurred"):
            skipped.append((name, b.get("error_message", "")))
            continue
        unit = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}.get(b.get("time_unit", "ns"), 1.0)
        rows.append((name, b.get("real_time", 0.0) * unit, b.get("copy_ratio"),
                     b.get("us_over_empty"), b.get("GB/s"), b.get("host_us"),
                     b.get("host_us_over_empty_launch")))
    if rows:
        width = max(len(r[0]) for r in rows)
        print(f"{'benchmark':<{width}}  {'time us':>10}  {'copy_ratio':>10}  {'us_over_empty':>13}"
              f"  {'GB/s':>8}  {'host us':>8}  {'host over launch us':>19}")
        for name, t, ratio, over, gbs, host, host_over in rows:
            print(f"{name:<{width}}  {t:>10.2f}  {fmt(ratio, 10, 3)}  {fmt(over, 13, 2)}"
                  f"  {fmt(gbs, 8, 0)}  {fmt(host, 8, 2)}  {fmt(host_over, 19, 2)}")
    for name, why in skipped:
        print(f"skipped: {name}: {why}")
    return bool(rows)


def torch_table(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    records = data.get("results", [])
    if not records:
        print("PyTorch comparison: no records")
        return
    print("PyTorch comparison (wall time per step, host overhead included)")
    print("(ganloss: one plan call on bound addresses; module: ganloss.torch's modules with "
          "autograd, as a training step)")
    print(f"{'loss':<14} {'dtype':<5} {'elements':>10} {'eager us':>10} {'compile us':>10} "
          f"{'ganloss us':>10} {'module us':>10} {'x eager':>8} {'x compile':>9} "
          f"{'module x eager':>14}")
    for r in records:
        # Results of a torch_compare.py without the module step show "-" there.
        module_us = f"{r['module_seconds'] * 1e6:.1f}" if "module_seconds" in r else "-"
        module_x = f"{r['module_over_eager']:.2f}" if "module_over_eager" in r else "-"
        print(f"{r.get('loss', '?'):<14} {r.get('dtype', '?'):<5} {r.get('elements', 0):>10} "
              f"{r.get('eager_seconds', 0) * 1e6:>10.1f} {r.get('compile_seconds', 0) * 1e6:>10.1f} "
              f"{r.get('ganloss_seconds', 0) * 1e6:>10.1f} {module_us:>10} "
              f"{r.get('ganloss_over_eager', 0):>8.2f} {r.get('ganloss_over_compile', 0):>9.2f} "
              f"{module_x:>14}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", help="ganloss_bench --benchmark_out JSON")
    ap.add_argument("--torch", help="torch_compare.py --json output")
    args = ap.parse_args()
    ok = True
    if args.bench:
        if os.path.exists(args.bench):
            ok = bench_table(args.bench) and ok
        else:
            print(f"Benchmarks: no {args.bench}")
            ok = False
    if args.torch and os.path.exists(args.torch):
        torch_table(args.torch)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
