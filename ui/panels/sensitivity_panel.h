// SPDX-License-Identifier: GPL-3.0-or-later
// The Sensitivity tab: runs core's sensitivity job (core/job/sensitivity_job.h) on the
// open model and the Data tab's calibration settings in a worker (progress, Cancel), then shows
// per-layer curves (ui/plots/sensitivity_plot.h) and a sortable table of every projection, most
// sensitive first (predicted error at the grid point nearest W50/A50), with the allocated
// (p_w, p_a) of each projection once the target-speedup slider has allocated.
#pragma once
#include <QWidget>
#include <memory>

#include "core/job/allocate.h"
#include "ui/job_progress.h"

class QLabel;
class QProgressBar;
class QPushButton;
class QSplitter;
class QTableWidget;

namespace duo::ui {

class SensitivityPlot;

class SensitivityPanel : public QWidget {
  Q_OBJECT
 public:
  enum Column { ColLayer = 0, ColProj, ColError, ColWeightTerm, ColActTerm, ColAllocW, ColAllocA, ColAllocError, ColCount };

  explicit SensitivityPanel(QWidget* parent = nullptr);

  SensitivityPlot* plot() const { return m_plot; }
  QTableWidget* table() const { return m_table; }
  QPushButton* runButton() const { return m_run; }
  QPushButton* cancelButton() const { return m_cancel; }
  const SensitivityTable* sensitivity() const { return m_sens.get(); }

  void setSensitivity(const std::shared_ptr<const SensitivityTable>& t);
  void clear(const QString& why);
  void setAllocation(const Allocation& a);
  void setRunEnabled(bool on);

 public Q_SLOTS:
  void onStarted();
  void onProgress(const duo::ui::JobProgress& p);
  void onCancelled();
  void onFailed(const QString& message);

 Q_SIGNALS:
  void runRequested();
  void cancelRequested();

 private:
  void fillTable();

  std::shared_ptr<const SensitivityTable> m_sens;
  QPushButton* m_run;
  QPushButton* m_cancel;
  QProgressBar* m_bar;
  QLabel* m_status;
  QSplitter* m_split;
  SensitivityPlot* m_plot;
  QTableWidget* m_table;
};

}  // namespace duo::ui
