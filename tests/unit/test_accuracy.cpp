// SPDX-License-Identifier: GPL-3.0-or-later
// Multiple-choice accuracy (core/eval/accuracy) on the bundled tiny model: the summed
// log-likelihoods equal a direct recomputation from full forwards, batching/padding changes
// nothing, the activation rule is applied, acc/acc_norm/stderr follow lm-eval's definitions; the
// cloze generator (core/data/cloze_task) is deterministic, well-formed and reproduced by the CLI;
// malformed JSONL is refused naming file and line.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/data/cloze_task.h"
#include "core/eval/accuracy.h"
#include "core/model/model_loader.h"
#include "core/prune/act_hook.h"

namespace {
// Sum of log p(continuation tokens | context) from one full forward of context + continuation
// (the definition, written independently of evalAccuracy's batching and position gathering).
double directLogLik(const duo::LoadedModel& m, const std::string& context, const std::string& choice,
                    const duo::InputHook& hook = {}) {
  torch::NoGradGuard ng;
  const auto ctx = m.tokenizer->encode(context, false);
  const auto whole = m.tokenizer->encode(context + choice, false);
  std::vector<int64_t> ids(whole.begin(), whole.end());
  auto logits = m.model->forward(torch::tensor(ids).unsqueeze(0), hook)[0];  // [T, V] f32
  auto logp = torch::log_softmax(logits, -1);
  double sum = 0;
  for (size_t t = ctx.size(); t < whole.size(); ++t) sum += logp[static_cast<int64_t>(t - 1)][whole[t]].item<double>();
  return sum;
}

duo::McTask handMadeTask() {
  duo::McTask t;
  t.name = "hand";
  // Obvious continuations for a model trained on the Old Testament (kjv:calib), against
  // distractors that are unlikely there; choices of different byte lengths (acc_norm) and a
  // context with a trailing space (lm-eval moves it to the continuation).
  t.items.push_back({"In the beginning God created the heaven and the", {" earth,", " candle sticks,", " rivers of oil,"}, 0, {}});
  t.items.push_back({"And God said, Let there be", {" twelve goats of brass.", " light: and there was light.", " purple seven"}, 1, {}});
  t.items.push_back({"And the LORD spake unto Moses, ", {"yellow", "saying,", "the seventh seal"}, 1, {}});
  t.items.push_back({"Thou shalt love thy neighbour as", {" thyself:", " a candlestick of oil", " twelve"}, 0, {}});
  t.items.push_back({"And Moses said unto the", {" LORD,", " candlestick of purple,", " seventeen goats"}, 0, {}});
  return t;
}
}  // namespace

class TestAccuracy : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void logLikEqualsDirectForward();
  void partialScoringUsesEachContext();
  void batchingChangesNothing();
  void activationRuleIsApplied();
  void accAndNormFollowDefinitions();
  void stderrFormula_data();
  void stderrFormula();
  void clozeIsDeterministicAndWellFormed();
  void clozeCliWritesSameFile();
  void badJsonl_data();
  void badJsonl();
  void cancelStops();

 private:
  duo::LoadedModel m_tiny;
  duo::McTask m_task;
};

void TestAccuracy::initTestCase() {
  torch::set_num_threads(2);
  m_tiny = duo::loadModel("tiny", torch::kCPU);
  m_task = handMadeTask();
}

