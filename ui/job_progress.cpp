// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/job_progress.h"

namespace duo::ui {

void ProgressClock::start() {
  m_clock.start();
  m_stage.clear();
  m_stageStart = 0;
}

JobProgress ProgressClock::read(const Progress& p) {
  JobProgress out;
  out.stage = QString::fromStdString(p.stage);
  out.detail = QString::fromStdString(p.detail);
  out.done = p.done;
  out.total = p.total;
  out.elapsed = m_clock.nsecsElapsed() * 1e-9;
  if (out.stage != m_stage) {
    m_stage = out.stage;
    m_stageStart = out.elapsed;
  }
  const double inStage = out.elapsed - m_stageStart;
  out.eta = (p.total > 0 && p.done > 0 && inStage > 0.5)
                ? inStage * static_cast<double>(p.total - p.done) / static_cast<double>(p.done)
                : -1.0;
  return out;
}

}  // namespace duo::ui
