// SPDX-License-Identifier: GPL-3.0-or-later
// Shared by the gui tests that drive the window: test-mode settings, open a model and wait, set the
// small data settings, edit a sparsity cell as a user would, wait for the background task or the
// calibration run to end, and where screenshots go.
// Header-only; the tests CMake builds only tests/gui/test_*.cpp, so this is no test of its own.
#pragma once
#include <QAbstractItemDelegate>
#include <QCheckBox>
#include <QCoreApplication>
#include <QDoubleSpinBox>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QString>
#include <QTemporaryDir>
#include <QTreeView>
#include <QtTest>

#include "gui_support.h"
#include "ui/background_task.h"
#include "ui/job_controller.h"
#include "ui/main_window.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/run_panel.h"
#include "ui/run_controller.h"

namespace duo::test {

// Every window test starts from test-mode standard paths and its own, cleared, settings
// (organisation "DuoScopeTest", application `testName`).
inline void useTestSettings(const char* testName) {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName("DuoScopeTest");
  QCoreApplication::setApplicationName(testName);
  QSettings().clear();
}

// Opens `path` in the window; true once the model panel says it is open (within a minute).
inline bool openAndWait(duo::ui::MainWindow& w, const QString& path) {
  QSignalSpy opened(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
  w.modelPanel()->openModel(path);
  return opened.wait(60000);
}

// Small, fast data settings through the data panel's own widgets (as smallRequest: seqlen 64,
// seed 0, evaluation on 4 windows).
inline void setSmallData(duo::ui::MainWindow& w, int nsamples = 8) {
  w.findChild<QSpinBox*>("nsamples")->setValue(nsamples);
  w.findChild<QSpinBox*>("seqlen")->setValue(64);
  w.findChild<QSpinBox*>("seed")->setValue(0);
  w.findChild<QCheckBox*>("evalEnabled")->setChecked(true);
  w.findChild<QSpinBox*>("maxWindows")->setValue(4);
}

// Shows `w`, opens `model` in it and sets the small data settings without a speed measurement
// (that is test_window_run's); false when the window was not exposed or the model did not open.
inline bool showWithSmallData(duo::ui::MainWindow& w, const QString& model) {
  w.show();
  if (!QTest::qWaitForWindowExposed(&w) || !openAndWait(w, model)) return false;
  setSmallData(w);
  w.runPanel()->setMeasureSpeedup(false);
  return true;
}

// Edits one sparsity-table cell to `percent` through the view's delegate and its spin box editor
// ("percentEditor"), as a user would, and closes the editor.
inline void editCell(QTreeView* view, const QModelIndex& idx, double percent) {
  view->setCurrentIndex(idx);
  view->edit(idx);
  auto* spin = view->findChild<QDoubleSpinBox*>("percentEditor");
  QVERIFY(spin);
  spin->setValue(percent);
  view->itemDelegateForIndex(idx)->setModelData(spin, view->model(), idx);
  // The view's own slot removes the (non-persistent) editor and deletes it later.
  QMetaObject::invokeMethod(view, "closeEditor", Q_ARG(QWidget*, spin),
                            Q_ARG(QAbstractItemDelegate::EndEditHint, QAbstractItemDelegate::NoHint));
}

// Waits for the window's background task (sensitivity, task generation) to end; "" on success,
// else the failure.
inline QString waitForTask(duo::ui::MainWindow& w, int timeoutMs) {
  QSignalSpy finished(w.task(), &duo::ui::BackgroundTask::finished);
  QSignalSpy failed(w.task(), &duo::ui::BackgroundTask::failed);
  if (!QTest::qWaitFor([&] { return finished.count() + failed.count() > 0; }, timeoutMs))
    return QString("the task did not end within %1 s").arg(timeoutMs / 1000);
  return failed.count() ? failed.first().at(1).toString() : QString();
}

// Waits for the calibration run to be stored; "" on success, else the job's failure.
inline QString waitForRun(duo::ui::MainWindow& w, int timeoutMs) {
  QSignalSpy stored(w.runController(), &duo::ui::RunController::runStored);
  QSignalSpy failed(w.job(), &duo::ui::JobController::failed);
  if (!QTest::qWaitFor([&] { return stored.count() + failed.count() > 0; }, timeoutMs))
    return QString("the run did not end within %1 s").arg(timeoutMs / 1000);
  return failed.count() ? failed.first().first().toString() : QString();
}

// Where screenshots go: $DUO_SCREENSHOT_DIR when set (docs/screenshots is refreshed that way),
// else `fallback`.
inline QString screenshotDir(const QTemporaryDir& fallback) {
  return qEnvironmentVariableIsSet("DUO_SCREENSHOT_DIR") ? qEnvironmentVariable("DUO_SCREENSHOT_DIR") : fallback.path();
}

}  // namespace duo::test
