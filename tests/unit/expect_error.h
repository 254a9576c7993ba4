// SPDX-License-Identifier: GPL-3.0-or-later
// Shared by unit tests: run a call that must fail and check that its duo::Error message names
// every given piece (the file, the field, the fault); write a small input file into a test's
// temporary folder.
#pragma once
#include <QTemporaryDir>
#include <QtTest>
#include <string>
#include <vector>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace duo::test {

template <typename Fn>
void expectError(Fn fn, const std::vector<std::string>& pieces) {
  try {
    fn();
  } catch (const duo::Error& e) {
    for (const std::string& p : pieces)
      QVERIFY2(QString(e.what()).contains(QString::fromStdString(p)),
               qPrintable(QString("'%1' lacks '%2'").arg(e.what(), QString::fromStdString(p))));
    return;
  }
  QFAIL("no duo::Error");
}

// Writes `text` to <dir>/<name> and returns the path.
inline std::string writeTemp(const QTemporaryDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.filePath(QString::fromStdString(name)).toStdString();
  duo::writeFileAtomic(path, text);
  return path;
}

}  // namespace duo::test
