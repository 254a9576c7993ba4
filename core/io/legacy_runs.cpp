// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/legacy_runs.h"

#include <time.h>

#include <cstdio>

#include "core/common/error.h"
#include "core/io/run_store.h"

namespace duo {

using nlohmann::json;

namespace {
template <typename T>
T get(const json& j, const char* key, const std::string& source) {
  DUO_CHECK(j.contains(key), source, ": missing field '", key, "'");
  try {
    return j.at(key).get<T>();
  } catch (const std::exception& e) {
    fail(source, ": field '", key, "': ", e.what());
  }
}
}  // namespace

json requestToJson(const PruneRequest& q) {
  const SparsityPlan& sp = q.sparsity;
  return {{"model", q.model},           {"method", methodName(q.method)},
          {"sparsity", sp.table().toJson()},
          {"uniform_weight", sp.uniformWeight()}, {"uniform_act", sp.uniformAct()},
          {"nm", sp.nm.str()},          {"act_rule", actRuleName(sp.actRule)},
          {"score", scoreName(q.score)}, {"alpha", q.alpha},
          {"damp", q.damp},             {"block_size", q.blockSize},
          {"calib_source", q.calibSource}, {"nsamples", q.nsamples},
          {"seqlen", q.seqlen},         {"seed", q.seed},
          {"eval", q.eval},             {"eval_source", q.evalSource},
          {"eval_seqlen", q.evalSeqlen}, {"max_windows", q.maxWindows},
          {"task_file", q.taskFile},    {"out_dir", q.outDir},
          {"device", q.device},         {"compute_dtype", q.computeDtype}};
}

PruneRequest requestFromJson(const json& j, const std::string& src) {
  PruneRequest q;
  q.model = get<std::string>(j, "model", src);
  DUO_CHECK(methodFromName(get<std::string>(j, "method", src), &q.method), src, ": unknown method ", j["method"].dump());
  // The table when it has layers, else the uniform pair; "nm" and "act_rule" override either.
  const SparsityConfig table =
      j.contains("sparsity") ? SparsityConfig::fromJson(j["sparsity"], -1, src + ": sparsity") : SparsityConfig{};
  const double uniformWeight = get<double>(j, "uniform_weight", src), uniformAct = get<double>(j, "uniform_act", src);
  q.sparsity = table.numLayers() > 0 ? SparsityPlan::table(table) : SparsityPlan::uniform(uniformWeight, uniformAct);
  q.sparsity.nm = parseNm(get<std::string>(j, "nm", src));
  DUO_CHECK(actRuleFromName(get<std::string>(j, "act_rule", src), &q.sparsity.actRule), src, ": unknown act_rule");
  DUO_CHECK(scoreFromName(get<std::string>(j, "score", src), &q.score), src, ": unknown score");
  q.alpha = get<double>(j, "alpha", src);
  q.damp = get<double>(j, "damp", src);
  q.blockSize = get<int>(j, "block_size", src);
  q.calibSource = get<std::string>(j, "calib_source", src);
  q.nsamples = get<int>(j, "nsamples", src);
  q.seqlen = get<int>(j, "seqlen", src);
  q.seed = get<uint64_t>(j, "seed", src);
  q.eval = get<bool>(j, "eval", src);
  q.evalSource = get<std::string>(j, "eval_source", src);
  q.evalSeqlen = get<int>(j, "eval_seqlen", src);
  q.maxWindows = get<int>(j, "max_windows", src);
  q.taskFile = get<std::string>(j, "task_file", src);
  q.outDir = get<std::string>(j, "out_dir", src);
  q.device = get<std::string>(j, "device", src);
  if (j.contains("compute_dtype")) q.computeDtype = get<std::string>(j, "compute_dtype", src);  // absent before 2026-12
  return q;
}

std::string isoToUtc(const std::string& iso) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6) return "";
  std::string rest = iso.substr(static_cast<size_t>(used));
  if (!rest.empty() && rest[0] == '.') {  // fractions of a second
    size_t i = 1;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
    rest = rest.substr(i);
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return "";
  struct tm t {};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = sec;
  time_t when;
  if (rest.empty()) {  // local time
    t.tm_isdst = -1;
    when = mktime(&t);
  } else if (rest == "Z") {
    when = timegm(&t);
  } else {
    int oh = 0, om = 0;
    if ((rest[0] != '+' && rest[0] != '-') || std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) != 2 ||
        rest.size() != 6)
      return "";
    when = timegm(&t) - (rest[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  }
  struct tm u {};
  if (when == static_cast<time_t>(-1) || !gmtime_r(&when, &u)) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &u);
  return buf;
}

