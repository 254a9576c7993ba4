#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Records the golden run that tests/model/test_golden_run.cpp replays: the bundled tiny model pruned
# with DuoGPT at W50% + A50% (topk), fixed seed, small calibration, perplexity on 16 windows.
# Re-run it (and commit the JSON) only when the bundled model or the method deliberately changes.
#   tests/data/golden/make_golden.sh [path/to/duoscope-cli]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cli=${1:-$root/build/app/duoscope-cli}
model=$root/resources/models/duo-tiny-kjv
out=$here/tiny_duogpt_w50a50.json
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$cli" prune --model "$model" --method duogpt --w-sparsity 0.5 --a-sparsity 0.5 \
  --nsamples 32 --seqlen 128 --seed 7 --eval --max-windows 16 --device cpu --json > "$out.tmp"
sha=$(sha256sum "$model/model.safetensors" | cut -d' ' -f1)
python3 - "$out.tmp" "$sha" <<'PY'
import json, sys
path, sha = sys.argv[1], sys.argv[2]
d = json.load(open(path))
d["golden_model_sha256"] = sha
for k in ("timings", "solve_phases", "peak_rss_bytes", "out"):
    d.pop(k, None)
for r in d["records"]:
    r.pop("seconds", None)
json.dump(d, open(path, "w"), indent=1)
PY
mv "$out.tmp" "$out"
echo "wrote $out"
