#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes small, valid seed inputs for the fuzz targets into tests/fuzz/corpus/<target>/, using
writers independent of ours (the PyPI `gguf` package's GGUFWriter, the `safetensors` package),
documents of our own formats taken from the tests' fixtures and docs, and (with DUO_CLI set to a
built duoscope-cli) a run record and a timing profile written by the CLI itself.
Fuzzing adds to these folders; they are minimised before committing (tests/fuzz/README.md).
The tiny llama GGUF is also copied to tests/data/models/tiny-llama-ggufwriter.gguf, where
test_gguf_model checks that we read a file written by another implementation.
  make_seeds.py                  # every target
  make_seeds.py mc_task run_record   # only these
gguf and safetensors seeds need a Python with gguf, numpy, safetensors (e.g.
~/.cache/duoscope/venv-ref/bin/python); the others need only the standard library.
"""
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "corpus")
REPO = os.path.dirname(os.path.dirname(HERE))


def out(target, name):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def f16_bytes(x):
    import numpy as np
    return np.array([x], dtype=np.float16).tobytes()


def random_k_block(qtype, rng):
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as T
    n, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    b = bytearray(rng.integers(0, 256, size=nbytes, dtype=np.uint8).tobytes())
    if qtype == T.Q6_K:
        b[-2:] = f16_bytes(0.01)
    else:
        b[0:2] = f16_bytes(0.01)
        b[2:4] = f16_bytes(0.005)
    return np.frombuffer(bytes(b), dtype=np.uint8)


def gguf_seeds():
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as T
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
    import numpy as np
    from safetensors.numpy import save as st_save
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


GOLDEN_RUN = os.path.join(REPO, "tests", "data", "golden", "tiny_duogpt_w50a50.json")


def sparsity_config_seeds():
    # The full form DuoScope writes (the golden run's config), and the short forms of
    # docs/sparsity-config.md.
    with open(GOLDEN_RUN) as f:
        full = json.load(f)["sparsity"]
    with open(out("sparsity_config", "full-golden.json"), "w") as f:
        json.dump(full, f, indent=1)
    with open(out("sparsity_config", "short-object.json"), "w") as f:
        json.dump({"default": {"weight": 0.5, "act": 0.5},
                   "layers": {"0": {"all": {"weight": 0.3}}, "3": {"down_proj": {"weight": 0.7}}}}, f)
    with open(out("sparsity_config", "short-array-nm.json"), "w") as f:
        json.dump({"schema": "duoscope.sparsity/1", "num_layers": 2, "weight_structure": "2:4",
                   "act_rule": "threshold", "default": {"weight": 0.5},
                   "layers": [{"q_proj": {"act": 0.4}, "k_proj": {"act": 0.4}, "v_proj": {"act": 0.4}},
                              {"gate_proj": {"weight": 0.6, "act": 0.2}, "up_proj": {"act": 0.2}}]}, f)


def run_record_seeds():
    # `prune --json` output (duoscope.run/1): the golden run. The store's own schema
    # (duoscope.run-record/1) comes from the CLI (cli_seeds).
    shutil.copy(GOLDEN_RUN, out("run_record", "golden-run-v1.json"))


def mc_task_seeds():
    # One file per layout we read, rows from tests/unit/test_lm_eval_tasks.cpp.
    rows = {
        "duoscope": [{"context": "In the beginning God", "choices": [" created", " saw"], "gold": 0, "id": 7},
                     {"context": "And God said, Let there be", "choices": [" light", " dark", " water"], "gold": 0,
                      "contexts": ["a", "b", "c"]}],
        "hellaswag": [{"activity_label": "Home and Garden", "ctx_a": "[header] How to grow basil [title] Pick a sunny spot.",
                       "ctx_b": "PLANT it in MAY", "endings": ["[step] Water it daily.", "Forget it  for weeks."],
                       "label": 0},
                      {"ind": 4, "activity_label": "Removing ice from car", "ctx_a": "Then, the man writes over the snow.",
                       "ctx_b": "then", "ctx": "...", "endings": [", the man adds wax.", ", a person boards a ski lift."],
                       "label": "1"}],
        "piqa": [{"goal": "How do I ready a guinea pig cage?", "sol1": "Bedding of ripped paper strips.",
                  "sol2": "Bedding of ripped jeans material.", "label": 0}],
        "arc": [{"id": "Mercury_7175875", "question": "Which is the most likely effect of this increase in rotation?",
                 "choices": {"text": ["Density will decrease.", "Days will become shorter."], "label": ["A", "B"]},
                 "answerKey": "B"},
                {"id": "NYSEDREGENTS_2015_4_8", "question": {"stem": "Which is a renewable resource?",
                 "choices": [{"text": "coal", "label": "1"}, {"text": "wind", "label": "2"}]}, "answerKey": "2"}],
        "winogrande": [{"sentence": "Sarah was a much better surgeon than Maria so _ always got the harder cases.",
                        "option1": "Sarah", "option2": "Maria", "answer": "1"}],
        "boolq": [{"question": "is windows movie maker part of windows essentials",
                   "passage": "Windows Movie Maker is a discontinued video editing software.", "idx": 0, "label": 1},
                  {"question": "do iran and afghanistan speak the same language", "title": "Persian language",
                   "answer": True, "passage": "Persian is spoken in Iran and Afghanistan."}],
    }
    for name, lines in rows.items():
        with open(out("mc_task", name + ".jsonl"), "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in lines))


def timing_profile_seeds():
    # A small profile in the layout timingProfileJson writes (two shapes, every kernel, the
    # calibration points); a real one from `bench calibrate` comes from the CLI (cli_seeds).
    def line(fixed, gbs):
        return {"fixed_us": fixed, "gbs": gbs, "max_residual": 0.04}
    kernels = {"blas_dense": line(2.0, 30.0), "dense": line(1.5, 25.0), "act_sparse": line(3.0, 18.0),
               "weight_sparse": line(4.0, 12.0), "dual_sparse": line(5.0, 9.5)}
    profile = {"schema": "duoscope.timing/1", "device": "cpu: avx2, 2 threads", "threads": 2,
               "read_bandwidth_gbs": 21.5, "other_us": 35.0, "other_context": 32,
               "shapes": [{"rows": 64, "cols": 64, "kernels": kernels},
                          {"rows": 128, "cols": 64, "kernels": {"dense": line(0.0, 22.0)}}],
               "topk": [{"width": 64, "us": 0.8}, {"width": 128, "us": 1.3}],
               "points": [{"rows": 64, "cols": 64, "w_sparsity": 0.5, "a_sparsity": 0.5, "kernel": "dual_sparse",
                           "bytes": 9216, "median_us": 6.1, "fitted_us": 5.97}]}
    with open(out("timing_profile", "small.json"), "w") as f:
        json.dump(profile, f, indent=1)


def cli_seeds():
    # A run record and a timing profile written by our own CLI on the bundled tiny model (small
    # settings: the seeds must stay small). Needs DUO_CLI=<build>/app/duoscope-cli.
    cli = os.environ.get("DUO_CLI")
    if not cli:
        print("DUO_CLI not set: no run_record / timing_profile seeds from the CLI")
        return
    model = os.path.join(REPO, "resources", "models", "duo-tiny-kjv")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, OMP_NUM_THREADS="1")
        subprocess.run([cli, "prune", "--model", model, "--method", "duogpt", "--w-sparsity", "0.5",
                        "--a-sparsity", "0.5", "--nsamples", "4", "--seqlen", "32", "--eval", "--eval-seqlen", "32",
                        "--max-windows", "2", "--runs-dir", os.path.join(tmp, "runs")],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        records = sorted(glob.glob(os.path.join(tmp, "runs", "**", "*.json"), recursive=True))
        shutil.copy(records[-1], out("run_record", "cli-run-record.json"))
        profile = os.path.join(tmp, "timing.json")
        subprocess.run([cli, "bench", "calibrate", "--model", model, "--steps", "2", "--out", profile],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        # The reader ignores the calibration points: keep 4 of them (the file stays under 8 KB, the
        # -max_len of the timing_profile campaigns).
        with open(profile) as f:
            p = json.load(f)
        p["points"] = p["points"][:4]
        with open(out("timing_profile", "cli-tiny.json"), "w") as f:
            json.dump(p, f, indent=1)


SEEDERS = {"gguf": gguf_seeds, "safetensors": safetensors_seeds, "hf_config": config_seeds,
           "tokenizer_json": tokenizer_seeds, "sparsity_config": sparsity_config_seeds,
           "run_record": run_record_seeds, "mc_task": mc_task_seeds, "timing_profile": timing_profile_seeds}

if __name__ == "__main__":
    for target in sys.argv[1:] or SEEDERS:
        SEEDERS[target]()
    if not sys.argv[1:] or {"run_record", "timing_profile"} & set(sys.argv[1:]):
        cli_seeds()
    for target in sorted(os.listdir(SEEDS)):
        files = os.listdir(os.path.join(SEEDS, target))
        print(target, len(files), "files,", sum(os.path.getsize(os.path.join(SEEDS, target, x)) for x in files), "bytes")
