// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/panels/runs_panel.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QHeaderView>
#include <QMessageBox>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/core_types.h"

namespace duo::ui {

namespace {
enum Col { ColWhen = 0, ColModel, ColMethod, ColW, ColA, ColPpl, ColAcc, ColSpeedup, ColTime, ColCount };

QTableWidgetItem* cell(const QString& text, bool number) {
  auto* item = new QTableWidgetItem(text);
  item->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
  if (number) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  return item;
}
}  // namespace

RunsPanel::RunsPanel(RunStore* store, QWidget* parent) : QWidget(parent), m_store(store) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->setSpacing(4);
  m_filter = new QComboBox;
  m_filter->setObjectName("runsModelFilter");
  m_filter->setToolTip("Show the runs of one model (the runs plot follows)");
  m_filter->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  auto* filterRow = new QHBoxLayout;
  auto* filterLabel = new QLabel("&Model:");
  filterLabel->setBuddy(m_filter);
  filterRow->addWidget(filterLabel);
  filterRow->addWidget(m_filter);
  filterRow->addStretch(1);
  layout->addLayout(filterRow);
  m_table = new QTableWidget(0, ColCount);
  m_table->setObjectName("runsTable");
  m_table->setHorizontalHeaderLabels({"Finished", "Model", "Run", "W", "A", "Perplexity", "Accuracy", "Speedup", "Time"});
  m_table->horizontalHeaderItem(ColSpeedup)
      ->setToolTip("Predicted decode speedup (bytes model); measured in brackets, with a ? when the measurement is not "
                   "to be trusted (hover the cell for why)");
  m_table->horizontalHeaderItem(ColW)->setToolTip("Achieved weight sparsity over all prunable weights");
  m_table->horizontalHeaderItem(ColA)->setToolTip("Achieved activation sparsity, mean over input sites");
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->verticalHeader()->setVisible(false);
  m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setSectionResizeMode(ColMethod, QHeaderView::Stretch);
  m_table->horizontalHeader()->setSectionResizeMode(ColModel, QHeaderView::Interactive);
  m_table->horizontalHeader()->setMinimumSectionSize(m_table->fontMetrics().horizontalAdvance("W 50%") + 8);
  m_table->setAlternatingRowColors(true);
  layout->addWidget(m_table, 1);

  auto* buttons = new QHBoxLayout;
  m_load = new QPushButton("Load");
  m_load->setToolTip("Show this run's table, settings and plots");
  m_compare = new QPushButton("Compare");
  m_compare->setToolTip("Select two runs to compare their per-layer errors side by side");
  m_delete = new QPushButton("Delete");
  m_delete->setToolTip("Delete the selected runs' records from the workspace");
  m_load->setObjectName("loadRun");
  m_compare->setObjectName("compareRuns");
  m_delete->setObjectName("deleteRuns");
  buttons->addWidget(m_load);
  buttons->addWidget(m_compare);
  buttons->addStretch(1);
  buttons->addWidget(m_delete);
  layout->addLayout(buttons);

  connect(m_store, &RunStore::changed, this, &RunsPanel::refill);
  connect(m_filter, &QComboBox::currentIndexChanged, this, [this] {
    refill();
    Q_EMIT filterChanged();
  });
  connect(m_table, &QTableWidget::itemSelectionChanged, this, &RunsPanel::updateButtons);
  connect(m_table, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
    Q_EMIT loadRequested(m_table->item(row, ColWhen)->data(Qt::UserRole).toString());
  });
  connect(m_load, &QPushButton::clicked, this, [this] {
    const QStringList ids = selectedIds();
    if (ids.size() == 1) Q_EMIT loadRequested(ids.first());
  });
  connect(m_compare, &QPushButton::clicked, this, [this] {
    const QStringList ids = selectedIds();
    if (ids.size() == 2) Q_EMIT compareRequested(ids[0], ids[1]);
  });
  connect(m_delete, &QPushButton::clicked, this, &RunsPanel::deleteSelected);
  refill();
}

QStringList RunsPanel::selectedIds() const {
  QStringList ids;
  for (const QModelIndex& idx : m_table->selectionModel()->selectedRows(ColWhen))
    ids << m_table->item(idx.row(), ColWhen)->data(Qt::UserRole).toString();
  return ids;
}

void RunsPanel::selectRun(const QString& id) {
  for (int row = 0; row < m_table->rowCount(); ++row)
    if (m_table->item(row, ColWhen)->data(Qt::UserRole).toString() == id) {
      m_table->selectRow(row);
      m_table->scrollToItem(m_table->item(row, ColWhen));
      return;
    }
}

QString RunsPanel::filterModel() const { return m_filter->currentData().toString(); }

void RunsPanel::setFilterModel(const QString& model) {
  const int i = m_filter->findData(model);
  m_filter->setCurrentIndex(i >= 0 ? i : 0);
}

QVector<RunEntry> RunsPanel::visibleRuns() const {
  const QString model = filterModel();
  QVector<RunEntry> out;
  for (const RunEntry& run : m_store->runs())
    if (model.isEmpty() || run.modelName() == model) out.append(run);
  return out;
}

void RunsPanel::refillFilter() {
  QStringList models;
  for (const RunEntry& run : m_store->runs())
    if (!models.contains(run.modelName())) models << run.modelName();
  models.sort(Qt::CaseInsensitive);
  const QString current = filterModel();
  const QSignalBlocker block(m_filter);
  m_filter->clear();
  m_filter->addItem(QString("All models (%1)").arg(models.size()), QString());
  for (const QString& m : models) m_filter->addItem(m, m);
  const int i = m_filter->findData(current);
  m_filter->setCurrentIndex(i >= 0 ? i : 0);
}

