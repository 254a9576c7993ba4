#!/usr/bin/env python3
"""Writes small, valid seed inputs for the fuzz targets into tests/fuzz/corpus/<target>/, using
writers independent of ours (the PyPI `gguf` package's GGUFWriter, the `safetensors` package).
Fuzzing adds to these folders; they are minimised before committing (tests/fuzz/README.md).
The tiny llama GGUF is also copied to tests/data/models/tiny-llama-ggufwriter.gguf, where
test_gguf_model checks that we read a file written by another implementation.
Run with a Python that has gguf, numpy, safetensors (e.g. ~/.cache/duoscope/venv-ref/bin/python).
"""
import json
import os
import shutil
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from safetensors.numpy import save as st_save

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "corpus")
REPO = os.path.dirname(os.path.dirname(HERE))


def out(target, name):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def f16_bytes(x):
    return np.array([x], dtype=np.float16).tobytes()


def random_k_block(qtype, rng):
    n, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    b = bytearray(rng.integers(0, 256, size=nbytes, dtype=np.uint8).tobytes())
    if qtype == T.Q6_K:
        b[-2:] = f16_bytes(0.01)
    else:
        b[0:2] = f16_bytes(0.01)
        b[2:4] = f16_bytes(0.005)
    return np.frombuffer(bytes(b), dtype=np.uint8)


def gguf_seeds():
    rng = np.random.default_rng(5)
    # 1. A tiny llama with a gpt2 tokenizer and mixed storage types.
    w = gguf.GGUFWriter(out("gguf", "tiny_llama.gguf"), "llama")
    d, ffn, vocab = 32, 32, 8
    w.add_context_length(64)
    w.add_embedding_length(d)
    w.add_feed_forward_length(ffn)
    w.add_block_count(1)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(["a", "b", "ab", "Ġ", "Ġa", "<s>", "</s>", "c"])
    w.add_token_types([1, 1, 1, 1, 1, 3, 3, 1])
    w.add_token_merges(["a b", "Ġ a"])
    w.add_bos_token_id(5)
    w.add_eos_token_id(6)
    w.add_add_bos_token(False)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    w.add_tensor("token_embd.weight", f32(vocab, d).astype(np.float16))
    w.add_tensor("output_norm.weight", f32(d))
    w.add_tensor("blk.0.attn_norm.weight", f32(d))
    w.add_tensor("blk.0.ffn_norm.weight", f32(d))
    w.add_tensor("blk.0.attn_q.weight", f32(d, d))
    w.add_tensor("blk.0.attn_k.weight", f32(16, d))
    for name, shape, qt in [("blk.0.attn_v.weight", (16, d), T.Q8_0), ("blk.0.attn_output.weight", (d, d), T.Q4_0),
                            ("blk.0.ffn_gate.weight", (ffn, d), T.Q4_1)]:
        q = gguf.quants.quantize(f32(*shape), qt)
        w.add_tensor(name, q, raw_dtype=qt)
    w.add_tensor("blk.0.ffn_up.weight", f32(ffn, d))
    bf = (f32(d, ffn).view(np.uint32) >> 16).astype(np.uint16)
    w.add_tensor("blk.0.ffn_down.weight", bf, raw_shape=(d, ffn), raw_dtype=T.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    shutil.copy(out("gguf", "tiny_llama.gguf"), os.path.join(REPO, "tests", "data", "models", "tiny-llama-ggufwriter.gguf"))

    # 2. K-quant tensors and an SPM tokenizer; no architecture.
    w = gguf.GGUFWriter(out("gguf", "kquants_spm.gguf"), "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(["<unk>", "<s>", "</s>", "\u2581a", "<0x41>"])
    w.add_token_scores([0.0, 0.0, 0.0, -1.0, -2.0])
    w.add_token_types([2, 3, 3, 1, 6])
    w.add_add_space_prefix(True)
    for qt in (T.Q4_K, T.Q5_K, T.Q6_K):
        w.add_tensor("t_" + qt.name, random_k_block(qt, rng), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # 3. Metadata of every value type (nested arrays included), alignment 64, no tensors.
    w = gguf.GGUFWriter(out("gguf", "metadata.gguf"), "qwen2")
    w.add_uint32("general.alignment", 64)
    w.add_uint8("u8", 7)
    w.add_int8("i8", -7)
    w.add_uint16("u16", 700)
    w.add_int16("i16", -700)
    w.add_int32("i32", -70000)
    w.add_float32("f32", 0.5)
    w.add_uint64("u64", 1 << 40)
    w.add_int64("i64", -(1 << 40))
    w.add_float64("f64", 0.25)
    w.add_bool("b", True)
    w.add_string("s", "text")
    w.add_array("arr_nested", [[1, 2], [3]])
    w.add_array("arr_f", [1.0, 2.0])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def safetensors_seeds():
    rng = np.random.default_rng(6)
    with open(out("safetensors", "f32_f16.safetensors"), "wb") as f:
        f.write(st_save({"a": rng.standard_normal((2, 3)).astype(np.float32),
                         "b": rng.standard_normal((4,)).astype(np.float16)}, metadata={"format": "pt"}))
    # BF16 and an empty tensor, written by hand (numpy has no bfloat16).
    bf = (rng.standard_normal(5).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()
    header = json.dumps({"__metadata__": {"k": "v"}, "w": {"dtype": "BF16", "shape": [5], "data_offsets": [0, 10]},
                         "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [10, 10]}}).encode()
    with open(out("safetensors", "bf16_empty.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + bf)


def config_seeds():
    src = os.path.join(REPO, "tests", "data", "models", "configs")
    for name in sorted(os.listdir(src)):
        if name.endswith(".json"):
            shutil.copy(os.path.join(src, name), out("hf_config", name))


def tokenizer_seeds():
    bytelevel = {
        "version": "1.0",
        "added_tokens": [{"id": 9, "content": "<|endoftext|>", "special": True, "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "byte_fallback": False,
                  "vocab": {"H": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "w": 5, "He": 6, "ll": 7, "llo": 8,
                            "<|endoftext|>": 9},
                  "merges": ["H e", "l l", "ll o"]},
    }
    with open(out("tokenizer_json", "bytelevel.json"), "w") as f:
        json.dump(bytelevel, f)
    spm = {
        "version": "1.0",
        "added_tokens": [{"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "},
                                                            "content": "\u2581"}]},
        "pre_tokenizer": None,
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True,
                  "vocab": {"<unk>": 0, "<s>": 1, "<0x41>": 2, "\u2581": 3, "a": 4, "\u2581a": 5},
                  "merges": ["\u2581 a"]},
    }
    with open(out("tokenizer_json", "spm.json"), "w") as f:
        json.dump(spm, f)


if __name__ == "__main__":
    gguf_seeds()
    safetensors_seeds()
    config_seeds()
    tokenizer_seeds()
    for target in sorted(os.listdir(SEEDS)):
        files = os.listdir(os.path.join(SEEDS, target))
        print(target, len(files), "files,", sum(os.path.getsize(os.path.join(SEEDS, target, x)) for x in files), "bytes")
