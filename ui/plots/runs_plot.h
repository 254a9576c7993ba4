// SPDX-License-Identifier: GPL-3.0-or-later
// Every run of the workspace as one point: perplexity (or accuracy) against decode speedup, the
// bytes model's prediction as a filled circle and a measured speedup (when benchmarked) as a
// hollow square with its spread (interquartile range of the pairs) as a horizontal error bar; a
// measurement whose check raised a flag (cache-resident model, starved dense baseline, noise) is
// a grey crossed square of its own legend entry, never a plain number. The Pareto front (faster and
// better than every other run) is drawn as a line through ringed points, and is in the legend only
// when it is drawn. A perplexity measured on text held out from the run's calibration corpus
// (another domain, core's domainRelation) is ringed in its own legend entry, and the plot can
// show only in-domain or only held-out results, so the two can be compared (docs/corpus.md).
// Clicking a point emits runClicked(id).
#pragma once
#include <QVector>

#include "ui/plots/plot_base.h"
#include "ui/run_store.h"

namespace duo::ui {

class RunsPlot : public PlotBase {
  Q_OBJECT
 public:
  enum class Metric { Perplexity, Accuracy };
  // Which perplexities to show: all, those on the calibration's own domains ("in-domain"), or
  // those on text of other domains ("held-out" and "mixed"). Accuracy is not filtered.
  enum class Domain { All, InDomain, HeldOut };

  explicit RunsPlot(QWidget* parent = nullptr);

  void setMetric(Metric m);
  Metric metric() const { return m_metric; }
  void setDomain(Domain d);
  Domain domain() const { return m_domain; }
  void setRuns(const QVector<RunEntry>& runs);

  // Ids of the runs on the Pareto front, fastest first (for tests and the runs list).
  const QStringList& paretoIds() const { return m_paretoIds; }
  QCPGraph* predicted() const { return m_predicted; }
  QCPGraph* measured() const { return m_measured; }
  QCPGraph* untrusted() const { return m_untrusted; }
  QCPErrorBars* measuredSpread() const { return m_spread; }
  QCPGraph* front() const { return m_front; }
  QCPGraph* heldOut() const { return m_heldOut; }  // rings on the held-out points

  // Indices into `points` of the Pareto-optimal ones: no other point has speedup >= and metric
  // better-or-equal with one of them strictly better. `lowerIsBetter` for perplexity.
  static QVector<int> paretoFront(const QVector<QPointF>& points, bool lowerIsBetter);

 Q_SIGNALS:
  void runClicked(const QString& id);

 protected:
  void mouseMoveEvent(QMouseEvent* e) override;

 private:
  struct Point {
    double speedup, metric;
    QString id, label;
    QString domain;  // the perplexity's domainRelation ("" for accuracy)
    QString data;    // the perplexity's corpus, or the task's name
  };
  int nearest(const QPointF& pixel, double maxDistance) const;

  Metric m_metric = Metric::Perplexity;
  Domain m_domain = Domain::All;
  QVector<RunEntry> m_runs;
  QVector<Point> m_points;  // same order as m_predicted's data (sorted by speedup)
  QStringList m_paretoIds;
  QCPGraph* m_predicted;
  QCPGraph* m_measured;
  QCPGraph* m_untrusted;
  QCPErrorBars* m_spread;
  QCPGraph* m_front;
  QCPGraph* m_heldOut;
  QCPGraph* m_dense;
};

}  // namespace duo::ui
