#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cross-domain study's table for docs/results.md, from scripts/results/cross_domain.sh's folder.

  python3 scripts/results/cross_domain_table.py OUTDIR

Damage is ln(ppl) - ln(ppl_dense) on the same evaluation windows (the dense model evaluated once
per corpus). For every calibration corpus and size it prints, per evaluation corpus, each method's
damage (mean over the seeds present, with min-max) and every other method's damage as a fraction
of SparseGPT's at the same sparsity, calibration, size and seed (the mean of the per-seed ratios,
with min-max), and whether the corpus is in-domain or held out. Run names: xd[SPARSITY]-CALIB-nN-sSEED-
METHOD[-aALPHA], CALIB kjv, mix or mixnoDOMAIN (mix:calib:without-DOMAIN), SPARSITY 50 when absent.
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
    if len(parts) == 2:
        return set(MIX)
    if parts[2].startswith("without-"):
        return set(MIX) - {parts[2][len("without-"):]}
    return {parts[2]}


def calib_source(tag):
    """The run name's calibration tag: kjv, mix, or mixnoDOMAIN (mix:calib:without-DOMAIN)."""
    if tag.startswith("mixno"):
        return "mix:calib:without-" + tag[len("mixno"):]
    return tag + ":calib"


def relation(calib, ev):
    c, e = domains(calib), domains(ev)
    return "in-domain" if e <= c else "held-out" if not (e & c) else "mixed"


def main(folder):
    dense = {}
    for f in glob.glob(os.path.join(folder, "dense-*.json")):
        if os.path.basename(f).startswith("dense-task-"):
            continue
        corpus = os.path.basename(f)[6:-5].replace("_", ":")
        dense[corpus] = json.load(open(f))["perplexity"]
    runs = {}  # (sparsity, calib, n, method) -> {seed: {corpus: damage}}
    for f in glob.glob(os.path.join(folder, "xd*-eval-*.json")):
        m = re.match(r"xd(\d*)-(\w+)-n(\d+)-s(\d+)-(\w+?)(-a[\d.]+)?-eval-(.+)\.json", os.path.basename(f))
        if not m or not os.path.exists(f.split("-eval-")[0] + ".json"):
            continue
        sparsity, tag, n, seed, method, alpha, corpus = m.groups()
        calib = calib_source(tag)
        corpus = corpus.replace("_", ":")
        try:
            ppl = json.load(open(f))["perplexity"]
        except (ValueError, KeyError):
            continue
        if alpha == "-a0.5":  # DuoGPT's alpha of the first round: its runs carry no suffix
            alpha = None
        key = (int(sparsity or 50), calib, int(n), method + (alpha or ""))
        runs.setdefault(key, {}).setdefault(int(seed), {})[corpus] = math.log(ppl) - math.log(dense[corpus])
    corpora = sorted(dense, key=lambda c: (c != "kjv:eval", c != "mix:eval", c))
    print("| W = A | calibration | tokens | method | seeds | " + " | ".join(corpora) + " |")
    print("|---|---|---|---|---|" + "---|" * len(corpora))
    for (sparsity, calib, n, method) in sorted(runs):
        seeds = runs[(sparsity, calib, n, method)]
        cells = []
        for c in corpora:
            vals = [s[c] for s in seeds.values() if c in s]
            if not vals:
                cells.append("")
                continue
            cell = f"{sum(vals) / len(vals):.3f}"
            if len(vals) > 1:
                cell += f" ({min(vals):.3f}-{max(vals):.3f})"
            if method != "sparsegpt":
                base = runs.get((sparsity, calib, n, "sparsegpt"), {})
                ratios = [seeds[s][c] / base[s][c] for s in seeds if c in seeds[s] and s in base and c in base[s]]
                if ratios:
                    r = sum(ratios) / len(ratios)
                    cell += f"; **{r:.2f}x**" + (f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else "")
            cells.append(cell)
        print(f"| {sparsity}% | {calib} | {n} x 256 | {method} | {len(seeds)} | " + " | ".join(cells) + " |")
    print()
    for calib in sorted({k[1] for k in runs}):
        print(f"{calib}: " + ", ".join(f"{c} {relation(calib, c)}" for c in corpora))
    tasks(folder)


def tasks(folder):
    """Multiple-choice accuracy (acc_norm, acc) per run key and task, against the dense model."""
    dense = {}
    for f in glob.glob(os.path.join(folder, "dense-task-*.json")):
        dense[os.path.basename(f)[len("dense-task-"):-5]] = json.load(open(f))["accuracy"]
    acc = {}  # (sparsity, calib, n, method, task) -> {seed: accuracy json}
    for f in glob.glob(os.path.join(folder, "xd*-task-*.json")):
        m = re.match(r"xd(\d*)-(\w+)-n(\d+)-s(\d+)-(\w+?)(-a[\d.]+)?-task-(.+)\.json", os.path.basename(f))
        if not m or not os.path.exists(f.split("-task-")[0] + ".json"):
            continue
        sparsity, tag, n, seed, method, alpha, task = m.groups()
        if alpha == "-a0.5":
            alpha = None
        try:
            a = json.load(open(f))["accuracy"]
        except (ValueError, KeyError):
            continue
        acc.setdefault((int(sparsity or 50), calib_source(tag), int(n), method + (alpha or ""), task), {})[int(seed)] = a
    if not acc:
        return
    print()
    print("| W = A | calibration | tokens | method | task | seeds | acc_norm | acc |")
    print("|---|---|---|---|---|---|---|---|")
    for task, d in sorted(dense.items()):
        print(f"| dense | | | | {task} ({d['items']} items) | | {d['acc_norm']:.3f} ± {d['acc_norm_stderr']:.3f} "
              f"| {d['acc']:.3f} ± {d['acc_stderr']:.3f} |")

    def cell(vals):
        mean = sum(vals) / len(vals)
        return f"{mean:.3f}" + (f" ({min(vals):.3f}-{max(vals):.3f})" if len(vals) > 1 else "")

    for key in sorted(acc):
        sparsity, calib, n, method, task = key
        seeds = acc[key]
        print(f"| {sparsity}% | {calib} | {n} x 256 | {method} | {task} | {len(seeds)} | "
              f"{cell([a['acc_norm'] for a in seeds.values()])} | {cell([a['acc'] for a in seeds.values()])} |")


if __name__ == "__main__":
    main(sys.argv[1])
