#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time the public Python SparseGPT on the same model, windows and threads as our calibration.

The public reference is llm-compressor's SparseGPTModifier (PyPI `llmcompressor`, installed by
scripts/setup-reference.sh): the maintained descendant of IST-DASLab's sparsegpt code, the same
blocked OBS solver with lazy batch updates, run by llm-compressor's sequential pipeline (one decoder
layer at a time, every Linear of the layer calibrated from one forward of the layer's inputs, the
pruned layer's outputs fed to the next). The lm_head is not pruned, as in our runs.

Calibration windows: NSAMPLES windows of SEQLEN tokens drawn (seeded) from the same corpus file our
`--calib` reads, tokenized by the model's own tokenizer. Model loading and tokenization are outside
the timing; what is timed is `oneshot` (calibration plus pruning), which is what our
`timings.total` covers when evaluation is off.

Prints one JSON object: seconds, threads, nsamples, seqlen, sparsity, versions, and the achieved
weight sparsity of the pruned projections (a check that the reference did its work).

  calib_reference.py --model smollm2 --nsamples 16 --seqlen 256 --threads 2 [--corpus FILE]
"""
import argparse
import importlib.metadata
import json
import os
import random
import sys
import time

import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "reference"))
import make_model_refs as refs  # noqa: E402  (model resolution and loading shared with the reference outputs)


def corpusFile(arg):
    if arg and os.path.isfile(arg):
        return arg
    name = {"kjv:calib": "kjv-calib.txt", "mix:calib": "mix-calib.txt"}.get(arg or "kjv:calib")
    if name is None:
        sys.exit(f"calib_reference: corpus '{arg}' is neither kjv:calib, mix:calib nor a file")
    path = os.path.join(refs.cacheDir(), "corpus", name)
    if not os.path.isfile(path):
        sys.exit(f"calib_reference: {path} is missing (run scripts/setup.sh, which derives the corpora)")
    return path


def windows(tok, path, nsamples, seqlen, seed):
    with open(path, encoding="utf-8") as f:
        ids = refs.encode(tok, f.read())
    if len(ids) < seqlen + 1:
        sys.exit(f"calib_reference: {path} has {len(ids)} tokens, fewer than one window of {seqlen}")
    rng = random.Random(seed)
    starts = [rng.randrange(0, len(ids) - seqlen) for _ in range(nsamples)]
    return [ids[s:s + seqlen] for s in starts]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--nsamples", type=int, default=16)
    ap.add_argument("--seqlen", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--corpus", default="kjv:calib")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if not 0.0 <= a.sparsity < 1.0:
        sys.exit(f"calib_reference: --sparsity expected in [0, 1), got {a.sparsity}")
    torch.set_num_threads(a.threads)
    # stdout carries the one JSON line: whatever the libraries print (llm-compressor logs to stdout)
    # goes to stderr.
    result = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    import logging
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.pruning.sparsegpt import SparseGPTModifier
    logging.disable(logging.WARNING)
    try:
        from loguru import logger
        logger.remove()
    except Exception:
        pass

    kind, folder, ggufName, _ = refs.resolveModel(a.model)
    tok, model = refs.load(kind, folder, ggufName)
    rows = windows(tok, corpusFile(a.corpus), a.nsamples, a.seqlen, a.seed)
    ds = Dataset.from_dict({"input_ids": rows, "attention_mask": [[1] * a.seqlen for _ in rows]})
    recipe = SparseGPTModifier(sparsity=a.sparsity, mask_structure="0:0", block_size=128, dampening_frac=0.01,
                               targets=[r"re:.*layers\.\d+\..*_proj$"], ignore=["re:.*lm_head"])
    # oneshot re-reads config.json from the model's name_or_path; a model loaded from a GGUF has none
    # there, so its config is written to a temporary folder. transformers marks a GGUF-loaded model as
    # quantized (gguf) although its weights are dequantized f32 (refs.load checks that): the mark goes.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    import tempfile
    cfgDir = tempfile.mkdtemp(prefix="duo-ref-config-")
    model.config.save_pretrained(cfgDir)
    model.config._name_or_path = cfgDir
    t0 = time.perf_counter()
    oneshot(model=model, processor=tok, dataset=ds, recipe=recipe, num_calibration_samples=a.nsamples,
            max_seq_length=a.seqlen, pipeline="sequential", shuffle_calibration_samples=False)
    seconds = time.perf_counter() - t0

    zeros = total = 0
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.endswith("_proj"):
            zeros += int((mod.weight == 0).sum())
            total += mod.weight.numel()
    print(json.dumps({
        "implementation": "llmcompressor SparseGPTModifier, sequential pipeline",
        "seconds": seconds, "threads": a.threads, "nsamples": a.nsamples, "seqlen": a.seqlen,
        "sparsity": a.sparsity, "achieved_weight_sparsity": zeros / max(total, 1),
        "versions": {p: importlib.metadata.version(p) for p in ("torch", "transformers", "llmcompressor")},
    }), file=result, flush=True)


if __name__ == "__main__":
    main()
