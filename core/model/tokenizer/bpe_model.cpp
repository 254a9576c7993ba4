// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/tokenizer/bpe_model.h"

#include <queue>

#include "core/common/error.h"
#include "core/model/tokenizer/unicode_util.h"

namespace duo::tok {

void BpeModel::finalize() {
  m_tokenToId.clear();
  m_tokenToId.reserve(idToToken.size());
  for (size_t id = 0; id < idToToken.size(); ++id) {
    if (idToToken[id].empty()) continue;  // a hole in the id space
    m_tokenToId.emplace(idToToken[id], static_cast<int32_t>(id));  // first id wins on duplicates
  }
  m_pairToMerge.clear();
  m_pairToMerge.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto [a, b] = merges[r];
    DUO_ASSERT(a >= 0 && b >= 0 && a < static_cast<int32_t>(idToToken.size()) && b < static_cast<int32_t>(idToToken.size()));
    const std::string merged = idToToken[a] + idToToken[b];
    const int32_t id = lookup(merged);
    DUO_CHECK(id >= 0, "merge #", r, " '", idToToken[a], " ", idToToken[b], "': the merged token '", merged,
              "' is not in the vocabulary");
    // A later duplicate of the same pair replaces the earlier one, as in HF tokenizers.
    m_pairToMerge[(static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b)] = {static_cast<int32_t>(r), id};
  }
  const auto& table = byteUnicodeTable();
  for (int b = 0; b < 256; ++b) {
    m_byteLevelId[b] = lookup(table.byteToText[b]);
    m_byteTokenId[b] = lookup(byteTokenName(static_cast<uint8_t>(b)));
  }
  std::lock_guard<std::mutex> lock(m_cacheMutex);
  m_cache.clear();
}

int32_t BpeModel::lookup(std::string_view token) const {
  const auto it = m_tokenToId.find(token);
  return it == m_tokenToId.end() ? -1 : it->second;
}

bool BpeModel::hasAllByteTokens() const {
  for (int32_t id : m_byteTokenId) {
    if (id < 0) return false;
  }
  return true;
}

void BpeModel::appendUnknown(std::string_view ch, std::vector<int32_t>& out) const {
  bool allBytes = byteFallback;
  for (char c : ch) allBytes = allBytes && m_byteTokenId[static_cast<uint8_t>(c)] >= 0;
  if (allBytes) {
    for (char c : ch) out.push_back(m_byteTokenId[static_cast<uint8_t>(c)]);
  } else if (unkId >= 0) {
    if (!(fuseUnk && !out.empty() && out.back() == unkId)) out.push_back(unkId);
  }
  // No unk token and no byte tokens: the character is dropped, as HF tokenizers does.
}

void BpeModel::encodeWord(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (word.size() > kMaxCachedWordBytes) {
    encodeUncached(word, out);
    return;
  }
  const std::string key(word);
  {
    std::lock_guard<std::mutex> lock(m_cacheMutex);
    const auto it = m_cache.find(key);
    if (it != m_cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  encodeUncached(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(m_cacheMutex);
  if (m_cache.size() >= kMaxCacheEntries) m_cache.clear();
  m_cache.emplace(key, std::move(ids));
}

namespace {
struct Symbol {
  int32_t id;      // token id, -1 for an unknown character (score mode)
  uint32_t start;  // byte offset in the word
  uint32_t len;    // bytes; 0 once merged into its left neighbour
  int32_t prev, next;
};
struct Candidate {
  float priority;  // rank (rank mode) or -score (score mode): lower merges first
  int32_t pos;     // index of the left symbol: ties go to the leftmost
  int32_t newId;
  uint32_t size;   // bytes of the merged symbol (stale-entry check in score mode)
  bool operator>(const Candidate& o) const {
    return priority != o.priority ? priority > o.priority : pos > o.pos;
  }
};
}  // namespace

void BpeModel::encodeUncached(std::string_view word, std::vector<int32_t>& out) const {
  if (ignoreMerges) {
    const int32_t whole = byteLevel ? lookup(bytesToByteLevel(word)) : lookup(word);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }

  // 1. Initial symbols: one per byte (byte-level) or per UTF-8 character.
  std::vector<Symbol> sym;  // [n_symbols]
  sym.reserve(word.size());
  auto push = [&](int32_t id, size_t start, size_t len) {
    const auto n = static_cast<int32_t>(sym.size());
    sym.push_back({id, static_cast<uint32_t>(start), static_cast<uint32_t>(len), n - 1, -1});
    if (n > 0) sym[n - 1].next = n;
  };
  bool lastWasUnk = false;
  for (size_t i = 0; i < word.size();) {
    const size_t n = byteLevel ? 1 : utf8CharLen(word, i);
    int32_t id = byteLevel ? m_byteLevelId[static_cast<uint8_t>(word[i])] : lookup(word.substr(i, n));
    if (id >= 0 || mergeByScore) {
      push(id, i, n);  // score mode keeps unknown characters: a longer token may still cover them
      lastWasUnk = false;
    } else {
      bool allBytes = byteFallback;
      for (size_t k = 0; k < n; ++k) allBytes = allBytes && m_byteTokenId[static_cast<uint8_t>(word[i + k])] >= 0;
      if (allBytes) {
        for (size_t k = 0; k < n; ++k) push(m_byteTokenId[static_cast<uint8_t>(word[i + k])], i + k, 1);
        lastWasUnk = false;
      } else if (unkId >= 0) {
        if (fuseUnk && lastWasUnk) {
          sym.back().len += static_cast<uint32_t>(n);
        } else {
          push(unkId, i, n);
        }
        lastWasUnk = true;
      }
    }
    i += n;
  }
  if (sym.empty()) return;

  // 2. Merge loop over a priority queue of adjacent pairs; stale entries are skipped when popped.
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int32_t left) {
    const Symbol& a = sym[left];
    const Symbol& b = sym[a.next];
    if (mergeByScore) {
      const int32_t id = lookup(word.substr(a.start, a.len + b.len));
      if (id >= 0) queue.push({-scores[id], left, id, a.len + b.len});
    } else {
      if (a.id < 0 || b.id < 0) return;
      const auto it = m_pairToMerge.find((static_cast<uint64_t>(a.id) << 32) | static_cast<uint32_t>(b.id));
      if (it != m_pairToMerge.end()) {
        queue.push({static_cast<float>(it->second.rank), left, it->second.newId, a.len + b.len});
      }
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& a = sym[top.pos];
    if (a.len == 0 || a.next < 0) continue;
    Symbol& b = sym[a.next];
    if (mergeByScore) {
      if (a.len + b.len != top.size) continue;
    } else {
      if (a.id < 0 || b.id < 0) continue;
      const auto it = m_pairToMerge.find((static_cast<uint64_t>(a.id) << 32) | static_cast<uint32_t>(b.id));
      if (it == m_pairToMerge.end() || it->second.newId != top.newId) continue;
    }
    a.id = top.newId;
    a.len += b.len;
    b.len = 0;
    a.next = b.next;
    if (a.next >= 0) sym[a.next].prev = top.pos;
    if (a.prev >= 0) consider(a.prev);
    if (a.next >= 0) consider(top.pos);
  }

  // 3. Emit the surviving symbols left to right.
  for (int32_t i = 0; i >= 0; i = sym[i].next) {
    if (sym[i].id >= 0) {
      out.push_back(sym[i].id);
    } else {
      appendUnknown(word.substr(sym[i].start, sym[i].len), out);
    }
  }
}

}  // namespace duo::tok
