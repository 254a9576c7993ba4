// SPDX-License-Identifier: GPL-3.0-or-later
// Per-layer sensitivity curves: for every decoder layer, the predicted relative output error
// (core/prune/sensitivity.h, summed over the layer's 7 projections) along the uniform diagonal
// p_w = p_a = p of the sensitivity grid, log scale, one curve per layer coloured by depth (the
// colour scale on the right names the layer). Steeper and higher = more sensitive.
#pragma once
#include <QVector>

#include "core/prune/sensitivity.h"
#include "ui/plots/plot_base.h"

namespace duo::ui {

class SensitivityPlot : public PlotBase {
  Q_OBJECT
 public:
  explicit SensitivityPlot(QWidget* parent = nullptr);

  void setTable(const SensitivityTable& t);
  void clearTable();
  int curveCount() const { return m_curves.size(); }
  // The plotted (x = p in %, y = layer error) points of one layer's curve.
  QVector<QPointF> curve(int layer) const;
  // Marks each layer's allocated point (mean p of its projections, its summed predicted error).
  void setAllocation(const QVector<QPointF>& perLayer);

 private:
  QVector<QCPGraph*> m_curves;
  QCPGraph* m_alloc = nullptr;
  QCPColorScale* m_scale = nullptr;
  QCPColorGradient m_gradient;
};

// The diagonal the curves follow: pairs (iw, ia) of grid indices, one per weight grid point,
// with the activation point nearest to it.
QVector<QPair<int, int>> sensitivityDiagonal(const SensitivityTable& t);

}  // namespace duo::ui
