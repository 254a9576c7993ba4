// SPDX-License-Identifier: GPL-3.0-or-later
// A one-at-a-time worker for the window's other long calls (sensitivity, timing profile, task
// generation, checkpoint copies): the work runs in a QThread at lower priority, its progress
// reaches the GUI thread through an UpdateBatcher (at most one signal per kUpdateIntervalMs, like
// JobController), Cancel makes the progress callback return false so the core throws
// duo::Cancelled at its next safe point.
// Each start names its own typed ends (TaskSpec and `done`), called on the GUI thread: nothing is
// routed by name, and the result crosses back as its own value type (never a tensor).
#pragma once
#include <QMutex>
#include <QObject>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "core/common/progress.h"
#include "ui/job_progress.h"
#include "ui/update_batcher.h"
#include "ui/worker_outcome.h"

class QThread;

namespace duo::ui {

// How the window shows one kind of background work, and what it does when that work ends in a
// way other than with its value (all on the GUI thread; empty functions are skipped).
struct TaskSpec {
  TaskSpec() = default;
  TaskSpec(QString name, QString busyText, QString failTitle)
      : name(std::move(name)), busyText(std::move(busyText)), failTitle(std::move(failTitle)) {}
  QString name;         // "sensitivity": the status bar's "Cancelled sensitivity", "sensitivity failed"
  QString busyText;     // "Estimating sensitivity..."
  QString failTitle;    // the error dialog's title: "Sensitivity failed"
  std::function<void()> onStarted;
  std::function<void(const JobProgress&)> onProgress;
  std::function<void()> onCancelled;
  std::function<void(const QString& message)> onFailed;
};

class BackgroundTask : public QObject {
  Q_OBJECT
 public:
  explicit BackgroundTask(QObject* parent = nullptr);
  ~BackgroundTask() override;  // cancels a running task and waits for it

  // Called on the worker thread with each progress report of every later job (see WorkerHook).
  void setWorkerHook(WorkerHook hook) { m_hook = std::move(hook); }

  bool isBusy() const { return m_thread != nullptr; }
  bool isCancelling() const { return m_cancel.load(); }
  const TaskSpec& spec() const { return m_spec; }

  // Starts `work` on the worker thread (it reports through `progress`, which returns false once
  // cancelled: pass it to the core call) and hands its value to `done` on the GUI thread. False
  // (and nothing happens) while a task runs.
  template <typename T>
  bool start(TaskSpec spec, std::function<T(const ProgressFn&)> work, std::function<void(const T&)> done) {
    auto value = std::make_shared<std::optional<T>>();
    return startErased(
        std::move(spec), [work = std::move(work), value](const ProgressFn& p) { value->emplace(work(p)); },
        [done = std::move(done), value] {
          if (done) done(**value);
        });
  }

 public Q_SLOTS:
  void cancel();

 Q_SIGNALS:
  // For the window's wiring beside the spec's own ends (status bar, actions); `name` is the
  // spec's, for messages.
  void started(const QString& name);
  void progressed(const duo::ui::JobProgress& progress);
  void finished(const QString& name);
  void failed(const QString& name, const QString& message);
  void cancelled(const QString& name);
  void busyChanged(bool busy);

 private:
  bool startErased(TaskSpec spec, std::function<void(const ProgressFn&)> work, std::function<void()> done);
  void deliver(const Progress& latest);  // GUI thread
  void onThreadFinished();

  TaskSpec m_spec;
  std::function<void()> m_done;  // hands the worker's value to the caller (GUI thread)
  QThread* m_thread = nullptr;
  ProgressClock m_clock;
  WorkerHook m_hook;
  std::atomic<bool> m_cancel{false};
  UpdateBatcher<Progress> m_updates;  // the latest progress report
  QMutex m_mutex;  // guards the two below
  WorkerOutcome m_outcome;  // why the work ended without a value
  bool m_finished = false;
};

}  // namespace duo::ui
