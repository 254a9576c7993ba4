#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks DuoScope's exports with the tools users load them into (PyPI packages, nothing of ours):

  config   compressed-tensors' SparsityCompressionConfig.load_from_registry reads the sparsity
           config back with the run's global sparsity: `quantization_config.sparsity_config` of the
           sparse-bitmask checkpoint, `duoscope_sparsity` of the dense one (see docs/cli.md).
  hf       transformers loads the dense checkpoint (bf16 on disk) with no warning and gives the
           perplexity DuoScope's `eval` gives on the same windows (the runs prune weights only, so
           activations are dense on both sides).
  bitmask  compressed-tensors' BitmaskCompressor (0.12.2, the last release that has it; run in a
           child process with that version first on PYTHONPATH) decompresses the sparse-bitmask
           checkpoint to exactly the dense checkpoint's tensors; its files' size beside the dense.
  int8     `prune --out-dtype int8`: compressed-tensors' QuantizationConfig parses the config block
           (int-quantized, 8-bit symmetric per channel), every I8 weight has an F32 [out, 1]
           weight_scale, and transformers (decompressing through compressed-tensors) gives the
           perplexity DuoScope's `eval` gives on the folder.
  recipe   llm-compressor's Recipe.create_instance parses each run's recipe YAML into its own
           modifier classes with the run's per-layer sparsities and targets.
  gguf     `duoscope-cli convert` of the bundled model and of the pruned checkpoint: PyPI gguf's
           GGUFReader reads the metadata (config, tokenizer tokens/merges as tokenizer.json) and
           tensors (the pruned zeros kept); transformers loads the GGUF and gives the logits it
           computes from the HF folder. transformers' GGUF tokenizer is compared too (reported).
           Also a SentencePiece model (tokenizer.model): tokens and scores as sentencepiece has
           them, logits as transformers computes from the HF model.

    V=/root/.cache/duoscope/venv-ref/bin/python
    $V -m pip install compressed-tensors llmcompressor sentencepiece
    $V -m pip install --no-deps --target /root/.cache/duoscope/ct-0.12 compressed-tensors==0.12.2
    $V tests/reference/check_exports.py --cli build/app/duoscope-cli [--work /tmp/duo-exports]

