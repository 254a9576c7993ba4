// Shared by the gui tests: which real model a job test runs on, and the small calibration that
// keeps a test under a minute on two cores.
#pragma once
#include <QFile>
#include <QString>

#include "core/common/paths.h"
#include "core/job/prune_job.h"

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

// runPrune is a stub that throws this until the calibration pipeline lands.
inline bool notBuiltYet(const QString& message) { return message.contains("not built yet"); }

}  // namespace duo::test
