#include "core/io/recipe_yaml.h"

#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"

namespace duo {

namespace {
// Shortest decimal text that reads back as the same double (what JSON writers produce; YAML
// reads it as a float).
std::string num(double v) { return nlohmann::json(v).dump(); }

// YAML single-quoted scalar: no escapes except '' for a quote, so regex backslashes stay as is.
std::string sq(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string flowList(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
  return s + "]";
}

// One number when all equal, else the flow list of them.
std::string scalarOrList(const std::vector<double>& v) {
  bool same = true;
  for (double x : v) same = same && x == v.front();
  if (same && !v.empty()) return num(v.front());
  std::vector<std::string> items;
  for (double x : v) items.push_back(num(x));
  return flowList(items);
}

std::string optionText(const nlohmann::json& options, const char* key) {
  if (!options.is_object() || !options.contains(key)) return "";
  const auto& v = options[key];
  return v.is_string() ? sq(v.get<std::string>()) : v.dump();
}
}  // namespace

std::string recipeModifierName(const std::string& method) {
  if (method == "sparsegpt" || method == "sparsegpt-sparse-in") return "SparseGPTModifier";
  if (method == "wanda") return "WandaPruningModifier";
  if (method == "magnitude") return "MagnitudePruningModifier";
  if (method == "duogpt") return "DuoGPTModifier";
  return "";
}

std::string recipeTarget(Proj p) { return std::string("re:.*\\.") + projName(p) + "$"; }

std::string recipeYaml(const RunRecord& run) {
  const SparsityConfig& s = run.sparsity;
  const int L = s.numLayers();
  std::ostringstream os;
  os << "# DuoScope recipe (llm-compressor layout). Stages: one per group of projections with the same\n"
        "# per-layer weight sparsities; duoscope_* blocks are DuoScope's own (activation sparsity, run).\n";
  if (!run.id.empty()) os << "# run " << run.id << "\n";

  // Group projections by their per-layer weight sparsity vectors, in data-flow order.
  const std::string modifier = recipeModifierName(run.method);
  std::vector<std::vector<double>> groupValues;
  std::vector<std::vector<Proj>> groupProjs;
  for (int i = 0; i < kNumProj && !modifier.empty(); ++i) {
    std::vector<double> v;
    bool any = false;
    for (int l = 0; l < L; ++l) {
      v.push_back(s.at(l, static_cast<Proj>(i)).weight);
      any = any || v.back() > 0;
    }
    if (!any) continue;  // not pruned anywhere: no modifier targets it
    size_t g = 0;
    while (g < groupValues.size() && groupValues[g] != v) ++g;
    if (g == groupValues.size()) {
      groupValues.push_back(v);
      groupProjs.emplace_back();
    }
    groupProjs[g].push_back(static_cast<Proj>(i));
  }
  const std::string mask = s.nm.structured() ? std::to_string(s.nm.n) + ":" + std::to_string(s.nm.m) : "0:0";
  for (size_t g = 0; g < groupValues.size(); ++g) {
    std::string stage = "sparsity_stage";
    if (groupValues.size() > 1)
      for (Proj p : groupProjs[g]) {
        const std::string n = projName(p);
        stage += "_" + n.substr(0, n.size() - 5);  // "q_proj" -> "q"
      }
    std::vector<std::string> targets;
    for (Proj p : groupProjs[g]) targets.push_back(sq(recipeTarget(p)));
    os << stage << ":\n  sparsity_modifiers:\n    " << modifier << ":\n";
    os << "      sparsity: " << scalarOrList(groupValues[g]) << "\n";
    os << "      mask_structure: " << sq(mask) << "\n";
    os << "      targets: " << flowList(targets) << "\n";
    os << "      ignore: " << flowList({sq("re:.*lm_head"), sq("re:.*embed_tokens")}) << "\n";
    if (run.method == "sparsegpt" || run.method == "sparsegpt-sparse-in" || run.method == "duogpt") {
      if (!optionText(run.options, "damp").empty()) os << "      dampening_frac: " << optionText(run.options, "damp") << "\n";
      if (!optionText(run.options, "block_size").empty())
        os << "      block_size: " << optionText(run.options, "block_size") << "\n";
    }
    if (run.method == "duogpt") {
      if (!optionText(run.options, "alpha").empty()) os << "      alpha: " << optionText(run.options, "alpha") << "\n";
      if (!optionText(run.options, "score").empty()) os << "      score: " << optionText(run.options, "score") << "\n";
    }
  }

  // Activation sparsity per input site.
  os << "duoscope_activation_sparsity:\n";
  os << "  rule: " << actRuleName(s.actRule) << "\n";
  std::vector<std::string> sites;
  for (int si = 0; si < kNumSites; ++si) sites.push_back(siteName(static_cast<Site>(si)));
  os << "  sites: " << flowList(sites) << "\n";
  bool uniform = true;
  const double a0 = L > 0 ? s.siteAct(0, Site::Qkv) : 0.0;
  for (int l = 0; l < L; ++l)
    for (int si = 0; si < kNumSites; ++si) uniform = uniform && s.siteAct(l, static_cast<Site>(si)) == a0;
  if (uniform) {
    os << "  sparsity: " << num(a0) << "\n";
  } else {
    os << "  layers:\n";
    for (int l = 0; l < L; ++l) {
      os << "    - {";
      for (int si = 0; si < kNumSites; ++si)
        os << (si ? ", " : "") << siteName(static_cast<Site>(si)) << ": " << num(s.siteAct(l, static_cast<Site>(si)));
      os << "}\n";
    }
  }

  os << "duoscope_run:\n";
  os << "  method: " << run.method << "\n";
  os << "  model: " << sq(run.model.path) << "\n";
  os << "  num_layers: " << L << "\n";
  os << "  weight_structure: " << sq(s.nm.str()) << "\n";
  os << "  calibration: {corpus: " << sq(run.data.corpus) << ", nsamples: " << run.data.nsamples
     << ", seqlen: " << run.data.seqlen << ", seed: " << run.data.seed << "}\n";
  if (run.options.is_object() && !run.options.empty()) {
    os << "  options: {";
    bool first = true;
    for (const auto& [k, v] : run.options.items()) {
      os << (first ? "" : ", ") << k << ": " << (v.is_string() ? sq(v.get<std::string>()) : v.dump());
      first = false;
    }
    os << "}\n";
  }
  return os.str();
}

void exportRecipeYaml(const std::string& path, const RunRecord& run) { writeFileAtomic(path, recipeYaml(run)); }

}  // namespace duo
