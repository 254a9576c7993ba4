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

BackgroundTask::~BackgroundTask() {
  if (m_thread) {
    m_cancel = true;
    m_thread->wait();
    delete m_thread;
  }
}

bool BackgroundTask::start(const QString& name, const Work& work) {
  if (isBusy()) return false;
  m_name = name;
  m_cancel = false;
  m_flushPending = false;
  {
    QMutexLocker lock(&m_mutex);
    m_pendingProgress.reset();
    m_result = QVariant();
    m_error.clear();
    m_wasCancelled = false;
    m_done = false;
  }
  m_clock.start();
  m_thread = QThread::create([this, work] {
    lowerWorkerPriority();
    auto progress = [this](const Progress& p) {
      {
        QMutexLocker lock(&m_mutex);
        m_pendingProgress = p;
      }
      if (!m_flushPending.exchange(true))
        QMetaObject::invokeMethod(
            this, [this] { if (!m_flushTimer.isActive()) m_flushTimer.start(); }, Qt::QueuedConnection);
      return !m_cancel.load();
    };
    try {
      QVariant v = work(progress);
      QMutexLocker lock(&m_mutex);
      m_result = std::move(v);
      m_done = true;
    } catch (const Cancelled&) {
      QMutexLocker lock(&m_mutex);
      m_wasCancelled = true;
    } catch (const std::exception& e) {
      QMutexLocker lock(&m_mutex);
      if (m_cancel.load())
        m_wasCancelled = true;
      else
        m_error = QString::fromUtf8(e.what());
    }
  });
  m_thread->setObjectName("duo-task");
  connect(m_thread, &QThread::finished, this, &BackgroundTask::onThreadFinished, Qt::QueuedConnection);
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
  QString error;
  bool wasCancelled = false, done = false;
  {
    QMutexLocker lock(&m_mutex);
    result = m_result;
    error = m_error;
    wasCancelled = m_wasCancelled;
    done = m_done;
  }
  const QString name = m_name;
  Q_EMIT busyChanged(false);
  if (done)
    Q_EMIT finished(name, result);
  else if (wasCancelled)
    Q_EMIT cancelled(name);
  else
    Q_EMIT failed(name, error.isEmpty() ? QStringLiteral("the task ended without a result") : error);
}

}  // namespace duo::ui
