// SPDX-License-Identifier: GPL-3.0-or-later
// The worker thread shared by JobController and BackgroundTask: it runs one long core call at a
// lower priority and records, under the owner's mutex, how the call ended when it produced no
// value (cancelled, or failed with a message). The owner stores the value itself, reads the
// outcome back on the GUI thread once the thread has finished, and never sees a tensor.
#pragma once
#include <QString>
#include <atomic>
#include <functional>

#include "core/common/progress.h"

class QMutex;
class QObject;
class QThread;

namespace duo::ui {

// Lowers the calling (worker) thread's scheduling priority so that the GUI thread keeps answering
// on a busy machine (Linux: a per-thread nice value; OpenMP teams it creates inherit it).
void lowerWorkerPriority();

// How a worker's call ended when it did not return normally; guarded by the owner's mutex.
struct WorkerOutcome {
  QString error;              // the exception's message; "" when none
  bool wasCancelled = false;  // duo::Cancelled, or any error once cancel had been asked for
};

// Called on the worker thread with every progress report, before the report's cancel check. The
// window never sets one; tests use it to hold a job at a known point (a latch) so that a cancel
// always lands mid-run.
using WorkerHook = std::function<void(const Progress&)>;

// The progress callback a worker hands to its core call: `hook` (when set), then `post` (which
// passes the report to the owner's UpdateBatcher), then false once `cancel` is set.
ProgressFn workerProgress(WorkerHook hook, std::function<void(const Progress&)> post,
                          const std::atomic<bool>& cancel);

// Creates, unstarted, a thread named `objectName` ("duo-job") that lowers its priority and runs
// `work`. When `work` throws, `outcome` is set under `mutex`: duo::Cancelled marks it cancelled;
// another std::exception does too when `cancel` was set (a cancel that surfaced wrapped with a
// stage's context is still a cancel), else keeps its message. `work` stores its own value (taking
// `mutex` itself). `onFinished` (which deletes the thread) runs queued on `owner`'s (GUI) thread
// once the thread has ended. The caller starts the thread after announcing the start.
QThread* createWorkerThread(const char* objectName, QMutex& mutex, const std::atomic<bool>& cancel,
                            WorkerOutcome& outcome, std::function<void()> work, QObject* owner,
                            std::function<void()> onFinished);

// Asks a running worker to stop (sets `cancel`), waits for it and deletes it; for destructors.
void stopWorkerThread(QThread*& thread, std::atomic<bool>& cancel);

}  // namespace duo::ui
