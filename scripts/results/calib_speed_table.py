#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tables of scripts/results/calib_speed.sh's runs: ours against the Python reference, the threads'
scaling, and the forward and statistics rates against this machine's plain matmul.

The rates count the multiply-adds the calibration does (2 flops each), from the model's shapes:
- forward: every stream through every projection over every calibration token (SparseGPT at A0 and
  DuoGPT keep two streams, dense and pruned; a baseline with activation sparsity keeps a third),
  attention (QK^T and AV over each window; since 2026-12-05 in blocks of 128 query positions, each
  against the keys up to its last position, before that the causal rows in full), and the mask-only
  error's product on its sample (since 2026-12-05 about 1024 tokens: tokens / (tokens // 1024);
  before, min(2048, tokens));
- statistics: the upper triangles of H over each site's inputs and, for DuoGPT, of M = dX Xs^T,
  2 tokens k (k + 1) / 2 flops each (a_j is a vector), InputStats' upperSumFlops. What the row
  panels repeat on their diagonal squares is not counted: it shows as a lower rate. (Until
  2026-12-06 the panels' work was counted as computed: those runs' statistics rates read 17-40%
  higher per site than this count gives; before 2026-12-05, M was computed and counted in full.)
Runs from before 2026-12-05 are counted as today's code computes (their rates read a little low).
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys


def load(out):
    runs = {}
    for f in glob.glob(os.path.join(out, "*.json")):
        m = re.match(r"(ours|ref)-([a-z0-9_]+)-n(\d+)(-t1)?-r\d+\.json$", os.path.basename(f))
        if m:
            runs.setdefault((m.group(1), m.group(2), int(m.group(3)), bool(m.group(4))), []).append(json.load(open(f)))
    return runs


def seconds(kind, j):
    return j["seconds"] if kind == "ref" else j["timings"]["total"]


def med(xs):
    return statistics.median(xs), min(xs), max(xs)


def requestedAct(j):
    """The largest activation sparsity the run asked for (act_sparsity is the achieved one)."""
    return max(p["act"] for layer in j["sparsity"]["layers"] for p in layer.values())


QUERY_BLOCK = 128  # core/model/llama_model.cpp kQueryBlock
MASK_ONLY_TOKENS = 1024  # core/prune/calibrate.cpp kMaskOnlyTokens


def upperSumFlops(k, tokens):
    """core/prune/input_stats.h upperSumFlops: one [k, k] upper triangle from [tokens, k] operands."""
    return tokens * k * (k + 1)


def attentionPairs(seqlen):
    """(query, key) pairs whose scores one window's blocked causal attention forms."""
    return sum((min(seqlen, t0 + QUERY_BLOCK) - t0) * min(seqlen, t0 + QUERY_BLOCK) for t0 in range(0, seqlen, QUERY_BLOCK))


