#!/usr/bin/env python3
"""The kernel resource report: registers, stack, spills, shared memory, theoretical occupancy
and SASS instructions per logit of the main vector loop of every CUDA kernel.

scripts/kernel-report.sh compiles each kernels/*.cu to a cubin for one architecture with
`-Xptxas -v` and runs cuobjdump on it; this script reads what they wrote into one directory:

    <name>.ptxas.log   nvcc's output with ptxas -v (spill stores and loads per function)
    <name>.res.txt     cuobjdump -res-usage (registers, stack, shared memory per function)
    <name>.sass.txt    cuobjdump -sass (the instructions)
    <name>.elf.txt     cuobjdump -elf (the .nv.info attributes: __launch_bounds__ block size)

and prints one row per kernel (`__global__` function). Standard library only; c++filt (binutils)
or cu++filt (CUDA toolkit) demangles the names.

Usage: kernel_report.py DIR [--json FILE] [--check] [--sources kernels] [--arch sm_90]

--check exits 1, naming each offender and the target it misses, when a kernel exceeds the
targets (TARGETS below). Without --check the exit status is 0 whenever the report was made.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

# --------------------------------------------------------------------------------------------
# Targets (docs/benchmarks.md, "Kernel resources"). Every kernel: at most MAX_REGISTERS
# registers, no stack and no spills, at least MIN_OCCUPANCY theoretical occupancy at its block
# size. Main-pass kernels of the non-relativistic kinds with f32 or bf16 logits: at most
# MAX_SASS_PER_LOGIT instructions per logit in their main vector loop.
MAX_REGISTERS = 64
MIN_OCCUPANCY = 0.5
MAX_SASS_PER_LOGIT = 40.0
SASS_TARGET_DTYPES = ("f32", "bf16")

# --------------------------------------------------------------------------------------------
# Per-SM limits of compute capability 9.0 (CUDA C++ Programming Guide, "Technical
# Specifications per Compute Capability"; the CUDA Occupancy Calculator's allocation rules).
SM_LIMITS = {
    "sm_90": {
        "registers": 65536,  # 32-bit registers per SM
        "register_unit": 256,  # registers are allocated per warp in units of 256
        "warp_granularity": 4,  # warps limited by registers round down to a multiple of 4
        "warps": 64,  # resident warps per SM (2048 threads)
        "blocks": 32,  # resident blocks per SM
        "shared": 228 * 1024,  # shared memory per SM (the largest carveout)
        "shared_unit": 128,  # shared memory allocation unit
        "shared_reserved": 1024,  # shared memory the system reserves per block
    },
}
# Compute capabilities 8.0 and 10.0 differ from 9.0 only in shared memory (8.0: 164 KB).
SM_LIMITS["sm_80"] = dict(SM_LIMITS["sm_90"], shared=164 * 1024)
SM_LIMITS["sm_100"] = dict(SM_LIMITS["sm_90"])
for _arch in ("sm_90", "sm_100"):
    SM_LIMITS[_arch + "a"] = SM_LIMITS[_arch]

DEFAULT_BLOCK = 256  # the launch block size of every ganloss kernel (kThreads)


def occupancy(registers, shared, block, limits):
    """Theoretical occupancy (resident warps / 64) and the limiting resource, by the CUDA
    Occupancy Calculator's rule:

      warps per block     W = ceil(block / 32)
      registers per warp  R = ceil(registers * 32 / 256) * 256
      blocks by registers = floor(floor(65536 / R) rounded down to a multiple of 4, / W)
      blocks by shared    = floor(228 KB / (ceil(static shared / 128) * 128 + 1 KB reserved))
      blocks by warps     = floor(64 / W),  at most 32 blocks
      occupancy           = min(the three) * W / 64

    Dynamic shared memory is taken as 0: no ganloss launch passes any."""
    warps_per_block = -(-block // 32)
    per_warp = -(-max(registers, 1) * 32 // limits["register_unit"]) * limits["register_unit"]
    warps_by_registers = limits["registers"] // per_warp
    warps_by_registers -= warps_by_registers % limits["warp_granularity"]
    by_registers = warps_by_registers // warps_per_block
    shared_block = -(-shared // limits["shared_unit"]) * limits["shared_unit"]
    by_shared = limits["shared"] // (shared_block + limits["shared_reserved"])
    by_warps = min(limits["warps"] // warps_per_block, limits["blocks"])
    blocks = min(by_registers, by_shared, by_warps)
    limiter = "registers" if blocks == by_registers else ("shared" if blocks == by_shared else "warps")
    return blocks * warps_per_block / limits["warps"], blocks, limiter


# --------------------------------------------------------------------------------------------
# Demangled names: the template arguments say what a kernel's main loop loads.

DTYPES = {  # C++ type in a demangled name -> (report name, bytes)
    "float": ("f32", 4),
    "__half": ("f16", 2),
    "half": ("f16", 2),
    "__nv_bfloat16": ("bf16", 2),
    "nv_bfloat16": ("bf16", 2),
}


def split_template(name):
    """'f<a, b<c, d>, e>' -> ('f', ['a', 'b<c, d>', 'e']); no template: (name, [])."""
    start = name.find("<")
    if start < 0 or not name.endswith(">"):
        return name, []
    args, depth, current = [], 0, ""
    for ch in name[start + 1 : -1]:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
    args.append(current.strip())
    return name[:start], args


def read_enums(sources):
    """{'Pass': {0: 'prepass', 1: 'main', ...}} from the `enum class` declarations under the
    kernel sources, so that '(ganloss::detail::kernel::Pass)1' reads 'Pass::main'."""
    enums = {}
    pattern = re.compile(r"enum\s+class\s+(\w+)\s*(?::\s*[\w:]+)?\s*\{([^}]*)\}", re.S)
    for root, _, files in os.walk(sources):
        for f in files:
            if not f.endswith((".hpp", ".cuh", ".cu", ".h")):
                continue
            with open(os.path.join(root, f), encoding="utf-8", errors="replace") as src:
                text = re.sub(r"//[^\n]*", "", src.read())
            for match in pattern.finditer(text):
                values, value = {}, -1
                for item in match.group(2).split(","):
                    item = item.strip()
                    if not item:
                        continue
                    key, _, init = item.partition("=")
                    init = init.strip()
                    try:
                        value = int(init, 0) if init else value + 1
                    except ValueError:
                        value += 1
                    values[value] = key.strip()
                enums[match.group(1)] = values
    return enums


def readable(name, enums):
    """The demangled name without its return type, parameters and namespaces, with enum
    values by their names: 'void ganloss::detail::kernel::f<float, (ganloss::Pass)1>(Args)'
    reads 'f<float, Pass::main>'."""
    name = re.sub(r"^void\s+", "", name.strip())
    depth = 0
    for i, ch in enumerate(name):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and i > 0 and (name[i - 1] == ">" or name[i - 1].isalnum()
                                                      or name[i - 1] == "_"):
            name = name[:i]
            break
    name = re.sub(r"\b(?:[a-z_]\w*::)+", "", name)  # namespaces (lower case by the style)

    def enum_value(m):
        enum = m.group(1).split("::")[-1]
        value = int(m.group(2))
        label = enums.get(enum, {}).get(value)
        return f"{enum}::{label}" if label else f"({enum}){value}"

    return re.sub(r"\(([\w:]+)\)(-?\d+)", enum_value, name)


# How each kernel family's template arguments describe its main vector loop. A describer takes
# the template arguments (already readable) and returns a dict:
#   dtype      logit dtype name (f32, f16, bf16), or None for a kernel that reads no logits
#   weighted   True when the loop loads a weight vector beside the logits; a kernel whose
#              weights are a run-time option holds both paths, so its loop counts as weighted
#   paired     True when each group loads a real and a fake logit vector (relativistic pairs)
#   main       True for the pass that forms the terms and gradients (a prepass, reading
#              logits for sums only, is reported but held to no instruction target)
#   relativistic  True when the kernel serves relativistic kinds only
#   rule       the words of the rule, printed in the report's notes
# A kernel family missing here is described by `describe_generic` from keywords in its name.


# The spec of segmented_loss_kernel<T, G, kSpec, Regime>: the bit layout of encode() in
# kernels/segmented_loss_plan.hpp (the self-test checks one code of each field).
SPEC_PASSES = {0: "prepass", 1: "main", 2: "gradients", 3: "vjp"}
SPEC_FAMILIES = {0: "cheap", 1: "logistic", 2: "any", 3: "hinge", 4: "linear", 5: "squared"}


def decode_spec(code):
    return {
        "pass": SPEC_PASSES[code & 3],
        "paired": bool(code >> 2 & 1),
        "average": bool(code >> 3 & 1),
        "d": SPEC_FAMILIES.get(code >> 4 & 7, "?"),
        "g": SPEC_FAMILIES.get(code >> 7 & 7, "?"),
        "weighted": bool(code >> 10 & 1),
        "stats": bool(code >> 11 & 1),
        "losses": bool(code >> 12 & 1),
    }


def spec_label(spec):
    words = [spec["pass"]]
    if spec["paired"]:
        words.append("pairs")
    if spec["average"]:
        words.append("average")
    words.append(f"{spec['d']}/{spec['g']}")
    for flag, word in (("weighted", "weights"), ("stats", "stats"), ("losses", "losses")):
        if spec[flag]:
            words.append(word)
    return " ".join(words)


def group_bytes(spec, size):
    """Bytes of logits per group of the element loop: kGroupBytesFor in
    kernels/segmented_loss_kernel.hpp (16; 8 for the loops that write element losses and the
    16-bit loops of the `any` family; one logit for those writing element losses with statistics,
    the relativistic average or pairs)."""
    if spec["losses"] and (spec["stats"] or spec["average"] or spec["paired"]):
        return size
    if spec["losses"] or (size < 4 and spec["d"] == "any"):
        return 8
    return 16


def describe_segmented_loss(args):
    # segmented_loss_kernel<T logits, G gradients, kSpec, Regime>: one kernel per instantiation
    # (its spec, see decode_spec) and regime. Any other argument list is not this layout: None
    # hands the kernel to describe_generic.
    if (len(args) != 4 or args[0] not in DTYPES or not re.fullmatch(r"\d+u?", args[2])
            or not args[3].startswith("Regime::")):
        return None
    spec = decode_spec(int(args[2].rstrip("u")))
    t = DTYPES[args[0]]
    # The paired prepass sums the pairs' weights only: its loop loads no logit.
    reads_logits = not (spec["paired"] and spec["pass"] == "prepass")
    relativistic = spec["paired"] or spec["average"]
    # The instruction target covers the main loops of the non-relativistic kinds' own family
    # pairs: D and G terms, the gradients and the totals, without weights, statistics or
    # element losses (the loops a training step runs); the others are reported.
    budgeted = (spec["pass"] == "main" and not relativistic and not spec["weighted"]
                and not spec["stats"] and not spec["losses"]
                and "any" not in (spec["d"], spec["g"]))
    return {
        "dtype": t[0] if reads_logits else None,
        "weighted": spec["weighted"],
        "paired": spec["paired"],
        "groups": [{"bytes": group_bytes(spec, t[1]), "weighted": spec["weighted"],
                    "paired": spec["paired"]}],
        "main": spec["pass"] != "prepass",
        "relativistic": relativistic,
        "budgeted": budgeted,
        "label": f"{args[0]}, {args[1]}, {spec_label(spec)}, {args[3].split('::')[-1]}",
        "rule": "segmented_loss_kernel<T, G, kSpec, Regime>: the spec decoded (pass, pairs, "
        "average, D/G families, weights, stats, element losses); held to the instruction "
        "target: the main loops of the kind families without weights, stats or element losses",
    }


def describe_segmented_sequence(args):
    # segmented_sequence_kernel<T logits, G gradients, kSequence, Regime>: every pass of a
    # multi-pass call in one launch; kSequence holds the passes' spec codes, 16 bits each from
    # the first on, 0xffff where the sequence has only two (sequence_code in
    # kernels/segmented_loss_plan.hpp). Its loops are the passes' own, which the single-pass
    # kernels report: held to the resource targets, not the instruction target.
    if (len(args) != 4 or args[0] not in DTYPES or not re.fullmatch(r"\d+u?l*", args[2])
            or not args[3].startswith("Regime::")):
        return None
    code = int(args[2].rstrip("ul"))
    specs = [decode_spec(code >> (16 * i) & 0xffff) for i in range(3)
             if (code >> (16 * i) & 0xffff) != 0xffff]
    t = DTYPES[args[0]]
    relativistic = any(s["paired"] or s["average"] for s in specs)
    # The loop shapes of its passes that read logits (the paired prepass reads weights only),
    # the first pass's first: a loop is measured as the first whose group loads it holds.
    groups = []
    for s in specs:
        g = {"bytes": group_bytes(s, t[1]), "weighted": s["weighted"], "paired": s["paired"]}
        if not (s["paired"] and s["pass"] == "prepass") and g not in groups:
            groups.append(g)
    return {
        "dtype": t[0],
        "weighted": any(s["weighted"] for s in specs),
        "paired": any(s["paired"] for s in specs),
        "groups": groups,
        "main": True,
        "relativistic": relativistic,
        "budgeted": False,
        "label": f"{args[0]}, {args[1]}, " + " + ".join(spec_label(s) for s in specs)
        + f", {args[3].split('::')[-1]}",
        "rule": "segmented_sequence_kernel<T, G, kSequence, Regime>: every pass of a multi-pass "
        "call in one launch, the passes' specs decoded; held to the resource targets only",
    }


def describe_no_loop(_args):
    return {"dtype": None, "weighted": False, "paired": False, "main": False,
            "relativistic": False, "rule": "no logit loop"}


FAMILIES = {
    "segmented_loss_kernel": describe_segmented_loss,
    "segmented_sequence_kernel": describe_segmented_sequence,
    "offsets_check_kernel": describe_no_loop,
}


def describe_generic(base, args):
    """A kernel family without a describer: the logit dtype is the first floating-point type
    argument; the kernel's name or a template argument naming 'weight', 'pair', 'relativ' or
    'average', or 'prepass' (any case, e.g. an enum value 'Weights::per_element') marks it
    weighted, paired, relativistic or a prepass, unless that argument also says none, no, off
    or false ('Weights::none'). A bare `true`/`false` says nothing by itself: add a describer
    to FAMILIES for such a family."""

    def says(*words):
        for token in [base] + args:
            t = token.lower()
            if any(w in t for w in words) and not re.search(
                    r"(::|\b|_)(none|no|off|false|unweighted|unpaired)\b", t):
                return True
        return False

    dtype = None
    for a in args:
        if a in DTYPES:
            dtype = DTYPES[a][0]
            break
    paired = says("pair")
    return {
        "dtype": dtype,
        "weighted": says("weight"),
        "paired": paired,
        "main": not says("prepass"),
        "relativistic": paired or says("relativ", "average"),
        "rule": "generic: dtype from the first floating-point template argument, the rest "
        "from words in the name and its arguments",
    }


def logits_per_iteration(dtype, group, loads):
    """Logits one pass of the loop body handles, from its loads of the group's width.

    A group of B bytes (group["bytes"]) holds V = B / sizeof(logit) logits, loaded as one access
    of B bytes (two when paired: the real and the fake logits), plus, when weighted, its V f32
    weights (one per pair when paired) in accesses of W = min(4 V, 16) bytes, 4 V / W of them,
    which count here only when W = B. So
      loads per group  = (2 if paired else 1) + (4 V / W if weighted and W == B else 0)
      logits per group = V * (2 if paired else 1)
      logits per loop  = loads / loads per group * logits per group.
    Returns (logits, exact) where exact is False when the loads do not make whole groups."""
    size = {"f32": 4, "f16": 2, "bf16": 2}[dtype]
    v = group["bytes"] // size
    sides = 2 if group["paired"] else 1
    w = min(4 * v, 16)
    per_group = sides + (4 * v // w if group["weighted"] and w == group["bytes"] else 0)
    groups = loads / per_group
    return groups * v * sides, abs(groups - round(groups)) < 1e-9


# --------------------------------------------------------------------------------------------
# Parsing the tools' output.

FUNC_SASS = re.compile(r"^\s*Function\s*:\s*(\S+)")
INSN = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
BRANCH = re.compile(r"^(?:@!?U?P\w+\s+)?(BRA|JMP)(?:\.\S+)?\s+(?:.*?,\s*)?(0x[0-9a-f]+)\s*$")
LOAD = re.compile(r"^(?:@!?P\w+\s+)?LDG((?:\.[\w]+)*)\s")
LOAD_WIDTHS = {"128": 16, "64": 8, "U16": 2, "S16": 2, "U8": 1, "S8": 1}


def load_bytes(text):
    """The bytes of a global load (LDG), or None for any other instruction and for the coherent
    loads (.STRONG: the chunk partials, never logits). No size suffix: 4 bytes."""
    m = LOAD.match(text + " ")
    if not m:
        return None
    parts = m.group(1).split(".")[1:]
    if "STRONG" in parts:
        return None
    for part in parts:
        if part in LOAD_WIDTHS:
            return LOAD_WIDTHS[part]
    return 4


def parse_sass(text):
    """{mangled: [(address, instruction text)]} from cuobjdump -sass."""
    funcs, current = {}, None
    for line in text.splitlines():
        m = FUNC_SASS.match(line)
        if m:
            current = funcs.setdefault(m.group(1), [])
            continue
        m = INSN.match(line)
        if m and current is not None:
            current.append((int(m.group(1), 16), m.group(2).strip()))
    return funcs


def main_loops(insns, widths=(16,)):
    """The innermost loops whose body holds a global load of one of `widths` bytes (the logit
    groups' widths): a loop is the range from a backward branch's target to the last backward
    branch to that target; innermost means no other loop lies inside it. A range that holds
    other loops or an EXIT is no element loop: an outer loop, or the span back from a divergence
    fallback (a BRA.DIV target, which the compiler places after the kernel's exit and which
    branches back into the body over the reductions and the segment's epilogue). Returns dicts
    with the body's size, its loads of each of those widths and its address range."""
    index = {addr: i for i, (addr, _) in enumerate(insns)}
    ends = {}
    for i, (addr, text) in enumerate(insns):
        m = BRANCH.match(text)
        if not m:
            continue
        target = int(m.group(2), 16)
        if target <= addr and target in index:
            ends[index[target]] = max(ends.get(index[target], i), i)
    spans = list(ends.items())
    loops = []
    for start, end in spans:
        if any((s, e) != (start, end) and start <= s and e <= end for s, e in spans):
            continue
        body = insns[start : end + 1]
        if any(re.match(r"^(?:@!?U?P\w+\s+)?EXIT\b", t) for _, t in body):
            continue
        loads = {}
        for _, t in body:
            b = load_bytes(t)
            if b in widths:
                loads[b] = loads.get(b, 0) + 1
        if loads:
            loops.append({"start": start, "end": end, "loads": loads,
                          "instructions": len(body),
                          "range": f"0x{insns[start][0]:x}-0x{insns[end][0]:x}"})
    return sorted(loops, key=lambda loop: loop["start"])


RES_LINE = re.compile(r"^\s*Function\s+(\S+?)\s*:\s*(.*)$")


def parse_res_usage(text):
    """{mangled: {'REG': n, 'STACK': n, 'SHARED': n, 'LOCAL': n, ...}} from cuobjdump
    -res-usage, whose lines read 'Function NAME:' then 'REG:.. STACK:.. SHARED:.. LOCAL:..'."""
    out, current = {}, None
    for line in text.splitlines():
        m = RES_LINE.match(line)
        if m:
            current = m.group(1)
            out.setdefault(current, {})
            rest = m.group(2)
        else:
            rest = line
        if current is None:
            continue
        for key, value in re.findall(r"\b([A-Z][A-Z0-9_\[\]]*):(\d+)", rest):
            out[current][key] = int(value)
    return out


def parse_ptxas(text):
    """{mangled: {'stack', 'spill_stores', 'spill_loads', 'registers', 'smem'}} from ptxas -v
    (smem: the static shared memory the code declares, without the 1 KB the system reserves
    per block, which cuobjdump's SHARED includes)."""
    out, current = {}, None
    for line in text.splitlines():
        m = re.search(r"(Function properties for|Compiling entry function)\s+'?([\w$.]+)'?", line)
        if m:
            current = m.group(2)
            out.setdefault(current, {})
            if m.group(1).startswith("Compiling"):
                out[current]["entry"] = True
            continue
        m = re.search(r"Used (\d+) registers.*?(?:(\d+) bytes smem)?$", line)
        if m and current is not None:
            out[current].update(registers=int(m.group(1)), smem=int(m.group(2) or 0))
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads",
                      line)
        if m and current is not None:
            out[current].update(stack=int(m.group(1)), spill_stores=int(m.group(2)),
                                spill_loads=int(m.group(3)))
    return out


def parse_max_threads(text):
    """{mangled: max threads per block} from cuobjdump -elf: the EIATTR_MAX_THREADS attribute
    of the .nv.info.<function> section that __launch_bounds__ sets."""
    out, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^\s*\.nv\.info\.(\S+)", line)
        if m:
            current = m.group(1)
            continue
        if current and "EIATTR_MAX_THREADS" in line:
            out[current] = ("pending", [])
            continue
        if current and isinstance(out.get(current), tuple):
            nums = re.findall(r"0x([0-9a-f]+)", line)
            if nums:
                # The attribute's value is the block shape (x, y, z): their product.
                values = [int(n, 16) for n in nums][:3]
                product = 1
                for v in values:
                    product *= max(v, 1)
                out[current] = product
            elif line.strip().startswith("<") or "EIATTR" in line:
                out[current] = None
    return {k: v for k, v in out.items() if isinstance(v, int)}


def demangle(names):
    tool = shutil.which("c++filt") or shutil.which("cu++filt")
    if not tool or not names:
        return {n: n for n in names}
    result = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True,
                            check=False)
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) != len(names):
        return {n: n for n in names}
    return dict(zip(names, lines))


