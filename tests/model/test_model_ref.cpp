// SPDX-License-Identifier: GPL-3.0-or-later
// ModelRef (core/model/model_ref): an alias, a folder and a file inside the folder resolve to the
// same location, format and config; the content hash is computed once and shared by copies; a
// missing model is named; and a job handed a ref for another model than its request names refuses.
#include <QTemporaryDir>
#include <QtTest>

#include "core/common/error.h"
#include "core/common/model_hash.h"
#include "core/common/paths.h"
#include "core/job/prune_job.h"
#include "core/model/model_ref.h"

class TestModelRef : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void resolvesOnce() {
    const std::string dir = duo::resolveModelPath("tiny");
    const duo::ModelRef alias = duo::ModelRef::resolve("tiny");
    QCOMPARE(alias.name(), std::string("tiny"));
    QCOMPARE(alias.path(), dir);
    QCOMPARE(alias.format(), std::string("hf-safetensors"));
    QVERIFY(!alias.empty());
    QVERIFY(duo::ModelRef().empty());
    const duo::ModelRef file = duo::ModelRef::resolve(dir + "/config.json");  // a file inside stands for the folder
    QCOMPARE(file.path(), dir);
    QCOMPARE(file.config().numLayers, alias.config().numLayers);
    QCOMPARE(file.config().hiddenSize, alias.info().config.hiddenSize);
  }

  void hashIsComputedOnceAndShared() {
    const duo::ModelRef ref = duo::ModelRef::resolve("tiny");
    const duo::ModelRef copy = ref;
    const std::string h = ref.contentHash();
    QCOMPARE(h, duo::modelContentHash(ref.path()));
    QCOMPARE(copy.contentHash(), h);
    QCOMPARE(h.size(), size_t(64));
  }

  void missingModelIsNamed() {
    QTemporaryDir tmp;
    const std::string missing = tmp.filePath("nothing-here").toStdString();
    try {
      duo::ModelRef::resolve(missing);
      QFAIL("no error");
    } catch (const duo::Error& e) {
      QVERIFY2(QString(e.what()).contains("nothing-here"), e.what());
    }
  }

  void jobRefusesAnotherModel() {
    duo::PruneRequest req;
    req.model = "smollm2";
    try {
      duo::planPrune(req, duo::ModelRef::resolve("tiny"));
      QFAIL("no error");
    } catch (const duo::Error& e) {
      QVERIFY2(QString(e.what()).contains("'smollm2'") && QString(e.what()).contains("'tiny'"), e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestModelRef)
#include "test_model_ref.moc"
