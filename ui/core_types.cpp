#include "ui/core_types.h"

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
