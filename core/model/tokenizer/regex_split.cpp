// SPDX-License-Identifier: GPL-3.0-or-later
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/model/tokenizer/regex_split.h"

#include <pcre2.h>

#include <algorithm>

#include "core/common/error.h"
#include "core/common/name_table.h"
#include "core/model/tokenizer/unicode_util.h"

namespace duo::tok {

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

// PCRE2's \s under UCP is Z* plus HT/LF/VT/FF/CR; the regex engines HF tokenizers and tiktoken use
// (Oniguruma, Rust regex) take the Unicode White_Space property, which also has U+0085 (NEL).
// Rewrite \s and \S so both sides agree: outside a class \s -> [\s\x{85}], \S -> [^\s\x{85}];
// inside a class \s -> \s\x{85} (\S inside a class is left as is: no pattern we know uses it).
std::string adaptWhitespaceClass(const std::string& p) {
  std::string out;
  out.reserve(p.size() + 16);
  bool inClass = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      if (e == 's') {
        out += inClass ? "\\s\\x{85}" : "[\\s\\x{85}]";
      } else if (e == 'S' && !inClass) {
        out += "[^\\s\\x{85}]";
      } else {
        out += c;
        out += e;
      }
      ++i;
      continue;
    }
    if (c == '[' && !inClass) {
      inClass = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (c == ']' && inClass) inClass = false;
    out += c;
  }
  return out;
}

std::string pcre2Message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

Regex::Regex(const std::string& pattern) : m_pattern(pattern) {
  const std::string adapted = adaptWhitespaceClass(pattern);
  int err = 0;
  PCRE2_SIZE errOffset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(adapted.data()), adapted.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &errOffset, nullptr);
  DUO_CHECK(code != nullptr, "regex '", pattern, "': ", pcre2Message(err), " at offset ", errOffset);
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter is the fallback
  m_code = code;
  pcre2_match_context* ctx = pcre2_match_context_create(nullptr);
  DUO_ASSERT(ctx != nullptr);
  pcre2_set_match_limit(ctx, 10'000'000);  // per match attempt: bounds catastrophic backtracking
  pcre2_set_depth_limit(ctx, 100'000);
  m_context = ctx;
}

Regex::~Regex() {
  pcre2_match_context_free(static_cast<pcre2_match_context*>(m_context));
  pcre2_code_free(static_cast<pcre2_code*>(m_code));
}

std::vector<std::pair<size_t, size_t>> Regex::findAll(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> out;
  auto* code = static_cast<pcre2_code*>(m_code);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  DUO_ASSERT(md != nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start < text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), start, 0, md, static_cast<pcre2_match_context*>(m_context));
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      fail("regex '", m_pattern, "' failed at byte ", start, " of a ", text.size(), "-byte text: ", pcre2Message(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (e <= b) {  // empty match: step over one character
      start = b + utf8CharLen(text, b);
      continue;
    }
    out.emplace_back(b, e);
    start = e;
  }
  pcre2_match_data_free(md);
  return out;
}

constexpr NamedValue<SplitBehavior> kSplitBehaviors[] = {
    {SplitBehavior::Removed, "Removed"},
    {SplitBehavior::Isolated, "Isolated"},
    {SplitBehavior::MergedWithPrevious, "MergedWithPrevious"},
    {SplitBehavior::MergedWithNext, "MergedWithNext"},
    {SplitBehavior::Contiguous, "Contiguous"},
};

const char* splitBehaviorName(SplitBehavior b) { return nameOf(kSplitBehaviors, b); }
SplitBehavior parseSplitBehavior(const std::string& name) { return parseName(kSplitBehaviors, name, "split behavior"); }

void splitByMatches(std::string_view text, const std::vector<std::pair<size_t, size_t>>& matches,
                    SplitBehavior behavior, bool invert, std::vector<std::string>& out) {
  struct Part {
    size_t b, e;
    bool isMatch;
  };
  std::vector<Part> parts;  // covers text in order: gaps and matches
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    if (b > prev) parts.push_back({prev, b, false});
    parts.push_back({b, e, true});
    prev = e;
  }
  if (prev < text.size()) parts.push_back({prev, text.size(), false});
  if (invert) {
    for (auto& p : parts) p.isMatch = !p.isMatch;
  }

  std::vector<std::pair<size_t, size_t>> ranges;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const auto& p : parts) {
        if (!p.isMatch) ranges.emplace_back(p.b, p.e);
      }
      break;
    case SplitBehavior::Isolated:
      for (const auto& p : parts) ranges.emplace_back(p.b, p.e);
      break;
    case SplitBehavior::MergedWithPrevious: {
      // A delimiter joins the piece before it (unless that piece was a delimiter too).
      bool prevMatch = false;
      for (const auto& p : parts) {
        if (p.isMatch && !prevMatch && !ranges.empty()) {
          ranges.back().second = p.e;
        } else {
          ranges.emplace_back(p.b, p.e);
        }
        prevMatch = p.isMatch;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      // Mirror image: walk backwards, a delimiter joins the piece after it.
      bool prevMatch = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->isMatch && !prevMatch && !ranges.empty()) {
          ranges.back().first = it->b;
        } else {
          ranges.emplace_back(it->b, it->e);
        }
        prevMatch = it->isMatch;
      }
      std::reverse(ranges.begin(), ranges.end());
      break;
    }
    case SplitBehavior::Contiguous: {
      // Runs of consecutive delimiters (and of consecutive non-delimiters) become one piece.
      bool prevMatch = false;
      for (const auto& p : parts) {
        if (p.isMatch == prevMatch && !ranges.empty()) {
          ranges.back().second = p.e;
        } else {
          ranges.emplace_back(p.b, p.e);
        }
        prevMatch = p.isMatch;
      }
      break;
    }
  }
  for (const auto& [b, e] : ranges) {
    if (e > b) out.emplace_back(text.substr(b, e - b));
  }
}

