// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/core_types.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>
#include <cmath>

namespace duo::ui {

const DeviceInfo& device() {
  static const DeviceInfo info = deviceInfo();
  return info;
}

void registerCoreTypes() {
  qRegisterMetaType<duo::ModelInfo>("duo::ModelInfo");
  qRegisterMetaType<duo::ProjRecord>("duo::ProjRecord");
  qRegisterMetaType<duo::PruneRequest>("duo::PruneRequest");
  qRegisterMetaType<duo::PruneResult>("duo::PruneResult");
  qRegisterMetaType<duo::SparsityConfig>("duo::SparsityConfig");
  qRegisterMetaType<duo::SensitivityTable>("duo::SensitivityTable");
  qRegisterMetaType<duo::SpeedCheck>("duo::SpeedCheck");
}

QString speedCheckText(const SpeedCheck& c) {
  if (!c.measured()) return QString();
  QString s = QString("%1× (%2–%3, %4 pairs, %5 thread%6)")
                  .arg(c.speedup, 0, 'f', 2)
                  .arg(c.low, 0, 'f', 2)
                  .arg(c.high, 0, 'f', 2)
                  .arg(c.repeats)
                  .arg(c.threads)
                  .arg(c.threads == 1 ? "" : "s");
  if (!c.trusted()) s += " — not trusted";
  return s;
}

QString speedCheckFlags(const SpeedCheck& c) {
  QStringList words;
  for (const std::string& f : c.flags)
    words << (f == "cache_resident"      ? QString("the model fits in the CPU cache")
              : f == "dense_slow"        ? QString("dense baseline starved")
              : f == "dense_off_history" ? QString("dense baseline off its history")
              : f == "noisy"             ? QString("noisy")
                                         : QString::fromStdString(f));
  return words.join("; ");
}

QString speedCheckWarning(const SpeedCheck& c) {
  QStringList lines;
  for (const std::string& n : c.notes) lines << QString::fromStdString(n);
  return lines.join("\n");
}

QString defaultDocumentsDir() {
  const QString docs = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
  return !docs.isEmpty() && QDir(docs).exists() ? docs : QDir::homePath();
}

QString dialogStartDir(const QString& kind) {
  const QString dir = QSettings().value("paths/" + kind + "Dir").toString();
  return !dir.isEmpty() && QDir(dir).exists() ? dir : defaultDocumentsDir();
}

void rememberDialogPath(const QString& kind, const QString& chosenPath) {
  if (chosenPath.isEmpty()) return;
  const QFileInfo fi(chosenPath);
  QSettings().setValue("paths/" + kind + "Dir", fi.isDir() ? fi.absoluteFilePath() : fi.absolutePath());
}

QString formatCount(double n) {
  const double a = std::fabs(n);
  if (a >= 1e9) return QString::number(n / 1e9, 'f', 2) + " G";
  if (a >= 1e6) return QString::number(n / 1e6, 'f', 1) + " M";
  if (a >= 1e3) return QString::number(n / 1e3, 'f', 1) + " k";
  return QString::number(n, 'f', 0);
}

QString formatBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (std::fabs(bytes) >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  return QString::number(bytes, 'f', u == 0 ? 0 : 1) + " " + kUnits[u];
}

QString formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("--");
  const long long s = std::llround(seconds);
  if (s >= 3600) return QString("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QChar('0'));
  if (s >= 60) return QString("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QChar('0'));
  return QString("%1 s").arg(s);
}

QString formatPercent(double fraction, int decimals) {
  return QString::number(fraction * 100.0, 'f', decimals) + " %";
}

}  // namespace duo::ui
