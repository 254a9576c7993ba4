// The one owner of calibration jobs. runPrune (core/job) runs in a worker QThread; the GUI thread
// never touches tensors. The worker's callbacks store values under a mutex and ask for a flush;
// the flush runs on the GUI thread from a single-shot timer, so a burst of records or progress
// ticks becomes at most one signal per kFlushMs (<= 25 Hz) and a replot per flush.
// Cancel makes the progress callback return false: the core throws duo::Cancelled at its next
// safe point and writes nothing.
// With JobOptions::measureSpeedup the same worker, after evaluation, measures the pruned model's
// decode speedup with core/perf (perf::measureCheckpointDecode on the pruned checkpoint: the run's
// own output folder, else a temporary one deleted afterwards): interleaved dense/pruned pairs until
// the spread is known, with the trust flags of duo::SpeedCheck; cancelling works there too.
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
#include "core/job/prune_job.h"
#include "core/perf/bytes_model.h"
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

// What the window asks of a job beyond the core's request.
struct JobOptions {
  // Time decode steps of the pruned model (packed kernels) against its weights run densely, as
  // `prune --measure-speed` does (the same steps and pairs: perf::kMeasure*).
  bool measureSpeedup = false;
  // A timing profile (File > Load timing profile): the measured pruned model runs each projection
  // on the kernel the profile finds fastest, as `duoscope-cli prune --timing` does.
  std::shared_ptr<const perf::TimingProfile> timing;
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
  // Why the last job's speed measurement failed ("" when it did not); the run itself is kept.
  QString lastMeasureError() const { return m_measureError; }

 public Q_SLOTS:
  // Starts a job; returns false (and does nothing) while one is running.
  bool start(const duo::PruneRequest& request, const duo::ui::JobOptions& options = {});
  // Asks the running job to stop at its next safe point; cancelled() follows.
  void cancel();

 Q_SIGNALS:
  void stateChanged(duo::ui::JobController::State state);
  void started(const duo::PruneRequest& request);
  void progressed(const duo::ui::JobProgress& progress);
  // All records so far (coalesced: at most one emission per kFlushMs).
  void recordsUpdated(const QVector<duo::ProjRecord>& records);
  // speed: the measured decode speedup with its spread and flags (speed.measured() false when not
  // measured; lastMeasureError() says why when it failed).
  void finished(const duo::PruneResult& result, const duo::SpeedCheck& speed);
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
  std::optional<PruneResult> m_result;
  SpeedCheck m_measured;
  QString m_measureError;
  WorkerOutcome m_outcome;  // why the job ended without a result

  // GUI-thread state.
  QVector<ProjRecord> m_records;
  JobProgress m_progress;
  QString m_stage;
  double m_stageStart = 0;
};

}  // namespace duo::ui

Q_DECLARE_METATYPE(duo::ui::JobProgress)
