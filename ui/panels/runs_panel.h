// Runs panel: the workspace's runs (method, sparsities, perplexity, accuracy, speedup, time), one
// row each, newest last. Double-click (or "Load") loads a run into the window; select two and
// "Compare" shows their per-layer errors side by side; "Delete" removes a run's record from disk.
#pragma once
#include <QWidget>

#include "ui/run_store.h"

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

 Q_SIGNALS:
  void loadRequested(const QString& id);
  void compareRequested(const QString& a, const QString& b);

 private:
  void refill();
  void updateButtons();
  void deleteSelected();

  RunStore* m_store;
  QTableWidget* m_table;
  QPushButton* m_load;
  QPushButton* m_compare;
  QPushButton* m_delete;
};

}  // namespace duo::ui