Prints one line per check and "OK" (exit 0) when all pass.
"""
import argparse
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
LEGACY_CT = os.path.expanduser("~/.cache/duoscope/ct-0.12")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"check_exports: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


def prune(cli, work, name, extra):
    out = os.path.join(work, name)
    args = [cli, "prune", "--model", "tiny", "--nsamples", "8", "--seqlen", "64", "--a-sparsity", "0",
            "--no-record", "--device", "cpu", "--out", out, "--json"] + extra
    return out, json.loads(run(args))


def version(pkg):
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def checkConfig(folders, results):
    from compressed_tensors.config import SparsityCompressionConfig
    for folder, fmt, sparsity in folders:
        cfg = json.load(open(os.path.join(folder, "config.json")))
        if fmt == "dense":  # our own key: transformers must load a dense checkpoint (see checkHf)
            where, block, ok = "duoscope_sparsity", cfg["duoscope_sparsity"], "quantization_config" not in cfg
        else:
            q = cfg["quantization_config"]
            where, block, ok = "quantization_config.sparsity_config", q["sparsity_config"], q["quant_method"] == "compressed-tensors"
        sc = SparsityCompressionConfig.load_from_registry(block["format"], **block)
        ok = ok and sc.format == fmt and abs(sc.global_sparsity - sparsity) < 1e-12 and "sparsity_config" not in cfg
        results.append((f"config {os.path.basename(folder)}",
                        ok, f"{where} -> {type(sc).__name__}(format={sc.format}, global_sparsity={sc.global_sparsity:.4f}, "
                            f"structure={sc.sparsity_structure}, targets={sc.targets}, ignore={sc.ignore})"))


def checkHf(cli, folder, results, label="hf", gateWarnings=True):
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging
    sys.path.insert(0, HERE)
    import make_model_refs as mmr
    records = []

    class Grab(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                records.append(record.getMessage())

    hf_logging.get_logger().addHandler(Grab())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    messages = records + [str(w.message) for w in caught]
    tok = mmr.FileTokenizer(folder, model.config)
    corpus = os.path.join(mmr.cacheDir(), "corpus", "kjv-eval.txt")
    with torch.no_grad():
        ref = mmr.pplRefs(tok, model, corpus, 256, 4)
    theirs = ref["ppl"]
    ours = json.loads(run([cli, "eval", "--model", folder, "--corpus", corpus, "--seqlen", "256", "--max-windows", "4",
                           "--device", "cpu", "--json"]))["perplexity"]
    rel = abs(ours - theirs) / theirs
    results.append((f"{label} load warnings" + ("" if gateWarnings else " (informational)"),
                    not messages or not gateWarnings, "; ".join(messages)[:400] or "none"))
    results.append((f"{label} perplexity", rel <= 1e-4, f"transformers {theirs:.6f}, DuoScope {ours:.6f}, rel diff {rel:.2e}"))


def checkInt8(cli, work, results):
    """`prune --out-dtype int8`: compressed-tensors' int-quantized layout. Its config block parses as
    a compressed-tensors QuantizationConfig, every I8 weight has an F32 [out, 1] scale, and
    transformers (decompressing with compressed-tensors) computes the perplexity DuoScope's `eval`
    computes on the same folder."""
    from compressed_tensors.quantization import QuantizationConfig
    from safetensors import safe_open
    folder, _ = prune(cli, work, "duogpt-int8", ["--method", "duogpt", "--w-sparsity", "0.5", "--out-dtype", "int8"])
    q = json.load(open(os.path.join(folder, "config.json")))["quantization_config"]
    qc = QuantizationConfig.model_validate(q)
    scheme = qc.config_groups["group_0"].weights
    results.append(("int8 config", qc.format == "int-quantized" and scheme.num_bits == 8 and scheme.symmetric
                    and str(scheme.strategy).endswith("channel"),
                    f"format={qc.format}, weights num_bits={scheme.num_bits} symmetric={scheme.symmetric} "
                    f"strategy={scheme.strategy}, ignore={qc.ignore}"))
    weights = scales = 0
    for f in sorted(os.listdir(folder)):
        if not f.endswith(".safetensors"):
            continue
        with safe_open(os.path.join(folder, f), "pt") as st:
            names = set(st.keys())
            for k in names:
                t = st.get_slice(k)
                if t.get_dtype() == "I8":
                    weights += 1
                    s = st.get_slice(k + "_scale")
                    scales += s.get_dtype() == "F32" and s.get_shape() == [t.get_shape()[0], 1]
    results.append(("int8 tensors", weights == 28 and scales == weights,
                    f"{weights} I8 projection weights, {scales} with an F32 [out, 1] weight_scale"))
    checkHf(cli, folder, results, label="hf int8", gateWarnings=False)


def checkBitmaskChild(dense, sparse):
    """Runs in a child with compressed-tensors 0.12.2 first on the path."""
    import compressed_tensors
    import torch
    from compressed_tensors.compressors import ModelCompressor
    from safetensors.torch import load_file
    cfg = json.load(open(os.path.join(sparse, "config.json")))
    mc = ModelCompressor.from_compression_config(cfg["quantization_config"])
    comp = mc.sparsity_compressor
    got = dict(comp.decompress(sparse))
    want = {}
    for f in sorted(os.listdir(dense)):
        if f.endswith(".safetensors"):
            want.update(load_file(os.path.join(dense, f)))
    stored = {}
    for f in sorted(os.listdir(sparse)):
        if f.endswith(".safetensors"):
            stored.update(load_file(os.path.join(sparse, f)))
    for k, v in stored.items():  # the tensors the compressor leaves as they are
        if not k.endswith((".compressed", ".bitmask", ".row_offsets", ".shape")):
            got.setdefault(k, v)
    same = got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    size = lambda d: sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".safetensors"))
    print(json.dumps({"version": compressed_tensors.__version__, "compressor": type(comp).__name__,
                      "decompressed": sum(1 for k in stored if k.endswith(".compressed")), "tensors": len(want),
                      "identical": same, "dense_bytes": size(dense), "bitmask_bytes": size(sparse)}))


def checkHfBitmask(folder, results):
    """Reported, not gating: what current transformers does with the sparse-bitmask folder."""
    import torch
    from transformers import AutoModelForCausalLM
    try:
        AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        info = "transformers loaded it"
    except Exception as e:  # noqa: BLE001
        info = f"transformers {version('transformers')} + compressed-tensors {version('compressed-tensors')} refuse it: " \
               f"{type(e).__name__}: {str(e)[:160]}"
    results.append(("hf load sparse-bitmask (informational)", True, info))


def checkBitmask(dense, sparse, legacy, results):
    env = dict(os.environ, PYTHONPATH=legacy + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = json.loads(run([sys.executable, __file__, "--bitmask-child", dense, sparse], env=env).strip().splitlines()[-1])
    ok = out["identical"] and out["version"] == "0.12.2" and out["compressor"] == "BitmaskCompressor"
    results.append(("bitmask decompress", ok,
                    f"compressed-tensors {out['version']} {out['compressor']}: {out['decompressed']} weights "
                    f"decompressed, {out['tensors']} tensors identical={out['identical']}; files "
                    f"{out['bitmask_bytes'] / 1e6:.2f} MB vs dense {out['dense_bytes'] / 1e6:.2f} MB "
                    f"({out['bitmask_bytes'] / out['dense_bytes']:.3f})"))


PROJS = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
         "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def checkRecipe(path, run_json, results):
    """Every module's weight sparsity as llm-compressor's parsed modifiers target it (re.match on
    the HF module names, as its target matching does) equals the run's."""
    import re
    from llmcompressor.recipe import Recipe
    recipe = Recipe.create_instance(path)
    layers = run_json["sparsity"]["layers"]
    got, descr, ok = {}, [], len(recipe.modifiers) > 0
    for m in recipe.modifiers:
        value = getattr(m, "sparsity", None)
        if value is None:
            value = m.final_sparsity
            ok = ok and m.init_sparsity == m.final_sparsity
        targets = [m.targets] if isinstance(m.targets, str) else list(m.targets)
        descr.append(f"{type(m).__name__}(sparsity={value}, targets={targets}, mask={m.mask_structure})")
        for t in targets:
            assert t.startswith("re:"), t
            for l in range(len(layers)):
                for p, block in PROJS.items():
                    if re.match(t[3:], f"model.layers.{l}.{block}.{p}"):
                        ok = ok and (l, p) not in got
                        got[(l, p)] = value[l] if isinstance(value, list) else value
    want = {(l, p): layers[l][p]["weight"] for l in range(len(layers)) for p in PROJS if layers[l][p]["weight"] > 0}
    ok = ok and got == want
    results.append((f"recipe {os.path.basename(path)}", ok,
                    f"{len(want)} pruned modules, all with the run's sparsity: {got == want}; " + "; ".join(descr)[:500]))


