// SPDX-License-Identifier: GPL-3.0-or-later
// tokenizer.json -> TokenizerSpec (the GGUF form of a tokenizer), for GGUF export.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/json_file.h"
#include "core/model/tokenizer/tokenizer.h"

namespace duo {

namespace {

bool mentionsByteLevel(const nlohmann::json& j) {
  if (j.is_object()) {
    if (j.contains("type") && j["type"] == "ByteLevel") return true;
    for (const auto& [k, v] : j.items())
      if (mentionsByteLevel(v)) return true;
  } else if (j.is_array()) {
    for (const auto& v : j)
      if (mentionsByteLevel(v)) return true;
  }
  return false;
}

// Texts whose splitting tells the pre-tokenizers apart: digit runs, contractions, letters of
// several scripts, whitespace runs, punctuation, newlines.
const char* const kProbes[] = {
    "Hello world! It's 2026, and we've got 1234567 tokens... they'll SEE it.",
    "  indented\tcode(x) = y**2; // comment\n\n\n  end\r\n",
    "na\xC3\xAFve caf\xC3\xA9 \xC3\x84\xC3\x96\xC3\x9C \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x99\x82 \xCE\xB1\xCE\xB2\xCE\xB3",
    "In the beginning God created the heaven and the earth. 3:16 -- 12.5% of $100",
    "a1b22c333d4444 I'M YOU'RE don't isn't   x",
};

}  // namespace

TokenizerSpec tokenizerJsonSpec(const std::string& path) {
  nlohmann::json j = readJsonFile(path);
  DUO_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), path, ": missing object 'model'");
  const nlohmann::json& model = j["model"];
  DUO_CHECK(model.value("type", std::string()) == "BPE", path, ": model.type '", model.value("type", std::string()),
            "' cannot be written to GGUF (BPE can)");
  DUO_CHECK(mentionsByteLevel(j.value("pre_tokenizer", nlohmann::json())) || mentionsByteLevel(j.value("decoder", nlohmann::json())),
            path, ": a SentencePiece-style tokenizer.json: GGUF export needs the model's tokenizer.model");
  const auto source = Tokenizer::fromJsonFile(path);  // validates the whole file

  TokenizerSpec s;
  s.model = "gpt2";
  const int64_t n = source->vocabSize();
  s.tokens.resize(static_cast<size_t>(n));
  s.tokenTypes.assign(static_cast<size_t>(n), 5);  // unused until filled
  for (int64_t id = 0; id < n; ++id) {
    const auto i = static_cast<int32_t>(id);
    const std::string text = source->tokenText(i);
    if (text.empty()) {
      s.tokens[static_cast<size_t>(id)] = "[PAD" + std::to_string(id) + "]";  // llama.cpp's filler
      continue;
    }
    s.tokens[static_cast<size_t>(id)] = text;
    s.tokenTypes[static_cast<size_t>(id)] = source->isSpecial(i) ? 3 : 1;
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& a : j["added_tokens"])
      if (a.is_object() && a.contains("id") && a["id"].is_number_integer() && !a.value("special", false)) {
        const int64_t id = a["id"].get<int64_t>();
        if (id >= 0 && id < n) s.tokenTypes[static_cast<size_t>(id)] = 4;  // user-defined
      }
  DUO_CHECK(model.contains("merges") && model["merges"].is_array(), path, ": model.merges is missing");
  for (const auto& m : model["merges"]) {
    if (m.is_string()) {
      s.merges.push_back(m.get<std::string>());
    } else {
      DUO_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), path,
                ": a merge is neither \"a b\" nor [\"a\", \"b\"]");
      s.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    }
  }
  s.bosId = source->bosId();
  s.eosId = source->eosId();
  s.addBos = source->addsBos();

  // The pre-tokenizer: the first GGUF pre-type whose tokenizer encodes every probe as the file does.
  for (const char* pre : {"default", "smollm", "llama-bpe", "qwen2"}) {
    s.pre = pre;
    const auto candidate = Tokenizer::fromSpec(s);
    bool same = true;
    for (const char* probe : kProbes) same = same && candidate->encode(probe, false) == source->encode(probe, false);
    if (same) return s;
  }
  fail(path, ": its pre-tokenizer splits text like none of the GGUF pre-types we write (default, smollm, llama-bpe, "
       "qwen2), so llama.cpp would tokenize differently");
}

}  // namespace duo
