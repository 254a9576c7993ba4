// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plots/runs_plot.h"

#include <QFileInfo>
#include <QSet>
#include <QToolTip>
#include <algorithm>
#include <cmath>

namespace duo::ui {

RunsPlot::RunsPlot(QWidget* parent) : PlotBase(parent) {
  m_front = addGraph();
  m_front->setName("Pareto front");
  m_front->setPen(QPen(QColor(120, 120, 120), 1.5, Qt::DashLine));
  m_front->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor(120, 120, 120), 1.2), Qt::NoBrush, 13));
  m_heldOut = addGraph();
  m_heldOut->setName("perplexity on held-out text (other domains than the calibration's)");
  m_heldOut->setLineStyle(QCPGraph::lsNone);
  m_heldOut->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(QColor(148, 103, 189), 1.6), Qt::NoBrush, 14));
  m_predicted = addGraph();
  m_predicted->setName("speedup predicted (bytes model)");
  m_predicted->setLineStyle(QCPGraph::lsNone);
  m_predicted->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(31, 119, 180), 8));
  m_measured = addGraph();
  m_measured->setName("speedup measured");
  m_measured->setLineStyle(QCPGraph::lsNone);
  m_measured->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, QPen(QColor(213, 94, 0), 1.5), Qt::NoBrush, 8));
  m_spread = new QCPErrorBars(xAxis, yAxis);
  m_spread->setDataPlottable(m_measured);
  m_spread->setErrorType(QCPErrorBars::etKeyError);
  m_spread->setPen(QPen(QColor(213, 94, 0), 1.2));
  m_spread->setWhiskerWidth(6);
  m_spread->removeFromLegend();
  m_untrusted = addGraph();
  m_untrusted->setName("speedup measured, not trusted");
  m_untrusted->setLineStyle(QCPGraph::lsNone);
  m_untrusted->setScatterStyle(
      QCPScatterStyle(QCPScatterStyle::ssCrossSquare, QPen(QColor(150, 150, 150), 1.2), Qt::NoBrush, 8));
  m_dense = addGraph();
  m_dense->setName("dense model");
  m_dense->setLineStyle(QCPGraph::lsNone);
  m_dense->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, QPen(Qt::black, 1.5), Qt::NoBrush, 10));
  xAxis->setLabel("decode speedup over dense (×, batch 1)");
  placeLegendBelow(2);
  setMouseTracking(true);
  connect(this, &QCustomPlot::plottableClick, this, [this](QCPAbstractPlottable* p, int index, QMouseEvent*) {
    if (p == m_predicted && index >= 0 && index < m_points.size()) Q_EMIT runClicked(m_points[index].id);
  });
  setMetric(Metric::Perplexity);
}

void RunsPlot::setDomain(Domain d) {
  m_domain = d;
  setRuns(m_runs);
}

void RunsPlot::setMetric(Metric m) {
  m_metric = m;
  yAxis->setLabel(m == Metric::Perplexity ? "perplexity (lower is better)" : "accuracy % (higher is better)");
  setRuns(m_runs);
}

QVector<int> RunsPlot::paretoFront(const QVector<QPointF>& points, bool lowerIsBetter) {
  QVector<int> front;
  for (int i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (int j = 0; j < points.size() && !dominated; ++j) {
      if (i == j) continue;
      const double si = points[i].x(), sj = points[j].x();
      const double mi = points[i].y(), mj = points[j].y();
      const bool asGoodMetric = lowerIsBetter ? mj <= mi : mj >= mi;
      const bool betterMetric = lowerIsBetter ? mj < mi : mj > mi;
      dominated = sj >= si && asGoodMetric && (sj > si || betterMetric);
    }
    if (!dominated) front.append(i);
  }
  std::sort(front.begin(), front.end(), [&](int a, int b) { return points[a].x() < points[b].x(); });
  return front;
}