def checkGguf(cli, work, folder, label, results):
    import numpy as np
    import torch
    from gguf import GGUFReader
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer
    out = os.path.join(work, f"{label}.gguf")
    run([cli, "convert", "--model", folder, "--out", out, "--out-dtype", "f32", "--json"])
    cfg = json.load(open(os.path.join(folder, "config.json")))
    r = GGUFReader(out)
    field = lambda k: r.fields[k].contents()
    arch = field("general.architecture")
    meta_ok = (field(f"{arch}.block_count") == cfg["num_hidden_layers"]
               and field(f"{arch}.embedding_length") == cfg["hidden_size"]
               and field(f"{arch}.feed_forward_length") == cfg["intermediate_size"]
               and field(f"{arch}.attention.head_count") == cfg["num_attention_heads"]
               and field(f"{arch}.attention.head_count_kv") == cfg.get("num_key_value_heads", cfg["num_attention_heads"]))
    tj = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    tokens = field("tokenizer.ggml.tokens")
    vocab_ok = all(tokens[i] == tj.id_to_token(i) for i in range(tj.get_vocab_size()))
    merges = field("tokenizer.ggml.merges")
    jm = json.load(open(os.path.join(folder, "tokenizer.json")))["model"]["merges"]
    jm = [m if isinstance(m, str) else " ".join(m) for m in jm]
    merges_ok = list(merges) == jm
    # Zeros: every projection's zero count in the GGUF equals the safetensors'.
    st = {}
    for f in os.listdir(folder):
        if f.endswith(".safetensors"):
            st.update(load_file(os.path.join(folder, f)))
    zeros_ok, nproj = True, 0
    for t in r.tensors:
        if ".attn_" in t.name or ".ffn_" in t.name:
            if t.name.endswith("norm.weight"):
                continue
            nproj += 1
            hf = t.name.replace("blk.", "model.layers.").replace(".attn_q.", ".self_attn.q_proj.") \
                .replace(".attn_k.", ".self_attn.k_proj.").replace(".attn_v.", ".self_attn.v_proj.") \
                .replace(".attn_output.", ".self_attn.o_proj.").replace(".ffn_gate.", ".mlp.gate_proj.") \
                .replace(".ffn_up.", ".mlp.up_proj.").replace(".ffn_down.", ".mlp.down_proj.")
            zeros_ok = zeros_ok and int((np.asarray(t.data) == 0).sum()) == int((st[hf] == 0).sum())
    results.append((f"gguf {label} reader", meta_ok and vocab_ok and merges_ok and zeros_ok,
                    f"gguf {version('gguf')}: arch {arch}, metadata as config.json {meta_ok}, {len(tokens)} tokens as "
                    f"tokenizer.json {vocab_ok}, {len(merges)} merges {merges_ok}, zeros of {nproj} projections "
                    f"as the safetensors {zeros_ok}, pre {field('tokenizer.ggml.pre')}"))
    ids = torch.tensor([[5, 17, 300, 41, 9, 250, 77, 12, 600, 3]])
    with torch.no_grad():
        a = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()(ids).logits
        b = AutoModelForCausalLM.from_pretrained(work, gguf_file=os.path.basename(out), dtype=torch.float32).eval()(ids).logits
    diff = (a - b).abs().max().item()
    results.append((f"gguf {label} transformers logits", diff <= 1e-4,
                    f"max |logit diff| GGUF vs HF folder {diff:.2e} (logits range {a.min().item():.1f}..{a.max().item():.1f})"))
    texts = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light: 1234 don't"]
    try:
        gt = AutoTokenizer.from_pretrained(work, gguf_file=os.path.basename(out))
        same = all(gt.encode(t, add_special_tokens=False) == tj.encode(t, add_special_tokens=False).ids for t in texts)
        info = f"transformers' tokenizer from the GGUF encodes as tokenizer.json: {same}"
    except Exception as e:  # noqa: BLE001 - reported, not gating
        info = f"transformers could not build a tokenizer from the GGUF: {type(e).__name__}: {str(e)[:200]}"
    results.append((f"gguf {label} transformers tokenizer (informational)", True, info))


