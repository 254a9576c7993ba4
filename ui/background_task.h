// A one-at-a-time worker for the window's other long calls (sensitivity, task generation): the
// work runs in a QThread at lower priority, its progress is coalesced on the GUI thread (at most
// one signal per kFlushMs, like JobController), Cancel makes the progress callback return false
// so the core throws duo::Cancelled at its next safe point. The result crosses back as a QVariant
// holding a value type (never a tensor).
#pragma once
#include <QElapsedTimer>
#include <QMutex>
#include <QObject>
#include <QTimer>
#include <QVariant>
#include <atomic>
#include <functional>
#include <optional>

#include "core/common/progress.h"
#include "ui/job_controller.h"
#include "ui/worker_outcome.h"

class QThread;

namespace duo::ui {

class BackgroundTask : public QObject {
  Q_OBJECT
 public:
  // The work: runs on the worker thread, reports through `progress` (which returns false once
  // cancelled; pass it to the core call), returns its value.
  using Work = std::function<QVariant(const ProgressFn& progress)>;
  static constexpr int kFlushMs = 40;

  explicit BackgroundTask(QObject* parent = nullptr);
  ~BackgroundTask() override;  // cancels a running task and waits for it

  // Called on the worker thread with each progress report of every later job (see WorkerHook).
  void setWorkerHook(WorkerHook hook) { m_hook = std::move(hook); }

  bool isBusy() const { return m_thread != nullptr; }
  bool isCancelling() const { return m_cancel.load(); }
  QString name() const { return m_name; }

 public Q_SLOTS:
  // Starts `work` named `name` ("sensitivity"); false (and nothing happens) while one runs.
  bool start(const QString& name, const Work& work);
  void cancel();

 Q_SIGNALS:
  void started(const QString& name);
  void progressed(const duo::ui::JobProgress& progress);
  void finished(const QString& name, const QVariant& value);
  void failed(const QString& name, const QString& message);
  void cancelled(const QString& name);
  void busyChanged(bool busy);

 private:
  void flush();
  void onThreadFinished();

  QString m_name;
  QThread* m_thread = nullptr;
  QTimer m_flushTimer;
  QElapsedTimer m_clock;
  WorkerHook m_hook;
  std::atomic<bool> m_cancel{false};
  std::atomic<bool> m_flushPending{false};
  QMutex m_mutex;  // guards the four below
  std::optional<Progress> m_pendingProgress;
  QVariant m_result;
  WorkerOutcome m_outcome;  // why the work ended without a value
  bool m_done = false;
};

}  // namespace duo::ui
