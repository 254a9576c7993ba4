#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The cross-domain study (docs/results.md, "Outside the calibration text"): SmolLM2 pruned with
# calibration from kjv:calib or mix:calib at several sizes and seeds, each pruned model evaluated
# in-domain and on held-out kinds of text, so that DuoGPT's advantage over SparseGPT can be read
# outside its calibration text.
#   scripts/results/cross_domain.sh QUEUE.txt OUTDIR [path/to/duoscope-cli]
# Each line of QUEUE.txt: "NAME ARGS..." (ARGS go to `prune`); the pruned checkpoint is written to
# a scratch folder, evaluated on every corpus of $EVALS (16 windows x 256 tokens each, the
# activation rule on) and deleted. The dense model is evaluated once per corpus
# (OUTDIR/dense-CORPUS.json). Results: OUTDIR/NAME.json (prune --json) and OUTDIR/NAME-eval-CORPUS.json;
# a NAME whose JSON exists is skipped, so the queue resumes. $TASKS (optional, space-separated
# multiple-choice JSONL files from `make-task`): each pruned model and the dense one are also scored
# on each task (OUTDIR/NAME-task-FILE.json, OUTDIR/dense-task-FILE.json; FILE the task's base name);
# $TASK_RUNS (an extended regular expression, default every run) limits that to the runs it matches.
set -u
queue=$1 out=$2
cli=${3:-$(dirname "$0")/../../build/app/duoscope-cli}
evals=${EVALS:-"mix:eval kjv:eval mix:eval:manpages mix:eval:fortunes"}
windows=${EVAL_WINDOWS:-16}
mkdir -p "$out"
tag() { echo "$1" | tr ':' '_'; }
tasks=${TASKS:-}
task_eval() {  # MODEL TASK OUTFILE: accuracy on TASK (one perplexity window beside it: eval needs a corpus)
  "$cli" eval --model "$1" --task "$2" --corpus kjv:eval --seqlen 256 --max-windows 1 --json > "$3.tmp" 2>> "$out/log" &&
    mv "$3.tmp" "$3"
}
for t in $tasks; do
  f="$out/dense-task-$(basename "$t" .jsonl).json"
  [ -f "$f" ] || task_eval smollm2 "$t" "$f"
done
for c in $evals; do
  f="$out/dense-$(tag "$c").json"
  [ -f "$f" ] || "$cli" eval --model smollm2 --corpus "$c" --seqlen 256 --max-windows "$windows" --json > "$f.tmp" 2>> "$out/log" && mv "$f.tmp" "$f"
done
while read -r name args; do
  [ -z "$name" ] && continue
  case $name in \#*) continue ;; esac
  [ -f "$out/$name.json" ] && continue
  ck="$out/ck-$name"
  rm -rf "$ck"
  echo "$(date +%T) start $name: prune $args" >> "$out/log"
  start=$(date +%s)
  # shellcheck disable=SC2086  # ARGS are meant to split into words
  if "$cli" prune $args --out "$ck" --no-record --json > "$out/$name.tmp" 2> "$out/$name.err"; then
    for c in $evals; do
      "$cli" eval --model "$ck" --corpus "$c" --seqlen 256 --max-windows "$windows" --json \
        > "$out/$name-eval-$(tag "$c").json" 2>> "$out/$name.err"
    done
    for t in $tasks; do
      echo "$name" | grep -Eq -e "${TASK_RUNS:-.}" || continue
      task_eval "$ck" "$t" "$out/$name-task-$(basename "$t" .jsonl).json"
    done
    mv "$out/$name.tmp" "$out/$name.json"
    echo "$(date +%T) done $name in $(( $(date +%s) - start )) s" >> "$out/log"
  else
    echo "$(date +%T) FAILED $name (see $out/$name.err)" >> "$out/log"
  fi
  rm -rf "$ck"
done < "$queue"
