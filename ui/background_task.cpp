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

bool BackgroundTask::start(const QString& name, const Work& work) {
  if (isBusy()) return false;
  m_name = name;
  m_cancel = false;
  m_flushPending = false;
  {
    QMutexLocker lock(&m_mutex);
    m_pendingProgress.reset();
    m_result = QVariant();
    m_outcome = WorkerOutcome{};
    m_done = false;
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
        QVariant v = work(progress);
        QMutexLocker lock(&m_mutex);
        m_result = std::move(v);
        m_done = true;
      },
      this, [this] { onThreadFinished(); });
  Q_EMIT busyChanged(true);
  Q_EMIT started(name);
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
  Q_EMIT progressed(out);
}

void BackgroundTask::onThreadFinished() {
  m_flushTimer.stop();
  flush();
  delete m_thread;
  m_thread = nullptr;
  QVariant result;
  WorkerOutcome outcome;
  bool done = false;
  {
    QMutexLocker lock(&m_mutex);
    result = m_result;
    outcome = m_outcome;
    done = m_done;
  }
  const QString name = m_name;
  Q_EMIT busyChanged(false);
  if (done)
    Q_EMIT finished(name, result);
  else if (outcome.wasCancelled)
    Q_EMIT cancelled(name);
  else
    Q_EMIT failed(name, outcome.error.isEmpty() ? QStringLiteral("the task ended without a result") : outcome.error);
}

}  // namespace duo::ui
