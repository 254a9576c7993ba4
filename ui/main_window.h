// The DuoScope window. It only wires panels together: menus, toolbar and shortcuts, the layout,
// the job controller's signals, the run store, settings and the status bar. Each panel and plot
// is its own class; export and workspace actions live in main_window_actions.cpp.
#pragma once
#include <QMainWindow>
#include <memory>
#include <optional>

#include "core/io/speed_check.h"
#include "core/job/allocate.h"
#include "core/job/prune_job.h"
#include "core/job/run_job.h"
#include "core/model/io/model_info.h"
#include "core/perf/bytes_model.h"

class QAction;
class QMenu;
class QSplitter;
class QTabWidget;

namespace duo {
struct Workspace;
}

namespace duo::ui {

class AllocationBar;
class BackgroundTask;
class DataPanel;
class ErrorHeatmap;
class ErrorPlot;
class JobController;
class MethodPanel;
class ModelPanel;
class PlotBase;
class RunPanel;
class RunStore;
class RunsPanel;
class RunsPlot;
class SensitivityPanel;
class SparsityPlot;
class SparsityTable;
class StatusLine;
class WorkspaceAutosave;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  // `runsDir` overrides the workspace's run folder (tests use a temporary one).
  explicit MainWindow(QWidget* parent = nullptr, const QString& runsDir = QString());
  ~MainWindow() override;

  ModelPanel* modelPanel() const { return m_modelPanel; }
  DataPanel* dataPanel() const { return m_dataPanel; }
  MethodPanel* methodPanel() const { return m_methodPanel; }
  SparsityTable* sparsityTable() const { return m_table; }
  RunPanel* runPanel() const { return m_runPanel; }
  RunsPanel* runsPanel() const { return m_runsPanel; }
  ErrorPlot* errorPlot() const { return m_errorPlot; }
  ErrorHeatmap* heatmap() const { return m_heatmap; }
  SparsityPlot* sparsityPlot() const { return m_sparsityPlot; }
  RunsPlot* runsPlot() const { return m_runsPlot; }
  QTabWidget* plotTabs() const { return m_plots; }
  QTabWidget* setupTabs() const { return m_setup; }
  StatusLine* statusLine() const { return m_status; }
  JobController* job() const { return m_job; }
  // The worker for sensitivity and task generation (one at a time, never beside a calibration).
  BackgroundTask* task() const { return m_task; }
  SensitivityPanel* sensitivityPanel() const { return m_sensPanel; }
  AllocationBar* allocationBar() const { return m_allocBar; }
  RunStore* runStore() const { return m_runs; }
  WorkspaceAutosave* autosave() const { return m_autosave; }
  QAction* action(const QString& objectName) const;

  // The request Calibrate would start now: model, table, data, method.
  PruneRequest currentRequest() const;
  // The workspace the window holds now (request, value format, extra evaluation corpora), no runs.
  Workspace currentWorkspace(const QString& runsDir) const;

  // Renders the whole window into a PNG (works offscreen); throws duo::Error on failure.
  void saveScreenshot(const QString& path);

 public Q_SLOTS:
  void openModel(const QString& path);
  void calibrate();
  void cancel();
  // Runs core's sensitivity job on the open model and the Data tab's calibration settings.
  void runSensitivity();
  // Writes a cloze multiple-choice task made from `source` ("kjv:eval") to `path` (asks when
  // empty) in the worker, then sets it as the Data tab's task.
  void makeTask(const QString& path = QString(), const QString& source = QString(), int items = 200);
  // Shows a stored run: its table and settings (when it fits the open model) and its plots.
  void loadRun(const QString& id);
  void compareRuns(const QString& a, const QString& b);
  // Exports (each asks for a path when `path` is empty).
  void exportConfig(const QString& path = QString());
  void importConfig(const QString& path = QString());
  void exportRecipe(const QString& path = QString());
  void exportCsv(const QString& path = QString());
  void exportPlot(const QString& path = QString());
  // The shown run's pruned weights written to `dir` (asks when empty) in `format` ("dense" or
  // "sparse-bitmask", prune --out-format), from the weights the window kept for that run, without
  // calibrating again and without a new run. A run whose weights were not kept (the keep option
  // off, an older or imported run) is calibrated again with its own settings and seed; with no run
  // shown, the current setup is calibrated, writing the checkpoint (that is a new run).
  void exportCheckpoint(const QString& dir = QString(), const QString& format = "dense");
  // Run > Copy command line: writes the table to `configPath` (asks when empty) and puts the
  // duoscope-cli command for the current setup on the clipboard (one process, --nproc, torchrun).
  void copyCommandLine(const QString& configPath = QString());
  void saveWorkspaceAs(const QString& path = QString());
  void openWorkspace(const QString& path = QString());
  // When an earlier window in the same workspace folder ended without closing (killed, crashed),
  // offers its autosaved workspace (a non-modal box, objectName "restoreOffer": Restore, Discard,
  // or Later, which keeps it for the next start). The window calls it once it has started.
  void offerRestore();
  // Restores an autosaved workspace: its run folder (interrupted runs marked), model, data, method
  // and table. False, with an error dialog naming the file, when it cannot be read.
  bool restoreAutosave(const QString& path);
  // Timing profiles (docs/gui.md): speed predictions (totals, slider, run results) from kernel
  // lines measured on this machine instead of the bytes model. load asks for the file when `path`
  // is empty, shows an error naming the file and keeps the previous profile when it cannot be read;
  // the profile is remembered for the next start. measure times the open model's decode step in the
  // background (cancellable), saves the profile to `path` (asks when empty) and loads it.
  bool loadTimingProfile(const QString& path = QString());
  void clearTimingProfile();
  void measureTimingProfile(const QString& path = QString());
  const std::shared_ptr<const perf::TimingProfile>& timingProfile() const { return m_timing; }

