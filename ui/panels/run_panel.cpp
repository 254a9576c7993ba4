#include "ui/panels/run_panel.h"

#include <QAction>
#include <QCheckBox>
#include <QSettings>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QToolButton>
#include <QVBoxLayout>

#include "ui/core_types.h"

namespace duo::ui {

namespace {
QToolButton* actionButton(QAction* a) {
  auto* b = new QToolButton;
  b->setDefaultAction(a);
  b->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  b->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  return b;
}
}  // namespace

RunPanel::RunPanel(QAction* calibrate, QAction* cancel, QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->setSpacing(4);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(actionButton(calibrate));
  buttons->addWidget(actionButton(cancel));
  layout->addLayout(buttons);
  m_plan = new QLabel;
  m_plan->setObjectName("memoryPlan");
  m_plan->setWordWrap(true);
  layout->addWidget(m_plan);
  m_measure = new QCheckBox("Measure decode speedup after the run");
  m_measure->setObjectName("measureSpeedup");
  m_measure->setChecked(QSettings().value("run/measureSpeedup", true).toBool());
  m_measure->setToolTip("After evaluation, time batch-1 decode steps of the pruned model on the packed dual-sparse "
                        "kernels against its weights run densely (core/perf); the pruned checkpoint is written to a "
                        "temporary folder for it and deleted afterwards");
  connect(m_measure, &QCheckBox::toggled, this, [](bool on) { QSettings().setValue("run/measureSpeedup", on); });
  if (!JobController::canMeasureSpeedup()) {
    m_measure->setChecked(false);
    m_measure->setEnabled(false);
    m_measure->setToolTip("This build has no decode benchmark (core/perf/decode_bench.h)");
  }
  layout->addWidget(m_measure);

  m_bar = new QProgressBar;
  m_bar->setObjectName("runProgress");
  m_bar->setRange(0, 1000);
  m_bar->setValue(0);
  m_bar->setFormat("%p %");
  layout->addWidget(m_bar);
  m_stage = new QLabel("Idle");
  m_stage->setObjectName("runStage");
  m_stage->setWordWrap(true);
  layout->addWidget(m_stage);
  m_eta = new QLabel;
  m_eta->setObjectName("runEta");
  layout->addWidget(m_eta);
  m_result = new QLabel;
  m_result->setObjectName("runResult");
  m_result->setWordWrap(true);
  m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(m_result);
  layout->addStretch(1);
}

void RunPanel::onStarted() {
  m_bar->setRange(0, 0);  // busy until the first progress with a total
  m_stage->setText("Starting...");
  m_eta->clear();
}

void RunPanel::onProgress(const JobProgress& p) {
  if (p.total > 0) {
    m_bar->setRange(0, 1000);
    m_bar->setValue(static_cast<int>(1000.0 * static_cast<double>(p.done) / static_cast<double>(p.total)));
    m_bar->setFormat(QString("%1 %p %").arg(p.stage));
  } else {
    m_bar->setRange(0, 0);
  }
  m_stage->setText(p.detail.isEmpty() ? p.stage : QString("%1: %2").arg(p.stage, p.detail));
  m_eta->setText(p.eta >= 0 ? QString("Elapsed %1 · about %2 left in this stage").arg(formatDuration(p.elapsed), formatDuration(p.eta))
                             : QString("Elapsed %1 · estimating the time left").arg(formatDuration(p.elapsed)));
}

bool RunPanel::measureSpeedup() const { return m_measure->isChecked() && JobController::canMeasureSpeedup(); }
void RunPanel::setMeasureSpeedup(bool on) { m_measure->setChecked(on); }

void RunPanel::onFinished(const PruneResult& r, double measuredSpeedup, double timedSpeedup) {
  m_bar->setRange(0, 1000);
  m_bar->setValue(1000);
  m_bar->setFormat("done");
  m_stage->setText(QString("Done: %1 in %2").arg(methodName(r.request.method), formatDuration(r.secondsTotal)));
  m_eta->clear();
  QString text = QString("Achieved W %1, A %2 · predicted speedup %3×")
                     .arg(formatPercent(r.weightSparsity), formatPercent(r.actSparsity))
                     .arg(r.predictedSpeedup, 0, 'f', 2);
  if (timedSpeedup > 0) text += QString(", timing profile %1×").arg(timedSpeedup, 0, 'f', 2);
  if (measuredSpeedup > 0) text += QString(", measured <b>%1×</b>").arg(measuredSpeedup, 0, 'f', 2);
  if (r.eval.done)
    text += QString("<br>Perplexity <b>%1</b> (dense %2)").arg(r.eval.perplexity, 0, 'f', 3).arg(r.eval.densePerplexity, 0, 'f', 3);
  if (r.eval.accuracy >= 0)
    text += QString("<br>%1: acc <b>%2</b>, acc_norm %3 (dense %4 / %5, %6 items)")
                .arg(qs(r.eval.taskName).toHtmlEscaped(), formatPercent(r.eval.accuracy), formatPercent(r.eval.accuracyNorm),
                     formatPercent(r.eval.denseAccuracy), formatPercent(r.eval.denseAccuracyNorm))
                .arg(r.eval.taskItems);
  m_result->setText(text);
}

void RunPanel::onCancelling() { m_stage->setText("Cancelling at the next safe point..."); }

void RunPanel::onCancelled() {
  m_bar->setRange(0, 1000);
  m_bar->setValue(0);
  m_bar->setFormat("cancelled");
  m_stage->setText("Cancelled: the model is unchanged and nothing was written.");
  m_eta->clear();
}

void RunPanel::onFailed(const QString& message) {
  m_bar->setRange(0, 1000);
  m_bar->setValue(0);
  m_bar->setFormat("failed");
  m_stage->setText("Failed: " + message.left(200));
  m_eta->clear();
}

}  // namespace duo::ui

namespace duo::ui {

namespace {
QString gib(int64_t b) { return QString::number(static_cast<double>(b) / double(1ll << 30), 'f', 1) + " GiB"; }
}  // namespace

void RunPanel::setMemoryPlan(const duo::MemoryPlan& plan) {
  QString text = QString("Memory: %1").arg(gib(plan.total));
  if (plan.available > 0) text += QString(" of %1 free").arg(gib(plan.available));
  if (!plan.fits()) text += " — does not fit";
  m_plan->setText(text);
  m_plan->setStyleSheet(plan.fits() ? QString() : QString("color: #b00020; font-weight: bold;"));
  QString tip = "Memory plan (one decoder layer resident at a time):\n";
  for (const auto& t : plan.terms)
    tip += QString("%1  %2  (%3)\n").arg(QString::fromStdString(t.key), -11).arg(gib(t.bytes)).arg(QString::fromStdString(t.what));
  if (!plan.fits()) tip += "\n" + QString::fromStdString(plan.refusal());
  m_plan->setToolTip(tip.trimmed());
}

void RunPanel::setMemoryPlanError(const QString& message) {
  m_plan->setText(message.isEmpty() ? QString() : "Memory: " + message);
  m_plan->setStyleSheet(QString());
  m_plan->setToolTip(QString());
}

}  // namespace duo::ui
