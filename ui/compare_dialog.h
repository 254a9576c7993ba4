// SPDX-License-Identifier: GPL-3.0-or-later
// Two runs side by side: each run's per-layer error plot (same log range on both) and a line per
// run with its headline numbers.
#pragma once
#include <QDialog>

#include "ui/run_store.h"

namespace duo::ui {

class ErrorPlot;

class CompareDialog : public QDialog {
  Q_OBJECT
 public:
  CompareDialog(const RunEntry& a, const RunEntry& b, QWidget* parent = nullptr);

  ErrorPlot* left() const { return m_left; }
  ErrorPlot* right() const { return m_right; }

 private:
  ErrorPlot* m_left;
  ErrorPlot* m_right;
};

}  // namespace duo::ui
