// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/update_batcher.h"

namespace duo::ui {

FlushSchedule::FlushSchedule(int intervalMs, std::function<void()> onTimeout) {
  m_timer.setSingleShot(true);
  m_timer.setInterval(intervalMs);
  QObject::connect(&m_timer, &QTimer::timeout, &m_timer, std::move(onTimeout));
}

void FlushSchedule::request() {
  if (m_requested.exchange(true)) return;  // one is on its way; later appends ride along
  QMetaObject::invokeMethod(
      &m_timer,
      [this] {
        if (!m_timer.isActive()) m_timer.start();
      },
      Qt::QueuedConnection);
}

void FlushSchedule::taken() { m_requested = false; }

void FlushSchedule::stop() { m_timer.stop(); }

}  // namespace duo::ui
