// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/panels/allocation_bar.h"

#include <QGridLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <cmath>

#include "core/job/sensitivity_job.h"
#include "ui/core_types.h"

namespace duo::ui {

namespace {
constexpr double kSliderScale = 100.0;  // slider units per 1.0x of speedup (0.01x steps)
}

AllocationBar::AllocationBar(QWidget* parent) : QWidget(parent) {
  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(0, 2, 0, 0);
  grid->setHorizontalSpacing(6);
  grid->setVerticalSpacing(2);
  auto* label = new QLabel("Target speedup");
  label->setToolTip("Predicted end-to-end decode speedup the allocator must reach (bytes model, or the timing "
                    "profile's measured kernel lines once one is loaded: File > Load timing profile)");
  m_slider = new QSlider(Qt::Horizontal);
  m_slider->setObjectName("targetSpeedup");
  m_slider->setToolTip("Drag: core's allocator picks each projection's (weight, activation) sparsity from the "
                       "sensitivity grid, minimising the summed predicted error (weighted by each projection's "
                       "effect on the loss when the table has loss weights) at this predicted speedup");
  m_slider->setRange(100, 200);
  m_slider->setPageStep(10);
  m_value = new QLabel("--");
  m_value->setObjectName("targetSpeedupValue");
  m_value->setMinimumWidth(QFontMetrics(font()).horizontalAdvance("0.00×") + 4);
  m_applyRun = new QPushButton("Apply and run");
  m_applyRun->setObjectName("applyAndRun");
  m_applyRun->setToolTip("Calibrate the allocated table (the same as Calibrate once the slider has set it)");
  m_readout = new QLabel("Run Sensitivity (Run menu) to allocate sparsity per layer for a target speedup.");
  m_readout->setObjectName("allocationReadout");
  m_readout->setWordWrap(true);
  grid->addWidget(label, 0, 0);
  grid->addWidget(m_slider, 0, 1);
  grid->addWidget(m_value, 0, 2);
  grid->addWidget(m_applyRun, 0, 3);
  grid->addWidget(m_readout, 1, 0, 1, 4);
  grid->setColumnStretch(1, 1);
  connect(m_slider, &QSlider::valueChanged, this, &AllocationBar::onSlider);
  connect(m_applyRun, &QPushButton::clicked, this, &AllocationBar::applyAndRunRequested);
  clear();
}

void AllocationBar::clear() {
  m_source.reset();
  m_table.reset();
  m_last.reset();
  m_uniform.reset();
  m_slider->setEnabled(false);
  m_applyRun->setEnabled(false);
  m_value->setText("--");
  m_readout->setText("Run Sensitivity (Run menu) to allocate sparsity per layer for a target speedup.");
}

void AllocationBar::setTable(const std::shared_ptr<const SensitivityTable>& table, double currentSpeedup, ActRule rule) {
  m_source = table;
  m_rule = rule;
  if (!m_source) {
    clear();
    return;
  }
  rebuild(currentSpeedup);
}

void AllocationBar::setTimingProfile(std::shared_ptr<const perf::TimingProfile> profile) {
  m_profile = std::move(profile);
  if (m_source) rebuild(targetSpeedup());
}

AllocateOptions AllocationBar::options() const {
  AllocateOptions opts;
  opts.target = AllocTarget::Speedup;
  opts.value = targetSpeedup();
  opts.actRule = m_rule;
  opts.timing = m_timed ? m_profile.get() : nullptr;
  return opts;
}

void AllocationBar::rebuild(double currentSpeedup) {
  m_last.reset();
  m_uniform.reset();
  m_timed = false;
  m_timingProblem.clear();
  m_table = m_source;
  if (m_profile && !m_profile->empty()) {
    // The allocator's costs from the profile: a copy of the table with its decode times refilled.
    auto timedTable = std::make_shared<SensitivityTable>(*m_source);
    try {
      fillDecodeTimes(*timedTable, timedTable->contextTokens, timedTable->bandwidthGbs, m_profile.get());
      m_table = timedTable;
      m_timed = true;
    } catch (const std::exception& e) {
      m_timingProblem = QString::fromUtf8(e.what());  // another model's profile: the bytes model stands
    }
  }
  // The most the grid can give: every projection at its largest weight and activation sparsity.
  const SparsityConfig most = SparsityConfig::uniform(m_table->numLayers(), m_table->gridW.back(), m_table->gridA.back());
  AllocateOptions opts = options();
  const double maxSpeedup = predictConfig(*m_table, most, opts).speedup;
  const int hi = std::max(101, static_cast<int>(std::floor(maxSpeedup * kSliderScale)) - 1);
  {
    const QSignalBlocker block(m_slider);
    m_slider->setRange(100, hi);
    m_slider->setValue(static_cast<int>(std::lround(std::clamp(currentSpeedup, 1.0, hi / kSliderScale) * kSliderScale)));
  }
  m_slider->setEnabled(true);
  m_applyRun->setEnabled(m_runEnabled);
  m_value->setText(QString::number(targetSpeedup(), 'f', 2) + "×");
  QString text = QString("Sensitivity of %1 layers over a %2 × %3 grid: drag to allocate (up to %4× predicted by %5).")
                     .arg(m_table->numLayers())
                     .arg(m_table->gridW.size())
                     .arg(m_table->gridA.size())
                     .arg(maxSpeedup, 0, 'f', 2)
                     .arg(m_timed ? "the timing profile" : "the bytes model");
  if (!m_timingProblem.isEmpty()) text += "<br>Timing profile not used: " + m_timingProblem.toHtmlEscaped();
  m_readout->setText(text);
}

double AllocationBar::targetSpeedup() const { return m_slider->value() / kSliderScale; }

void AllocationBar::setTargetSpeedup(double speedup) {
  m_slider->setValue(static_cast<int>(std::lround(speedup * kSliderScale)));
}

void AllocationBar::setRunEnabled(bool on) {
  m_runEnabled = on;
  m_applyRun->setEnabled(on && m_table);
}

std::optional<Allocation> AllocationBar::allocateNow(const QString& kind) {
  if (!m_table) return std::nullopt;
  const AllocateOptions opts = options();
  try {
    if (kind == "owl") return owlAllocation(*m_table, opts);
    if (kind == "uniform") return uniformAllocation(*m_table, opts);
    return allocate(*m_table, opts);
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromUtf8(e.what()));
    return std::nullopt;
  }
}

