#!/usr/bin/env python3
"""Bandwidth against size, one panel per regime, from Google Benchmark JSON.

Reads the JSON that ganloss_bench or ganloss_cpu_bench writes with
--benchmark_out=FILE --benchmark_out_format=json and, optionally, bench/torch_compare.py's JSON,
and draws GB/s (bytes moved per second, docs/benchmarks.md) against the number of logits: one
column per segment length (seg:64, seg:1024, seg:65536, single), one row per dtype, a line per
benchmark family (fused/<loss>, unfused/<loss>, cpu/<loss>/threads:<t>, reference/<loss>),
the copy kernel as a dashed line in every panel, and PyTorch's eager and torch.compile steps
(and ganloss's, timed the same way) as markers in the single-segment panel.

    python3 bench/plot.py bench.json [--torch torch_compare.json] [--loss REGEX]
                          [--output bench.png]

Given bench/cpu_compare.py's JSON instead (which writes its plot itself through
plot_comparison), it draws that: one panel per dtype, a line per method (ganloss, PyTorch
eager, numpy, copy) through the median of the rounds, with the range of the rounds shaded.
"""

import argparse
import json
import math
import re
import sys
from collections import defaultdict

# <family>/<loss>/<dtype>/seg:<length>/log2n:<k>[/threads:<t>][/manual_time|/real_time]
PROBLEM = re.compile(r"^(?P<family>[a-z-]+)/(?P<loss>[a-z-]+)/(?P<dtype>f32|f16|bf16)"
                     r"/seg:(?P<seg>\d+|single)/log2n:(?P<k>\d+)(?:/threads:(?P<threads>\d+))?")
COPY = re.compile(r"^copy/(?P<dtype>f32|f16|bf16)/log2n:(?P<k>\d+)")
REGIMES = ("64", "1024", "65536", "single")
# torch_compare.py's three ways of running a step, drawn as unfilled markers in the colour of
# their loss's fused line.
TORCH_MARKERS = {"eager": "s", "compile": "o", "ganloss": "^"}


def measured_runs(benchmarks):
    """name -> bytes per second, preferring the median when repetitions were aggregated, and
    leaving out skipped or failed runs."""
    iterations = {}
    medians = {}
    for b in benchmarks:
        if b.get("error_occurred") or "bytes_per_second" not in b:
            continue
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = b["bytes_per_second"]
        else:
            iterations.setdefault(name, []).append(b["bytes_per_second"])
    runs = {name: sum(v) / len(v) for name, v in iterations.items()}
    runs.update(medians)
    return runs


def collect(runs):
    """(dtype, regime) -> series label -> [(elements, GB/s)], and dtype -> copy line."""
    panels = defaultdict(lambda: defaultdict(list))
    copies = defaultdict(list)
    for name, bytes_per_second in runs.items():
        gbps = bytes_per_second * 1e-9
        m = PROBLEM.match(name)
        if m:
            label = "%s/%s" % (m["family"], m["loss"])
            if m["threads"]:
                label += " (%s threads)" % m["threads"]
            panels[(m["dtype"], m["seg"])][label].append((1 << int(m["k"]), gbps))
            continue
        m = COPY.match(name)
        if m:
            copies[m["dtype"]].append((1 << int(m["k"]), gbps))
    return panels, copies


def torch_points(path):
    """dtype -> (loss, method) -> [(elements, GB/s)] from torch_compare.py's JSON."""
    with open(path) as f:
        data = json.load(f)
    points = defaultdict(lambda: defaultdict(list))
    for r in data.get("results", []):
        for method in TORCH_MARKERS:
            seconds = r.get("%s_seconds" % method)
            if seconds:
                points[r["dtype"]][(r["loss"], method)].append(
                    (r["elements"], r["bytes"] / seconds * 1e-9))
    return points


COMPARISON_STYLES = {"ganloss": ("-", "^", "ganloss CPU backend"),
                     "eager": ("-", "s", "PyTorch eager (closed form)"),
                     "compile": ("-", "o", "torch.compile"),
                     "numpy": ("-", "D", "numpy"),
                     "copy": ("--", None, "copy (same bytes)")}


