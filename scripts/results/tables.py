#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Markdown tables for docs/results.md from a folder of `duoscope-cli prune --json` documents.

  python3 scripts/results/tables.py RESULTS_DIR PREFIX   # PREFIX: tiny | smol

Run names follow scripts/results/*.txt: PREFIX-METHOD-wXXaYY[-alphaA], PREFIX-METHOD-2of4,
PREFIX-teal-aYY. Damage is the increase in log-perplexity over the dense model on the same
windows, ln(ppl) - ln(ppl_dense); "vs SparseGPT" divides it by SparseGPT's at the same setting.
"""
import json
import math
import os
import re
import sys


def load(folder, prefix):
    runs = {}
    for name in os.listdir(folder):
        if name.startswith(prefix + "-") and name.endswith(".json"):
            with open(os.path.join(folder, name)) as f:
                runs[name[len(prefix) + 1:-5]] = json.load(f)
    return runs


def damage(r):
    e = r["eval"]
    return math.log(e["perplexity"]) - math.log(e["dense_perplexity"])


def row(key, r, ref=None):
    e = r["eval"]
    d = damage(r)
    rel = f"{d / damage(ref):.2f}" if ref is not None and damage(ref) > 0 else "-"
    t = r["timings"]
    return (f"| {key} | {r['weight_sparsity']:.3f} | {r['act_sparsity']:.3f} | {e['perplexity']:.3f} | "
            f"{d:.4f} | {rel} | {t['total']:.0f} | {r['predicted_speedup']:.2f} |")


HEADER = ("| run | weight sparsity | act. sparsity | perplexity | damage (Δ ln ppl) | vs SparseGPT | "
          "seconds | predicted decode speedup |\n|---|---|---|---|---|---|---|---|")


def main():
    folder, prefix = sys.argv[1], sys.argv[2]
    runs = load(folder, prefix)
    if not runs:
        sys.exit(f"no {prefix}-*.json in {folder}")
    any_run = next(iter(runs.values()))
    e = any_run["eval"]
    o = any_run["options"]
    print(f"Dense perplexity {e['dense_perplexity']:.3f} on {e['windows']} windows x {e['seqlen']} tokens of "
          f"{e['corpus']} ({e['tokens']} predicted tokens); calibration {o['nsamples']} x {o['seqlen']} of "
          f"{o['calib']}, seed {o['seed']}.\n")
    groups = {}
    for key, r in runs.items():
        m = re.match(r"(.+?)-(w\d+a\d+|2of4|a\d+)(?:-alpha(.+))?$", key)
        if not m:
            continue
        groups.setdefault(m.group(2), []).append((m.group(1), m.group(3), key, r))
    order = ["duogpt", "sparsegpt-sparse-in", "sparsegpt", "wanda", "magnitude", "teal", "dense"]

    def setting_key(s):
        nums = re.findall(r"\d+", s)
        return (s[0] != "w", int(nums[0]) if nums else 0, s)

    for setting in sorted(groups, key=setting_key):
        items = groups[setting]
        ref = next((r for meth, al, _, r in items if meth == "sparsegpt" and al is None), None)
        print(f"### {setting}\n\n{HEADER}")
        items.sort(key=lambda it: (order.index(it[0]) if it[0] in order else 99, it[1] or ""))
        for meth, al, key, r in items:
            label = meth + (f" (alpha {al})" if al else (" (alpha %g)" % r["options"]["alpha"] if meth == "duogpt" else ""))
            print(row(label, r, ref))
        print()


if __name__ == "__main__":
    main()
