#include "ui/background_task.h"

#include <QMutexLocker>
#include <QThread>

#include "core/common/error.h"
#include "ui/core_types.h"

namespace duo::ui {

BackgroundTask::BackgroundTask(QObject* parent) : QObject(parent) {
  registerCoreTypes();
  qRegisterMetaType<duo::ui::JobProgress>("duo::ui::JobProgress");
  m_flushTimer.setSingleShot(true);
  m_flushTimer.setInterval(kFlushMs);
  connect(&m_flushTimer, &QTimer::timeout, this, &BackgroundTask::flush);
}

BackgroundTask::~BackgroundTask() { stopWorkerThread(m_thread, m_cancel); }

bool BackgroundTask::startErased(TaskSpec spec, std::function<void(const ProgressFn&)> work,
                                 std::function<void()> done) {
  if (isBusy()) return false;
  m_spec = std::move(spec);
  m_done = std::move(done);
  m_cancel = false;
  m_flushPending = false;
  {
    QMutexLocker lock(&m_mutex);
    m_pendingProgress.reset();
    m_outcome = WorkerOutcome{};
    m_finished = false;
  }
  m_clock.start();
  m_thread = createWorkerThread(
      "duo-task", m_mutex, m_cancel, m_outcome,
      [this, work, hook = m_hook] {
        auto progress = [this, hook](const Progress& p) {
          if (hook) hook(p);
          {
            QMutexLocker lock(&m_mutex);
            m_pendingProgress = p;
          }
          if (!m_flushPending.exchange(true))
            QMetaObject::invokeMethod(
                this, [this] { if (!m_flushTimer.isActive()) m_flushTimer.start(); }, Qt::QueuedConnection);
          return !m_cancel.load();
        };
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

void BackgroundTask::flush() {
  m_flushPending = false;
  std::optional<Progress> p;
  {
    QMutexLocker lock(&m_mutex);
    p.swap(m_pendingProgress);
  }
  if (!p) return;
  JobProgress out;
  out.stage = qs(p->stage);
  out.detail = qs(p->detail);
  out.done = p->done;
  out.total = p->total;
  out.elapsed = m_clock.nsecsElapsed() * 1e-9;
  out.eta = (p->total > 0 && p->done > 0 && out.elapsed > 0.5)
                ? out.elapsed * static_cast<double>(p->total - p->done) / static_cast<double>(p->done)
                : -1.0;
  if (m_spec.onProgress) m_spec.onProgress(out);
  Q_EMIT progressed(out);
}

void BackgroundTask::onThreadFinished() {
  m_flushTimer.stop();
  flush();
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
