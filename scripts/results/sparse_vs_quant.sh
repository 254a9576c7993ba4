#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Decode speed of our engine (dual-sparse, int8 and f32 values) against llama.cpp's llama-bench on
# the Q4_1 GGUF of the same model, same machine and threads, runs alternating (docs/results.md,
# "Sparse against quantized"). Prints one line per run and a summary table of the medians.
#   scripts/results/sparse_vs_quant.sh CLI OUTDIR        # e.g. build/app/duoscope-cli /tmp/svq
# Environment: ROUNDS (2), THREADS (2), TOKENS (64 timed decode steps, llama-bench's tg64),
# SPARSITIES ("0.3 0.4 0.5 0.6 0.7": W = A each), GGUF (the cached SmolLM2 Q4_1),
# VALUES ("int8-inputs int8 f32": int8 values with int8 inputs (--int8-inputs), int8 values with
# f32 inputs, f32 values; f32 runs at W50/A50 only, for reference).
set -euo pipefail
cli=${1:?usage: sparse_vs_quant.sh CLI OUTDIR}
out=${2:?usage: sparse_vs_quant.sh CLI OUTDIR}
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${DUO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/duoscope}"
gguf=${GGUF:-$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf}
rounds=${ROUNDS:-2}
threads=${THREADS:-2}
tokens=${TOKENS:-64}
sparsities=${SPARSITIES:-0.3 0.4 0.5 0.6 0.7}
variants=${VALUES:-int8-inputs int8 f32}
bench=$(bash "$here/llamacpp.sh")
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  "$bench" -m "$gguf" -t "$threads" -p 0 -n "$tokens" -r 3 -o json > "$out/llamacpp-r$r.json" 2> "$out/llamacpp-r$r.log"
  echo "round $r llama.cpp Q4_1: $(python3 -c 'import json,sys; print("%.1f tok/s" % json.load(open(sys.argv[1]))[0]["avg_ts"])' "$out/llamacpp-r$r.json")"
  for v in $variants; do
    for s in $sparsities; do
      [ "$v" = f32 ] && [ "$s" != 0.5 ] && continue  # f32 at W50/A50 only, for reference
      f="$out/ours-$v-w$s-r$r.json"
      flags=(--values "$v")
      [ "$v" = int8-inputs ] && flags=(--values int8 --int8-inputs)
      "$cli" bench decode --model "$gguf" "${flags[@]}" --w-sparsity "$s" --a-sparsity "$s" --tokens "$tokens" \
        --context 16 --repeats 3 --threads "$threads" --no-torch --json > "$f" 2> /dev/null
      echo "round $r ours $v W$s/A$s: $(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("pruned %.1f, dense %.1f tok/s" % (j["pruned_tokens_per_second"], j["dense_tokens_per_second"]))' "$f")"
    done
  done
done
python3 - "$out" <<'EOF'
import glob, json, re, statistics, sys
out = sys.argv[1]
llama = {}  # round -> tok/s
for f in glob.glob(out + "/llamacpp-r*.json"):
    llama[int(re.search(r"-r(\d+)\.json$", f).group(1))] = json.load(open(f))[0]["avg_ts"]
ll = list(llama.values())
ref = statistics.median(ll)
print(f"\nllama.cpp Q4_1 (llama-bench tg, median of {len(ll)} rounds): {ref:.1f} tok/s ({min(ll):.1f}-{max(ll):.1f})")
print("| values | W/A | pruned tok/s (median, range) | dense tok/s, same values | pruned / llama.cpp Q4_1 | same-round ratios (median, range) |")
print("|---|---|---|---|---|---|")
runs = {}
for f in glob.glob(out + "/ours-*.json"):
    j = json.load(open(f))
    r = int(re.search(r"-r(\d+)\.json$", f).group(1))
    key = (j["values"] + (" + int8 inputs" if j.get("int8_inputs") else ""), round(j["weight_sparsity"], 1))
    runs.setdefault(key, []).append((j["pruned_tokens_per_second"], j["dense_tokens_per_second"], r))
for (v, s), xs in sorted(runs.items()):
    p = [x[0] for x in xs]; d = [x[1] for x in xs]
    ratios = [x[0] / llama[x[2]] for x in xs if x[2] in llama]
    print(f"| {v} | {s:.1f} | {statistics.median(p):.1f} ({min(p):.1f}-{max(p):.1f}) | {statistics.median(d):.1f} | "
          f"{statistics.median(p) / ref:.2f}x | {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |")
EOF
