// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/run_controller.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>

#include "core/job/calibration_advice.h"
#include "core/job/checkpoint_copy.h"
#include "ui/background_task.h"
#include "ui/compare_dialog.h"
#include "ui/core_types.h"
#include "ui/job_controller.h"
#include "ui/panels/data_panel.h"
#include "ui/panels/method_panel.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/run_panel.h"
#include "ui/panels/runs_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/error_heatmap.h"
#include "ui/plots/error_plot.h"
#include "ui/plots/runs_plot.h"
#include "ui/plots/sparsity_plot.h"
#include "ui/run_store.h"
#include "ui/sparsity_model.h"
#include "ui/status_line.h"
#include "ui/timing_controller.h"

namespace duo::ui {

RunController::RunController(const WindowParts& parts, const TimingController* timing, QObject* parent)
    : QObject(parent), m_ui(parts), m_timing(timing) {
  wireJob();
  connect(m_ui.table, &SparsityTable::configChanged, this, [this] {
    if (m_shownRunId.isEmpty()) m_ui.sparsityPlot->setTargets(m_ui.table->config());
  });
  connect(m_ui.dataPanel, &DataPanel::changed, this, &RunController::refreshPlotTitles);
  connect(m_ui.dataPanel, &DataPanel::changed, this, &RunController::refreshMemoryPlan);
  connect(m_ui.methodPanel, &MethodPanel::changed, this, &RunController::refreshMemoryPlan);  // the advice is per method
  auto showRuns = [this] { m_ui.runsPlot->setRuns(m_ui.runsPanel->visibleRuns()); };
  connect(m_ui.runs, &RunStore::changed, this, showRuns);
  connect(m_ui.runsPanel, &RunsPanel::filterChanged, this, showRuns);
  connect(m_ui.runs, &RunStore::loadFailed, this, [this](const QString& file, const QString& message) {
    m_ui.status->setJobState("Skipped unreadable run record " + QFileInfo(file).fileName() + ": " + message);
  });
  connect(m_ui.runsPanel, &RunsPanel::loadRequested, this, &RunController::loadRun);
  connect(m_ui.runsPanel, &RunsPanel::compareRequested, this, &RunController::compareRuns);
  connect(m_ui.runsPlot, &RunsPlot::runClicked, this, &RunController::loadRun);
}

void RunController::wireJob() {
  JobController* job = m_ui.job;
  connect(job, &JobController::started, this, [this](const RunRequest& run) {
    m_shownRunId.clear();
    const int layers = static_cast<int>(m_ui.modelPanel->model().config.numLayers);
    m_ui.errorPlot->setLayerCount(layers);  // a loaded run of another model may have set other axes
    m_ui.heatmap->setLayerCount(layers);
    m_plotSubject = QString("%1 on %2").arg(qs(recordOfRequest(run.prune).label()), m_ui.modelDisplayName());
    refreshPlotTitles();
    showRecords({});
    m_ui.sparsityPlot->setTargets(m_ui.table->config());
    m_ui.runPanel->onStarted();
    m_ui.status->setJobState(m_checkpointDir.isEmpty() ? "Calibrating..." : "Exporting a pruned checkpoint...");
    Q_EMIT actionsChanged();
  });
  connect(job, &JobController::progressed, m_ui.runPanel, &RunPanel::onProgress);
  connect(job, &JobController::progressed, this, [this](const JobProgress& p) {
    m_ui.status->setJobState(QString("%1 %2").arg(p.stage, p.detail));
  });
  connect(job, &JobController::recordsUpdated, this, &RunController::showRecords);
  connect(job, &JobController::stateChanged, this, [this](JobController::State s) {
    if (s == JobController::State::Cancelling) m_ui.runPanel->onCancelling();
    Q_EMIT actionsChanged();
  });
  connect(job, &JobController::finished, this, &RunController::onJobFinished);
  // A run that ends without a result leaves nothing behind: no checkpoint export pending, no
  // partial bars, no run named in the plot titles.
  auto dropUnfinished = [this] {
    m_checkpointDir.clear();
    m_checkpointRunId.clear();
    showRecords({});
    m_plotSubject.clear();
    refreshPlotTitles();
  };
  connect(job, &JobController::cancelled, this, [this, dropUnfinished] {
    dropUnfinished();
    m_ui.runPanel->onCancelled();
    m_ui.status->setJobState("Cancelled: the model is unchanged and nothing was written");
    Q_EMIT actionsChanged();
  });
  connect(job, &JobController::failed, this, [this, dropUnfinished](const QString& message) {
    dropUnfinished();
    m_ui.runPanel->onFailed(message);
    m_ui.status->setJobState("Calibration failed");
    Q_EMIT actionsChanged();
    m_ui.showError("Calibration failed", message);
  });
}

void RunController::showRecords(const QVector<ProjRecord>& records) {
  m_ui.errorPlot->setRecords(records);
  m_ui.heatmap->setRecords(records);
  m_ui.sparsityPlot->setRecords(records);
}

void RunController::onJobFinished(const RunOutcome& outcome) {
  const PruneResult& r = outcome.result;
  const SpeedCheck& speed = outcome.speed;
  m_ui.runPanel->onFinished(outcome);
  const QString checkpoint = m_checkpointDir;
  const QString rerunOf = m_checkpointRunId;
  m_checkpointDir.clear();
  m_checkpointRunId.clear();
  if (!rerunOf.isEmpty()) {
    // A checkpoint export of a stored run whose weights were not kept: the run is already in the
    // list; the calibration only re-made its weights.
    m_shownRunId = rerunOf;
    m_ui.runsPanel->selectRun(rerunOf);
    m_ui.status->setJobState("Pruned checkpoint written to " + checkpoint + " (calibrated again: the run's weights were not kept)");
    Q_EMIT actionsChanged();
    return;
  }
  try {
    const RunEntry& run = m_ui.runs->adopt(outcome.record);  // saved by core's runJob
    m_shownRunId = run.id;
    m_ui.runsPanel->selectRun(run.id);
    m_ui.status->setJobState(checkpoint.isEmpty() ? QString("Done in %1: %2").arg(formatDuration(r.secondsTotal), run.label())
                                                  : "Pruned checkpoint written to " + checkpoint);
    if (!outcome.measureError.empty())
      m_ui.status->setJobState("Run stored; decode speedup not measured: " + qs(outcome.measureError));
    else if (speed.measured() && !speed.trusted())
      m_ui.status->setJobState("Run stored; its measured speedup is not to be trusted: " + speedCheckFlags(speed));
    Q_EMIT actionsChanged();
    Q_EMIT runStored(run.id);
  } catch (const std::exception& e) {
    Q_EMIT actionsChanged();
    m_ui.showError("Could not save the run record", QString::fromUtf8(e.what()));
  }
}

void RunController::onModelOpened(const ModelInfo& info) {
  const int layers = static_cast<int>(info.config.numLayers);
  m_ui.errorPlot->setLayerCount(layers);
  m_ui.heatmap->setLayerCount(layers);
  m_shownRunId.clear();
  m_plotSubject.clear();
  m_ui.runPanel->clearResult();  // the previous model's numbers
  showRecords({});
  m_ui.sparsityPlot->setTargets(m_ui.table->config());
  refreshPlotTitles();
  refreshMemoryPlan();
}

void RunController::refreshPlotTitles() {
  const QString data = m_ui.dataPanel->calibrationSummary();
  const QString subject = m_plotSubject.isEmpty() ? m_ui.modelDisplayName() : m_plotSubject;
  const QString tail = (subject.isEmpty() ? QString() : " · " + subject) + " · " + data;
  m_ui.errorPlot->setTitle("Relative output error" + tail);
  m_ui.heatmap->setTitle("Error, layers × projections" + tail);
  m_ui.sparsityPlot->setTitle("Sparsity, achieved vs target" + tail);
  for (PlotBase* p : std::initializer_list<PlotBase*>{m_ui.errorPlot, m_ui.heatmap, m_ui.sparsityPlot})
    p->replot(QCustomPlot::rpQueuedReplot);
}

void RunController::refreshMemoryPlan() {
  const ModelInfo& model = m_ui.modelPanel->model();
  if (model.path.empty()) {
    m_ui.dataPanel->setAdvice({}, true);
    return m_ui.runPanel->setMemoryPlanError({});
  }
  {
    PruneRequest req = m_ui.currentRequest();
    int n = 0, len = 0;
    defaultCalibration(model.parameters, device().cuda, &n, &len);
    if (req.nsamples <= 0) req.nsamples = n;
    if (req.seqlen <= 0) req.seqlen = len;
    const CalibrationAdvice a = adviseCalibration(model.config, req.method, req.nsamples, req.seqlen);
    m_ui.dataPanel->setAdvice(qs(a.text(req.nsamples, req.seqlen)), a.enough());
  }
  try {
    m_ui.runPanel->setMemoryPlan(planPrune(m_ui.currentRequest()));  // headers only: instant even for 70B
  } catch (const std::exception& e) {
    m_ui.runPanel->setMemoryPlanError(QString::fromStdString(e.what()));
  }
}

void RunController::calibrate() {
  if (!m_ui.modelPanel->hasModel() || m_ui.isBusy()) return;
  startJob(m_ui.currentRequest());
}

void RunController::startJob(PruneRequest req) {
  req.outDir = ss(m_checkpointDir);
  // The export's format when this job writes an export (the run's kept weights are dense).
  req.outFormat = m_checkpointDir.isEmpty() ? std::string("dense") : ss(m_checkpointFormat);
  if (req.outDir.empty() && m_ui.runPanel->keepWeights() && !m_ui.runs->weightsDirectory().isEmpty()) {
    // The run's pruned weights stay beside its record, for Export > Pruned checkpoint.
    QDir().mkpath(m_ui.runs->weightsDirectory());
    const QString name = QDateTime::currentDateTimeUtc().toString("yyyyMMdd-HHmmss-zzz") + "-" +
                         QString::number(QCoreApplication::applicationPid());
    req.outDir = ss(m_ui.runs->weightsDirectory() + "/" + name);
  }
  // int8 values chosen for the decode: the run makes the int8 model (prune --out-dtype int8), so
  // that its perplexity, accuracy and kept weights are the int8 model's. Not with the sparse-bitmask
  // export, which stores f32 values.
  if (m_ui.table->model()->decodeValues() == kernels::ValueType::I8 && req.outFormat != "sparse-bitmask" &&
      (req.outDtype.empty() || req.outDtype == "source"))
    req.outDtype = "int8";
  Q_EMIT aboutToStart();
  RunRequest run;
  run.prune = std::move(req);
  run.measureSpeed = m_ui.runPanel->measureSpeedup();
  run.alsoEval = m_ui.dataPanel->alsoEval();
  run.timing = m_timing->profile();
  run.values = m_ui.table->model()->decodeValues();
  run.int8Inputs = m_ui.table->model()->decodeInt8Inputs();
  run.runsDir = ss(m_ui.runs->directory());  // core marks the run there while it runs, then records it
  run.saveRecord = m_checkpointRunId.isEmpty();  // re-making a stored run's weights adds no record
  m_ui.job->start(run);
}

void RunController::cancel() {
  m_ui.job->cancel();
  m_ui.task->cancel();
  Q_EMIT actionsChanged();
}

void RunController::loadRun(const QString& id) {
  const RunEntry* run = m_ui.runs->find(id);
  if (!run) return;
  const RunRecord& r = run->record;
  const PruneRequest settings = run->request(m_ui.currentRequest());
  m_shownRunId = id;
  m_ui.runsPanel->selectRun(id);
  const bool sameModel = m_ui.modelPanel->hasModel() && r.sparsity.numLayers() == m_ui.table->config().numLayers();
  if (sameModel && !m_ui.isBusy()) {
    try {
      m_ui.table->applyConfig(r.sparsity, "load run " + run->label());
    } catch (const std::exception& e) {
      m_ui.showError("Could not load the run's table", QString::fromUtf8(e.what()));
    }
  }
  m_ui.methodPanel->showRequest(settings);
  m_ui.dataPanel->showRequest(settings);
  int layers = r.sparsity.numLayers();
  for (const ProjRecord& p : r.records) layers = std::max(layers, p.layer + 1);
  m_ui.errorPlot->setLayerCount(layers);
  m_ui.heatmap->setLayerCount(layers);
  m_ui.sparsityPlot->setTargets(r.sparsity);
  m_plotSubject = QString("%1 on %2").arg(run->label(), run->modelName());
  refreshPlotTitles();
  m_ui.runPanel->showRun(r, "Loaded run");
  showRecords(QVector<ProjRecord>(r.records.begin(), r.records.end()));
  m_ui.status->setJobState(QString("Showing run %1%2").arg(run->label(), sameModel ? QString() : " (recorded on another model)"));
  Q_EMIT actionsChanged();
}

void RunController::compareRuns(const QString& a, const QString& b) {
  const RunEntry* ra = m_ui.runs->find(a);
  const RunEntry* rb = m_ui.runs->find(b);
  if (!ra || !rb) return;
  auto* dialog = new CompareDialog(*ra, *rb, m_ui.window);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->show();
}

void RunController::exportCheckpoint(const QString& given, const QString& format) {
  if (!m_ui.modelPanel->hasModel() || m_ui.isBusy()) return;
  const RunEntry* run = m_ui.runs->find(m_shownRunId);
  const QString suggested = (run ? run->id : QString("pruned")) + (format == "dense" ? "" : "-" + format);
  const QString dir = given.isEmpty() ? m_ui.askSavePath("Folder for the pruned checkpoint (created)", suggested, QString()) : given;
  if (dir.isEmpty()) return;
  if (run && !run->checkpointDir().isEmpty()) {
    // The run's own weights, rewritten in the format asked for: no calibration, no new run.
    const QString from = run->checkpointDir(), label = run->label();
    m_ui.task->start<QString>(
        TaskSpec{"checkpoint", "Writing the pruned checkpoint...", "Could not write the pruned checkpoint"},
        [from, dir, format](const ProgressFn& progress) {
          copyCheckpoint(ss(from), ss(dir), ss(format), progress);
          return dir;
        },
        [this](const QString& written) { m_ui.status->setJobState("Pruned checkpoint written to " + written); });
    m_ui.status->setJobState(QString("Writing the pruned weights of %1 to %2...").arg(label, dir));
    return;
  }
  m_checkpointDir = dir;  // startJob() passes it and the format as outDir/outFormat; cleared when the job ends
  m_checkpointFormat = format;
  if (run) {
    if (!m_ui.modelPanel->hasModel() || run->record.sparsity.numLayers() != m_ui.table->config().numLayers()) {
      m_checkpointDir.clear();
      m_ui.showError("Cannot export the checkpoint",
                     QString("Run %1 was recorded on %2 and its weights were not kept; open that model to calibrate it again.")
                         .arg(run->label(), run->modelName()));
      return;
    }
    m_checkpointRunId = run->id;  // its weights were not kept: calibrate again with its own settings and seed
    startJob(run->request(m_ui.currentRequest()));
  } else {
    startJob(m_ui.currentRequest());
  }
}

}  // namespace duo::ui
