// SPDX-License-Identifier: GPL-3.0-or-later
// The global "target speedup" slider under the sparsity table: once a sensitivity table
// exists (core/prune/sensitivity.h), every slider move re-runs core's allocator
// (core/job/allocate.h, well under a millisecond) and emits the allocation, which the window puts
// into the table (one merged undo step per drag), the totals and the per-layer sparsity plot.
// A readout compares the allocation's predicted error with the uniform config of the same
// speedup; "Apply and run" calibrates the allocated table. With a timing profile (File > Load
// timing profile) the table's decode times, the target and the readout are the profile's measured
// speed instead of the bytes model's (core/job/sensitivity_job.h, fillDecodeTimes).
#pragma once
#include <QWidget>
#include <memory>
#include <optional>

#include "core/job/allocate.h"

class QLabel;
class QPushButton;
class QSlider;

namespace duo::ui {

class AllocationBar : public QWidget {
  Q_OBJECT
 public:
  explicit AllocationBar(QWidget* parent = nullptr);

  // A fresh sensitivity table (or none): the slider's range becomes 1.00x .. the grid's maximum
  // and it moves to `currentSpeedup` (the table's predicted speedup) without allocating.
  void setTable(const std::shared_ptr<const SensitivityTable>& table, double currentSpeedup, ActRule rule);
  void clear();
  bool hasTable() const { return m_table != nullptr; }
  // The table the allocator reads: the sensitivity table, its decode times from the timing
  // profile when one is set and covers the model.
  const SensitivityTable* table() const { return m_table.get(); }
  // A timing profile for the decode times and the target, or none (nullptr: the bytes model). The
  // slider's range follows; the next move allocates with it. A profile without this model's shapes
  // is not used (the readout says why).
  void setTimingProfile(std::shared_ptr<const perf::TimingProfile> profile);
  // Whether the table's times and the target are the timing profile's.
  bool timed() const { return m_timed; }

  QSlider* slider() const { return m_slider; }
  double targetSpeedup() const;
  // Moves the slider (emits allocated() as a user's move would).
  void setTargetSpeedup(double speedup);
  // The allocator at the current target: "lagrangian" (allocate), "owl" (owlAllocation) or
  // "uniform"; nullopt (and failed()) when the target is out of reach.
  std::optional<Allocation> allocateNow(const QString& kind);
  const std::optional<Allocation>& last() const { return m_last; }
  // Whether a calibration may start ("Apply and run" follows it).
  void setRunEnabled(bool on);

 Q_SIGNALS:
  void allocated(const duo::Allocation& allocation);
  void applyAndRunRequested();
  void failed(const QString& message);

 private:
  void onSlider(int value);
  void showReadout();
  // m_table from m_source and m_profile; resets the slider's range to the table's maximum and
  // moves it to `currentSpeedup` without allocating.
  void rebuild(double currentSpeedup);
  AllocateOptions options() const;

  std::shared_ptr<const SensitivityTable> m_source;  // as the sensitivity job made it (bytes-model times)
  std::shared_ptr<const SensitivityTable> m_table;   // what the allocator reads
  std::shared_ptr<const perf::TimingProfile> m_profile;
  bool m_timed = false;
  QString m_timingProblem;
  ActRule m_rule = ActRule::TopK;
  std::optional<Allocation> m_last;
  std::optional<Allocation> m_uniform;
  QSlider* m_slider;
  QLabel* m_value;
  QLabel* m_readout;
  QPushButton* m_applyRun;
  bool m_runEnabled = false;
};

}  // namespace duo::ui
