// Shared by the gui tests: which real model a job test runs on, and the small calibration that
// keeps a test under a minute on two cores.
#pragma once
#include <QFile>
#include <QSemaphore>
#include <QString>
#include <QTest>
#include <atomic>
#include <functional>
#include <memory>

#include "core/common/paths.h"
#include "core/job/prune_job.h"
#include "ui/worker_outcome.h"

namespace duo::test {

// The model path for `alias` ("tiny" or "smollm2"), or "" when it is not on this machine.
inline QString modelPath(const char* alias) {
  try {
    const QString p = QString::fromStdString(duo::resolveModelPath(alias));
    return QFile::exists(p) ? p : QString();
  } catch (const std::exception&) {
    return {};
  }
}

// The bundled tiny model when present, else the cached SmolLM2; "" when neither is there.
inline QString jobModelPath() {
  const QString tiny = modelPath("tiny");
  return tiny.isEmpty() ? modelPath("smollm2") : tiny;
}

// A small DuoGPT request on `model`: few short windows, a short evaluation.
inline duo::PruneRequest smallRequest(const QString& model) {
  duo::PruneRequest r;
  r.model = model.toStdString();
  r.method = duo::Method::DuoGpt;
  r.nsamples = 8;
  r.seqlen = 64;
  r.seed = 0;
  r.eval = true;
  r.maxWindows = 4;
  return r;
}

// Holds a worker (JobController or BackgroundTask, through setWorkerHook) at the first progress
// report that `matches` until release(), so that a cancel asked for in between always lands
// mid-run: the job cannot finish first. Declare the latch after the controller or window that owns
// the worker: its destructor releases a held worker before that owner waits for it.
class MidRunLatch {
 public:
  explicit MidRunLatch(std::function<bool(const duo::Progress&)> matches) : m_s(std::make_shared<State>()) {
    m_s->matches = std::move(matches);
  }
  ~MidRunLatch() { release(); }
  MidRunLatch(const MidRunLatch&) = delete;
  MidRunLatch& operator=(const MidRunLatch&) = delete;

  duo::ui::WorkerHook hook() const {
    std::shared_ptr<State> s = m_s;
    return [s](const duo::Progress& p) {
      if (!s->armed.load() || !s->matches(p) || !s->armed.exchange(false)) return;
      s->where = p.stage + " " + p.detail + " " + std::to_string(p.done) + "/" + std::to_string(p.total);
      s->held.release();    // publishes `where`
      s->resume.acquire();  // the worker waits here
    };
  }
  // Waits, processing events, until the worker is held; false after `timeoutMs`.
  bool waitHeld(int timeoutMs) {
    return QTest::qWaitFor([this] { return m_s->held.tryAcquire(); }, timeoutMs) && (m_heldSeen = true);
  }
  // Where the worker is held ("calibrate layer 0 k_proj 2/14"); valid once waitHeld() returned true.
  QString where() const { return m_heldSeen ? QString::fromStdString(m_s->where) : QString(); }
  void release() {
    if (!m_s->released.exchange(true)) m_s->resume.release();
  }

 private:
  struct State {
    std::function<bool(const duo::Progress&)> matches;
    std::atomic<bool> armed{true};
    std::atomic<bool> released{false};
    QSemaphore held, resume;
    std::string where;
  };
  std::shared_ptr<State> m_s;
  bool m_heldSeen = false;
};

// A progress report of `stage` with at least `done` steps done (a latch's usual condition).
inline std::function<bool(const duo::Progress&)> atStage(const std::string& stage, int64_t done = 1) {
  return [stage, done](const duo::Progress& p) { return p.stage == stage && p.done >= done; };
}

}  // namespace duo::test
