// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plots/sensitivity_plot.h"

#include <cmath>

namespace duo::ui {

QVector<QPair<int, int>> sensitivityDiagonal(const SensitivityTable& t) {
  QVector<QPair<int, int>> out;
  for (size_t iw = 0; iw < t.gridW.size(); ++iw) {
    size_t best = 0;
    for (size_t ia = 1; ia < t.gridA.size(); ++ia)
      if (std::fabs(t.gridA[ia] - t.gridW[iw]) < std::fabs(t.gridA[best] - t.gridW[iw])) best = ia;
    out.append({static_cast<int>(iw), static_cast<int>(best)});
  }
  return out;
}

SensitivityPlot::SensitivityPlot(QWidget* parent) : PlotBase(parent) {
  m_titleReserve = 70;  // the layer colour scale's column beside the axes
  setTitle("Per-layer sensitivity · at p_w = p_a = p");
  xAxis->setLabel("sparsity p (%)");
  yAxis->setLabel("predicted rel. error (layer sum)");
  setLogAxis(yAxis);
  xAxis->setRange(0, 100);
  yAxis->setRange(1e-4, 1);
  // First layer dark blue, middle green, last orange-red: every colour readable on white.
  m_gradient.setColorStopAt(0.0, QColor(30, 60, 150));
  m_gradient.setColorStopAt(0.5, QColor(0, 150, 110));
  m_gradient.setColorStopAt(1.0, QColor(213, 80, 0));
  m_scale = addColorScale("layer", 10);
  m_scale->setGradient(m_gradient);
  m_scale->setDataRange(QCPRange(0, 1));
  m_alloc = addGraph();
  m_alloc->setName("allocated point");
  m_alloc->setLineStyle(QCPGraph::lsNone);
  m_alloc->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(Qt::black, 1.2), QBrush(QColor(255, 255, 255, 200)), 8));
  setEmptyMessage("Run Sensitivity to see how each layer's error grows with sparsity");
}

void SensitivityPlot::clearTable() {
  for (QCPGraph* g : m_curves) removeGraph(g);
  m_curves.clear();
  m_alloc->data()->clear();
  m_scale->setDataRange(QCPRange(0, 1));
  setEmptyMessage("Run Sensitivity to see how each layer's error grows with sparsity");
  replot(QCustomPlot::rpQueuedReplot);
}

void SensitivityPlot::setTable(const SensitivityTable& t) {
  clearTable();
  const int layers = t.numLayers();
  const auto diag = sensitivityDiagonal(t);
  double lo = 1e30, hi = 0;
  for (int l = 0; l < layers; ++l) {
    QCPGraph* g = addGraph();
    const double frac = layers > 1 ? static_cast<double>(l) / (layers - 1) : 0.0;
    const QColor c = QColor::fromRgb(m_gradient.color(frac, QCPRange(0, 1)));
    g->setPen(QPen(c, 1.6));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, 4));
    g->setName(QString("layer %1").arg(l));
    QVector<double> x, y;
    for (const auto& [iw, ia] : diag) {
      double e = 0;
      for (int p = 0; p < kNumProj; ++p) e += t.at(l, static_cast<Proj>(p)).errorAt(iw, ia);
      if (e <= 0) continue;  // the dense point has no error: nothing on a log axis
      x.append(100.0 * 0.5 * (t.gridW[iw] + t.gridA[ia]));
      y.append(e);
      lo = std::min(lo, e);
      hi = std::max(hi, e);
    }
    g->setData(x, y, true);
    m_curves.append(g);
  }
  if (hi > 0) yAxis->setRange(lo / 2, hi * 2);
  m_scale->setDataRange(QCPRange(0, std::max(1, layers - 1)));
  setEmptyMessage(layers > 0 ? QString() : "The sensitivity table has no layers");
  replot(QCustomPlot::rpQueuedReplot);
}

void SensitivityPlot::setAllocation(const QVector<QPointF>& perLayer) {
  QVector<double> x, y;
  for (const QPointF& p : perLayer)
    if (p.y() > 0) {
      x.append(p.x());
      y.append(p.y());
    }
  m_alloc->setData(x, y);
  replot(QCustomPlot::rpQueuedReplot);
}

QVector<QPointF> SensitivityPlot::curve(int layer) const {
  QVector<QPointF> out;
  if (layer < 0 || layer >= m_curves.size()) return out;
  for (auto it = m_curves[layer]->data()->constBegin(); it != m_curves[layer]->data()->constEnd(); ++it)
    out.append(QPointF(it->key, it->value));
  return out;
}

}  // namespace duo::ui
