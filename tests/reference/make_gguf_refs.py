#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference values for the GGUF reader, from implementations independent of ours.

1. Quant blocks: random bytes for each supported GGML type (scale fields set to sane halves),
   dequantised by the PyPI `gguf` package (gguf.quants.dequantize). Q5_0, Q5_1, Q2_K, Q3_K,
   IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4 and the codebook types IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
   IQ3_S, IQ1_S, IQ1_M and NVFP4 (two blocks each; NVFP4's first two scales are its zero and 0x7F
   codes, both read as 0) were added later and come from a second generator.
2. The real SmolLM2-135M-Instruct Q4_1 file: per-tensor checksums and sampled values of the
   `gguf` package's dequantisation (GGUF element order, before any q/k unpermute).
3. The same file through HF transformers' GGUF loader (load_gguf_checkpoint, which reverses
   llama.cpp's q/k permutation): config values and a fingerprint of every q_proj/k_proj row of
   layers 0 and 29, fingerprint(row) = sum_j row[j] * fp(j), fp(j) = ((j * 7919) % 1000) / 1000 - 0.5.

4. tests/data/models/tiny-llama-ggufwriter.gguf (written by the gguf package's GGUFWriter):
   checksums and samples of every tensor, as in 2.

Writes gguf_refs.json next to this script. Run with a Python that has gguf, numpy, torch and
transformers (e.g. ~/.cache/duoscope/venv-ref/bin/python):
    python tests/reference/make_gguf_refs.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import importlib.metadata
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

from ref_files import write_refs

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.expanduser("~/.cache/duoscope/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def f16_bytes(x):
    return np.array([x], dtype=np.float16).tobytes()


def random_block(qtype, rng):
    """One block of random bytes whose f16 scale fields hold small positive values."""
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    b = bytearray(rng.integers(0, 256, size=block_bytes, dtype=np.uint8).tobytes())
    d = f16_bytes(rng.uniform(0.001, 0.05))
    m = f16_bytes(rng.uniform(-0.05, 0.05))
    if qtype in (T.Q4_0, T.Q8_0):
        b[0:2] = d
    elif qtype in (T.Q4_1, T.Q4_K, T.Q5_K):
        b[0:2] = d
        b[2:4] = f16_bytes(abs(rng.uniform(0.001, 0.05)))
    elif qtype == T.Q6_K:
        b[block_bytes - 2:block_bytes] = d
    elif qtype == T.Q5_0:
        b[0:2] = d
    elif qtype == T.Q5_1:
        b[0:2] = d
        b[2:4] = m
    elif qtype == T.Q2_K:
        b[80:82] = d
        b[82:84] = f16_bytes(abs(rng.uniform(0.001, 0.05)))
    elif qtype == T.Q3_K:
        b[108:110] = d
    elif qtype in (T.IQ4_NL, T.IQ4_XS):
        b[0:2] = d
    elif qtype == T.TQ1_0:
        b[52:54] = d
    elif qtype == T.TQ2_0:
        b[64:66] = d
    elif qtype in (T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S):
        b[0:2] = d
    elif qtype == T.IQ1_M:  # the f16 scale lives in the top nibbles of the four u16 at the end
        h = int(np.frombuffer(d, dtype=np.uint16)[0])
        for j in range(4):
            u = int.from_bytes(b[48 + 2 * j:50 + 2 * j], "little")
            u = (u & 0x0FFF) | (((h >> (4 * j)) & 0xF) << 12)
            b[48 + 2 * j:50 + 2 * j] = u.to_bytes(2, "little")
    elif qtype == T.NVFP4:  # four UE4M3 scales: the zero code, the 0x7F code (read as 0), two random
        b[0] = 0
        b[1] = 0x7F
    elif qtype == T.MXFP4:
        b[0] = int(rng.integers(100, 140))  # E8M0 exponent: finite, varied scales
    return bytes(b), block_elems


def quant_entry(qtype, nblocks, rng):
    """`nblocks` random blocks of `qtype` and the gguf package's values for them."""
    blocks = [random_block(qtype, rng) for _ in range(nblocks)]
    raw = b"".join(blk for blk, _ in blocks)
    values = dequantize(np.frombuffer(raw, dtype=np.uint8), qtype).reshape(-1)
    assert values.size == sum(n for _, n in blocks) and np.all(np.isfinite(values))
    return {"type": qtype.name, "hex": raw.hex(), "values": [float(v) for v in values]}


def quant_blocks():
    rng = np.random.default_rng(20240601)
    out = []
    for qtype in (T.Q4_0, T.Q4_1, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K):
        out.append(quant_entry(qtype, 2 if gguf.GGML_QUANT_SIZES[qtype][0] == 32 else 1, rng))
    # Types added later draw from their own generator, so the blocks above stay as committed.
    rng = np.random.default_rng(20261202)
    for qtype in (T.Q5_0, T.Q5_1, T.Q2_K, T.Q3_K, T.IQ4_NL, T.IQ4_XS, T.TQ1_0, T.TQ2_0, T.MXFP4,
                  T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S, T.IQ1_M, T.NVFP4):
        out.append(quant_entry(qtype, 2, rng))
    # F16: zeros, subnormals, normals, the largest half (inf/nan are JSON-less: the C++ test has them)
    halves = np.array([0.0, -0.0, 6e-8, 3e-5, 1e-5, 0.5, -2.75, 1.0009765625, 65504.0], dtype=np.float16)
    out.append({"type": "F16", "hex": halves.tobytes().hex(), "values": [float(v) for v in halves.astype(np.float32)]})
    return out


def fingerprint_vec(k):
    j = np.arange(k, dtype=np.int64)
    return ((j * 7919) % 1000).astype(np.float64) / 1000.0 - 0.5


def model_refs(path, names=None, samples=24):
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}
    names = names or list(tensors)
    out = []
    for name in names:
        t = tensors[name]
        values = dequantize(t.data, t.tensor_type).astype(np.float32)
        flat = values.reshape(-1)
        n = flat.size
        idx = [int(i) for i in np.linspace(0, n - 1, samples).astype(np.int64)]
        out.append({
            "name": name,
            "type": t.tensor_type.name,
            "shape": [int(x) for x in reversed(t.shape.tolist())],  # torch order
            "sum": float(flat.astype(np.float64).sum()),
            "sum_abs": float(np.abs(flat.astype(np.float64)).sum()),
            "sum_sq": float((flat.astype(np.float64) ** 2).sum()),
            "index": idx,
            "values": [float(flat[i]) for i in idx],
        })
    return out


def transformers_refs(path):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    cfg = load_gguf_checkpoint(path, return_tensors=False)["config"]
    # The tensor loader maps GGUF names through a model's parameter names: give it an empty one.
    hf_config = AutoConfig.for_model(**cfg)
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(hf_config)
    ck = load_gguf_checkpoint(path, return_tensors=True, model_to_load=skeleton)
    keys = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
            "rms_norm_eps", "rope_theta", "max_position_embeddings", "vocab_size", "tie_word_embeddings",
            "bos_token_id", "eos_token_id"]
    config = {k: cfg.get(k) for k in keys if k in cfg}
    rows = {}
    for layer in (0, 29):
        for proj in ("q_proj", "k_proj"):
            name = f"model.layers.{layer}.self_attn.{proj}.weight"
            w = np.asarray(ck["tensors"][name].float().numpy(), dtype=np.float64)
            rows[name] = [float("%.9g" % x) for x in w @ fingerprint_vec(w.shape[1])]
    return {"config": config, "row_fingerprints": rows}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    refs = {"generator": "tests/reference/make_gguf_refs.py", "gguf_version": importlib.metadata.version("gguf"),
            "quant_blocks": quant_blocks()}
    # 4. A tiny llama written by the gguf package's GGUFWriter (tests/fuzz/make_seeds.py).
    tiny = os.path.join(HERE, "..", "data", "models", "tiny-llama-ggufwriter.gguf")
    refs["ggufwriter_tiny"] = {"file": "tests/data/models/tiny-llama-ggufwriter.gguf", "tensors": model_refs(tiny, samples=8)}
    if os.path.exists(path):
        smollm_names = ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
                        "blk.0.ffn_down.weight", "blk.29.attn_q.weight", "blk.29.ffn_up.weight",
                        "blk.0.attn_norm.weight", "output_norm.weight"]
        refs["smollm2"] = {"file": os.path.basename(path), "tensors": model_refs(path, smollm_names)}
        refs["smollm2"]["transformers"] = transformers_refs(path)
    write_refs(os.path.join(HERE, "gguf_refs.json"), refs)


if __name__ == "__main__":
    main()
