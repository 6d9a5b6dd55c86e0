#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz harnesses: tests/fuzz/corpus/<harness>/<name>.

Each seed is a small, readable case in the input layout its harness documents at the top of
its source (fuzz_c_abi.cpp, fuzz_cpu_backend.cpp; the parser takes plain text). libFuzzer
starts from these and mutates them, so they cover the shapes worth reaching: every loss kind,
ragged segments, weights, strides with gaps, misaligned and overlapping pointers, sizes near
the int64 limits, NaN and infinite logits, and for the parser the number spellings people
type. Run it after changing a layout; it replaces the corpus directories it writes.
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# --- fuzz_c_abi --------------------------------------------------------------------------

# Pointer slots in input order (fuzz_c_abi.cpp, enum Slot).
SLOTS = ["real", "fake", "real_weights", "fake_weights", "real_offsets", "fake_offsets",
         "d_loss", "d_loss_real", "d_loss_fake", "g_loss", "stats", "grad_real", "grad_real_g",
         "grad_fake_d", "grad_fake_g", "loss_real", "loss_real_g", "loss_fake_d", "loss_fake_g"]
INT64_MAX = (1 << 63) - 1
# Indices into kSizes of fuzz_c_abi.cpp.
SIZE_INDEX = {"2^40": 15, "2^62": 17, "max/4": 18, "max/4+1": 19, "max/40": 21,
              "max/40+1": 22, "max": 26, "min": 27}


def c_abi(mode=0, segments=1, real_count=4, fake_count=4, real_stride=0, fake_stride=0,
          ragged=0, dtype=0, d_loss=0, g_loss=0, reduction=2, fp32_gradients=0,
          grad_scale=None, params=None, backend="cpu", threads=1, pointers=None,
          workspace=("fresh", 0), workspace_size="required", logit_mode=100, weight_mode=0,
          offsets_modes=(0, 0), payload=b""):
    out = bytearray([mode])

    def size(v):
        # ("index", name) picks one of the harness's interesting sizes; an int is passed raw.
        if isinstance(v, tuple):
            out.extend(struct.pack("<Bq", 160, SIZE_INDEX[v[1]]))
        else:
            out.extend(struct.pack("<Bq", 224, v))

    def enum(v, valid):
        out.extend(struct.pack("<Bi", v, 0) if 0 <= v < valid else struct.pack("<Bi", 224, v))

    def flt(v):
        out.extend(struct.pack("<Bf", 0, 0.0) if v is None else struct.pack("<Bf", 208, v))

    for v in (segments, real_count, fake_count, real_stride, fake_stride):
        size(v)
    enum(ragged, 2)
    enum(dtype, 3)
    enum(d_loss, 9)
    enum(g_loss, 9)
    enum(reduction, 4)
    enum(fp32_gradients, 2)
    flt(grad_scale)
    params = params or {}
    for name in ("real_target", "fake_target", "margin_real", "margin_fake", "ls_fake_label",
                 "ls_real_label", "ls_gen_label"):
        flt(params.get(name))
    backend_sel = {"cpu": (0, 0), "reference": (150, 0)}.get(backend, (240, backend))
    out.extend(struct.pack("<Bi", *backend_sel))
    out.extend(struct.pack("<Bi", threads, 0) if 0 <= threads < 5 else
               struct.pack("<Bi", 240, threads))
    out.extend(struct.pack("<i", 0))  # workspace_initialized

    def choice(spec):
        kind, param = spec
        code = {"null": 0, "fresh": 1, "shifted": 4, "same_as": 5, "inside_of": 6,
                "anywhere": 7}[kind]
        if kind == "shifted":
            param = param - 1
        elif kind in ("same_as", "inside_of"):
            target, offset = (param, 1) if isinstance(param, str) else param
            param = SLOTS.index(target) | ((offset - 1) << 8)
        out.extend(struct.pack("<BH", code, param))

    pointers = pointers or {}
    default = {"real": ("fresh", 0), "fake": ("fresh", 0)}
    for slot in SLOTS:
        choice(pointers.get(slot, default.get(slot, ("null", 0))))
    choice(workspace)
    sel = {"required": (0, 0), "minus_one": (4, 0), "zero": (5, 0)}
    if isinstance(workspace_size, int):
        out.extend(struct.pack("<BI", 7, workspace_size))
    else:
        out.extend(struct.pack("<BI", *sel[workspace_size]))
    out.extend(bytes([logit_mode, weight_mode, offsets_modes[0], offsets_modes[1]]))
    out.extend(payload)
    return bytes(out)


