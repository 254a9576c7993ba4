#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small random-initialised models in every checkpoint format DuoScope reads, with what HF
transformers computes from them. Nothing here is computed by DuoScope.

For each architecture below the script
  1. builds the model from a config with HF transformers (float32, eager attention), seeds it and
     re-initialises every parameter with larger values than transformers' default init (std 0.02
     gives near-uniform logits that would make any comparison pass), biases included;
  2. saves it as an HF folder with float32 safetensors (`<name>`) and bfloat16 safetensors
     (`<name>-bf16`), via transformers' own save_pretrained;
  3. for some, writes GGUF files with the PyPI `gguf` package's GGUFWriter: every 2-D weight stored
     in one type (F32, F16, BF16 or a quant type gguf.quants.quantize supports), norms and biases
     F32, llama's q/k rows permuted as llama.cpp's converter does, and LLaMA-3.x's
     `rope_freqs.weight` = transformers' default inv_freq / its llama3 inv_freq;
  4. records, for every saved variant, the logits transformers computes with the weights that
     variant holds (bf16: weights rounded to bf16, run in float32; GGUF: gguf.quants.dequantize of the
     stored tensors), for fixed token ids, and the perplexity over fixed windows.

Output: `<out>/<variant>/` (config.json + model.safetensors) or `<out>/<variant>.gguf`, and
`format_refs.json` next to this script (schema `duoscope.format-refs/1`, described in README.md).
The committed models live in tests/data/models/formats/ (~2 MB in all). Run:
    ~/.cache/duoscope/venv-ref/bin/python tests/reference/make_format_refs.py [--out DIR]
"""
import argparse
import copy
import importlib.metadata
import json
import os
import platform
import re
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as Q
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from ref_files import sha256_file, write_refs

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(REPO, "tests", "data", "models", "formats")

COMMON = dict(vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2)

# name -> (config class, config kwargs, sequence length, GGUF types); bf16 copies for BF16_MODELS
MODELS = {
    # LLaMA-3.2-style: llama3 RoPE scaling, tied embeddings, theta 5e5, GQA.
    "llama32": (LlamaConfig, dict(COMMON, max_position_embeddings=131072, rope_theta=500000.0, tie_word_embeddings=True,
                                  rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
                40, ["F32", "F16", "BF16", "Q8_0", "Q5_0", "Q5_1", "Q4_0", "Q4_1"]),
    # Mistral v0.1-style: a sliding window (8) shorter than the test sequences (40).
    "mistral": (MistralConfig, dict(COMMON, max_position_embeddings=4096, rope_theta=10000.0, sliding_window=8,
                                    tie_word_embeddings=False), 40, []),
    # Qwen2/Qwen2.5-style: q/k/v biases, tied embeddings, theta 1e6.
    "qwen2": (Qwen2Config, dict(COMMON, max_position_embeddings=32768, rope_theta=1000000.0, tie_word_embeddings=True,
                                use_sliding_window=False), 40, ["F32", "Q8_0"]),
    # Qwen2 with use_sliding_window: layer 0 full attention, layer 1 a window of 8 (max_window_layers 1).
    "qwen2-swa": (Qwen2Config, dict(COMMON, max_position_embeddings=32768, rope_theta=1000000.0, tie_word_embeddings=True,
                                    use_sliding_window=True, sliding_window=8, max_window_layers=1), 40, []),
    # linear RoPE scaling (factor 4).
    "llama-linear": (LlamaConfig, dict(COMMON, max_position_embeddings=4096, rope_theta=10000.0, tie_word_embeddings=False,
                                       rope_scaling={"rope_type": "linear", "factor": 4.0}), 40, ["F32"]),
    # dynamic NTK: max_position_embeddings 16 < sequence length 40, so transformers rescales.
    "llama-dynamic": (LlamaConfig, dict(COMMON, max_position_embeddings=16, rope_theta=10000.0, tie_word_embeddings=False,
                                        rope_scaling={"rope_type": "dynamic", "factor": 2.0}), 40, []),
}

BF16_MODELS = ("llama32", "mistral", "qwen2")
N_LOGIT_SEQS = 1
N_PPL_WINDOWS = 4
N_PROBES = 16


def build(name, seed):
    cls, kw, _, _ = MODELS[name]
    cfg = cls(**kw)
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager").eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif pname.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in pname or pname == "lm_head.weight":
                p.copy_(0.15 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(p.shape[1]))
    return model


def token_data(name, seed):
    cls, kw, seqlen, _ = MODELS[name]
    rng = np.random.default_rng(seed + 1)
    seqs = [rng.integers(0, kw["vocab_size"], size=seqlen).tolist() for _ in range(N_LOGIT_SEQS)]
    corpus = rng.integers(0, kw["vocab_size"], size=seqlen * N_PPL_WINDOWS).tolist()
    probes = sorted(rng.choice(kw["vocab_size"], size=N_PROBES, replace=False).tolist())
    return seqs, corpus, probes


@torch.no_grad()
def run(model, seqs, corpus, probes, seqlen):
    out = {"sequences": []}
    for ids in seqs:
        logits = model(torch.tensor([ids])).logits[0].double()  # [T, V]
        lse = torch.logsumexp(logits, -1)
        out["sequences"].append({
            "ids": ids,
            "positions": [{"argmax": int(logits[t].argmax()), "max_logit": float(logits[t].max()),
                           "logsumexp": float(lse[t]),
                           "probe_logits": [float(logits[t, i]) for i in probes]} for t in range(len(ids))]})
    nll, n = 0.0, 0
    per_window = []
    for w in range(N_PPL_WINDOWS):
        ids = torch.tensor([corpus[w * seqlen:(w + 1) * seqlen]])
        logp = torch.log_softmax(model(ids).logits[0, :-1].double(), -1)
        s = -float(logp.gather(1, ids[0, 1:, None]).sum())
        per_window.append(s)
        nll += s
        n += seqlen - 1
    out["nll_sum_per_window"] = per_window
    out["predicted_tokens"] = n
    out["ppl"] = float(np.exp(nll / n))
    return out


def with_weights(model, fn):
    """A copy of `model` with fn(name, tensor) applied to every parameter (f32 afterwards)."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for pname, p in m.named_parameters():
            p.copy_(fn(pname, p.detach().clone()).float())
    return m