void TestAccuracy::logLikEqualsDirectForward() {
  const auto r = duo::evalAccuracy(*m_tiny.model, *m_tiny.tokenizer, m_task);
  QCOMPARE(r.items, static_cast<int64_t>(m_task.items.size()));
  for (size_t i = 0; i < m_task.items.size(); ++i) {
    auto item = m_task.items[i];
    // lm-eval moves the context's trailing space into the continuation; do so here too.
    if (item.context.back() == ' ') {
      item.context.pop_back();
      for (auto& c : item.choices) c = " " + c;
    }
    for (size_t c = 0; c < item.choices.size(); ++c) {
      const double want = directLogLik(m_tiny, item.context, item.choices[c]);
      QVERIFY2(std::abs(r.logLik[i][c] - want) < 1e-3 * std::max(1.0, std::abs(want)),
               qPrintable(QString("item %1 choice %2: %3 vs %4").arg(i).arg(c).arg(r.logLik[i][c]).arg(want)));
      QVERIFY(r.logLik[i][c] < 0);
    }
  }
  // The model was trained on this text: the obvious continuations win.
  qInfo("hand-made items: acc %.2f acc_norm %.2f", r.acc, r.accNorm);
  QVERIFY2(r.acc >= 0.8, qPrintable(QString("acc %1 on obvious items").arg(r.acc)));
}

// WinoGrande's partial scoring (one context per choice, the same continuation): each choice's
// log-likelihood is the continuation's given its own context.
void TestAccuracy::partialScoringUsesEachContext() {
  duo::McTask t;
  t.name = "wino";
  duo::McItem item;
  item.contexts = {"And God said, Let there be", "And God said, Let there be no"};
  item.context = item.contexts[0];
  item.choices = {" light: and there was light.", " light: and there was light."};
  item.gold = 0;
  t.items.push_back(item);
  const auto r = duo::evalAccuracy(*m_tiny.model, *m_tiny.tokenizer, t);
  for (size_t c = 0; c < 2; ++c) {
    const double want = directLogLik(m_tiny, item.contexts[c], item.choices[c]);
    QVERIFY2(std::abs(r.logLik[0][c] - want) < 1e-3 * std::max(1.0, std::abs(want)),
             qPrintable(QString("choice %1: %2 vs %3").arg(c).arg(r.logLik[0][c]).arg(want)));
  }
  QVERIFY(r.logLik[0][0] != r.logLik[0][1]);
}

void TestAccuracy::batchingChangesNothing() {
  const auto one = duo::evalAccuracy(*m_tiny.model, *m_tiny.tokenizer, m_task, {}, 1);
  const auto many = duo::evalAccuracy(*m_tiny.model, *m_tiny.tokenizer, m_task, {}, 7);
  for (size_t i = 0; i < m_task.items.size(); ++i)
    for (size_t c = 0; c < m_task.items[i].choices.size(); ++c)
      QVERIFY(std::abs(one.logLik[i][c] - many.logLik[i][c]) < 1e-4);
  QVERIFY(one.pred == many.pred);
}

void TestAccuracy::activationRuleIsApplied() {
  const int L = static_cast<int>(m_tiny.model->config().numLayers);
  const auto hook = duo::makeActivationHook(duo::SparsityConfig::uniform(L, 0.0, 0.7));
  const auto dense = duo::evalAccuracy(*m_tiny.model, *m_tiny.tokenizer, m_task);
  const auto sparse = duo::evalAccuracy(*m_tiny.model, *m_tiny.tokenizer, m_task, hook, 4);
  const auto& item = m_task.items[0];
  const double want = directLogLik(m_tiny, item.context, item.choices[0], hook);
  QVERIFY(std::abs(sparse.logLik[0][0] - want) < 1e-3 * std::abs(want));
  QVERIFY(std::abs(sparse.logLik[0][0] - dense.logLik[0][0]) > 1e-3);
}

