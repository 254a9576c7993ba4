// MainWindow's analysis actions: the sensitivity job and task
// generation in the background worker, the allocator behind the target-speedup slider and the
// Allocated / OWL presets.
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

#include "core/data/cloze_task.h"
#include "core/data/corpus.h"
#include "core/data/mc_task.h"
#include "core/job/sensitivity_job.h"
#include "ui/background_task.h"
#include "ui/core_types.h"
#include "ui/main_window.h"
#include "ui/panels/allocation_bar.h"
#include "ui/panels/data_panel.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/sensitivity_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/sparsity_plot.h"
#include "ui/status_line.h"

namespace duo::ui {

void MainWindow::runSensitivity() {
  if (!m_modelPanel->hasModel() || isBusy()) return;
  const PruneRequest pr = currentRequest();
  SensitivityRequest req;
  req.model = pr.model;
  req.calibSource = pr.calibSource;
  req.nsamples = pr.nsamples;
  req.seqlen = pr.seqlen;
  req.seed = pr.seed;
  req.device = pr.device;
  req.options.estimator = estimatorFor(pr.method);  // the error of the solver that will run
  req.options.damping = pr.damp;
  req.options.blockSize = pr.blockSize;
  m_plots->setCurrentWidget(m_sensPanel);
  TaskSpec spec{"sensitivity", "Estimating sensitivity...", "Sensitivity failed"};
  spec.onStarted = [this] { m_sensPanel->onStarted(); };
  spec.onProgress = [this](const JobProgress& p) { m_sensPanel->onProgress(p); };
  spec.onCancelled = [this] { m_sensPanel->onCancelled(); };
  spec.onFailed = [this](const QString& message) { m_sensPanel->onFailed(message); };
  m_task->start<SensitivityTable>(
      spec, [req](const ProgressFn& progress) { return duo::runSensitivity(req, progress); },
      [this](const SensitivityTable& table) { onSensitivity(table); });
}

void MainWindow::makeTask(const QString& given, const QString& sourceGiven, int items) {
  if (isBusy()) return;
  const QString source = sourceGiven.isEmpty() ? m_dataPanel->evalSource() : sourceGiven;
  QString path = given;
  if (path.isEmpty()) {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/tasks";
    QDir().mkpath(dir);
    path = askSavePath("Save the cloze task", QDir(dir).filePath("kjv-cloze.jsonl"), "JSONL (*.jsonl)");
    if (path.isEmpty()) return;
  }
  ClozeOptions opts;
  opts.items = items;  // 200: about 800 scored continuations, a few seconds on the tiny model
  m_task->start<QString>(
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
        m_dataPanel->setTaskFile(written);
        m_status->setJobState("Task written to " + written + "; the next run reports its accuracy");
      });
}

void MainWindow::onSensitivity(const SensitivityTable& result) {
  // Only for the model that is still open.
  auto table = std::make_shared<const SensitivityTable>(result);
  if (!m_modelPanel->hasModel() || table->numLayers() != m_table->config().numLayers()) {
    m_sensPanel->clear("The model changed while the sensitivity ran; run it again.");
    updateActions();
    return;
  }
  m_sensPanel->setSensitivity(table);
  m_allocBar->setTable(table, m_table->model()->decodeEstimate().speedup, m_table->config().actRule);
  m_table->setAllocationAvailable(true);
  m_status->setJobState(QString("Sensitivity of %1 projections in %2: drag the target speedup to allocate")
                            .arg(table->projs.size())
                            .arg(formatDuration(table->secondsCompute)));
  updateActions();
}

void MainWindow::onAllocated(const Allocation& a) {
  try {
    m_table->applyAllocation(a.config, QString("allocate %1× (%2)").arg(a.predicted.speedup, 0, 'f', 2).arg(qs(a.method)));
  } catch (const std::exception& e) {
    showError("Could not apply the allocation", QString::fromUtf8(e.what()));
    return;
  }
  m_sensPanel->setAllocation(a);
  m_sparsityPlot->setTargets(m_table->config());
}

void MainWindow::applyPreset(const QString& kind) {
  const std::optional<Allocation> a = m_allocBar->allocateNow(kind == "owl" ? "owl" : "lagrangian");
  if (!a) return;
  try {
    SparsityConfig cfg = a->config;
    cfg.nm = m_table->config().nm;
    m_table->applyConfig(cfg, QString("%1 preset at %2×").arg(kind).arg(m_allocBar->targetSpeedup(), 0, 'f', 2));
  } catch (const std::exception& e) {
    showError("Could not apply the preset", QString::fromUtf8(e.what()));
    return;
  }
  m_sensPanel->setAllocation(*a);
  m_sparsityPlot->setTargets(m_table->config());
}

}  // namespace duo::ui
