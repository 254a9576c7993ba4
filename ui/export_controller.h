// SPDX-License-Identifier: GPL-3.0-or-later
// The files the window writes on request, each to a path it asks for when given none: File >
// Export (sparsity config, recipe, records, plot), File > Import sparsity config, Run > Copy
// command line and Run > Make cloze task. The pruned checkpoint is RunController's: it may start a
// calibration.
#pragma once
#include <QObject>

#include "ui/window_parts.h"

namespace duo::ui {

class RunController;

class ExportController : public QObject {
  Q_OBJECT
 public:
  // The recipe and the records are the run `runs` shows, else the current setup's.
  ExportController(const WindowParts& parts, const RunController* runs, QObject* parent = nullptr);

 public Q_SLOTS:
  void exportConfig(const QString& path = QString());
  void importConfig(const QString& path = QString());
  void exportRecipe(const QString& path = QString());
  void exportCsv(const QString& path = QString());
  void exportPlot(const QString& path = QString());  // the visible plot, PNG or PDF
  // Writes the table to `configPath` and puts the duoscope-cli command for the current setup on
  // the clipboard (one process, --nproc, torchrun).
  void copyCommandLine(const QString& configPath = QString());
  // Writes a cloze multiple-choice task made from `source` ("kjv:eval", "mix:eval"; the Data tab's
  // evaluation corpus, "auto" resolved, when empty) to `path` in the worker, then sets it as the Data tab's task.
  void makeTask(const QString& path = QString(), const QString& source = QString(), int items = 200);

 private:
  WindowParts m_ui;
  const RunController* m_runs;
};

}  // namespace duo::ui
