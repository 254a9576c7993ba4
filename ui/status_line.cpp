// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/status_line.h"

#include <QLabel>
#include <QStatusBar>
#include <algorithm>

#include "core/common/device.h"
#include "ui/core_types.h"

namespace duo::ui {

StatusLine::StatusLine(QStatusBar* bar) : QObject(bar) {
  const DeviceInfo& dev = device();
  m_device = new QLabel("Device: " + qs(dev.description));
  m_device->setObjectName("deviceLabel");
  m_device->setToolTip(QString("LibTorch %1 will compute on %2 (%3 CUDA device%4 visible)")
                           .arg(qs(dev.torchVersion), qs(dev.name))
                           .arg(dev.cudaDevices)
                           .arg(dev.cudaDevices == 1 ? "" : "s"));
  m_memory = new QLabel;
  m_memory->setObjectName("memoryLabel");
  m_memory->setToolTip("Resident memory of this process (current / peak)");
  m_job = new QLabel("Idle");
  m_job->setObjectName("jobLabel");
  bar->addWidget(m_job, 1);
  bar->addPermanentWidget(m_memory);
  bar->addPermanentWidget(m_device);
  refreshMemory();
  m_timer.setInterval(2000);
  connect(&m_timer, &QTimer::timeout, this, &StatusLine::refreshMemory);
  m_timer.start();
}

QString StatusLine::deviceText() const { return m_device->text(); }

void StatusLine::setJobState(const QString& state) { m_job->setText(state); }

void StatusLine::refreshMemory() {
  // The kernel's resident counters are per-CPU approximations read at two moments: the high-water
  // mark can come out a little under the current value read just before it. The peak shown is the
  // largest of the kernel's mark and every value this line has seen, so it is never below "now".
  const long long now = currentRssBytes();
  m_current = now;
  m_peak = std::max({m_peak, now, peakRssBytes()});
  m_memory->setText(QString("Memory %1 (peak %2)")
                        .arg(formatBytes(static_cast<double>(now)), formatBytes(static_cast<double>(m_peak))));
}

}  // namespace duo::ui
