// SPDX-License-Identifier: GPL-3.0-or-later
// Encoding and decoding; the loaders live in tokenizer_json.cpp / tokenizer_gguf.cpp.
#include "core/model/tokenizer/tokenizer.h"

#include <algorithm>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/tokenizer/tokenizer_state.h"
#include "core/model/tokenizer/unicode_util.h"

namespace duo {

namespace tok {

void TokenizerState::finalize(const std::string& who) {
  bpe.finalize();
  int64_t n = static_cast<int64_t>(bpe.idToToken.size());
  for (const auto& a : added) n = std::max<int64_t>(n, a.id + 1);
  DUO_CHECK(n > 0, who, ": the vocabulary is empty");
  DUO_CHECK(n <= kMaxVocab, who, ": vocabulary of ", n, " ids, expected at most ", kMaxVocab);
  vocabSize = n;
  addedIndexById.assign(static_cast<size_t>(n), -1);
  for (auto& list : addedByFirstByte) list.clear();
  for (size_t i = 0; i < added.size(); ++i) {
    const AddedToken& a = added[i];
    DUO_CHECK(a.id >= 0, who, ": added token '", a.content, "' has id ", a.id);
    DUO_CHECK(!a.content.empty(), who, ": added token ", a.id, " has empty content");
    addedIndexById[a.id] = static_cast<int32_t>(i);
    addedByFirstByte[static_cast<uint8_t>(a.content[0])].push_back(static_cast<int32_t>(i));
  }
  for (auto& list : addedByFirstByte) {
    std::stable_sort(list.begin(), list.end(), [&](int32_t x, int32_t y) {
      return added[x].content.size() > added[y].content.size();  // longest match first
    });
  }
  DUO_CHECK(bos >= -1 && bos < n, who, ": BOS id ", bos, " outside the vocabulary [0, ", n, ")");
  DUO_CHECK(eos >= -1 && eos < n, who, ": EOS id ", eos, " outside the vocabulary [0, ", n, ")");
  if (bos < 0) addBos = false;
}

}  // namespace tok

using tok::TokenizerState;

Tokenizer::Tokenizer(std::unique_ptr<TokenizerState> state) : m_state(std::move(state)) {
  DUO_ASSERT(m_state != nullptr);
}
Tokenizer::~Tokenizer() = default;

namespace {
bool isAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool isWordByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || u >= 0x80;
}
}  // namespace

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool addBos) const {
  const TokenizerState& s = *m_state;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (addBos && s.bos >= 0) out.push_back(s.bos);

  // Cut the text at added tokens (leftmost, longest first); encode the stretches between them.
  size_t segStart = 0;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto& candidates = s.addedByFirstByte[static_cast<uint8_t>(text[i])];
    const tok::AddedToken* hit = nullptr;
    for (int32_t idx : candidates) {
      const tok::AddedToken& a = s.added[idx];
      if (text.compare(i, a.content.size(), a.content) != 0) continue;
      if (a.singleWord) {
        const bool wordBefore = i > 0 && isWordByte(text[i - 1]);
        const size_t e = i + a.content.size();
        const bool wordAfter = e < n && isWordByte(text[e]);
        if (wordBefore || wordAfter) continue;
      }
      hit = &a;
      break;
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    size_t b = i, e = i + hit->content.size();
    if (hit->lstrip) {
      while (b > segStart && isAsciiSpace(text[b - 1])) --b;
    }
    if (hit->rstrip) {
      while (e < n && isAsciiSpace(text[e])) ++e;
    }
    if (b > segStart) encodeSegment(text.substr(segStart, b - segStart), segStart == 0, out);
    out.push_back(hit->id);
    segStart = i = e;
  }
  if (segStart < n) encodeSegment(text.substr(segStart), segStart == 0, out);
  return out;
}

