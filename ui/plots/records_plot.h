// SPDX-License-Identifier: GPL-3.0-or-later
// What the three plots of a calibration's per-projection records share (Error per layer, Error
// heatmap, Sparsity): setRecords replaces the data (any order, any subset) and replots; with no
// records the plot shows a hint instead, one while no model is open and one once it is (the
// subclass keeps m_layers, the open model's depth).
#pragma once
#include <QVector>

#include "core/prune/prune_types.h"
#include "ui/plots/plot_base.h"

namespace duo::ui {

class RecordsPlot : public PlotBase {
  Q_OBJECT
 public:
  // Replaces the data with `records` and replots; none: the hint again.
  void setRecords(const QVector<ProjRecord>& records);

 protected:
  // `waitingHint` shows while a model is open and nothing is plotted, `noModelHint` before.
  RecordsPlot(QString waitingHint, QString noModelHint, QWidget* parent);
  virtual void drawRecords(const QVector<ProjRecord>& records) = 0;  // at least one record
  virtual void clearRecords() = 0;                                  // drops the plotted records
  void showHint();  // the hint for m_layers, queued replot

  int m_layers = 0;

 private:
  QString m_waitingHint;
  QString m_noModelHint;
};

}  // namespace duo::ui
