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

 public Q_SLOTS:
  void setJobState(const QString& state);
  void refreshMemory();

 private:
  QLabel* m_device;
  QLabel* m_memory;
  QLabel* m_job;
  QTimer m_timer;
};

}  // namespace duo::ui
