#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Token-id references for DuoScope's tokenizers, from an independent implementation (PyPI `tokenizers`).

Writes (all small, committed):
  tests/reference/tokenizer_smollm2.json       SmolLM2's GGUF vocabulary + merges, built as an HF BPE
                                               here, with three pre-tokenizers:
                                                 smollm    Digits(individual) + ByteLevel (the real one)
                                                 gpt2      ByteLevel(use_regex) alone
                                                 llama3    Split(LLaMA-3 regex) + ByteLevel(no regex),
                                                           ignore_merges (as LLaMA-3)
                                                 qwen2     Split(Qwen2 regex) + ByteLevel(no regex)
  tests/data/tokenizers/spm-llama2-style.json  a SentencePiece-style BPE in LLaMA-2's tokenizer.json
                                               layout (Prepend/Replace normalizer, byte_fallback,
                                               <0xNN> byte tokens, "<s> $A" template), trained here on
                                               tests/data/tokenizers/kjv-sample.txt
  tests/reference/tokenizer_spm.json           its ids (with and without BOS)
  tests/reference/tokenizer_duo_bytelevel.json ids from tests/data/tokenizers/duo-bytelevel-512.json,
                                               the file OUR trainer wrote (test_tokenizer_trainer
                                               regenerates it with DUO_WRITE_TOKENIZER_DATA=1)

Each reference lists, per case: name, text, ids (no special tokens added) and decoded
(tokenizer.decode(ids, skip_special_tokens=False)).

Environment: pip install --user tokenizers gguf (no torch). Run from anywhere:
  python3 tests/reference/make_tokenizer_refs.py
