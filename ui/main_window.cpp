// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/main_window.h"

#include <QAction>
#include <functional>
#include <utility>
#include <QBuffer>
#include <QCloseEvent>
#include <QCoreApplication>
#include <QFileInfo>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QStatusBar>
#include <QTimer>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "ui/background_task.h"
#include "ui/core_types.h"
#include "ui/export_controller.h"
#include "ui/job_controller.h"
#include "ui/panels/allocation_bar.h"
#include "ui/panels/data_panel.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/sensitivity_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/run_controller.h"
#include "ui/run_store.h"
#include "ui/sensitivity_controller.h"
#include "ui/status_line.h"
#include "ui/timing_controller.h"
#include "ui/workspace_autosave.h"
#include "ui/window_menus.h"
#include "ui/workspace_controller.h"

static void initDuoResources() { Q_INIT_RESOURCE(duoscope); }

namespace duo::ui {

MainWindow::MainWindow(QWidget* parent, const QString& runsDir) : QMainWindow(parent) {
  initDuoResources();
  registerCoreTypes();
  setObjectName("mainWindow");
  setWindowTitle("DuoScope");
  setWindowIcon(QIcon(":/icons/duoscope.png"));
  setAcceptDrops(true);

  m_ui.window = this;
  m_ui.job = new JobController(this);
  m_ui.task = new BackgroundTask(this);
  m_ui.runs = new RunStore(this);
  createWindowActions(this);
  wireActions();
  setCentralWidget(m_ui.buildLayout(action("actionCalibrate"), action("actionCancel")));
  buildWindowMenus(this, m_ui);
  m_ui.status = new StatusLine(statusBar());

  // Each controller copies m_ui, so every part exists before the first controller. The run
  // controller listens to the run store before its folder is read (unreadable records are
  // reported); the workspace controller's autosave lives beside that folder.
  m_timing = new TimingController(m_ui, this);
  m_runs = new RunController(m_ui, m_timing, this);
  m_sensitivity = new SensitivityController(m_ui, this);
  m_exports = new ExportController(m_ui, m_runs, this);
  connect(m_ui.modelPanel, &ModelPanel::loadingStarted, this, [this](const QString& path) {
    m_ui.status->setJobState("Reading " + QFileInfo(path).fileName() + "...");
    updateActions();
  });
  connect(m_ui.modelPanel, &ModelPanel::modelOpened, this, &MainWindow::onModelOpened);
  connect(m_ui.modelPanel, &ModelPanel::openFailed, this, [this](const QString& path, const QString& message) {
    m_workspace->dropPendingTable();
    m_ui.status->setJobState("Could not open " + QFileInfo(path).fileName());
    updateActions();
    m_ui.showError("Could not open the model", message);
  });
  connect(m_ui.table, &SparsityTable::failed, this, [this](const QString& t, const QString& m) { m_ui.showError(t, m); });
  wireTask();
  m_ui.runs->setDirectory(runsDir.isEmpty() ? RunStore::defaultDirectory() : runsDir);
  m_workspace = new WorkspaceController(m_ui, this);

  connect(m_runs, &RunController::aboutToStart, m_workspace->autosave(), &WorkspaceAutosave::saveNow);
  connect(m_sensitivity, &SensitivityController::runRequested, m_runs, &RunController::calibrate);
  connect(m_runs, &RunController::actionsChanged, this, &MainWindow::updateActions);
  connect(m_sensitivity, &SensitivityController::actionsChanged, this, &MainWindow::updateActions);
  connect(m_timing, &TimingController::actionsChanged, this, &MainWindow::updateActions);
  QTimer::singleShot(0, m_workspace, &WorkspaceController::offerRestore);
  resize(1280, 800);
  {
    QSettings s;
    if (s.contains("window/geometry")) restoreGeometry(s.value("window/geometry").toByteArray());
    if (s.contains("window/state")) restoreState(s.value("window/state").toByteArray());
  }
  m_ui.loadSettings();
  m_timing->restore();
  m_runs->refreshPlotTitles();
  updateActions();
}

MainWindow::~MainWindow() = default;

QAction* MainWindow::action(const QString& objectName) const { return findChild<QAction*>(objectName); }

WorkspaceAutosave* MainWindow::autosave() const { return m_workspace->autosave(); }

void MainWindow::wireActions() {
  const std::pair<const char*, std::function<void()>> handlers[] = {
      {"actionOpen", [this] { m_ui.modelPanel->browse(); }},
      {"actionOpenWorkspace", [this] { m_workspace->open(); }},
      {"actionSaveWorkspace", [this] { m_workspace->saveAs(); }},
      {"actionExport", [this] { m_exports->exportConfig(); }},
      {"actionImportConfig", [this] { m_exports->importConfig(); }},
      {"actionExportRecipe", [this] { m_exports->exportRecipe(); }},
      {"actionExportCsv", [this] { m_exports->exportCsv(); }},
      {"actionExportPlot", [this] { m_exports->exportPlot(); }},
      {"actionExportCheckpoint", [this] { m_runs->exportCheckpoint(); }},
      {"actionExportCheckpointBitmask", [this] { m_runs->exportCheckpoint(QString(), "sparse-bitmask"); }},
      {"actionQuit", [this] { close(); }},
      {"actionCalibrate", [this] { m_runs->calibrate(); }},
      {"actionCancel", [this] { m_runs->cancel(); }},
      {"actionSensitivity", [this] { m_sensitivity->run(); }},
      {"actionMeasureTiming", [this] { m_timing->measure(); }},
      {"actionLoadTiming", [this] { m_timing->load(); }},
      {"actionClearTiming", [this] { m_timing->clear(); }},
      {"actionCopyCommandLine", [this] { m_exports->copyCommandLine(); }},
      {"actionMakeTask", [this] { m_exports->makeTask(); }},
      {"actionAbout",
       [this] {
         QMessageBox::about(this, "About DuoScope",
                            "<b>DuoScope</b><br>A workbench for pruning LLaMA-family models with dual sparsity: "
                            "unstructured weight pruning plus runtime activation sparsity (DuoGPT).<br><br>"
                            "Compute by LibTorch (" +
                                qs(device().description) + "). Plots by QCustomPlot (GPL-3.0).");
       }},
  };
  for (const auto& [name, handler] : handlers) connect(action(name), &QAction::triggered, this, handler);
}

void MainWindow::wireTask() {
  // The background tasks' own ends are in their TaskSpecs; here only what every task shares.
  BackgroundTask* task = m_ui.task;
  connect(task, &BackgroundTask::started, this, [this, task] {
    m_ui.status->setJobState(task->spec().busyText);
    updateActions();
  });
  connect(task, &BackgroundTask::progressed, this, [this](const JobProgress& p) {
    m_ui.status->setJobState(QString("%1 %2").arg(p.stage, p.detail));
  });
  connect(task, &BackgroundTask::finished, this, [this] { updateActions(); });
  connect(task, &BackgroundTask::cancelled, this, [this](const QString& name) {
    m_ui.status->setJobState("Cancelled " + name + ": nothing changed");
    updateActions();
  });
  connect(task, &BackgroundTask::failed, this, [this, task](const QString& name, const QString& message) {
    m_ui.status->setJobState(name + " failed");
    updateActions();
    m_ui.showError(task->spec().failTitle, message);
  });
}

void MainWindow::updateActions() {
  const bool busy = m_ui.isBusy();
  const bool loading = m_ui.modelPanel->isLoading();
  const bool model = m_ui.modelPanel->hasModel();
  const bool hasRun = m_ui.runs->find(m_runs->shownRunId()) != nullptr;
  action("actionOpen")->setEnabled(!busy && !loading);
  action("actionOpenWorkspace")->setEnabled(!busy && !loading);
  action("actionSaveWorkspace")->setEnabled(model);
  action("actionCalibrate")->setEnabled(model && !busy && !loading);
  action("actionCancel")->setEnabled(m_ui.job->state() == JobController::State::Running ||
                                     (m_ui.task->isBusy() && !m_ui.task->isCancelling()));
  action("actionSensitivity")->setEnabled(model && !busy && !loading);
  action("actionMakeTask")->setEnabled(!busy);
  action("actionCopyCommandLine")->setEnabled(model && !loading);
  action("actionMeasureTiming")->setEnabled(model && !busy && !loading);
  action("actionClearTiming")->setEnabled(m_timing->profile() != nullptr);
  m_ui.sensPanel->setRunEnabled(model && !busy && !loading);
  m_ui.allocBar->setEnabled(model && !busy);
  m_ui.allocBar->setRunEnabled(model && !busy && !loading);
  action("actionExport")->setEnabled(model);
  action("actionImportConfig")->setEnabled(model && !busy);
  action("actionExportRecipe")->setEnabled(model);
  action("actionExportCsv")->setEnabled(hasRun || !m_ui.job->records().isEmpty());
  action("actionExportCheckpoint")->setEnabled(model && !busy && !loading);
  action("actionExportCheckpointBitmask")->setEnabled(model && !busy && !loading);
  m_ui.table->setEnabled(model && !busy);
  m_ui.modelPanel->setEnabled(!busy);
}

void MainWindow::onModelOpened(const ModelInfo& info) {
  m_ui.table->setModelConfig(info.config);
  m_workspace->applyPendingTable(info.config);
  m_sensitivity->clear();
  m_ui.dataPanel->setModelDefaults(info.parameters, device().cuda, info.path);
  m_runs->onModelOpened(info);
  // The file or folder name is what the user opened; GGUF's internal name can say something else.
  const QString shown = m_ui.modelDisplayName();
  setWindowTitle(shown == qs(info.name) || info.name.empty() ? QString("DuoScope — %1").arg(shown)
                                                            : QString("DuoScope — %1 (%2)").arg(shown, qs(info.name)));
  m_ui.status->setJobState(QString("Opened %1 (%2 layers, %3 parameters)")
                               .arg(qs(info.name))
                               .arg(info.config.numLayers)
                               .arg(formatCount(static_cast<double>(info.parameters))));
  updateActions();
}

void MainWindow::saveScreenshot(const QString& path) {
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  // Plots replot on a queued event: let pending ones run so the picture shows the current state
  // (a model opened just before showed its predecessor's axes and placeholder).
  QCoreApplication::sendPostedEvents();
  QCoreApplication::processEvents();
  DUO_CHECK(grab().save(&buffer, "PNG"), "screenshot '", ss(path), "': PNG encoding failed");
  writeFileAtomic(ss(path), std::string(bytes.constData(), static_cast<size_t>(bytes.size())));
}

void MainWindow::closeEvent(QCloseEvent* e) {
  // The controllers' destructors wait for their workers; a cancelled run's marker goes with it.
  if (m_ui.job->isBusy()) m_ui.job->cancel();
  if (m_ui.task->isBusy()) m_ui.task->cancel();
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  m_ui.saveSettings();
  m_workspace->autosave()->close();  // an orderly end: nothing to offer at the next start
  e->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  const QList<QUrl> urls = e->mimeData()->urls();
  if (urls.isEmpty() || !urls.first().isLocalFile()) return;
  QString path = urls.first().toLocalFile();
  const QFileInfo fi(path);
  if (path.endsWith(".json", Qt::CaseInsensitive) && m_ui.modelPanel->hasModel() && fi.fileName() != "config.json") {
    m_exports->importConfig(path);  // a sparsity config dropped on an open model
  } else {
    if (fi.isFile() && !path.endsWith(".gguf", Qt::CaseInsensitive)) path = fi.absolutePath();
    m_ui.modelPanel->openModel(path);
  }
  e->acceptProposedAction();
}

}  // namespace duo::ui
