#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a list of `duoscope-cli prune` experiments one after another and keeps each one's JSON.
#   scripts/results/run_queue.sh QUEUE.txt OUTDIR [path/to/duoscope-cli]
# Each non-empty line of QUEUE.txt is "NAME ARGS..." (ARGS go to `prune`, which gets --json).
# Results land in OUTDIR/NAME.json (stderr in NAME.err, peak RSS from /usr/bin/time -v in it);
# a NAME whose JSON exists is skipped, so an interrupted queue resumes where it stopped; so is a NAME
# whose NAME.tmp exists (another queue on the same OUTDIR is running it: delete a stale .tmp left by
# a killed run before resuming).
# One thread per run (OMP_NUM_THREADS=1 unless set): on a shared 2-core machine two OpenMP threads
# that wait for each other run far slower than one.
set -u
queue=$1 out=$2
cli=${3:-$(dirname "$0")/../../build/app/duoscope-cli}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
mkdir -p "$out"
while read -r name args; do
  [ -z "$name" ] && continue
  case $name in \#*) continue ;; esac
  [ -f "$out/$name.json" ] && continue
  [ -f "$out/$name.tmp" ] && continue
  echo "$(date +%T) start $name: prune $args" >> "$out/log"
  start=$(date +%s)
  # shellcheck disable=SC2086  # ARGS are meant to split into words
  if /usr/bin/time -v "$cli" prune $args --json > "$out/$name.tmp" 2> "$out/$name.err"; then
    mv "$out/$name.tmp" "$out/$name.json"
    echo "$(date +%T) done $name in $(( $(date +%s) - start )) s" >> "$out/log"
  else
    echo "$(date +%T) FAILED $name (see $out/$name.err)" >> "$out/log"
  fi
done < "$queue"
