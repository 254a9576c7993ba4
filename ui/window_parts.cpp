// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/window_parts.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QMessageBox>
#include <QSettings>
#include <QSplitter>
#include <QTabWidget>
#include <QVBoxLayout>
#include <array>
#include <tuple>
#include <utility>

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

namespace duo::ui {

namespace {

// A splitter named `name` holding each widget with its stretch factor.
QSplitter* splitter(Qt::Orientation orientation, const char* name,
                    std::initializer_list<std::pair<QWidget*, int>> parts) {
  auto* s = new QSplitter(orientation);
  s->setObjectName(name);
  for (const auto& [widget, stretch] : parts) {
    s->addWidget(widget);
    s->setStretchFactor(s->count() - 1, stretch);
  }
  return s;
}

// `w` in a group box titled `title`.
QGroupBox* boxed(const QString& title, QWidget* w) {
  auto* box = new QGroupBox(title);
  auto* l = new QVBoxLayout(box);
  l->setContentsMargins(2, 2, 2, 2);
  l->addWidget(w);
  return box;
}

// The splitters whose state the window keeps, by QSettings key.
std::array<std::pair<const char*, QSplitter*>, 3> keptSplitters(const WindowParts& parts) {
  return {{{"window/hsplit", parts.hsplit}, {"window/vsplit", parts.vsplit}, {"window/leftSplit", parts.leftSplit}}};
}

}  // namespace

QWidget* WindowParts::buildLayout(QAction* calibrate, QAction* cancel) {
  modelPanel = new ModelPanel;
  dataPanel = new DataPanel;
  methodPanel = new MethodPanel;
  setup = new QTabWidget;
  setup->setObjectName("setupTabs");
  setup->addTab(modelPanel, "Model");
  setup->addTab(dataPanel, "Data");
  setup->addTab(methodPanel, "Method");
  runPanel = new RunPanel(calibrate, cancel);
  leftSplit = splitter(Qt::Vertical, "leftSplitter", {{setup, 3}, {boxed("Run", runPanel), 1}});

  table = new SparsityTable;
  errorPlot = new ErrorPlot;
  heatmap = new ErrorHeatmap;
  sparsityPlot = new SparsityPlot;
  runsPlot = new RunsPlot;
  sensPanel = new SensitivityPanel;
  plots = new QTabWidget;
  plots->setObjectName("plotTabs");
  const std::tuple<QWidget*, const char*, const char*> tabs[] = {
      {errorPlot, "errorPlot", "Error per layer"}, {heatmap, "errorHeatmap", "Error heatmap"},
      {sparsityPlot, "sparsityPlot", "Sparsity"},  {runsPlot, "runsPlot", "Runs"},
      {sensPanel, "sensitivityPanel", "Sensitivity"}};
  for (const auto& [widget, name, title] : tabs) {
    widget->setObjectName(name);
    plots->addTab(widget, title);
  }
  runsPanel = new RunsPanel(runs);

  allocBar = new AllocationBar;
  allocBar->setObjectName("allocationBar");
  auto* tableBox = boxed("Sparsity per layer", table);
  tableBox->layout()->addWidget(allocBar);
  hsplit = splitter(Qt::Horizontal, "tablePlotSplitter", {{tableBox, 2}, {plots, 3}});
  vsplit = splitter(Qt::Vertical, "plotRunsSplitter", {{hsplit, 4}, {boxed("Runs", runsPanel), 1}});
  auto* main = splitter(Qt::Horizontal, "mainSplitter", {{leftSplit, 0}, {vsplit, 1}});
  main->setSizes({320, 960});
  hsplit->setSizes({400, 560});
  vsplit->setSizes({540, 170});
  leftSplit->setSizes({470, 240});
  return main;
}

void WindowParts::saveSettings() const {
  QSettings s;
  for (const auto& [key, split] : keptSplitters(*this)) s.setValue(key, split->saveState());
  s.setValue("window/plotTab", plots->currentIndex());
  dataPanel->saveSettings();
  methodPanel->saveSettings();
}

void WindowParts::loadSettings() {
  QSettings s;
  for (const auto& [key, split] : keptSplitters(*this))
    if (s.contains(key)) split->restoreState(s.value(key).toByteArray());
  plots->setCurrentIndex(s.value("window/plotTab", 0).toInt());
  dataPanel->loadSettings();
  methodPanel->loadSettings();
}

PruneRequest WindowParts::currentRequest() const {
  PruneRequest req;
  req.model = modelPanel->model().path;
  req.sparsity = SparsityPlan::table(table->config());
  dataPanel->fillRequest(&req);
  methodPanel->fillRequest(&req);
  return req;
}

bool WindowParts::isBusy() const { return job->isBusy() || task->isBusy(); }

QString WindowParts::modelDisplayName() const {
  const std::string& path = modelPanel->model().path;
  if (path.empty()) return QString();
  const QString name = QFileInfo(QDir::cleanPath(qs(path))).fileName();
  return name.isEmpty() ? qs(modelPanel->model().name) : name;
}

void WindowParts::showError(const QString& title, const QString& message) const {
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, window);
  box->setObjectName("errorDialog");
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

QString WindowParts::askSavePath(const QString& title, const QString& suggested, const QString& filter) const {
  QSettings s;
  const QString dir = dialogStartDir("export");
  const QString path = QFileDialog::getSaveFileName(window, title, QDir(dir).filePath(suggested), filter);
  if (!path.isEmpty()) s.setValue("paths/exportDir", QFileInfo(path).absolutePath());
  return path;
}

}  // namespace duo::ui
