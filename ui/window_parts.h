// SPDX-License-Identifier: GPL-3.0-or-later
// The window's widgets and the objects its controllers share: panels, plots, splitters, the run
// store, the status line and the two workers. MainWindow fills it and owns every object in it;
// each controller keeps a copy of the pointers. The helpers read the panels (the request
// Calibrate would start) and show the window's dialogs.
#pragma once
#include <QString>

#include "core/job/prune_job.h"

class QAction;
class QSplitter;
class QTabWidget;
class QWidget;

namespace duo::ui {

class AllocationBar;
class BackgroundTask;
class DataPanel;
class ErrorHeatmap;
class ErrorPlot;
class JobController;
class MethodPanel;
class ModelPanel;
class RunPanel;
class RunStore;
class RunsPanel;
class RunsPlot;
class SensitivityPanel;
class SparsityPlot;
class SparsityTable;
class StatusLine;

struct WindowParts {
  QWidget* window = nullptr;  // the main window: parent of every dialog
  ModelPanel* modelPanel = nullptr;
  DataPanel* dataPanel = nullptr;
  MethodPanel* methodPanel = nullptr;
  SparsityTable* table = nullptr;
  RunPanel* runPanel = nullptr;
  RunsPanel* runsPanel = nullptr;
  QTabWidget* setup = nullptr;  // Model, Data, Method
  QTabWidget* plots = nullptr;  // Error per layer, Error heatmap, Sparsity, Runs, Sensitivity
  ErrorPlot* errorPlot = nullptr;
  ErrorHeatmap* heatmap = nullptr;
  SparsityPlot* sparsityPlot = nullptr;
  RunsPlot* runsPlot = nullptr;
  SensitivityPanel* sensPanel = nullptr;
  AllocationBar* allocBar = nullptr;
  QSplitter* hsplit = nullptr;     // table | plots
  QSplitter* vsplit = nullptr;     // (table | plots) over runs
  QSplitter* leftSplit = nullptr;  // setup tabs over the Run box
  RunStore* runs = nullptr;
  StatusLine* status = nullptr;
  JobController* job = nullptr;   // calibrations
  BackgroundTask* task = nullptr;  // sensitivity, timing, task generation, checkpoint copies

  // Creates the panels, plots and splitters (runs panel over `runs`, the Run box's buttons from the
  // two actions) and returns the central widget.
  QWidget* buildLayout(QAction* calibrate, QAction* cancel);
  // The splitters, the plot tab and the panels' own settings (QSettings "window/...").
  void saveSettings() const;
  void loadSettings();

  // The request Calibrate would start now: model, table, data, method.
  PruneRequest currentRequest() const;
  bool isBusy() const;  // a calibration or a background task runs
  // "SmolLM2-135M-Instruct.Q4_1.gguf": the open model as the title and plots name it ("" when none).
  QString modelDisplayName() const;
  // Non-blocking error dialog (objectName "errorDialog"); the window stays usable.
  void showError(const QString& title, const QString& message) const;
  // A save dialog starting in the last export folder (remembered as "paths/exportDir"); "" when
  // cancelled. Also for folders: it accepts a new folder's name typed in.
  QString askSavePath(const QString& title, const QString& suggested, const QString& filter) const;
};

}  // namespace duo::ui