void Tokenizer::encodeSegment(const std::string& segment, bool isFirstSegment, std::vector<int32_t>& out) const {
  const TokenizerState& s = *m_state;
  std::string text = segment;
  for (const tok::NormStep& step : s.normalizers) {
    switch (step.type) {
      case tok::NormStep::Type::Prepend:
        if (!text.empty()) text.insert(0, step.text);
        break;
      case tok::NormStep::Type::Replace: {
        std::vector<std::pair<size_t, size_t>> matches;
        if (step.regex) {
          matches = step.regex->findAll(text);
        } else if (!step.text.empty()) {
          for (size_t p = text.find(step.text); p != std::string::npos; p = text.find(step.text, p + step.text.size())) {
            matches.emplace_back(p, p + step.text.size());
          }
        }
        if (matches.empty()) break;
        std::string replaced;
        replaced.reserve(text.size() + matches.size() * step.content.size());
        size_t prev = 0;
        for (const auto& [b, e] : matches) {
          replaced.append(text, prev, b - prev);
          replaced += step.content;
          prev = e;
        }
        replaced.append(text, prev, std::string::npos);
        text.swap(replaced);
        break;
      }
      case tok::NormStep::Type::Nfc:
        break;  // text is taken as already NFC (see tokenizer_json.cpp)
    }
  }
  if (text.empty()) return;
  std::vector<std::string> pieces;
  pieces.push_back(std::move(text));
  for (const tok::PreStep& step : s.preSteps) tok::applyPreStep(step, pieces, isFirstSegment);
  for (const std::string& piece : pieces) s.bpe.encodeWord(piece, out);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skipSpecial) const {
  const TokenizerState& s = *m_state;
  std::string out;
  for (int32_t id : ids) {
    DUO_CHECK(id >= 0 && id < s.vocabSize, "decode: token id ", id, " outside the vocabulary [0, ", s.vocabSize, ")");
    if (const tok::AddedToken* a = s.addedFor(id)) {
      if (!(skipSpecial && a->special)) out += a->content;
      continue;
    }
    if (id >= static_cast<int32_t>(s.bpe.idToToken.size())) continue;  // a hole: decodes to nothing
    const std::string& t = s.bpe.idToToken[id];
    if (s.decodeByteLevel) {
      out += tok::byteLevelToBytes(t);
      continue;
    }
    const int byteValue = tok::byteTokenValue(t);
    if (byteValue >= 0) {
      out += static_cast<char>(byteValue);
      continue;
    }
    if (s.decodeReplacement && !s.replacement.empty()) {
      for (size_t p = 0; p < t.size();) {
        if (t.compare(p, s.replacement.size(), s.replacement) == 0) {
          out += ' ';
          p += s.replacement.size();
        } else {
          out += t[p++];
        }
      }
    } else {
      out += t;
    }
  }
  size_t strip = 0;
  while (strip < static_cast<size_t>(s.stripLeadingSpaces) && strip < out.size() && out[strip] == ' ') ++strip;
  out.erase(0, strip);
  return out;
}

std::string Tokenizer::tokenText(int32_t id) const {
  const TokenizerState& s = *m_state;
  DUO_CHECK(id >= 0 && id < s.vocabSize, "tokenText: token id ", id, " outside the vocabulary [0, ", s.vocabSize, ")");
  if (const tok::AddedToken* a = s.addedFor(id)) return a->content;
  return id < static_cast<int32_t>(s.bpe.idToToken.size()) ? s.bpe.idToToken[id] : std::string();
}

std::string Tokenizer::tokenBytes(int32_t id) const {
  const TokenizerState& s = *m_state;
  DUO_CHECK(id >= 0 && id < s.vocabSize, "tokenBytes: token id ", id, " outside the vocabulary [0, ", s.vocabSize, ")");
  if (const tok::AddedToken* a = s.addedFor(id)) return a->content;
  if (id >= static_cast<int32_t>(s.bpe.idToToken.size())) return {};
  const std::string& t = s.bpe.idToToken[id];
  if (s.decodeByteLevel) return tok::byteLevelToBytes(t);
  const int byteValue = tok::byteTokenValue(t);
  if (byteValue >= 0) return std::string(1, static_cast<char>(byteValue));
  std::string out;
  for (size_t p = 0; p < t.size();) {
    if (s.decodeReplacement && !s.replacement.empty() && t.compare(p, s.replacement.size(), s.replacement) == 0) {
      out += ' ';
      p += s.replacement.size();
    } else {
      out += t[p++];
    }
  }
  return out;
}

int32_t Tokenizer::tokenId(const std::string& text) const {
  for (const auto& a : m_state->added) {
    if (a.content == text) return a.id;
  }
  return m_state->bpe.lookup(text);
}

bool Tokenizer::isSpecial(int32_t id) const {
  const tok::AddedToken* a = m_state->addedFor(id);
  return a != nullptr && a->special;
}

int64_t Tokenizer::vocabSize() const { return m_state->vocabSize; }
int32_t Tokenizer::bosId() const { return m_state->bos; }
int32_t Tokenizer::eosId() const { return m_state->eos; }
bool Tokenizer::addsBos() const { return m_state->addBos && m_state->bos >= 0; }
std::string Tokenizer::kind() const { return m_state->bpe.byteLevel ? "bpe-bytelevel" : "spm"; }

void Tokenizer::setSpecialIds(int32_t bos, int32_t eos) {
  const int64_t n = m_state->vocabSize;
  DUO_CHECK(bos >= -1 && bos < n, "tokenizer: BOS id ", bos, " outside the vocabulary [0, ", n, ")");
  DUO_CHECK(eos >= -1 && eos < n, "tokenizer: EOS id ", eos, " outside the vocabulary [0, ", n, ")");
  if (bos >= 0) m_state->bos = bos;
  if (eos >= 0) m_state->eos = eos;
}

void Tokenizer::setAddsBos(bool addBos) { m_state->addBos = addBos; }

void Tokenizer::saveTokenizerJson(const std::string& path) const {
  const std::string json = toJsonString();
  writeFileAtomic(path, json);
}

}  // namespace duo