# --------------------------------------------------------------------------------------------


def report(directory, sources, arch, block_default):
    limits = SM_LIMITS.get(arch)
    if limits is None:
        print(f"note: no occupancy limits for {arch} here (known: {', '.join(SM_LIMITS)}); "
              "sm_90's apply")
        limits = SM_LIMITS["sm_90"]
    enums = read_enums(sources)
    stems = sorted(f[: -len(".sass.txt")] for f in os.listdir(directory) if f.endswith(".sass.txt"))
    if not stems:
        sys.exit(f"kernel_report: no *.sass.txt in {directory}")

    def read(stem, suffix):
        path = os.path.join(directory, stem + suffix)
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    rows = []
    for stem in stems:
        sass = parse_sass(read(stem, ".sass.txt"))
        res = parse_res_usage(read(stem, ".res.txt"))
        ptxas = parse_ptxas(read(stem, ".ptxas.log"))
        max_threads = parse_max_threads(read(stem, ".elf.txt"))
        # Kernels only: the entry functions ptxas compiled (a device function ptxas kept apart
        # from its callers would have a SASS listing of its own).
        entries = {name for name, info in ptxas.items() if info.get("entry")}
        if entries:
            sass = {name: insns for name, insns in sass.items() if name in entries}
        names = demangle(list(sass))
        for mangled, insns in sass.items():
            r = res.get(mangled, {})
            p = ptxas.get(mangled, {})
            full = names[mangled]
            base, args = split_template(readable(full, enums))
            family = base.split("::")[-1]
            describer = FAMILIES.get(family)
            desc = describer(args) if describer else None
            if desc is None:
                describer = None
                desc = describe_generic(base, args)
            block = max_threads.get(mangled)
            block_source = "__launch_bounds__"
            if block is None:
                block, block_source = block_default, "default"
            # Static shared memory as the code declares it: ptxas's figure, else cuobjdump's
            # SHARED less the reserved kilobyte it includes.
            shared = p.get("smem")
            if shared is None:
                shared = max(r.get("SHARED", 0) - limits["shared_reserved"], 0)
            registers = r.get("REG", p.get("registers"))
            occ, blocks, limiter = occupancy(registers or 0, shared, block, limits)
            row = {
                "file": stem,
                "kernel": (f"{family}<{desc['label']}>" if desc.get("label")
                           else readable(full, enums)),
                "mangled": mangled,
                "family": family,
                "described_by": family if describer else "generic",
                "dtype": desc["dtype"],
                "weighted": desc["weighted"],
                "paired": desc["paired"],
                "main": desc["main"],
                "relativistic": desc["relativistic"],
                "budgeted": desc.get("budgeted",
                                     desc["main"] and not desc["relativistic"]),
                "registers": registers,
                "stack": r.get("STACK", p.get("stack")),
                "local": r.get("LOCAL"),
                "spill_stores": p.get("spill_stores"),
                "spill_loads": p.get("spill_loads"),
                "shared": shared,
                "block": block,
                "block_from": block_source,
                "blocks_per_sm": blocks,
                "occupancy": occ,
                "occupancy_limiter": limiter,
                "instructions": len(insns),
                "loops": [],
                "sass_per_logit": None,
            }
            if desc["dtype"] is not None:
                groups = desc.get("groups") or [{"bytes": 16, "weighted": desc["weighted"],
                                                 "paired": desc["paired"]}]
                widths = tuple(sorted({g["bytes"] for g in groups}))
                for loop in main_loops(insns, widths):
                    group = next(g for g in groups if g["bytes"] in loop["loads"])
                    loads = loop["loads"][group["bytes"]]
                    logits, exact = logits_per_iteration(desc["dtype"], group, loads)
                    loop = {k: v for k, v in loop.items() if k not in ("start", "end")}
                    loop["load_bytes"] = group["bytes"]
                    loop["loads"] = loads
                    loop["logits"] = logits
                    loop["whole_groups"] = exact
                    loop["per_logit"] = loop["instructions"] / logits if logits else None
                    row["loops"].append(loop)
                per = [loop["per_logit"] for loop in row["loops"] if loop["per_logit"]]
                row["sass_per_logit"] = max(per) if per else None
            rows.append(row)
    return sorted(rows, key=lambda r: (r["file"], r["kernel"]))


