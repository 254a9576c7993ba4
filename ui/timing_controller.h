// SPDX-License-Identifier: GPL-3.0-or-later
// Timing profiles (docs/gui.md, "Timing profiles"): speed predictions (the sparsity totals, the
// allocation slider, run results) from kernel lines measured on this machine instead of the bytes
// model. The profile is remembered for the next start (QSettings "timing/profile").
#pragma once
#include <QObject>
#include <memory>

#include "core/engine/bytes_model.h"
#include "ui/window_parts.h"

namespace duo::ui {

class TimingController : public QObject {
  Q_OBJECT
 public:
  explicit TimingController(const WindowParts& parts, QObject* parent = nullptr);

  // The loaded profile; null: the bytes model.
  const std::shared_ptr<const perf::TimingProfile>& profile() const { return m_profile; }

 public Q_SLOTS:
  // Asks for the file when `path` is empty; shows an error naming the file and keeps the previous
  // profile when it cannot be read.
  bool load(const QString& path = QString());
  void clear();  // back to the bytes model
  // Times the open model's decode step in the background (cancellable), saves the profile to
  // `path` (asks when empty) and loads it.
  void measure(const QString& path = QString());
  // The last session's profile, quietly: one that cannot be read any more is forgotten with a note.
  void restore();

 Q_SIGNALS:
  void actionsChanged();  // a profile was loaded or forgotten

 private:
  void setProfile(std::shared_ptr<const perf::TimingProfile> profile);

  WindowParts m_ui;
  std::shared_ptr<const perf::TimingProfile> m_profile;
};

}  // namespace duo::ui
