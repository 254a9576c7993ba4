// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/run_record.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/data/domains.h"

namespace duo {

using nlohmann::json;

namespace {
// Whether number v converts to integer type T: nlohmann converts with a plain cast, which for a
// value outside T's range (1e300 for an int, -1.0 for a seed) is undefined behaviour. Non-numbers
// pass (get<T>() rejects them with a type error).
template <typename T>
bool fitsInteger(const json& v) {
  constexpr auto lo = std::numeric_limits<T>::min();
  constexpr auto hi = std::numeric_limits<T>::max();
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(hi);
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < 0) return std::is_signed_v<T> && i >= static_cast<int64_t>(lo);
    return static_cast<uint64_t>(i) <= static_cast<uint64_t>(hi);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    return d >= static_cast<double>(lo) && d < 2.0 * static_cast<double>(hi / 2 + 1);  // hi + 1, exact in a double
  }
  return true;
}

// A required field of type T; the error names the source and the field path.
template <typename T>
T req(const json& j, const char* key, const std::string& where) {
  DUO_CHECK(j.is_object() && j.contains(key), where, ": missing field '", key, "'");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    DUO_CHECK(fitsInteger<T>(j.at(key)), where, ": field '", key, "' is ", j.at(key).dump(),
              ", outside the range of its integer type");
  try {
    return j.at(key).get<T>();
  } catch (const std::exception&) {
    fail(where, ": field '", key, "' has the wrong type (", j.at(key).dump(), ")");
  }
}
// An optional field (absent or null -> def).
template <typename T>
T opt(const json& j, const char* key, const T& def, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j.at(key).is_null()) return def;
  return req<T>(j, key, where);
}
json optNumber(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
std::optional<double> readOptNumber(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return req<double>(j, key, where);
}

json recordsJson(const std::vector<ProjRecord>& records) {
  json a = json::array();
  for (const auto& r : records)
    a.push_back({{"layer", r.layer}, {"proj", projName(r.proj)}, {"weight_sparsity", r.weightSparsity},
                 {"act_sparsity", r.actSparsity}, {"rel_error", r.relError},
                 {"rel_error_mask_only", r.relErrorMaskOnly}, {"seconds", r.seconds}});
  return a;
}

std::vector<ProjRecord> readRecords(const json& a, const std::string& where) {
  DUO_CHECK(a.is_array(), where, ": 'records' must be an array");
  std::vector<ProjRecord> out;
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string w = where + ": records[" + std::to_string(i) + "]";
    ProjRecord r;
    r.layer = req<int>(a[i], "layer", w);
    const std::string proj = req<std::string>(a[i], "proj", w);
    DUO_CHECK(projFromName(proj, &r.proj), w, ": unknown projection '", proj, "'");
    r.weightSparsity = req<double>(a[i], "weight_sparsity", w);
    r.actSparsity = req<double>(a[i], "act_sparsity", w);
    r.relError = req<double>(a[i], "rel_error", w);
    r.relErrorMaskOnly = opt<double>(a[i], "rel_error_mask_only", 0.0, w);
    r.seconds = opt<double>(a[i], "seconds", 0.0, w);
    out.push_back(r);
  }
  return out;
}

json metricJson(const RunMetric& m) {
  json j = {{"kind", m.kind}, {"metric", m.metric}, {"model", m.model}, {"value", m.value}, {"data", m.data}};
  if (m.kind == "perplexity") {
    j["seqlen"] = m.seqlen;
    j["tokens"] = m.count;
    j["windows"] = m.windows;
  } else {
    j["items"] = m.count;
    j["stderr"] = optNumber(m.stderrValue);
  }
  return j;
}

RunMetric readMetric(const json& j, const std::string& w) {
  RunMetric m;
  m.kind = req<std::string>(j, "kind", w);
  DUO_CHECK(m.kind == "perplexity" || m.kind == "accuracy", w, ": kind '", m.kind, "' is not perplexity or accuracy");
  m.metric = req<std::string>(j, "metric", w);
  m.model = req<std::string>(j, "model", w);
  m.value = req<double>(j, "value", w);
  m.data = opt<std::string>(j, "data", "", w);
  if (m.kind == "perplexity") {
    m.seqlen = req<int>(j, "seqlen", w);
    m.count = req<int64_t>(j, "tokens", w);
    m.windows = opt<int64_t>(j, "windows", 0, w);
  } else {
    m.count = req<int64_t>(j, "items", w);
    m.stderrValue = readOptNumber(j, "stderr", w);
  }
  return m;
}