def violations(row):
    out = []
    if row["registers"] is not None and row["registers"] > MAX_REGISTERS:
        out.append(f"{row['registers']} registers > {MAX_REGISTERS}")
    if row["stack"]:
        out.append(f"{row['stack']} bytes of stack")
    if row["spill_stores"] or row["spill_loads"]:
        out.append(f"spills ({row['spill_stores']} B stored, {row['spill_loads']} B loaded)")
    if row["occupancy"] < MIN_OCCUPANCY:
        out.append(f"occupancy {row['occupancy']:.1%} < {MIN_OCCUPANCY:.0%}")
    if row["budgeted"] and row["dtype"] in SASS_TARGET_DTYPES:
        # A kernel held to the instruction target whose loop the report cannot find fails the
        # check too: an unmeasured kernel must not pass as a fast one.
        if row["sass_per_logit"] is None:
            out.append("no main vector loop found (no logit group load in a loop): SASS per "
                       "logit not measured")
        elif row["sass_per_logit"] > MAX_SASS_PER_LOGIT:
            out.append(f"{row['sass_per_logit']:.1f} SASS per logit > {MAX_SASS_PER_LOGIT:g}")
    return out


def fmt_table(rows):
    headers = ["kernel", "regs", "stack", "spill st/ld", "smem", "block", "occupancy",
               "loop body", "logits", "SASS/logit", "targets"]
    table = []
    for r in rows:
        loop = max(r["loops"], key=lambda x: x["per_logit"] or 0) if r["loops"] else None
        spills = ("-" if r["spill_stores"] is None
                  else f"{r['spill_stores']}/{r['spill_loads']}")
        per = "-"
        if r["sass_per_logit"] is not None:
            per = f"{r['sass_per_logit']:.1f}"
            if loop and not loop["whole_groups"]:
                per += "?"
        bad = violations(r)
        table.append([
            r["kernel"],
            "-" if r["registers"] is None else str(r["registers"]),
            "-" if r["stack"] is None else str(r["stack"]),
            spills,
            str(r["shared"]),
            str(r["block"]) + ("" if r["block_from"] == "__launch_bounds__" else "*"),
            f"{r['occupancy']:.1%}",
            str(loop["instructions"]) if loop else "-",
            (f"{loop['logits']:.4g}" + (f" x{len(r['loops'])}" if len(r["loops"]) > 1 else ""))
            if loop else "-",
            per,
            "ok" if not bad else "MISS",
        ])
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in table:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


