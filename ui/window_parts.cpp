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

QWidget* WindowParts::buildLayout(QAction* calibrate, QAction* cancel) {
  auto boxed = [](const QString& title, QWidget* w) {
    auto* box = new QGroupBox(title);
    auto* l = new QVBoxLayout(box);
    l->setContentsMargins(2, 2, 2, 2);
    l->addWidget(w);
    return box;
  };
  modelPanel = new ModelPanel;
  dataPanel = new DataPanel;
  methodPanel = new MethodPanel;
  setup = new QTabWidget;
  setup->setObjectName("setupTabs");
  setup->addTab(modelPanel, "Model");
  setup->addTab(dataPanel, "Data");
  setup->addTab(methodPanel, "Method");
  runPanel = new RunPanel(calibrate, cancel);
  leftSplit = new QSplitter(Qt::Vertical);
  leftSplit->setObjectName("leftSplitter");
  leftSplit->addWidget(setup);
  leftSplit->addWidget(boxed("Run", runPanel));
  leftSplit->setStretchFactor(0, 3);
  leftSplit->setStretchFactor(1, 1);

  table = new SparsityTable;
  plots = new QTabWidget;
  plots->setObjectName("plotTabs");
  errorPlot = new ErrorPlot;
  heatmap = new ErrorHeatmap;
  sparsityPlot = new SparsityPlot;
  runsPlot = new RunsPlot;
  errorPlot->setObjectName("errorPlot");
  heatmap->setObjectName("errorHeatmap");
  sparsityPlot->setObjectName("sparsityPlot");
  runsPlot->setObjectName("runsPlot");
  plots->addTab(errorPlot, "Error per layer");
  plots->addTab(heatmap, "Error heatmap");
  plots->addTab(sparsityPlot, "Sparsity");
  plots->addTab(runsPlot, "Runs");
  runsPanel = new RunsPanel(runs);

  hsplit = new QSplitter(Qt::Horizontal);
  hsplit->setObjectName("tablePlotSplitter");
  sensPanel = new SensitivityPanel;
  sensPanel->setObjectName("sensitivityPanel");
  plots->addTab(sensPanel, "Sensitivity");
  allocBar = new AllocationBar;
  allocBar->setObjectName("allocationBar");
  auto* tableBox = boxed("Sparsity per layer", table);
  tableBox->layout()->addWidget(allocBar);
  hsplit->addWidget(tableBox);
  hsplit->addWidget(plots);
  hsplit->setStretchFactor(0, 2);
  hsplit->setStretchFactor(1, 3);
  vsplit = new QSplitter(Qt::Vertical);
  vsplit->setObjectName("plotRunsSplitter");
  vsplit->addWidget(hsplit);
  vsplit->addWidget(boxed("Runs", runsPanel));
  vsplit->setStretchFactor(0, 4);
  vsplit->setStretchFactor(1, 1);

  auto* main = new QSplitter(Qt::Horizontal);
  main->setObjectName("mainSplitter");
  main->addWidget(leftSplit);
  main->addWidget(vsplit);
  main->setStretchFactor(0, 0);
  main->setStretchFactor(1, 1);
  main->setSizes({320, 960});
  hsplit->setSizes({400, 560});
  vsplit->setSizes({540, 170});
  leftSplit->setSizes({470, 240});
  return main;
}

void WindowParts::saveSettings() const {
  QSettings s;
  s.setValue("window/hsplit", hsplit->saveState());
  s.setValue("window/vsplit", vsplit->saveState());
  s.setValue("window/leftSplit", leftSplit->saveState());
  s.setValue("window/plotTab", plots->currentIndex());
  dataPanel->saveSettings();
  methodPanel->saveSettings();
}

void WindowParts::loadSettings() {
  QSettings s;
  if (s.contains("window/hsplit")) hsplit->restoreState(s.value("window/hsplit").toByteArray());
  if (s.contains("window/vsplit")) vsplit->restoreState(s.value("window/vsplit").toByteArray());
  if (s.contains("window/leftSplit")) leftSplit->restoreState(s.value("window/leftSplit").toByteArray());
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