void TestAccuracy::accAndNormFollowDefinitions() {
  const auto r = duo::evalAccuracy(*m_tiny.model, *m_tiny.tokenizer, m_task);
  double hits = 0, hitsNorm = 0;
  for (size_t i = 0; i < m_task.items.size(); ++i) {
    const auto& item = m_task.items[i];
    size_t best = 0, bestNorm = 0;
    for (size_t c = 1; c < item.choices.size(); ++c) {
      if (r.logLik[i][c] > r.logLik[i][best]) best = c;
      if (r.logLik[i][c] / item.choices[c].size() > r.logLik[i][bestNorm] / item.choices[bestNorm].size()) bestNorm = c;
    }
    QCOMPARE(r.pred[i], static_cast<int>(best));
    QCOMPARE(r.predNorm[i], static_cast<int>(bestNorm));
    hits += static_cast<int>(best) == item.gold;
    hitsNorm += static_cast<int>(bestNorm) == item.gold;
  }
  const double n = static_cast<double>(m_task.items.size());
  QCOMPARE(r.acc, hits / n);
  QCOMPARE(r.accNorm, hitsNorm / n);
  QCOMPARE(r.accStderr, duo::binaryMeanStderr(r.acc, r.items));
  const auto j = r.toJson();
  for (const char* key : {"task", "items", "acc", "acc_stderr", "acc_norm", "acc_norm_stderr"}) QVERIFY(j.contains(key));
}

void TestAccuracy::stderrFormula_data() {
  QTest::addColumn<double>("p");
  QTest::addColumn<qlonglong>("n");
  QTest::addColumn<double>("expected");
  // lm-eval: sample std (n - 1) of the 0/1 outcomes over sqrt(n) = sqrt(p (1 - p) / (n - 1)).
  QTest::newRow("half of 5") << 0.5 << 5LL << 0.25;
  QTest::newRow("0.6 of 500") << 0.6 << 500LL << std::sqrt(0.24 / 499.0);
  QTest::newRow("all right") << 1.0 << 10LL << 0.0;
  QTest::newRow("one item") << 1.0 << 1LL << 0.0;
}

void TestAccuracy::stderrFormula() {
  QFETCH(double, p);
  QFETCH(qlonglong, n);
  QFETCH(double, expected);
  QVERIFY(std::abs(duo::binaryMeanStderr(p, n) - expected) < 1e-15);
}

void TestAccuracy::clozeIsDeterministicAndWellFormed() {
  const auto corpus = duo::loadCorpus("kjv:eval");
  duo::ClozeOptions o;
  o.items = 200;
  o.choices = 4;
  o.seed = 7;
  const auto a = duo::makeClozeTask(corpus, o);
  const auto b = duo::makeClozeTask(corpus, o);
  QCOMPARE(duo::mcTaskJsonl(a), duo::mcTaskJsonl(b));
  o.seed = 8;
  QVERIFY(duo::mcTaskJsonl(duo::makeClozeTask(corpus, o)) != duo::mcTaskJsonl(a));

  std::vector<int> goldCounts(4, 0);
  std::set<std::string> contexts;
  for (const auto& item : a.items) {
    QCOMPARE(item.choices.size(), size_t(4));
    QVERIFY(item.gold >= 0 && item.gold < 4);
    ++goldCounts[static_cast<size_t>(item.gold)];
    contexts.insert(item.context);
    const auto words = [](const std::string& s) { return std::count(s.begin(), s.end(), ' '); };
    const std::string& gold = item.choices[static_cast<size_t>(item.gold)];
    // The gold choice is the true ending of a line: the context's last three words (inside the
    // line's head, which has at least 3 words), then the gold ending, then the line break.
    size_t cut = item.context.size();
    for (int k = 0; k < 3; ++k) cut = item.context.rfind(' ', cut - 1);
    const std::string passage = item.context.substr(cut + 1) + gold;
    QVERIFY2(corpus.text.find(passage + "\n") != std::string::npos ||
                 corpus.text.compare(corpus.text.size() - passage.size(), passage.size(), passage) == 0,
             qPrintable(QString::fromStdString(passage)));
    std::set<std::string> distinct(item.choices.begin(), item.choices.end());
    QCOMPARE(distinct.size(), size_t(4));
    for (const auto& c : item.choices) {
      QCOMPARE(c.front(), ' ');
      QCOMPARE(words(c), words(gold));  // same length class: same number of words
    }
  }
  QCOMPARE(contexts.size(), a.items.size());
  for (int g : goldCounts) QVERIFY2(g > 25, "gold positions are spread over the choices");

  // The JSONL round-trips through the loader.
  QTemporaryDir dir;
  const std::string path = dir.filePath("kjv-cloze.jsonl").toStdString();
  duo::saveMcTask(path, a);
  const auto back = duo::loadMcTask(path);
  QCOMPARE(back.name, std::string("kjv-cloze"));
  QCOMPARE(duo::mcTaskJsonl(back), duo::mcTaskJsonl(a));
}

