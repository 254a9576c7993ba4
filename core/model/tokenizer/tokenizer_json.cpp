// SPDX-License-Identifier: GPL-3.0-or-later
// HF tokenizer.json: reading (fromJsonString / fromJsonFile) and writing (toJsonString).
// Supported: model BPE; normalizers Prepend, Replace, NFC (taken as identity), Sequence;
// pre-tokenizers ByteLevel, Split, Digits, Metaspace, Sequence; post-processors
// TemplateProcessing (BOS in front), ByteLevel, Sequence; decoders ByteLevel, Replace,
// ByteFallback, Fuse, Strip, Metaspace, Sequence. Anything else is refused by name.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <unordered_set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/json_file.h"
#include "core/model/tokenizer/tokenizer.h"
#include "core/model/tokenizer/tokenizer_state.h"
#include "core/model/tokenizer/unicode_util.h"

namespace duo {

using nlohmann::json;
using tok::TokenizerState;

namespace {

constexpr int kMaxNesting = 16;  // Sequence inside Sequence ... (guards recursion on hostile files)

// Reader context: names the file and the JSON path in every message.
struct Reader {
  std::string file;

  [[noreturn]] void bad(const std::string& where, const std::string& what) const { fail(file, ": ", where, ": ", what); }

  const json& member(const json& obj, const std::string& where, const char* key) const {
    if (!obj.is_object()) bad(where, "expected an object");
    const auto it = obj.find(key);
    if (it == obj.end()) bad(where, std::string("missing '") + key + "'");
    return *it;
  }
  std::string str(const json& obj, const std::string& where, const char* key) const {
    const json& v = member(obj, where, key);
    if (!v.is_string()) bad(where + "." + key, "expected a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
  }
  std::string optStr(const json& obj, const std::string& where, const char* key, const std::string& def) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return def;
    if (!it->is_string()) bad(where + "." + key, "expected a string, got " + std::string(it->type_name()));
    return it->get<std::string>();
  }
  bool optBool(const json& obj, const std::string& where, const char* key, bool def) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return def;
    if (!it->is_boolean()) bad(where + "." + key, "expected true/false, got " + std::string(it->type_name()));
    return it->get<bool>();
  }
  int64_t id(const json& v, const std::string& where) const {
    if (!v.is_number_integer()) bad(where, "expected an integer id, got " + std::string(v.type_name()));
    const int64_t x = v.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), tok::kMaxVocab))
                                             : v.get<int64_t>();
    if (x < 0 || x >= tok::kMaxVocab) bad(where, "id " + std::to_string(x) + " outside [0, " + std::to_string(tok::kMaxVocab) + ")");
    return x;
  }
  std::string type(const json& obj, const std::string& where) const { return str(obj, where, "type"); }
  // A Split/Replace pattern: {"String": "..."} or {"Regex": "..."}.
  std::pair<std::string, bool> pattern(const json& obj, const std::string& where) const {
    const json& p = member(obj, where, "pattern");
    if (p.is_object() && p.contains("String") && p["String"].is_string()) return {p["String"].get<std::string>(), false};
    if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) return {p["Regex"].get<std::string>(), true};
    bad(where + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
  }
};

// One stage of the pipeline (normalizer, pre_tokenizer, decoder, post_processor) at `where`: a
// component, or a Sequence of stages under the array `listKey`, nested at most kMaxNesting deep.
// step(component, its where, its type) reads each component that is not a Sequence.
template <class Step>
void readStage(const Reader& r, const json& obj, const std::string& where, const char* listKey, const Step& step,
               int depth = 0) {
  if (depth > kMaxNesting) r.bad(where, "nested too deeply");
  const std::string t = r.type(obj, where);
  if (t != "Sequence") return step(obj, where, t);
  const json& list = r.member(obj, where, listKey);
  if (!list.is_array()) r.bad(where + "." + listKey, "expected an array");
  for (size_t i = 0; i < list.size(); ++i)
    readStage(r, list[i], where + "." + listKey + "[" + std::to_string(i) + "]", listKey, step, depth + 1);
}

