// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/recipe_yaml.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/model/io/tensor_names.h"

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
  if (method == "sparsegpt" || method == "sparsegpt-sparse-in" || method == "duogpt") return "SparseGPTModifier";
  if (method == "wanda") return "WandaPruningModifier";
  if (method == "magnitude") return "MagnitudePruningModifier";
  return "";
}

std::string recipeTarget(Proj p) { return std::string("re:.*\\.") + projName(p) + "$"; }

std::string recipeLayerTarget(const std::vector<int>& layers, Proj p) {
  // "model.layers.0.self_attn.q_proj.weight" -> "self_attn\.q_proj"
  const std::string prefix = "model.layers.0.", suffix = ".weight";
  const std::string name = tensorName(NameFormat::Hf, {TensorKind::Proj, 0, p});
  std::string module;
  for (char c : name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()))
    module += c == '.' ? std::string("\\.") : std::string(1, c);
  std::string alt;
  for (size_t i = 0; i < layers.size(); ++i) alt += (i ? "|" : "") + std::to_string(layers[i]);
  return "re:.*layers\\.(" + alt + ")\\." + module + "$";
}

std::string recipeYaml(const RunRecord& run) {
  const SparsityConfig& s = run.sparsity;
  const int L = s.numLayers();
  std::ostringstream os;
  os << "# DuoScope recipe in llm-compressor's layout (Recipe.create_instance reads it): the weight part as\n"
        "# llm-compressor modifiers; duoscope_* blocks are DuoScope's own and llm-compressor skips them.\n";
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
  const std::string ignore = flowList({sq("re:.*lm_head"), sq("re:.*embed_tokens")});
  if (!groupValues.empty()) os << "sparsity_stage:\n";
  for (size_t g = 0; g < groupValues.size(); ++g) {
    std::string group = "sparsity";
    if (groupValues.size() > 1)
      for (Proj p : groupProjs[g]) {
        const std::string n = projName(p);
        group += "_" + n.substr(0, n.size() - 5);  // "q_proj" -> "q"
      }
    std::vector<std::string> targets;
    for (Proj p : groupProjs[g]) targets.push_back(sq(recipeTarget(p)));
    if (run.method == "magnitude") {
      // MagnitudePruningModifier takes one sparsity: one modifier group per distinct value, each
      // targeting the layers that have it.
      std::vector<double> values;
      for (double v : groupValues[g])
        if (v > 0 && std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
      for (size_t k = 0; k < values.size(); ++k) {
        std::vector<int> layers;
        for (int l = 0; l < L; ++l)
          if (groupValues[g][static_cast<size_t>(l)] == values[k]) layers.push_back(l);
        std::vector<std::string> t = targets;
        if (static_cast<int>(layers.size()) != L) {
          t.clear();
          for (Proj p : groupProjs[g]) t.push_back(sq(recipeLayerTarget(layers, p)));
        }
        os << "  " << group << (values.size() > 1 ? "_" + std::to_string(k) : "") << "_modifiers:\n";
        os << "    " << modifier << ":\n";
        os << "      init_sparsity: " << num(values[k]) << "\n";
        os << "      final_sparsity: " << num(values[k]) << "\n";
        os << "      mask_structure: " << sq(s.nm.str()) << "\n";
        os << "      targets: " << flowList(t) << "\n";
      }
      continue;
    }
    os << "  " << group << "_modifiers:\n";
    if (run.method == "duogpt")
      os << "    # DuoGPT's weight part: llm-compressor has no DuoGPT modifier; SparseGPT is the same OBS\n"
            "    # solver without the dense-output correction (duoscope_duogpt below)\n";
    os << "    " << modifier << ":\n";
    os << "      sparsity: " << scalarOrList(groupValues[g]) << "\n";
    os << "      mask_structure: " << sq(s.nm.structured() ? std::to_string(s.nm.n) + ":" + std::to_string(s.nm.m) : "0:0")
       << "\n";
    os << "      targets: " << flowList(targets) << "\n";
    os << "      ignore: " << ignore << "\n";
    if (modifier == "SparseGPTModifier") {
      if (!optionText(run.options, "damp").empty()) os << "      dampening_frac: " << optionText(run.options, "damp") << "\n";
      if (!optionText(run.options, "block_size").empty())
        os << "      block_size: " << optionText(run.options, "block_size") << "\n";
    }
  }
  if (run.method == "duogpt") {
    os << "duoscope_duogpt:\n";
    if (!optionText(run.options, "alpha").empty()) os << "  alpha: " << optionText(run.options, "alpha") << "\n";
    if (!optionText(run.options, "score").empty()) os << "  score: " << optionText(run.options, "score") << "\n";
    os << "  note: " << sq("weights calibrated by DuoScope's DuoGPT (dual-sparse OBS with the dense-output correction)")
       << "\n";
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