// "calib" for kjv:calib, mix:calib and mix:calib:DOMAIN; "" for a file.
std::string splitOf(const std::string& corpus) {
  if (corpus.rfind("kjv:", 0) == 0) return corpus.substr(4);
  if (corpus.rfind("mix:", 0) == 0) return corpus.substr(4, corpus.find(':', 4) - 4);
  return "";
}

// `duoscope.run/1` (PruneResult::toJson) -> record.
RunRecord fromRunV1(const json& j, const std::string& src) {
  RunRecord r;
  r.id = opt<std::string>(j, "run_id", "", src);
  r.method = req<std::string>(j, "method", src);
  Method m;
  DUO_CHECK(methodFromName(r.method, &m), src, ": unknown method '", r.method, "'");
  const json prov = opt<json>(j, "provenance", json::object(), src);
  const std::string ps = src + ": provenance";
  const json pm = opt<json>(prov, "model", json::object(), ps);
  r.model.path = opt<std::string>(pm, "path", opt<std::string>(j, "model", "", src), ps);
  r.model.name = opt<std::string>(pm, "name", "", ps);
  r.model.format = opt<std::string>(pm, "format", "", ps);
  r.model.architecture = opt<std::string>(pm, "architecture", "", ps);
  r.model.sha256 = opt<std::string>(pm, "sha256", "", ps);
  r.model.parameters = opt<int64_t>(pm, "parameters", 0, ps);
  const json options = req<json>(j, "options", src);
  const json pd = opt<json>(prov, "data", json::object(), ps);
  r.data.corpus = opt<std::string>(pd, "calib", opt<std::string>(options, "calib", "", src), ps);
  r.data.split = splitOf(r.data.corpus);
  r.data.tokenizer = opt<std::string>(pd, "tokenizer", "", ps);
  r.data.nsamples = opt<int>(options, "nsamples", 0, src);
  r.data.seqlen = opt<int>(options, "seqlen", 0, src);
  r.data.seed = opt<uint64_t>(options, "seed", 0, src);
  r.options = json::object();
  for (const auto& [k, v] : options.items())
    if (k != "nsamples" && k != "seqlen" && k != "seed" && k != "calib") r.options[k] = v;
  r.sparsity = SparsityConfig::fromJson(req<json>(j, "sparsity", src), -1, src + ": sparsity");
  r.model.layers = opt<int>(pm, "layers", r.sparsity.numLayers(), ps);
  r.records = readRecords(req<json>(j, "records", src), src);
  r.weightSparsity = req<double>(j, "weight_sparsity", src);
  r.actSparsity = req<double>(j, "act_sparsity", src);
  r.predictedSpeedup = opt<double>(j, "predicted_speedup", 0.0, src);
  r.measuredSpeedup = readOptNumber(j, "measured_speedup", src);
  if (j.contains("speed_check") && !j.at("speed_check").is_null())
    r.speedCheck = SpeedCheck::fromJson(j.at("speed_check"), src + ": speed_check");
  r.calibratedSpeedup = readOptNumber(j, "calibrated_speedup", src);
  r.timingProfile = opt<std::string>(j, "timing", "", src);
  r.values = opt<std::string>(j, "values", "f32", src);
  r.int8Inputs = opt<bool>(j, "int8_inputs", false, src);
  const json timings = opt<json>(j, "timings", json::object(), src);  // named: items() must not outlive it
  for (const auto& [k, v] : timings.items())
    if (v.is_number()) r.timings[k] = v.get<double>();
  r.peakRssBytes = opt<long long>(j, "peak_rss_bytes", 0, src);
  r.device = opt<std::string>(j, "device", "", src);
  r.duoscopeVersion = opt<std::string>(prov, "duoscope_version", "", ps);
  r.libtorchVersion = opt<std::string>(prov, "libtorch_version", "", ps);
  r.outDir = opt<std::string>(j, "out", "", src);
  if (j.contains("eval") && j["eval"].is_object()) {
    const json& e = j["eval"];
    const std::string es = src + ": eval";
    RunMetric p{"perplexity", "perplexity", "pruned", req<double>(e, "perplexity", es), std::nullopt,
                opt<std::string>(e, "corpus", "", es), req<int>(e, "seqlen", es), req<int64_t>(e, "tokens", es),
                opt<int64_t>(e, "windows", 0, es)};
    r.metrics.push_back(p);
    if (e.contains("dense_perplexity")) {
      p.model = "dense";
      p.value = req<double>(e, "dense_perplexity", es);
      r.metrics.push_back(p);
    }
    for (const char* key : {"accuracy", "dense_accuracy"}) {
      if (!e.contains(key) || !e[key].is_object()) continue;
      const json& a = e[key];
      const std::string as = es + "." + key;
      for (const char* metric : {"acc", "acc_norm"}) {
        RunMetric am;
        am.kind = "accuracy";
        am.metric = metric;
        am.model = std::string(key) == "accuracy" ? "pruned" : "dense";
        am.value = req<double>(a, metric, as);
        am.stderrValue = readOptNumber(a, (std::string(metric) + "_stderr").c_str(), as);
        am.data = req<std::string>(a, "task", as);
        am.count = req<int64_t>(a, "items", as);
        r.metrics.push_back(am);
      }
    }
  }
  return r;
}
}  // namespace

