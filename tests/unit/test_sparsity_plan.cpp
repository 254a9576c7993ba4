// SPDX-License-Identifier: GPL-3.0-or-later
// SparsityPlan (core/prune/sparsity_plan): each source resolves to the config it describes for a
// model's depth, the N:M pattern and the activation rule override it as documented, and every
// fault is reported by resolve() naming the source (the file's path for a file).
#include <QTemporaryDir>
#include <QtTest>

#include "core/common/error.h"
#include "core/prune/sparsity_plan.h"

namespace {

duo::SparsityConfig varied(int layers) {
  duo::SparsityConfig s = duo::SparsityConfig::uniform(layers, 0.5, 0.4);
  s.setWeight(1, duo::Proj::Down, 0.65);
  s.setSiteAct(2, duo::Site::GateUp, 0.55);
  return s;
}

}  // namespace

class TestSparsityPlan : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void uniformResolves() {
    duo::SparsityPlan p = duo::SparsityPlan::uniform(0.6, 0.3);
    p.actRule = duo::ActRule::Threshold;
    QCOMPARE(p.source(), duo::SparsityPlan::Source::Uniform);
    const duo::SparsityConfig c = p.resolve(3);
    QVERIFY(c == [] {
      duo::SparsityConfig e = duo::SparsityConfig::uniform(3, 0.6, 0.3);
      e.actRule = duo::ActRule::Threshold;
      return e;
    }());
    QCOMPARE(p.table().numLayers(), 0);  // no table: the pattern and rule only
    QVERIFY(p.table().actRule == duo::ActRule::Threshold);
    QVERIFY(duo::SparsityPlan() == duo::SparsityPlan::uniform(0.5, 0.5));
  }

  void tableResolvesWithOverrides() {
    duo::SparsityConfig t = varied(3);
    t.nm = duo::parseNm("2:4");
    duo::SparsityPlan p = duo::SparsityPlan::table(t);
    QCOMPARE(p.source(), duo::SparsityPlan::Source::Table);
    QCOMPARE(p.nm.str(), std::string("2:4"));  // the table's own pattern and rule become the plan's
    QVERIFY(p.resolve(3) == t);
    p.actRule = duo::ActRule::Threshold;  // the rule is the plan's
    QVERIFY(p.resolve(3).actRule == duo::ActRule::Threshold);
    p.nm = duo::NmPattern{};  // an unstructured override leaves the table's pattern
    QCOMPARE(p.resolve(3).nm.str(), std::string("2:4"));
    p.nm = duo::parseNm("4:8");
    QCOMPARE(p.resolve(3).nm.str(), std::string("4:8"));
    QVERIFY(p.table() == t);  // the table as given
  }

  void emptyTableIsUniform() {
    duo::SparsityConfig empty;
    empty.nm = duo::parseNm("2:4");
    const duo::SparsityPlan p = duo::SparsityPlan::table(empty);
    QCOMPARE(p.source(), duo::SparsityPlan::Source::Uniform);
    QCOMPARE(p.uniformWeight(), duo::SparsityPlan::kDefaultWeight);
    QVERIFY(p.table() == empty);
    QCOMPARE(p.resolve(2).nm.str(), std::string("2:4"));
  }

  void fileResolvesAgainstTheModel() {
    QTemporaryDir tmp;
    const std::string path = tmp.filePath("plan.json").toStdString();
    duo::SparsityConfig t = varied(3);
    t.actRule = duo::ActRule::Threshold;
    t.save(path);
    duo::SparsityPlan p = duo::SparsityPlan::file(path);
    QCOMPARE(p.source(), duo::SparsityPlan::Source::File);
    QCOMPARE(p.sourceName(), path);
    QVERIFY(p.resolve(3) == t);
    p.actRule = duo::ActRule::TopK;  // a file names its own rule
    QVERIFY(p.resolve(3).actRule == duo::ActRule::Threshold);
    p.nm = duo::parseNm("2:4");  // a structured pattern overrides the file's
    QCOMPARE(p.resolve(3).nm.str(), std::string("2:4"));
  }

  void faultsNameTheSource_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("says");
    QTest::newRow("uniform weight out of range") << 0 << "uniform sparsity: weight sparsity 1 is outside [0, 1)";
    QTest::newRow("uniform act NaN") << 1 << "uniform sparsity: activation sparsity nan is outside [0, 1)";
    QTest::newRow("table of another depth") << 2 << "sparsity table: config has 3 layers, the model has 4";
    QTest::newRow("table with unequal site act") << 3 << "sparsity table: layer 0 k_proj has activation sparsity";
    QTest::newRow("file of another depth") << 4 << "plan.json: config is for 3 layers, the model has 4";
    QTest::newRow("missing file") << 5 << "missing.json";
  }
  void faultsNameTheSource() {
    QFETCH(int, which);
    QFETCH(QString, says);
    QTemporaryDir tmp;
    const std::string file = tmp.filePath("plan.json").toStdString();
    varied(3).save(file);
    duo::SparsityConfig unequal = varied(4);
    unequal.set(0, duo::Proj::K, {0.5, 0.2});
    const duo::SparsityPlan plans[] = {
        duo::SparsityPlan::uniform(1.0, 0.5),
        duo::SparsityPlan::uniform(0.5, std::nan("")),
        duo::SparsityPlan::table(varied(3)),
        duo::SparsityPlan::table(unequal),
        duo::SparsityPlan::file(file),
        duo::SparsityPlan::file(tmp.filePath("missing.json").toStdString()),
    };
    try {
      plans[which].resolve(4);
      QFAIL("no error");
    } catch (const duo::Error& e) {
      QVERIFY2(QString(e.what()).contains(says), e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestSparsityPlan)
#include "test_sparsity_plan.moc"
