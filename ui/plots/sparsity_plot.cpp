// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plots/sparsity_plot.h"

#include <map>

namespace duo::ui {

namespace {
QCPGraph* line(QCustomPlot* plot, const QString& name, const QColor& c, Qt::PenStyle style, bool markers) {
  QCPGraph* g = plot->addGraph();
  g->setName(name);
  g->setPen(QPen(c, style == Qt::SolidLine ? 2.0 : 1.5, style));
  if (markers) g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, 5));
  return g;
}
}  // namespace

SparsityPlot::SparsityPlot(QWidget* parent)
    : RecordsPlot("Achieved sparsity appears as calibration runs", "Open a model, then run a calibration", parent) {
  setTitle("Sparsity per layer: achieved on calibration data vs target");
  xAxis->setLabel("decoder layer");
  yAxis->setLabel("sparsity (% zero)");
  yAxis->setRange(0, 100);
  setLayerTicks(xAxis);
  const QColor wc(31, 119, 180), ac(213, 94, 0);
  m_weights = line(this, "weights, achieved", wc, Qt::SolidLine, true);
  m_acts = line(this, "activations, achieved", ac, Qt::SolidLine, true);
  m_targetWeights = line(this, "weights, target", wc, Qt::DashLine, false);
  m_targetActs = line(this, "activations, target", ac, Qt::DashLine, false);
  placeLegendBelow(2);
  setEmptyMessagePosition(0.5, 0.25);  // clear of the target lines
  showHint();
}

void SparsityPlot::setTargets(const SparsityConfig& cfg) {
  m_layers = cfg.numLayers();
  QVector<double> x, w, a;
  for (int l = 0; l < cfg.numLayers(); ++l) {
    double sw = 0, sa = 0;
    for (int p = 0; p < kNumProj; ++p) {
      sw += cfg.at(l, static_cast<Proj>(p)).weight;
      sa += cfg.at(l, static_cast<Proj>(p)).act;
    }
    x.append(l);
    w.append(100.0 * sw / kNumProj);
    a.append(100.0 * sa / kNumProj);
  }
  m_targetWeights->setData(x, w, true);
  m_targetActs->setData(x, a, true);
  xAxis->setRange(-0.5, std::max(1, m_layers) - 0.5);
  if (m_weights->dataCount() == 0)
    showHint();
  else
    replot(QCustomPlot::rpQueuedReplot);
}

void SparsityPlot::clearRecords() {
  m_weights->data()->clear();
  m_acts->data()->clear();
}

void SparsityPlot::drawRecords(const QVector<ProjRecord>& records) {
  std::map<int, std::array<double, 3>> perLayer;  // layer -> (sum weight, sum act, count)
  for (const ProjRecord& r : records) {
    auto& s = perLayer[r.layer];
    s[0] += r.weightSparsity;
    s[1] += r.actSparsity;
    s[2] += 1;
  }
  QVector<double> x, w, a;
  for (const auto& [layer, s] : perLayer) {
    x.append(layer);
    w.append(100.0 * s[0] / s[2]);
    a.append(100.0 * s[1] / s[2]);
  }
  m_weights->setData(x, w, true);
  m_acts->setData(x, a, true);
}

}  // namespace duo::ui
