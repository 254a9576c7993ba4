// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plots/error_plot.h"

#include <cmath>
#include <limits>
#include <map>

#include "ui/plots/palette.h"

namespace duo::ui {

namespace {
constexpr double kFloor = 1e-7;  // bars start here: the log axis has no zero
}

ErrorPlot::ErrorPlot(QWidget* parent)
    : RecordsPlot("Calibrate (Ctrl+R) to see errors here", "Open a model, then run a calibration", parent),
      m_group(new QCPBarsGroup(this)) {
  setTitle("Relative output error per layer");
  xAxis->setLabel("decoder layer");
  yAxis->setLabel("relative output error ‖W′Xs − W·Xd‖² / ‖W·Xd‖²");
  setLogAxis(yAxis);
  yAxis->setRange(1e-4, 1.0);
  setLayerTicks(xAxis);
  m_group->setSpacingType(QCPBarsGroup::stAbsolute);
  m_group->setSpacing(0);
  for (int p = 0; p < kNumProj; ++p) {
    auto* bars = new QCPBars(xAxis, yAxis);
    bars->setName(QString(projName(static_cast<Proj>(p))).remove("_proj"));
    bars->setPen(Qt::NoPen);
    bars->setBrush(projColor(static_cast<Proj>(p)));
    bars->setWidthType(QCPBars::wtPlotCoords);
    bars->setWidth(0.8 / kNumProj);
    bars->setBaseValue(kFloor);
    bars->setBarsGroup(m_group);
    m_bars[p] = bars;
  }
  m_maskOnly = addGraph(xAxis, yAxis);
  // The reference: what the mask alone would cost, a level across each layer's bars (a staircase,
  // not a curve through data points).
  m_maskOnly->setName("mask only (reference)");
  m_maskOnly->setPen(QPen(QColor(40, 40, 40), 1.4, Qt::DashLine));
  m_maskOnly->setLineStyle(QCPGraph::lsStepCenter);
  m_maskOnly->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssNone));
  placeLegendBelow(4);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  axisRect()->setRangeDrag(Qt::Horizontal);
  axisRect()->setRangeZoom(Qt::Horizontal);
  showHint();
}

void ErrorPlot::setLayerCount(int layers) {
  m_layers = layers;
  xAxis->setRange(-0.6, std::max(1, layers) - 0.4);
  replot(QCustomPlot::rpQueuedReplot);
}

void ErrorPlot::clearRecords() {
  for (auto* b : m_bars) b->data()->clear();
  m_maskOnly->data()->clear();
}

void ErrorPlot::drawRecords(const QVector<ProjRecord>& records) {
  int maxLayer = 0;
  for (const ProjRecord& r : records) maxLayer = std::max(maxLayer, r.layer);
  if (maxLayer + 1 > m_layers) setLayerCount(maxLayer + 1);  // never bars past the right edge
  std::array<QVector<QCPBarsData>, kNumProj> bars;
  std::map<int, std::pair<double, int>> maskSum;  // layer -> (sum, count)
  double lo = std::numeric_limits<double>::max(), hi = 0;
  for (const ProjRecord& r : records) {
    bars[static_cast<int>(r.proj)].append(QCPBarsData(r.layer, std::max(r.relError, kFloor)));
    auto& m = maskSum[r.layer];
    m.first += r.relErrorMaskOnly;
    m.second += 1;
    for (double v : {r.relError, r.relErrorMaskOnly})
      if (v > 0) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  }
  for (int p = 0; p < kNumProj; ++p) m_bars[p]->data()->set(bars[p], false);
  QVector<double> mx, my;
  for (const auto& [layer, sc] : maskSum)
    if (sc.first > 0) {
      mx.append(layer);
      my.append(sc.first / sc.second);
    }
  m_maskOnly->setData(mx, my, true);
  if (hi > 0) yAxis->setRange(std::pow(10.0, std::floor(std::log10(lo))), std::pow(10.0, std::ceil(std::log10(hi) + 0.3)));
}

}  // namespace duo::ui