void RunsPlot::setRuns(const QVector<RunEntry>& runs) {
  m_runs = runs;
  m_points.clear();
  double denseMetric = -1;
  for (const RunEntry& r : runs) {
    double metric = -1;
    QString domain, data;
    if (m_metric == Metric::Perplexity && r.perplexity() >= 0) {
      // The run's first perplexity the domain choice admits (a run evaluated on several corpora,
      // prune --also-eval, has one of each kind).
      bool found = false;
      for (const RunEntry::DomainPerplexity& p : r.perplexities()) {
        const bool heldOut = p.domain == "held-out" || p.domain == "mixed";
        if ((m_domain == Domain::InDomain && p.domain != "in-domain") || (m_domain == Domain::HeldOut && !heldOut))
          continue;
        domain = p.domain;
        data = p.data;
        metric = p.value;
        if (p.dense > 0) denseMetric = p.dense;
        found = true;
        break;
      }
      if (!found) continue;
    } else if (m_metric == Metric::Accuracy && r.accuracy() >= 0) {
      metric = 100.0 * r.accuracy();
      data = r.taskName();
      if (r.metric("acc", "dense") >= 0) denseMetric = 100.0 * r.metric("acc", "dense");
    }
    const double predicted = r.record.predictedSpeedup;
    if (metric < 0 || !std::isfinite(metric) || predicted <= 0) continue;
    m_points.append({predicted, metric, r.id, r.label(), domain, data});
  }
  std::stable_sort(m_points.begin(), m_points.end(), [](const Point& a, const Point& b) { return a.speedup < b.speedup; });

  QVector<double> px, py, mx, my, ux, uy, hx, hy;
  QVector<double> errLow, errHigh;
  QVector<QPointF> pts;
  for (const Point& p : m_points) {
    px.append(p.speedup);
    py.append(p.metric);
    pts.append({p.speedup, p.metric});
    if (p.domain == "held-out" || p.domain == "mixed") {
      hx.append(p.speedup);
      hy.append(p.metric);
    }
  }
  for (const RunEntry& r : runs)
    if (r.measuredSpeedup() > 0) {
      const auto it = std::find_if(m_points.begin(), m_points.end(), [&](const Point& p) { return p.id == r.id; });
      if (it == m_points.end()) continue;
      if (r.speedTrusted()) {
        mx.append(r.measuredSpeedup());
        my.append(it->metric);
        errLow.append(std::max(0.0, r.measuredSpeedup() - r.record.speedCheck->low));
        errHigh.append(std::max(0.0, r.record.speedCheck->high - r.measuredSpeedup()));
      } else {
        ux.append(r.measuredSpeedup());
        uy.append(it->metric);
      }
    }
  m_predicted->setData(px, py, true);
  m_measured->setData(mx, my);
  m_spread->setData(errLow, errHigh);
  m_untrusted->setData(ux, uy);
  m_heldOut->setData(hx, hy);
  // Legend entries only for what is drawn.
  const auto legendIf = [](QCPAbstractPlottable* p, bool shown) {
    if (shown) p->addToLegend();
    else p->removeFromLegend();
  };
  legendIf(m_measured, !mx.isEmpty());
  legendIf(m_untrusted, !ux.isEmpty());
  legendIf(m_heldOut, !hx.isEmpty());
  m_paretoIds.clear();
  QVector<double> fx, fy;
  for (int i : paretoFront(pts, m_metric == Metric::Perplexity)) {
    fx.append(pts[i].x());
    fy.append(pts[i].y());
    m_paretoIds.append(m_points[i].id);
  }
  m_front->setData(fx, fy, true);
  legendIf(m_front, !fx.isEmpty());
  m_dense->data()->clear();
  if (denseMetric > 0) m_dense->addData(1.0, denseMetric);
  legendIf(m_dense, denseMetric > 0);

  if (m_points.isEmpty()) {
    setEmptyMessage("Each evaluated run becomes a point");
    xAxis->setRange(0.9, 3.0);
    yAxis->setRange(0, 10);
  } else {
    setEmptyMessage(QString());
    bool found = false;
    QCPRange x = m_predicted->getKeyRange(found), y = m_predicted->getValueRange(found);
    for (int i = 0; i < mx.size(); ++i) {
      x.expand(mx[i] - errLow[i]);
      x.expand(mx[i] + errHigh[i]);
    }
    for (double v : ux) x.expand(v);
    x.expand(1.0);
    if (denseMetric > 0) y.expand(denseMetric);
    const double dx = std::max(0.1, x.size() * 0.08), dy = std::max(0.05 * std::fabs(y.center()), y.size() * 0.1);
    xAxis->setRange(x.lower - dx, x.upper + dx);
    yAxis->setRange(y.lower - dy, y.upper + dy);
  }
  // The evaluation data in the title when every plotted run shares it.
  QSet<QString> data, models;
  for (const Point& p : m_points) data.insert(p.data);
  for (const RunEntry& r : runs)
    if (std::any_of(m_points.begin(), m_points.end(), [&](const Point& p) { return p.id == r.id; }))
      models.insert(r.modelName());
  const QString which = m_metric != Metric::Perplexity    ? "accuracy"
                        : m_domain == Domain::InDomain ? "in-domain perplexity"
                        : m_domain == Domain::HeldOut  ? "held-out perplexity"
                                                       : "perplexity";
  setTitle(QString("Runs%1 · %2%3 vs decode speedup · %4 run%5")
               .arg(models.size() == 1 ? " of " + *models.begin() : models.size() > 1 ? QString(" of %1 models").arg(models.size()) : QString())
               .arg(which)
               .arg(data.size() == 1 ? " on " + *data.begin() : QString())
               .arg(m_points.size())
               .arg(m_points.size() == 1 ? "" : "s"));
  fitLegend(width());  // entries come and go with what is drawn
  replot(QCustomPlot::rpQueuedReplot);
}

int RunsPlot::nearest(const QPointF& pixel, double maxDistance) const {
  int best = -1;
  double bestD = maxDistance;
  for (int i = 0; i < m_points.size(); ++i) {
    const double dx = xAxis->coordToPixel(m_points[i].speedup) - pixel.x();
    const double dy = yAxis->coordToPixel(m_points[i].metric) - pixel.y();
    const double d = std::hypot(dx, dy);
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

void RunsPlot::mouseMoveEvent(QMouseEvent* e) {
  PlotBase::mouseMoveEvent(e);
  const int i = nearest(e->position(), 10.0);
  if (i < 0) {
    QToolTip::hideText();
    return;
  }
  const Point& p = m_points[i];
  QToolTip::showText(e->globalPosition().toPoint(),
                     QString("%1\n%2 %3 at %4× predicted\nclick to load this run")
                         .arg(p.label, m_metric == Metric::Perplexity
                                           ? "perplexity" + (p.domain.isEmpty() ? QString() : " (" + p.domain + ")")
                                           : QString("accuracy"))
                         .arg(p.metric, 0, 'f', m_metric == Metric::Perplexity ? 3 : 1)
                         .arg(p.speedup, 0, 'f', 2),
                     this);
}

}  // namespace duo::ui
