#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Data-parallel calibration on this machine (docs/results.md, "Data-parallel"): the same DuoGPT
# job as 1 process x 1 thread, 2 processes x 1 thread (--nproc 2) and 1 process x 2 threads,
# alternating, REPS rounds; prints each run's wall time and the JSON's timings, then the ratios.
#   scripts/results/dist_bench.sh CLI OUTDIR
# Env: MODEL (smollm2), NSAMPLES/SEQLEN (32/256), REPS (2), METHOD (duogpt).
set -e
CLI=$1; OUT=$2
MODEL=${MODEL:-smollm2}
ARGS="prune --model $MODEL --method ${METHOD:-duogpt} --w-sparsity 0.5 --a-sparsity 0.5 --nsamples ${NSAMPLES:-32} --seqlen ${SEQLEN:-256} --seed 0 --no-record --json"
mkdir -p "$OUT"
unset OMP_WAIT_POLICY
for r in $(seq 1 "${REPS:-2}"); do
  for cfg in 1x1 2x1 1x2; do
    case $cfg in
      1x1) env="OMP_NUM_THREADS=1"; extra="";;
      2x1) env="OMP_NUM_THREADS=1"; extra="--nproc 2";;
      1x2) env="OMP_NUM_THREADS=2"; extra="";;
    esac
    t0=$(date +%s.%N)
    env $env "$CLI" $ARGS $extra > "$OUT/$cfg-$r.json" 2> "$OUT/$cfg-$r.err"
    t1=$(date +%s.%N)
    python3 - "$OUT/$cfg-$r.json" "$cfg" "$r" "$t0" "$t1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); t = j['timings']
print(f"{sys.argv[2]} round {sys.argv[3]}: wall {float(sys.argv[5]) - float(sys.argv[4]):7.1f} s  total {t['total']:7.1f}  "
      f"forward {t['forward']:6.1f}  stats {t['stats']:6.1f}  solve {t['solve']:6.1f}  world {j.get('world_size', 1)}  "
      f"peak {j['peak_rss_bytes'] / 2**20:.0f} MiB", flush=True)
PY
  done
done
python3 - "$OUT" "${REPS:-2}" <<'PY'
import json, sys, statistics as st
out, reps = sys.argv[1], int(sys.argv[2])
tot = {c: [json.load(open(f'{out}/{c}-{r}.json'))['timings']['total'] for r in range(1, reps + 1)] for c in ('1x1', '2x1', '1x2')}
m = {c: st.median(v) for c, v in tot.items()}
print(f"median total: 1x1 {m['1x1']:.1f} s, 2x1 {m['2x1']:.1f} s, 1x2 {m['1x2']:.1f} s; "
      f"2 processes vs 1x1: {m['1x1'] / m['2x1']:.2f}x, 2 threads vs 1x1: {m['1x1'] / m['1x2']:.2f}x, "
      f"2 processes vs 2 threads: {m['1x2'] / m['2x1']:.2f}x")
PY
