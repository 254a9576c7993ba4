// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/sensitivity_controller.h"

#include <QTabWidget>

#include "core/job/sensitivity_job.h"
#include "ui/background_task.h"
#include "ui/core_types.h"
#include "ui/panels/allocation_bar.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/sensitivity_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/sparsity_plot.h"
#include "ui/sparsity_model.h"
#include "ui/status_line.h"

namespace duo::ui {

SensitivityController::SensitivityController(const WindowParts& parts, QObject* parent) : QObject(parent), m_ui(parts) {
  connect(m_ui.sensPanel, &SensitivityPanel::runRequested, this, &SensitivityController::run);
  connect(m_ui.sensPanel, &SensitivityPanel::cancelRequested, m_ui.task, &BackgroundTask::cancel);
  connect(m_ui.allocBar, &AllocationBar::allocated, this, &SensitivityController::onAllocated);
  connect(m_ui.allocBar, &AllocationBar::failed, this, [this](const QString& m) { m_ui.status->setJobState(m); });
  connect(m_ui.allocBar, &AllocationBar::applyAndRunRequested, this, [this] {
    applyPreset("allocated");
    Q_EMIT runRequested();
  });
  connect(m_ui.table, &SparsityTable::presetRequested, this, &SensitivityController::applyPreset);
}

void SensitivityController::clear() {
  m_ui.sensPanel->clear("Run sensitivity to estimate how each layer of this model reacts to sparsity.");
  m_ui.allocBar->clear();
  m_ui.table->setAllocationAvailable(false);
}

void SensitivityController::run() {
  if (!m_ui.modelPanel->hasModel() || m_ui.isBusy()) return;
  const PruneRequest pr = m_ui.currentRequest();
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
  m_ui.plots->setCurrentWidget(m_ui.sensPanel);
  SensitivityPanel* panel = m_ui.sensPanel;
  TaskSpec spec{"sensitivity", "Estimating sensitivity...", "Sensitivity failed"};
  spec.onStarted = [panel] { panel->onStarted(); };
  spec.onProgress = [panel](const JobProgress& p) { panel->onProgress(p); };
  spec.onCancelled = [panel] { panel->onCancelled(); };
  spec.onFailed = [panel](const QString& message) { panel->onFailed(message); };
  m_ui.task->start<SensitivityTable>(
      spec, [req](const ProgressFn& progress) { return duo::runSensitivity(req, progress); },
      [this](const SensitivityTable& table) { onSensitivity(table); });
}

void SensitivityController::onSensitivity(const SensitivityTable& result) {
  // Only for the model that is still open.
  auto table = std::make_shared<const SensitivityTable>(result);
  if (!m_ui.modelPanel->hasModel() || table->numLayers() != m_ui.table->config().numLayers()) {
    m_ui.sensPanel->clear("The model changed while the sensitivity ran; run it again.");
    Q_EMIT actionsChanged();
    return;
  }
  m_ui.sensPanel->setSensitivity(table);
  m_ui.allocBar->setTable(table, m_ui.table->model()->decodeEstimate().speedup, m_ui.table->config().actRule);
  m_ui.table->setAllocationAvailable(true);
  m_ui.status->setJobState(QString("Sensitivity of %1 projections in %2: drag the target speedup to allocate")
                               .arg(table->projs.size())
                               .arg(formatDuration(table->secondsCompute)));
  Q_EMIT actionsChanged();
}

void SensitivityController::onAllocated(const Allocation& a) {
  try {
    m_ui.table->applyAllocation(a.config, QString("allocate %1× (%2)").arg(a.predicted.speedup, 0, 'f', 2).arg(qs(a.method)));
  } catch (const std::exception& e) {
    m_ui.showError("Could not apply the allocation", QString::fromUtf8(e.what()));
    return;
  }
  m_ui.sensPanel->setAllocation(a);
  m_ui.sparsityPlot->setTargets(m_ui.table->config());
}

void SensitivityController::applyPreset(const QString& kind) {
  const std::optional<Allocation> a = m_ui.allocBar->allocateNow(kind == "owl" ? "owl" : "lagrangian");
  if (!a) return;
  try {
    SparsityConfig cfg = a->config;
    cfg.nm = m_ui.table->config().nm;
    m_ui.table->applyConfig(cfg, QString("%1 preset at %2×").arg(kind).arg(m_ui.allocBar->targetSpeedup(), 0, 'f', 2));
  } catch (const std::exception& e) {
    m_ui.showError("Could not apply the preset", QString::fromUtf8(e.what()));
    return;
  }
  m_ui.sensPanel->setAllocation(*a);
  m_ui.sparsityPlot->setTargets(m_ui.table->config());
}

}  // namespace duo::ui
