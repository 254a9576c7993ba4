// SPDX-License-Identifier: GPL-3.0-or-later
// The core's torch-free value types as Qt sees them: metatype declarations (so queued signals can
// carry them across threads) and small conversions shared by the panels.
#pragma once
#include <QMetaType>
#include <QString>
#include <QVector>

#include "core/common/device.h"
#include "core/common/progress.h"
#include "core/io/speed_check.h"
#include "core/job/prune_job.h"
#include "core/model/io/model_info.h"
#include "core/prune/prune_types.h"
#include "core/prune/sensitivity.h"
#include "core/prune/sparsity_config.h"

Q_DECLARE_METATYPE(duo::ModelInfo)
Q_DECLARE_METATYPE(duo::ProjRecord)
Q_DECLARE_METATYPE(duo::PruneRequest)
Q_DECLARE_METATYPE(duo::PruneResult)
Q_DECLARE_METATYPE(duo::SparsityConfig)
Q_DECLARE_METATYPE(duo::SensitivityTable)
Q_DECLARE_METATYPE(duo::SpeedCheck)

namespace duo::ui {

// duo::deviceInfo(), asked once per process (on a CUDA machine the first ask initialises the
// driver, which takes a moment; the answer does not change while the window runs).
const DeviceInfo& device();

// Registers the types above with Qt's meta-type system; idempotent, call once before any signal
// carrying them is connected across threads.
void registerCoreTypes();

inline QString qs(const std::string& s) { return QString::fromStdString(s); }
inline std::string ss(const QString& s) { return s.toStdString(); }

// "135.0 M", "1.2 G": counts with a metric suffix.
QString formatCount(double n);
// "256.0 MiB": bytes in binary units.
QString formatBytes(double bytes);
// "1 h 02 min", "3 min 05 s", "12 s".
QString formatDuration(double seconds);
// "50.0 %" from a fraction.
QString formatPercent(double fraction, int decimals = 1);
// A measured decode speedup as the window shows it: "1.63× (1.59–1.68, 7 pairs, 2 threads)", and
// "0.60× — not trusted" when the check raised a flag. "" when not measured.
QString speedCheckText(const SpeedCheck& check);
// Where file dialogs start: the folder last used for `kind` ("export", "open"), else the user's
// documents folder (home when there is none). rememberDialogPath stores a chosen file's folder.
QString dialogStartDir(const QString& kind);
void rememberDialogPath(const QString& kind, const QString& chosenPath);
QString defaultDocumentsDir();

// The flags in a few words each: "fits in the CPU cache; noisy" ("" when trusted).
QString speedCheckFlags(const SpeedCheck& check);
// The reasons not to trust it, one per line ("" when trusted).
QString speedCheckWarning(const SpeedCheck& check);

}  // namespace duo::ui
