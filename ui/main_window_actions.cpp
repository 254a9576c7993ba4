// MainWindow's file actions: runs (load, compare), exports, workspaces, screenshots, settings.
#include <QBuffer>
#include <QClipboard>
#include <QGuiApplication>
#include <QMessageBox>
#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QSettings>
#include <QSplitter>
#include <QTabWidget>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/exports.h"
#include "core/job/checkpoint_copy.h"
#include "core/job/command_line.h"
#include "core/io/recipe_yaml.h"
#include "ui/background_task.h"
#include "ui/compare_dialog.h"
#include "ui/core_types.h"
#include "core/io/workspace.h"
#include "ui/job_controller.h"
#include "ui/main_window.h"
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
#include "ui/plots/sensitivity_plot.h"
#include "ui/plots/sparsity_plot.h"
#include "ui/run_store.h"
#include "ui/status_line.h"
#include "ui/workspace_autosave.h"

namespace duo::ui {

QString MainWindow::askSavePath(const QString& title, const QString& suggested, const QString& filter) {
  QSettings s;
  const QString dir = dialogStartDir("export");
  // A save dialog (not a folder picker) also for folders: it accepts a new folder's name typed in.
  const QString path = QFileDialog::getSaveFileName(this, title, QDir(dir).filePath(suggested), filter);
  if (!path.isEmpty()) s.setValue("paths/exportDir", QFileInfo(path).absolutePath());
  return path;
}

void MainWindow::loadRun(const QString& id) {
  const RunEntry* run = m_runs->find(id);
  if (!run) return;
  const RunRecord& r = run->record;
  const PruneRequest settings = run->request(currentRequest());
  m_shownRunId = id;
  m_runsPanel->selectRun(id);
  const bool sameModel = m_modelPanel->hasModel() && r.sparsity.numLayers() == m_table->config().numLayers();
  if (sameModel && !isBusy()) {
    try {
      m_table->applyConfig(r.sparsity, "load run " + run->label());
    } catch (const std::exception& e) {
      showError("Could not load the run's table", QString::fromUtf8(e.what()));
    }
  }
  m_methodPanel->showRequest(settings);
  m_dataPanel->showRequest(settings);
  int layers = r.sparsity.numLayers();
  for (const ProjRecord& p : r.records) layers = std::max(layers, p.layer + 1);
  m_errorPlot->setLayerCount(layers);
  m_heatmap->setLayerCount(layers);
  m_sparsityPlot->setTargets(r.sparsity);
  m_plotSubject = QString("%1 on %2").arg(run->label(), run->modelName());
  refreshPlotTitles();
  m_runPanel->showRun(r, "Loaded run");
  showRecords(QVector<ProjRecord>(r.records.begin(), r.records.end()));
  m_status->setJobState(QString("Showing run %1%2").arg(run->label(), sameModel ? QString() : " (recorded on another model)"));
  updateActions();
}

void MainWindow::compareRuns(const QString& a, const QString& b) {
  const RunEntry* ra = m_runs->find(a);
  const RunEntry* rb = m_runs->find(b);
  if (!ra || !rb) return;
  auto* dialog = new CompareDialog(*ra, *rb, this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->show();
}

void MainWindow::exportConfig(const QString& given) {
  if (!m_modelPanel->hasModel()) return;
  const QString path = given.isEmpty() ? askSavePath("Export sparsity config", "sparsity.json", "JSON (*.json)") : given;
  if (path.isEmpty()) return;
  try {
    duo::exportConfig(ss(path), m_table->config());
    m_status->setJobState("Saved sparsity config " + path);
  } catch (const std::exception& e) {
    showError("Could not save the sparsity config", QString::fromUtf8(e.what()));
  }
}

void MainWindow::importConfig(const QString& given) {
  if (!m_modelPanel->hasModel()) return;
  const QString path = given.isEmpty()
                           ? QFileDialog::getOpenFileName(this, "Import sparsity config", dialogStartDir("open"), "Sparsity config (*.json)")
                           : given;
  if (given.isEmpty()) rememberDialogPath("open", path);
  if (!path.isEmpty()) m_table->loadConfigFile(path);
}

void MainWindow::exportRecipe(const QString& given) {
  if (!m_modelPanel->hasModel()) return;
  const QString path = given.isEmpty() ? askSavePath("Export recipe", "recipe.yaml", "YAML (*.yaml *.yml)") : given;
  if (path.isEmpty()) return;
  try {
    // The shown run's recipe, else the table's with the current settings.
    const RunEntry* run = m_runs->find(m_shownRunId);
    duo::exportRecipeYaml(ss(path), run ? run->record : recordOfRequest(currentRequest()));
    m_status->setJobState("Saved recipe " + path);
  } catch (const std::exception& e) {
    showError("Could not save the recipe", QString::fromUtf8(e.what()));
  }
}

void MainWindow::exportCsv(const QString& given) {
  const RunEntry* run = m_runs->find(m_shownRunId);
  const RunRecord rec = run ? run->record
                            : recordOfRequest(currentRequest(),
                                              std::vector<ProjRecord>(m_job->records().begin(), m_job->records().end()));
  const std::vector<ProjRecord>& records = rec.records;
  if (records.empty()) return;
  const QString path = given.isEmpty() ? askSavePath("Export records", (run ? run->id : "records") + ".csv", "CSV (*.csv)") : given;
  if (path.isEmpty()) return;
  try {
    duo::exportRecordsCsv(ss(path), rec);
    m_status->setJobState(QString("Saved %1 records to %2").arg(records.size()).arg(path));
  } catch (const std::exception& e) {
    showError("Could not save the records", QString::fromUtf8(e.what()));
  }
}

void MainWindow::exportPlot(const QString& given) {
  auto* plot = qobject_cast<PlotBase*>(m_plots->currentWidget());
  if (m_plots->currentWidget() == m_sensPanel) plot = m_sensPanel->plot();
  if (!plot) return;
  const QString path = given.isEmpty()
                           ? askSavePath("Export plot", plot->objectName() + ".png", "PNG image (*.png);;PDF (*.pdf)")
                           : given;
  if (path.isEmpty()) return;
  try {
    plot->exportTo(path);
    m_status->setJobState("Saved plot " + path);
  } catch (const std::exception& e) {
    showError("Could not save the plot", QString::fromUtf8(e.what()));
  }
}

void MainWindow::exportCheckpoint(const QString& given, const QString& format) {
  if (!m_modelPanel->hasModel() || isBusy()) return;
  const RunEntry* run = m_runs->find(m_shownRunId);
  const QString suggested = (run ? run->id : QString("pruned")) + (format == "dense" ? "" : "-" + format);
  const QString dir = given.isEmpty() ? askSavePath("Folder for the pruned checkpoint (created)", suggested, QString()) : given;
  if (dir.isEmpty()) return;
  if (run && !run->checkpointDir().isEmpty()) {
    // The run's own weights, rewritten in the format asked for: no calibration, no new run.
    const QString from = run->checkpointDir(), label = run->label();
    m_task->start<QString>(
        TaskSpec{"checkpoint", "Writing the pruned checkpoint...", "Could not write the pruned checkpoint"},
        [from, dir, format](const ProgressFn& progress) {
          copyCheckpoint(ss(from), ss(dir), ss(format), progress);
          return dir;
        },
        [this](const QString& written) { m_status->setJobState("Pruned checkpoint written to " + written); });
    m_status->setJobState(QString("Writing the pruned weights of %1 to %2...").arg(label, dir));
    return;
  }
  m_checkpointDir = dir;  // startJob() passes it and the format as outDir/outFormat; cleared when the job ends
  m_checkpointFormat = format;
  if (run) {
    if (!m_modelPanel->hasModel() || run->record.sparsity.numLayers() != m_table->config().numLayers()) {
      m_checkpointDir.clear();
      showError("Cannot export the checkpoint",
                QString("Run %1 was recorded on %2 and its weights were not kept; open that model to calibrate it again.")
                    .arg(run->label(), run->modelName()));
      return;
    }
    m_checkpointRunId = run->id;  // its weights were not kept: calibrate again with its own settings and seed
    startJob(run->request(currentRequest()));
  } else {
    startJob(currentRequest());
  }
}

void MainWindow::copyCommandLine(const QString& given) {
  if (!m_modelPanel->hasModel()) return;
  const QString path =
      given.isEmpty() ? askSavePath("Save the sparsity config the command reads", "run.sparsity.json", "JSON (*.json)")
                      : given;
  if (path.isEmpty()) return;
  try {
    const PruneRequest req = currentRequest();
    writeSparsityFile(req, req.sparsity.numLayers(), ss(path));
    const CommandLine c = pruneCommandLine(req, ss(QFileInfo(path).absoluteFilePath()), 2);
    const QString text = qs(c.shell) + "\n" + qs(c.nprocShell) + "\n" + qs(c.torchrunShell) + "\n";
    QGuiApplication::clipboard()->setText(text);
    m_status->setJobState("Copied the command line; config in " + path);
    auto* box = new QMessageBox(QMessageBox::Information, "Command line",
                                "Copied to the clipboard (one process; 2 local ranks; torchrun on 2 ranks per node). "
                                "The sparsity config is in " + path + ".",
                                QMessageBox::Ok, this);
    box->setObjectName("commandLineDialog");
    box->setDetailedText(text);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  } catch (const std::exception& e) {
    showError("Could not write the command line", QString::fromUtf8(e.what()));
  }
}

void MainWindow::saveWorkspaceAs(const QString& given) {
  const QString path = given.isEmpty() ? askSavePath("Save workspace", "workspace.duoscope.json", "DuoScope workspace (*.json)") : given;
  if (path.isEmpty()) return;
  try {
    Workspace ws = currentWorkspace({});
    for (const RunEntry& r : m_runs->runs()) ws.runs.push_back(r.record);
    saveWorkspace(ss(path), ws);
    m_status->setJobState("Saved workspace " + path);
  } catch (const std::exception& e) {
    showError("Could not save the workspace", QString::fromUtf8(e.what()));
  }
}

void MainWindow::openWorkspace(const QString& given) {
  if (isBusy()) return;
  const QString path = given.isEmpty()
                           ? QFileDialog::getOpenFileName(this, "Open workspace", dialogStartDir("open"), "DuoScope workspace (*.json)")
                           : given;
  if (given.isEmpty()) rememberDialogPath("open", path);
  if (path.isEmpty()) return;
  try {
    const Workspace ws = loadWorkspace(ss(path));
    // The workspace's runs live in a folder beside it, so that new runs join them.
    const QFileInfo fi(path);
    applyWorkspace(ws, fi.absolutePath() + "/" + fi.completeBaseName() + "-runs");
    m_status->setJobState("Opened workspace " + path);
  } catch (const std::exception& e) {
    showError("Could not open the workspace", QString::fromUtf8(e.what()));
  }
}

Workspace MainWindow::currentWorkspace(const QString& runsDir) const {
  Workspace ws;
  ws.request = currentRequest();
  ws.runsDir = ss(runsDir);
  ws.values = kernels::valueTypeName(m_table->model()->decodeValues());
  ws.alsoEval = m_dataPanel->alsoEval();
  return ws;
}

void MainWindow::applyWorkspace(const Workspace& ws, const QString& runsDir) {
  if (QFileInfo(runsDir).absoluteFilePath() != QFileInfo(m_runs->directory()).absoluteFilePath()) m_runs->setDirectory(runsDir);
  for (const RunRecord& r : ws.runs)
    if (!m_runs->find(qs(r.id))) m_runs->insert(r);
  m_dataPanel->showRequest(ws.request);
  m_methodPanel->showRequest(ws.request);
  QStringList also;
  for (const std::string& c : ws.alsoEval) also << qs(c);
  m_dataPanel->setAlsoEval(also.join(", "));
  m_table->setDecodeValues(kernels::parseValueType(ws.values));
  m_pendingTable = ws.request.sparsity;
  openModel(qs(ws.request.model));
}

void MainWindow::offerRestore() {
  if (findChild<QMessageBox*>("restoreOffer")) return;
  QString unreadable;
  QMessageBox* box = m_autosave->makeOffer(this, m_runs->directory(), [this](const QString& path) { return restoreAutosave(path); },
                                           &unreadable);
  if (!unreadable.isEmpty()) m_status->setJobState("The autosaved workspace of the last session could not be read: " + unreadable);
  if (box) box->open();
}

bool MainWindow::restoreAutosave(const QString& path) {
  if (isBusy()) return false;
  try {
    const Workspace ws = loadWorkspace(ss(path));
    applyWorkspace(ws, ws.runsDir.empty() ? m_runs->directory() : qs(ws.runsDir));  // older autosaves: this folder
    m_status->setJobState("Restored the autosaved workspace");
    return true;
  } catch (const std::exception& e) {
    showError("Could not restore the autosaved workspace", QString::fromUtf8(e.what()));
    return false;
  }
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

void MainWindow::saveSettings() const {
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  s.setValue("window/hsplit", m_hsplit->saveState());
  s.setValue("window/vsplit", m_vsplit->saveState());
  s.setValue("window/leftSplit", m_leftSplit->saveState());
  s.setValue("window/plotTab", m_plots->currentIndex());
  m_dataPanel->saveSettings();
  m_methodPanel->saveSettings();
}

void MainWindow::loadSettings() {
  QSettings s;
  if (s.contains("window/geometry")) restoreGeometry(s.value("window/geometry").toByteArray());
  if (s.contains("window/state")) restoreState(s.value("window/state").toByteArray());
  if (s.contains("window/hsplit")) m_hsplit->restoreState(s.value("window/hsplit").toByteArray());
  if (s.contains("window/vsplit")) m_vsplit->restoreState(s.value("window/vsplit").toByteArray());
  if (s.contains("window/leftSplit")) m_leftSplit->restoreState(s.value("window/leftSplit").toByteArray());
  m_plots->setCurrentIndex(s.value("window/plotTab", 0).toInt());
  m_dataPanel->loadSettings();
  m_methodPanel->loadSettings();
  restoreTimingProfile();
}

}  // namespace duo::ui