  // Non-blocking error dialog (objectName "errorDialog"); the window stays usable.
  void showError(const QString& title, const QString& message);

 Q_SIGNALS:
  // A finished run was stored (after the runs list and plot updated).
  void runStored(const QString& id);

 protected:
  void closeEvent(QCloseEvent* e) override;
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;

 private:
  void buildActions();
  void buildMenus();
  void buildLayout();
  void wireJob();
  void updateActions();
  void fillRecentMenu();
  void onModelOpened(const ModelInfo& info);
  void onJobFinished(const RunOutcome& outcome);
  void onSensitivity(const SensitivityTable& table);  // a finished sensitivity job
  void onAllocated(const Allocation& a);
  void setTimingProfile(std::shared_ptr<const perf::TimingProfile> profile);
  void restoreTimingProfile();  // the last session's profile (settings), quietly
  void applyPreset(const QString& kind);
  bool isBusy() const;
  void showRecords(const QVector<ProjRecord>& records);
  void refreshPlotTitles();
  // Starts a calibration of `req` (calibrate() and the checkpoint export's fallback).
  void startJob(PruneRequest req);
  // "SmolLM2-135M-Instruct.Q4_1.gguf": the open model as the title and plots name it.
  QString modelDisplayName() const;
  void refreshMemoryPlan();
  // Shows a workspace's settings and runs, its runs kept in `runsDir`; opens its model.
  void applyWorkspace(const Workspace& ws, const QString& runsDir);
  QString askSavePath(const QString& title, const QString& suggested, const QString& filter);
  void saveSettings() const;
  void loadSettings();

  ModelPanel* m_modelPanel = nullptr;
  DataPanel* m_dataPanel = nullptr;
  MethodPanel* m_methodPanel = nullptr;
  SparsityTable* m_table = nullptr;
  RunPanel* m_runPanel = nullptr;
  RunsPanel* m_runsPanel = nullptr;
  QTabWidget* m_setup = nullptr;
  QTabWidget* m_plots = nullptr;
  ErrorPlot* m_errorPlot = nullptr;
  ErrorHeatmap* m_heatmap = nullptr;
  SparsityPlot* m_sparsityPlot = nullptr;
  RunsPlot* m_runsPlot = nullptr;
  QSplitter* m_hsplit = nullptr;
  QSplitter* m_vsplit = nullptr;
  QSplitter* m_leftSplit = nullptr;
  StatusLine* m_status = nullptr;
  JobController* m_job = nullptr;
  BackgroundTask* m_task = nullptr;
  SensitivityPanel* m_sensPanel = nullptr;
  AllocationBar* m_allocBar = nullptr;
  RunStore* m_runs = nullptr;
  QMenu* m_recentMenu = nullptr;
  QString m_shownRunId;                          // the run whose records the plots show
  std::optional<SparsityConfig> m_pendingTable;  // applied once the model being opened arrives
  QString m_checkpointDir;                       // set while a checkpoint export runs
  QString m_checkpointFormat = "dense";          // its --out-format
  QString m_checkpointRunId;                     // the run whose weights a checkpoint export re-makes ("": none)
  QString m_plotSubject;                         // what the plots show: "duogpt W50/A50 on <model>"
  WorkspaceAutosave* m_autosave = nullptr;
  std::shared_ptr<const perf::TimingProfile> m_timing;  // File > Load timing profile; null: bytes model
};

}  // namespace duo::ui
