// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/export_controller.h"

#include <QClipboard>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGuiApplication>
#include <QMessageBox>
#include <QStandardPaths>
#include <QTabWidget>

#include "core/data/cloze_task.h"
#include "core/data/corpus.h"
#include "core/data/mc_task.h"
#include "core/io/exports.h"
#include "core/io/recipe_yaml.h"
#include "core/job/command_line.h"
#include "core/job/run_job.h"
#include "ui/background_task.h"
#include "ui/core_types.h"
#include "ui/job_controller.h"
#include "ui/panels/data_panel.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/sensitivity_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/plot_base.h"
#include "ui/plots/sensitivity_plot.h"
#include "ui/run_controller.h"
#include "ui/run_store.h"
#include "ui/status_line.h"

namespace duo::ui {

ExportController::ExportController(const WindowParts& parts, const RunController* runs, QObject* parent)
    : QObject(parent), m_ui(parts), m_runs(runs) {
  connect(m_ui.dataPanel, &DataPanel::makeTaskRequested, this, [this] { makeTask(); });
}

void ExportController::exportConfig(const QString& given) {
  if (!m_ui.modelPanel->hasModel()) return;
  const QString path = given.isEmpty() ? m_ui.askSavePath("Export sparsity config", "sparsity.json", "JSON (*.json)") : given;
  if (path.isEmpty()) return;
  try {
    duo::exportConfig(ss(path), m_ui.table->config());
    m_ui.status->setJobState("Saved sparsity config " + path);
  } catch (const std::exception& e) {
    m_ui.showError("Could not save the sparsity config", QString::fromUtf8(e.what()));
  }
}

void ExportController::importConfig(const QString& given) {
  if (!m_ui.modelPanel->hasModel()) return;
  const QString path = given.isEmpty()
                           ? QFileDialog::getOpenFileName(m_ui.window, "Import sparsity config", dialogStartDir("open"), "Sparsity config (*.json)")
                           : given;
  if (given.isEmpty()) rememberDialogPath("open", path);
  if (!path.isEmpty()) m_ui.table->loadConfigFile(path);
}

void ExportController::exportRecipe(const QString& given) {
  if (!m_ui.modelPanel->hasModel()) return;
  const QString path = given.isEmpty() ? m_ui.askSavePath("Export recipe", "recipe.yaml", "YAML (*.yaml *.yml)") : given;
  if (path.isEmpty()) return;
  try {
    // The shown run's recipe, else the table's with the current settings.
    const RunEntry* run = m_ui.runs->find(m_runs->shownRunId());
    duo::exportRecipeYaml(ss(path), run ? run->record : recordOfRequest(m_ui.currentRequest()));
    m_ui.status->setJobState("Saved recipe " + path);
  } catch (const std::exception& e) {
    m_ui.showError("Could not save the recipe", QString::fromUtf8(e.what()));
  }
}

void ExportController::exportCsv(const QString& given) {
  const RunEntry* run = m_ui.runs->find(m_runs->shownRunId());
  const QVector<ProjRecord>& live = m_ui.job->records();
  const RunRecord rec = run ? run->record
                            : recordOfRequest(m_ui.currentRequest(), std::vector<ProjRecord>(live.begin(), live.end()));
  const std::vector<ProjRecord>& records = rec.records;
  if (records.empty()) return;
  const QString path = given.isEmpty() ? m_ui.askSavePath("Export records", (run ? run->id : "records") + ".csv", "CSV (*.csv)") : given;
  if (path.isEmpty()) return;
  try {
    duo::exportRecordsCsv(ss(path), rec);
    m_ui.status->setJobState(QString("Saved %1 records to %2").arg(records.size()).arg(path));
  } catch (const std::exception& e) {
    m_ui.showError("Could not save the records", QString::fromUtf8(e.what()));
  }
}

void ExportController::exportPlot(const QString& given) {
  auto* plot = qobject_cast<PlotBase*>(m_ui.plots->currentWidget());
  if (m_ui.plots->currentWidget() == m_ui.sensPanel) plot = m_ui.sensPanel->plot();
  if (!plot) return;
  const QString path = given.isEmpty()
                           ? m_ui.askSavePath("Export plot", plot->objectName() + ".png", "PNG image (*.png);;PDF (*.pdf)")
                           : given;
  if (path.isEmpty()) return;
  try {
    plot->exportTo(path);
    m_ui.status->setJobState("Saved plot " + path);
  } catch (const std::exception& e) {
    m_ui.showError("Could not save the plot", QString::fromUtf8(e.what()));
  }
}

void ExportController::copyCommandLine(const QString& given) {
  if (!m_ui.modelPanel->hasModel()) return;
  const QString path =
      given.isEmpty() ? m_ui.askSavePath("Save the sparsity config the command reads", "run.sparsity.json", "JSON (*.json)")
                      : given;
  if (path.isEmpty()) return;
  try {
    const PruneRequest req = m_ui.currentRequest();
    writeSparsityFile(req, req.sparsity.table().numLayers(), ss(path));
    const CommandLine c = pruneCommandLine(req, ss(QFileInfo(path).absoluteFilePath()), 2);
    const QString text = qs(c.shell) + "\n" + qs(c.nprocShell) + "\n" + qs(c.torchrunShell) + "\n";
    QGuiApplication::clipboard()->setText(text);
    m_ui.status->setJobState("Copied the command line; config in " + path);
    auto* box = new QMessageBox(QMessageBox::Information, "Command line",
                                "Copied to the clipboard (one process; 2 local ranks; torchrun on 2 ranks per node). "
                                "The sparsity config is in " + path + ".",
                                QMessageBox::Ok, m_ui.window);
    box->setObjectName("commandLineDialog");
    box->setDetailedText(text);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  } catch (const std::exception& e) {
    m_ui.showError("Could not write the command line", QString::fromUtf8(e.what()));
  }
}

void ExportController::makeTask(const QString& given, const QString& sourceGiven, int items) {
  if (m_ui.isBusy()) return;
  const QString source = sourceGiven.isEmpty() ? m_ui.dataPanel->evalSource() : sourceGiven;
  QString path = given;
  if (path.isEmpty()) {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/tasks";
    QDir().mkpath(dir);
    path = m_ui.askSavePath("Save the cloze task", QDir(dir).filePath("kjv-cloze.jsonl"), "JSONL (*.jsonl)");
    if (path.isEmpty()) return;
  }
  ClozeOptions opts;
  opts.items = items;  // 200: about 800 scored continuations, a few seconds on the tiny model
  m_ui.task->start<QString>(
      TaskSpec{"task", "Making a task...", "Could not make the task"},
      [path, source, opts](const ProgressFn& progress) {
        reportProgress(progress, {"task", "reading " + ss(source), 0, 2});  // cancellable before and after reading
        const CorpusText text = loadCorpus(ss(source));
        reportProgress(progress, {"task", "making cloze items", 1, 2});
        McTask task = makeClozeTask(text, opts);
        task.name = ss(QFileInfo(path).completeBaseName());
        saveMcTask(ss(path), task);
        return path;
      },
      [this](const QString& written) {
        m_ui.dataPanel->setTaskFile(written);
        m_ui.status->setJobState("Task written to " + written + "; the next run reports its accuracy");
      });
}

}  // namespace duo::ui
