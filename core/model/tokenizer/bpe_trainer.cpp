// SPDX-License-Identifier: GPL-3.0-or-later
// Byte-level BPE training for the bundled tiny model (see trainByteLevelBpe in tokenizer.h).
//
// Classic BPE: words are the GPT-2-regex pieces of the text, counted once each with their
// frequency; every step merges the most frequent adjacent pair everywhere. Pair counts are kept
// incrementally: a merge only revisits the words that contain the pair (`where` index).
#include <algorithm>
#include <unordered_map>

#include "core/common/error.h"
#include "core/model/tokenizer/bpe_trainer.h"

#include "core/model/tokenizer/tokenizer.h"
#include "core/model/tokenizer/tokenizer_state.h"
#include "core/model/tokenizer/unicode_util.h"

namespace duo {

namespace {

constexpr int32_t kFirstByteId = 2;  // ids 0, 1 are <|bos|>, <|eos|>
constexpr int64_t kMinPairCount = 2;

uint64_t pairKey(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

struct Word {
  std::vector<int32_t> symbols;  // [len] token ids
  int64_t freq = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> trainByteLevelBpe(const std::string& text, int vocabSize, const ProgressFn& progress) {
  DUO_CHECK(vocabSize >= kFirstByteId + 256 && vocabSize <= (1 << 20), "trainByteLevelBpe: vocabSize expected in [",
            kFirstByteId + 256, ", ", 1 << 20, "], got ", vocabSize);
  const int64_t targetMerges = vocabSize - (kFirstByteId + 256);
  reportProgress(progress, {"train-tokenizer", "counting words", 0, targetMerges});

  // 1. Words: exactly the pieces the encoder's ByteLevel pre-tokenizer will produce.
  std::unordered_map<std::string_view, int64_t> counts;
  {
    const tok::Regex regex(tok::kGpt2Pattern);
    const std::string_view all(text);
    size_t prev = 0;
    for (const auto& [b, e] : regex.findAll(all)) {
      if (b > prev) ++counts[all.substr(prev, b - prev)];  // bytes no alternative matches (invalid UTF-8)
      ++counts[all.substr(b, e - b)];
      prev = e;
    }
    if (prev < all.size()) ++counts[all.substr(prev)];
  }
  std::vector<std::pair<std::string_view, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());  // fixed word order: results do not depend on hashing
  std::vector<Word> words(sorted.size());
  for (size_t w = 0; w < sorted.size(); ++w) {
    for (char c : sorted[w].first) words[w].symbols.push_back(kFirstByteId + static_cast<uint8_t>(c));
    words[w].freq = sorted[w].second;
  }

  // 2. Vocabulary: specials, then the 256 byte symbols.
  auto state = std::make_unique<tok::TokenizerState>();
  std::vector<std::string>& vocab = state->bpe.idToToken;
  vocab = {"<|bos|>", "<|eos|>"};
  for (int b = 0; b < 256; ++b) vocab.push_back(tok::byteUnicodeTable().byteToText[b]);
  std::unordered_map<std::string, int32_t> idOf;
  for (size_t i = 0; i < vocab.size(); ++i) idOf.emplace(vocab[i], static_cast<int32_t>(i));

  // 3. Pair statistics.
  std::unordered_map<uint64_t, int64_t> pairCount;              // pair -> weighted occurrences
  std::unordered_map<uint64_t, std::vector<int32_t>> pairWhere;  // pair -> words that may hold it
  auto addWordPairs = [&](int32_t w, int64_t sign) {
    const Word& word = words[w];
    for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
      const uint64_t k = pairKey(word.symbols[i], word.symbols[i + 1]);
      const int64_t c = (pairCount[k] += sign * word.freq);
      if (c == 0) pairCount.erase(k);
      if (sign > 0) {
        auto& list = pairWhere[k];
        if (list.empty() || list.back() != w) list.push_back(w);
      }
    }
  };
  for (int32_t w = 0; w < static_cast<int32_t>(words.size()); ++w) addWordPairs(w, +1);

  // 4. Merge loop.
  int64_t merged = 0;
  while (static_cast<int64_t>(vocab.size()) < vocabSize && !pairCount.empty()) {
    uint64_t best = 0;
    int64_t bestCount = -1;
    for (const auto& [k, c] : pairCount) {
      if (c > bestCount || (c == bestCount && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (bestCount < kMinPairCount) break;
    const auto a = static_cast<int32_t>(best >> 32);
    const auto b = static_cast<int32_t>(best & 0xFFFFFFFFu);
    const std::string joined = vocab[a] + vocab[b];
    int32_t newId;
    const auto found = idOf.find(joined);
    if (found != idOf.end()) {
      newId = found->second;  // the same string was already built from another pair
    } else {
      newId = static_cast<int32_t>(vocab.size());
      vocab.push_back(joined);
      idOf.emplace(joined, newId);
    }
    state->bpe.merges.emplace_back(a, b);

    std::vector<int32_t> affected;
    affected.swap(pairWhere[best]);
    pairWhere.erase(best);
    for (int32_t w : affected) {
      std::vector<int32_t>& sy = words[w].symbols;
      bool has = false;
      for (size_t i = 0; i + 1 < sy.size() && !has; ++i) has = sy[i] == a && sy[i + 1] == b;
      if (!has) continue;  // stale entry: an earlier merge already consumed the pair here
      addWordPairs(w, -1);
      std::vector<int32_t> out;  // [new len] leftmost, non-overlapping occurrences merged
      out.reserve(sy.size());
      for (size_t i = 0; i < sy.size();) {
        if (i + 1 < sy.size() && sy[i] == a && sy[i + 1] == b) {
          out.push_back(newId);
          i += 2;
        } else {
          out.push_back(sy[i++]);
        }
      }
      sy.swap(out);
      addWordPairs(w, +1);
    }
    ++merged;
    reportProgress(progress, {"train-tokenizer", "merge " + std::to_string(merged), merged, targetMerges});
  }

  // 5. The tokenizer: GPT-2 ByteLevel pre-tokenizer and decoder, specials as added tokens.
  state->bpe.byteLevel = true;
  state->preSteps = {tok::makeByteLevel(false, true)};
  for (int32_t id : {0, 1}) {
    tok::AddedToken t;
    t.id = id;
    t.content = vocab[id];
    t.special = true;
    state->added.push_back(t);
  }
  state->bos = 0;
  state->eos = 1;
  state->addBos = false;
  state->decodeByteLevel = true;
  state->decodeReplacement = false;
  state->finalize("trained tokenizer");
  return std::make_unique<Tokenizer>(std::move(state));
}

}  // namespace duo