// The components of each stage (Sequence is readStage's): one function per stage, given the type.
void readNormalizer(const Reader& r, const json& n, const std::string& where, const std::string& t, TokenizerState& s) {
  if (t == "Prepend") {
    tok::NormStep step;
    step.type = tok::NormStep::Type::Prepend;
    step.text = r.str(n, where, "prepend");
    s.normalizers.push_back(std::move(step));
  } else if (t == "Replace") {
    tok::NormStep step;
    step.type = tok::NormStep::Type::Replace;
    const auto [pat, isRegex] = r.pattern(n, where);
    step.text = pat;
    step.content = r.str(n, where, "content");
    if (isRegex) step.regex = std::make_shared<tok::Regex>(pat);
    s.normalizers.push_back(std::move(step));
  } else if (t == "NFC") {
    // Unicode NFC is taken as identity: input text is expected to be NFC already (as virtually
    // all stored text is). Decomposed input would tokenise differently from HF.
    tok::NormStep step;
    step.type = tok::NormStep::Type::Nfc;
    s.normalizers.push_back(std::move(step));
  } else {
    r.bad(where, "normalizer type '" + t + "' is not supported (Prepend, Replace, NFC, Sequence)");
  }
}

void readPreTokenizer(const Reader& r, const json& p, const std::string& where, const std::string& t, TokenizerState& s) {
  if (!s.preSteps.empty() && s.preSteps.back().type == tok::PreStep::Type::ByteLevel) {
    r.bad(where, "a pre-tokenizer after ByteLevel is not supported (ByteLevel must come last)");
  }
  if (t == "ByteLevel") {
    s.preSteps.push_back(tok::makeByteLevel(r.optBool(p, where, "add_prefix_space", true), r.optBool(p, where, "use_regex", true)));
    s.preSteps.back().trimOffsets = r.optBool(p, where, "trim_offsets", true);
    s.bpe.byteLevel = true;
  } else if (t == "Split") {
    const auto [pat, isRegex] = r.pattern(p, where);
    const tok::SplitBehavior behavior = [&] {
      try {
        return tok::parseSplitBehavior(r.str(p, where, "behavior"));
      } catch (const Error& e) {
        r.bad(where, e.what());
      }
    }();
    const bool invert = r.optBool(p, where, "invert", false);
    if (isRegex) {
      s.preSteps.push_back(tok::makeRegexSplit(pat, behavior, invert));
    } else {
      tok::PreStep step;
      step.type = tok::PreStep::Type::Split;
      step.pattern = pat;
      step.patternIsRegex = false;
      step.behavior = behavior;
      step.invert = invert;
      s.preSteps.push_back(std::move(step));
    }
  } else if (t == "Digits") {
    s.preSteps.push_back(tok::makeDigits(r.optBool(p, where, "individual_digits", false)));
  } else if (t == "Metaspace") {
    tok::PreStep step;
    step.type = tok::PreStep::Type::Metaspace;
    step.replacement = r.optStr(p, where, "replacement", "\xE2\x96\x81");
    if (step.replacement.empty() || tok::utf8CharLen(step.replacement, 0) != step.replacement.size()) {
      r.bad(where + ".replacement", "expected one character");
    }
    if (p.contains("prepend_scheme")) {
      step.prependScheme = r.str(p, where, "prepend_scheme");
      if (step.prependScheme != "always" && step.prependScheme != "first" && step.prependScheme != "never") {
        r.bad(where + ".prepend_scheme", "expected always|first|never, got '" + step.prependScheme + "'");
      }
    } else {
      step.prependScheme = r.optBool(p, where, "add_prefix_space", true) ? "always" : "never";
    }
    step.split = r.optBool(p, where, "split", true);
    s.replacement = step.replacement;
    s.preSteps.push_back(std::move(step));
  } else {
    r.bad(where, "pre-tokenizer type '" + t + "' is not supported (ByteLevel, Split, Digits, Metaspace, Sequence)");
  }
}

