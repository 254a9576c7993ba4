// The one owner of calibration jobs. runJob (core/job/run_job.h: calibrate, evaluate, measure the
// decode speed, mark and record the run, exactly as `duoscope-cli prune` does) runs in a worker
// QThread; the GUI thread
// never touches tensors. The worker's callbacks store values under a mutex and ask for a flush;
// the flush runs on the GUI thread from a single-shot timer, so a burst of records or progress
// ticks becomes at most one signal per kFlushMs (<= 25 Hz) and a replot per flush.
// Cancel makes the progress callback return false: the core throws duo::Cancelled at its next
// safe point and writes nothing.
// Cancelling works in the speed measurement too.
#pragma once
#include <QElapsedTimer>
#include <QMutex>
#include <QObject>
#include <QTimer>
#include <QVector>
#include <atomic>
#include <memory>
#include <optional>

#include "core/io/speed_check.h"
#include "core/job/run_job.h"
#include "ui/worker_outcome.h"  // lowerWorkerPriority, WorkerOutcome

class QThread;

namespace duo::ui {

// One progress update as the window shows it (a value type, safe across threads).
struct JobProgress {
  QString stage;        // "load", "calibrate", "eval", ...
  QString detail;       // "layer 3 q_proj"
  qint64 done = 0;
  qint64 total = 0;     // 0 = unknown
  double elapsed = 0;   // seconds since the job started
  double eta = -1;      // seconds left in this stage, -1 = unknown
};

class JobController : public QObject {
  Q_OBJECT
 public:
  static constexpr int kFlushMs = 40;  // 25 Hz at most

  enum class State { Idle, Running, Cancelling };
  Q_ENUM(State)

  explicit JobController(QObject* parent = nullptr);
  ~JobController() override;  // cancels a running job and waits for it


  // Called on the worker thread with each progress report of every later job (see WorkerHook).
  void setWorkerHook(WorkerHook hook) { m_hook = std::move(hook); }

  State state() const { return m_state; }
  bool isBusy() const { return m_state != State::Idle; }
  // Every record of the current (or last) job received so far, in arrival order.
  const QVector<ProjRecord>& records() const { return m_records; }
  const JobProgress& lastProgress() const { return m_progress; }

 public Q_SLOTS:
  // Starts a job; returns false (and does nothing) while one is running.
  // The window's runs are not strict: a failed speed measurement or timing prediction leaves the
  // run, with the reason in the outcome.
  bool start(const duo::RunRequest& request);
  // Asks the running job to stop at its next safe point; cancelled() follows.
  void cancel();

 Q_SIGNALS:
  void stateChanged(duo::ui::JobController::State state);
  void started(const duo::RunRequest& request);
  void progressed(const duo::ui::JobProgress& progress);
  // All records so far (coalesced: at most one emission per kFlushMs).
  void recordsUpdated(const QVector<duo::ProjRecord>& records);
  // The run's result, its measured decode speedup (outcome.speed.measured() false when not
  // measured; outcome.measureError says why when it failed) and its saved record.
  void finished(const duo::RunOutcome& outcome);
  void failed(const QString& message);
  void cancelled();

 private:
  void requestFlush();    // any thread
  void flush();           // GUI thread
  void onThreadFinished();  // GUI thread
  void setState(State s);

  State m_state = State::Idle;
  QThread* m_thread = nullptr;
  QTimer m_flushTimer;
  QElapsedTimer m_clock;
  WorkerHook m_hook;
  std::atomic<bool> m_cancel{false};
  std::atomic<bool> m_flushPending{false};

  // Shared with the worker, guarded by m_mutex.
  QMutex m_mutex;
  QVector<ProjRecord> m_pending;
  std::optional<Progress> m_pendingProgress;
  std::optional<RunOutcome> m_result;
  WorkerOutcome m_outcome;  // why the job ended without a result

  // GUI-thread state.
  QVector<ProjRecord> m_records;
  JobProgress m_progress;
  QString m_stage;
  double m_stageStart = 0;
};

}  // namespace duo::ui

Q_DECLARE_METATYPE(duo::ui::JobProgress)
Q_DECLARE_METATYPE(duo::RunOutcome)
Q_DECLARE_METATYPE(duo::RunRequest)
