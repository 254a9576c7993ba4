// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli (the binary CTest names in DUO_CLI) run as a child process, for the tests that check
// what a user of the CLI sees: its exit code, standard output and error, and how long it took.
// Torch-free: Qt Core only.
#pragma once
#include <QByteArray>
#include <QProcess>
#include <QProcessEnvironment>
#include <QStringList>

#include <chrono>

namespace duo::test {

struct CliRun {
  int code = -1;  // the exit code; -1 when it crashed or ran past the time limit
  bool timedOut = false;
  QByteArray out, err;
  double seconds = 0;  // wall clock
};

// env: VAR=value settings over this process's environment (a later one wins).
inline CliRun runCli(const QStringList& args, int timeoutMs = 600000, const QStringList& env = {}) {
  QProcess p;
  if (!env.isEmpty()) {
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    for (const QString& kv : env) e.insert(kv.section('=', 0, 0), kv.section('=', 1));
    p.setProcessEnvironment(e);
  }
  const auto t0 = std::chrono::steady_clock::now();
  p.start(qEnvironmentVariable("DUO_CLI"), args);
  CliRun r;
  if (p.waitForFinished(timeoutMs)) {
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  } else {
    p.kill();
    p.waitForFinished();
    r.timedOut = true;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.out = p.readAllStandardOutput();
  r.err = p.readAllStandardError();
  if (r.timedOut) r.err += "\n(timed out after " + QByteArray::number(timeoutMs / 1000) + " s)";
  return r;
}

}  // namespace duo::test
