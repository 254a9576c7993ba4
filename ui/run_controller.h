// SPDX-License-Identifier: GPL-3.0-or-later
// The window's runs: Calibrate and Cancel, the JobController's signals turned into the Run panel,
// the plots and the status bar, a finished run adopted into the run store, a stored run shown
// again (Runs panel, runs plot), two runs compared, and the pruned-checkpoint export. It also keeps
// what the plots show (the shown run, their titles) and the Run box's memory plan current.
#pragma once
#include <QObject>
#include <QVector>

#include "core/job/run_job.h"
#include "core/model/io/model_info.h"
#include "ui/window_parts.h"

namespace duo::ui {

class TimingController;

class RunController : public QObject {
  Q_OBJECT
 public:
  // Speed predictions and measurements of each run use `timing`'s profile.
  RunController(const WindowParts& parts, const TimingController* timing, QObject* parent = nullptr);

  // The stored run whose records the plots show ("" when none: a new run or nothing).
  const QString& shownRunId() const { return m_shownRunId; }
  // A new model is open: the plots' axes and titles, the Run box and the memory plan follow it.
  void onModelOpened(const ModelInfo& info);

 public Q_SLOTS:
  void calibrate();
  void cancel();  // the calibration and any background task
  // Shows a stored run: its table and settings (when it fits the open model) and its plots.
  void loadRun(const QString& id);
  void compareRuns(const QString& a, const QString& b);
  // The shown run's pruned weights written to `dir` (asks when empty) in `format` ("dense" or
  // "sparse-bitmask", prune --out-format), from the weights the window kept for that run, without
  // calibrating again and without a new run. A run whose weights were not kept (the keep option
  // off, an older or imported run) is calibrated again with its own settings and seed; with no run
  // shown, the current setup is calibrated, writing the checkpoint (that is a new run).
  void exportCheckpoint(const QString& dir = QString(), const QString& format = "dense");
  // Which run (method, sparsities, model) and which calibration data the plots show.
  void refreshPlotTitles();
  // The Data tab's calibration advice and the Run box's memory plan for the current setup.
  void refreshMemoryPlan();

 Q_SIGNALS:
  // A finished run was stored (after the runs list and plot updated).
  void runStored(const QString& id);
  // A calibration is about to start (the window saves its setup first: a window killed mid-run
  // leaves the setup of the run it was making).
  void aboutToStart();
  // What the window's actions depend on changed (a job started or ended, another run shown).
  void actionsChanged();

 private:
  void wireJob();
  void onJobFinished(const RunOutcome& outcome);
  void showRecords(const QVector<ProjRecord>& records);
  // Starts a calibration of `req` (calibrate() and the checkpoint export's fallback).
  void startJob(PruneRequest req);

  WindowParts m_ui;
  const TimingController* m_timing;
  QString m_shownRunId;
  QString m_checkpointDir;               // set while a checkpoint export runs
  QString m_checkpointFormat = "dense";  // its --out-format
  QString m_checkpointRunId;             // the run whose weights a checkpoint export re-makes ("": none)
  QString m_plotSubject;                 // what the plots show: "duogpt W50/A50 on <model>"
};

}  // namespace duo::ui