ALL_OUTPUTS = {s: ("fresh", 0) for s in SLOTS[6:]}
SMALL_LOGITS = bytes((i * 37 + 11) % 256 for i in range(64))


def c_abi_seeds():
    seeds = {}
    for kind in range(9):
        g = kind if kind >= 5 else (kind + 1) % 5
        seeds[f"kind{kind}_all_outputs"] = c_abi(
            segments=2, real_count=5, fake_count=5, real_stride=8, fake_stride=6, d_loss=kind,
            g_loss=g, reduction=kind % 4, pointers=ALL_OUTPUTS, payload=SMALL_LOGITS)
    seeds["reference_backend"] = c_abi(segments=3, real_count=4, fake_count=2, d_loss=2,
                                       g_loss=2, reduction=1, backend="reference",
                                       pointers=ALL_OUTPUTS, payload=SMALL_LOGITS)
    ragged = dict(ALL_OUTPUTS, real_offsets=("fresh", 0), fake_offsets=("fresh", 0),
                  real_weights=("fresh", 0), fake_weights=("fresh", 0))
    seeds["ragged_weighted_mean"] = c_abi(segments=4, real_count=40, fake_count=30, ragged=1,
                                          reduction=2, pointers=ragged, payload=SMALL_LOGITS)
    seeds["ragged_raw_offsets"] = c_abi(segments=2, real_count=10, fake_count=10, ragged=1,
                                        reduction=3, pointers=ragged, offsets_modes=(200, 200),
                                        payload=SMALL_LOGITS)
    paired = dict(ALL_OUTPUTS, real_offsets=("fresh", 0), fake_offsets=("fresh", 0),
                  real_weights=("fresh", 0))
    seeds["ragged_paired"] = c_abi(segments=3, real_count=20, fake_count=20, ragged=1, d_loss=5,
                                   g_loss=5, pointers=paired, offsets_modes=(0, 10),
                                   payload=SMALL_LOGITS)
    seeds["misaligned_grad"] = c_abi(pointers={"grad_real": ("shifted", 2), "d_loss": ("fresh", 0)})
    seeds["misaligned_logits_f16"] = c_abi(dtype=1, pointers={"real": ("shifted", 1),
                                                             "grad_real": ("fresh", 0)})
    seeds["overlapping_outputs"] = c_abi(real_count=16, fake_count=16, pointers={
        "grad_real": ("fresh", 0), "loss_real": ("inside_of", ("grad_real", 8))})
    seeds["in_place_grad"] = c_abi(segments=2, real_count=6, fake_count=6, real_stride=7,
                                   fake_stride=7, pointers={"grad_real": ("same_as", "real"),
                                                            "grad_fake_d": ("same_as", "fake"),
                                                            "d_loss": ("fresh", 0)})
    seeds["in_place_f32_gradients_f16"] = c_abi(dtype=1, fp32_gradients=1, pointers={
        "grad_real": ("same_as", "real")})
    seeds["anywhere_pointers"] = c_abi(segments=2, pointers={
        "d_loss": ("anywhere", 100), "grad_fake_g": ("anywhere", 40), "stats": ("fresh", 0)})
    seeds["huge_segments"] = c_abi(segments=("index", "max/40+1"), real_count=1, fake_count=1,
                                   pointers=ALL_OUTPUTS)
    seeds["huge_segments_valid"] = c_abi(segments=("index", "max/40"), real_count=1,
                                         fake_count=0, pointers={"d_loss": ("fresh", 0)})
    seeds["huge_count"] = c_abi(real_count=("index", "max/4+1"), pointers=ALL_OUTPUTS)
    seeds["huge_count_valid"] = c_abi(real_count=("index", "2^40"), fake_count=3,
                                      pointers={"grad_fake_d": ("fresh", 0)})
    seeds["huge_stride"] = c_abi(segments=3, real_stride=("index", "max/4"), pointers=ALL_OUTPUTS)
    seeds["negative_sizes"] = c_abi(segments=-1, real_count=-5, pointers=ALL_OUTPUTS)
    seeds["nan_inf_logits"] = c_abi(segments=2, real_count=8, fake_count=8, logit_mode=220,
                                    pointers=ALL_OUTPUTS, payload=bytes(range(0, 256, 7)))
    seeds["raw_logits_bf16"] = c_abi(dtype=2, logit_mode=0, pointers=ALL_OUTPUTS,
                                     payload=bytes(range(256)))
    seeds["workspace_too_small"] = c_abi(reduction=2, workspace_size="minus_one",
                                         pointers={"d_loss": ("fresh", 0)})
    seeds["workspace_chunks"] = c_abi(dtype=1, real_count=5000, fake_count=5000, segments=1,
                                      reduction=1, pointers={"d_loss": ("fresh", 0),
                                                             "grad_fake_d": ("fresh", 0)})
    seeds["workspace_null"] = c_abi(d_loss=6, g_loss=6, workspace=("null", 0),
                                    pointers={"g_loss": ("fresh", 0)})
    seeds["workspace_misaligned"] = c_abi(d_loss=7, g_loss=7, workspace=("shifted", 4),
                                          pointers={"grad_real_g": ("fresh", 0)})
    seeds["workspace_overlaps_output"] = c_abi(d_loss=8, g_loss=8, reduction=2, real_count=40,
                                               workspace=("same_as", "grad_real"),
                                               pointers={"grad_real": ("fresh", 0)})
    seeds["null_problem"] = c_abi(mode=1, pointers=ALL_OUTPUTS)
    seeds["null_inputs"] = c_abi(mode=2, pointers=ALL_OUTPUTS)
    seeds["null_outputs"] = c_abi(mode=3)
    seeds["null_size_bytes"] = c_abi(mode=4)
    seeds["invalid_enums"] = c_abi(dtype=7, d_loss=-1, reduction=9, pointers=ALL_OUTPUTS)
    seeds["relativistic_mixed"] = c_abi(d_loss=6, g_loss=0, pointers=ALL_OUTPUTS)
    seeds["nan_params"] = c_abi(grad_scale=float("nan"), params={"margin_real": float("inf")},
                                pointers=ALL_OUTPUTS)
    seeds["bad_target"] = c_abi(params={"real_target": 1.5}, pointers=ALL_OUTPUTS)
    seeds["invalid_backend"] = c_abi(backend=9, pointers=ALL_OUTPUTS)
    seeds["negative_threads"] = c_abi(threads=-3, pointers=ALL_OUTPUTS)
    seeds["stats_only_f16"] = c_abi(dtype=1, segments=5, real_count=3, fake_count=7,
                                    pointers={"stats": ("fresh", 0)}, logit_mode=220,
                                    payload=SMALL_LOGITS)
    return seeds


