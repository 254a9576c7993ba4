// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/panels/run_panel.h"

#include <QAction>
#include <QCheckBox>
#include <QSettings>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QScrollArea>
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
// A check box whose state is remembered in QSettings under `key` (on by default).
QCheckBox* rememberedCheckBox(QObject* owner, const char* name, const QString& text, const QString& key,
                              const QString& tip) {
  auto* box = new QCheckBox(text);
  box->setObjectName(name);
  box->setChecked(QSettings().value(key, true).toBool());
  box->setToolTip(tip);
  QObject::connect(box, &QCheckBox::toggled, owner, [key](bool on) { QSettings().setValue(key, on); });
  return box;
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
  m_measure = rememberedCheckBox(this, "measureSpeedup", "Measure decode speedup after the run", "run/measureSpeedup",
                                 "After evaluation, time batch-1 decode steps of the pruned model on the packed "
                                 "dual-sparse kernels against its weights run densely, in interleaved pairs until the "
                                 "spread is known (core/bench), on the run's kept weights or a temporary copy");
  layout->addWidget(m_measure);
  m_keep = rememberedCheckBox(this, "keepWeights", "Keep the pruned weights for export", "run/keepWeights",
                              "Write each run's pruned model beside its record (the workspace's runs/weights folder, "
                              "in the model's own dtype: about the model's size on disk), so that Export > Pruned "
                              "checkpoint writes the chosen run's weights without calibrating again. Deleting the run "
                              "deletes them.");
  layout->addWidget(m_keep);

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
  m_result->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  // The numbers scroll where the pane is short; they are never cut off.
  auto* scroll = new QScrollArea;
  scroll->setObjectName("runResultScroll");
  scroll->setWidget(m_result);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setStyleSheet("QScrollArea, QScrollArea > QWidget > QWidget { background: transparent; }");
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  layout->addWidget(scroll, 1);
}

void RunPanel::onStarted() {
  m_bar->setRange(0, 0);  // busy until the first progress with a total
  m_stage->setText("Starting...");
  m_eta->clear();
  clearResult();  // the previous run's numbers are not this run's
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

bool RunPanel::measureSpeedup() const { return m_measure->isChecked(); }
void RunPanel::setMeasureSpeedup(bool on) { m_measure->setChecked(on); }
bool RunPanel::keepWeights() const { return m_keep->isChecked(); }
void RunPanel::setKeepWeights(bool on) { m_keep->setChecked(on); }

void RunPanel::onFinished(const RunOutcome& outcome) {
  const PruneResult& r = outcome.result;
  m_bar->setRange(0, 1000);
  m_bar->setValue(1000);
  m_bar->setFormat("done");
  m_stage->setText(QString("Done: %1 in %2").arg(methodName(r.request.method), formatDuration(r.secondsTotal)));
  m_eta->clear();
  showRun(outcome.record, "This run");
}

void RunPanel::clearResult() {
  m_result->clear();
  m_result->setToolTip(QString());
}

void RunPanel::showRun(const RunRecord& rec, const QString& label) {
  RunEntry e = entryOf(rec);
  QString text = QString("<b>%1</b>: %2 on %3<br>Achieved W %4, A %5 · predicted speedup %6×")
                     .arg(label.toHtmlEscaped(), e.label().toHtmlEscaped(), e.modelName().toHtmlEscaped(),
                          formatPercent(rec.weightSparsity), formatPercent(rec.actSparsity))
                     .arg(rec.predictedSpeedup, 0, 'f', 2);
  if (rec.calibratedSpeedup) text += QString(", timing profile %1×").arg(*rec.calibratedSpeedup, 0, 'f', 2);
  QString tip;
  if (rec.speedCheck && rec.speedCheck->measured()) {
    const SpeedCheck& c = *rec.speedCheck;
    const QString measured = speedCheckText(c).toHtmlEscaped();
    text += c.trusted() ? QString("<br>Measured <b>%1</b>").arg(measured)
                        : QString("<br><span style='color:#b35900'>Measured %1</span>").arg(measured);
    tip = QString("Dense %1 tokens/s, pruned %2 tokens/s (medians of interleaved pairs, %3 steps each)")
              .arg(c.denseTokensPerSecond, 0, 'f', 1)
              .arg(c.prunedTokensPerSecond, 0, 'f', 1)
              .arg(c.tokens);
    if (!c.trusted()) {
      tip += "\n\n" + speedCheckWarning(c);
      text += QString("<br><span style='color:#b35900'>(%1; hover for why)</span>").arg(speedCheckFlags(c).toHtmlEscaped());
    }
  } else if (rec.measuredSpeedup) {
    text += QString("<br>Measured %1× (spread and threads not recorded)").arg(*rec.measuredSpeedup, 0, 'f', 2);
  }
  if (e.perplexity() >= 0)
    text += QString("<br>Perplexity <b>%1</b> (dense %2)")
                .arg(e.perplexity(), 0, 'f', 3)
                .arg(e.metric("perplexity", "dense"), 0, 'f', 3);
  if (e.accuracy() >= 0)
    text += QString("<br>%1: acc <b>%2</b>, acc_norm %3 (dense %4 / %5)")
                .arg(e.taskName().toHtmlEscaped(), formatPercent(e.accuracy()), formatPercent(e.accuracyNorm()),
                     formatPercent(e.metric("acc", "dense")), formatPercent(e.metric("acc_norm", "dense")));
  m_result->setText(text);
  m_result->setToolTip(tip);
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
