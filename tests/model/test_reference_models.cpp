// SPDX-License-Identifier: GPL-3.0-or-later
// Our tokenizer, forward pass and perplexity against HF transformers (tests/reference/
// make_model_refs.py) for every model with committed references: the bundled tiny model (always
// present) and SmolLM2 (skipped when not cached). test_forward covers SmolLM2's logits in more
// depth; this test is the same contract applied to every reference set.
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/common/paths.h"
#include "core/common/sha256.h"
#include "core/data/corpus.h"
#include "core/data/windows.h"
#include "core/eval/perplexity.h"
#include "core/model/model_loader.h"

namespace {
nlohmann::json readRef(const std::string& name) {
  const std::string path = std::string(std::getenv("DUO_REFERENCE_DIR")) + "/" + name;
  std::ifstream in(path);
  if (!in) return {};
  return nlohmann::json::parse(in);
}

struct RefModel {
  std::string alias, location, prefix;
};
std::vector<RefModel> refModels() {
  return {{"tiny", std::string(std::getenv("DUO_RESOURCES_DIR")) + "/models/duo-tiny-kjv", "tiny"},
          {"smollm2", duo::cacheDir() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2"}};
}

// Skips (with the reason) unless the model exists and the references were made from these very
// files: meta.model_files pins the sha256 of each.
bool usable(const RefModel& m, const nlohmann::json& ref, QString* why) {
  if (!std::filesystem::exists(m.location)) {
    *why = QString::fromStdString(m.alias + " is not present (" + m.location + ")");
    return false;
  }
  if (ref.is_null()) {
    *why = QString::fromStdString("no references for " + m.alias + ": run tests/reference/make_model_refs.py");
    return false;
  }
  const std::string dir = std::filesystem::is_directory(m.location) ? m.location
                                                                    : std::filesystem::path(m.location).parent_path().string();
  for (const auto& f : ref["meta"]["model_files"]) {
    const std::string path = dir + "/" + f["name"].get<std::string>();
    if (!std::filesystem::exists(path) || duo::sha256File(path) != f["sha256"].get<std::string>()) {
      *why = QString::fromStdString("references for " + m.alias + " were made from other files than " + path +
                                    ": re-run tests/reference/make_model_refs.py");
      return false;
    }
  }
  return true;
}

void addRows() {
  QTest::addColumn<int>("index");
  const auto models = refModels();
  for (size_t i = 0; i < models.size(); ++i) QTest::newRow(models[i].alias.c_str()) << static_cast<int>(i);
}
}  // namespace

class TestReferenceModels : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }
  void tokenIdsIdentical_data() { addRows(); }
  void tokenIdsIdentical();
  void logitsMatch_data() { addRows(); }
  void logitsMatch();
  void perplexityMatches_data() { addRows(); }
  void perplexityMatches();

 private:
  duo::LoadedModel& model(const RefModel& m) {
    auto it = m_models.find(m.alias);
    if (it == m_models.end()) it = m_models.emplace(m.alias, duo::loadModel(m.location, torch::kCPU)).first;
    return it->second;
  }
  std::map<std::string, duo::LoadedModel> m_models;
};

void TestReferenceModels::tokenIdsIdentical() {
  QFETCH(int, index);
  const RefModel m = refModels()[index];
  const auto ref = readRef(m.prefix + "_tokens.json");
  QString why;
  if (!usable(m, ref, &why)) QSKIP(qPrintable(why));
  auto& lm = model(m);
  int checked = 0;
  for (const auto& c : ref["cases"]) {
    // Rows whose text contains special-token markup follow transformers' special matching; our
    // encode(text, false) treats text as text, so only plain rows are compared here.
    if (c.value("has_special_markup", false)) continue;
    const auto ids = lm.tokenizer->encode(c["text"].get<std::string>(), false);
    const auto want = c["ids"].get<std::vector<int64_t>>();
    QVERIFY2(std::vector<int64_t>(ids.begin(), ids.end()) == want,
             qPrintable(QString::fromStdString(m.alias + " case '" + c["name"].get<std::string>() + "' differs")));
    if (c.value("decode_roundtrip", false))
      QCOMPARE(QString::fromStdString(lm.tokenizer->decode(ids)), QString::fromStdString(c["text"].get<std::string>()));
    ++checked;
  }
  qInfo("%s: %d tokenizer cases identical", m.alias.c_str(), checked);
  QVERIFY(checked >= 10);
}

void TestReferenceModels::logitsMatch() {
  QFETCH(int, index);
  const RefModel m = refModels()[index];
  const auto ref = readRef(m.prefix + "_logits.json");
  QString why;
  if (!usable(m, ref, &why)) QSKIP(qPrintable(why));
  torch::NoGradGuard ng;
  auto& lm = model(m);
  // Both sides compute in float32 from the same stored values; differences are summation order.
  // Each reference records its own float32-vs-float64 gap; we allow 20x that (at least 1e-4), far
  // below the top-2 logit gaps, so the argmax comparison stays meaningful.
  for (const auto& seq : ref["sequences"]) {
    const auto ids = seq["ids"].get<std::vector<int64_t>>();
    auto logits = lm.model->forward(torch::tensor(ids).unsqueeze(0))[0];  // [T, V] f32
    const auto probes = seq["probe_ids"].get<std::vector<int64_t>>();
    const double tol = std::max(1e-4, 20 * seq.value("f32_vs_f64_max_abs_diff", 5e-5));
    double maxDiff = 0;
    for (size_t t = 0; t < ids.size(); ++t) {
      const auto& pos = seq["positions"][t];
      auto row = logits[static_cast<int64_t>(t)];
      QCOMPARE(row.argmax().item<int64_t>(), pos["argmax"].get<int64_t>());
      maxDiff = std::max(maxDiff, std::abs(torch::logsumexp(row, 0).item<double>() - pos["logsumexp"].get<double>()));
      for (size_t k = 0; k < probes.size(); ++k)
        maxDiff = std::max(maxDiff, std::abs(row[probes[k]].item<double>() - pos["probe_logits"][k].get<double>()));
    }
    qInfo("%s %s: max |logit diff| %.2e (tolerance %.1e)", m.alias.c_str(), seq["name"].get<std::string>().c_str(),
          maxDiff, tol);
    QVERIFY2(maxDiff < tol, qPrintable(QString("max diff %1").arg(maxDiff)));
  }
}

void TestReferenceModels::perplexityMatches() {
  QFETCH(int, index);
  const RefModel m = refModels()[index];
  const auto ref = readRef(m.prefix + "_ppl.json");
  QString why;
  if (!usable(m, ref, &why)) QSKIP(qPrintable(why));
  auto& lm = model(m);
  const auto corpus = duo::loadCorpus("kjv:eval");
  const auto tokens = lm.tokenizer->encode(corpus.text, false);
  QCOMPARE(static_cast<int64_t>(tokens.size()), ref["corpus_n_tokens"].get<int64_t>());
  const int seqlen = ref["protocol"]["seqlen"].get<int>();
  const int n = ref["protocol"]["n_windows"].get<int>();
  const auto r = duo::evalPerplexity(*lm.model, duo::consecutiveWindows(tokens, seqlen, n));
  const double refPpl = ref["ppl"].get<double>();
  qInfo("%s: perplexity %.4f vs transformers %.4f", m.alias.c_str(), r.perplexity, refPpl);
  QVERIFY(std::abs(r.perplexity / refPpl - 1.0) < 0.005);  // within 0.5 %
}

QTEST_GUILESS_MAIN(TestReferenceModels)
#include "test_reference_models.moc"