RunRecord legacyRunToRecord(const json& j, const std::string& src) {
  DUO_CHECK(j.is_object(), src, ": expected a JSON object");
  DUO_CHECK(j.contains("schema") && j["schema"] == kLegacyRunSchema, src, ": schema ",
            j.contains("schema") ? j["schema"].dump() : std::string("missing"), " is not ", kLegacyRunSchema);
  const PruneRequest q = requestFromJson(get<json>(j, "request", src), src + ": request");
  const SparsityConfig sparsity = SparsityConfig::fromJson(get<json>(j, "sparsity", src), -1, src + ": sparsity");
  json records = json::array();
  for (const json& p : get<json>(j, "records", src)) {
    Proj proj;
    DUO_CHECK(projFromName(get<std::string>(p, "proj", src), &proj), src, ": unknown projection ", p["proj"].dump());
    records.push_back({{"layer", get<int>(p, "layer", src)},
                       {"proj", projName(proj)},
                       {"weight_sparsity", get<double>(p, "weight_sparsity", src)},
                       {"act_sparsity", get<double>(p, "act_sparsity", src)},
                       {"rel_error", get<double>(p, "rel_error", src)},
                       {"rel_error_mask_only", get<double>(p, "rel_error_mask_only", src)},
                       {"seconds", get<double>(p, "seconds", src)}});
  }
  const json s = get<json>(j, "seconds", src);
  // The document `prune --json` prints for the same run (duoscope.run/1), read by core's own reader.
  json run = {
      {"schema", "duoscope.run/1"},
      {"method", methodName(q.method)},
      {"model", q.model},
      {"options",
       {{"act_rule", actRuleName(sparsity.actRule)}, {"score", scoreName(q.score)}, {"alpha", q.alpha},
        {"damp", q.damp}, {"block_size", q.blockSize}, {"nm", sparsity.nm.str()}, {"nsamples", q.nsamples},
        {"seqlen", q.seqlen}, {"seed", q.seed}, {"calib", q.calibSource}}},
      {"sparsity", sparsity.toJson()},
      {"weight_sparsity", get<double>(j, "weight_sparsity", src)},
      {"act_sparsity", get<double>(j, "act_sparsity", src)},
      {"predicted_speedup", get<double>(j, "predicted_speedup", src)},
      {"records", records},
      {"timings",
       {{"total", get<double>(s, "total", src)}, {"forward", get<double>(s, "forward", src)},
        {"stats", get<double>(s, "stats", src)}, {"solve", get<double>(s, "solve", src)},
        {"eval", get<double>(s, "eval", src)}}},
      {"peak_rss_bytes", get<long long>(j, "peak_rss_bytes", src)},
      {"device", get<std::string>(j, "device", src)},
      {"provenance", j.contains("provenance") && j["provenance"].is_object() ? j["provenance"] : json::object()},
      {"out", q.outDir}};
  const json e = get<json>(j, "eval", src);
  if (get<bool>(e, "done", src))
    run["eval"] = {{"perplexity", get<double>(e, "perplexity", src)},
                   {"dense_perplexity", get<double>(e, "dense_perplexity", src)},
                   {"tokens", get<int64_t>(e, "tokens", src)},
                   {"windows", get<int64_t>(e, "windows", src)},
                   {"seqlen", get<int>(e, "seqlen", src)},
                   {"corpus", q.evalSource}};
  RunRecord rec = RunRecord::fromJson(run, src);
  rec.id = get<std::string>(j, "id", src);
  const std::string when = isoToUtc(get<std::string>(j, "when", src));
  rec.created = when.empty() ? RunStore::nowIso8601() : when;
  const double measured = get<double>(j, "measured_speedup", src);
  if (measured > 0) rec.measuredSpeedup = measured;
  return rec;
}

}  // namespace duo