NOTES = """\
regs, stack: cuobjdump -res-usage (registers per thread, stack bytes per thread); spill st/ld:
  ptxas -v (bytes of spill stores/loads); smem: static shared bytes per block (ptxas -v).
block: __launch_bounds__ (EIATTR_MAX_THREADS); '*' = none declared, the launch's 256 assumed.
occupancy: theoretical, resident warps / 64 per SM: registers allocated per warp in units of
  256 of 65536 (warps rounded down to a multiple of 4), static shared + 1 KB reserved per block
  of 228 KB, at most 64 warps and 32 blocks per SM; no dynamic shared memory.
loop body: SASS instructions from the target of the innermost backward branch whose body holds
  the logit group loads (LDG of the group's width: 16 bytes, LDG.E.128, but 8 or one logit in
  the loops that write element losses) to that branch, statically (every path of the body).
logits: per pass of that body, from its count of those loads and the template arguments: a
  group of B bytes holds V = B/sizeof(logit) logits; it loads 1 logit access (2 paired) + its
  V weights when weighted, in accesses of min(4V, 16) bytes that count where that is B, and
  handles V logits (2V paired). 'xN': N such loops (the regimes and sides inlined); SASS/logit
  is the largest. '?': loads not in whole groups.
targets (--check): <= 64 registers, no stack, no spills, >= 50% occupancy for every kernel;
  <= 40 SASS/logit for the budgeted loops (segmented_loss_kernel: the main pass of the
  non-relativistic kinds' own D/G families without weights, statistics or element losses; a
  kernel no describer knows: its main pass unless relativistic), f32 and bf16 logits."""


