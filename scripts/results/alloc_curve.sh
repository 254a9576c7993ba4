#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Uniform vs allocated DuoGPT: perplexity against predicted decode speedup (docs/allocation.md).
#   scripts/results/alloc_curve.sh CLI OUTDIR "1.3 1.6 1.9 2.2 2.4617 2.5"
# Env: MODEL (tiny), GRID (0,0.1,...,0.9), NSAMPLES/SEQLEN (64/128), MAXW (256 eval windows),
# OBJECTIVE (auto: loss-weighted), THREADS (1). For each target: allocate from one sensitivity
# table, then a real DuoGPT prune of the allocated config and of the uniform p_w = p_a = p that
# meets the same target, both evaluated on the same windows; one summary line per target.
set -e
CLI=$1; OUT=$2; TARGETS=$3
MODEL=${MODEL:-tiny}
GRID=${GRID:-0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9}
COMMON="--model $MODEL --nsamples ${NSAMPLES:-64} --seqlen ${SEQLEN:-128} --seed 0"
EVAL="--eval --max-windows ${MAXW:-256} --no-record"
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=${THREADS:-1} OPENBLAS_NUM_THREADS=${THREADS:-1}
mkdir -p "$OUT"
[ -f "$OUT/sens.json" ] || "$CLI" sensitivity $COMMON --grid-w $GRID --grid-a $GRID --out "$OUT/sens.json" > "$OUT/sens.txt"
for T in $TARGETS; do
  "$CLI" allocate --model "$MODEL" --sensitivity "$OUT/sens.json" --objective "${OBJECTIVE:-auto}" --target-speedup "$T" \
    --out "$OUT/cfg-$T.json" --json > "$OUT/alloc-$T.json"
  P=$(python3 -c "import json;print(json.load(open('$OUT/alloc-$T.json'))['uniform_reference']['weight'])")
  [ -f "$OUT/prune-uniform-$T.json" ] || "$CLI" prune --method duogpt $COMMON --w-sparsity "$P" --a-sparsity "$P" $EVAL --json > "$OUT/prune-uniform-$T.json"
  [ -f "$OUT/prune-alloc-$T.json" ] || "$CLI" prune --method duogpt $COMMON --config "$OUT/cfg-$T.json" $EVAL --json > "$OUT/prune-alloc-$T.json"
  python3 - "$OUT" "$T" "$P" <<'PY'
import json, math, sys
out, t, p = sys.argv[1], sys.argv[2], float(sys.argv[3])
u = json.load(open(f'{out}/prune-uniform-{t}.json')); a = json.load(open(f'{out}/prune-alloc-{t}.json'))
pu, pa, d = u['eval']['perplexity'], a['eval']['perplexity'], u['eval']['dense_perplexity']
print(f"{t} uniform p={p:.4f} speedup {u['predicted_speedup']:.3f} ppl {pu:.3f} | allocated speedup "
      f"{a['predicted_speedup']:.3f} ppl {pa:.3f} ({100 * (pa / pu - 1):+.2f}%) | dense {d:.3f}", flush=True)
PY
done
