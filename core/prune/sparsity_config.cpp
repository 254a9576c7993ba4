// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/sparsity_config.h"

#include <cmath>
#include <sstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace duo {

namespace {
bool inUnitRange(double v) { return std::isfinite(v) && v >= 0.0 && v < 1.0; }

// The most decoder layers a config may name: what the config.json and GGUF readers accept.
constexpr int kMaxLayers = 1024;

ProjSparsity readPair(const nlohmann::json& j, const ProjSparsity& base, const std::string& where) {
  DUO_CHECK(j.is_object(), where, ": expected an object like {\"weight\": 0.5, \"act\": 0.5}, got ", j.dump());
  ProjSparsity s = base;
  for (const auto& [key, value] : j.items()) {
    DUO_CHECK(key == "weight" || key == "act", where, ": unknown key '", key, "' (expected 'weight' or 'act')");
    DUO_CHECK(value.is_number(), where, ".", key, ": expected a number in [0, 1), got ", value.dump());
    (key == "weight" ? s.weight : s.act) = value.get<double>();
  }
  return s;
}
}  // namespace

SparsityConfig SparsityConfig::uniform(int numLayers, double weight, double act) {
  SparsityConfig c;
  c.m_layers.assign(static_cast<size_t>(std::max(0, numLayers)), {});
  for (auto& layer : c.m_layers)
    for (auto& p : layer) p = {weight, act};
  return c;
}

const ProjSparsity& SparsityConfig::at(int layer, Proj p) const {
  DUO_CHECK(layer >= 0 && layer < numLayers(), "sparsity config: layer ", layer, " out of range [0, ", numLayers(), ")");
  return m_layers[static_cast<size_t>(layer)][static_cast<size_t>(p)];
}

void SparsityConfig::set(int layer, Proj p, ProjSparsity s) {
  at(layer, p);  // range check
  m_layers[static_cast<size_t>(layer)][static_cast<size_t>(p)] = s;
}

void SparsityConfig::setWeight(int layer, Proj p, double w) {
  ProjSparsity s = at(layer, p);
  s.weight = w;
  set(layer, p, s);
}

void SparsityConfig::setSiteAct(int layer, Site site, double a) {
  for (int i = 0; i < kNumProj; ++i) {
    const Proj p = static_cast<Proj>(i);
    if (siteOf(p) != site) continue;
    ProjSparsity s = at(layer, p);
    s.act = a;
    set(layer, p, s);
  }
}

double SparsityConfig::siteAct(int layer, Site site) const {
  for (int i = 0; i < kNumProj; ++i)
    if (siteOf(static_cast<Proj>(i)) == site) return at(layer, static_cast<Proj>(i)).act;
  return 0.0;
}

double SparsityConfig::meanOf(double ProjSparsity::*field) const {
  double sum = 0;
  size_t n = 0;
  for (const auto& layer : m_layers)
    for (const auto& p : layer) sum += p.*field, ++n;
  return n ? sum / static_cast<double>(n) : 0.0;
}

double SparsityConfig::meanWeight() const { return meanOf(&ProjSparsity::weight); }

double SparsityConfig::meanAct() const { return meanOf(&ProjSparsity::act); }

double SparsityConfig::parameterWeightedSparsity(const ModelConfig& cfg) const {
  const int64_t d = cfg.hiddenSize, f = cfg.intermediateSize;
  const int64_t sizes[kNumProj] = {cfg.qDim() * d, cfg.kvDim() * d, cfg.kvDim() * d, d * cfg.qDim(), f * d, f * d, d * f};
  double zeros = 0, total = 0;
  for (const auto& layer : m_layers)
    for (int i = 0; i < kNumProj; ++i) {
      zeros += layer[static_cast<size_t>(i)].weight * static_cast<double>(sizes[i]);
      total += static_cast<double>(sizes[i]);
    }
  return total > 0 ? zeros / total : 0.0;
}

void SparsityConfig::validate(const std::string& source, int expectLayers) const {
  if (expectLayers >= 0)
    DUO_CHECK(numLayers() == expectLayers, source, ": config has ", numLayers(), " layers, the model has ", expectLayers);
  for (int l = 0; l < numLayers(); ++l) {
    for (int i = 0; i < kNumProj; ++i) {
      const Proj p = static_cast<Proj>(i);
      const ProjSparsity& s = at(l, p);
      DUO_CHECK(inUnitRange(s.weight), source, ": layer ", l, " ", projName(p), " weight sparsity ", s.weight,
                " is outside [0, 1)");
      DUO_CHECK(inUnitRange(s.act), source, ": layer ", l, " ", projName(p), " activation sparsity ", s.act,
                " is outside [0, 1)");
    }
    for (int si = 0; si < kNumSites; ++si) {
      const Site site = static_cast<Site>(si);
      const double a = siteAct(l, site);
      for (int i = 0; i < kNumProj; ++i) {
        const Proj p = static_cast<Proj>(i);
        if (siteOf(p) == site)
          DUO_CHECK(at(l, p).act == a, source, ": layer ", l, " ", projName(p), " has activation sparsity ",
                    at(l, p).act, " but shares its input (site '", siteName(site), "') with a projection at ", a,
                    "; projections sharing an input need one activation sparsity");
      }
    }
  }
}