def plot_comparison(data, output):
    """bench/cpu_compare.py's results (a dict): GB/s against logits, one panel per dtype."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot: matplotlib is not installed (pip install matplotlib); no plot")
        return 1
    results = data.get("results", [])
    dtypes = list(dict.fromkeys(r["dtype"] for r in results))  # in the order measured
    if not dtypes:
        print("plot: no results to draw")
        return 1
    fig, axes = plt.subplots(1, len(dtypes), squeeze=False, figsize=(6.4 * len(dtypes), 4.8))
    for ax, dtype in zip(axes[0], dtypes):
        rows = sorted((r for r in results if r["dtype"] == dtype), key=lambda r: r["elements"])
        for method, (line, marker, label) in COMPARISON_STYLES.items():
            points = [(r["elements"], r["bytes"], r["%s_seconds" % method],
                       r.get("%s_rounds" % method) or [r["%s_seconds" % method]])
                      for r in rows if r.get("%s_seconds" % method)]
            if not points:
                continue
            xs = [x for x, _, _, _ in points]
            ys = [b / t * 1e-9 for _, b, t, _ in points]
            color = "black" if method == "copy" else None
            drawn = ax.plot(xs, ys, line, marker=marker, color=color, label=label)
            low = [b / max(ts) * 1e-9 for _, b, _, ts in points]
            high = [b / min(ts) * 1e-9 for _, b, _, ts in points]
            ax.fill_between(xs, low, high, color=drawn[0].get_color(), alpha=0.15, linewidth=0)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title("non-saturating D and G, %s, one segment" % dtype, fontsize=10)
        ax.set_xlabel("logits per step")
        ax.set_ylabel("GB/s (bytes moved / time)")
        ax.legend(fontsize=8)
    fig.suptitle("CPU: ganloss, PyTorch eager, numpy (%s, %s threads)"
                 % (data.get("device", "?"), data.get("threads", "?")), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(output, dpi=110)
    plt.close(fig)
    print("wrote %s" % output)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark_json",
                        help="Google Benchmark JSON output (or bench/cpu_compare.py's JSON)")
    parser.add_argument("--torch", help="torch_compare.py JSON output")
    parser.add_argument("--loss", help="only losses matching this regular expression")
    parser.add_argument("--output", default="bench.png", help="PNG to write")
    args = parser.parse_args()

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot: matplotlib is not installed (pip install matplotlib)")
        return 1

    with open(args.benchmark_json) as f:
        data = json.load(f)
    if "benchmarks" not in data and "results" in data:
        return plot_comparison(data, args.output)  # bench/cpu_compare.py's JSON
    panels, copies = collect(measured_runs(data.get("benchmarks", [])))
    if args.loss:
        keep = re.compile(args.loss)
        for series in panels.values():
            for label in [label for label in series if not keep.search(label.split("/")[1])]:
                del series[label]
    torch_data = torch_points(args.torch) if args.torch else {}
    if args.loss:
        for series in torch_data.values():
            for key in [key for key in series if not keep.search(key[0])]:
                del series[key]
    present = {key for key, series in panels.items() if series}
    dtypes = sorted({dtype for dtype, _ in present})
    regimes = [r for r in REGIMES if any((d, r) in present for d in dtypes)]
    if not dtypes or not regimes:
        print("plot: no measured benchmark in %s (every one skipped?)" % args.benchmark_json)
        return 1

    context = data.get("context", {})
    device = context.get("cuda_device") or "%s x %s MHz" % (context.get("num_cpus", "?"),
                                                             context.get("mhz_per_cpu", "?"))
    fig, axes = plt.subplots(len(dtypes), len(regimes), squeeze=False, sharex=True,
                             figsize=(4.8 * len(regimes), 3.8 * len(dtypes)))
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    labels = sorted({label for series in panels.values() for label in series})
    labels += sorted({"fused/" + loss for series in torch_data.values() for loss, _ in series}
                     - set(labels))
    colors = {label: cycle[i % len(cycle)] for i, label in enumerate(labels)}
    styles = {"fused": "-", "unfused": ":", "cpu": "-", "reference": "--"}
    for row, dtype in enumerate(dtypes):
        for col, regime in enumerate(regimes):
            ax = axes[row][col]
            for label, points in sorted(panels[(dtype, regime)].items()):
                xs, ys = zip(*sorted(points))
                family = label.split("/")[0]
                ax.plot(xs, ys, styles.get(family, "-"), marker=".", color=colors[label],
                        label=label)
            if copies.get(dtype):
                xs, ys = zip(*sorted(copies[dtype]))
                ax.plot(xs, ys, "--", color="black", linewidth=1.5, label="copy (same bytes)")
            if regime == "single":
                for (loss, method), points in sorted(torch_data.get(dtype, {}).items()):
                    xs, ys = zip(*sorted(points))
                    ax.plot(xs, ys, linestyle="none", marker=TORCH_MARKERS[method],
                            markersize=7, fillstyle="none", color=colors["fused/" + loss],
                            label="%s, torch_compare %s" % (loss, method))
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title("%s, %s" % (dtype, "one segment" if regime == "single"
                                     else "segments of %s" % regime), fontsize=10)
            if row == len(dtypes) - 1:
                ax.set_xlabel("logits per call")
            if col == 0:
                ax.set_ylabel("GB/s (bytes moved / time)")
    handles, names = {}, []
    for ax in axes.flat:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            if name not in handles:
                handles[name] = handle
                names.append(name)
    columns = min(4, max(1, math.ceil(len(names) / 6)))
    legend_inches = 0.5 + 0.2 * math.ceil(len(names) / columns)
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, height + legend_inches)
    fig.legend([handles[n] for n in names], names, loc="lower center", ncol=columns, fontsize=8,
               frameon=False)
    fig.suptitle("ganloss bandwidth against size (%s)" % device, fontsize=12)
    fig.tight_layout(rect=(0, legend_inches / (height + legend_inches), 1, 0.96))
    fig.savefig(args.output, dpi=110)
    print("wrote %s" % args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
