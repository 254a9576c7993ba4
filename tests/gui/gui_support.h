// SPDX-License-Identifier: GPL-3.0-or-later
// Shared by the gui tests: which real model a job test runs on, and the small calibration that
// keeps a test under a minute on two cores.
#pragma once
#include <QFile>
#include <QSemaphore>
#include <QString>
#include <QTest>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>

#include "core/common/paths.h"
#include "core/job/prune_job.h"
#include "core/job/run_job.h"
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

// The same as a run of the job controller: no run store, no speed measurement.
inline duo::RunRequest smallRun(const QString& model) {
  duo::RunRequest run;
  run.prune = smallRequest(model);
  return run;
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

// Whether two JSON documents are equal, numbers within `rel` relative (or 1e-12 absolute) of
// each other; `why` names the first difference by its path ("record.records[3].rel_error").
inline bool jsonClose(const nlohmann::json& a, const nlohmann::json& b, const std::string& path, double rel,
                      std::string* why) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    if (std::abs(x - y) <= std::max(1e-12, rel * std::max(std::abs(x), std::abs(y)))) return true;
    *why = path + ": " + a.dump() + " vs " + b.dump();
    return false;
  }
  if (a.type() != b.type()) {
    *why = path + ": " + a.dump() + " vs " + b.dump();
    return false;
  }
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key())) {
        *why = path + "." + it.key() + ": only in the first";
        return false;
      }
      if (!jsonClose(it.value(), b[it.key()], path + "." + it.key(), rel, why)) return false;
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) {
        *why = path + "." + it.key() + ": only in the second";
        return false;
      }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) {
      *why = path + ": " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + " elements";
      return false;
    }
    for (size_t i = 0; i < a.size(); ++i)
      if (!jsonClose(a[i], b[i], path + "[" + std::to_string(i) + "]", rel, why)) return false;
    return true;
  }
  if (a == b) return true;
  *why = path + ": " + a.dump() + " vs " + b.dump();
  return false;
}

}  // namespace duo::test
