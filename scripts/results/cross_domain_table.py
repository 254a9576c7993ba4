#!/usr/bin/env python3
"""The cross-domain study's table for docs/results.md, from scripts/results/cross_domain.sh's folder.

  python3 scripts/results/cross_domain_table.py OUTDIR

Damage is ln(ppl) - ln(ppl_dense) on the same evaluation windows (the dense model evaluated once
per corpus). For every calibration corpus and size it prints, per evaluation corpus, each method's
damage (mean over the seeds present, with min-max) and DuoGPT's damage as a fraction of SparseGPT's
(the mean of the per-seed ratios, with min-max), and whether the corpus is in-domain or held out.
"""
import glob
import json
import math
import os
import re
import sys

MIX = ["gcide", "manpages", "debref", "fortunes", "jargon", "kjv"]


def domains(source):
    if source.startswith("kjv:"):
        return {"kjv"}
    parts = source.split(":")
    return set(MIX) if len(parts) == 2 else {parts[2]}


def relation(calib, ev):
    c, e = domains(calib), domains(ev)
    return "in-domain" if e <= c else "held-out" if not (e & c) else "mixed"


def main(folder):
    dense = {}
    for f in glob.glob(os.path.join(folder, "dense-*.json")):
        corpus = os.path.basename(f)[6:-5].replace("_", ":")
        dense[corpus] = json.load(open(f))["perplexity"]
    runs = {}  # (calib, n, method) -> {seed: {corpus: damage}}
    for f in glob.glob(os.path.join(folder, "xd-*-eval-*.json")):
        m = re.match(r"xd-(\w+)-n(\d+)-s(\d+)-(\w+?)(-a[\d.]+)?-eval-(.+)\.json", os.path.basename(f))
        if not m or not os.path.exists(f.split("-eval-")[0] + ".json"):
            continue
        calib, n, seed, method, alpha, corpus = m.groups()
        corpus = corpus.replace("_", ":")
        try:
            ppl = json.load(open(f))["perplexity"]
        except (ValueError, KeyError):
            continue
        key = (calib, int(n), method + (alpha or ""))
        runs.setdefault(key, {}).setdefault(int(seed), {})[corpus] = math.log(ppl) - math.log(dense[corpus])
    corpora = sorted(dense, key=lambda c: (c != "kjv:eval", c != "mix:eval", c))
    print("| calibration | tokens | method | seeds | " + " | ".join(corpora) + " |")
    print("|---|---|---|---|" + "---|" * len(corpora))
    for (calib, n, method) in sorted(runs):
        seeds = runs[(calib, n, method)]
        cells = []
        for c in corpora:
            vals = [s[c] for s in seeds.values() if c in s]
            if not vals:
                cells.append("")
                continue
            cell = f"{sum(vals) / len(vals):.3f}"
            if len(vals) > 1:
                cell += f" ({min(vals):.3f}-{max(vals):.3f})"
            if method.startswith("duogpt"):
                base = runs.get((calib, n, "sparsegpt"), {})
                ratios = [seeds[s][c] / base[s][c] for s in seeds if c in seeds[s] and s in base and c in base[s]]
                if ratios:
                    r = sum(ratios) / len(ratios)
                    cell += f"; **{r:.2f}x**" + (f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else "")
            cells.append(cell)
        print(f"| {calib}:calib | {n} x 256 | {method} | {len(seeds)} | " + " | ".join(cells) + " |")
    print()
    for calib in sorted({k[0] for k in runs}):
        print(f"{calib}:calib: " + ", ".join(f"{c} {relation(calib + ':calib', c)}" for c in corpora))


if __name__ == "__main__":
    main(sys.argv[1])
