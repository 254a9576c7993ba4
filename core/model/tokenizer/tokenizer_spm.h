// SPDX-License-Identifier: GPL-3.0-or-later
// Reading a bare SentencePiece tokenizer.model (a serialised `sentencepiece.ModelProto`) into the
// TokenizerSpec the GGUF `llama` tokenizer uses. Torch-free.
//
// The protobuf is read directly (wire format, a few fields): Debian's libsentencepiece cannot be
// loaded into a process that also loads LibTorch (their protobuf copies clash during static
// initialisation and the program crashes at start), so the library is only the tests' yardstick
// (tests/reference/make_spm_refs.py, PyPI sentencepiece).
#pragma once
#include <string>

#include "core/model/tokenizer/tokenizer_spec.h"

namespace duo {

// Pieces, scores and types, the special ids and the whitespace options of a BPE SentencePiece
// model, for Tokenizer::fromSpec (merges by score, '▁' for spaces, <0xNN> byte fallback).
// duo::Error naming the file for a missing, truncated or malformed file, a Unigram / word / char
// model, or a normalizer other than `identity` without whitespace collapsing (what LLaMA-2 and
// Mistral use; NFKC rules are not implemented).
TokenizerSpec spmTokenizerSpec(const std::string& path);
// Same on the file's bytes; nameForErrors stands in for the path.
TokenizerSpec spmTokenizerSpecFromBytes(const std::string& bytes, const std::string& nameForErrors);

}  // namespace duo