std::string RunRecord::domainOf(const RunMetric& m) const {
  return m.kind == "perplexity" ? domainRelation(data.corpus, m.data) : std::string();
}

json RunRecord::toJson() const {
  json metricsJ = json::array();
  for (const auto& m : metrics) {
    metricsJ.push_back(metricJson(m));
    if (const std::string d = domainOf(m); !d.empty()) metricsJ.back()["domain"] = d;
  }
  json timingsJ = json::object();
  for (const auto& [k, v] : timings) timingsJ[k] = v;
  json out{{"schema", kSchema},
          {"id", id},
          {"created", created},
          {"model",
           {{"path", model.path}, {"name", model.name}, {"format", model.format}, {"architecture", model.architecture},
            {"parameters", model.parameters}, {"layers", model.layers}, {"sha256", model.sha256}}},
          {"data",
           {{"corpus", data.corpus}, {"split", data.split}, {"domains", corpusDomains(data.corpus)},
            {"nsamples", data.nsamples}, {"seqlen", data.seqlen}, {"seed", data.seed}, {"tokenizer", data.tokenizer}}},
          {"method", method},
          {"options", options.is_null() ? json::object() : options},
          {"sparsity", sparsity.toJson()},
          {"records", recordsJson(records)},
          {"weight_sparsity", weightSparsity},
          {"act_sparsity", actSparsity},
          {"metrics", metricsJ},
          {"speed", {{"predicted", predictedSpeedup}, {"measured", optNumber(measuredSpeedup)},
                     {"measurement", speedCheck ? speedCheck->toJson() : json(nullptr)},
                     {"calibrated", optNumber(calibratedSpeedup)}, {"timing_profile", timingProfile},
                     {"values", values}}},
          {"timings", timingsJ},
          {"peak_rss_bytes", peakRssBytes},
          {"versions", {{"duoscope", duoscopeVersion}, {"libtorch", libtorchVersion}}},
          {"device", device},
          {"out", outDir}};
  if (int8Inputs) out["speed"]["int8_inputs"] = true;  // absent: false (and in every older record)
  return out;
}

