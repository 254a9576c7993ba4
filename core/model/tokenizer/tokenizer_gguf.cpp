// SPDX-License-Identifier: GPL-3.0-or-later
// Tokenizer from GGUF metadata (TokenizerSpec, filled from tokenizer.ggml.* by the GGUF reader),
// following llama.cpp's reading of those keys:
//  - "gpt2": byte-level BPE, merges by rank, pre-tokenizer by `tokenizer.ggml.pre`;
//  - "llama": SentencePiece BPE, merges by score, ' ' -> '▁', optional '▁' prefix per text
//    stretch, <0xNN> byte fallback.
// Control (3) and user-defined (4) tokens are matched whole in the text.
#include "core/common/error.h"
#include "core/model/tokenizer/tokenizer.h"
#include "core/model/tokenizer/tokenizer_state.h"

namespace duo {

namespace {
constexpr int32_t kTypeControl = 3;
constexpr int32_t kTypeUserDefined = 4;
const char* const kWho = "GGUF tokenizer";
}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::fromSpec(const TokenizerSpec& spec) {
  const int64_t n = static_cast<int64_t>(spec.tokens.size());
  DUO_CHECK(n > 0, kWho, ": tokenizer.ggml.tokens is empty");
  DUO_CHECK(n <= tok::kMaxVocab, kWho, ": ", n, " tokens, expected at most ", tok::kMaxVocab);
  DUO_CHECK(spec.tokenTypes.empty() || static_cast<int64_t>(spec.tokenTypes.size()) == n, kWho,
            ": tokenizer.ggml.token_type has ", spec.tokenTypes.size(), " entries, expected ", n);
  for (const char* what : {"bos", "eos", "unknown", "padding"}) {
    const int64_t id = what[0] == 'b' ? spec.bosId : what[0] == 'e' ? spec.eosId : what[0] == 'u' ? spec.unkId : spec.padId;
    DUO_CHECK(id >= -1 && id < n, kWho, ": tokenizer.ggml.", what, "_token_id ", id, " outside [0, ", n, ")");
  }

  auto s = std::make_unique<tok::TokenizerState>();
  tok::BpeModel& bpe = s->bpe;
  bpe.idToToken = spec.tokens;

  if (spec.model == "gpt2") {
    bpe.byteLevel = true;
    s->preSteps = tok::preStepsForGgufPre(spec.pre);
    bpe.ignoreMerges = spec.pre == "llama3" || spec.pre == "llama-v3" || spec.pre == "llama-bpe";
    std::unordered_map<std::string, int32_t> ids;
    ids.reserve(spec.tokens.size());
    for (size_t i = 0; i < spec.tokens.size(); ++i) ids.emplace(spec.tokens[i], static_cast<int32_t>(i));
    bpe.merges.reserve(spec.merges.size());
    for (size_t r = 0; r < spec.merges.size(); ++r) {
      const std::string& m = spec.merges[r];
      const size_t sp = m.find(' ', 1);
      DUO_CHECK(sp != std::string::npos, kWho, ": tokenizer.ggml.merges[", r, "] '", m, "': expected 'left right'");
      const auto ia = ids.find(m.substr(0, sp)), ib = ids.find(m.substr(sp + 1));
      DUO_CHECK(ia != ids.end() && ib != ids.end(), kWho, ": tokenizer.ggml.merges[", r, "] '", m, "': a side is not a token");
      bpe.merges.emplace_back(ia->second, ib->second);
    }
    DUO_CHECK(!bpe.merges.empty(), kWho, ": model gpt2 needs tokenizer.ggml.merges");
    s->decodeByteLevel = true;
    s->decodeReplacement = false;
  } else if (spec.model == "llama") {
    DUO_CHECK(static_cast<int64_t>(spec.scores.size()) == n, kWho, ": tokenizer.ggml.scores has ", spec.scores.size(),
              " entries, expected ", n);
    bpe.mergeByScore = true;
    bpe.scores = spec.scores;
    bpe.byteFallback = true;
    bpe.unkId = static_cast<int32_t>(spec.unkId);
    if (spec.addSpacePrefix) {
      tok::NormStep prepend;
      prepend.type = tok::NormStep::Type::Prepend;
      prepend.text = s->replacement;
      s->normalizers.push_back(prepend);
    }
    tok::NormStep replace;
    replace.type = tok::NormStep::Type::Replace;
    replace.text = " ";
    replace.content = s->replacement;
    s->normalizers.push_back(replace);
    s->decodeReplacement = true;
    s->stripLeadingSpaces = spec.addSpacePrefix ? 1 : 0;
  } else {
    fail(kWho, ": tokenizer.ggml.model '", spec.model, "' is not supported (gpt2, llama)");
  }

  // Tokens matched whole in the text.
  for (int64_t id = 0; id < n; ++id) {
    const int32_t type = spec.tokenTypes.empty() ? 1 : spec.tokenTypes[id];
    const bool byRole = spec.tokenTypes.empty() && (id == spec.bosId || id == spec.eosId || id == spec.padId);
    if ((type == kTypeControl || type == kTypeUserDefined || byRole) && !spec.tokens[id].empty()) {
      tok::AddedToken t;
      t.id = static_cast<int32_t>(id);
      t.content = spec.tokens[id];
      t.special = type != kTypeUserDefined;
      s->added.push_back(std::move(t));
    }
  }
  s->bos = static_cast<int32_t>(spec.bosId);
  s->eos = static_cast<int32_t>(spec.eosId);
  s->addBos = spec.addBos;
  s->finalize(kWho);
  return std::make_unique<Tokenizer>(std::move(s));
}

}  // namespace duo
