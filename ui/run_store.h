// The workspace's runs on disk: one JSON file per finished run (request, applied sparsity,
// per-projection records, evaluation, speedups, timings), written atomically, listed on start.
//
// Until core/io's run records land this is the window's own document (schema kRunSchema); the
// fields are those of duo::PruneResult, so switching to core/io changes only this file.
#pragma once
#include <QDateTime>
#include <QObject>
#include <QVector>

#include <nlohmann/json.hpp>

#include "core/job/prune_job.h"

namespace duo::ui {

struct RunEntry {
  QString id;                  // file stem, unique in the workspace
  QDateTime when;              // when the run finished
  PruneResult result;
  double measuredSpeedup = 0;  // from a benchmark of the pruned model; 0 = not measured

  // "duogpt W50/A50" (mean target sparsities) for lists and legends.
  QString label() const;
};

inline constexpr const char* kRunSchema = "duoscope.ui-run/1";

nlohmann::json runToJson(const RunEntry& run);
// Throws duo::Error naming `source` when a field is missing or malformed.
RunEntry runFromJson(const nlohmann::json& j, const QString& source);

class RunStore : public QObject {
  Q_OBJECT
 public:
  explicit RunStore(QObject* parent = nullptr);

  // The folder holding run-*.json; created when missing. Reloads the list; files that do not
  // parse are skipped and reported through loadFailed().
  void setDirectory(const QString& dir);
  QString directory() const { return m_dir; }
  // The default workspace: <AppDataLocation>/workspace/runs.
  static QString defaultDirectory();

  const QVector<RunEntry>& runs() const { return m_runs; }
  const RunEntry* find(const QString& id) const;

  // Saves a finished run and appends it; returns its entry. Throws duo::Error on I/O faults.
  const RunEntry& add(const PruneResult& result);
  // Adds an existing entry (workspace restore) and writes it to this store's folder.
  void insert(const RunEntry& run);
  void remove(const QString& id);
  void clear();  // forgets the list (files stay)

 Q_SIGNALS:
  void changed();
  void loadFailed(const QString& file, const QString& message);

 private:
  QString pathOf(const QString& id) const;
  QString m_dir;
  QVector<RunEntry> m_runs;
};

}  // namespace duo::ui