The SmolLM2 part needs ~/.cache/duoscope/models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-smollm2.sh)
and is skipped with a message when it is absent.
"""
import importlib.metadata
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REF_DIR = os.path.join(REPO, "tests", "reference")
DATA_DIR = os.path.join(REPO, "tests", "data", "tokenizers")
CACHE = os.environ.get("DUO_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "duoscope")
SMOLLM2 = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")

# The LLaMA-3 pre-tokenizer regex (tokenizer.json of Meta-Llama-3).
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# Qwen2's tokenizer.json Split regex (llama.cpp's "qwen2" pre-type): LLaMA-3's with single digits.
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")

CASES = [
    ("empty", ""),
    ("single_char", "a"),
    ("single_space", " "),
    ("newline_only", "\n"),
    ("ascii", "Hello, world! This is DuoScope."),
    ("kjv_verse", "In the beginning God created the heaven and the earth."),
    ("leading_spaces", "  two leading spaces"),
    ("trailing_spaces", "trailing spaces   "),
    ("inner_spaces", "multiple    inner     spaces a  b"),
    ("newlines", "line one\nline two\n\nline four\r\n"),
    ("digits", "12345"),
    ("numbers", "3.14159 and 1,000,000 x42 2024-11-29"),
    ("space_digits", " 7 77 777  7777"),
    ("contractions", "it's I'M we'll THEY'RE don't"),
    ("punctuation", "Wait... what?! (yes) [no] {maybe} \"q\" -- a/b@c#d$e%"),
    ("accents", "naïve café, Ünïcödé àccents façade"),
    ("greek_cyrillic", "Ελληνικά και Русский"),
    ("cjk", "東京は日本の首都です。中文字符"),
    ("emoji", "emoji 😀👍🏽 and ☃!"),
    ("unicode_space", "tabs\tand\u00a0nbsp\u3000ideo\u0085nel\u2028ls"),
    ("unicode_numbers", "½ ² Ⅻ ٣ ３"),
    ("code", "def add(a, b):\n    return a + b  # sum\n\tx = [1, 2]\n"),
    ("special_smollm2", "<|im_start|>user\nHello<|im_end|>\n"),
    ("special_spm", "<s>Hello</s> world"),
    ("special_duo", "<|bos|>In the<|eos|> beginning"),
    ("special_lookalike", "<|im_start|<s <|bos>"),
]


def meta(generator_note):
    return {
        "schema": "duoscope.tokenizer-reference/1",
        "generator": "tests/reference/make_tokenizer_refs.py",
        "tokenizers_version": importlib.metadata.version("tokenizers"),
        "note": generator_note,
    }


def run_cases(tok):
    out = []
    for name, text in CASES:
        ids = tok.encode(text, add_special_tokens=False).ids
        out.append({"name": name, "text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    return out


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(path, REPO)} ({os.path.getsize(path)} bytes)")


# ---------------------------------------------------------------------------------------------
# SmolLM2 from its GGUF vocabulary and merges

def gguf_string_array(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def gguf_int_array(reader, key):
    f = reader.fields[key]
    return [int(f.parts[i][0]) for i in f.data]


def smollm2_refs():
    if not os.path.exists(SMOLLM2):
        print(f"skipping SmolLM2: {SMOLLM2} is absent (scripts/fetch-smollm2.sh fetches it)")
        return
    from gguf import GGUFReader

    reader = GGUFReader(SMOLLM2)
    tokens = gguf_string_array(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in gguf_string_array(reader, "tokenizer.ggml.merges")]
    types = gguf_int_array(reader, "tokenizer.ggml.token_type")
    pre = bytes(reader.fields["tokenizer.ggml.pre"].parts[-1]).decode()
    assert pre == "smollm", pre
    vocab = {t: i for i, t in enumerate(tokens)}
    # Control tokens (type 3) are matched whole in text, as llama.cpp and HF do.
    specials = [AddedToken(tokens[i], special=True, normalized=False) for i, t in enumerate(types) if t == 3]

    variants = {
        "smollm": (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]), False),
        "gpt2": (pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), False),
        "llama3": (pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), True),
        "qwen2": (pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), False),
    }
    out = {"meta": meta("SmolLM2-135M-Instruct GGUF tokens/merges in an HF BPE; pre-tokenizer per variant "
                        "(C++: TokenizerSpec.pre = smollm | gpt2 | llama-bpe | qwen2)"),
           "model_file": os.path.basename(SMOLLM2), "vocab_size": len(tokens), "variants": {}}
    for name, (pre_tok, ignore_merges) in variants.items():
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges))
        tok.pre_tokenizer = pre_tok
        tok.decoder = decoders.ByteLevel()
        tok.add_special_tokens(specials)
        out["variants"][name] = run_cases(tok)
    write_json(os.path.join(REF_DIR, "tokenizer_smollm2.json"), out)


# ---------------------------------------------------------------------------------------------
# A LLaMA-2-style SentencePiece BPE, trained here

SPM_VOCAB = 700  # trained pieces (plus 3 specials and 256 byte tokens)


def build_spm():
    with open(os.path.join(DATA_DIR, "kjv-sample.txt"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    # Train on words that start with '▁' (SentencePiece's whitespace split) ...
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    trainer_tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    trainer = trainers.BpeTrainer(vocab_size=SPM_VOCAB, min_frequency=2, show_progress=False,
                                  special_tokens=["<unk>", "<s>", "</s>"])
    trainer_tok.train_from_iterator(lines, trainer=trainer)
    trained = json.loads(trainer_tok.to_str())

    # ... then lay the file out as LLaMA-2's: <unk> <s> </s>, <0x00>..<0xFF>, pieces; no pre-tokenizer.
    old_vocab = sorted(trained["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in old_vocab:
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [m if isinstance(m, str) else " ".join(m) for m in trained["model"]["merges"]]
    added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])]
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    path = os.path.join(DATA_DIR, "spm-llama2-style.json")
    write_json(path, doc)
    return Tokenizer.from_file(path)


# Other layouts of the same SentencePiece model found in the wild: the Metaspace pre-tokenizer (and
# decoder, after ByteFallback) instead of the Prepend/Replace normaliser. The C++ test makes the same edits.
METASPACE_VARIANTS = {
    "metaspace_first": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
    "metaspace_always_split": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
}


def spm_refs():
    tok = build_spm()
    cases = run_cases(tok)
    for case in cases:
        case["ids_with_bos"] = tok.encode(case["text"], add_special_tokens=True).ids
    out = {"meta": meta("tests/data/tokenizers/spm-llama2-style.json (written by this script); variants: "
                        "normalizer null, pre_tokenizer = the Metaspace object given, decoder = Sequence[ByteFallback, it]"),
           "tokenizer_file": "tests/data/tokenizers/spm-llama2-style.json", "cases": cases, "variants": {}}
    with open(os.path.join(DATA_DIR, "spm-llama2-style.json"), encoding="utf-8") as f:
        base = json.load(f)
    for name, metaspace in METASPACE_VARIANTS.items():
        decoder = {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, metaspace]}
        doc = dict(base, normalizer=None, pre_tokenizer=metaspace, decoder=decoder)
        out["variants"][name] = {"metaspace": metaspace, "cases": run_cases(Tokenizer.from_str(json.dumps(doc)))}
    write_json(os.path.join(REF_DIR, "tokenizer_spm.json"), out)


# ---------------------------------------------------------------------------------------------
# The byte-level BPE our C++ trainer wrote

def duo_refs():
    path = os.path.join(DATA_DIR, "duo-bytelevel-512.json")
    tok = Tokenizer.from_file(path)
    write_json(os.path.join(REF_DIR, "tokenizer_duo_bytelevel.json"),
               {"meta": meta("tests/data/tokenizers/duo-bytelevel-512.json, trained by duo::trainByteLevelBpe "
                             "on tests/data/tokenizers/kjv-sample.txt at vocab 512"),
                "tokenizer_file": "tests/data/tokenizers/duo-bytelevel-512.json", "cases": run_cases(tok)})


if __name__ == "__main__":
    smollm2_refs()
    spm_refs()
    duo_refs()
    sys.exit(0)