void RunsPanel::refill() {
  const QStringList keep = selectedIds();
  const QString filterBefore = filterModel();
  refillFilter();
  m_table->setRowCount(0);
  for (const RunEntry& run : visibleRuns()) {
    const RunRecord& r = run.record;
    const int row = m_table->rowCount();
    m_table->insertRow(row);
    auto* model = cell(run.modelName(), false);
    model->setToolTip(qs(r.model.path) + (r.model.name.empty() ? QString() : "\n" + qs(r.model.name)));
    m_table->setItem(row, ColModel, model);
    auto* when = cell(run.when.toString("MM-dd HH:mm"), false);
    when->setData(Qt::UserRole, run.id);
    when->setToolTip(run.id + "\n" + qs(r.model.path));
    m_table->setItem(row, ColWhen, when);
    auto* method = cell(run.label(), false);
    method->setToolTip(QString("%1 · calibration %2, %3 × %4 tokens, seed %5")
                           .arg(qs(r.method), qs(r.data.corpus))
                           .arg(r.data.nsamples)
                           .arg(r.data.seqlen)
                           .arg(r.data.seed));
    m_table->setItem(row, ColMethod, method);
    m_table->setItem(row, ColW, cell(formatPercent(r.weightSparsity, 0), true));
    m_table->setItem(row, ColA, cell(formatPercent(r.actSparsity, 0), true));
    m_table->setItem(row, ColPpl, cell(run.perplexity() >= 0 ? QString::number(run.perplexity(), 'f', 3) : "—", true));
    QTableWidgetItem* acc = cell(run.accuracy() >= 0 ? QString("%1 / %2").arg(formatPercent(run.accuracy()),
                                                                             formatPercent(run.accuracyNorm()))
                                                     : "—",
                                 true);
    if (run.accuracy() >= 0) acc->setToolTip(QString("acc / acc_norm on %1").arg(run.taskName()));
    m_table->setItem(row, ColAcc, acc);
    QString speed = r.predictedSpeedup > 0 ? QString::number(r.predictedSpeedup, 'f', 2) + "×" : "—";
    const bool trusted = run.speedTrusted();
    if (run.measuredSpeedup() > 0) speed += QString(" (%1×%2)").arg(run.measuredSpeedup(), 0, 'f', 2).arg(trusted ? "" : "?");
    QTableWidgetItem* sp = cell(speed, true);
    QString tip = "predicted (bytes model), in brackets measured (packed kernels, batch-1 decode)";
    if (r.speedCheck && r.speedCheck->measured()) {
      tip += "\nmeasured " + speedCheckText(*r.speedCheck);
      if (!trusted) tip += "\n" + speedCheckWarning(*r.speedCheck);
    } else if (r.measuredSpeedup) {
      tip += "\nmeasured before spreads were recorded: spread and threads unknown (?)";
    }
    if (run.measuredSpeedup() > 0 && !trusted) sp->setForeground(QColor(179, 89, 0));
    if (r.calibratedSpeedup)
      tip += QString("; timing profile %1: %2×").arg(qs(r.timingProfile)).arg(*r.calibratedSpeedup, 0, 'f', 2);
    sp->setToolTip(tip);
    m_table->setItem(row, ColSpeedup, sp);
    m_table->setItem(row, ColTime, cell(formatDuration(run.secondsTotal()), true));
  }
  // Runs a killed process never finished: listed greyed, deletable, not loadable.
  const QString model = filterModel();
  for (const RunMarker& m : m_store->interrupted()) {
    const QString name = QFileInfo(QDir::cleanPath(qs(m.model))).fileName();
    if (!model.isEmpty() && name != model) continue;
    const int row = m_table->rowCount();
    m_table->insertRow(row);
    auto* when = cell(QDateTime::fromString(qs(m.created), Qt::ISODate).toLocalTime().toString("MM-dd HH:mm"), false);
    when->setData(Qt::UserRole, qs(m.id));
    when->setData(Qt::UserRole + 1, true);
    m_table->setItem(row, ColWhen, when);
    m_table->setItem(row, ColModel, cell(name, false));
    m_table->setItem(row, ColMethod, cell(qs(m.method) + " — interrupted", false));
    for (int c = ColW; c < ColCount; ++c) m_table->setItem(row, c, cell("—", true));
    for (int c = 0; c < ColCount; ++c) {
      m_table->item(row, c)->setForeground(QColor(140, 140, 140));
      m_table->item(row, c)->setToolTip(QString("Interrupted: the process running it (pid %1) ended before the run "
                                                "finished; nothing it wrote is half-visible. Delete forgets it.")
                                            .arg(m.pid));
    }
  }
  for (const QString& id : keep) selectRun(id);
  updateButtons();
  if (filterModel() != filterBefore) Q_EMIT filterChanged();  // the filtered model's last run went away
}

void RunsPanel::updateButtons() {
  const QStringList ids = selectedIds();
  int runs = 0;  // finished runs among them (an interrupted one has nothing to load or compare)
  for (const QString& id : ids) runs += m_store->find(id) ? 1 : 0;
  m_load->setEnabled(ids.size() == 1 && runs == 1);
  m_compare->setEnabled(ids.size() == 2 && runs == 2);
  m_delete->setEnabled(!ids.isEmpty());
}

void RunsPanel::deleteSelected() {
  const QStringList ids = selectedIds();
  if (ids.isEmpty()) return;
  const auto answer = QMessageBox::question(this, "Delete runs",
                                            QString("Delete %1 run record%2 from the workspace?")
                                                .arg(ids.size())
                                                .arg(ids.size() == 1 ? "" : "s"));
  if (answer != QMessageBox::Yes) return;
  for (const QString& id : ids) {
    if (m_store->find(id)) m_store->remove(id);
    else m_store->forgetInterrupted(id);
  }
}

}  // namespace duo::ui
