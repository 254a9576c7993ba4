// SPDX-License-Identifier: GPL-3.0-or-later
// The BPE model proper: vocabulary, merge table and the merge loop for one pre-tokenised word.
// Two merge orders:
//  - by rank (HF tokenizers `BPE`, GGUF gpt2): pairs (a, b) listed in `merges`, lowest rank first;
//  - by score (GGUF llama / SentencePiece): any adjacent pair whose concatenation is a vocabulary
//    entry, highest score first.
// Ties go to the leftmost pair in both. Internal to duo_tokenizer.
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace duo::tok {

struct MergeRule {
  int32_t rank;   // position in the merges list
  int32_t newId;  // id of the concatenation
};

class BpeModel {
 public:
  // --- configuration, filled by the loaders before finalize() ---
  std::vector<std::string> idToToken;  // [vocab] token text as stored ("" for holes)
  std::vector<std::pair<int32_t, int32_t>> merges;  // [n_merges] (left id, right id) in rank order
  std::vector<float> scores;           // [vocab] f32, score mode only
  bool mergeByScore = false;
  bool byteLevel = false;     // word bytes start as GPT-2 byte-unicode symbols
  bool byteFallback = false;  // unknown characters become <0xNN> tokens
  bool ignoreMerges = false;  // a word that is itself a token is emitted whole (LLaMA-3)
  bool fuseUnk = false;       // consecutive unknowns become one unk
  int32_t unkId = -1;

  // Builds the lookup tables; throws duo::Error when a merge yields a string not in the vocabulary.
  void finalize();

  // Encodes one word (raw bytes for byte-level, normalised text otherwise) and appends its ids.
  // Thread-safe; results for short words are cached.
  void encodeWord(std::string_view word, std::vector<int32_t>& out) const;

  int32_t lookup(std::string_view token) const;  // -1 when absent
  int32_t byteSymbolId(uint8_t b) const { return m_byteLevelId[b]; }
  int32_t byteTokenId(uint8_t b) const { return m_byteTokenId[b]; }
  // Whether every byte has a <0xNN> token (so byte fallback can represent any input).
  bool hasAllByteTokens() const;

 private:
  void encodeUncached(std::string_view word, std::vector<int32_t>& out) const;
  void appendUnknown(std::string_view ch, std::vector<int32_t>& out) const;

  std::unordered_map<std::string_view, int32_t> m_tokenToId;  // views into idToToken
  std::unordered_map<uint64_t, MergeRule> m_pairToMerge;      // (left << 32 | right) -> rule
  std::array<int32_t, 256> m_byteLevelId{};                   // byte -> id of its GPT-2 symbol, -1 absent
  std::array<int32_t, 256> m_byteTokenId{};                   // byte -> id of "<0xNN>", -1 absent

  static constexpr size_t kMaxCachedWordBytes = 256;
  static constexpr size_t kMaxCacheEntries = 1 << 18;
  mutable std::mutex m_cacheMutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> m_cache;  // word -> ids
};

}  // namespace duo::tok
