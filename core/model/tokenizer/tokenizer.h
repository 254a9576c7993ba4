// SPDX-License-Identifier: GPL-3.0-or-later
// duo::Tokenizer: text <-> token ids for LLaMA-family models. Torch-free.
//
// Two families, both BPE:
//  - "bpe-bytelevel": GPT-2 byte-to-unicode symbols, merges by rank, a regex pre-tokenizer
//    (GPT-2, LLaMA-3, Qwen2, SmolLM2's digits + GPT-2). SmolLM2, LLaMA-3, our tiny model.
//  - "spm": SentencePiece-style BPE on characters with '▁' for spaces and <0xNN> byte fallback;
//    merges by rank (HF tokenizer.json, LLaMA-2) or by score (GGUF `llama`).
// Added / special tokens (<s>, <|im_start|>, ...) are matched as whole tokens in the raw text
// before anything else, leftmost-longest, exactly as HF tokenizers does.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/common/progress.h"
#include "core/model/tokenizer/tokenizer_spec.h"

namespace duo {

namespace tok {
struct TokenizerState;
}

class Tokenizer {
 public:
  // HF tokenizer.json. fromJsonFile also reads a sibling tokenizer_config.json when present
  // (bos_token, eos_token, add_bos_token). All faults throw duo::Error naming the file.
  static std::unique_ptr<Tokenizer> fromJsonFile(const std::string& path);
  // Same parser on an in-memory document (fuzzing, tests); nameForErrors stands in for the path.
  static std::unique_ptr<Tokenizer> fromJsonString(const std::string& json, const std::string& nameForErrors);
  // GGUF metadata (tokenizer.ggml.*), model "gpt2" or "llama".
  static std::unique_ptr<Tokenizer> fromSpec(const TokenizerSpec& spec);

  explicit Tokenizer(std::unique_ptr<tok::TokenizerState> state);  // loaders only
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of text; prepends bosId() when addBos is true and the tokenizer has a BOS.
  // Callers normally pass addsBos(). Any byte string is accepted (invalid UTF-8 goes through
  // byte-level symbols or byte fallback). Thread-safe.
  std::vector<int32_t> encode(const std::string& text, bool addBos) const;
  // Text of ids: byte-level symbols back to bytes, '▁' back to ' ', <0xNN> to the byte (raw bytes
  // are kept even when a sequence is cut mid-character), added tokens as their content unless
  // skipSpecial drops the special ones. Throws duo::Error on an id outside [0, vocabSize()).
  std::string decode(const std::vector<int32_t>& ids, bool skipSpecial = false) const;

  std::string tokenText(int32_t id) const;   // the vocabulary string as stored ("Ġthe", "▁the", "<s>")
  std::string tokenBytes(int32_t id) const;  // what the token alone decodes to (" the")
  int32_t tokenId(const std::string& tokenText) const;  // id of a vocabulary/added string, -1 if none
  bool isSpecial(int32_t id) const;          // a special added/control token

  int64_t vocabSize() const;  // 1 + the largest id (model vocabulary and added tokens)
  int32_t bosId() const;      // -1 when none
  int32_t eosId() const;      // -1 when none
  bool addsBos() const;       // whether the model's configuration asks for BOS in front
  std::string kind() const;   // "bpe-bytelevel" | "spm"

  // Overrides from a model's config.json (bos_token_id / eos_token_id); -1 leaves the id as is.
  void setSpecialIds(int32_t bos, int32_t eos);
  void setAddsBos(bool addBos);

  // HF tokenizer.json for this tokenizer (loadable by the PyPI `tokenizers` library, which then
  // encodes identically). Throws duo::Error for a score-ordered (GGUF llama) tokenizer, which
  // has no merge list to write.
  std::string toJsonString() const;
  void saveTokenizerJson(const std::string& path) const;  // atomic write; duo::Error naming path

 private:
  void encodeSegment(const std::string& segment, bool isFirstSegment, std::vector<int32_t>& out) const;
  std::unique_ptr<tok::TokenizerState> m_state;
};

}  // namespace duo

// The trainer (trainByteLevelBpe) is declared in bpe_trainer.h; included here for convenience.
#include "core/model/tokenizer/bpe_trainer.h"