# --- GGUF ----------------------------------------------------------------------------------------

def gguf_name(hf):
    rules = [(r"^model\.embed_tokens\.weight$", "token_embd.weight"), (r"^model\.norm\.weight$", "output_norm.weight"),
             (r"^lm_head\.weight$", "output.weight"),
             (r"^model\.layers\.(\d+)\.input_layernorm\.weight$", r"blk.\1.attn_norm.weight"),
             (r"^model\.layers\.(\d+)\.post_attention_layernorm\.weight$", r"blk.\1.ffn_norm.weight"),
             (r"^model\.layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)$", r"blk.\1.attn_\2.\3"),
             (r"^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$", r"blk.\1.attn_output.weight"),
             (r"^model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight$", r"blk.\1.ffn_\2.weight")]
    for pat, rep in rules:
        if re.match(pat, hf):
            return re.sub(pat, rep, hf)
    raise KeyError(hf)


def permute_qk(w, n_head):
    """llama.cpp convert_hf_to_gguf's q/k row order: rotate-half halves -> interleaved pairs."""
    shape = w.shape
    return w.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def rope_freq_factors(config):
    """transformers' default inv_freq / its llama3 inv_freq = the divisors llama.cpp stores."""
    default, _ = ROPE_INIT_FUNCTIONS["default"](config, "cpu") if "default" in ROPE_INIT_FUNCTIONS else (None, None)
    if default is None:  # transformers 5 has no "default" entry: theta^(-2i/d) as it computes it
        hd = config.hidden_size // config.num_attention_heads
        default = 1.0 / (config.rope_parameters["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    return (default / scaled).float().numpy()


def write_gguf(model, name, qtype_name, path):
    """Writes the model; returns {hf_name: dequantised f32 tensor in HF order} as gguf decodes it."""
    cls, kw, _, _ = MODELS[name]
    cfg = model.config
    arch = "qwen2" if cls is Qwen2Config else "llama"
    qtype = Q[qtype_name]
    w = gguf.GGUFWriter(path, arch)
    w.add_name(f"duoscope-{name}")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    rp = cfg.rope_parameters
    w.add_rope_freq_base(rp["rope_theta"])
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_vocab_size(cfg.vocab_size)
    if rp.get("rope_type") == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(rp["factor"])
    decoded = {}
    for hf, p in model.state_dict().items():
        if hf == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        t = p.detach().float().numpy()
        if arch == "llama" and hf.endswith("q_proj.weight"):
            t = permute_qk(t, cfg.num_attention_heads)
        if arch == "llama" and hf.endswith("k_proj.weight"):
            t = permute_qk(t, cfg.num_key_value_heads)
        if t.ndim == 2 and qtype != Q.F32:
            data = gguf.quants.quantize(t, qtype)
            w.add_tensor(gguf_name(hf), data, raw_shape=data.shape, raw_dtype=qtype)
            back = gguf.quants.dequantize(data, qtype).reshape(t.shape)
        else:
            w.add_tensor(gguf_name(hf), t)
            back = t
        if arch == "llama" and hf.endswith("q_proj.weight"):  # back to HF order for the reference
            back = permute_qk_inverse(back, cfg.num_attention_heads)
        if arch == "llama" and hf.endswith("k_proj.weight"):
            back = permute_qk_inverse(back, cfg.num_key_value_heads)
        decoded[hf] = torch.from_numpy(np.ascontiguousarray(back, dtype=np.float32))
    if rp.get("rope_type") == "llama3":
        w.add_tensor("rope_freqs.weight", rope_freq_factors(cfg))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if cfg.tie_word_embeddings:
        decoded["lm_head.weight"] = decoded["model.embed_tokens.weight"]
    return decoded


def permute_qk_inverse(w, n_head):
    shape = w.shape
    return w.reshape(n_head, shape[0] // n_head // 2, 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def round_floats(x):
    """Nine significant digits: float32 values round-trip, the file stays small."""
    if isinstance(x, float):
        return float(f"{x:.9g}")
    if isinstance(x, dict):
        return {k: round_floats(v) for k, v in x.items()}
    if isinstance(x, list):
        return [round_floats(v) for v in x]
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    versions = {k: importlib.metadata.version(k) for k in ("torch", "transformers", "gguf", "numpy", "safetensors")}
    versions["python"] = platform.python_version()
    refs = {"schema": "duoscope.format-refs/1", "generator": "tests/reference/make_format_refs.py",
            "command": " ".join(["python"] + [os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
            "versions": versions, "torch_threads": args.threads, "models": {}}
    for i, name in enumerate(MODELS):
        cls, kw, seqlen, ggufs = MODELS[name]
        seed = args.seed + 100 * i
        model = build(name, seed)
        seqs, corpus, probes = token_data(name, seed)
        entry = {"config_class": cls.__name__, "seqlen": seqlen, "probe_ids": probes, "corpus_ids": corpus,
                 "variants": []}
        # f32 and bf16 safetensors folders
        for dtype, suffix in ((torch.float32, ""), (torch.bfloat16, "-bf16")):
            if dtype == torch.bfloat16 and name not in BF16_MODELS:
                continue
            folder = os.path.join(args.out, name + suffix)
            copy.deepcopy(model).to(dtype).save_pretrained(folder, safe_serialization=True)
            ref_model = model if dtype == torch.float32 else with_weights(model, lambda n, t: t.bfloat16())
            files = sorted(f for f in os.listdir(folder) if f.endswith((".json", ".safetensors")))
            entry["variants"].append({"name": name + suffix, "format": "hf", "dtype": str(dtype).split(".")[1],
                                      "path": name + suffix,
                                      "files": [{"name": f, "sha256": sha256_file(os.path.join(folder, f))} for f in files],
                                      **run(ref_model, seqs, corpus, probes, seqlen)})
        for qt in ggufs:
            path = os.path.join(args.out, f"{name}-{qt.lower()}.gguf")
            decoded = write_gguf(model, name, qt, path)
            ref_model = with_weights(model, lambda n, t: decoded[n])
            entry["variants"].append({"name": f"{name}-{qt.lower()}.gguf", "format": "gguf", "dtype": qt,
                                      "path": os.path.basename(path),
                                      "files": [{"name": os.path.basename(path), "sha256": sha256_file(path)}],
                                      **run(ref_model, seqs, corpus, probes, seqlen)})
        refs["models"][name] = entry
        sizes = {v["name"]: v["ppl"] for v in entry["variants"]}
        print(name, json.dumps(sizes))
    write_refs(os.path.join(HERE, "format_refs.json"), round_floats(refs))


if __name__ == "__main__":
    main()
