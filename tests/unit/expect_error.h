// Shared by unit tests: run a call that must fail and check that its duo::Error message names
// every given piece (the file, the field, the fault).
#pragma once
#include <QtTest>
#include <string>
#include <vector>

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

}  // namespace duo::test
