// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/prune_types.h"

#include <cstdlib>

#include "core/common/error.h"
#include "core/common/name_table.h"

namespace duo {

constexpr NamedValue<Method> kMethods[] = {
    {Method::Dense, "dense"},         {Method::Magnitude, "magnitude"}, {Method::Wanda, "wanda"},
    {Method::SparseGpt, "sparsegpt"}, {Method::SparseGptSparseIn, "sparsegpt-sparse-in"},
    {Method::Teal, "teal"},           {Method::DuoGpt, "duogpt"},
};
constexpr NamedValue<ActRule> kActRules[] = {{ActRule::TopK, "topk"}, {ActRule::Threshold, "threshold"}};
constexpr NamedValue<Score> kScores[] = {
    {Score::Full, "full"}, {Score::Marginal, "marginal"}, {Score::SparseGpt, "sparsegpt"}};

const char* methodName(Method m) { return nameOf(kMethods, m); }
bool methodFromName(const std::string& name, Method* out) { return valueOf(kMethods, name, out); }

std::vector<Method> allMethods() {
  std::vector<Method> v;
  for (const auto& e : kMethods) v.push_back(e.value);
  return v;
}

const char* actRuleName(ActRule r) { return nameOf(kActRules, r); }
bool actRuleFromName(const std::string& name, ActRule* out) { return valueOf(kActRules, name, out); }

const char* scoreName(Score s) { return nameOf(kScores, s); }
bool scoreFromName(const std::string& name, Score* out) { return valueOf(kScores, name, out); }

std::string NmPattern::str() const {
  return structured() ? std::to_string(n) + ":" + std::to_string(m) : std::string("unstructured");
}

NmPattern parseNm(const std::string& text) {
  if (text.empty() || text == "unstructured") return {};
  const auto colon = text.find(':');
  DUO_CHECK(colon != std::string::npos, "N:M pattern '", text, "': expected the form N:M, e.g. 2:4");
  char* end = nullptr;
  const long n = std::strtol(text.c_str(), &end, 10);
  DUO_CHECK(end == text.c_str() + colon, "N:M pattern '", text, "': N is not a whole number");
  const long m = std::strtol(text.c_str() + colon + 1, &end, 10);
  DUO_CHECK(*end == '\0' && end != text.c_str() + colon + 1, "N:M pattern '", text, "': M is not a whole number");
  DUO_CHECK(m >= 2 && m <= 64 && n >= 1 && n < m, "N:M pattern '", text,
            "': expected 1 <= N < M <= 64 (N weights of each group of M are pruned)");
  return {static_cast<int>(n), static_cast<int>(m)};
}

}  // namespace duo