# --- fuzz_cpu_backend --------------------------------------------------------------------

OUTPUT_BITS = ["d_loss", "d_loss_real", "d_loss_fake", "g_loss", "grad_real", "grad_fake_d",
               "grad_fake_g", "grad_real_g", "loss_real", "loss_fake_d", "loss_fake_g",
               "loss_real_g", "stats"]


def cpu(d_loss=0, g_loss=0, reduction=2, dtype=0, ragged=False, real_weights=False,
        fake_weights=False, fp32_gradients=False, in_place=False, dense=False, size="small",
        segments=2, real_count=6, fake_count=5, real_gap=2, fake_gap=0, outputs=None,
        grad_scale=0, params=(0,) * 7, lengths=((3, 0, 5, 1, 2, 7, 4, 6),) * 2,
        lead_tail=(1, 2, 0, 1), logits=b"", weights=b""):
    flags = (ragged * 1 | real_weights * 2 | fake_weights * 4 | fp32_gradients * 8 |
             in_place * 16 | dense * 32)
    size_byte = {"small": 0, "long": 0x4C, "many": 0x50}[size]
    mask = 0 if outputs is None else sum(1 << OUTPUT_BITS.index(o) for o in outputs)
    out = bytearray([d_loss, g_loss, reduction, dtype, flags, size_byte, segments])
    out.extend(struct.pack("<HHBBH", real_count, fake_count, real_gap, fake_gap, mask))
    out.append(grad_scale)
    out.extend(params)
    for side in lengths:
        out.extend(side)
    out.extend(lead_tail)
    out.extend(logits)
    out.extend(weights)
    return bytes(out)


def logit_bytes(values):
    """2 bytes per logit: (0, v) is v/8 for int8 v; (0xA0, k) picks special k (fuzz_cpu_backend's
    kSpecial: 2 NaN, 3 inf, 4 -inf, 5 FLT_MAX, 9 88.72, 15 65504, 16 65520)."""
    out = bytearray()
    for v in values:
        if isinstance(v, tuple):
            out.extend(bytes([0xA0, v[1]]))
        else:
            out.extend(bytes([0, int(round(v * 8)) & 0xFF]))
    return bytes(out)


MIXED = logit_bytes([0.5, -1.25, 3.0, 0.0, -7.5, 12.0, 1.0, -0.125, 2.5, -3.0, 15.875, -16.0])
SPECIAL = logit_bytes([("s", 2), 1.0, ("s", 3), -2.0, ("s", 4), ("s", 5), ("s", 9), ("s", 15),
                       ("s", 16), 0.25])
