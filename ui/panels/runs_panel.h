// SPDX-License-Identifier: GPL-3.0-or-later
// Runs panel: the workspace's runs (model, method, sparsities, perplexity, accuracy, speedup,
// time), one row each, newest last, filtered by model ("All models" by default). Double-click (or "Load") loads a run into the window; select two and
// "Compare" shows their per-layer errors side by side; "Delete" removes a run's record from disk.
#pragma once
#include <QWidget>

#include "ui/run_store.h"

class QComboBox;
class QPushButton;
class QTableWidget;

namespace duo::ui {

class RunsPanel : public QWidget {
  Q_OBJECT
 public:
  explicit RunsPanel(RunStore* store, QWidget* parent = nullptr);

  QTableWidget* table() const { return m_table; }
  QStringList selectedIds() const;
  void selectRun(const QString& id);
  QComboBox* modelFilter() const { return m_filter; }
  // The model name shown ("" = all models), and the runs that pass the filter.
  QString filterModel() const;
  void setFilterModel(const QString& model);
  QVector<RunEntry> visibleRuns() const;

 Q_SIGNALS:
  void loadRequested(const QString& id);
  void compareRequested(const QString& a, const QString& b);
  // The filter changed (the runs plot follows it).
  void filterChanged();

 private:
  void refill();
  void refillFilter();
  void updateButtons();
  void deleteSelected();

  RunStore* m_store;
  QTableWidget* m_table;
  QComboBox* m_filter;
  QPushButton* m_load;
  QPushButton* m_compare;
  QPushButton* m_delete;
};

}  // namespace duo::ui
