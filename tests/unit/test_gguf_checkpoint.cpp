// SPDX-License-Identifier: GPL-3.0-or-later
// A pruned checkpoint written from a GGUF model (which has no tokenizer.json to copy) is a complete
// HF folder: DuoScope writes the GGUF's tokenizer as tokenizer.json, and the folder reloads with
// the same token ids and weights, so `eval` and `inspect` can read it.
#include <QtTest>
#include <QTemporaryDir>
#include <filesystem>

#include "core/job/prune_job.h"
#include "core/model/model_loader.h"

class TestGgufCheckpoint : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void prunedGgufReloadsWithItsTokenizer();
};

void TestGgufCheckpoint::prunedGgufReloadsWithItsTokenizer() {
  const std::string gguf = std::string(std::getenv("DUO_TEST_DATA_DIR")) + "/models/tiny-llama-ggufwriter.gguf";
  QTemporaryDir tmp;
  QVERIFY(tmp.isValid());
  duo::PruneRequest req;
  req.model = gguf;
  req.method = duo::Method::Magnitude;
  req.nsamples = 2;
  req.seqlen = 16;
  req.device = "cpu";
  req.outDir = tmp.path().toStdString() + "/pruned";
  const duo::PruneResult r = duo::runPrune(req, {});
  QCOMPARE(r.weightSparsity, 0.5);
  QVERIFY(std::filesystem::exists(req.outDir + "/tokenizer.json"));
  // Nothing of the temporary tokenizer folder is left beside the output.
  QVERIFY(!std::filesystem::exists(req.outDir + ".tokenizer.tmp"));

  const duo::LoadedModel src = duo::loadModel(gguf, torch::kCPU);
  const duo::LoadedModel out = duo::loadModel(req.outDir, torch::kCPU);
  const std::string text = "In the beginning God created the heaven and the earth.";
  QVERIFY(src.tokenizer->encode(text, false) == out.tokenizer->encode(text, false));
  QCOMPARE(out.model->config().numLayers, src.model->config().numLayers);
}

QTEST_GUILESS_MAIN(TestGgufCheckpoint)
#include "test_gguf_checkpoint.moc"
