// SPDX-License-Identifier: GPL-3.0-or-later
// The LLaMA forward pass on the real SmolLM2-135M GGUF: the KV-cached decode step reproduces the
// full forward, and a batch equals its sequences run one by one. Logits and perplexity against HF
// transformers are checked for every reference model in test_reference_models.
#include <QtTest>
#include <cmath>
#include <filesystem>

#include "core/common/paths.h"
#include "core/model/model_loader.h"

namespace {
bool haveSmol() { return std::filesystem::exists(duo::cacheDir() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"); }
}  // namespace

class TestForward : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void kvCachedDecodeMatchesFullForward();
  void longPromptInPiecesMatchesFullForward();
  void batchedEqualsSingle();

 private:
  duo::LoadedModel m_model;
};

void TestForward::initTestCase() {
  if (!haveSmol()) QSKIP("SmolLM2 GGUF not cached: run scripts/fetch-smollm2.sh");
  torch::set_num_threads(2);
  m_model = duo::loadModel("smollm2", torch::kCPU);
}

void TestForward::kvCachedDecodeMatchesFullForward() {
  torch::NoGradGuard ng;
  auto tokens = torch::tensor(std::vector<int64_t>{504, 1863, 282, 260, 4686, 282, 3886, 1926, 28, 260}).unsqueeze(0);
  auto full = m_model.model->forward(tokens)[0];  // [T, V]
  auto cache = m_model.model->newCache(1, 16);
  // prompt of 4 in one call, then one token at a time
  auto last = m_model.model->decodeStep(cache, tokens.narrow(1, 0, 4));
  QVERIFY(torch::allclose(last[0], full[3], 1e-3, 1e-3));
  for (int64_t t = 4; t < tokens.size(1); ++t) {
    auto step = m_model.model->decodeStep(cache, tokens.narrow(1, t, 1))[0];
    const double diff = (step - full[t]).abs().max().item<double>();
    QVERIFY2(diff < 1e-3, qPrintable(QString("position %1: max diff %2").arg(t).arg(diff)));
  }
  QCOMPARE(cache.length, tokens.size(1));
}

// 300 tokens: the prompt's attention goes in blocks of 128 query positions (each block against the
// keys up to its last position). The full forward, a prefill of 130 then of 150 more (at position
// 130, against cached keys) and 20 single steps give the same logits.
void TestForward::longPromptInPiecesMatchesFullForward() {
  torch::NoGradGuard ng;
  torch::manual_seed(3);
  const auto tokens = torch::randint(0, 49152, {1, 300}, torch::kInt64);
  const auto full = m_model.model->forward(tokens)[0];  // [300, V]
  auto cache = m_model.model->newCache(1, 300);
  const auto close = [&](const torch::Tensor& got, int64_t t0) {
    const double diff = (got - full.narrow(0, t0, got.size(0))).abs().max().item<double>();
    QVERIFY2(diff < 1e-3, qPrintable(QString("positions from %1: max diff %2").arg(t0).arg(diff)));
  };
  close(m_model.model->forward(tokens.narrow(1, 0, 130))[0], 0);  // a prompt of two blocks, no cache
  m_model.model->decodeStep(cache, tokens.narrow(1, 0, 130));
  close(m_model.model->decodeStep(cache, tokens.narrow(1, 130, 150))[0].unsqueeze(0), 279);  // the last position
  for (int64_t t = 280; t < 300; ++t) close(m_model.model->decodeStep(cache, tokens.narrow(1, t, 1))[0].unsqueeze(0), t);
  QCOMPARE(cache.length, int64_t(300));
}

void TestForward::batchedEqualsSingle() {
  torch::NoGradGuard ng;
  auto a = torch::tensor(std::vector<int64_t>{504, 1863, 282, 260, 4686}).unsqueeze(0);
  auto b = torch::tensor(std::vector<int64_t>{5921, 10608, 1583, 261, 17801}).unsqueeze(0);
  auto both = m_model.model->forward(torch::cat({a, b}, 0));
  QVERIFY(torch::allclose(both[1], m_model.model->forward(b)[0], 1e-3, 1e-3));
}

QTEST_GUILESS_MAIN(TestForward)
#include "test_forward.moc"
