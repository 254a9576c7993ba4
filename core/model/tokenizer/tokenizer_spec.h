// SPDX-License-Identifier: GPL-3.0-or-later
// Everything needed to build a tokenizer, independent of where it was read from: tokenizer.json
// (HF) or GGUF metadata (tokenizer.ggml.*). The GGUF reader fills it; the tokenizer consumes it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace duo {

struct TokenizerSpec {
  std::string model;                 // "gpt2" (byte-level BPE) | "llama" (SentencePiece BPE, byte fallback)
  std::string pre;                   // pre-tokenizer name: "smollm", "llama-bpe", "default", ...
  std::vector<std::string> tokens;   // id -> token string (as stored: GPT-2 byte-unicode for gpt2, ▁ for llama)
  std::vector<float> scores;         // llama/SPM merge priorities; empty for gpt2
  std::vector<int32_t> tokenTypes;   // 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte; may be empty
  std::vector<std::string> merges;   // "a b" pairs in rank order (gpt2)
  int64_t bosId = -1, eosId = -1, unkId = -1, padId = -1;
  bool addBos = false;
  bool addSpacePrefix = false;       // SPM: prepend ▁ to the text
};

// The GGUF form (model "gpt2") of a byte-level BPE tokenizer.json: tokens by id (holes as
// "[PAD<id>]", type 5), token types (1 normal, 3 special added, 4 other added), merges, BOS/EOS
// and add_bos as the file and its tokenizer_config.json say, and `pre`: the first of llama.cpp's
// pre-types default, smollm, llama-bpe, qwen2 whose splitting encodes a set of probe texts exactly
// as the file does. Throws duo::Error naming the file: not BPE, a SentencePiece-style file (GGUF
// export takes its tokenizer.model instead), or no pre-type reproducing it.
TokenizerSpec tokenizerJsonSpec(const std::string& path);

}  // namespace duo
