// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plots/error_heatmap.h"

#include <QToolTip>
#include <cmath>
#include <limits>

#include "ui/core_types.h"

namespace duo::ui {

ErrorHeatmap::ErrorHeatmap(QWidget* parent)
    : RecordsPlot("Errors fill in as each projection finishes", "Open a model, then run a calibration", parent) {
  setTitle("Relative output error: layers × projections");
  xAxis->setLabel("projection");
  yAxis->setLabel("decoder layer");
  QSharedPointer<QCPAxisTickerText> projTicker(new QCPAxisTickerText);
  for (int p = 0; p < kNumProj; ++p) projTicker->addTick(p, QString(projName(static_cast<Proj>(p))).remove("_proj"));
  xAxis->setTicker(projTicker);
  xAxis->grid()->setVisible(false);
  yAxis->grid()->setVisible(false);
  setLayerTicks(yAxis);
  yAxis->setRangeReversed(true);  // layer 0 at the top, as in the table

  m_map = new QCPColorMap(xAxis, yAxis);
  m_map->setInterpolate(false);
  m_map->setTightBoundary(false);
  m_scale = addColorScale("relative error", 12);
  m_scale->setDataScaleType(QCPAxis::stLogarithmic);
  setLogAxis(m_scale->axis());
  plotLayout()->setColumnStretchFactor(1, 0.01);
  m_map->setColorScale(m_scale);
  QCPColorGradient gradient(QCPColorGradient::gpThermal);
  gradient.setNanHandling(QCPColorGradient::nhTransparent);
  m_map->setGradient(gradient);
  setMouseTracking(true);
  setLayerCount(0);
}

void ErrorHeatmap::setLayerCount(int layers) {
  m_layers = layers;
  clearRecords();
  showHint();
}

void ErrorHeatmap::clearRecords() {
  m_records.fill(ProjRecord{}, m_layers * kNumProj);
  for (ProjRecord& r : m_records) r.relError = -1;
  const int rows = std::max(1, m_layers);
  m_map->data()->setSize(kNumProj, rows);
  m_map->data()->setRange(QCPRange(0, kNumProj - 1), QCPRange(0, rows - 1));
  m_map->data()->fill(std::numeric_limits<double>::quiet_NaN());
  m_map->setDataRange(QCPRange(1e-4, 1));
  xAxis->setRange(-0.5, kNumProj - 0.5);
  yAxis->setRange(-0.5, rows - 0.5);
}

void ErrorHeatmap::drawRecords(const QVector<ProjRecord>& records) {
  int maxLayer = m_layers - 1;
  for (const ProjRecord& r : records) maxLayer = std::max(maxLayer, r.layer);
  m_layers = maxLayer + 1;  // never a record below the last row
  clearRecords();
  double lo = std::numeric_limits<double>::max(), hi = 0;
  for (const ProjRecord& r : records) {
    m_records[r.layer * kNumProj + static_cast<int>(r.proj)] = r;
    const double v = std::max(r.relError, 1e-9);
    m_map->data()->setCell(static_cast<int>(r.proj), r.layer, v);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (hi > 0) {
    const double l = std::pow(10.0, std::floor(std::log10(lo)));
    const double h = std::pow(10.0, std::ceil(std::log10(hi)));
    m_map->setDataRange(QCPRange(l, h > l ? h : l * 10));
  }
}

QString ErrorHeatmap::cellText(int layer, Proj p) const {
  const int i = layer * kNumProj + static_cast<int>(p);
  if (layer < 0 || i >= m_records.size() || m_records[i].relError < 0) return {};
  const ProjRecord& r = m_records[i];
  return QString("layer %1 %2\nrelative error %3 (mask only %4)\nweights %5 zero · inputs %6 zero · %7 s")
      .arg(layer)
      .arg(projName(p))
      .arg(r.relError, 0, 'e', 3)
      .arg(r.relErrorMaskOnly, 0, 'e', 3)
      .arg(formatPercent(r.weightSparsity), formatPercent(r.actSparsity))
      .arg(r.seconds, 0, 'f', 2);
}

void ErrorHeatmap::mouseMoveEvent(QMouseEvent* e) {
  PlotBase::mouseMoveEvent(e);
  const QPointF pos = e->position();
  if (!axisRect()->rect().contains(pos.toPoint())) {
    QToolTip::hideText();
    return;
  }
  const int proj = static_cast<int>(std::lround(xAxis->pixelToCoord(pos.x())));
  const int layer = static_cast<int>(std::lround(yAxis->pixelToCoord(pos.y())));
  if (proj < 0 || proj >= kNumProj || layer < 0 || layer >= m_layers) {
    QToolTip::hideText();
    return;
  }
  const QString text = cellText(layer, static_cast<Proj>(proj));
  if (text.isEmpty())
    QToolTip::hideText();
  else
    QToolTip::showText(e->globalPosition().toPoint(), text, this);
}

}  // namespace duo::ui