def flops(info, method, aSparsity, windows, seqlen):
    d, ff, L = info["hidden_size"], info["intermediate_size"], info["layers"]
    hd, nh, nkv = info["head_dim"], info["heads"], info["kv_heads"]
    qd, kvd = nh * hd, nkv * hd
    params = d * (qd + 2 * kvd) + qd * d + 2 * d * ff + ff * d
    tokens = windows * seqlen
    method = method.split("_")[0]  # duogpt_bf16: DuoGPT with bf16 products
    streams = 3 if method != "duogpt" and aSparsity > 0 else 2
    attention = windows * 2 * (2 * attentionPairs(seqlen) * qd)
    sample = tokens / max(1, tokens // MASK_ONLY_TOKENS)
    forward = L * (streams * (2 * tokens * params + attention) + 2 * sample * params)
    sites = [d, qd, d, ff]  # inputs of qkv, o, gate/up, down
    stats = L * sum(upperSumFlops(k, tokens) * (2 if method == "duogpt" else 1) for k in sites)
    return forward, stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seqlen", type=int, default=256)
    ap.add_argument("--cli", default="build/app/duoscope-cli")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--peak", type=float, action="append", default=[],
                    help="another reading of the plain f32 matmul's GFLOP/s (bench solver's peak_gflops), taken apart")
    a = ap.parse_args()
    runs = load(a.out)
    # The best of the plain-matmul readings taken before, between and after the rounds, and any given
    # with --peak (one taken on a busy machine reads low; the rates' "of peak" must not flatter).
    peaks = [json.load(open(os.path.join(a.out, f)))["peak_gflops"]
             for f in sorted(os.listdir(a.out)) if f.startswith("peak") and f.endswith(".json")]
    peaks += a.peak
    peak = max(peaks)
    info = json.loads(subprocess.run([a.cli, "info", "--model", a.model, "--json"], capture_output=True,
                                     text=True, check=True).stdout)

    print("Ours against the Python reference (seconds of calibration, no evaluation; median (range))")
    print("| method | windows | ours | llm-compressor SparseGPT | ours / reference |")
    print("|---|---|---|---|---|")
    for (kind, method, n, t1), js in sorted(runs.items()):
        if kind != "ours" or t1:
            continue
        if method == "sparsegpt_a50":
            continue  # not the reference's setting: in the DuoGPT / SparseGPT table
        ref = runs.get(("ref", "sparsegpt", n, False))
        o = med([seconds("ours", j) for j in js])
        if ref:
            r = med([seconds("ref", j) for j in ref])
            print(f"| {method} | {n} x {a.seqlen} | {o[0]:.1f} ({o[1]:.1f}-{o[2]:.1f}) | {r[0]:.1f} ({r[1]:.1f}-{r[2]:.1f}) "
                  f"| **{o[0] / r[0]:.2f}x** |")

    print("\nDuoGPT against SparseGPT at the same W50% + A50% (ours, seconds)")
    print("| windows | DuoGPT | SparseGPT | DuoGPT / SparseGPT |")
    print("|---|---|---|---|")
    for (kind, method, n, t1), js in sorted(runs.items()):
        if kind == "ours" and method == "duogpt" and not t1 and ("ours", "sparsegpt_a50", n, False) in runs:
            d = med([seconds("ours", j) for j in js])
            s = med([seconds("ours", j) for j in runs[("ours", "sparsegpt_a50", n, False)]])
            print(f"| {n} x {a.seqlen} | {d[0]:.1f} | {s[0]:.1f} | **{d[0] / s[0]:.2f}x** |")

    print("\nThreads (ours, seconds)")
    print("| method | windows | 1 thread | 2 threads | scaling | forward / statistics / solve scaling |")
    print("|---|---|---|---|---|---|")
    for (kind, method, n, t1), js in sorted(runs.items()):
        if kind != "ours" or not t1:
            continue
        two = runs.get(("ours", method, n, False))
        if two:
            o1 = med([seconds("ours", j) for j in js])
            o2 = med([seconds("ours", j) for j in two])
            parts = " / ".join(f"{med([j['timings'][p] for j in js])[0] / med([j['timings'][p] for j in two])[0]:.2f}x"
                               for p in ("forward", "stats", "solve"))
            print(f"| {method} | {n} x {a.seqlen} | {o1[0]:.1f} | {o2[0]:.1f} | **{o1[0] / o2[0]:.2f}x** | {parts} |")

    print(f"\nRates against this machine's plain matmul ({peak:.0f} GFLOP/s in f32, bench solver, best of {len(peaks)}), 2 threads, median run"
          " (the _bf16 runs' products are bf16: their peak is several times the f32 one)")
    print("| method | windows | forward s | forward GFLOP/s | of peak | statistics s | statistics GFLOP/s | of peak | solve s |")
    print("|---|---|---|---|---|---|---|---|---|")
    f32best = 0.0
    for (kind, method, n, t1), js in sorted(runs.items()):
        if kind != "ours" or t1:
            continue
        j = sorted(js, key=lambda x: x["timings"]["total"])[len(js) // 2]
        t = j["timings"]
        fwd, st = flops(info, method, requestedAct(j), n, a.seqlen)
        fr, sr = fwd / t["forward"] * 1e-9, st / t["stats"] * 1e-9
        print(f"| {method} | {n} x {a.seqlen} | {t['forward']:.1f} | {fr:.0f} | {fr / peak:.0%} | {t['stats']:.1f} | "
              f"{sr:.0f} | {sr / peak:.0%} | {t['solve']:.1f} |")
        if "bf16" not in method:
            f32best = max(f32best, fr, sr)
    # The peak is only as good as its best reading: say so where the readings disagree, or where an
    # f32 rate comes near it (the calibration's products cannot beat a plain matmul of its shapes).
    spread = max(peaks) / min(peaks)
    if spread > 1.15:
        print(f"\nFlag: the peak readings were {', '.join(f'{p:.0f}' for p in peaks)} GFLOP/s, {spread - 1:.0%} apart: the"
              " machine's rate moved while they were taken; the fractions above are against the best.")
    if f32best > 0.9 * peak:
        print(f"\nFlag: an f32 rate reached {f32best / peak:.0%} of the peak: the best reading itself may have been taken"
              " on a busy machine, so take the fractions above as upper bounds (pass a quiet machine's reading"
              " with --peak).")

    print("\nThe solve by phase (seconds, median run; `other`: the solve's time outside the solver's phases,"
          " mostly the weights' transposes and the masked copies for the errors)")
    names = ("cholesky", "inverse", "residual", "masks", "sweep", "update")
    print("| run | threads | windows | " + " | ".join(names) + " | other | solve |")
    print("|---|---|---|" + "---|" * (len(names) + 2))
    for (kind, method, n, t1), js in sorted(runs.items()):
        if kind != "ours" or any(not j.get("solve_phases") for j in js):
            continue  # runs from before the phases were recorded
        j = sorted(js, key=lambda x: x["timings"]["total"])[len(js) // 2]
        ph, solve = j["solve_phases"], j["timings"]["solve"]
        print(f"| {method} | {1 if t1 else 2} | {n} x {a.seqlen} | " + " | ".join(f"{ph[x]:.2f}" for x in names)
              + f" | {solve - sum(ph[x] for x in names):.2f} | {solve:.2f} |")

    print("\nThe products' floor: forward and statistics FLOPs at the plain matmul rate, plus the measured"
          " solves, against the reference (f32 runs)")
    print("| method | windows | products at peak (s) | solve (s) | floor (s) | floor / reference | ours / reference |")
    print("|---|---|---|---|---|---|---|")
    for (kind, method, n, t1), js in sorted(runs.items()):
        if kind != "ours" or t1 or method not in ("sparsegpt", "duogpt"):
            continue
        ref = runs.get(("ref", "sparsegpt", n, False))
        if not ref:
            continue
        j = sorted(js, key=lambda x: x["timings"]["total"])[len(js) // 2]
        fwd, st = flops(info, method, requestedAct(j), n, a.seqlen)
        prod = (fwd + st) / (peak * 1e9)
        solve = j["timings"]["solve"]
        r = med([seconds("ref", x) for x in ref])[0]
        o = med([seconds("ours", x) for x in js])[0]
        print(f"| {method} | {n} x {a.seqlen} | {prod:.1f} | {solve:.1f} | {prod + solve:.1f} | {(prod + solve) / r:.2f}x "
              f"| {o / r:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
