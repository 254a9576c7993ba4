#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Scale benchmark (docs/results.md, "Scale"): a random-weight checkpoint at real shapes, pruned end
# to end through the layer streamer with DuoGPT W50% + A50%, evaluated on a few windows, written in
# bf16. Prints the memory plan, then one summary line (peak RSS, plan, seconds per layer split
# into forward, statistics and solve, perplexity, output size).
#   scripts/results/scale.sh CLI WORKDIR SHAPE LAYERS NSAMPLES SEQLEN
# e.g. scripts/results/scale.sh build/app/duoscope-cli /work/scale llama2-7b 32 16 512
# Env: METHOD (duogpt), EVAL_WINDOWS (2), EVAL_SEQLEN (512), KEEP=1 keeps the pruned checkpoint.
set -euo pipefail
CLI=$1; W=$2; SHAPE=$3; LAYERS=$4; N=$5; T=$6
M="$W/$SHAPE-L$LAYERS"
OUT="$M-pruned"
METHOD=${METHOD:-duogpt}
LOG="$W/$SHAPE-L$LAYERS-$METHOD-n$N-t$T"
mkdir -p "$W"
[ -f "$M/config.json" ] || "$CLI" make-random-model --out "$M" --shape "$SHAPE" --layers "$LAYERS" --seed 1
ARGS=(--model "$M" --method "$METHOD" --w-sparsity 0.5 --a-sparsity 0.5 --nsamples "$N" --seqlen "$T"
      --eval --max-windows "${EVAL_WINDOWS:-2}" --eval-seqlen "${EVAL_SEQLEN:-512}" --no-record --device cpu)
"$CLI" prune "${ARGS[@]}" --plan | tee "$LOG.plan.txt"
start=$(date +%s)
"$CLI" prune "${ARGS[@]}" --out "$OUT" --out-dtype bf16 --json > "$LOG.json" 2> "$LOG.log"
end=$(date +%s)
python3 - "$LOG.json" "$OUT" "$LAYERS" "$((end - start))" <<'PY'
import json, os, sys
j = json.load(open(sys.argv[1])); out, L, wall = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t = j['timings']; size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
print(f"layers {L}: wall {wall} s, peak RSS {j['peak_rss_bytes'] / 2**30:.2f} GiB, plan {j['memory_plan']['total_bytes'] / 2**30:.2f} GiB; "
      f"per layer: forward {t['forward'] / L:.1f} s, statistics {t['stats'] / L:.1f} s, solve {t['solve'] / L:.1f} s; "
      f"eval {t['eval']:.1f} s; ppl {j['eval']['perplexity']:.2f} (dense {j['eval']['dense_perplexity']:.2f}); "
      f"out {size / 1e9:.2f} GB {j.get('out_dtype')} in {len(j.get('out_shards', []))} shards; "
      f"weight sparsity {j['weight_sparsity']:.4f}")
PY
[ "${KEEP:-0}" = 1 ] || rm -rf "$OUT"
