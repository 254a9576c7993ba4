// SPDX-License-Identifier: GPL-3.0-or-later
// The DuoScope window. It only wires: it builds the panels (WindowParts) and the actions, menus
// and toolbar (window_menus), connects the actions and panels to the typed controllers that do
// the work (runs, sensitivity, timing profiles, exports, workspaces), keeps the actions' enabled
// state and saves its geometry. Tests and the app reach panels and controllers through accessors.
#pragma once
#include <QMainWindow>

#include "core/model/io/model_info.h"
#include "ui/window_parts.h"

namespace duo::ui {

class ExportController;
class RunController;
class SensitivityController;
class TimingController;
class WorkspaceAutosave;
class WorkspaceController;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  // `runsDir` overrides the workspace's run folder (tests use a temporary one).
  explicit MainWindow(QWidget* parent = nullptr, const QString& runsDir = QString());
  ~MainWindow() override;

  ModelPanel* modelPanel() const { return m_ui.modelPanel; }
  DataPanel* dataPanel() const { return m_ui.dataPanel; }
  MethodPanel* methodPanel() const { return m_ui.methodPanel; }
  SparsityTable* sparsityTable() const { return m_ui.table; }
  RunPanel* runPanel() const { return m_ui.runPanel; }
  RunsPanel* runsPanel() const { return m_ui.runsPanel; }
  ErrorPlot* errorPlot() const { return m_ui.errorPlot; }
  ErrorHeatmap* heatmap() const { return m_ui.heatmap; }
  SparsityPlot* sparsityPlot() const { return m_ui.sparsityPlot; }
  RunsPlot* runsPlot() const { return m_ui.runsPlot; }
  QTabWidget* plotTabs() const { return m_ui.plots; }
  QTabWidget* setupTabs() const { return m_ui.setup; }
  StatusLine* statusLine() const { return m_ui.status; }
  SensitivityPanel* sensitivityPanel() const { return m_ui.sensPanel; }
  AllocationBar* allocationBar() const { return m_ui.allocBar; }
  RunStore* runStore() const { return m_ui.runs; }
  JobController* job() const { return m_ui.job; }
  // The worker for sensitivity, timing, task generation and checkpoint copies (one at a time,
  // never beside a calibration).
  BackgroundTask* task() const { return m_ui.task; }
  WorkspaceAutosave* autosave() const;
  RunController* runController() const { return m_runs; }
  SensitivityController* sensitivityController() const { return m_sensitivity; }
  TimingController* timingController() const { return m_timing; }
  ExportController* exportController() const { return m_exports; }
  WorkspaceController* workspaceController() const { return m_workspace; }
  QAction* action(const QString& objectName) const;

  // The request Calibrate would start now: model, table, data, method.
  PruneRequest currentRequest() const { return m_ui.currentRequest(); }
  // Renders the whole window into a PNG (works offscreen); throws duo::Error on failure.
  void saveScreenshot(const QString& path);

 protected:
  void closeEvent(QCloseEvent* e) override;
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;

 private:
  void wireActions();  // each action to the controller that does its work
  void wireTask();     // the status bar and the actions follow every background task
  void updateActions();
  void onModelOpened(const ModelInfo& info);

  WindowParts m_ui;
  RunController* m_runs = nullptr;
  SensitivityController* m_sensitivity = nullptr;
  TimingController* m_timing = nullptr;
  ExportController* m_exports = nullptr;
  WorkspaceController* m_workspace = nullptr;
};

}  // namespace duo::ui
