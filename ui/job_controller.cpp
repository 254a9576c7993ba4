// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/job_controller.h"

#include <QMutexLocker>
#include <QThread>

#include "ui/core_types.h"

namespace duo::ui {

JobController::JobController(QObject* parent)
    : QObject(parent), m_updates([this](Updates&& u) { deliver(std::move(u)); }, kFlushMs) {
  registerCoreTypes();
  qRegisterMetaType<duo::ui::JobProgress>("duo::ui::JobProgress");
  qRegisterMetaType<QVector<duo::ProjRecord>>("QVector<duo::ProjRecord>");
  qRegisterMetaType<duo::RunOutcome>("duo::RunOutcome");
  qRegisterMetaType<duo::RunRequest>("duo::RunRequest");
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
  m_updates.clear();
  {
    QMutexLocker lock(&m_mutex);
    m_result.reset();
    m_outcome = WorkerOutcome{};
  }
  m_records.clear();
  m_progress = JobProgress{};
  m_clock.start();

  // The worker: only value types cross back, through m_updates and the guarded members.
  m_thread = createWorkerThread(
      "duo-job", m_mutex, m_cancel, m_outcome,
      [this, request, hook = m_hook] {
        const ProgressFn progress = workerProgress(
            hook, [this](const Progress& p) { m_updates.append([&p](Updates& u) { u.progress = p; }); }, m_cancel);
        auto onRecord = [this](const ProjRecord& r) { m_updates.append([&r](Updates& u) { u.records.append(r); }); };
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

void JobController::deliver(Updates&& u) {
  if (u.progress) {
    m_progress = m_clock.read(*u.progress);
    Q_EMIT progressed(m_progress);
  }
  if (!u.records.isEmpty()) {
    m_records += u.records;
    Q_EMIT recordsUpdated(m_records);
  }
}

void JobController::onThreadFinished() {
  m_updates.finish();
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
