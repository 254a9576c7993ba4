#include "ui/job_controller.h"

#include <QDir>
#include <QMutexLocker>
#include <QTemporaryDir>
#include <QThread>

#include "core/common/device.h"
#include "core/common/error.h"
#include "core/perf/decode_bench.h"
#include "ui/core_types.h"

namespace duo::ui {

JobController::JobController(QObject* parent) : QObject(parent) {
  registerCoreTypes();
  qRegisterMetaType<duo::ui::JobProgress>("duo::ui::JobProgress");
  qRegisterMetaType<QVector<duo::ProjRecord>>("QVector<duo::ProjRecord>");
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

bool JobController::start(const PruneRequest& request, const JobOptions& options) {
  if (isBusy()) return false;
  m_cancel = false;
  m_flushPending = false;
  {
    QMutexLocker lock(&m_mutex);
    m_pending.clear();
    m_pendingProgress.reset();
    m_result.reset();
    m_measured = SpeedCheck{};
    m_measureError.clear();
    m_outcome = WorkerOutcome{};
  }
  m_records.clear();
  m_progress = JobProgress{};
  m_stage.clear();
  m_clock.start();

  // The worker: only value types cross back, through the guarded members above.
  m_thread = createWorkerThread(
      "duo-job", m_mutex, m_cancel, m_outcome,
      [this, request, options, hook = m_hook] {
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
        // Measuring needs the pruned checkpoint on disk: the run's own folder, else a temporary one.
        std::optional<QTemporaryDir> scratch;
        PruneRequest req = request;
        const bool measure = options.measureSpeedup;
        if (measure && req.outDir.empty()) {
          scratch.emplace(QDir::tempPath() + "/duoscope-measure-XXXXXX");
          DUO_CHECK(scratch->isValid(), "measure speedup: cannot create a temporary folder in ", ss(QDir::tempPath()));
          req.outDir = ss(scratch->filePath("pruned"));
        }
        resetPeakRss();  // the record's peak_rss_bytes is this run's, not the window session's
        PruneResult result = runPrune(req, progress, onRecord);
        SpeedCheck measured;
        if (measure) {
          reportProgress(progress, {"bench", "decode speed", 0, 1});
          // A failed measurement leaves the run intact: no number, and the reason for the window.
          try {
            measured = perf::measureCheckpointDecode(req.outDir, progress,
                                                     options.timing ? *options.timing : perf::TimingProfile{})
                           .check;
          } catch (const Cancelled&) {
            throw;
          } catch (const std::exception& e) {
            if (m_cancel.load()) throw;
            QMutexLocker lock(&m_mutex);
            m_measureError = QString::fromUtf8(e.what());
          }
        }
        if (scratch) result.request.outDir.clear();  // the temporary checkpoint goes with `scratch`
        QMutexLocker lock(&m_mutex);
        m_result = std::move(result);
        m_measured = measured;
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
  std::optional<PruneResult> result;
  SpeedCheck measured;
  WorkerOutcome outcome;
  {
    QMutexLocker lock(&m_mutex);
    result.swap(m_result);
    measured = m_measured;
    outcome = m_outcome;
  }
  setState(State::Idle);
  if (result) {
    Q_EMIT finished(*result, measured);
  } else if (outcome.wasCancelled) {
    Q_EMIT cancelled();
  } else {
    Q_EMIT failed(outcome.error.isEmpty() ? QStringLiteral("the job ended without a result") : outcome.error);
  }
}

}  // namespace duo::ui