void readDecoder(const Reader& r, const json& d, const std::string& where, const std::string& t, TokenizerState& s) {
  if (t == "ByteLevel") {
    s.decodeByteLevel = true;
  } else if (t == "Replace") {
    const auto [pat, isRegex] = r.pattern(d, where);
    const std::string content = r.str(d, where, "content");
    if (isRegex || content != " ") r.bad(where, "only Replace(<one character>, \" \") is supported as a decoder");
    s.replacement = pat;
    s.decodeReplacement = true;
  } else if (t == "Metaspace") {
    s.replacement = r.optStr(d, where, "replacement", "\xE2\x96\x81");
    s.decodeReplacement = true;
    const std::string scheme = d.contains("prepend_scheme") ? r.str(d, where, "prepend_scheme")
                               : (r.optBool(d, where, "add_prefix_space", true) ? "always" : "never");
    if (scheme != "never") s.stripLeadingSpaces = std::max(s.stripLeadingSpaces, 1);
  } else if (t == "Strip") {
    const std::string content = r.str(d, where, "content");
    if (content != " ") r.bad(where + ".content", "only ' ' is supported");
    const json& start = r.member(d, where, "start");
    if (!start.is_number_integer() || start.get<int64_t>() < 0 || start.get<int64_t>() > 64) r.bad(where + ".start", "expected 0..64");
    s.stripLeadingSpaces = static_cast<int>(start.get<int64_t>());
  } else if (t == "ByteFallback" || t == "Fuse") {
    // ByteFallback: <0xNN> tokens decode to their byte (always on); Fuse: joining is implicit.
  } else {
    r.bad(where, "decoder type '" + t + "' is not supported (ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence)");
  }
}

void readPostProcessor(const Reader& r, const json& p, const std::string& where, const std::string& t, TokenizerState& s) {
  if (t == "ByteLevel") {
    // Only adjusts offsets: ids are unchanged.
  } else if (t == "TemplateProcessing") {
    // A special token in front of $A is the BOS the model expects.
    const json& single = r.member(p, where, "single");
    if (!single.is_array()) r.bad(where + ".single", "expected an array");
    if (!single.empty() && single[0].is_object() && single[0].contains("SpecialToken")) {
      const json& st = single[0]["SpecialToken"];
      const std::string name = r.str(st, where + ".single[0].SpecialToken", "id");
      const json& table = r.member(p, where, "special_tokens");
      const json& entry = r.member(table, where + ".special_tokens", name.c_str());
      const json& ids = r.member(entry, where + ".special_tokens." + name, "ids");
      if (!ids.is_array() || ids.size() != 1) r.bad(where + ".special_tokens." + name + ".ids", "expected exactly one id");
      s.bos = static_cast<int32_t>(r.id(ids[0], where + ".special_tokens." + name + ".ids[0]"));
      s.addBos = true;
    }
  } else {
    r.bad(where, "post-processor type '" + t + "' is not supported (TemplateProcessing, ByteLevel, Sequence)");
  }
}

// BOS/EOS by conventional names when no post-processor or tokenizer_config.json says.
void guessSpecialIds(TokenizerState& s) {
  auto find = [&](std::initializer_list<const char*> names) -> int32_t {
    for (const char* name : names) {
      for (const auto& a : s.added) {
        if (a.content == name) return a.id;
      }
    }
    return -1;
  };
  if (s.bos < 0) s.bos = find({"<s>", "<|begin_of_text|>", "<|bos|>", "<|startoftext|>", "<bos>"});
  if (s.eos < 0) s.eos = find({"</s>", "<|end_of_text|>", "<|eos|>", "<|endoftext|>", "<eos>", "<|im_end|>"});
}

