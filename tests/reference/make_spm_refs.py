#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""References for DuoScope's reader of bare SentencePiece `tokenizer.model` files, from SentencePiece
itself (PyPI `sentencepiece`, the library LLaMA-2's tokenizer.model comes from).

Trains three small models on tests/data/tokenizers/kjv-sample.txt and writes (all small, committed):
  tests/data/tokenizers/spm-bpe.model       BPE with LLaMA-2's options: identity normalizer, no
                                            whitespace collapsing, dummy prefix, byte fallback,
                                            split digits, unk 0 / bos 1 / eos 2
  tests/data/tokenizers/spm-unigram.model   the same options as a Unigram model (DuoScope refuses it)
  tests/data/tokenizers/spm-collapse.model  BPE whose normalizer collapses runs of whitespace
                                            (DuoScope refuses it; NFKC models, refused the same way,
                                            carry a 240 KB rule table, too big to commit for a test)
  tests/reference/tokenizer_spm_model.json  spm-bpe.model's piece count, special ids, and per case:
                                            name, text, ids (no BOS) and decoded

Control pieces written in the text ("<s>") are left out: SentencePiece encodes them as plain text,
while transformers' LlamaTokenizer (and DuoScope) match them as the special tokens.

  ~/.cache/duoscope/venv-ref/bin/pip install sentencepiece
  ~/.cache/duoscope/venv-ref/bin/python tests/reference/make_spm_refs.py
"""
import json
import os

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "tokenizers")
SAMPLE = os.path.join(DATA, "kjv-sample.txt")

COMMON = dict(input=SAMPLE, vocab_size=600, character_coverage=1.0, byte_fallback=True, split_digits=True,
              unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, num_threads=1)
LLAMA2 = dict(normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True)

CASES = [
    ("verse", "In the beginning God created the heaven and the earth."),
    ("leading space", " And God said, Let there be light: and there was light."),
    ("spaces and tabs", "And  the   evening\tand the morning\n\nwere the first day."),
    ("digits", "In the 600th year, 2nd month, the 17th day: 3.14159"),
    ("unicode", "Jéhovah-jireh, naïve façade, Ζεύς, 日本語"),
    ("emoji byte fallback", "Amen 🙏 and 🕊️."),
    ("empty", ""),
    ("one space", " "),
    ("trailing spaces", "selah   "),
]


def train(name, **options):
    prefix = os.path.join(DATA, name)
    spm.SentencePieceTrainer.train(model_prefix=prefix, **COMMON, **options)
    os.remove(prefix + ".vocab")
    return prefix + ".model"


def main():
    bpe = train("spm-bpe", model_type="bpe", **LLAMA2)
    train("spm-unigram", model_type="unigram", **LLAMA2)
    train("spm-collapse", model_type="bpe", normalization_rule_name="identity", remove_extra_whitespaces=True)
    sp = spm.SentencePieceProcessor(model_file=bpe)
    cases = []
    for name, text in CASES:
        ids = sp.encode(text)
        cases.append({"name": name, "text": text, "ids": ids, "decoded": sp.decode(ids)})
    out = {
        "source": "sentencepiece " + spm.__version__ + " on tests/data/tokenizers/spm-bpe.model",
        "pieces": sp.get_piece_size(),
        "unk_id": sp.unk_id(), "bos_id": sp.bos_id(), "eos_id": sp.eos_id(), "pad_id": sp.pad_id(),
        "cases": cases,
    }
    with open(os.path.join(ROOT, "tests", "reference", "tokenizer_spm_model.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
