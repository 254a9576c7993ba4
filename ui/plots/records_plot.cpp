// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plots/records_plot.h"

namespace duo::ui {

RecordsPlot::RecordsPlot(QString waitingHint, QString noModelHint, QWidget* parent)
    : PlotBase(parent), m_waitingHint(std::move(waitingHint)), m_noModelHint(std::move(noModelHint)) {}

void RecordsPlot::setRecords(const QVector<ProjRecord>& records) {
  if (records.isEmpty()) {
    clearRecords();
    showHint();
    return;
  }
  drawRecords(records);
  setEmptyMessage(QString());
  replot(QCustomPlot::rpQueuedReplot);
}

void RecordsPlot::showHint() {
  setEmptyMessage(m_layers > 0 ? m_waitingHint : m_noModelHint);
  replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace duo::ui
