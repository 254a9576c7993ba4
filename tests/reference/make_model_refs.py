#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference outputs for DuoScope's C++ model tests, from an independent implementation.

Runs HF transformers (float32, CPU) on a model and writes three small JSON files:
  <out>_tokens.json  token ids (and byte-level pieces) for a fixed list of strings
  <out>_logits.json  per-position argmax / logsumexp / top-5 / 32 probe logits for 3 short sequences,
                     plus hidden-state statistics (per layer, and after the final norm) for sequence 1
  <out>_ppl.json     perplexity on the first windows of the KJV evaluation split, protocol recorded

Usage (see tests/reference/README.md for the environment):
  HF_HUB_OFFLINE=1 python tests/reference/make_model_refs.py --model smollm2 --out tests/reference/smollm2
  HF_HUB_OFFLINE=1 python tests/reference/make_model_refs.py --model tiny --out tests/reference/tiny

--model: "smollm2" (the cached SmolLM2 GGUF), "tiny" (resources/models/duo-tiny-kjv), a .gguf file,
or a HF-format folder (config.json + model.safetensors + tokenizer files). Nothing is downloaded.
"""
import argparse
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import sys

# Never reach a hub: every file is local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ref_files import sha256_file  # noqa: E402

SCHEMA = "duoscope.reference/1"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Strings whose token ids are recorded: (name, text). Cover the pre-tokenizer's corners.
TOKEN_CASES = [
    ("empty", ""),
    ("ascii_sentence", "Hello, world! This is DuoScope."),
    ("single_word", "hello"),
    ("leading_space", " hello"),
    ("multiple_spaces", "a  b   c    d"),
    ("leading_trailing_spaces", "   leading and trailing   "),
    ("only_spaces", "    "),
    ("newlines", "line one\nline two\n\nline four\n"),
    ("crlf_tab", "col1\tcol2\r\nnext\t\tline"),
    ("digits", "3.14159 and 2024-11-29, 1234567890 x42"),
    ("space_digits", " 7 77 777  7777"),
    ("double_space_digit", "a  1"),
    ("newlines_digit", "x\n\n2"),
    ("contractions", "I'm sure you'll see we've done it, don't they'd?"),
    ("punctuation", "Wait... what?! (yes) [no] {maybe} \"quoted\" 'single' -- ok; a/b@c#d$e%"),
    ("accents", "café naïve résumé Über straße façade"),
    ("greek_cyrillic", "Ελληνικά και Русский язык"),
    ("cjk", "日本語のテキストと中文字符"),
    ("emoji", "I love it 🙂👍🏽🚀 !"),
    ("unicode_numbers", "½ ² Ⅻ ٣ ３"),
    ("kjv_verse", "In the beginning God created the heaven and the earth."),
    ("kjv_verse_punct", "And God said, Let there be light: and there was light."),
    ("code", "def f(x):\n    return x ** 2  # square\n"),
    ("chat_markup", "<|im_start|>user\nHi there<|im_end|>\n"),
]

# Sequences whose logits are recorded: (name, text, prepend_bos). At most 16 tokens each.
LOGIT_CASES = [
    ("kjv_genesis", "In the beginning God created the heaven and the earth.", False),
    ("pangram_digits", "The quick brown fox jumps over the lazy dog 1234", False),
    ("bos_john", "Jesus wept. And the Word was made flesh, and dwelt", True),
]
MAX_LOGIT_TOKENS = 16
N_PROBE = 32
# Filler probe ids, spread across the vocabulary (those >= vocab size are skipped).
PROBE_FILLER = [0, 1, 2, 3, 10, 100, 198, 216, 255, 256, 500, 1000, 2000, 4096, 8191, 8192, 12345, 16384,
                20000, 24576, 30000, 32768, 36000, 40000, 45000, 49150, 49151, 5, 50, 300, 700, 1500,
                3000, 6000, 9000, 11000, 13000, 15000]


def cacheDir():
    if os.environ.get("DUO_CACHE_DIR"):
        return os.environ["DUO_CACHE_DIR"]
    xdg = os.environ.get("XDG_CACHE_HOME")
    return os.path.join(xdg if xdg else os.path.expanduser("~/.cache"), "duoscope")


def sha256Ids(ids):
    """SHA-256 of the ids as little-endian int32, the way a C++ test can hash its std::vector<int32_t>."""
    return hashlib.sha256(np.asarray(ids, dtype="<i4").tobytes()).hexdigest()


def version(pkg):
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def resolveModel(arg):
    """-> (kind "gguf"|"hf", folder, gguf file name or None, files whose sha256 identify the model)."""
    if arg == "smollm2":
        arg = os.path.join(cacheDir(), "models", SMOLLM2_FILE)
    elif arg == "tiny":
        arg = os.path.join(os.environ.get("DUO_RESOURCES_DIR", os.path.join(REPO_ROOT, "resources")),
                           "models", "duo-tiny-kjv")
    if not os.path.exists(arg):
        sys.exit(f"make_model_refs: model '{arg}' does not exist")
    if os.path.isfile(arg) and arg.endswith(".gguf"):
        return "gguf", os.path.dirname(os.path.abspath(arg)), os.path.basename(arg), [arg]
    if os.path.isdir(arg):
        files = sorted(f for f in os.listdir(arg) if f.endswith((".safetensors", ".json", ".txt", ".model")))
        return "hf", os.path.abspath(arg), None, [os.path.join(arg, f) for f in files]
    sys.exit(f"make_model_refs: '{arg}' is neither a .gguf file nor a HF model folder")


class FileTokenizer:
    """A HF folder's tokenizer.json run by the `tokenizers` library exactly as the file says (no
    model-specific transformers class re-deriving the pipeline), with the few methods used here."""

    def __init__(self, folder, config):
        from tokenizers import Tokenizer
        self.backend_tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        self.bos_token_id = config.bos_token_id
        self.eos_token_id = config.eos_token_id
        self.all_special_tokens = [t.content for t in self.backend_tokenizer.get_added_tokens_decoder().values()
                                   if t.special]

    def encode(self, text, add_special_tokens=True):
        return self.backend_tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def convert_ids_to_tokens(self, ids):
        return [self.backend_tokenizer.id_to_token(i) for i in ids]

    def decode(self, ids):
        return self.backend_tokenizer.decode(ids, skip_special_tokens=False)

    def __len__(self):
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)


def load(kind, folder, ggufName):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    extra = {"gguf_file": ggufName} if kind == "gguf" else {}
    if kind == "gguf":
        tok = AutoTokenizer.from_pretrained(folder, **extra)
    else:
        from transformers import AutoConfig
        tok = FileTokenizer(folder, AutoConfig.from_pretrained(folder))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager", **extra)
    model.eval()
    # The reference must be a plain float32 model: no quantized matmul kernels anywhere.
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear):
            assert type(mod) is torch.nn.Linear and mod.weight.dtype == torch.float32, name
    return tok, model


def ggufMeta(path):
    import gguf
    r = gguf.GGUFReader(path)
    meta = {}
    for key in ("tokenizer.ggml.add_bos_token", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.model", "tokenizer.ggml.pre", "general.architecture"):
        if key in r.fields:
            meta[key] = r.fields[key].contents()
    return r, meta


def bosPolicy(tok, kind, gguf_meta):
    """(bos_id or None, add_bos as the model's own config says)."""
    bos = tok.bos_token_id
    if kind == "gguf":
        addBos = bool(gguf_meta.get("tokenizer.ggml.add_bos_token", False))
    else:
        probe = tok.encode("a", add_special_tokens=True)
        addBos = bos is not None and len(probe) > 0 and probe[0] == bos
    return bos, addBos


def encode(tok, text):
    return tok.encode(text, add_special_tokens=False) if text else []


# ---------------------------------------------------------------------------------------------------
# Tokenizer references


def tokenRefs(tok, bos, addBos, rawBackend):
    """rawBackend: transformers' tokenizer as built from the GGUF, when the pre-tokenizer was fixed
    (fixPreTokenizer); rows where it disagrees also carry its ids as ids_transformers_gguf."""
    special = set(tok.all_special_tokens)
    rows = []
    for name, text in TOKEN_CASES:
        ids = encode(tok, text)
        row = {
            "name": name,
            "text": text,
            "text_utf8_hex": text.encode("utf-8").hex(),
            "has_special_markup": any(s in text for s in special if s),
            "ids": ids,
            "ids_with_bos": ([bos] + ids) if bos is not None else None,
            "pieces": tok.convert_ids_to_tokens(ids),
            "decode_roundtrip": tok.decode(ids) == text,
        }
        if rawBackend is not None:
            raw = rawBackend.encode(text, add_special_tokens=False).ids if text else []
            if raw != ids:
                row["ids_transformers_gguf"] = raw
        rows.append(row)
    return {
        "bos_id": bos,
        "eos_id": tok.eos_token_id,
        "add_bos": addBos,
        "vocab_size": len(tok),
        "special_markup_note": "rows with has_special_markup=true were encoded with special-token text "
                               "matched as single special ids (transformers' default)",
        "cases": rows,
    }


# llama.cpp pre-tokenizer names whose split is "each \p{N} alone, then the GPT-2 regex", i.e. HF's
# Sequence[Digits(individual_digits=true), ByteLevel(use_regex=true)] (SmolLM2's own tokenizer.json).
DIGITS_THEN_GPT2 = ("smollm", "starcoder", "refact", "codeshell")


def fixPreTokenizer(tok, gmeta):
    """transformers builds a GGUF byte-level tokenizer with plain GPT-2 splitting for pre-tokenizer
    names it does not know ("smollm" among them), so digits stop splitting off the whitespace before
    them. Put SmolLM2's real pre-tokenizer back. Returns (description, copy of the tokenizer as
    transformers built it) or (None, None) when nothing was changed."""
    from tokenizers import pre_tokenizers
    if gmeta.get("tokenizer.ggml.model") != "gpt2" or gmeta.get("tokenizer.ggml.pre") not in DIGITS_THEN_GPT2:
        return None, None
    backend = tok.backend_tokenizer
    raw = backend.__class__.from_str(backend.to_str())
    before = json.loads(backend.to_str())["pre_tokenizer"]
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    return {
        "gguf_pre": gmeta.get("tokenizer.ggml.pre"),
        "transformers_built": before,
        "used": json.loads(backend.to_str())["pre_tokenizer"],
        "why": "SmolLM2's tokenizer.json and llama.cpp's 'smollm' pre-tokenizer isolate every \\p{N} "
               "character before the GPT-2 split; transformers' GGUF loader does not know 'smollm' and "
               "keeps plain GPT-2 splitting, which differs when whitespace precedes a digit and for "
               "non-ASCII numerals (rows with ids_transformers_gguf)",
    }, raw


# ---------------------------------------------------------------------------------------------------
# Logit references


@torch.no_grad()
def logitRefs(tok, model, bos, hiddenStats):
    vocab = model.config.vocab_size
    seqs = []
    model64 = None
    for index, (name, text, withBos) in enumerate(LOGIT_CASES):
        ids = encode(tok, text)
        if withBos and bos is not None:
            ids = [bos] + ids
        ids = ids[:MAX_LOGIT_TOKENS]
        x = torch.tensor([ids], dtype=torch.long)
        hooks, captured = [], {}
        if index == 0 and hiddenStats:
            hooks = attachStatHooks(model, captured)
        logits = model(x).logits[0].float()  # [T, vocab] f32
        for h in hooks:
            h.remove()
        # float64 run of the same weights: how far float32 rounding alone moves the logits.
        if model64 is None:
            import copy
            model64 = copy.deepcopy(model).double()
        logits64 = model64(x).logits[0]  # [T, vocab] f64
        argmax = logits.argmax(-1).tolist()
        probe = sorted(set(argmax))
        for f in PROBE_FILLER:
            if len(probe) >= N_PROBE:
                break
            if f < vocab and f not in probe:
                probe.append(f)
        probe = sorted(probe)
        lse = torch.logsumexp(logits.double(), -1)  # [T] f64 of f32 logits
        top5 = torch.topk(logits, 5, -1)
        positions = []
        for t in range(len(ids)):
            positions.append({
                "argmax": argmax[t],
                "max_logit": float(logits[t, argmax[t]]),
                "logsumexp": float(lse[t]),
                "top5_ids": top5.indices[t].tolist(),
                "top5_logits": [float(v) for v in top5.values[t]],
                "probe_logits": [float(logits[t, i]) for i in probe],
            })
        seq = {
            "name": name,
            "text": text,
            "prepend_bos": bool(withBos and bos is not None),
            "ids": ids,
            "probe_ids": probe,
            "positions": positions,
            "f32_vs_f64_max_abs_diff": float((logits.double() - logits64).abs().max()),
        }
        if index == 0 and hiddenStats:
            seq["hidden"] = summariseHidden(captured)
        seqs.append(seq)
    return {"vocab_size": vocab, "dtype": "float32", "sequences": seqs}


def attachStatHooks(model, captured):
    """Record each decoder layer's output (residual stream) and the final norm's output."""
    hooks = []
    for i, layer in enumerate(model.model.layers):
        def hook(_m, _inp, out, i=i):
            captured[f"layer{i}"] = (out[0] if isinstance(out, tuple) else out).detach()[0].float()
        hooks.append(layer.register_forward_hook(hook))

    def normHook(_m, _inp, out):
        captured["final_norm"] = out.detach()[0].float()
    hooks.append(model.model.norm.register_forward_hook(normHook))
    return hooks


def stats(h):
    """h: [T, d] f32 -> mean/std (population, over all T*d values) and max |h|."""
    h64 = h.double()
    return {"mean": float(h64.mean()), "std": float(h64.std(unbiased=False)), "absmax": float(h64.abs().max())}


def summariseHidden(captured):
    fin = captured["final_norm"]  # [T, d] f32
    n = len([k for k in captured if k.startswith("layer")])
    return {
        "final_norm": dict(stats(fin), **{
            "per_position_mean": [float(v) for v in fin.double().mean(-1)],
            "per_position_std": [float(v) for v in fin.double().std(-1, unbiased=False)],
            "first8_pos0": [float(v) for v in fin[0, :8]],
        }),
        "layer_outputs": [stats(captured[f"layer{i}"]) for i in range(n)],
        "note": "layer_outputs[i] is the residual stream after decoder layer i (before the final norm); "
                "final_norm is the final RMSNorm output fed to lm_head; std is the population std over "
                "all positions x hidden dims",
    }


# ---------------------------------------------------------------------------------------------------
# Perplexity


@torch.no_grad()
def pplRefs(tok, model, corpusPath, seqlen, nWindows):
    with open(corpusPath, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    ids = encode(tok, text)
    windows = []
    nllTotal, count = 0.0, 0
    for w in range(min(nWindows, len(ids) // seqlen)):
        win = ids[w * seqlen:(w + 1) * seqlen]
        logits = model(torch.tensor([win])).logits[0].float()  # [seqlen, vocab] f32
        logp = torch.log_softmax(logits[:-1], -1)  # [seqlen-1, vocab] f32
        nll = -logp.gather(1, torch.tensor(win[1:]).unsqueeze(1)).squeeze(1).double()  # [seqlen-1] f64
        nllTotal += float(nll.sum())
        count += nll.numel()
        windows.append({
            "index": w,
            "first_ids": win[:8],
            "last_id": win[-1],
            "ids_sha256_i32le": sha256Ids(win),
            "nll_sum": float(nll.sum()),
            "nll_mean": float(nll.mean()),
            "ppl": math.exp(float(nll.mean())),
        })
    return {
        "protocol": {
            "corpus": os.path.basename(corpusPath),
            "corpus_sha256": hashlib.sha256(raw).hexdigest(),
            "corpus_bytes": len(raw),
            "text": "the whole file decoded as UTF-8, as-is (newlines between verses kept, final newline kept)",
            "tokenize": "once over the whole text, no BOS, no EOS (add_special_tokens=False)",
            "windows": f"non-overlapping windows of {seqlen} tokens from token 0; the tail shorter than "
                       f"{seqlen} is dropped; the first {nWindows} windows are used",
            "each_window": "one independent forward pass (fresh context, no BOS inserted); token t+1 is "
                           f"predicted from positions 0..t, so {seqlen - 1} predicted tokens per window",
            "ppl": "exp(sum of NLL over all predicted tokens / number of predicted tokens), natural log",
            "seqlen": seqlen,
            "n_windows": len(windows),
        },
        "corpus_n_tokens": len(ids),
        "corpus_ids_sha256_i32le": sha256Ids(ids),
        "corpus_first_ids": ids[:32],
        "windows": windows,
        "predicted_tokens": count,
        "nll_mean": nllTotal / count,
        "ppl": math.exp(nllTotal / count),
    }


# ---------------------------------------------------------------------------------------------------
# GGUF layout check


@torch.no_grad()
def qkLayoutCheck(reader, model, layer=0, positions=(3, 11)):
    """Independent check of transformers' q/k un-permutation: attention scores from the raw GGUF rows
    with llama.cpp's adjacent-pair RoPE must equal scores from transformers' rows with rotate-half."""
    import gguf
    cfg = model.config
    hd = cfg.hidden_size // cfg.num_attention_heads
    theta = cfg.rope_parameters["rope_theta"] if getattr(cfg, "rope_parameters", None) else cfg.rope_theta
    raw = {t.name: t for t in reader.tensors}
    wq = torch.from_numpy(gguf.dequantize(raw[f"blk.{layer}.attn_q.weight"].data,
                                          raw[f"blk.{layer}.attn_q.weight"].tensor_type).copy()).double()
    wk = torch.from_numpy(gguf.dequantize(raw[f"blk.{layer}.attn_k.weight"].data,
                                          raw[f"blk.{layer}.attn_k.weight"].tensor_type).copy()).double()
    attn = model.model.layers[layer].self_attn
    hq, hk = attn.q_proj.weight.double(), attn.k_proj.weight.double()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, cfg.hidden_size, generator=gen, dtype=torch.float64)  # [2, d] f64
    inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)  # [hd/2] f64

    def ropeAdjacent(v, p):  # llama.cpp LLAMA_ROPE_TYPE_NORM: pairs (2i, 2i+1)
        v = v.view(-1, hd // 2, 2)
        c, s = torch.cos(p * inv), torch.sin(p * inv)
        return torch.stack([v[..., 0] * c - v[..., 1] * s, v[..., 0] * s + v[..., 1] * c], -1).view(-1, hd)

    def ropeHalf(v, p):  # HF rotate_half: pairs (i, i + hd/2)
        v = v.view(-1, hd)
        c, s = torch.cos(p * inv).repeat(2), torch.sin(p * inv).repeat(2)
        rot = torch.cat([-v[:, hd // 2:], v[:, :hd // 2]], -1)
        return v * c + rot * s

    def scores(wq_, wk_, rope):
        q = rope(wq_ @ x[0], positions[1])  # [n_head, hd]
        k = rope(wk_ @ x[1], positions[0])  # [n_kv, hd]
        k = k.repeat_interleave(cfg.num_attention_heads // cfg.num_key_value_heads, 0)
        return (q * k).sum(-1)  # [n_head]

    a, b = scores(wq, wk, ropeAdjacent), scores(hq, hk, ropeHalf)
    naive = scores(wq, wk, ropeHalf)  # what a loader that forgets to undo the permutation computes
    return {"layer": layer, "max_abs_diff_scores": float((a - b).abs().max()),
            "scores_scale": float(b.abs().max()),
            "max_abs_diff_if_not_unpermuted": float((naive - b).abs().max()),
            "rows_equal_after_unpermute": bool(torch.equal(
                wq.view(cfg.num_attention_heads, hd // 2, 2, -1).transpose(1, 2).reshape(wq.shape), hq))}


# ---------------------------------------------------------------------------------------------------


def writeJson(path, obj):
    """UTF-8 JSON, indented, with arrays of plain numbers kept on one line (readable diffs)."""
    import re
    text = json.dumps(obj, ensure_ascii=False, indent=1)
    text = re.sub(r"\[\s*([-0-9.e+,\s]*?)\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",") if v.strip()) + "]", text)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.replace(tmp, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="smollm2 | tiny | FILE.gguf | HF folder")
    ap.add_argument("--out", required=True, help="output prefix, e.g. tests/reference/smollm2")
    ap.add_argument("--corpus", default=os.path.join(cacheDir(), "corpus", "kjv-eval.txt"))
    ap.add_argument("--seqlen", type=int, default=256)
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    kind, folder, ggufName, idFiles = resolveModel(args.model)
    reader, gmeta = ggufMeta(os.path.join(folder, ggufName)) if kind == "gguf" else (None, {})
    tok, model = load(kind, folder, ggufName)
    bos, addBos = bosPolicy(tok, kind, gmeta)
    preFix, rawBackend = fixPreTokenizer(tok, gmeta)
    with open(args.corpus, "rb") as f:
        corpusText = f.read().decode("utf-8")

    meta = {
        "schema": SCHEMA,
        "generator": "tests/reference/make_model_refs.py",
        "command": "python tests/reference/make_model_refs.py " + " ".join(sys.argv[1:]),
        "model_arg": args.model,
        "model_format": kind,
        "model_files": [{"name": os.path.basename(p), "sha256": sha256_file(p)} for p in idFiles],
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": version("transformers"), "gguf": version("gguf"),
                     "tokenizers": version("tokenizers"), "numpy": np.__version__},
        "torch_threads": args.threads,
        "tokenizer": ("transformers AutoTokenizer from the GGUF metadata" + (
            " with the pre-tokenizer fixed (see pretokenizer_fix in the tokens file)" if preFix else "")
            if kind == "gguf" else "tokenizer.json run by the tokenizers library (tokenizers.Tokenizer.from_file)"),
        "weights": ("gguf.dequantize to float32; attn_q/attn_k rows un-permuted by transformers to HF order"
                    if kind == "gguf" else "safetensors upcast to float32"),
        "config": {k: getattr(model.config, k, None) for k in (
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "rms_norm_eps", "tie_word_embeddings", "bos_token_id", "eos_token_id")},
    }
    if kind == "gguf":
        meta["gguf_tokenizer_meta"] = gmeta

    tokens = tokenRefs(tok, bos, addBos, rawBackend)
    if rawBackend is not None:
        tokens["pretokenizer_fix"] = preFix
        tokens["pretokenizer_fix"]["eval_corpus_ids_identical"] = (
            encode(tok, corpusText) == rawBackend.encode(corpusText, add_special_tokens=False).ids)
    writeJson(args.out + "_tokens.json", {"meta": meta, **tokens})

    logits = logitRefs(tok, model, bos, hiddenStats=True)
    if kind == "gguf":
        logits["gguf_qk_layout_check"] = qkLayoutCheck(reader, model)
    writeJson(args.out + "_logits.json", {"meta": meta, **logits})

    ppl = pplRefs(tok, model, args.corpus, args.seqlen, args.windows)
    writeJson(args.out + "_ppl.json", {"meta": meta, **ppl})
    print(f"ppl over {ppl['predicted_tokens']} tokens: {ppl['ppl']:.4f}")


if __name__ == "__main__":
    main()
