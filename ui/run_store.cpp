#include "ui/run_store.h"

#include <QDir>
#include <QFile>
#include <QStandardPaths>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "ui/core_types.h"

namespace duo::ui {

using nlohmann::json;

QString RunEntry::label() const {
  const PruneResult& r = result;
  const SparsityConfig& s = r.sparsity;
  const double w = s.numLayers() > 0 ? s.meanWeight() : r.request.uniformWeight;
  const double a = s.numLayers() > 0 ? s.meanAct() : r.request.uniformAct;
  return QString("%1 W%2/A%3").arg(methodName(r.request.method)).arg(w * 100.0, 0, 'f', 0).arg(a * 100.0, 0, 'f', 0);
}

namespace {

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

template <typename T>
T get(const json& j, const char* key, const std::string& source) {
  DUO_CHECK(j.contains(key), source, ": missing field '", key, "'");
  try {
    return j.at(key).get<T>();
  } catch (const std::exception& e) {
    fail(source, ": field '", key, "': ", e.what());
  }
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

}  // namespace

json runToJson(const RunEntry& run) {
  const PruneResult& r = run.result;
  json records = json::array();
  for (const ProjRecord& p : r.records)
    records.push_back({{"layer", p.layer},
                       {"proj", projName(p.proj)},
                       {"weight_sparsity", p.weightSparsity},
                       {"act_sparsity", p.actSparsity},
                       {"rel_error", p.relError},
                       {"rel_error_mask_only", p.relErrorMaskOnly},
                       {"seconds", p.seconds}});
  const EvalResult& e = r.eval;
  return {{"schema", kRunSchema},
          {"id", ss(run.id)},
          {"when", ss(run.when.toString(Qt::ISODate))},
          {"measured_speedup", run.measuredSpeedup},
          {"request", requestToJson(r.request)},
          {"sparsity", r.sparsity.toJson()},
          {"records", records},
          {"eval",
           {{"done", e.done}, {"perplexity", e.perplexity}, {"dense_perplexity", e.densePerplexity},
            {"tokens", e.tokens}, {"windows", e.windows}, {"seqlen", e.seqlen}, {"accuracy", e.accuracy},
            {"accuracy_norm", e.accuracyNorm}, {"dense_accuracy", e.denseAccuracy}, {"task_items", e.taskItems}}},
          {"weight_sparsity", r.weightSparsity},
          {"act_sparsity", r.actSparsity},
          {"predicted_speedup", r.predictedSpeedup},
          {"seconds",
           {{"total", r.secondsTotal}, {"forward", r.secondsForward}, {"stats", r.secondsStats},
            {"solve", r.secondsSolve}, {"eval", r.secondsEval}}},
          {"peak_rss_bytes", r.peakRssBytes},
          {"device", r.device},
          {"provenance", r.provenance}};
}

RunEntry runFromJson(const json& j, const QString& source) {
  const std::string src = ss(source);
  DUO_CHECK(j.is_object(), src, ": expected a JSON object");
  DUO_CHECK(j.value("schema", "") == kRunSchema, src, ": schema ", j.value("schema", json()).dump(), " is not ",
            kRunSchema);
  RunEntry run;
  run.id = qs(get<std::string>(j, "id", src));
  run.when = QDateTime::fromString(qs(get<std::string>(j, "when", src)), Qt::ISODate);
  run.measuredSpeedup = get<double>(j, "measured_speedup", src);
  PruneResult& r = run.result;
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
  return run;
}

RunStore::RunStore(QObject* parent) : QObject(parent) {}

QString RunStore::defaultDirectory() {
  return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/workspace/runs";
}

QString RunStore::pathOf(const QString& id) const { return m_dir + "/" + id + ".json"; }

void RunStore::setDirectory(const QString& dir) {
  m_dir = dir;
  m_runs.clear();
  QDir().mkpath(dir);
  const QStringList files = QDir(dir).entryList({"run-*.json"}, QDir::Files, QDir::Name);
  for (const QString& f : files) {
    const QString path = QDir(dir).filePath(f);
    try {
      m_runs.append(runFromJson(json::parse(readFile(ss(path))), path));
    } catch (const std::exception& e) {
      Q_EMIT loadFailed(path, QString::fromUtf8(e.what()));
    }
  }
  std::sort(m_runs.begin(), m_runs.end(), [](const RunEntry& a, const RunEntry& b) { return a.when < b.when; });
  Q_EMIT changed();
}

const RunEntry* RunStore::find(const QString& id) const {
  for (const RunEntry& r : m_runs)
    if (r.id == id) return &r;
  return nullptr;
}

const RunEntry& RunStore::add(const PruneResult& result) {
  RunEntry run;
  run.when = QDateTime::currentDateTime();
  run.result = result;
  const QString base = "run-" + run.when.toString("yyyyMMdd-HHmmss") + "-" + methodName(result.request.method);
  run.id = base;
  for (int i = 2; find(run.id) || QFile::exists(pathOf(run.id)); ++i) run.id = QString("%1-%2").arg(base).arg(i);
  insert(run);
  return m_runs.last();
}

void RunStore::insert(const RunEntry& run) {
  DUO_CHECK(!m_dir.isEmpty(), "run store: no workspace folder set");
  writeFileAtomic(ss(pathOf(run.id)), runToJson(run).dump(1));
  m_runs.append(run);
  Q_EMIT changed();
}

void RunStore::remove(const QString& id) {
  for (int i = 0; i < m_runs.size(); ++i)
    if (m_runs[i].id == id) {
      QFile::remove(pathOf(id));
      m_runs.removeAt(i);
      Q_EMIT changed();
      return;
    }
}

void RunStore::clear() {
  m_runs.clear();
  Q_EMIT changed();
}

}  // namespace duo::ui
