// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/panels/sensitivity_panel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>

#include "ui/core_types.h"
#include "ui/plots/sensitivity_plot.h"

namespace duo::ui {

namespace {

// Sorts numerically on Qt::UserRole while showing formatted text.
class NumberItem : public QTableWidgetItem {
 public:
  NumberItem(double v, const QString& text) : QTableWidgetItem(text) {
    setData(Qt::UserRole, v);
    setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
  }
  bool operator<(const QTableWidgetItem& o) const override {
    return data(Qt::UserRole).toDouble() < o.data(Qt::UserRole).toDouble();
  }
};

size_t nearest(const std::vector<double>& grid, double v) {
  size_t best = 0;
  for (size_t i = 1; i < grid.size(); ++i)
    if (std::fabs(grid[i] - v) < std::fabs(grid[best] - v)) best = i;
  return best;
}

QString sci(double v) { return QString::number(v, 'g', 3); }

}  // namespace

SensitivityPanel::SensitivityPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->setSpacing(4);
  auto* top = new QHBoxLayout;
  m_run = new QPushButton("Run sensitivity");
  m_run->setObjectName("runSensitivity");
  m_run->setToolTip("Estimate every projection's error over a (weight, activation) sparsity grid from one dense pass "
                    "over the Data tab's calibration windows (core/prune/sensitivity.h)");
  m_cancel = new QPushButton("Cancel");
  m_cancel->setObjectName("cancelSensitivity");
  m_cancel->setEnabled(false);
  m_bar = new QProgressBar;
  m_bar->setMinimumWidth(50);
  m_bar->setObjectName("sensitivityProgress");
  m_bar->setRange(0, 1);
  m_bar->setValue(0);
  m_bar->setTextVisible(true);
  m_status = new QLabel;
  m_status->setObjectName("sensitivityStatus");
  m_status->setWordWrap(true);
  top->addWidget(m_run);
  top->addWidget(m_cancel);
  top->addWidget(m_bar, 1);
  layout->addLayout(top);
  layout->addWidget(m_status);

  m_plot = new SensitivityPlot;
  m_plot->setObjectName("sensitivityPlot");
  m_table = new QTableWidget(0, ColCount);
  m_table->setObjectName("sensitivityTable");
  m_table->setHorizontalHeaderLabels({"layer", "proj", "error @W50/A50", "weight term", "act term", "alloc W",
                                      "alloc A", "alloc error"});
  m_table->horizontalHeaderItem(ColError)->setToolTip(
      "Predicted relative output error at the grid point nearest p_w = p_a = 50 % (sort key: most sensitive first)");
  m_table->horizontalHeaderItem(ColWeightTerm)->setToolTip("Weight term alone (dense inputs) at the same p_w");
  m_table->horizontalHeaderItem(ColActTerm)->setToolTip("Activation term alone (dense weights) at the same p_a");
  m_table->horizontalHeaderItem(ColAllocW)->setToolTip("Weight sparsity the allocator gave this projection");
  m_table->horizontalHeaderItem(ColAllocA)->setToolTip("Activation sparsity the allocator gave its input site");
  m_table->horizontalHeaderItem(ColAllocError)->setToolTip("Predicted relative output error at the allocated point");
  m_table->verticalHeader()->setVisible(false);
  m_table->verticalHeader()->setDefaultSectionSize(QFontMetrics(font()).height() + 4);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setAlternatingRowColors(true);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_table->setSortingEnabled(true);

  m_split = new QSplitter(Qt::Vertical);
  m_split->setObjectName("sensitivitySplitter");
  m_split->addWidget(m_plot);
  m_split->addWidget(m_table);
  m_split->setStretchFactor(0, 3);
  m_split->setStretchFactor(1, 2);
  layout->addWidget(m_split, 1);

  connect(m_run, &QPushButton::clicked, this, &SensitivityPanel::runRequested);
  connect(m_cancel, &QPushButton::clicked, this, &SensitivityPanel::cancelRequested);
  clear("Open a model, then Run sensitivity.");
}

void SensitivityPanel::setRunEnabled(bool on) { m_run->setEnabled(on); }

void SensitivityPanel::clear(const QString& why) {
  m_sens.reset();
  m_plot->clearTable();
  m_table->setSortingEnabled(false);
  m_table->setRowCount(0);
  m_table->setSortingEnabled(true);
  m_status->setText(why);
}

void SensitivityPanel::setSensitivity(const std::shared_ptr<const SensitivityTable>& t) {
  m_sens = t;
  m_cancel->setEnabled(false);
  m_bar->setRange(0, 1);
  m_bar->setValue(1);
  m_plot->setTable(*t);
  fillTable();
  m_status->setText(QString("%1 layers × 7 projections, grid W {%2} × A {%3}, %4 windows × %5 tokens, estimator %6, "
                            "%7")
                        .arg(t->numLayers())
                        .arg([&] {
                          QStringList s;
                          for (double v : t->gridW) s << QString::number(v * 100, 'f', 0);
                          return s.join(", ");
                        }())
                        .arg([&] {
                          QStringList s;
                          for (double v : t->gridA) s << QString::number(v * 100, 'f', 0);
                          return s.join(", ");
                        }())
                        .arg(t->nsamples)
                        .arg(t->seqlen)
                        .arg(weightEstimatorName(t->estimator))
                        .arg(formatDuration(t->secondsCompute)));
}