nlohmann::json SparsityConfig::toJson() const {
  nlohmann::json j;
  j["schema"] = kSchema;
  j["num_layers"] = numLayers();
  j["weight_structure"] = nm.str();
  j["act_rule"] = actRuleName(actRule);
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& layer : m_layers) {
    nlohmann::json lj = nlohmann::json::object();
    for (int i = 0; i < kNumProj; ++i)
      lj[projName(static_cast<Proj>(i))] = {{"weight", layer[static_cast<size_t>(i)].weight},
                                            {"act", layer[static_cast<size_t>(i)].act}};
    layers.push_back(lj);
  }
  j["layers"] = layers;
  return j;
}

SparsityConfig SparsityConfig::fromJson(const nlohmann::json& j, int numLayers, const std::string& source) {
  DUO_CHECK(j.is_object(), source, ": expected a JSON object at the top level");
  for (const auto& [key, value] : j.items()) {
    static const char* kKnown[] = {"schema", "num_layers", "weight_structure", "act_rule", "default", "layers"};
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    DUO_CHECK(known, source, ": unknown key '", key,
              "' (expected schema, num_layers, weight_structure, act_rule, default, layers)");
  }
  if (j.contains("schema"))
    DUO_CHECK(j["schema"] == kSchema, source, ": schema ", j["schema"].dump(), " is not ", kSchema);
  int layers = numLayers;
  if (j.contains("num_layers")) {
    DUO_CHECK(j["num_layers"].is_number_integer(), source, ": num_layers must be a whole number");
    DUO_CHECK(j["num_layers"] >= 0 && j["num_layers"] <= kMaxLayers, source, ": num_layers ", j["num_layers"].dump(),
              " is outside [0, ", kMaxLayers, "]");
    layers = j["num_layers"].get<int>();
    if (numLayers >= 0)
      DUO_CHECK(layers == numLayers, source, ": config is for ", layers, " layers, the model has ", numLayers);
  }
  DUO_CHECK(layers >= 0, source, ": num_layers unknown (give it, or load the config against a model)");
  DUO_CHECK(layers <= kMaxLayers, source, ": ", layers, " layers, more than the ", kMaxLayers, " a model may have");
  ProjSparsity def;
  if (j.contains("default")) def = readPair(j["default"], def, source + ": default");
  SparsityConfig c = uniform(layers, def.weight, def.act);
  if (j.contains("weight_structure")) {
    DUO_CHECK(j["weight_structure"].is_string(), source, ": weight_structure must be a string like \"2:4\"");
    try {
      c.nm = parseNm(j["weight_structure"].get<std::string>());
    } catch (...) {
      rethrowWithContext(source);
    }
  }
  if (j.contains("act_rule")) {
    const std::string rule = j["act_rule"].is_string() ? j["act_rule"].get<std::string>() : j["act_rule"].dump();
    DUO_CHECK(actRuleFromName(rule, &c.actRule), source, ": act_rule '", rule, "' is not 'topk' or 'threshold'");
  }
  if (j.contains("layers")) {
    const auto& lj = j["layers"];
    auto readLayer = [&](int l, const nlohmann::json& entry) {
      DUO_CHECK(l >= 0 && l < layers, source, ": layer ", l, " does not exist (model has ", layers, " layers)");
      const std::string where = source + ": layer " + std::to_string(l);
      DUO_CHECK(entry.is_object(), where, ": expected an object of projections");
      for (const auto& [name, value] : entry.items()) {
        if (name == "all") {
          for (int i = 0; i < kNumProj; ++i) c.set(l, static_cast<Proj>(i), readPair(value, c.at(l, static_cast<Proj>(i)), where + " all"));
          continue;
        }
        Proj p;
        DUO_CHECK(projFromName(name, &p), where, ": unknown projection '", name,
                  "' (expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or all)");
        c.set(l, p, readPair(value, c.at(l, p), where + " " + name));
      }
    };
    if (lj.is_array()) {
      DUO_CHECK(static_cast<int>(lj.size()) == layers, source, ": 'layers' has ", lj.size(), " entries, expected ", layers);
      for (int l = 0; l < layers; ++l) readLayer(l, lj[static_cast<size_t>(l)]);
    } else {
      DUO_CHECK(lj.is_object(), source, ": 'layers' must be an array or an object keyed by layer index");
      for (const auto& [key, value] : lj.items()) {
        char* end = nullptr;
        const long l = std::strtol(key.c_str(), &end, 10);
        DUO_CHECK(!key.empty() && *end == '\0', source, ": layer key '", key, "' is not a layer index");
        // checked before narrowing: "4294967296" must not wrap around to layer 0
        DUO_CHECK(l >= 0 && l < layers, source, ": layer ", key, " does not exist (model has ", layers, " layers)");
        readLayer(static_cast<int>(l), value);
      }
    }
  }
  c.validate(source);
  return c;
}

SparsityConfig SparsityConfig::load(const std::string& path, int numLayers) {
  const std::string text = readFile(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number like 1E400
    fail(path, ": not valid JSON: ", e.what());
  }
  return fromJson(j, numLayers, path);
}

void SparsityConfig::save(const std::string& path) const { writeFileAtomic(path, toJson().dump(2) + "\n"); }

bool SparsityConfig::operator==(const SparsityConfig& o) const {
  return m_layers == o.m_layers && nm.n == o.nm.n && nm.m == o.nm.m && actRule == o.actRule;
}

}  // namespace duo
