#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Calibration time of our prune against the public Python SparseGPT (llm-compressor, run by
# scripts/results/calib_reference.py), runs alternating on the same machine, threads and windows
# (docs/results.md, "Calibration speed against the Python reference"). Also our 1-thread time for
# the threads' scaling, and the forward and statistics GFLOP/s against this machine's plain matmul.
#   scripts/results/calib_speed.sh CLI OUTDIR       # e.g. build/app/duoscope-cli /tmp/cspeed
# Environment: ROUNDS (2), THREADS (2), SIZES ("16 64": calibration windows of SEQLEN tokens),
# SEQLEN (256), MODEL (smollm2), PY (the reference environment's python), SCALING (1: also time
# ours at one thread, at the smallest size), COMPUTE ("f32"; "f32 bf16" also times ours with
# --compute-dtype bf16, as runs named METHOD_bf16).
# Every run writes OUTDIR/<name>.json; runs whose JSON exists are skipped (resume after a stop).
set -euo pipefail
cli=${1:?usage: calib_speed.sh CLI OUTDIR}
out=${2:?usage: calib_speed.sh CLI OUTDIR}
here="$(cd "$(dirname "$0")" && pwd)"
cache="${DUO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/duoscope}"
py=${PY:-$cache/venv-ref/bin/python}
rounds=${ROUNDS:-2}
threads=${THREADS:-2}
sizes=${SIZES:-16 64}
seqlen=${SEQLEN:-256}
model=${MODEL:-smollm2}
scaling=${SCALING:-1}
compute=${COMPUTE:-f32}
[ -x "$py" ] || { echo "calib_speed: $py is missing (run scripts/setup-reference.sh)" >&2; exit 1; }
mkdir -p "$out"
hold=()
[ -n "${LOCK:-}" ] && hold=(flock "$LOCK")

ours() {  # name method a-sparsity windows threads [compute dtype]
  local f="$out/$1.json"
  [ -s "$f" ] && return 0
  OMP_NUM_THREADS=$5 "${hold[@]}" "$cli" prune --model "$model" --method "$2" --w-sparsity 0.5 --a-sparsity "$3" \
    --nsamples "$4" --seqlen "$seqlen" --compute-dtype "${6:-f32}" --no-record --json > "$f.tmp" 2> "$out/$1.log"
  mv "$f.tmp" "$f"
  echo "$1: $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["timings"]; print("total %.1f s (forward %.1f, stats %.1f, solve %.1f)" % (t["total"], t["forward"], t["stats"], t["solve"]))' "$f")"
}
reference() {  # name windows
  local f="$out/$1.json"
  [ -s "$f" ] && return 0
  "${hold[@]}" "$py" "$here/calib_reference.py" --model "$model" --nsamples "$2" --seqlen "$seqlen" --threads "$threads" \
    > "$f.tmp" 2> "$out/$1.log"
  mv "$f.tmp" "$f"
  echo "$1: $(python3 -c 'import json,sys; print("%.1f s" % json.load(open(sys.argv[1]))["seconds"])' "$f")"
}

# This machine's plain matmul rate at a calibration shape (bench solver measures it first).
[ -s "$out/peak.json" ] || "${hold[@]}" "$cli" bench solver --k 576 --n 3072 --tokens $((16 * seqlen)) --method sparsegpt \
  --threads "$threads" --json > "$out/peak.json"
smallest=${sizes%% *}
for r in $(seq 1 "$rounds"); do
  for n in $sizes; do
    reference "ref-sparsegpt-n$n-r$r" "$n"
    ours "ours-sparsegpt-n$n-r$r" sparsegpt 0 "$n" "$threads"
    ours "ours-duogpt-n$n-r$r" duogpt 0.5 "$n" "$threads"
    ours "ours-sparsegpt_a50-n$n-r$r" sparsegpt 0.5 "$n" "$threads"  # DuoGPT's own setting, for DuoGPT / SparseGPT
    for c in $compute; do
      [ "$c" = f32 ] && continue
      ours "ours-sparsegpt_$c-n$n-r$r" sparsegpt 0 "$n" "$threads" "$c"
      ours "ours-duogpt_$c-n$n-r$r" duogpt 0.5 "$n" "$threads" "$c"
    done
  done
  if [ "$scaling" = 1 ]; then
    ours "ours-sparsegpt-n$smallest-t1-r$r" sparsegpt 0 "$smallest" 1
    ours "ours-duogpt-n$smallest-t1-r$r" duogpt 0.5 "$smallest" 1
  fi
  # The matmul rate after each round too: the table takes the best reading and flags their spread.
  [ "$r" = "$rounds" ] || [ -s "$out/peak-r$r.json" ] || "${hold[@]}" "$cli" bench solver --k 576 --n 3072 \
    --tokens $((16 * seqlen)) --method sparsegpt --threads "$threads" --json > "$out/peak-r$r.json"
done
# The matmul rate again after the runs: the table takes the best reading (a busy moment reads low).
[ -s "$out/peak-end.json" ] || "${hold[@]}" "$cli" bench solver --k 576 --n 3072 --tokens $((16 * seqlen)) --method sparsegpt \
  --threads "$threads" --json > "$out/peak-end.json"
python3 "$here/calib_speed_table.py" "$out" --seqlen "$seqlen"
