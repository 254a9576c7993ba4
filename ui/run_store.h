// SPDX-License-Identifier: GPL-3.0-or-later
// The window's runs on disk, in core's run-record format: one `duoscope.run-record/1` file per
// run (core/io/run_record.h) in a core RunStore folder, so `duoscope-cli runs list --runs-dir
// <folder>` lists exactly what the Runs panel shows. The window's workspace keeps its own folder
// (<app data>/workspace/runs, or beside an opened workspace file). Files the window wrote before
// (`duoscope.ui-run/1`) are converted to run records in place when the folder is opened.
#pragma once
#include <QDateTime>
#include <QObject>
#include <QVector>

#include "core/io/run_record.h"
#include "core/io/run_store.h"
#include "core/job/prune_job.h"

namespace duo::ui {

// One stored run as the window shows it: core's record plus the values the panels read.
struct RunEntry {
  QString id;       // the record's store id
  QDateTime when;   // the record's creation time (local)
  RunRecord record;

  QString label() const { return QString::fromStdString(record.label()); }
  // Metrics of the record, -1 when it has none.
  double metric(const char* name, const char* model = "pruned") const;
  double perplexity() const { return metric("perplexity"); }
  double accuracy() const { return metric("acc"); }
  double accuracyNorm() const { return metric("acc_norm"); }
  double measuredSpeedup() const { return record.measuredSpeedup ? *record.measuredSpeedup : -1.0; }
  // A measured speedup whose check raised no flag (records from before the check count as unchecked).
  bool speedTrusted() const { return record.speedCheck && record.speedCheck->trusted(); }
  // The model's folder or file name ("SmolLM2-135M-Instruct.Q4_1.gguf", "duo-tiny-kjv").
  QString modelName() const;
  // The kept pruned checkpoint (the window's weights folder or prune --out), "" when none exists.
  QString checkpointDir() const;
  // "kjv:eval, seqlen 64" for the perplexity, the task name for accuracy ("" when absent).
  QString perplexityData() const;
  // The perplexity's data against the calibration corpus: "in-domain", "held-out", "mixed" ("" without one).
  QString perplexityDomain() const;
  // The pruned model's perplexities with their corpus's relation to the calibration corpus, in the
  // record's order (the first is perplexity()).
  struct DomainPerplexity {
    double value, dense;  // dense: -1 when the record has none for that corpus
    QString data, domain;
  };
  QVector<DomainPerplexity> perplexities() const;
  QString taskName() const;
  double secondsTotal() const;
  // The run's settings as a request: `base` (the window's current request) with the record's
  // model, method, options, calibration data and sparsity written over it.
  PruneRequest request(const PruneRequest& base) const;
};

RunEntry entryOf(const RunRecord& record);
// The record of a finished job (core's PruneResult -> run record conversion) with the measured
// speedup and its check (not measured: check.measured() is false); id and time are assigned by
// the store. calibratedSpeedup > 0: a timing profile's prediction for the run (from `timingProfile`).
RunRecord recordOf(const PruneResult& result, const SpeedCheck& speed = {}, double calibratedSpeedup = 0,
                   const QString& timingProfile = QString());

class RunStore : public QObject {
  Q_OBJECT
 public:
  explicit RunStore(QObject* parent = nullptr);

  // The folder holding <id>.json run records; created when missing. Reloads the list; files that
  // do not parse are skipped and reported through loadFailed().
  void setDirectory(const QString& dir);
  QString directory() const { return m_dir; }
  // The default workspace: <AppDataLocation>/workspace/runs.
  static QString defaultDirectory();

  const QVector<RunEntry>& runs() const { return m_runs; }
  const RunEntry* find(const QString& id) const;

  // Saves a finished run (core's RunStore::save: new id, atomic write) and appends it.
  const RunEntry& add(const PruneResult& result, const SpeedCheck& speed = {}, double calibratedSpeedup = 0,
                      const QString& timingProfile = QString(), const QString& id = QString());
  // Appends a record core's runJob already saved in this folder (under its own id).
  const RunEntry& adopt(const RunRecord& record);
  // Runs whose process ended before they finished (core RunStore::interrupted), oldest first.
  QVector<RunMarker> interrupted() const;
  void forgetInterrupted(const QString& id);
  // Where the window keeps runs' pruned weights: <directory>/weights. A run's folder there is
  // deleted with the run; folders elsewhere (prune --out) never are.
  QString weightsDirectory() const;
  // Adds an existing record under its own id (workspace restore) and writes it to this folder.
  void insert(const RunRecord& record);
  void remove(const QString& id);
  void clear();  // forgets the list (files stay)

 Q_SIGNALS:
  void changed();
  void loadFailed(const QString& file, const QString& message);

 private:
  QString m_dir;
  QVector<RunEntry> m_runs;
};

}  // namespace duo::ui