std::unique_ptr<TokenizerState> parseTokenizerJson(const std::string& text, const std::string& name) {
  const Reader r{name};
  const json j = parseJson(text, name);
  if (!j.is_object()) r.bad("top level", "expected an object");
  auto s = std::make_unique<TokenizerState>();
  s->decodeReplacement = false;

  // --- model ---
  const json& model = r.member(j, "top level", "model");
  if (!model.is_object()) r.bad("model", "expected an object");
  const std::string type = r.optStr(model, "model", "type", model.contains("merges") ? "BPE" : "");
  if (type != "BPE") r.bad("model.type", "model type '" + type + "' is not supported (only BPE)");
  const json& vocab = r.member(model, "model", "vocab");
  if (!vocab.is_object()) r.bad("model.vocab", "expected an object {token: id}");
  if (!model.contains("merges")) r.bad("model", "missing 'merges'");
  const json& merges = model["merges"];
  if (!merges.is_array()) r.bad("model.merges", "expected an array");
  if (!r.optStr(model, "model", "continuing_subword_prefix", "").empty() ||
      !r.optStr(model, "model", "end_of_word_suffix", "").empty()) {
    r.bad("model", "continuing_subword_prefix / end_of_word_suffix are not supported");
  }
  tok::BpeModel& bpe = s->bpe;
  bpe.byteFallback = r.optBool(model, "model", "byte_fallback", false);
  bpe.fuseUnk = r.optBool(model, "model", "fuse_unk", false);
  bpe.ignoreMerges = r.optBool(model, "model", "ignore_merges", false);
  if (vocab.size() > static_cast<size_t>(tok::kMaxVocab)) r.bad("model.vocab", "more than 2^24 entries");
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const int64_t id = r.id(it.value(), "model.vocab['" + it.key() + "']");
    if (it.key().empty()) r.bad("model.vocab", "empty token string");
    // Ids may leave holes, but not so many that a tiny file claims a huge table.
    if (id >= static_cast<int64_t>(vocab.size()) + 65536) {
      r.bad("model.vocab['" + it.key() + "']", "id " + std::to_string(id) + " far beyond the " + std::to_string(vocab.size()) + " entries");
    }
    if (bpe.idToToken.size() <= static_cast<size_t>(id)) bpe.idToToken.resize(id + 1);
    if (!bpe.idToToken[id].empty()) r.bad("model.vocab['" + it.key() + "']", "id " + std::to_string(id) + " is also used by '" + bpe.idToToken[id] + "'");
    bpe.idToToken[id] = it.key();
  }
  // Look-ups for merge parsing (finalize() builds the real table later).
  std::unordered_map<std::string, int32_t> ids;
  ids.reserve(bpe.idToToken.size());
  for (size_t i = 0; i < bpe.idToToken.size(); ++i) {
    if (!bpe.idToToken[i].empty()) ids.emplace(bpe.idToToken[i], static_cast<int32_t>(i));
  }
  const std::string unk = r.optStr(model, "model", "unk_token", "");
  if (!unk.empty()) {
    const auto it = ids.find(unk);
    if (it == ids.end()) r.bad("model.unk_token", "'" + unk + "' is not in the vocabulary");
    bpe.unkId = it->second;
  }
  bpe.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    const std::string where = "model.merges[" + std::to_string(i) + "]";
    std::string a, b;
    if (m.is_string()) {  // "left right"
      const std::string ms = m.get<std::string>();
      const size_t sp = ms.find(' ', 1);
      if (sp == std::string::npos || ms.find(' ', sp + 1) != std::string::npos) r.bad(where, "expected 'left right', got '" + ms + "'");
      a = ms.substr(0, sp);
      b = ms.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["left", "right"]
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      r.bad(where, "expected \"left right\" or [\"left\", \"right\"]");
    }
    const auto ia = ids.find(a), ib = ids.find(b);
    if (ia == ids.end()) r.bad(where, "'" + a + "' is not in the vocabulary");
    if (ib == ids.end()) r.bad(where, "'" + b + "' is not in the vocabulary");
    if (ids.find(a + b) == ids.end()) r.bad(where, "the merged token '" + a + b + "' is not in the vocabulary");
    bpe.merges.emplace_back(ia->second, ib->second);
  }

  // --- added tokens ---
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    const json& list = j["added_tokens"];
    if (!list.is_array()) r.bad("added_tokens", "expected an array");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      const json& a = list[i];
      tok::AddedToken t;
      t.id = static_cast<int32_t>(r.id(r.member(a, where, "id"), where + ".id"));
      if (t.id >= static_cast<int64_t>(vocab.size()) + 65536) r.bad(where + ".id", "far beyond the vocabulary");
      t.content = r.str(a, where, "content");
      if (t.content.empty()) r.bad(where + ".content", "empty");
      t.special = r.optBool(a, where, "special", false);
      t.lstrip = r.optBool(a, where, "lstrip", false);
      t.rstrip = r.optBool(a, where, "rstrip", false);
      t.singleWord = r.optBool(a, where, "single_word", false);
      t.normalized = r.optBool(a, where, "normalized", !t.special);
      for (const auto& other : s->added) {
        if (other.id == t.id) r.bad(where + ".id", "id " + std::to_string(t.id) + " used twice");
      }
      s->added.push_back(std::move(t));
    }
    std::sort(s->added.begin(), s->added.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
  }

  // --- pipeline ---
  try {
    auto stage = [&](const char* key, const char* listKey, auto read) {
      if (!j.contains(key) || j[key].is_null()) return;
      readStage(r, j[key], key, listKey, [&](const json& c, const std::string& w, const std::string& t) { read(r, c, w, t, *s); });
    };
    stage("normalizer", "normalizers", readNormalizer);
    stage("pre_tokenizer", "pretokenizers", readPreTokenizer);
    stage("decoder", "decoders", readDecoder);
    stage("post_processor", "processors", readPostProcessor);
  } catch (const Cancelled&) {
    throw;
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(name, 0) == 0) throw;
    fail(name, ": ", msg);  // e.g. a regex that PCRE2 refuses
  }
  if (!s->decodeByteLevel && !s->decodeReplacement && !s->bpe.byteLevel) {
    // No decoder given for a character-level BPE: show '▁' as a space, as SentencePiece does.
    s->decodeReplacement = true;
  }
  guessSpecialIds(*s);
  try {
    s->finalize(name);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(name, 0) == 0) throw;
    fail(name, ": ", msg);
  }
  return s;
}

