// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/compare_dialog.h"

#include <QDialogButtonBox>
#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>

#include "ui/core_types.h"
#include "ui/plots/error_plot.h"

namespace duo::ui {

namespace {
QString headline(const RunEntry& r) {
  const RunRecord& p = r.record;
  QString s = QString("<b>%1</b> · W %2, A %3 · %4× predicted")
                  .arg(r.label(), formatPercent(p.weightSparsity), formatPercent(p.actSparsity))
                  .arg(p.predictedSpeedup, 0, 'f', 2);
  if (p.speedCheck && p.speedCheck->measured())
    s += QString(" (measured %1)").arg(speedCheckText(*p.speedCheck).toHtmlEscaped());
  else if (r.measuredSpeedup() > 0)
    s += QString(" (%1× measured, spread unknown)").arg(r.measuredSpeedup(), 0, 'f', 2);
  s += " · " + r.modelName().toHtmlEscaped();
  if (r.perplexity() >= 0) s += QString(" · ppl %1").arg(r.perplexity(), 0, 'f', 3);
  if (r.accuracy() >= 0) s += QString(" · acc %1").arg(formatPercent(r.accuracy()));
  return s;
}

int layerCount(const RunEntry& r) {
  int n = r.record.sparsity.numLayers();
  for (const ProjRecord& p : r.record.records) n = std::max(n, p.layer + 1);
  return n;
}
}  // namespace

CompareDialog::CompareDialog(const RunEntry& a, const RunEntry& b, QWidget* parent) : QDialog(parent) {
  setObjectName("compareDialog");
  setWindowTitle("Compare runs");
  auto* layout = new QVBoxLayout(this);
  auto* split = new QSplitter(Qt::Horizontal);
  auto makeSide = [&](const RunEntry& r, ErrorPlot** plot) {
    auto* w = new QWidget;
    auto* v = new QVBoxLayout(w);
    v->setContentsMargins(0, 0, 0, 0);
    auto* label = new QLabel(headline(r));
    label->setWordWrap(true);
    v->addWidget(label);
    *plot = new ErrorPlot;
    (*plot)->setLayerCount(layerCount(r));
    (*plot)->setRecords(QVector<ProjRecord>(r.record.records.begin(), r.record.records.end()));
    (*plot)->setTitle(r.label() + " · " + r.when.toString("MM-dd HH:mm"));
    v->addWidget(*plot, 1);
    split->addWidget(w);
  };
  makeSide(a, &m_left);
  makeSide(b, &m_right);
  // One log range on both sides so that bar heights compare directly.
  QCPRange y = m_left->yAxis->range();
  y.expand(m_right->yAxis->range());
  m_left->yAxis->setRange(y);
  m_right->yAxis->setRange(y);
  layout->addWidget(split, 1);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);
  resize(1200, 560);
}

}  // namespace duo::ui
