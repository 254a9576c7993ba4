// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/background_task.h"

#include <QMutexLocker>
#include <QThread>

#include "core/common/error.h"
#include "ui/core_types.h"

namespace duo::ui {

BackgroundTask::BackgroundTask(QObject* parent)
    : QObject(parent), m_updates([this](Progress&& latest) { deliver(latest); }) {
  registerCoreTypes();
  qRegisterMetaType<duo::ui::JobProgress>("duo::ui::JobProgress");
}

BackgroundTask::~BackgroundTask() { stopWorkerThread(m_thread, m_cancel); }

bool BackgroundTask::startErased(TaskSpec spec, std::function<void(const ProgressFn&)> work,
                                 std::function<void()> done) {
  if (isBusy()) return false;
  m_spec = std::move(spec);
  m_done = std::move(done);
  m_cancel = false;
  m_updates.clear();
  {
    QMutexLocker lock(&m_mutex);
    m_outcome = WorkerOutcome{};
    m_finished = false;
  }
  m_clock.start();
  m_thread = createWorkerThread(
      "duo-task", m_mutex, m_cancel, m_outcome,
      [this, work, hook = m_hook] {
        const ProgressFn progress = workerProgress(
            hook, [this](const Progress& p) { m_updates.append([&p](Progress& latest) { latest = p; }); }, m_cancel);
        work(progress);  // the value stays in `done`'s capture until the GUI thread takes it
        QMutexLocker lock(&m_mutex);
        m_finished = true;
      },
      this, [this] { onThreadFinished(); });
  Q_EMIT busyChanged(true);
  if (m_spec.onStarted) m_spec.onStarted();
  Q_EMIT started(m_spec.name);
  m_thread->start();
  return true;
}

void BackgroundTask::cancel() {
  if (isBusy()) m_cancel = true;
}

void BackgroundTask::deliver(const Progress& latest) {
  const JobProgress out = m_clock.read(latest);
  if (m_spec.onProgress) m_spec.onProgress(out);
  Q_EMIT progressed(out);
}

void BackgroundTask::onThreadFinished() {
  m_updates.finish();
  delete m_thread;
  m_thread = nullptr;
  WorkerOutcome outcome;
  bool finishedWork = false;
  {
    QMutexLocker lock(&m_mutex);
    outcome = m_outcome;
    finishedWork = m_finished;
  }
  const TaskSpec spec = m_spec;  // the ends may start the next task
  const std::function<void()> done = std::move(m_done);
  m_done = nullptr;
  Q_EMIT busyChanged(false);
  if (finishedWork) {
    done();
    Q_EMIT finished(spec.name);
  } else if (outcome.wasCancelled) {
    if (spec.onCancelled) spec.onCancelled();
    Q_EMIT cancelled(spec.name);
  } else {
    const QString message = outcome.error.isEmpty() ? QStringLiteral("the task ended without a result") : outcome.error;
    if (spec.onFailed) spec.onFailed(message);
    Q_EMIT failed(spec.name, message);
  }
}

}  // namespace duo::ui