// tokenizer_config.json beside tokenizer.json: bos_token / eos_token (string or {content}) and
// add_bos_token override the guesses.
void applyTokenizerConfig(const std::string& path, Tokenizer& t) {
  const json j = readJsonFile(path);
  if (!j.is_object()) fail(path, ": expected an object");
  auto tokenOf = [&](const char* key) -> int32_t {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return -1;
    std::string content;
    if (it->is_string()) {
      content = it->get<std::string>();
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      content = (*it)["content"].get<std::string>();
    } else {
      fail(path, ": ", key, ": expected a string or {\"content\": ...}");
    }
    const int32_t id = t.tokenId(content);
    DUO_CHECK(id >= 0, path, ": ", key, " '", content, "' is not a token of the tokenizer");
    return id;
  };
  t.setSpecialIds(tokenOf("bos_token"), tokenOf("eos_token"));
  const auto it = j.find("add_bos_token");
  if (it != j.end() && it->is_boolean()) t.setAddsBos(it->get<bool>());
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::fromJsonString(const std::string& json, const std::string& nameForErrors) {
  return std::make_unique<Tokenizer>(parseTokenizerJson(json, nameForErrors));
}

std::unique_ptr<Tokenizer> Tokenizer::fromJsonFile(const std::string& path) {
  auto t = fromJsonString(readFile(path), path);
  const std::filesystem::path config = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(config, ec)) applyTokenizerConfig(config.string(), *t);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Writing

namespace {

using ojson = nlohmann::ordered_json;

ojson patternJson(const std::string& p, bool isRegex) { return ojson{{isRegex ? "Regex" : "String", p}}; }

ojson preStepJson(const tok::PreStep& p) {
  switch (p.type) {
    case tok::PreStep::Type::ByteLevel:
      return ojson{{"type", "ByteLevel"}, {"add_prefix_space", p.addPrefixSpace}, {"trim_offsets", p.trimOffsets}, {"use_regex", p.useRegex}};
    case tok::PreStep::Type::Metaspace:
      return ojson{{"type", "Metaspace"}, {"replacement", p.replacement}, {"prepend_scheme", p.prependScheme}, {"split", p.split}};
    case tok::PreStep::Type::Split:
      if (p.hfType == "Digits") return ojson{{"type", "Digits"}, {"individual_digits", p.individualDigits}};
      return ojson{{"type", "Split"}, {"pattern", patternJson(p.pattern, p.patternIsRegex)},
                   {"behavior", tok::splitBehaviorName(p.behavior)}, {"invert", p.invert}};
  }
  return nullptr;
}

ojson normStepJson(const tok::NormStep& n) {
  switch (n.type) {
    case tok::NormStep::Type::Prepend: return ojson{{"type", "Prepend"}, {"prepend", n.text}};
    case tok::NormStep::Type::Replace:
      return ojson{{"type", "Replace"}, {"pattern", patternJson(n.text, n.regex != nullptr)}, {"content", n.content}};
    case tok::NormStep::Type::Nfc: return ojson{{"type", "NFC"}};
  }
  return nullptr;
}

}  // namespace

std::string Tokenizer::toJsonString() const {
  const TokenizerState& s = *m_state;
  const tok::BpeModel& bpe = s.bpe;
  DUO_CHECK(!bpe.mergeByScore, "tokenizer.json: this tokenizer merges by score (GGUF llama) and has no merge list to write");

  ojson j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  ojson added = ojson::array();
  for (const auto& a : s.added) {
    added.push_back(ojson{{"id", a.id}, {"content", a.content}, {"single_word", a.singleWord}, {"lstrip", a.lstrip},
                          {"rstrip", a.rstrip}, {"normalized", a.normalized}, {"special", a.special}});
  }
  j["added_tokens"] = added;

  auto sequenceOr = [](ojson list, const char* key) -> ojson {
    if (list.empty()) return nullptr;
    if (list.size() == 1) return list[0];
    return ojson{{"type", "Sequence"}, {key, list}};
  };
  ojson norms = ojson::array();
  for (const auto& n : s.normalizers) norms.push_back(normStepJson(n));
  j["normalizer"] = sequenceOr(norms, "normalizers");
  ojson pres = ojson::array();
  for (const auto& p : s.preSteps) pres.push_back(preStepJson(p));
  j["pre_tokenizer"] = sequenceOr(pres, "pretokenizers");

  if (s.addBos && s.bos >= 0) {
    const std::string bosText = tokenText(s.bos);
    auto special = [&](int typeId) { return ojson{{"SpecialToken", {{"id", bosText}, {"type_id", typeId}}}}; };
    auto seq = [](const char* id, int typeId) { return ojson{{"Sequence", {{"id", id}, {"type_id", typeId}}}}; };
    j["post_processor"] = ojson{
        {"type", "TemplateProcessing"},
        {"single", ojson::array({special(0), seq("A", 0)})},
        {"pair", ojson::array({special(0), seq("A", 0), special(1), seq("B", 1)})},
        {"special_tokens", {{bosText, {{"id", bosText}, {"ids", ojson::array({s.bos})}, {"tokens", ojson::array({bosText})}}}}}};
  } else if (s.decodeByteLevel) {
    j["post_processor"] = ojson{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  } else {
    j["post_processor"] = nullptr;
  }

  if (s.decodeByteLevel) {
    j["decoder"] = ojson{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  } else {
    ojson decs = ojson::array();
    if (s.decodeReplacement) decs.push_back(ojson{{"type", "Replace"}, {"pattern", patternJson(s.replacement, false)}, {"content", " "}});
    decs.push_back(ojson{{"type", "ByteFallback"}});
    decs.push_back(ojson{{"type", "Fuse"}});
    if (s.stripLeadingSpaces > 0) decs.push_back(ojson{{"type", "Strip"}, {"content", " "}, {"start", s.stripLeadingSpaces}, {"stop", 0}});
    j["decoder"] = sequenceOr(decs, "decoders");
  }

  ojson model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = bpe.unkId >= 0 ? ojson(bpe.idToToken[bpe.unkId]) : ojson(nullptr);
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = bpe.fuseUnk;
  model["byte_fallback"] = bpe.byteFallback;
  model["ignore_merges"] = bpe.ignoreMerges;
  // ordered_json looks keys up linearly: append to its underlying vector instead (ids are unique
  // strings here, checked with a hash set), so 50k entries stay linear.
  ojson vocab = ojson::object();
  auto& entries = vocab.get_ref<ojson::object_t&>();
  entries.reserve(bpe.idToToken.size());
  std::unordered_set<std::string_view> seen;
  for (size_t id = 0; id < bpe.idToToken.size(); ++id) {
    const std::string& t = bpe.idToToken[id];
    if (!t.empty() && seen.insert(t).second) entries.emplace_back(t, ojson(id));
  }
  model["vocab"] = std::move(vocab);
  ojson merges = ojson::array();
  for (const auto& [a, b] : bpe.merges) {
    const std::string& l = bpe.idToToken[a];
    const std::string& r = bpe.idToToken[b];
    // "left right" when unambiguous (readable, and what older loaders expect), else a pair.
    if (l.find(' ') == std::string::npos && r.find(' ') == std::string::npos) {
      merges.push_back(l + " " + r);
    } else {
      merges.push_back(ojson::array({l, r}));
    }
  }
  model["merges"] = std::move(merges);
  j["model"] = std::move(model);
  try {
    return j.dump(1) + "\n";
  } catch (const ojson::exception& e) {
    fail("tokenizer.json: cannot serialise: ", e.what());
  }
}

}  // namespace duo