def fmt_markdown(rows):
    """One line per kernel instantiation and file, its regimes side by side (docs/benchmarks.md,
    "Kernel resources"): the kernels a label names apart from its last template argument."""
    groups = {}
    for r in rows:
        head, _, tail = r["kernel"].rpartition(", ")
        key = (r["file"],
               head + ">" if tail.rstrip(">") in ("warp", "block", "chunk") else r["kernel"])
        groups.setdefault(key, {})[tail.rstrip(">")] = r
    lines = ["| file | kernel | registers | stack bytes (warp, block, chunk) | "
             "SASS per logit (warp, block, chunk) | targets |", "|---|---|---|---|---|---|"]
    for (stem, name), by in sorted(groups.items()):
        # The regimes' columns; a regime the instantiation has no kernel for (the fused
        # sequences have none for chunks) reads '-'.
        regimes = [by.get(k) for k in ("warp", "block", "chunk")]
        if not any(regimes):
            regimes = list(by.values())
        order = [r for r in regimes if r is not None]
        regs = max((r["registers"] or 0) for r in order)
        stack = ", ".join("-" if r is None else str(r["stack"] or 0) for r in regimes)
        per = ", ".join("-" if r is None or r["sass_per_logit"] is None
                        else f"{r['sass_per_logit']:.1f}" for r in regimes)
        budget = " (budgeted)" if any(r["budgeted"] for r in order) else ""
        words = (("registers", "registers"), ("stack", "stack"), ("spills", "spills"),
                 ("occupancy", "occupancy"), ("SASS", "SASS per logit"), ("no main", "no loop"))
        bad = [short for key, short in words
               if any(key in v for r in order for v in violations(r))]
        lines.append(f"| {stem} | `{name}` | {regs} | {stack} | {per}{budget} | "
                     f"{'ok' if not bad else 'MISS: ' + ', '.join(bad)} |")
    return "\n".join(lines)