namespace {
std::vector<std::pair<size_t, size_t>> findLiteral(std::string_view text, const std::string& needle) {
  std::vector<std::pair<size_t, size_t>> out;
  if (needle.empty()) return out;
  size_t pos = 0;
  while ((pos = text.find(needle, pos)) != std::string_view::npos) {
    out.emplace_back(pos, pos + needle.size());
    pos += needle.size();
  }
  return out;
}
}  // namespace

void applyPreStep(const PreStep& step, std::vector<std::string>& pieces, bool isFirstSegment) {
  std::vector<std::string> out;
  out.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::string& piece = pieces[i];
    switch (step.type) {
      case PreStep::Type::Split: {
        const auto matches = step.patternIsRegex ? step.regex->findAll(piece) : findLiteral(piece, step.pattern);
        splitByMatches(piece, matches, step.behavior, step.invert, out);
        break;
      }
      case PreStep::Type::ByteLevel: {
        if (step.addPrefixSpace && (piece.empty() || piece[0] != ' ')) piece.insert(piece.begin(), ' ');
        if (step.useRegex) {
          splitByMatches(piece, step.regex->findAll(piece), SplitBehavior::Isolated, false, out);
        } else if (!piece.empty()) {
          out.push_back(std::move(piece));
        }
        break;
      }
      case PreStep::Type::Metaspace: {
        std::string s;
        s.reserve(piece.size() + 8);
        for (char c : piece) {
          if (c == ' ') {
            s += step.replacement;
          } else {
            s += c;
          }
        }
        const bool startsWithRep = s.compare(0, step.replacement.size(), step.replacement) == 0;
        const bool prepend = step.prependScheme == "always" || (step.prependScheme == "first" && isFirstSegment && i == 0);
        if (prepend && !startsWithRep) s.insert(0, step.replacement);
        if (step.split) {
          splitByMatches(s, findLiteral(s, step.replacement), SplitBehavior::MergedWithNext, false, out);
        } else if (!s.empty()) {
          out.push_back(std::move(s));
        }
        break;
      }
    }
  }
  pieces.swap(out);
}

PreStep makeRegexSplit(const std::string& pattern, SplitBehavior behavior, bool invert) {
  PreStep s;
  s.type = PreStep::Type::Split;
  s.pattern = pattern;
  s.patternIsRegex = true;
  s.behavior = behavior;
  s.invert = invert;
  s.regex = std::make_shared<Regex>(pattern);
  return s;
}

PreStep makeDigits(bool individual) {
  PreStep s = makeRegexSplit(R"(\p{N})", individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false);
  s.hfType = "Digits";
  s.individualDigits = individual;
  return s;
}

PreStep makeByteLevel(bool addPrefixSpace, bool useRegex) {
  PreStep s;
  s.type = PreStep::Type::ByteLevel;
  s.addPrefixSpace = addPrefixSpace;
  s.useRegex = useRegex;
  if (useRegex) {
    s.pattern = kGpt2Pattern;
    s.regex = std::make_shared<Regex>(kGpt2Pattern);
  }
  return s;
}

std::vector<PreStep> preStepsForGgufPre(const std::string& pre) {
  // Names as llama.cpp's convert script writes them to tokenizer.ggml.pre.
  if (pre == "default" || pre == "gpt2" || pre == "gpt-2" || pre.empty()) return {makeByteLevel(false, true)};
  if (pre == "smollm" || pre == "starcoder" || pre == "refact" || pre == "codeshell") {
    return {makeDigits(true), makeByteLevel(false, true)};
  }
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe") {
    return {makeRegexSplit(kLlama3Pattern, SplitBehavior::Isolated, false), makeByteLevel(false, false)};
  }
  if (pre == "qwen2") return {makeRegexSplit(kQwen2Pattern, SplitBehavior::Isolated, false), makeByteLevel(false, false)};
  fail("tokenizer.ggml.pre: unsupported pre-tokenizer '", pre,
       "' (supported: default, gpt2, gpt-2, smollm, starcoder, refact, codeshell, llama3, llama-bpe, qwen2)");
}

}  // namespace duo::tok
