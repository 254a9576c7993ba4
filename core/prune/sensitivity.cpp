// SPDX-License-Identifier: GPL-3.0-or-later
// SensitivityTable's value-type side: names, grid checks, JSON (duoscope.sensitivity/1).
#include "core/prune/sensitivity.h"

#include <cmath>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/json_file.h"
#include "core/common/name_table.h"

namespace duo {

constexpr NamedValue<WeightEstimator> kEstimators[] = {
    {WeightEstimator::Obs, "obs"}, {WeightEstimator::Wanda, "wanda"}, {WeightEstimator::Magnitude, "magnitude"}};

const char* weightEstimatorName(WeightEstimator e) { return nameOf(kEstimators, e); }
bool weightEstimatorFromName(const std::string& name, WeightEstimator* out) { return valueOf(kEstimators, name, out); }

WeightEstimator estimatorFor(Method m) {
  switch (m) {
    case Method::Wanda: return WeightEstimator::Wanda;
    case Method::Magnitude: return WeightEstimator::Magnitude;
    default: return WeightEstimator::Obs;
  }
}

namespace {
void checkGrid(const std::vector<double>& g, const char* name) {
  DUO_CHECK(!g.empty(), "sensitivity: ", name, " is empty (give at least one sparsity, e.g. 0,0.5)");
  for (size_t i = 0; i < g.size(); ++i) {
    DUO_CHECK(std::isfinite(g[i]) && g[i] >= 0.0 && g[i] < 1.0, "sensitivity: ", name, " value ", g[i],
              " is outside [0, 1)");
    if (i > 0)
      DUO_CHECK(g[i] > g[i - 1], "sensitivity: ", name, " must be strictly ascending, got ", g[i - 1], " then ", g[i]);
  }
}
}  // namespace

void SensitivityOptions::validate() const {
  checkGrid(gridW, "grid-w");
  checkGrid(gridA, "grid-a");
  DUO_CHECK(blockSize >= 1, "sensitivity: block size expected >= 1, got ", blockSize);
  DUO_CHECK(actTokens >= 0, "sensitivity: activation tokens expected >= 0, got ", actTokens);
  DUO_CHECK(owlM > 0, "sensitivity: OWL outlier multiple expected > 0, got ", owlM);
  DUO_CHECK(batchWindows >= 1, "sensitivity: batch windows expected >= 1, got ", batchWindows);
}

bool SensitivityTable::hasLossWeights() const {
  if (projs.empty()) return false;
  for (const ProjSensitivity& s : projs)
    if (!(s.lossWeight > 0)) return false;
  return true;
}

const ProjSensitivity& SensitivityTable::at(int layer, Proj p) const {
  DUO_CHECK(layer >= 0 && layer < numLayers(), "sensitivity table: layer ", layer, " out of range [0, ", numLayers(),
            ")");
  return projs[static_cast<size_t>(layer) * kNumProj + static_cast<size_t>(p)];
}

ProjSensitivity& SensitivityTable::at(int layer, Proj p) {
  return const_cast<ProjSensitivity&>(static_cast<const SensitivityTable&>(*this).at(layer, p));
}

nlohmann::json SensitivityTable::toJson() const {
  const size_t nW = gridW.size(), nA = gridA.size();
  nlohmann::json layers = nlohmann::json::array();
  for (int l = 0; l < numLayers(); ++l) {
    nlohmann::json pj = nlohmann::json::array();
    for (int i = 0; i < kNumProj; ++i) {
      const ProjSensitivity& s = at(l, static_cast<Proj>(i));
      nlohmann::json err = nlohmann::json::array(), sec = nlohmann::json::array();
      for (size_t iw = 0; iw < nW; ++iw) {
        nlohmann::json er = nlohmann::json::array(), sr = nlohmann::json::array();
        for (size_t ia = 0; ia < nA; ++ia) {
          er.push_back(s.errorAt(iw, ia));
          sr.push_back(s.seconds.empty() ? 0.0 : s.secondsAt(iw, ia));
        }
        err.push_back(er);
        sec.push_back(sr);
      }
      pj.push_back({{"proj", projName(s.proj)}, {"rows", s.rows}, {"cols", s.cols}, {"error", err},
                    {"weight_error", s.weightError}, {"act_error", s.actError}, {"act_energy", s.actEnergy},
                    {"seconds", sec}, {"dense_seconds", s.denseSeconds}});
      if (s.lossWeight > 0) pj.back()["loss_weight"] = s.lossWeight;
    }
    layers.push_back({{"layer", l}, {"outlier_ratio", outlierRatio[static_cast<size_t>(l)]}, {"projections", pj}});
  }
  return {{"schema", kSchema},
          {"model", model},
          {"shape",
           {{"layers", config.numLayers}, {"hidden", config.hiddenSize}, {"heads", config.numHeads},
            {"kv_heads", config.numKvHeads}, {"head_dim", config.headDim}, {"ffn", config.intermediateSize},
            {"vocab", config.vocabSize}}},
          {"estimator", weightEstimatorName(estimator)},
          {"grid_w", gridW},
          {"grid_a", gridA},
          {"calib", {{"source", calib}, {"nsamples", nsamples}, {"seqlen", seqlen}, {"seed", seed},
                     {"act_tokens", actTokens}, {"loss_windows", lossWindows}}},
          {"decode", {{"context_tokens", contextTokens}, {"bandwidth_gbs", bandwidthGbs},
                      {"dense_step_seconds", denseStepSeconds}, {"fixed_seconds", fixedSeconds}}},
          {"seconds", secondsCompute},
          {"layers", layers}};
}

SensitivityTable SensitivityTable::fromJson(const nlohmann::json& j, const std::string& source) {
  SensitivityTable t;
  try {
    DUO_CHECK(j.is_object(), "expected a JSON object at the top level");
    DUO_CHECK(j.value("schema", std::string()) == kSchema, "schema ", j.value("schema", nlohmann::json()).dump(),
              " is not ", kSchema);
    t.model = j.at("model").get<std::string>();
    const auto& sh = j.at("shape");
    t.config.numLayers = sh.at("layers").get<int64_t>();
    t.config.hiddenSize = sh.at("hidden").get<int64_t>();
    t.config.numHeads = sh.at("heads").get<int64_t>();
    t.config.numKvHeads = sh.at("kv_heads").get<int64_t>();
    t.config.headDim = sh.at("head_dim").get<int64_t>();
    t.config.intermediateSize = sh.at("ffn").get<int64_t>();
    t.config.vocabSize = sh.at("vocab").get<int64_t>();
    const std::string est = j.at("estimator").get<std::string>();
    DUO_CHECK(weightEstimatorFromName(est, &t.estimator), "estimator '", est, "' is not obs, wanda or magnitude");
    t.gridW = j.at("grid_w").get<std::vector<double>>();
    t.gridA = j.at("grid_a").get<std::vector<double>>();
    checkGrid(t.gridW, "grid_w");
    checkGrid(t.gridA, "grid_a");
    const auto& c = j.at("calib");
    t.calib = c.at("source").get<std::string>();
    t.nsamples = c.at("nsamples").get<int>();
    t.seqlen = c.at("seqlen").get<int>();
    t.seed = c.at("seed").get<uint64_t>();
    t.actTokens = c.at("act_tokens").get<int64_t>();
    t.lossWindows = c.value("loss_windows", 0);  // tables before it: unknown
    DUO_CHECK(t.lossWindows >= 0, "calib.loss_windows must be >= 0");
    const auto& d = j.at("decode");
    t.contextTokens = d.at("context_tokens").get<int>();
    t.bandwidthGbs = d.at("bandwidth_gbs").get<double>();
    t.denseStepSeconds = d.at("dense_step_seconds").get<double>();
    t.fixedSeconds = d.at("fixed_seconds").get<double>();
    t.secondsCompute = j.value("seconds", 0.0);
    const auto& layers = j.at("layers");
    DUO_CHECK(layers.is_array() && static_cast<int64_t>(layers.size()) == t.config.numLayers, "'layers' has ",
              layers.size(), " entries, shape.layers says ", t.config.numLayers);
    const size_t nW = t.gridW.size(), nA = t.gridA.size();
    for (size_t l = 0; l < layers.size(); ++l) {
      const auto& lj = layers[l];
      t.outlierRatio.push_back(lj.at("outlier_ratio").get<double>());
      const auto& pj = lj.at("projections");
      DUO_CHECK(pj.is_array() && pj.size() == static_cast<size_t>(kNumProj), "layer ", l, ": expected ", kNumProj,
                " projections, got ", pj.size());
      for (int i = 0; i < kNumProj; ++i) {
        const auto& e = pj[static_cast<size_t>(i)];
        ProjSensitivity s;
        s.layer = static_cast<int>(l);
        s.proj = static_cast<Proj>(i);
        const std::string name = e.at("proj").get<std::string>();
        DUO_CHECK(name == projName(s.proj), "layer ", l, " projection ", i, ": expected ", projName(s.proj), ", got '",
                  name, "'");
        s.rows = e.at("rows").get<int64_t>();
        s.cols = e.at("cols").get<int64_t>();
        s.weightError = e.at("weight_error").get<std::vector<double>>();
        s.actError = e.at("act_error").get<std::vector<double>>();
        s.actEnergy = e.at("act_energy").get<std::vector<double>>();
        s.denseSeconds = e.at("dense_seconds").get<double>();
        s.lossWeight = e.value("loss_weight", 0.0);
        DUO_CHECK(std::isfinite(s.lossWeight) && s.lossWeight >= 0, "layer ", l, " ", name,
                  ": loss_weight must be a finite number >= 0");
        DUO_CHECK(s.weightError.size() == nW && s.actError.size() == nA && s.actEnergy.size() == nA, "layer ", l, " ",
                  name, ": component sizes do not match the grid (", nW, " x ", nA, ")");
        const auto& err = e.at("error");
        const auto& sec = e.at("seconds");
        DUO_CHECK(err.size() == nW && sec.size() == nW, "layer ", l, " ", name, ": 'error'/'seconds' need ", nW, " rows");
        for (size_t iw = 0; iw < nW; ++iw) {
          DUO_CHECK(err[iw].size() == nA && sec[iw].size() == nA, "layer ", l, " ", name, ": row ", iw, " needs ", nA,
                    " values");
          for (size_t ia = 0; ia < nA; ++ia) {
            const double v = err[iw][ia].get<double>(), tsec = sec[iw][ia].get<double>();
            DUO_CHECK(std::isfinite(v) && v >= 0 && std::isfinite(tsec) && tsec >= 0, "layer ", l, " ", name,
                      ": error/seconds at (", iw, ", ", ia, ") must be finite and >= 0, got ", v, " / ", tsec);
            s.error.push_back(v);
            s.seconds.push_back(tsec);
          }
        }
        t.projs.push_back(std::move(s));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    fail(source, ": malformed sensitivity table: ", e.what());
  } catch (...) {
    rethrowWithContext(source);
  }
  return t;
}

SensitivityTable SensitivityTable::load(const std::string& path) {
  return fromJson(readJsonFile(path), path);
}

void SensitivityTable::save(const std::string& path) const { writeFileAtomic(path, toJson().dump(1) + "\n"); }

}  // namespace duo
