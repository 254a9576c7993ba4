// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/run_store.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/run_store.h"
#include "ui/core_types.h"
#include "core/io/legacy_runs.h"

namespace duo::ui {

using nlohmann::json;

double RunEntry::metric(const char* name, const char* model) const {
  const RunMetric* m = record.findMetric(name, model);
  return m ? m->value : -1.0;
}

QString RunEntry::perplexityData() const {
  const RunMetric* m = record.findMetric("perplexity", "pruned");
  return m ? QString("%1, seqlen %2").arg(qs(m->data)).arg(m->seqlen) : QString();
}

QString RunEntry::perplexityDomain() const {
  const RunMetric* m = record.findMetric("perplexity", "pruned");
  return m ? qs(record.domainOf(*m)) : QString();
}

QVector<RunEntry::DomainPerplexity> RunEntry::perplexities() const {
  QVector<DomainPerplexity> out;
  for (const RunMetric& m : record.metrics) {
    if (m.kind != "perplexity" || m.model != "pruned") continue;
    double dense = -1;
    for (const RunMetric& d : record.metrics)
      if (d.kind == "perplexity" && d.model == "dense" && d.data == m.data) dense = d.value;
    out.append({m.value, dense, qs(m.data), qs(record.domainOf(m))});
  }
  return out;
}

QString RunEntry::taskName() const {
  const RunMetric* m = record.findMetric("acc", "pruned");
  return m ? qs(m->data) : QString();
}

double RunEntry::secondsTotal() const {
  const auto it = record.timings.find("total");
  return it == record.timings.end() ? 0.0 : it->second;
}

PruneRequest RunEntry::request(const PruneRequest& base) const {
  PruneRequest q = base;
  const RunRecord& r = record;
  q.model = r.model.path;
  methodFromName(r.method, &q.method);
  q.sparsity = SparsityPlan::table(r.sparsity);
  const json& o = r.options;
  if (o.is_object()) {
    if (o.contains("score") && o["score"].is_string()) scoreFromName(o["score"].get<std::string>(), &q.score);
    if (o.contains("alpha") && o["alpha"].is_number()) q.alpha = o["alpha"].get<double>();
    if (o.contains("damp") && o["damp"].is_number()) q.damp = o["damp"].get<double>();
    if (o.contains("block_size") && o["block_size"].is_number()) q.blockSize = o["block_size"].get<int>();
  }
  q.calibSource = r.data.corpus;
  q.nsamples = r.data.nsamples;
  q.seqlen = r.data.seqlen;
  q.seed = r.data.seed;
  if (const RunMetric* p = r.findMetric("perplexity", "pruned")) {
    q.eval = true;
    q.evalSource = p->data;
  }
  return q;
}

QString RunEntry::modelName() const {
  const QString path = qs(record.model.path);
  const QString name = path.isEmpty() ? QString() : QFileInfo(QDir::cleanPath(path)).fileName();
  return name.isEmpty() ? qs(record.model.name) : name;
}

QString RunEntry::checkpointDir() const {
  const QString dir = qs(record.outDir);
  return !dir.isEmpty() && QFileInfo::exists(dir + "/config.json") ? dir : QString();
}

RunEntry entryOf(const RunRecord& record) {
  RunEntry e;
  e.id = qs(record.id);
  e.when = QDateTime::fromString(qs(record.created), Qt::ISODate).toLocalTime();
  e.record = record;
  return e;
}

RunRecord recordOf(const PruneResult& result, const SpeedCheck& speed, double calibratedSpeedup,
                   const QString& timingProfile) {
  // The same conversion `duoscope-cli prune` uses for its run store.
  RunRecord rec = RunRecord::fromJson(result.toJson(), "the finished run");
  rec.id.clear();
  if (speed.measured()) {
    rec.measuredSpeedup = speed.speedup;
    rec.speedCheck = speed;
  }
  if (calibratedSpeedup > 0) {
    rec.calibratedSpeedup = calibratedSpeedup;
    rec.timingProfile = ss(timingProfile);
  }
  return rec;
}

RunStore::RunStore(QObject* parent) : QObject(parent) {}

QString RunStore::defaultDirectory() {
  return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/workspace/runs";
}

void RunStore::setDirectory(const QString& dir) {
  m_dir = dir;
  m_runs.clear();
  QDir().mkpath(dir);
  const duo::RunStore store(ss(dir));
  for (const std::string& id : store.ids()) {
    const std::string path = store.pathOf(id);
    try {
      const json j = json::parse(readFile(path));
      if (j.is_object() && j.contains("schema") && j["schema"] == kLegacyRunSchema) {
        // Written by an older window: convert in place so the CLI lists it too.
        RunRecord rec = legacyRunToRecord(j, path);
        rec.id = id;
        store.save(rec);
        m_runs.append(entryOf(rec));
      } else {
        m_runs.append(entryOf(RunRecord::fromJson(j, path)));
      }
    } catch (const std::exception& e) {
      Q_EMIT loadFailed(qs(path), QString::fromUtf8(e.what()));
    }
  }
  std::stable_sort(m_runs.begin(), m_runs.end(), [](const RunEntry& a, const RunEntry& b) { return a.when < b.when; });
  Q_EMIT changed();
}

const RunEntry* RunStore::find(const QString& id) const {
  for (const RunEntry& r : m_runs)
    if (r.id == id) return &r;
  return nullptr;
}

QString RunStore::weightsDirectory() const { return m_dir.isEmpty() ? QString() : m_dir + "/weights"; }

QVector<RunMarker> RunStore::interrupted() const {
  QVector<RunMarker> out;
  if (m_dir.isEmpty()) return out;
  for (const RunMarker& m : duo::RunStore(ss(m_dir)).interrupted()) out.append(m);
  return out;
}

void RunStore::forgetInterrupted(const QString& id) {
  if (m_dir.isEmpty()) return;
  duo::RunStore(ss(m_dir)).forgetInterrupted(ss(id));
  Q_EMIT changed();
}

const RunEntry& RunStore::add(const PruneResult& result, const SpeedCheck& speed, double calibratedSpeedup,
                              const QString& timingProfile, const QString& id) {
  DUO_CHECK(!m_dir.isEmpty(), "run store: no workspace folder set");
  RunRecord rec = recordOf(result, speed, calibratedSpeedup, timingProfile);
  rec.id = ss(id);  // the id its marker announced ("" = a new one)
  duo::RunStore(ss(m_dir)).save(rec);  // assigns a new id and the creation time
  m_runs.append(entryOf(rec));
  Q_EMIT changed();
  return m_runs.last();
}

const RunEntry& RunStore::adopt(const RunRecord& record) {
  DUO_CHECK(!record.id.empty(), "run store: the run has no id (it was not saved)");
  m_runs.append(entryOf(record));
  Q_EMIT changed();
  return m_runs.last();
}

void RunStore::insert(const RunRecord& record) {
  DUO_CHECK(!m_dir.isEmpty(), "run store: no workspace folder set");
  RunRecord rec = record;
  duo::RunStore(ss(m_dir)).save(rec);
  m_runs.append(entryOf(rec));
  Q_EMIT changed();
}

void RunStore::remove(const QString& id) {
  for (int i = 0; i < m_runs.size(); ++i)
    if (m_runs[i].id == id) {
      QFile::remove(qs(duo::RunStore(ss(m_dir)).pathOf(ss(id))));
      // Kept weights go with their run; a folder the user chose (prune --out) stays.
      const QString weights = qs(m_runs[i].record.outDir);
      if (!weights.isEmpty() && QFileInfo(weights).absolutePath() == QFileInfo(weightsDirectory()).absoluteFilePath())
        QDir(weights).removeRecursively();
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
