// SPDX-License-Identifier: GPL-3.0-or-later
// The window's status bar contents: which device LibTorch will use (duo::deviceInfo()), the
// process's memory (current and peak RSS, refreshed every 2 s) and the job state.
#pragma once
#include <QObject>
#include <QTimer>

class QLabel;
class QStatusBar;

namespace duo::ui {

class StatusLine : public QObject {
  Q_OBJECT
 public:
  explicit StatusLine(QStatusBar* bar);

  QString deviceText() const;
  // The resident memory last shown, and the peak shown beside it (never below it).
  long long currentBytes() const { return m_current; }
  long long peakBytes() const { return m_peak; }

 public Q_SLOTS:
  void setJobState(const QString& state);
  void refreshMemory();

 private:
  QLabel* m_device;
  long long m_peak = 0;
  long long m_current = 0;
  QLabel* m_memory;
  QLabel* m_job;
  QTimer m_timer;
};

}  // namespace duo::ui