SELF_TEST_SASS = """
        Function : _Z1kILb0EEvPK6float4
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/              @!P0 BRA 0x80 ;
        /*0020*/                   LDG.E.128 R4, desc[UR4][R2.64] ;
        /*0030*/              @!P1 LDG.E.128 R8, desc[UR4][R2.64+0x1000] ;
        /*0040*/                   FADD R4, R4, R8 ;
        /*0050*/                   FADD R5, R5, R9 ;
        /*0060*/                   ISETP.GE.AND P0, PT, R0, UR5, PT ;
        /*0070*/              @!P0 BRA 0x20 ;
        /*0080*/                   LDG.E R6, desc[UR4][R2.64] ;
        /*0090*/              @P2 BRA 0x80 ;
        /*00a0*/                   EXIT ;
        /*00b0*/                   BRA 0xb0;
"""


def self_test():
    """The rules above on figures worked by hand; run by kernel-report.sh before each report."""
    limits = SM_LIMITS["sm_90"]
    # 128 registers: 4096 per warp, 16 warps, 2 blocks of 8 warps = 25 %; 158: 5120 per warp,
    # 12 warps, 1 block = 12.5 %; 64: 2048, 32 warps, 4 blocks = 50 %; 38: 1280, 51 -> 48
    # warps, 6 blocks = 75 %; 32 registers and 100 KB of shared memory: 2 blocks = 25 %.
    for regs, shared, block, want in ((128, 1544, 256, 0.25), (158, 1544, 256, 0.125),
                                      (64, 1544, 256, 0.5), (38, 0, 256, 0.75),
                                      (32, 100 * 1024, 256, 0.25), (16, 0, 1024, 1.0)):
        got = occupancy(regs, shared, block, limits)[0]
        assert got == want, (regs, shared, block, got, want)
    # The loop 0x20..0x70 holds two 16-byte loads; the loop at 0x80..0x90 holds none and the
    # trap loop at 0xb0 is no loop of interest.
    insns = parse_sass(SELF_TEST_SASS)["_Z1kILb0EEvPK6float4"]
    loops = main_loops(insns)
    assert [(x["range"], x["instructions"], x["loads"]) for x in loops] == [
        ("0x20-0x70", 6, {16: 2})]
    # Four-byte loads: the loop at 0x80..0x90 (its coherent loads would not count).
    assert [(x["range"], x["loads"]) for x in main_loops(insns, (4,))] == [("0x80-0x90", {4: 1})]
    # A range holding another loop, or an exit (the branch back from a divergence fallback after
    # the exit), is no element loop, whatever it loads.
    outer = parse_sass("""
        Function : _Z1mv
        /*0000*/                   LDG.E.64 R4, desc[UR4][R2.64] ;
        /*0010*/                   FADD R4, R4, R8 ;
        /*0020*/               @P0 BRA 0x10 ;
        /*0030*/               @P1 BRA 0x0 ;
        /*0040*/                   LDG.E.64 R4, desc[UR4][R2.64] ;
        /*0050*/               @P2 EXIT ;
        /*0060*/                   SHFL.BFLY P5, R6, R5, R4, R3 ;
        /*0070*/                   BRA 0x40 ;
""")["_Z1mv"]
    assert main_loops(outer, (8,)) == [], main_loops(outer, (8,))
    assert load_bytes("LDG.E.STRONG.GPU R6, desc[UR8][R6.64]") is None
    assert load_bytes("@!P1 LDG.E.64 R4, desc[UR4][R4.64]") == 8
    assert load_bytes("LDG.E.U16 R4, desc[UR4][R4.64]") == 2
    g16 = {"bytes": 16, "weighted": False, "paired": False}
    assert logits_per_iteration("f32", g16, 2) == (8, True)  # two vectors of 4 logits
    assert logits_per_iteration("f32", dict(g16, weighted=True), 8) == (16, True)  # 4 + 4
    assert logits_per_iteration("bf16", dict(g16, weighted=True), 6) == (16, True)  # 2 + 4
    assert logits_per_iteration("bf16", dict(g16, weighted=True, paired=True), 8) == (32, True)
    assert logits_per_iteration("f32", dict(g16, weighted=True, paired=True), 4)[1] is False
    # 8-byte groups: bf16 logits with their 4 weights in one 16-byte access (not counted); f32
    # logits with their 2 weights in one 8-byte access (counted); one f32 logit and its weight.
    assert logits_per_iteration("bf16", {"bytes": 8, "weighted": True, "paired": False}, 1) == (
        4, True)
    assert logits_per_iteration("f32", {"bytes": 8, "weighted": True, "paired": False}, 2) == (
        2, True)
    assert logits_per_iteration("f32", {"bytes": 4, "weighted": True, "paired": True}, 3) == (
        2, True)
    assert group_bytes(decode_spec(145), 2) == 16  # main logistic/logistic
    assert group_bytes(decode_spec(145 | 1 << 12), 2) == 8  # element losses
    assert group_bytes(decode_spec(145 | 1 << 11 | 1 << 12), 4) == 4  # and statistics
    assert group_bytes(decode_spec(1 | 2 << 4 | 2 << 7), 2) == 8  # any/any, 16-bit
    assert group_bytes(decode_spec(1 | 2 << 4 | 2 << 7), 4) == 16
    enums = {"Regime": {0: "warp", 1: "block", 2: "chunk"}}
    name = readable("void ganloss::detail::kernel::segmented_loss_kernel<float, __nv_bfloat16, "
                    "145u, (ganloss::detail::kernel::Regime)1>(ganloss::detail::kernel::"
                    "KernelArgs)", enums)
    assert name == "segmented_loss_kernel<float, __nv_bfloat16, 145u, Regime::block>", name
    base, args = split_template(name)
    desc = describe_segmented_loss(args)
    assert desc["dtype"] == "f32" and desc["main"] and not desc["relativistic"], desc
    assert desc["budgeted"] and not desc["weighted"], desc
    assert desc["label"] == "float, __nv_bfloat16, main logistic/logistic, block", desc
    # Every field of encode(): {vjp, paired, average, squared, linear, weights, stats, losses}.
    assert decode_spec(3 | 4 | 8 | 5 << 4 | 4 << 7 | 1 << 10 | 1 << 11 | 1 << 12) == {
        "pass": "vjp", "paired": True, "average": True, "d": "squared", "g": "linear",
        "weighted": True, "stats": True, "losses": True}
    weighted = describe_segmented_loss(["float", "float", str(145 | 1 << 10) + "u",
                                        "Regime::warp"])
    assert weighted["weighted"] and not weighted["budgeted"], weighted
    pairs = describe_segmented_loss(["float", "float", "21u", "Regime::warp"])
    assert pairs["paired"] and pairs["relativistic"] and not pairs["budgeted"], pairs
    assert describe_segmented_loss(["float", "Spec<1, 2>"]) is None
    # A fused sequence: the prepass (0), the average's main pass with weights (1|8|2<<4|2<<7|
    # 1<<10|1<<12 = 5417) and its gradient pass (2|8|2<<4|2<<7|1<<10 = 1322).
    sequence = describe_segmented_sequence(
        ["float", "float", str(0 | 5417 << 16 | 1322 << 32) + "ul", "Regime::block"])
    assert sequence["relativistic"] and sequence["weighted"] and not sequence["budgeted"], sequence
    assert sequence["groups"] == [{"bytes": 16, "weighted": False, "paired": False},
                                  {"bytes": 4, "weighted": True, "paired": False},
                                  {"bytes": 16, "weighted": True, "paired": False}], sequence
    assert sequence["label"] == ("float, float, prepass cheap/cheap + main average any/any "
                                 "weights losses + gradients average any/any weights, block"), \
        sequence["label"]
    two = describe_segmented_sequence(["__nv_bfloat16", "float",
                                       str(0 | 5417 << 16 | 0xffff << 32) + "ul", "Regime::warp"])
    assert two["dtype"] == "bf16" and two["label"].count(" + ") == 1, two
    ptx = parse_ptxas("ptxas info    : Compiling entry function '_Z1kv' for 'sm_90'\n"
                      "ptxas info    : Function properties for _Z1kv\n"
                      "    16 bytes stack frame, 32 bytes spill stores, 16 bytes spill loads\n"
                      "ptxas info    : Used 128 registers, used 1 barriers, 1544 bytes smem\n")
    assert ptx == {"_Z1kv": {"entry": True, "stack": 16, "spill_stores": 32, "spill_loads": 16,
                             "registers": 128, "smem": 1544}}, ptx
    print("kernel_report: self-test passed")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directory", help="where kernel-report.sh wrote the tools' output")
    ap.add_argument("--json", metavar="FILE", help="write the table as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 when a kernel misses a target")
    ap.add_argument("--sources", default="kernels", help="kernel sources (enum names)")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--block", type=int, default=DEFAULT_BLOCK,
                    help="block size of kernels without __launch_bounds__")
    ap.add_argument("--quiet-notes", action="store_true", help="leave out the column notes")
    ap.add_argument("--markdown", metavar="FILE",
                    help="also write one Markdown row per instantiation, regimes side by side")
    args = ap.parse_args()

    rows = report(args.directory, args.sources, args.arch, args.block)
    print(f"Kernel resources, {args.arch} ({len(rows)} kernels)")
    print(fmt_table(rows))
    if not args.quiet_notes:
        print()
        print(NOTES)
    generic = sorted({r["family"] for r in rows if r["described_by"] == "generic"})
    if generic:
        print(f"\nnote: described from keywords in the name (no describer in kernel_report.py): "
              f"{', '.join(generic)}")
    offenders = [(r, violations(r)) for r in rows if violations(r)]
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(fmt_markdown(rows) + "\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"arch": args.arch,
                       "targets": {"max_registers": MAX_REGISTERS,
                                   "min_occupancy": MIN_OCCUPANCY,
                                   "max_sass_per_logit": MAX_SASS_PER_LOGIT,
                                   "sass_target_dtypes": list(SASS_TARGET_DTYPES)},
                       "kernels": [dict(r, misses=violations(r)) for r in rows]}, f, indent=1)
    print(f"\n{len(offenders)} of {len(rows)} kernels miss a target")
    if args.check and offenders:
        for r, bad in offenders:
            print(f"kernel-report: {r['kernel']} ({r['file']}): {'; '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
