#include "core/prune/prune_types.h"

#include <cstdlib>

#include "core/common/error.h"

namespace duo {

namespace {
struct MethodEntry {
  Method method;
  const char* name;
};
constexpr MethodEntry kMethods[] = {
    {Method::Dense, "dense"},         {Method::Magnitude, "magnitude"}, {Method::Wanda, "wanda"},
    {Method::SparseGpt, "sparsegpt"}, {Method::SparseGptSparseIn, "sparsegpt-sparse-in"},
    {Method::Teal, "teal"},           {Method::DuoGpt, "duogpt"},
};
}  // namespace

const char* methodName(Method m) {
  for (const auto& e : kMethods)
    if (e.method == m) return e.name;
  return "?";
}

bool methodFromName(const std::string& name, Method* out) {
  for (const auto& e : kMethods) {
    if (name == e.name) {
      *out = e.method;
      return true;
    }
  }
  return false;
}

std::vector<Method> allMethods() {
  std::vector<Method> v;
  for (const auto& e : kMethods) v.push_back(e.method);
  return v;
}

const char* actRuleName(ActRule r) { return r == ActRule::TopK ? "topk" : "threshold"; }

bool actRuleFromName(const std::string& name, ActRule* out) {
  if (name == "topk") *out = ActRule::TopK;
  else if (name == "threshold") *out = ActRule::Threshold;
  else return false;
  return true;
}

const char* scoreName(Score s) {
  switch (s) {
    case Score::Full: return "full";
    case Score::Marginal: return "marginal";
    case Score::SparseGpt: return "sparsegpt";
  }
  return "?";
}

bool scoreFromName(const std::string& name, Score* out) {
  if (name == "full") *out = Score::Full;
  else if (name == "marginal") *out = Score::Marginal;
  else if (name == "sparsegpt") *out = Score::SparseGpt;
  else return false;
  return true;
}

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
