// SPDX-License-Identifier: GPL-3.0-or-later
// Sensitivity and allocation: core's sensitivity job in the background worker, its table handed to
// the Sensitivity panel and the allocation bar, the allocator behind the target-speedup slider and
// the table's Allocated / OWL presets.
#pragma once
#include <QObject>

#include "core/job/allocate.h"
#include "core/prune/sensitivity.h"
#include "ui/window_parts.h"

namespace duo::ui {

class SensitivityController : public QObject {
  Q_OBJECT
 public:
  explicit SensitivityController(const WindowParts& parts, QObject* parent = nullptr);

  // A new model is open: the last model's sensitivity and allocation no longer apply.
  void clear();

 public Q_SLOTS:
  // Runs core's sensitivity job on the open model and the Data tab's calibration settings.
  void run();
  // Fills the table from the allocator at the slider's target: "allocated" (Lagrangian) or "owl".
  void applyPreset(const QString& kind);

 Q_SIGNALS:
  void actionsChanged();  // a sensitivity table arrived or was dropped
  // The allocation bar's "apply and run": the allocation is in the table, a calibration should start.
  void runRequested();

 private:
  void onSensitivity(const SensitivityTable& table);  // a finished sensitivity job
  void onAllocated(const Allocation& a);

  WindowParts m_ui;
};

}  // namespace duo::ui
