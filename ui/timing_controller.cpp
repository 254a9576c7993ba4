// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/timing_controller.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>

#include "core/bench/calibrate_timing.h"
#include "core/engine/timing_profile.h"
#include "core/job/decode_estimate.h"
#include "ui/background_task.h"
#include "ui/core_types.h"
#include "ui/panels/allocation_bar.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/sparsity_model.h"
#include "ui/status_line.h"

namespace duo::ui {

namespace {
constexpr const char* kTimingSetting = "timing/profile";
}

TimingController::TimingController(const WindowParts& parts, QObject* parent) : QObject(parent), m_ui(parts) {}

bool TimingController::load(const QString& given) {
  QSettings s;
  const QString path = given.isEmpty() ? QFileDialog::getOpenFileName(m_ui.window, "Load timing profile",
                                                                      s.contains(kTimingSetting) ? QFileInfo(s.value(kTimingSetting).toString()).absolutePath() : dialogStartDir("open"),
                                                                      "Timing profile (*.json)")
                                       : given;
  if (path.isEmpty()) return false;
  try {
    auto profile = std::make_shared<const perf::TimingProfile>(perf::loadTimingProfile(ss(path)));
    setProfile(profile);
    s.setValue(kTimingSetting, QFileInfo(path).absoluteFilePath());
    const SparsityModel::DecodeEstimate est = m_ui.table->model()->decodeEstimate();
    if (m_ui.modelPanel->hasModel() && !est.timed && !est.timingProblem.empty())
      m_ui.status->setJobState("Timing profile " + path + " loaded, but not for this model: " + qs(est.timingProblem));
    else
      m_ui.status->setJobState(QString("Timing profile %1 (%2, %3 shapes): speed predictions are measured lines")
                                   .arg(path, qs(profile->device))
                                   .arg(profile->shapes.size()));
    return true;
  } catch (const std::exception& e) {
    m_ui.showError("Could not load the timing profile", QString::fromUtf8(e.what()));
    return false;
  }
}

void TimingController::clear() {
  setProfile(nullptr);
  QSettings().remove(kTimingSetting);
  m_ui.status->setJobState("Speed predictions from the bytes model");
}

void TimingController::setProfile(std::shared_ptr<const perf::TimingProfile> profile) {
  m_profile = std::move(profile);
  m_ui.table->model()->setTimingProfile(m_profile);
  m_ui.allocBar->setTimingProfile(m_profile);
  Q_EMIT actionsChanged();
}

void TimingController::measure(const QString& given) {
  if (!m_ui.modelPanel->hasModel() || m_ui.isBusy()) return;
  const std::string model = m_ui.modelPanel->model().path;
  QString path = given;
  if (path.isEmpty()) {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/timing";
    QDir().mkpath(dir);
    const QString name = QFileInfo(qs(model)).completeBaseName() + "-timing.json";
    path = m_ui.askSavePath("Save the timing profile", QDir(dir).filePath(name), "Timing profile (*.json)");
    if (path.isEmpty()) return;
  }
  perf::CalibrateConfig config;
  config.model = model;
  config.threads = 0;  // what decoding in this process uses
  m_ui.task->start<QString>(
      TaskSpec{"timing", "Timing our kernels in the model's decode step...", "Could not measure the timing profile"},
      [config, path](const ProgressFn& progress) {
        const perf::CalibrationResult r = perf::calibrateTiming(config, progress);
        perf::saveTimingProfile(ss(path), r.profile, r.points);
        return path;
      },
      [this](const QString& saved) {
        Q_EMIT actionsChanged();
        load(saved);
      });
}

void TimingController::restore() {
  const QString path = QSettings().value(kTimingSetting).toString();
  if (path.isEmpty()) return;
  try {
    setProfile(std::make_shared<const perf::TimingProfile>(perf::loadTimingProfile(ss(path))));
  } catch (const std::exception& e) {
    // At start-up a vanished or broken profile is a note, not a dialog: the bytes model stands.
    QSettings().remove(kTimingSetting);
    m_ui.status->setJobState("Timing profile not restored: " + QString::fromUtf8(e.what()));
  }
}

}  // namespace duo::ui