WIDE = bytes(b for i in range(24) for b in (0xC0 | (i % 16), (i * 29) % 256))


def cpu_seeds():
    seeds = {}
    for kind in range(9):
        g = kind if kind >= 5 else (kind + 2) % 5
        for reduction in range(4):
            seeds[f"kind{kind}_red{reduction}"] = cpu(d_loss=kind, g_loss=g, reduction=reduction,
                                                      logits=MIXED)
    seeds["ragged_weighted"] = cpu(ragged=True, real_weights=True, fake_weights=True,
                                   segments=4, logits=MIXED, weights=bytes(range(0, 250, 9)))
    seeds["ragged_paired_weighted"] = cpu(d_loss=5, g_loss=5, ragged=True, real_weights=True,
                                          segments=3, logits=MIXED, weights=bytes([16, 0, 200]))
    seeds["tiny_weights_mean"] = cpu(real_weights=True, fake_weights=True, reduction=2,
                                     logits=MIXED, weights=bytes([224, 0, 224, 231, 200]))
    seeds["f16_f32_gradients"] = cpu(dtype=1, fp32_gradients=True, d_loss=4, g_loss=4,
                                     logits=WIDE)
    seeds["bf16_in_place"] = cpu(dtype=2, in_place=True, d_loss=2, g_loss=2, logits=WIDE)
    seeds["f32_in_place_ra"] = cpu(d_loss=6, g_loss=6, in_place=True, logits=MIXED)
    seeds["f16_in_place_paired"] = cpu(dtype=1, d_loss=5, g_loss=5, in_place=True, logits=MIXED)
    seeds["nan_inf_logits"] = cpu(d_loss=8, g_loss=8, logits=SPECIAL)
    seeds["nan_inf_stats"] = cpu(outputs=["stats", "d_loss"], logits=SPECIAL, segments=3)
    seeds["label_smoothing"] = cpu(params=(200, 201, 0, 0, 0, 0, 0), logits=MIXED)
    seeds["hinge_margins_scale"] = cpu(d_loss=2, g_loss=2, grad_scale=131, params=(0, 0, 130, 133,
                                                                                 0, 0, 0),
                                       logits=WIDE)
    seeds["dense_many_segments"] = cpu(dense=True, segments=5, real_count=64, fake_count=1,
                                       logits=WIDE)
    seeds["long_segments"] = cpu(size="long", segments=1, real_count=6000, fake_count=4000,
                                 reduction=2, logits=MIXED)
    seeds["many_elements"] = cpu(size="many", d_loss=6, g_loss=6, outputs=["d_loss", "grad_real",
                                                                          "grad_fake_g"],
                                 logits=MIXED)
    return seeds


# --- fuzz_logits_parser ------------------------------------------------------------------

PARSER_SEEDS = {
    "spaces": b"1 2 3\n",
    "commas_newlines": b"0.5,-1.25,\n3e2\r\n,, 7\t8\n",
    "nan_inf": b"nan -inf inf NaN Infinity -INF\n",
    "beyond_f32": b"1e50\n",
    "beyond_f16": b"65504 65519 65520 70000\n",
    "tiny": b"1e-50 1.4e-45 7e-46 -1e-40 1.17549435e-38\n",
    "plus_sign": b"+1 +0.5 +-2\n",
    "hex_float": b"0x1p3 0x10\n",
    "negative_zero": b"-0 -0.0 0\n",
    "offsets": b"0 3 5 5 9\n",
    "offsets_signs": b"+5 -1 0\n",
    "offsets_limits": b"9223372036854775807 -9223372036854775808 9223372036854775808\n",
    "offsets_fraction": b"0 1.5 3\n",
    "weights_negative": b"1 0 -0.5\n",
    "empty": b"",
    "blank": b" \t\n\v\f,\r\n",
    "garbage": b"1 2 x3 \x00\xff\x7f\n",
    "long_token": b"1" * 200 + b"\n",
    "exponent_only": b"e5 1e 1e+ .5 5. .\n",
    "nan_payload": b"nan(123) nan() -nan\n",
}


def write(harness, seeds):
    directory = os.path.join(HERE, "corpus", harness)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


def main():
    write("fuzz_c_abi", c_abi_seeds())
    write("fuzz_cpu_backend", cpu_seeds())
    write("fuzz_logits_parser", PARSER_SEEDS)


if __name__ == "__main__":
    main()
