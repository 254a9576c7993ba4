// SPDX-License-Identifier: GPL-3.0-or-later
// Progress as the window shows it: a value type that crosses from the workers' owners to the
// panels, and the clock that makes it from core's Progress reports on the GUI thread.
#pragma once
#include <QElapsedTimer>
#include <QMetaType>
#include <QString>

#include "core/common/progress.h"

namespace duo::ui {

// One progress update as the window shows it (a value type, safe across threads).
struct JobProgress {
  QString stage;        // "load", "calibrate", "eval", ...
  QString detail;       // "layer 3 q_proj"
  qint64 done = 0;
  qint64 total = 0;     // 0 = unknown
  double elapsed = 0;   // seconds since the job started
  double eta = -1;      // seconds left in this stage, -1 = unknown
};

// Times one job's progress: elapsed seconds since start(), and each stage's ETA from that stage's
// own rate (a stage's done/total count from its own start; the ETA is -1 for the first 0.5 s of a
// stage and while done or total is 0).
class ProgressClock {
 public:
  void start();  // a job starts: elapsed 0, no stage yet
  JobProgress read(const Progress& p);

 private:
  QElapsedTimer m_clock;
  QString m_stage;
  double m_stageStart = 0;  // seconds since start() when m_stage began
};

}  // namespace duo::ui

Q_DECLARE_METATYPE(duo::ui::JobProgress)