def checkGgufSpm(cli, work, results):
    """A SentencePiece model (tokenizer.model) through convert: PyPI gguf reads the tokens and
    scores sentencepiece has; transformers loads the GGUF with the HF folder's logits."""
    import shutil
    import torch
    import sentencepiece as spm
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
    model_file = os.path.join(HERE, "..", "data", "tokenizers", "spm-bpe.model")
    sp = spm.SentencePieceProcessor(model_file=model_file)
    folder = os.path.join(work, "spm-llama")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=sp.vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      bos_token_id=sp.bos_id(), eos_token_id=sp.eos_id(), tie_word_embeddings=False)
    hf = LlamaForCausalLM(cfg).eval()
    hf.save_pretrained(folder, safe_serialization=True)
    shutil.copy(model_file, os.path.join(folder, "tokenizer.model"))
    out = os.path.join(work, "spm-llama.gguf")
    run([cli, "convert", "--model", folder, "--out", out, "--out-dtype", "f32", "--json"])
    r = GGUFReader(out)
    field = lambda k: r.fields[k].contents()
    n = sp.vocab_size()
    tokens, scores = field("tokenizer.ggml.tokens"), field("tokenizer.ggml.scores")
    ok = (field("tokenizer.ggml.model") == "llama" and list(tokens[:n]) == [sp.id_to_piece(i) for i in range(n)]
          and all(abs(scores[i] - sp.get_score(i)) < 1e-6 for i in range(n)))
    results.append(("gguf spm reader", ok, f"gguf {version('gguf')}: model llama, {n} tokens and scores as "
                                           f"sentencepiece {version('sentencepiece')}: {ok}"))
    ids = torch.tensor([[5, 17, 30, 41, 9, 25, 77, 12, 60, 3]])
    with torch.no_grad():
        a = hf(ids).logits
        b = AutoModelForCausalLM.from_pretrained(work, gguf_file=os.path.basename(out), dtype=torch.float32).eval()(ids).logits
    diff = (a - b).abs().max().item()
    results.append(("gguf spm transformers logits", diff <= 1e-4, f"max |logit diff| GGUF vs HF model {diff:.2e}"))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--bitmask-child":
        return checkBitmaskChild(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--work", default="/tmp/duo-exports")
    ap.add_argument("--ct-legacy", default=LEGACY_CT, help="--target folder holding compressed-tensors 0.12.2")
    args = ap.parse_args()
    cli = os.path.abspath(args.cli)
    os.makedirs(args.work, exist_ok=True)
    results = []

    dense, jd = prune(cli, args.work, "duogpt-dense", ["--method", "duogpt", "--w-sparsity", "0.5", "--out-dtype", "bf16"])
    sparse, js = prune(cli, args.work, "duogpt-bitmask", ["--method", "duogpt", "--w-sparsity", "0.5", "--out-dtype", "bf16",
                                                         "--out-format", "sparse-bitmask"])
    checkConfig([(dense, "dense", jd["weight_sparsity"]), (sparse, "sparse-bitmask", js["weight_sparsity"])], results)
    checkHf(cli, dense, results)
    checkBitmask(dense, sparse, args.ct_legacy, results)
    checkHfBitmask(sparse, results)
    checkInt8(cli, args.work, results)

    # Recipes: the DuoGPT run (uniform) and per-layer/per-projection runs of the other methods.
    cfgPath = os.path.join(args.work, "uneven.json")
    json.dump({"default": {"weight": 0.5}, "layers": {"0": {"all": {"weight": 0.3}}, "2": {"down_proj": {"weight": 0.7}}}},
              open(cfgPath, "w"))
    runs = [("duogpt", dense)]
    for method in ("sparsegpt", "wanda", "magnitude"):
        folder, _ = prune(cli, args.work, f"{method}-uneven", ["--method", method, "--config", cfgPath])
        runs.append((method, folder))
    for method, folder in runs:
        path = os.path.join(args.work, f"{method}.yaml")
        run([cli, "export", "--from", os.path.join(folder, "duoscope.json"), "--recipe", path])
        checkRecipe(path, json.load(open(os.path.join(folder, "duoscope.json"))), results)

    tiny = os.path.join(os.environ.get("DUO_RESOURCES_DIR", os.path.join(HERE, "..", "..", "resources")),
                        "models", "duo-tiny-kjv")
    checkGguf(cli, args.work, tiny, "tiny", results)
    checkGguf(cli, args.work, dense, "duogpt-pruned", results)
    checkGgufSpm(cli, args.work, results)

    print(f"versions: compressed-tensors {version('compressed-tensors')}, llmcompressor {version('llmcompressor')}, "
          f"transformers {version('transformers')}, torch {version('torch')}")
    for name, ok, what in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {what}")
    bad = [n for n, ok, _ in results if not ok]
    print("OK" if not bad else f"FAILED: {', '.join(bad)}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
