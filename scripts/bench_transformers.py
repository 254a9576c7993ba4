#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""CPU throughput of HF transformers on SmolLM2, the yardstick for DuoScope's own `bench` numbers.

Measures, in float32 with a fixed number of torch threads:
  prefill: one forward pass over [batch, seqlen] tokens without a KV cache -> tokens/s
  decode:  after a cached prefill of the same batch, `decode-tokens` greedy steps of one token per
           sequence through the KV cache -> tokens/s (batch * steps / time of the steps only)
Prints one JSON object. Token ids come from the KJV evaluation split when it is present (else a
fixed-seed random draw), so the numbers do not depend on the text beyond its length.

  HF_HUB_OFFLINE=1 python scripts/bench_transformers.py --seqlen 512 --batch 4 --decode-tokens 64
"""
import argparse
import inspect
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cacheDir():
    if os.environ.get("DUO_CACHE_DIR"):
        return os.environ["DUO_CACHE_DIR"]
    xdg = os.environ.get("XDG_CACHE_HOME")
    return os.path.join(xdg if xdg else os.path.expanduser("~/.cache"), "duoscope")


def cpuModel():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadModel(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    if path.endswith(".gguf"):
        folder, extra = os.path.dirname(os.path.abspath(path)), {"gguf_file": os.path.basename(path)}
    else:
        folder, extra = path, {}
    tok = AutoTokenizer.from_pretrained(folder, **extra)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **extra).eval()
    return tok, model


def inputIds(tok, vocab, batch, seqlen, corpus):
    need = batch * seqlen
    if corpus and os.path.exists(corpus):
        with open(corpus, encoding="utf-8") as f:
            text = f.read(need * 8)  # ~4 bytes/token, so twice what is needed
        ids = tok.encode(text, add_special_tokens=False)
        if len(ids) >= need:
            return torch.tensor(ids[:need]).view(batch, seqlen), "corpus"
    gen = torch.Generator().manual_seed(0)
    return torch.randint(100, vocab, (batch, seqlen), generator=gen), "random"


@torch.inference_mode()
def prefill(model, ids):
    t0 = time.perf_counter()
    model(ids, use_cache=False)
    return time.perf_counter() - t0


def cachedStep(model, ids, kv):
    """One forward pass through the KV cache -> (logits of the last position, updated cache).
    transformers >= 5.2x names the cache `cache`; older releases `past_key_values`."""
    if "cache" in inspect.signature(model.forward).parameters:
        out = model(ids, cache=kv, use_cache=True)
        return out.logits[:, -1], out.cache
    out = model(ids, past_key_values=kv, use_cache=True)
    return out.logits[:, -1], out.past_key_values


@torch.inference_mode()
def decode(model, ids, steps):
    """Cached prefill (not timed), then `steps` greedy single-token steps (timed)."""
    last, kv = cachedStep(model, ids, None)  # last: [batch, vocab] f32
    nxt = last.argmax(-1, keepdim=True)  # [batch, 1] i64
    t0 = time.perf_counter()
    for _ in range(steps):
        last, kv = cachedStep(model, nxt, kv)
        nxt = last.argmax(-1, keepdim=True)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(cacheDir(), "models", SMOLLM2_FILE),
                    help="a .gguf file or HF folder (default: the cached SmolLM2 GGUF)")
    ap.add_argument("--seqlen", type=int, default=512)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each phase (median reported)")
    ap.add_argument("--corpus", default=os.path.join(cacheDir(), "corpus", "kjv-eval.txt"))
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"bench_transformers: model '{args.model}' does not exist")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    load0 = os.getloadavg()
    tok, model = loadModel(args.model)
    ids, source = inputIds(tok, model.config.vocab_size, args.batch, args.seqlen, args.corpus)  # [B, T] i64

    prefill(model, ids[:, : min(64, args.seqlen)])  # warm-up: allocator, thread pool
    pre = [prefill(model, ids) for _ in range(args.repeats)]
    dec = [decode(model, ids, args.decode_tokens) for _ in range(args.repeats)]
    preS, decS = statistics.median(pre), statistics.median(dec)

    print(json.dumps({
        "tool": "transformers",
        "model": os.path.basename(args.model.rstrip("/")),
        "dtype": "float32",
        "device": "cpu",
        "threads": args.threads,
        "batch": args.batch,
        "seqlen": args.seqlen,
        "decode_tokens": args.decode_tokens,
        "input_ids": source,
        "attn_implementation": model.config._attn_implementation,
        "repeats": args.repeats,
        "prefill_s": pre,
        "decode_s": dec,
        "prefill_tokens_per_s": args.batch * args.seqlen / preS,
        "decode_tokens_per_s": args.batch * args.decode_tokens / decS,
        "decode_ms_per_step": 1000.0 * decS / args.decode_tokens,
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                     "python": platform.python_version()},
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")},
        "cpu": cpuModel(),
        "os_cpu_count": os.cpu_count(),
        # Other processes on the machine distort the numbers; a 1-minute load above the thread
        # count means the run shared its cores.
        "loadavg_1m_before_after": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
    }, indent=1))


if __name__ == "__main__":
    main()