void SensitivityPanel::fillTable() {
  const SensitivityTable& t = *m_sens;
  const size_t iw = nearest(t.gridW, 0.5), ia = nearest(t.gridA, 0.5);
  m_table->setSortingEnabled(false);
  m_table->setRowCount(static_cast<int>(t.projs.size()));
  int row = 0;
  for (const ProjSensitivity& p : t.projs) {
    m_table->setItem(row, ColLayer, new NumberItem(p.layer, QString::number(p.layer)));
    auto* name = new QTableWidgetItem(projName(p.proj));
    name->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    m_table->setItem(row, ColProj, name);
    m_table->setItem(row, ColError, new NumberItem(p.errorAt(iw, ia), sci(p.errorAt(iw, ia))));
    m_table->setItem(row, ColWeightTerm, new NumberItem(p.weightError[iw], sci(p.weightError[iw])));
    m_table->setItem(row, ColActTerm, new NumberItem(p.actError[ia], sci(p.actError[ia])));
    for (int c : {ColAllocW, ColAllocA, ColAllocError}) m_table->setItem(row, c, new NumberItem(-1, "--"));
    ++row;
  }
  m_table->horizontalHeaderItem(ColError)->setText(
      QString("error @W%1/A%2").arg(t.gridW[iw] * 100, 0, 'f', 0).arg(t.gridA[ia] * 100, 0, 'f', 0));
  m_table->setSortingEnabled(true);
  m_table->sortByColumn(ColError, Qt::DescendingOrder);
}

void SensitivityPanel::setAllocation(const Allocation& a) {
  if (!m_sens) return;
  const SparsityConfig& c = a.config;
  m_table->setSortingEnabled(false);  // rows must not move while their cells change
  for (int row = 0; row < m_table->rowCount(); ++row) {
    const int layer = m_table->item(row, ColLayer)->data(Qt::UserRole).toInt();
    Proj p = Proj::Q;
    projFromName(ss(m_table->item(row, ColProj)->text()), &p);
    if (layer >= c.numLayers()) continue;
    const ProjSparsity& v = c.at(layer, p);
    const size_t idx = static_cast<size_t>(layer) * kNumProj + static_cast<size_t>(p);
    const double err = idx < a.projRelError.size() ? a.projRelError[idx] : -1;
    m_table->item(row, ColAllocW)->setText(formatPercent(v.weight, 0));
    m_table->item(row, ColAllocW)->setData(Qt::UserRole, v.weight);
    m_table->item(row, ColAllocA)->setText(formatPercent(v.act, 0));
    m_table->item(row, ColAllocA)->setData(Qt::UserRole, v.act);
    m_table->item(row, ColAllocError)->setText(err >= 0 ? sci(err) : "--");
    m_table->item(row, ColAllocError)->setData(Qt::UserRole, err);
  }
  m_table->setSortingEnabled(true);
  // Each layer's allocated point on the curves' axes: mean of its (p_w + p_a) / 2, summed error.
  QVector<QPointF> pts;
  for (int l = 0; l < c.numLayers() && l < m_sens->numLayers(); ++l) {
    double x = 0, e = 0;
    for (int p = 0; p < kNumProj; ++p) {
      const ProjSparsity& v = c.at(l, static_cast<Proj>(p));
      x += 0.5 * (v.weight + v.act) / kNumProj;
      const size_t idx = static_cast<size_t>(l) * kNumProj + p;
      if (idx < a.projRelError.size()) e += a.projRelError[idx];
    }
    pts.append(QPointF(100.0 * x, e));
  }
  m_plot->setAllocation(pts);
}

void SensitivityPanel::onStarted() {
  m_run->setEnabled(false);
  m_cancel->setEnabled(true);
  m_bar->setRange(0, 0);
  m_status->setText("Estimating sensitivity...");
}

void SensitivityPanel::onProgress(const JobProgress& p) {
  if (p.total > 0) {
    m_bar->setRange(0, static_cast<int>(p.total));
    m_bar->setValue(static_cast<int>(p.done));
  }
  m_status->setText(QString("%1 %2 · %3 elapsed%4")
                        .arg(p.stage, p.detail, formatDuration(p.elapsed),
                             p.eta >= 0 ? " · about " + formatDuration(p.eta) + " left" : QString()));
}

void SensitivityPanel::onCancelled() {
  m_cancel->setEnabled(false);
  m_bar->setRange(0, 1);
  m_bar->setValue(0);
  m_status->setText(m_sens ? "Cancelled: the previous sensitivity table is kept" : "Cancelled: nothing was computed");
}

void SensitivityPanel::onFailed(const QString& message) {
  m_cancel->setEnabled(false);
  m_bar->setRange(0, 1);
  m_bar->setValue(0);
  m_status->setText("Sensitivity failed: " + message);
}

}  // namespace duo::ui
