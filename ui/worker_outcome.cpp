// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/worker_outcome.h"

#include <QMutexLocker>
#include <QObject>
#include <QThread>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "core/common/error.h"

namespace duo::ui {

// A long core call competes with the GUI thread for the cores: give the worker (and the OpenMP
// team it creates, which inherits the value) a lower scheduling priority so that the window keeps
// answering on a busy machine. Qt's thread priorities have no effect on Linux's default policy,
// hence the per-thread nice value there.
void lowerWorkerPriority() {
  QThread::currentThread()->setPriority(QThread::LowPriority);
#ifdef __linux__
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 5);
#endif
}

ProgressFn workerProgress(WorkerHook hook, std::function<void(const Progress&)> post,
                          const std::atomic<bool>& cancel) {
  return [hook = std::move(hook), post = std::move(post), &cancel](const Progress& p) {
    if (hook) hook(p);
    post(p);
    return !cancel.load();
  };
}

QThread* createWorkerThread(const char* objectName, QMutex& mutex, const std::atomic<bool>& cancel,
                            WorkerOutcome& outcome, std::function<void()> work, QObject* owner,
                            std::function<void()> onFinished) {
  QThread* thread = QThread::create([&mutex, &cancel, &outcome, work = std::move(work)] {
    lowerWorkerPriority();
    try {
      work();
    } catch (const Cancelled&) {
      QMutexLocker lock(&mutex);
      outcome.wasCancelled = true;
    } catch (const std::exception& e) {
      QMutexLocker lock(&mutex);
      if (cancel.load())
        outcome.wasCancelled = true;
      else
        outcome.error = QString::fromUtf8(e.what());
    }
  });
  thread->setObjectName(QString::fromLatin1(objectName));
  QObject::connect(thread, &QThread::finished, owner, std::move(onFinished), Qt::QueuedConnection);
  return thread;
}

void stopWorkerThread(QThread*& thread, std::atomic<bool>& cancel) {
  if (!thread) return;
  cancel = true;
  thread->wait();
  delete thread;
  thread = nullptr;
}

}  // namespace duo::ui
