#include "ui/job_controller.h"

#include <QMutexLocker>
#include <QThread>

#include "ui/core_types.h"

namespace duo::ui {

JobController::JobController(QObject* parent) : QObject(parent) {
  registerCoreTypes();
  qRegisterMetaType<duo::ui::JobProgress>("duo::ui::JobProgress");
  qRegisterMetaType<QVector<duo::ProjRecord>>("QVector<duo::ProjRecord>");
  qRegisterMetaType<duo::RunOutcome>("duo::RunOutcome");
  qRegisterMetaType<duo::RunRequest>("duo::RunRequest");
  m_flushTimer.setSingleShot(true);
  m_flushTimer.setInterval(kFlushMs);
  connect(&m_flushTimer, &QTimer::timeout, this, &JobController::flush);
}

JobController::~JobController() { stopWorkerThread(m_thread, m_cancel); }

void JobController::setState(State s) {
  if (s == m_state) return;
  m_state = s;
  Q_EMIT stateChanged(s);
}

bool JobController::start(const RunRequest& request) {
  if (isBusy()) return false;
  m_cancel = false;
  m_flushPending = false;
  {
    QMutexLocker lock(&m_mutex);
    m_pending.clear();
    m_pendingProgress.reset();
    m_result.reset();
    m_outcome = WorkerOutcome{};
  }
  m_records.clear();
  m_progress = JobProgress{};
  m_stage.clear();
  m_clock.start();

  // The worker: only value types cross back, through the guarded members above.
  m_thread = createWorkerThread(
      "duo-job", m_mutex, m_cancel, m_outcome,
      [this, request, hook = m_hook] {
        auto progress = [this, hook](const Progress& p) {
          if (hook) hook(p);
          {
            QMutexLocker lock(&m_mutex);
            m_pendingProgress = p;
          }
          requestFlush();
          return !m_cancel.load();
        };
        auto onRecord = [this](const ProjRecord& r) {
          {
            QMutexLocker lock(&m_mutex);
            m_pending.append(r);
          }
          requestFlush();
        };
        RunRequest req = request;
        req.strict = false;  // the run is kept when only its measurement fails
        RunOutcome outcome = runJob(req, progress, onRecord);
        QMutexLocker lock(&m_mutex);
        m_result = std::move(outcome);
      },
      this, [this] { onThreadFinished(); });
  setState(State::Running);
  Q_EMIT started(request);
  m_thread->start();
  return true;
}

void JobController::cancel() {
  if (m_state != State::Running) return;
  m_cancel = true;
  setState(State::Cancelling);
}

void JobController::requestFlush() {
  // Only the first request after a flush posts an event; later ones ride along.
  if (m_flushPending.exchange(true)) return;
  QMetaObject::invokeMethod(
      this, [this] {
        if (!m_flushTimer.isActive()) m_flushTimer.start();
      },
      Qt::QueuedConnection);
}

void JobController::flush() {
  m_flushPending = false;  // before taking: a callback racing with us posts a new flush
  QVector<ProjRecord> fresh;
  std::optional<Progress> p;
  {
    QMutexLocker lock(&m_mutex);
    fresh.swap(m_pending);
    p.swap(m_pendingProgress);
  }
  if (p) {
    const double now = m_clock.nsecsElapsed() * 1e-9;
    const QString stage = qs(p->stage);
    if (stage != m_stage) {
      m_stage = stage;
      m_stageStart = now;
    }
    m_progress.stage = stage;
    m_progress.detail = qs(p->detail);
    m_progress.done = p->done;
    m_progress.total = p->total;
    m_progress.elapsed = now;
    const double inStage = now - m_stageStart;
    m_progress.eta = (p->total > 0 && p->done > 0 && inStage > 0.5)
                         ? inStage * static_cast<double>(p->total - p->done) / static_cast<double>(p->done)
                         : -1.0;
    Q_EMIT progressed(m_progress);
  }
  if (!fresh.isEmpty()) {
    m_records += fresh;
    Q_EMIT recordsUpdated(m_records);
  }
}

void JobController::onThreadFinished() {
  m_flushTimer.stop();
  flush();
  delete m_thread;
  m_thread = nullptr;
  std::optional<RunOutcome> result;
  WorkerOutcome outcome;
  {
    QMutexLocker lock(&m_mutex);
    result.swap(m_result);
    outcome = m_outcome;
  }
  setState(State::Idle);
  if (result) {
    Q_EMIT finished(*result);
  } else if (outcome.wasCancelled) {
    Q_EMIT cancelled();
  } else {
    Q_EMIT failed(outcome.error.isEmpty() ? QStringLiteral("the job ended without a result") : outcome.error);
  }
}

}  // namespace duo::ui
