// SPDX-License-Identifier: GPL-3.0-or-later
// Pre-tokenizers: the steps that cut normalised text into the pieces BPE sees. Regex steps run on
// PCRE2 (UTF + Unicode properties) so that \p{L}, \p{N} and \s follow the Unicode tables rather
// than a hand-rolled approximation. Internal to duo_tokenizer.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace duo::tok {

// A compiled PCRE2 pattern (UTF, UCP, invalid UTF-8 tolerated, JIT when available). Thread-safe
// to share: each find() call uses its own match data.
class Regex {
 public:
  explicit Regex(const std::string& pattern);  // throws duo::Error quoting the pattern and PCRE2's message
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping leftmost matches in text as [begin, end) byte offsets; empty matches skipped.
  std::vector<std::pair<size_t, size_t>> findAll(std::string_view text) const;
  const std::string& pattern() const { return m_pattern; }

 private:
  std::string m_pattern;
  void* m_code = nullptr;  // pcre2_code_8*
  void* m_context = nullptr;  // pcre2_match_context_8*: bounds the work a hostile pattern can do
};

// HF `SplitDelimiterBehavior`: what happens to the matched delimiter.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
const char* splitBehaviorName(SplitBehavior b);
SplitBehavior parseSplitBehavior(const std::string& name);  // throws duo::Error on an unknown name

// The well-known regexes.
extern const char* const kGpt2Pattern;    // GPT-2 / HF ByteLevel(use_regex=true)
extern const char* const kLlama3Pattern;  // LLaMA-3 / tiktoken cl100k style
extern const char* const kQwen2Pattern;   // Qwen2: like LLaMA-3 but single digits

// One pre-tokenizer step (HF `pre_tokenizer` types we support).
struct PreStep {
  enum class Type {
    Split,      // regex or literal pattern with a behaviour (HF Split, Digits)
    ByteLevel,  // optional prefix space + GPT-2 regex; marks the tokenizer byte-level
    Metaspace,  // ' ' -> replacement (usually ▁), optional prefix, optional split before ▁
  } type = Type::Split;
  // Split
  std::string pattern;        // regex source or literal string
  bool patternIsRegex = true;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  std::string hfType = "Split";  // "Split" or "Digits" (for saving back)
  bool individualDigits = false;  // Digits only
  // ByteLevel
  bool addPrefixSpace = false;
  bool useRegex = true;
  bool trimOffsets = true;
  // Metaspace
  std::string replacement = "\xE2\x96\x81";  // ▁
  std::string prependScheme = "always";       // "always" | "first" | "never"
  bool split = true;

  std::shared_ptr<Regex> regex;  // compiled pattern (Split with regex, ByteLevel with useRegex)
};

// Applies one step to every piece; isFirstSegment is true for text at the start of the input
// (Metaspace prepend_scheme "first").
void applyPreStep(const PreStep& step, std::vector<std::string>& pieces, bool isFirstSegment);

// Splits text around matched ranges per HF semantics; empty pieces are dropped.
void splitByMatches(std::string_view text, const std::vector<std::pair<size_t, size_t>>& matches,
                    SplitBehavior behavior, bool invert, std::vector<std::string>& out);

// Named step sequences for GGUF `tokenizer.ggml.pre` values. Throws duo::Error for unknown names.
std::vector<PreStep> preStepsForGgufPre(const std::string& pre);

// Constructors for common steps.
PreStep makeRegexSplit(const std::string& pattern, SplitBehavior behavior, bool invert);
PreStep makeDigits(bool individual);
PreStep makeByteLevel(bool addPrefixSpace, bool useRegex);

}  // namespace duo::tok
