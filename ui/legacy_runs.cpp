#include "ui/legacy_runs.h"

#include <QDateTime>
#include <QString>

#include "core/common/error.h"
#include "core/io/run_store.h"

namespace duo::ui {

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
  return {{"model", q.model},           {"method", methodName(q.method)},
          {"sparsity", q.sparsity.toJson()},
          {"uniform_weight", q.uniformWeight}, {"uniform_act", q.uniformAct},
          {"nm", q.nm.str()},           {"act_rule", actRuleName(q.actRule)},
          {"score", scoreName(q.score)}, {"alpha", q.alpha},
          {"damp", q.damp},             {"block_size", q.blockSize},
          {"calib_source", q.calibSource}, {"nsamples", q.nsamples},
          {"seqlen", q.seqlen},         {"seed", q.seed},
          {"eval", q.eval},             {"eval_source", q.evalSource},
          {"eval_seqlen", q.evalSeqlen}, {"max_windows", q.maxWindows},
          {"task_file", q.taskFile},    {"out_dir", q.outDir},
          {"device", q.device}};
}

PruneRequest requestFromJson(const json& j, const std::string& src) {
  PruneRequest q;
  q.model = get<std::string>(j, "model", src);
  DUO_CHECK(methodFromName(get<std::string>(j, "method", src), &q.method), src, ": unknown method ", j["method"].dump());
  if (j.contains("sparsity")) q.sparsity = SparsityConfig::fromJson(j["sparsity"], -1, src + ": sparsity");
  q.uniformWeight = get<double>(j, "uniform_weight", src);
  q.uniformAct = get<double>(j, "uniform_act", src);
  q.nm = parseNm(get<std::string>(j, "nm", src));
  DUO_CHECK(actRuleFromName(get<std::string>(j, "act_rule", src), &q.actRule), src, ": unknown act_rule");
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
  return q;
}

RunRecord legacyRunToRecord(const json& j, const std::string& src) {
  DUO_CHECK(j.is_object(), src, ": expected a JSON object");
  DUO_CHECK(j.value("schema", "") == kLegacyRunSchema, src, ": schema ", j.value("schema", json()).dump(), " is not ",
            kLegacyRunSchema);
  PruneResult r;
  r.request = requestFromJson(get<json>(j, "request", src), src + ": request");
  r.sparsity = SparsityConfig::fromJson(get<json>(j, "sparsity", src), -1, src + ": sparsity");
  for (const json& p : get<json>(j, "records", src)) {
    ProjRecord rec;
    rec.layer = get<int>(p, "layer", src);
    DUO_CHECK(projFromName(get<std::string>(p, "proj", src), &rec.proj), src, ": unknown projection ", p["proj"].dump());
    rec.weightSparsity = get<double>(p, "weight_sparsity", src);
    rec.actSparsity = get<double>(p, "act_sparsity", src);
    rec.relError = get<double>(p, "rel_error", src);
    rec.relErrorMaskOnly = get<double>(p, "rel_error_mask_only", src);
    rec.seconds = get<double>(p, "seconds", src);
    r.records.push_back(rec);
  }
  const json e = get<json>(j, "eval", src);
  r.eval.done = get<bool>(e, "done", src);
  r.eval.perplexity = get<double>(e, "perplexity", src);
  r.eval.densePerplexity = get<double>(e, "dense_perplexity", src);
  r.eval.tokens = get<int64_t>(e, "tokens", src);
  r.eval.windows = get<int64_t>(e, "windows", src);
  r.eval.seqlen = get<int>(e, "seqlen", src);
  r.eval.accuracy = get<double>(e, "accuracy", src);
  r.eval.accuracyNorm = get<double>(e, "accuracy_norm", src);
  r.eval.denseAccuracy = get<double>(e, "dense_accuracy", src);
  r.eval.taskItems = get<int64_t>(e, "task_items", src);
  r.weightSparsity = get<double>(j, "weight_sparsity", src);
  r.actSparsity = get<double>(j, "act_sparsity", src);
  r.predictedSpeedup = get<double>(j, "predicted_speedup", src);
  const json s = get<json>(j, "seconds", src);
  r.secondsTotal = get<double>(s, "total", src);
  r.secondsForward = get<double>(s, "forward", src);
  r.secondsStats = get<double>(s, "stats", src);
  r.secondsSolve = get<double>(s, "solve", src);
  r.secondsEval = get<double>(s, "eval", src);
  r.peakRssBytes = get<long long>(j, "peak_rss_bytes", src);
  r.device = get<std::string>(j, "device", src);
  r.provenance = j.value("provenance", json());
  // Through core's own conversion (PruneResult -> duoscope.run/1 -> record), then what the old
  // document kept beside the result.
  RunRecord rec = RunRecord::fromJson(r.toJson(), src);
  rec.id = get<std::string>(j, "id", src);
  const QDateTime when = QDateTime::fromString(QString::fromStdString(get<std::string>(j, "when", src)), Qt::ISODate);
  rec.created = when.isValid() ? when.toUTC().toString("yyyy-MM-ddTHH:mm:ssZ").toStdString() : RunStore::nowIso8601();
  const double measured = get<double>(j, "measured_speedup", src);
  if (measured > 0) rec.measuredSpeedup = measured;
  return rec;
}

}  // namespace duo::ui
