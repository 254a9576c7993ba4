// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/window_menus.h"

#include <QAction>
#include <QActionGroup>
#include <QMainWindow>
#include <QMenuBar>
#include <QStyle>
#include <QTabWidget>
#include <QToolBar>

#include "ui/panels/model_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/runs_plot.h"
#include "ui/window_parts.h"

namespace duo::ui {

namespace {

QAction* action(QMainWindow* window, const char* name) { return window->findChild<QAction*>(name); }

struct ActionSpec {
  const char* name;
  const char* text;
  QKeySequence key;  // empty: none
  const char* tip;   // status tip; the tooltip adds the shortcut
};

}  // namespace

void createWindowActions(QMainWindow* window) {
  const ActionSpec specs[] = {
      {"actionOpen", "&Open model...", QKeySequence::Open, "Open a Hugging Face model folder or a GGUF file"},
      {"actionOpenWorkspace", "Open &workspace...", QKeySequence("Ctrl+Shift+O"),
       "Restore a saved workspace: model, data, method, table and runs"},
      {"actionSaveWorkspace", "&Save workspace as...", QKeySequence::Save,
       "Save model, data, method, table and every run to one file"},
      {"actionExport", "&Sparsity config (JSON)...", QKeySequence("Ctrl+E"),
       "Save the table as a duoscope.sparsity/1 JSON config"},
      {"actionImportConfig", "&Import sparsity config...", QKeySequence("Ctrl+I"),
       "Load a duoscope.sparsity/1 JSON config into the table (undoable)"},
      {"actionExportRecipe", "&Recipe (YAML)...", {}, "Save method, data and sparsity as a YAML recipe"},
      {"actionExportCsv", "Per-projection &records (CSV)...", {}, "Save the shown run's records as CSV"},
      {"actionExportPlot", "Current &plot (PNG/PDF)...", QKeySequence("Ctrl+Shift+E"), "Save the visible plot as PNG or PDF"},
      {"actionExportCheckpoint", "Pruned &checkpoint...", {},
       "Write the shown run's pruned weights to a folder (kept by the window; a run whose weights were not "
       "kept is calibrated again with its settings and seed)"},
      {"actionExportCheckpointBitmask", "Pruned checkpoint, sparse-&bitmask...", {},
       "As Pruned checkpoint, with the projections in compressed-tensors' sparse-bitmask layout (non-zero values "
       "and one bit per weight)"},
      {"actionQuit", "&Quit", QKeySequence::Quit, "Quit DuoScope"},
      {"actionCalibrate", "&Calibrate", QKeySequence("Ctrl+R"),
       "Prune the open model with the table's sparsities (runs in the background)"},
      {"actionCancel", "C&ancel", QKeySequence("Esc"), "Stop the running job; nothing is written"},
      {"actionSensitivity", "Run &sensitivity", QKeySequence("Ctrl+Shift+R"),
       "Estimate each projection's error over a sparsity grid (then drag the target-speedup slider to allocate)"},
      {"actionMeasureTiming", "Measure &timing profile...", {},
       "Time our kernels inside the open model's decode step on this machine and save a timing profile "
       "(as `duoscope-cli bench calibrate`); speed predictions then use it"},
      {"actionLoadTiming", "Load &timing profile...", {},
       "Predict decode speed from a measured timing profile (`duoscope-cli bench calibrate`) instead of the "
       "bytes model"},
      {"actionClearTiming", "Use the &bytes model", {}, "Forget the timing profile: predict speed from bytes moved"},
      {"actionCopyCommandLine", "Copy command &line...", {},
       "Save the table as a config file and copy the duoscope-cli command that runs this setup (one process, "
       "--nproc N local ranks, or torchrun) to the clipboard"},
      {"actionMakeTask", "&Make cloze task...", {},
       "Generate a multiple-choice cloze task from the evaluation text and use it for accuracy"},
      {"actionAbout", "&About DuoScope", {}, "About DuoScope"},
  };
  for (const ActionSpec& s : specs) {
    auto* a = new QAction(s.text, window);
    a->setObjectName(s.name);
    if (!s.key.isEmpty()) a->setShortcut(s.key);
    a->setStatusTip(s.tip);
    a->setToolTip(s.key.isEmpty() ? QString(s.tip) : QString("%1 (%2)").arg(s.tip, s.key.toString(QKeySequence::NativeText)));
  }
  QStyle* style = window->style();
  action(window, "actionOpen")->setIcon(style->standardIcon(QStyle::SP_DialogOpenButton));
  action(window, "actionExport")->setIcon(style->standardIcon(QStyle::SP_DialogSaveButton));
  action(window, "actionExport")->setIconText("Export config");
  action(window, "actionCalibrate")->setIcon(style->standardIcon(QStyle::SP_MediaPlay));
  action(window, "actionCancel")->setIcon(style->standardIcon(QStyle::SP_MediaStop));
}

void buildWindowMenus(QMainWindow* window, const WindowParts& parts) {
  QMenuBar* menuBar = window->menuBar();
  QMenu* file = menuBar->addMenu("&File");
  file->addAction(action(window, "actionOpen"));
  QMenu* recentMenu = file->addMenu("Open &recent");
  recentMenu->setObjectName("recentMenu");
  ModelPanel* modelPanel = parts.modelPanel;
  auto fillRecent = [recentMenu, modelPanel] {
    recentMenu->clear();
    const QStringList recent = ModelPanel::recentModels();
    for (const QString& path : recent) {
      QAction* a = recentMenu->addAction(path);
      QObject::connect(a, &QAction::triggered, modelPanel, [modelPanel, path] { modelPanel->openModel(path); });
    }
    recentMenu->setEnabled(!recent.isEmpty());
  };
  QObject::connect(recentMenu, &QMenu::aboutToShow, recentMenu, fillRecent);
  fillRecent();
  file->addSeparator();
  file->addAction(action(window, "actionOpenWorkspace"));
  file->addAction(action(window, "actionSaveWorkspace"));
  file->addSeparator();
  file->addAction(action(window, "actionImportConfig"));
  file->addAction(action(window, "actionLoadTiming"));
  file->addAction(action(window, "actionClearTiming"));
  QMenu* exp = file->addMenu("&Export");
  exp->setObjectName("exportMenu");
  for (const char* name : {"actionExport", "actionExportRecipe", "actionExportCsv", "actionExportPlot",
                           "actionExportCheckpoint", "actionExportCheckpointBitmask"})
    exp->addAction(action(window, name));
  file->addSeparator();
  file->addAction(action(window, "actionQuit"));

  QMenu* edit = menuBar->addMenu("&Edit");
  for (QAction* a : parts.table->findChildren<QAction*>())
    if (a->shortcut() == QKeySequence::Undo || a->shortcut() == QKeySequence::Redo) edit->addAction(a);

  QMenu* run = menuBar->addMenu("&Run");
  run->addAction(action(window, "actionCalibrate"));
  run->addAction(action(window, "actionCancel"));
  run->addSeparator();
  run->addAction(action(window, "actionSensitivity"));
  run->addAction(action(window, "actionMeasureTiming"));
  run->addAction(action(window, "actionMakeTask"));
  run->addSeparator();
  run->addAction(action(window, "actionCopyCommandLine"));

  QMenu* view = menuBar->addMenu("&View");
  QTabWidget* plots = parts.plots;
  for (int i = 0; i < plots->count(); ++i) {
    QAction* a = view->addAction(plots->tabText(i), window, [plots, i] { plots->setCurrentIndex(i); });
    a->setShortcut(QKeySequence(QString("Ctrl+%1").arg(i + 1)));
  }
  view->addSeparator();
  RunsPlot* runsPlot = parts.runsPlot;
  auto* metric = new QActionGroup(window);
  QAction* ppl = view->addAction("Runs by perplexity", window, [runsPlot] { runsPlot->setMetric(RunsPlot::Metric::Perplexity); });
  QAction* acc = view->addAction("Runs by accuracy", window, [runsPlot] { runsPlot->setMetric(RunsPlot::Metric::Accuracy); });
  for (QAction* a : {ppl, acc}) {
    a->setCheckable(true);
    metric->addAction(a);
  }
  ppl->setChecked(true);
  view->addSeparator();
  auto* domain = new QActionGroup(window);
  const std::pair<const char*, RunsPlot::Domain> domains[] = {
      {"Runs: every perplexity", RunsPlot::Domain::All},
      {"Runs: in-domain perplexity (the calibration's kinds of text)", RunsPlot::Domain::InDomain},
      {"Runs: held-out perplexity (other kinds of text)", RunsPlot::Domain::HeldOut}};
  for (const auto& [text, d] : domains) {
    QAction* a = view->addAction(text, window, [runsPlot, d = d] { runsPlot->setDomain(d); });
    a->setCheckable(true);
    a->setChecked(d == RunsPlot::Domain::All);
    domain->addAction(a);
  }

  menuBar->addMenu("&Help")->addAction(action(window, "actionAbout"));

  QToolBar* bar = window->addToolBar("Main");
  bar->setObjectName("mainToolBar");
  bar->setMovable(false);
  bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  bar->setIconSize(QSize(16, 16));
  for (const char* name : {"actionOpen", "actionCalibrate", "actionCancel", "actionExport"})
    bar->addAction(action(window, name));
}

}  // namespace duo::ui
