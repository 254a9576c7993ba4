// SPDX-License-Identifier: GPL-3.0-or-later
// Run panel: Calibrate / Cancel (the window's actions), a progress bar with the current stage,
// layer and projection, elapsed time and ETA, whether to measure the decode speedup after the run,
// the memory plan of the run as set up (beside the buttons), and the last run's headline numbers (perplexity, accuracy, predicted and measured speedup).
#pragma once
#include <QWidget>

#include "core/job/prune_job.h"
#include "ui/job_controller.h"
#include "ui/run_store.h"

class QAction;
class QCheckBox;
class QLabel;
class QProgressBar;

namespace duo::ui {

class RunPanel : public QWidget {
  Q_OBJECT
 public:
  RunPanel(QAction* calibrate, QAction* cancel, QWidget* parent = nullptr);

  QProgressBar* progressBar() const { return m_bar; }
  // Whether the next run also measures its decode speedup (remembered in QSettings).
  bool measureSpeedup() const;
  void setMeasureSpeedup(bool on);
  // Whether each run's pruned weights are kept beside its record, so that Export > Pruned
  // checkpoint writes them without calibrating again (remembered in QSettings; default on).
  bool keepWeights() const;
  void setKeepWeights(bool on);

 public Q_SLOTS:
  void onStarted();
  void onProgress(const duo::ui::JobProgress& p);
  // The run as stored: its record (with the timing profile's prediction and the measured speed).
  void onFinished(const duo::RunOutcome& outcome);
  // A stored run's numbers (Load), named as such; clear() empties the result (new model, new run).
  void showRun(const duo::RunRecord& record, const QString& label);
  void clearResult();
  QLabel* resultLabel() const { return m_result; }
  void onCancelling();
  void onCancelled();
  void onFailed(const QString& message);
  // The memory plan of the run set up now (core/job/memory_plan.h): total against what is free,
  // each term in the tooltip, red when it does not fit. An empty message clears it.
  void setMemoryPlan(const duo::MemoryPlan& plan);
  void setMemoryPlanError(const QString& message);

 private:
  QLabel* m_plan;
  QCheckBox* m_measure;
  QCheckBox* m_keep;
  QProgressBar* m_bar;
  QLabel* m_stage;
  QLabel* m_eta;
  QLabel* m_result;
};

}  // namespace duo::ui
