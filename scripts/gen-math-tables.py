#!/usr/bin/env python3
"""Generates the entries of src/math_tables.hpp, the CPU backend's exp and log1p tables on
AVX-512, or checks that the header holds them.

  scripts/gen-math-tables.py                 # prints the four arrays
  scripts/gen-math-tables.py --check FILE    # exit 1 if FILE's arrays differ from them

log1p: for n in 1..30, r_n is the float within 6000 ulps of 1 / (1 + n/31) (rounded to float)
whose -log(r_n) lies closest to a float; r_0 = 1 and r_31 = 1/2. The offsets are -log(r_n)
rounded to float. exp: 2^(j/32) rounded to float, and the rest rounded. Pure Python (struct,
math, decimal); CTest runs the check where a Python 3 interpreter is found.
"""
import argparse
import math
import re
import struct
import sys
from decimal import Decimal, getcontext

getcontext().prec = 60
SEARCH_ULPS = 6000
ENTRIES = 32


def f32(x):
    return struct.unpack("f", struct.pack("f", float(x)))[0]


def bits(x):
    return struct.unpack("I", struct.pack("f", x))[0]


def from_bits(b):
    return struct.unpack("f", struct.pack("I", b))[0]


def ulp(x):
    return 2.0 ** (math.frexp(x)[1] - 24)


def log1p_tables():
    scale, offset = [1.0], [0.0]
    for n in range(1, ENTRIES):
        if n == ENTRIES - 1:
            scale.append(0.5)
            offset.append(f32(math.log(2.0)))
            continue
        centre = bits(f32(1.0 / (1.0 + n / 31.0)))
        best = None
        for d in range(-SEARCH_ULPS, SEARCH_ULPS + 1):
            r = from_bits(centre + d)
            exact = -Decimal(r).ln()
            rounded = f32(exact)
            distance = abs(exact - Decimal(rounded)) / Decimal(ulp(rounded))
            if best is None or distance < best[0]:
                best = (distance, r, rounded)
        scale.append(best[1])
        offset.append(best[2])
    return scale, offset


def exp_tables():
    high, low = [], []
    for j in range(ENTRIES):
        exact = Decimal(2) ** (Decimal(j) / 32)
        h = f32(exact)
        high.append(h)
        low.append(f32(exact - Decimal(h)))
    return high, low


def literal(x):
    if x == 0:
        return "0.0f"
    mantissa, exponent = float(x).hex().split("p")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    return mantissa + "p" + exponent + "f"


def tables():
    scale, offset = log1p_tables()
    high, low = exp_tables()
    return {"kLog1pScale": scale, "kLog1pOffset": offset, "kExp2High": high, "kExp2Low": low}


def read_header(path):
    text = open(path).read()
    found = {}
    for name in ("kLog1pScale", "kLog1pOffset", "kExp2High", "kExp2Low"):
        m = re.search(name + r"\[[^\]]*\]\s*=\s*\{([^}]*)\}", text)
        if not m:
            raise SystemExit(f"{path}: no array {name}")
        found[name] = [float.fromhex(v.rstrip("f")) if "x" in v else float(v.rstrip("f"))
                       for v in re.findall(r"-?0x[0-9a-fA-F.]+p[-+]?\d+f|-?\d+\.\d*f", m.group(1))]
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="FILE")
    args = parser.parse_args()
    want = tables()
    if args.check:
        have = read_header(args.check)
        bad = [name for name in want if have[name] != want[name]]
        for name in bad:
            print(f"{args.check}: {name} differs from its definition", file=sys.stderr)
        if not bad:
            print(f"{args.check}: all {len(want)} tables match their definitions")
        return 1 if bad else 0
    for name, values in want.items():
        print(f"{name}: {', '.join(literal(v) for v in values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
