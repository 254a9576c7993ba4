#include "ui/main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QCloseEvent>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QGroupBox>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSplitter>
#include <QStatusBar>
#include <QTimer>
#include <QTabWidget>
#include <QToolBar>
#include <QVBoxLayout>

#include "core/common/device.h"
#include "core/io/workspace.h"
#include "core/job/calibration_advice.h"
#include "ui/background_task.h"
#include "ui/core_types.h"
#include "ui/job_controller.h"
#include "ui/panels/allocation_bar.h"
#include "ui/panels/data_panel.h"
#include "ui/panels/method_panel.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/run_panel.h"
#include "ui/panels/runs_panel.h"
#include "ui/panels/sensitivity_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/error_heatmap.h"
#include "ui/plots/error_plot.h"
#include "ui/plots/runs_plot.h"
#include "ui/plots/sparsity_plot.h"
#include "ui/run_store.h"
#include "ui/status_line.h"
#include "ui/workspace_autosave.h"

static void initDuoResources() { Q_INIT_RESOURCE(duoscope); }

namespace duo::ui {

MainWindow::MainWindow(QWidget* parent, const QString& runsDir) : QMainWindow(parent) {
  initDuoResources();
  registerCoreTypes();
  setObjectName("mainWindow");
  setWindowTitle("DuoScope");
  setWindowIcon(QIcon(":/icons/duoscope.png"));
  setAcceptDrops(true);

  m_job = new JobController(this);
  m_task = new BackgroundTask(this);
  m_runs = new RunStore(this);
  buildActions();
  buildLayout();
  buildMenus();
  m_status = new StatusLine(statusBar());
  wireJob();

  connect(m_modelPanel, &ModelPanel::loadingStarted, this, [this](const QString& path) {
    m_status->setJobState("Reading " + QFileInfo(path).fileName() + "...");
    updateActions();
  });
  connect(m_modelPanel, &ModelPanel::modelOpened, this, &MainWindow::onModelOpened);
  connect(m_modelPanel, &ModelPanel::openFailed, this, [this](const QString& path, const QString& message) {
    m_pendingTable.reset();
    m_status->setJobState("Could not open " + QFileInfo(path).fileName());
    updateActions();
    showError("Could not open the model", message);
  });
  connect(m_table, &SparsityTable::failed, this, &MainWindow::showError);
  connect(m_table, &SparsityTable::configChanged, this, [this] {
    if (m_shownRunId.isEmpty()) m_sparsityPlot->setTargets(m_table->config());
  });
  connect(m_dataPanel, &DataPanel::changed, this, &MainWindow::refreshPlotTitles);
  connect(m_dataPanel, &DataPanel::changed, this, &MainWindow::refreshMemoryPlan);
  connect(m_runs, &RunStore::changed, this, [this] { m_runsPlot->setRuns(m_runsPanel->visibleRuns()); });
  connect(m_runsPanel, &RunsPanel::filterChanged, this, [this] { m_runsPlot->setRuns(m_runsPanel->visibleRuns()); });
  connect(m_runs, &RunStore::loadFailed, this, [this](const QString& file, const QString& message) {
    m_status->setJobState("Skipped unreadable run record " + QFileInfo(file).fileName() + ": " + message);
  });
  connect(m_runsPanel, &RunsPanel::loadRequested, this, &MainWindow::loadRun);
  connect(m_runsPanel, &RunsPanel::compareRequested, this, &MainWindow::compareRuns);
  connect(m_runsPlot, &RunsPlot::runClicked, this, &MainWindow::loadRun);
  connect(m_dataPanel, &DataPanel::makeTaskRequested, this, [this] { makeTask(); });

  // Sensitivity and allocation.
  connect(m_sensPanel, &SensitivityPanel::runRequested, this, &MainWindow::runSensitivity);
  connect(m_sensPanel, &SensitivityPanel::cancelRequested, m_task, &BackgroundTask::cancel);
  // The background tasks' own ends are in their TaskSpecs; here only what every task shares.
  connect(m_task, &BackgroundTask::started, this, [this] {
    m_status->setJobState(m_task->spec().busyText);
    updateActions();
  });
  connect(m_task, &BackgroundTask::progressed, this, [this](const JobProgress& p) {
    m_status->setJobState(QString("%1 %2").arg(p.stage, p.detail));
  });
  connect(m_task, &BackgroundTask::finished, this, [this] { updateActions(); });
  connect(m_task, &BackgroundTask::cancelled, this, [this](const QString& name) {
    m_status->setJobState("Cancelled " + name + ": nothing changed");
    updateActions();
  });
  connect(m_task, &BackgroundTask::failed, this, [this](const QString& name, const QString& message) {
    m_status->setJobState(name + " failed");
    updateActions();
    showError(m_task->spec().failTitle, message);
  });
  connect(m_allocBar, &AllocationBar::allocated, this, &MainWindow::onAllocated);
  connect(m_allocBar, &AllocationBar::failed, this, [this](const QString& m) { m_status->setJobState(m); });
  connect(m_allocBar, &AllocationBar::applyAndRunRequested, this, [this] {
    applyPreset("allocated");
    calibrate();
  });
  connect(m_table, &SparsityTable::presetRequested, this, &MainWindow::applyPreset);

  m_runs->setDirectory(runsDir.isEmpty() ? RunStore::defaultDirectory() : runsDir);
  // The autosave lives beside the run folder (<AppData>/workspace), with this window's session.
  m_autosave = new WorkspaceAutosave(QFileInfo(m_runs->directory()).absolutePath(), [this]() -> std::optional<Workspace> {
    if (!m_modelPanel->hasModel()) return std::nullopt;
    return currentWorkspace(m_runs->directory());
  }, this);
  connect(m_autosave, &WorkspaceAutosave::failed, this, [this](const QString& m) {
    m_status->setJobState("Autosave failed: " + m);
  });
  connect(m_table, &SparsityTable::configChanged, m_autosave, &WorkspaceAutosave::schedule);
  connect(m_dataPanel, &DataPanel::changed, m_autosave, &WorkspaceAutosave::schedule);
  connect(m_methodPanel, &MethodPanel::changed, m_autosave, &WorkspaceAutosave::schedule);
  connect(m_methodPanel, &MethodPanel::changed, this, &MainWindow::refreshMemoryPlan);  // the advice is per method
  connect(m_modelPanel, &ModelPanel::modelOpened, m_autosave, &WorkspaceAutosave::schedule);
  connect(m_runs, &RunStore::changed, m_autosave, &WorkspaceAutosave::schedule);
  QTimer::singleShot(0, this, &MainWindow::offerRestore);
  resize(1280, 800);
  loadSettings();
  refreshPlotTitles();
  updateActions();
}

MainWindow::~MainWindow() = default;

QAction* MainWindow::action(const QString& objectName) const { return findChild<QAction*>(objectName); }

void MainWindow::buildActions() {
  auto make = [this](const QString& name, const QString& text, const QKeySequence& key, const QString& tip,
                     auto slot) {
    auto* a = new QAction(text, this);
    a->setObjectName(name);
    if (!key.isEmpty()) a->setShortcut(key);
    a->setStatusTip(tip);
    a->setToolTip(key.isEmpty() ? tip : QString("%1 (%2)").arg(tip, key.toString(QKeySequence::NativeText)));
    connect(a, &QAction::triggered, this, slot);
    return a;
  };
  QAction* open = make("actionOpen", "&Open model...", QKeySequence::Open,
                       "Open a Hugging Face model folder or a GGUF file", [this] { m_modelPanel->browse(); });
  open->setIcon(style()->standardIcon(QStyle::SP_DialogOpenButton));
  make("actionOpenWorkspace", "Open &workspace...", QKeySequence("Ctrl+Shift+O"),
       "Restore a saved workspace: model, data, method, table and runs", [this] { openWorkspace(); });
  make("actionSaveWorkspace", "&Save workspace as...", QKeySequence::Save,
       "Save model, data, method, table and every run to one file", [this] { saveWorkspaceAs(); });
  QAction* exp = make("actionExport", "&Sparsity config (JSON)...", QKeySequence("Ctrl+E"),
                      "Save the table as a duoscope.sparsity/1 JSON config", [this] { exportConfig(); });
  exp->setIcon(style()->standardIcon(QStyle::SP_DialogSaveButton));
  exp->setIconText("Export config");
  make("actionImportConfig", "&Import sparsity config...", QKeySequence("Ctrl+I"),
       "Load a duoscope.sparsity/1 JSON config into the table (undoable)", [this] { importConfig(); });
  make("actionExportRecipe", "&Recipe (YAML)...", {}, "Save method, data and sparsity as a YAML recipe",
       [this] { exportRecipe(); });
  make("actionExportCsv", "Per-projection &records (CSV)...", {}, "Save the shown run's records as CSV",
       [this] { exportCsv(); });
  make("actionExportPlot", "Current &plot (PNG/PDF)...", QKeySequence("Ctrl+Shift+E"),
       "Save the visible plot as PNG or PDF", [this] { exportPlot(); });
  make("actionExportCheckpoint", "Pruned &checkpoint...", {},
       "Write the shown run's pruned weights to a folder (kept by the window; a run whose weights were not "
       "kept is calibrated again with its settings and seed)",
       [this] { exportCheckpoint(); });
  make("actionExportCheckpointBitmask", "Pruned checkpoint, sparse-&bitmask...", {},
       "As Pruned checkpoint, with the projections in compressed-tensors' sparse-bitmask layout (non-zero values "
       "and one bit per weight)",
       [this] { exportCheckpoint(QString(), "sparse-bitmask"); });
  make("actionQuit", "&Quit", QKeySequence::Quit, "Quit DuoScope", [this] { close(); });
  QAction* cal = make("actionCalibrate", "&Calibrate", QKeySequence("Ctrl+R"),
                      "Prune the open model with the table's sparsities (runs in the background)", [this] { calibrate(); });
  cal->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
  QAction* can = make("actionCancel", "C&ancel", QKeySequence("Esc"), "Stop the running job; nothing is written",
                      [this] { cancel(); });
  can->setIcon(style()->standardIcon(QStyle::SP_MediaStop));
  make("actionSensitivity", "Run &sensitivity", QKeySequence("Ctrl+Shift+R"),
       "Estimate each projection's error over a sparsity grid (then drag the target-speedup slider to allocate)",
       [this] { runSensitivity(); });
  make("actionMeasureTiming", "Measure &timing profile...", {},
       "Time our kernels inside the open model's decode step on this machine and save a timing profile "
       "(as `duoscope-cli bench calibrate`); speed predictions then use it",
       [this] { measureTimingProfile(); });
  make("actionLoadTiming", "Load &timing profile...", {},
       "Predict decode speed from a measured timing profile (`duoscope-cli bench calibrate`) instead of the "
       "bytes model",
       [this] { loadTimingProfile(); });
  make("actionClearTiming", "Use the &bytes model", {}, "Forget the timing profile: predict speed from bytes moved",
       [this] { clearTimingProfile(); });
  make("actionCopyCommandLine", "Copy command &line...", {},
       "Save the table as a config file and copy the duoscope-cli command that runs this setup (one process, "
       "--nproc N local ranks, or torchrun) to the clipboard",
       [this] { copyCommandLine(); });
  make("actionMakeTask", "&Make cloze task...", {},
       "Generate a multiple-choice cloze task from kjv:eval and use it for accuracy", [this] { makeTask(); });
  make("actionAbout", "&About DuoScope", {}, "About DuoScope", [this] {
    QMessageBox::about(this, "About DuoScope",
                       "<b>DuoScope</b><br>A workbench for pruning LLaMA-family models with dual sparsity: "
                       "unstructured weight pruning plus runtime activation sparsity (DuoGPT).<br><br>"
                       "Compute by LibTorch (" +
                           qs(device().description) + "). Plots by QCustomPlot (GPL-3.0).");
  });
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu("&File");
  file->addAction(action("actionOpen"));
  m_recentMenu = file->addMenu("Open &recent");
  m_recentMenu->setObjectName("recentMenu");
  connect(m_recentMenu, &QMenu::aboutToShow, this, &MainWindow::fillRecentMenu);
  fillRecentMenu();
  file->addSeparator();
  file->addAction(action("actionOpenWorkspace"));
  file->addAction(action("actionSaveWorkspace"));
  file->addSeparator();
  file->addAction(action("actionImportConfig"));
  file->addAction(action("actionLoadTiming"));
  file->addAction(action("actionClearTiming"));
  QMenu* exp = file->addMenu("&Export");
  exp->setObjectName("exportMenu");
  for (const char* name : {"actionExport", "actionExportRecipe", "actionExportCsv", "actionExportPlot",
                           "actionExportCheckpoint", "actionExportCheckpointBitmask"})
    exp->addAction(action(name));
  file->addSeparator();
  file->addAction(action("actionQuit"));

  QMenu* edit = menuBar()->addMenu("&Edit");
  for (QAction* a : m_table->findChildren<QAction*>())
    if (a->shortcut() == QKeySequence::Undo || a->shortcut() == QKeySequence::Redo) edit->addAction(a);

  QMenu* run = menuBar()->addMenu("&Run");
  run->addAction(action("actionCalibrate"));
  run->addAction(action("actionCancel"));
  run->addSeparator();
  run->addAction(action("actionSensitivity"));
  run->addAction(action("actionMeasureTiming"));
  run->addAction(action("actionMakeTask"));
  run->addSeparator();
  run->addAction(action("actionCopyCommandLine"));

  QMenu* view = menuBar()->addMenu("&View");
  for (int i = 0; i < m_plots->count(); ++i) {
    QAction* a = view->addAction(m_plots->tabText(i), this, [this, i] { m_plots->setCurrentIndex(i); });
    a->setShortcut(QKeySequence(QString("Ctrl+%1").arg(i + 1)));
  }
  view->addSeparator();
  auto* metric = new QActionGroup(this);
  QAction* ppl = view->addAction("Runs by perplexity", this, [this] { m_runsPlot->setMetric(RunsPlot::Metric::Perplexity); });
  QAction* acc = view->addAction("Runs by accuracy", this, [this] { m_runsPlot->setMetric(RunsPlot::Metric::Accuracy); });
  for (QAction* a : {ppl, acc}) {
    a->setCheckable(true);
    metric->addAction(a);
  }
  ppl->setChecked(true);
  view->addSeparator();
  auto* domain = new QActionGroup(this);
  const std::pair<const char*, RunsPlot::Domain> domains[] = {
      {"Runs: every perplexity", RunsPlot::Domain::All},
      {"Runs: in-domain perplexity (the calibration's kinds of text)", RunsPlot::Domain::InDomain},
      {"Runs: held-out perplexity (other kinds of text)", RunsPlot::Domain::HeldOut}};
  for (const auto& [text, d] : domains) {
    QAction* a = view->addAction(text, this, [this, d = d] { m_runsPlot->setDomain(d); });
    a->setCheckable(true);
    a->setChecked(d == RunsPlot::Domain::All);
    domain->addAction(a);
  }

  menuBar()->addMenu("&Help")->addAction(action("actionAbout"));

  QToolBar* bar = addToolBar("Main");
  bar->setObjectName("mainToolBar");
  bar->setMovable(false);
  bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  bar->setIconSize(QSize(16, 16));
  for (const char* name : {"actionOpen", "actionCalibrate", "actionCancel", "actionExport"})
    bar->addAction(action(name));
}

void MainWindow::fillRecentMenu() {
  m_recentMenu->clear();
  const QStringList recent = ModelPanel::recentModels();
  for (const QString& path : recent) {
    QAction* a = m_recentMenu->addAction(path);
    connect(a, &QAction::triggered, this, [this, path] { openModel(path); });
  }
  m_recentMenu->setEnabled(!recent.isEmpty());
}

void MainWindow::buildLayout() {
  auto boxed = [](const QString& title, QWidget* w) {
    auto* box = new QGroupBox(title);
    auto* l = new QVBoxLayout(box);
    l->setContentsMargins(2, 2, 2, 2);
    l->addWidget(w);
    return box;
  };
  m_modelPanel = new ModelPanel;
  m_dataPanel = new DataPanel;
  m_methodPanel = new MethodPanel;
  m_setup = new QTabWidget;
  m_setup->setObjectName("setupTabs");
  m_setup->addTab(m_modelPanel, "Model");
  m_setup->addTab(m_dataPanel, "Data");
  m_setup->addTab(m_methodPanel, "Method");
  m_runPanel = new RunPanel(action("actionCalibrate"), action("actionCancel"));
  m_leftSplit = new QSplitter(Qt::Vertical);
  m_leftSplit->setObjectName("leftSplitter");
  m_leftSplit->addWidget(m_setup);
  m_leftSplit->addWidget(boxed("Run", m_runPanel));
  m_leftSplit->setStretchFactor(0, 3);
  m_leftSplit->setStretchFactor(1, 1);

  m_table = new SparsityTable;
  m_plots = new QTabWidget;
  m_plots->setObjectName("plotTabs");
  m_errorPlot = new ErrorPlot;
  m_heatmap = new ErrorHeatmap;
  m_sparsityPlot = new SparsityPlot;
  m_runsPlot = new RunsPlot;
  m_errorPlot->setObjectName("errorPlot");
  m_heatmap->setObjectName("errorHeatmap");
  m_sparsityPlot->setObjectName("sparsityPlot");
  m_runsPlot->setObjectName("runsPlot");
  m_plots->addTab(m_errorPlot, "Error per layer");
  m_plots->addTab(m_heatmap, "Error heatmap");
  m_plots->addTab(m_sparsityPlot, "Sparsity");
  m_plots->addTab(m_runsPlot, "Runs");
  m_runsPanel = new RunsPanel(m_runs);

  m_hsplit = new QSplitter(Qt::Horizontal);
  m_hsplit->setObjectName("tablePlotSplitter");
  m_sensPanel = new SensitivityPanel;
  m_sensPanel->setObjectName("sensitivityPanel");
  m_plots->addTab(m_sensPanel, "Sensitivity");
  m_allocBar = new AllocationBar;
  m_allocBar->setObjectName("allocationBar");
  auto* tableBox = boxed("Sparsity per layer", m_table);
  tableBox->layout()->addWidget(m_allocBar);
  m_hsplit->addWidget(tableBox);
  m_hsplit->addWidget(m_plots);
  m_hsplit->setStretchFactor(0, 2);
  m_hsplit->setStretchFactor(1, 3);
  m_vsplit = new QSplitter(Qt::Vertical);
  m_vsplit->setObjectName("plotRunsSplitter");
  m_vsplit->addWidget(m_hsplit);
  m_vsplit->addWidget(boxed("Runs", m_runsPanel));
  m_vsplit->setStretchFactor(0, 4);
  m_vsplit->setStretchFactor(1, 1);

  auto* main = new QSplitter(Qt::Horizontal);
  main->setObjectName("mainSplitter");
  main->addWidget(m_leftSplit);
  main->addWidget(m_vsplit);
  main->setStretchFactor(0, 0);
  main->setStretchFactor(1, 1);
  main->setSizes({320, 960});
  m_hsplit->setSizes({400, 560});
  m_vsplit->setSizes({540, 170});
  m_leftSplit->setSizes({470, 240});
  setCentralWidget(main);
}

void MainWindow::wireJob() {
  connect(m_job, &JobController::started, this, [this](const RunRequest& run) {
    const PruneRequest& req = run.prune;
    m_shownRunId.clear();
    const int layers = static_cast<int>(m_modelPanel->model().config.numLayers);
    m_errorPlot->setLayerCount(layers);  // a loaded run of another model may have set other axes
    m_heatmap->setLayerCount(layers);
    m_plotSubject = QString("%1 on %2").arg(qs(recordOfRequest(req).label()), modelDisplayName());
    refreshPlotTitles();
    showRecords({});
    m_sparsityPlot->setTargets(m_table->config());
    m_runPanel->onStarted();
    m_status->setJobState(m_checkpointDir.isEmpty() ? "Calibrating..." : "Exporting a pruned checkpoint...");
    updateActions();
  });
  connect(m_job, &JobController::progressed, m_runPanel, &RunPanel::onProgress);
  connect(m_job, &JobController::progressed, this, [this](const JobProgress& p) {
    m_status->setJobState(QString("%1 %2").arg(p.stage, p.detail));
  });
  connect(m_job, &JobController::recordsUpdated, this, &MainWindow::showRecords);
  connect(m_job, &JobController::stateChanged, this, [this](JobController::State s) {
    if (s == JobController::State::Cancelling) m_runPanel->onCancelling();
    updateActions();
  });
  connect(m_job, &JobController::finished, this, &MainWindow::onJobFinished);
  // A run that ends without a result leaves nothing behind: no checkpoint export pending, no
  // partial bars, no run named in the plot titles.
  auto dropUnfinished = [this] {
    m_checkpointDir.clear();
    m_checkpointRunId.clear();
    showRecords({});
    m_plotSubject.clear();
    refreshPlotTitles();
  };
  connect(m_job, &JobController::cancelled, this, [this, dropUnfinished] {
    dropUnfinished();
    m_runPanel->onCancelled();
    m_status->setJobState("Cancelled: the model is unchanged and nothing was written");
    updateActions();
  });
  connect(m_job, &JobController::failed, this, [this, dropUnfinished](const QString& message) {
    dropUnfinished();
    m_runPanel->onFailed(message);
    m_status->setJobState("Calibration failed");
    updateActions();
    showError("Calibration failed", message);
  });
}

void MainWindow::showRecords(const QVector<ProjRecord>& records) {
  m_errorPlot->setRecords(records);
  m_heatmap->setRecords(records);
  m_sparsityPlot->setRecords(records);
}

void MainWindow::onJobFinished(const RunOutcome& outcome) {
  const PruneResult& r = outcome.result;
  const SpeedCheck& speed = outcome.speed;
  m_runPanel->onFinished(outcome);
  const QString checkpoint = m_checkpointDir;
  const QString rerunOf = m_checkpointRunId;
  m_checkpointDir.clear();
  m_checkpointRunId.clear();
  if (!rerunOf.isEmpty()) {
    // A checkpoint export of a stored run whose weights were not kept: the run is already in the
    // list; the calibration only re-made its weights.
    m_shownRunId = rerunOf;
    m_runsPanel->selectRun(rerunOf);
    m_status->setJobState("Pruned checkpoint written to " + checkpoint + " (calibrated again: the run's weights were not kept)");
    updateActions();
    return;
  }
  try {
    const RunEntry& run = m_runs->adopt(outcome.record);  // saved by core's runJob
    m_shownRunId = run.id;
    m_runsPanel->selectRun(run.id);
    m_status->setJobState(checkpoint.isEmpty() ? QString("Done in %1: %2").arg(formatDuration(r.secondsTotal), run.label())
                                               : "Pruned checkpoint written to " + checkpoint);
    if (!outcome.measureError.empty())
      m_status->setJobState("Run stored; decode speedup not measured: " + qs(outcome.measureError));
    else if (speed.measured() && !speed.trusted())
      m_status->setJobState("Run stored; its measured speedup is not to be trusted: " + speedCheckFlags(speed));
    updateActions();
    Q_EMIT runStored(run.id);
  } catch (const std::exception& e) {
    updateActions();
    showError("Could not save the run record", QString::fromUtf8(e.what()));
  }
}

bool MainWindow::isBusy() const { return m_job->isBusy() || m_task->isBusy(); }

void MainWindow::updateActions() {
  const bool busy = isBusy();
  const bool loading = m_modelPanel->isLoading();
  const bool model = m_modelPanel->hasModel();
  const bool hasRun = m_runs->find(m_shownRunId) != nullptr;
  action("actionOpen")->setEnabled(!busy && !loading);
  action("actionOpenWorkspace")->setEnabled(!busy && !loading);
  action("actionSaveWorkspace")->setEnabled(model);
  action("actionCalibrate")->setEnabled(model && !busy && !loading);
  action("actionCancel")->setEnabled(m_job->state() == JobController::State::Running ||
                                     (m_task->isBusy() && !m_task->isCancelling()));
  action("actionSensitivity")->setEnabled(model && !busy && !loading);
  action("actionMakeTask")->setEnabled(!busy);
  action("actionCopyCommandLine")->setEnabled(model && !loading);
  action("actionMeasureTiming")->setEnabled(model && !busy && !loading);
  action("actionClearTiming")->setEnabled(m_timing != nullptr);
  m_sensPanel->setRunEnabled(model && !busy && !loading);
  m_allocBar->setEnabled(model && !busy);
  m_allocBar->setRunEnabled(model && !busy && !loading);
  action("actionExport")->setEnabled(model);
  action("actionImportConfig")->setEnabled(model && !busy);
  action("actionExportRecipe")->setEnabled(model);
  action("actionExportCsv")->setEnabled(hasRun || !m_job->records().isEmpty());
  action("actionExportCheckpoint")->setEnabled(model && !busy && !loading);
  action("actionExportCheckpointBitmask")->setEnabled(model && !busy && !loading);
  m_table->setEnabled(model && !busy);
  m_modelPanel->setEnabled(!busy);
}

void MainWindow::openModel(const QString& path) { m_modelPanel->openModel(path); }

void MainWindow::onModelOpened(const ModelInfo& info) {
  const int layers = static_cast<int>(info.config.numLayers);
  m_table->setModelConfig(info.config);
  if (m_pendingTable && m_pendingTable->numLayers() == layers) {
    m_table->model()->setModel(info.config, *m_pendingTable);  // a workspace's table, not an undo step
  }
  m_pendingTable.reset();
  m_sensPanel->clear("Run sensitivity to estimate how each layer of this model reacts to sparsity.");
  m_allocBar->clear();
  m_table->setAllocationAvailable(false);
  m_dataPanel->setModelDefaults(info.parameters, device().cuda);
  m_errorPlot->setLayerCount(layers);
  m_heatmap->setLayerCount(layers);
  m_shownRunId.clear();
  m_plotSubject.clear();
  m_runPanel->clearResult();  // the previous model's numbers
  showRecords({});
  m_sparsityPlot->setTargets(m_table->config());
  refreshPlotTitles();
  refreshMemoryPlan();
  // The file or folder name is what the user opened; GGUF's internal name can say something else.
  const QString shown = modelDisplayName();
  setWindowTitle(shown == qs(info.name) || info.name.empty() ? QString("DuoScope — %1").arg(shown)
                                                            : QString("DuoScope — %1 (%2)").arg(shown, qs(info.name)));
  m_status->setJobState(QString("Opened %1 (%2 layers, %3 parameters)")
                            .arg(qs(info.name))
                            .arg(layers)
                            .arg(formatCount(static_cast<double>(info.parameters))));
  updateActions();
}

QString MainWindow::modelDisplayName() const {
  const std::string& path = m_modelPanel->model().path;
  if (path.empty()) return QString();
  const QString name = QFileInfo(QDir::cleanPath(qs(path))).fileName();
  return name.isEmpty() ? qs(m_modelPanel->model().name) : name;
}

void MainWindow::refreshPlotTitles() {
  // Which run (method, sparsities, model) and which calibration data the plots show.
  const QString data = m_dataPanel->calibrationSummary();
  const QString subject = m_plotSubject.isEmpty() ? modelDisplayName() : m_plotSubject;
  const QString tail = (subject.isEmpty() ? QString() : " · " + subject) + " · " + data;
  m_errorPlot->setTitle("Relative output error" + tail);
  m_heatmap->setTitle("Error, layers × projections" + tail);
  m_sparsityPlot->setTitle("Sparsity, achieved vs target" + tail);
  for (PlotBase* p : std::initializer_list<PlotBase*>{m_errorPlot, m_heatmap, m_sparsityPlot})
    p->replot(QCustomPlot::rpQueuedReplot);
}

void MainWindow::refreshMemoryPlan() {
  if (m_modelPanel->model().path.empty()) {
    m_dataPanel->setAdvice({}, true);
    return m_runPanel->setMemoryPlanError({});
  }
  {
    PruneRequest req = currentRequest();
    int n = 0, len = 0;
    defaultCalibration(m_modelPanel->model().parameters, device().cuda, &n, &len);
    if (req.nsamples <= 0) req.nsamples = n;
    if (req.seqlen <= 0) req.seqlen = len;
    const CalibrationAdvice a = adviseCalibration(m_modelPanel->model().config, req.method, req.nsamples, req.seqlen);
    m_dataPanel->setAdvice(qs(a.text(req.nsamples, req.seqlen)), a.enough());
  }
  try {
    m_runPanel->setMemoryPlan(planPrune(currentRequest()));  // headers only: instant even for 70B
  } catch (const std::exception& e) {
    m_runPanel->setMemoryPlanError(QString::fromStdString(e.what()));
  }
}

PruneRequest MainWindow::currentRequest() const {
  PruneRequest req;
  req.model = m_modelPanel->model().path;
  req.sparsity = m_table->config();
  req.nm = req.sparsity.nm;
  req.actRule = req.sparsity.actRule;
  m_dataPanel->fillRequest(&req);
  m_methodPanel->fillRequest(&req);
  return req;
}

void MainWindow::calibrate() {
  if (!m_modelPanel->hasModel() || isBusy()) return;
  startJob(currentRequest());
}

void MainWindow::startJob(PruneRequest req) {
  req.outDir = ss(m_checkpointDir);
  req.outFormat = ss(m_checkpointFormat);
  if (req.outDir.empty() && m_runPanel->keepWeights() && !m_runs->weightsDirectory().isEmpty()) {
    // The run's pruned weights stay beside its record, for Export > Pruned checkpoint.
    QDir().mkpath(m_runs->weightsDirectory());
    const QString name = QDateTime::currentDateTimeUtc().toString("yyyyMMdd-HHmmss-zzz") + "-" +
                         QString::number(QCoreApplication::applicationPid());
    req.outDir = ss(m_runs->weightsDirectory() + "/" + name);
  }
  m_autosave->saveNow();  // a window killed mid-run leaves the setup of the run it was making
  RunRequest run;
  run.prune = std::move(req);
  run.measureSpeed = m_runPanel->measureSpeedup();
  run.alsoEval = m_dataPanel->alsoEval();
  run.timing = m_timing;
  run.values = m_table->model()->decodeValues();
  run.runsDir = ss(m_runs->directory());  // core marks the run there while it runs, then records it
  run.saveRecord = m_checkpointRunId.isEmpty();  // re-making a stored run's weights adds no record
  m_job->start(run);
}

void MainWindow::cancel() {
  m_job->cancel();
  m_task->cancel();
  updateActions();
}

void MainWindow::showError(const QString& title, const QString& message) {
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setObjectName("errorDialog");
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void MainWindow::closeEvent(QCloseEvent* e) {
  if (m_job->isBusy()) {
    m_job->cancel();  // the controllers' destructors wait for their workers; the run's marker goes with it
  }
  if (m_task->isBusy()) m_task->cancel();
  saveSettings();
  m_autosave->close();  // an orderly end: nothing to offer at the next start
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
  if (path.endsWith(".json", Qt::CaseInsensitive) && m_modelPanel->hasModel() && fi.fileName() != "config.json") {
    importConfig(path);  // a sparsity config dropped on an open model
  } else {
    if (fi.isFile() && !path.endsWith(".gguf", Qt::CaseInsensitive)) path = fi.absolutePath();
    openModel(path);
  }
  e->acceptProposedAction();
}

}  // namespace duo::ui
