// SPDX-License-Identifier: GPL-3.0-or-later
// The one owner of calibration jobs. runJob (core/job/run_job.h: calibrate, evaluate, measure the
// decode speed, mark and record the run, exactly as `duoscope-cli prune` does) runs in a worker
// QThread; the GUI thread never touches tensors. The worker's records and progress reach the GUI
// thread through an UpdateBatcher, so a burst of them becomes at most one signal per kFlushMs
// (<= 25 Hz) and a replot per flush.
// Cancel makes the progress callback return false: the core throws duo::Cancelled at its next
// safe point (the speed measurement included) and writes nothing.
#pragma once
#include <QMutex>
#include <QObject>
#include <QVector>
#include <atomic>
#include <optional>

#include "core/io/speed_check.h"
#include "core/job/run_job.h"
#include "ui/job_progress.h"
#include "ui/update_batcher.h"
#include "ui/worker_outcome.h"  // lowerWorkerPriority, WorkerOutcome

class QThread;

namespace duo::ui {

class JobController : public QObject {
  Q_OBJECT
 public:
  static constexpr int kFlushMs = kUpdateIntervalMs;  // 25 Hz at most

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
  // What the worker sent since the last delivery.
  struct Updates {
    std::optional<Progress> progress;  // the latest report only
    QVector<ProjRecord> records;       // in arrival order
  };
  void deliver(Updates&& updates);  // GUI thread
  void onThreadFinished();          // GUI thread
  void setState(State s);

  State m_state = State::Idle;
  QThread* m_thread = nullptr;
  WorkerHook m_hook;
  std::atomic<bool> m_cancel{false};
  UpdateBatcher<Updates> m_updates;

  // Shared with the worker, guarded by m_mutex.
  QMutex m_mutex;
  std::optional<RunOutcome> m_result;
  WorkerOutcome m_outcome;  // why the job ended without a result

  // GUI-thread state.
  QVector<ProjRecord> m_records;
  JobProgress m_progress;
  ProgressClock m_clock;
};

}  // namespace duo::ui

Q_DECLARE_METATYPE(duo::RunOutcome)
Q_DECLARE_METATYPE(duo::RunRequest)