void TestAccuracy::clozeCliWritesSameFile() {
  QTemporaryDir dir;
  const QString out = dir.filePath("task.jsonl");
  QProcess p;
  p.start(qEnvironmentVariable("DUO_CLI"), {"make-task", "--corpus", "kjv:eval", "--choices", "3", "--items", "50",
                                            "--seed", "11", "--out", out});
  QVERIFY(p.waitForFinished(60000));
  QCOMPARE(p.exitCode(), 0);
  duo::ClozeOptions o;
  o.choices = 3;
  o.items = 50;
  o.seed = 11;
  QCOMPARE(duo::readFile(out.toStdString()), duo::mcTaskJsonl(duo::makeClozeTask(duo::loadCorpus("kjv:eval"), o)));
  // Too many items for the text: a clear error, nothing written.
  const QString out2 = dir.filePath("none.jsonl");
  p.start(qEnvironmentVariable("DUO_CLI"), {"make-task", "--corpus", "kjv:eval", "--items", "1000000", "--out", out2});
  QVERIFY(p.waitForFinished(60000));
  QCOMPARE(p.exitCode(), 1);
  QVERIFY(QString(p.readAllStandardError()).contains("only"));
  QVERIFY(!QFile::exists(out2));
}

void TestAccuracy::badJsonl_data() {
  QTest::addColumn<QString>("text");
  QTest::addColumn<QString>("message");
  const QString ok = R"({"context": "a", "choices": [" b", " c"], "gold": 0})";
  QTest::newRow("not json") << ok + "\n{\"context\": \n" << ":2: not valid JSON";
  QTest::newRow("no choices") << ok + "\n\n" + R"({"context": "a", "gold": 0})" << ":3: missing array field \"choices\"";
  QTest::newRow("one choice") << R"({"context": "a", "choices": [" b"], "gold": 0})" << ":1: \"choices\" has 1 entries";
  QTest::newRow("gold out of range") << R"({"context": "a", "choices": [" b", " c"], "gold": 2})" << ":1: gold 2";
  QTest::newRow("gold not int") << R"({"context": "a", "choices": [" b", " c"], "gold": "0"})" << ":1: missing whole-number field \"gold\"";
  QTest::newRow("choice not string") << R"({"context": "a", "choices": [" b", 3], "gold": 0})" << ":1: choices[1] is 3";
  QTest::newRow("context missing") << R"({"choices": [" b", " c"], "gold": 0})" << ":1: missing string field \"context\"";
  QTest::newRow("array line") << "[1, 2]" << ":1: expected an object";
  QTest::newRow("empty file") << "\n\n" << "no items";
}

void TestAccuracy::badJsonl() {
  QFETCH(QString, text);
  QFETCH(QString, message);
  QTemporaryDir dir;
  const std::string path = dir.filePath("bad.jsonl").toStdString();
  duo::writeFileAtomic(path, text.toStdString());
  try {
    duo::loadMcTask(path);
    QFAIL("expected duo::Error");
  } catch (const duo::Error& e) {
    const QString what = e.what();
    QVERIFY2(what.contains(QString::fromStdString(path)) && what.contains(message), qPrintable(what));
  }
}

void TestAccuracy::cancelStops() {
  int calls = 0;
  const duo::ProgressFn stop = [&](const duo::Progress&) { return ++calls < 2; };
  QVERIFY_EXCEPTION_THROWN(duo::evalAccuracy(*m_tiny.model, *m_tiny.tokenizer, m_task, {}, 2, stop), duo::Cancelled);
}

QTEST_GUILESS_MAIN(TestAccuracy)
#include "test_accuracy.moc"
