// SPDX-License-Identifier: GPL-3.0-or-later
// Everything a Tokenizer holds, shared by the loaders (tokenizer.json, GGUF spec, trainer), the
// encoder/decoder and the writer. Internal to duo_tokenizer.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model/tokenizer/bpe_model.h"
#include "core/model/tokenizer/regex_split.h"

namespace duo::tok {

// A token matched as a whole in the raw text before normalisation and BPE (HF "added token",
// GGUF control / user-defined token).
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = true;      // decode(skipSpecial=true) drops it
  bool lstrip = false;      // swallows ASCII whitespace on its left
  bool rstrip = false;      // ... and on its right
  bool singleWord = false;  // only matches when not inside a word
  bool normalized = false;  // kept for saving; matching always runs on the raw text
};

// A normaliser step (HF `normalizer`).
struct NormStep {
  enum class Type { Prepend, Replace, Nfc } type = Type::Replace;
  std::string text;     // Prepend: what to prepend; Replace: the pattern (literal or regex source)
  std::string content;  // Replace: the replacement
  std::shared_ptr<Regex> regex;  // Replace with a regex pattern
};

struct TokenizerState {
  BpeModel bpe;
  std::vector<NormStep> normalizers;
  std::vector<PreStep> preSteps;
  std::vector<AddedToken> added;  // in id order

  int32_t bos = -1, eos = -1;
  bool addBos = false;

  // Decoding.
  bool decodeByteLevel = false;   // GPT-2 byte-unicode symbols back to bytes
  bool decodeReplacement = true;  // SPM: replacement (▁) back to ' '
  std::string replacement = "\xE2\x96\x81";
  int stripLeadingSpaces = 0;     // spaces removed from the start of the decoded text (SPM prefix)

  // Built by finalize().
  std::vector<int32_t> addedIndexById;                  // [vocabSize] index into `added`, -1 if none
  std::array<std::vector<int32_t>, 256> addedByFirstByte;  // first byte -> indices, longest first
  int64_t vocabSize = 0;

  // Builds the BPE tables and the added-token index, and checks the special ids. `who` names the
  // source in error messages.
  void finalize(const std::string& who);

  const AddedToken* addedFor(int32_t id) const {
    return id >= 0 && id < static_cast<int32_t>(addedIndexById.size()) && addedIndexById[id] >= 0
               ? &added[addedIndexById[id]]
               : nullptr;
  }
};

// The largest vocabulary we accept: guards against absurd ids in hostile files.
constexpr int64_t kMaxVocab = 1 << 24;

}  // namespace duo::tok