void AllocationBar::onSlider(int) {
  m_value->setText(QString::number(targetSpeedup(), 'f', 2) + "×");
  if (!m_table) return;
  const AllocateOptions opts = options();
  try {
    m_last = allocate(*m_table, opts);
    m_uniform = uniformAllocation(*m_table, opts);
  } catch (const std::exception& e) {
    m_last.reset();
    m_readout->setText("No allocation: " + QString::fromUtf8(e.what()).toHtmlEscaped());
    return;
  }
  showReadout();
  Q_EMIT allocated(*m_last);
}

void AllocationBar::showReadout() {
  const ConfigPrediction& p = m_last->predicted;
  // The loss objective's error is the predicted increase of the mean token loss, in nats.
  const bool loss = m_last->objective == AllocObjective::Loss;
  QString text = QString("Allocated: <b>%1×</b> %2, W %3 / A %4, %5 %6")
                     .arg(p.speedup, 0, 'f', 2)
                     .arg(m_timed ? "timing profile" : "predicted")
                     .arg(formatPercent(p.weightSparsity, 0), formatPercent(p.actSparsity, 0))
                     .arg(loss ? "predicted loss +" : "error")
                     .arg(QString::number(p.error, 'g', 3) + (loss ? " nats" : ""));
  if (m_uniform && m_uniform->predicted.error > 0)
    text += QString(" · uniform W%1/A%1: %2 (%3)")
                .arg(m_uniform->predicted.weightSparsity * 100.0, 0, 'f', 0)
                .arg(loss ? "+" + QString::number(m_uniform->predicted.error, 'g', 3) + " nats"
                          : "error " + QString::number(m_uniform->predicted.error, 'g', 3))
                .arg(QString("%1%2 %").arg(p.error <= m_uniform->predicted.error ? "−" : "+")
                         .arg(std::fabs(1.0 - p.error / m_uniform->predicted.error) * 100.0, 0, 'f', 0));
  m_readout->setText(text);
}

}  // namespace duo::ui