RunRecord RunRecord::fromJson(const json& j, const std::string& src) {
  DUO_CHECK(j.is_object(), src, ": expected a JSON object");
  // not j.value(): a non-string schema must be refused with our error, not nlohmann's type_error
  const std::string schema =
      !j.contains("schema") ? "" : j["schema"].is_string() ? j["schema"].get<std::string>() : j["schema"].dump();
  if (schema == "duoscope.run/1") return fromRunV1(j, src);
  DUO_CHECK(schema == kSchema, src, ": schema '", schema, "' is not ", kSchema, " (or duoscope.run/1)");
  RunRecord r;
  r.id = req<std::string>(j, "id", src);
  r.created = req<std::string>(j, "created", src);
  const json m = req<json>(j, "model", src);
  const std::string ms = src + ": model";
  r.model.path = req<std::string>(m, "path", ms);
  r.model.name = opt<std::string>(m, "name", "", ms);
  r.model.format = opt<std::string>(m, "format", "", ms);
  r.model.architecture = opt<std::string>(m, "architecture", "", ms);
  r.model.parameters = opt<int64_t>(m, "parameters", 0, ms);
  r.model.layers = opt<int>(m, "layers", 0, ms);
  r.model.sha256 = opt<std::string>(m, "sha256", "", ms);
  const json d = req<json>(j, "data", src);
  const std::string ds = src + ": data";
  r.data.corpus = req<std::string>(d, "corpus", ds);
  r.data.split = opt<std::string>(d, "split", "", ds);
  r.data.nsamples = req<int>(d, "nsamples", ds);
  r.data.seqlen = req<int>(d, "seqlen", ds);
  r.data.seed = req<uint64_t>(d, "seed", ds);
  r.data.tokenizer = opt<std::string>(d, "tokenizer", "", ds);
  r.method = req<std::string>(j, "method", src);
  Method method;
  DUO_CHECK(methodFromName(r.method, &method), src, ": unknown method '", r.method, "'");
  r.options = opt<json>(j, "options", json::object(), src);
  r.sparsity = SparsityConfig::fromJson(req<json>(j, "sparsity", src), -1, src + ": sparsity");
  r.records = readRecords(req<json>(j, "records", src), src);
  r.weightSparsity = req<double>(j, "weight_sparsity", src);
  r.actSparsity = req<double>(j, "act_sparsity", src);
  const json metricsJ = req<json>(j, "metrics", src);
  DUO_CHECK(metricsJ.is_array(), src, ": 'metrics' must be an array");
  for (size_t i = 0; i < metricsJ.size(); ++i)
    r.metrics.push_back(readMetric(metricsJ[i], src + ": metrics[" + std::to_string(i) + "]"));
  const json speed = req<json>(j, "speed", src);
  r.predictedSpeedup = req<double>(speed, "predicted", src + ": speed");
  r.measuredSpeedup = readOptNumber(speed, "measured", src + ": speed");
  if (speed.contains("measurement") && !speed.at("measurement").is_null())  // absent in older records
    r.speedCheck = SpeedCheck::fromJson(speed.at("measurement"), src + ": speed.measurement");
  r.calibratedSpeedup = readOptNumber(speed, "calibrated", src + ": speed");  // absent in older records
  r.timingProfile = opt<std::string>(speed, "timing_profile", "", src + ": speed");
  r.values = opt<std::string>(speed, "values", "f32", src + ": speed");  // absent: f32 (older records)
  r.int8Inputs = opt<bool>(speed, "int8_inputs", false, src + ": speed");  // written only when true
  const json timings = opt<json>(j, "timings", json::object(), src);  // named: items() must not outlive it
  for (const auto& [k, v] : timings.items()) {
    DUO_CHECK(v.is_number(), src, ": timings.", k, " must be a number");
    r.timings[k] = v.get<double>();
  }
  r.peakRssBytes = opt<long long>(j, "peak_rss_bytes", 0, src);
  const json v = opt<json>(j, "versions", json::object(), src);
  r.duoscopeVersion = opt<std::string>(v, "duoscope", "", src + ": versions");
  r.libtorchVersion = opt<std::string>(v, "libtorch", "", src + ": versions");
  r.device = opt<std::string>(j, "device", "", src);
  r.outDir = opt<std::string>(j, "out", "", src);
  return r;
}

RunRecord RunRecord::load(const std::string& path) {
  json j;
  try {
    j = json::parse(readFile(path));
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1E400
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  return fromJson(j, path);
}

const RunMetric* RunRecord::findMetric(const std::string& metric, const std::string& which) const {
  for (const auto& m : metrics)
    if (m.metric == metric && m.model == which) return &m;
  return nullptr;
}

std::string RunRecord::label() const {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s W%.0f/A%.0f", method.c_str(), sparsity.meanWeight() * 100.0,
                sparsity.meanAct() * 100.0);
  return buf;
}

}  // namespace duo
