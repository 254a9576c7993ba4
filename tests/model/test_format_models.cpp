// SPDX-License-Identifier: GPL-3.0-or-later
// Every checkpoint format and architecture variant DuoScope reads, against HF transformers: the
// small random-initialised models of tests/data/models/formats/ and what transformers computed
// from the weights each file holds (tests/reference/format_refs.json, written by
// make_format_refs.py: LLaMA-3.2-style llama3 RoPE + tied embeddings, Mistral with an 8-token
// sliding window, Qwen2 with biases (and with a sliding window in its last layer), linear and
// dynamic RoPE scaling; f32 and bf16 safetensors; GGUF F32/F16/BF16/Q8_0/Q5_0/Q5_1/Q4_0/Q4_1
// written by the gguf package, rope_freqs.weight included).
//
// Contract: f32 logits within 1e-4 (absolute; logits here have std ~1.2) at every position,
// argmax identical, perplexity within 1e-4 relative; KV-cached decoding (torch and the packed CPU
// decoder) reproduces the same logits one token at a time (sliding windows included). Each row skips, with the reason, when its files
// are absent or differ from the ones the references were made from.
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/common/sha256.h"
#include "core/engine/packed_decode.h"
#include "core/eval/perplexity.h"
#include "core/model/io/loader.h"
#include "core/model/llama_model.h"

namespace {

constexpr double kLogitTol = 1e-4;
constexpr double kPplRelTol = 1e-4;

const nlohmann::json& refs() {
  static const nlohmann::json j = [] {
    const char* dir = std::getenv("DUO_REFERENCE_DIR");
    std::ifstream in(std::string(dir ? dir : "tests/reference") + "/format_refs.json");
    return in ? nlohmann::json::parse(in) : nlohmann::json();
  }();
  return j;
}

std::string modelsDir() {
  const char* dir = std::getenv("DUO_TEST_DATA_DIR");
  return std::string(dir ? dir : "tests/data") + "/models/formats";
}

struct Variant {
  std::string model;  // key in refs()["models"]
  nlohmann::json v;   // the variant's entry
};

Variant variant(const QString& name) {
  for (const auto& [model, entry] : refs()["models"].items())
    for (const auto& v : entry["variants"])
      if (v["name"].get<std::string>() == name.toStdString()) return {model, v};
  return {};
}

// Empty when usable, else why not.
QString unusable(const Variant& var) {
  const std::string path = modelsDir() + "/" + var.v["path"].get<std::string>();
  if (!std::filesystem::exists(path)) return QString::fromStdString(path + " is not present");
  const std::string dir = std::filesystem::is_directory(path) ? path : modelsDir();
  for (const auto& f : var.v["files"]) {
    const std::string file = dir + "/" + f["name"].get<std::string>();
    if (!std::filesystem::exists(file) || duo::sha256File(file) != f["sha256"].get<std::string>())
      return QString::fromStdString(file + " differs from the file the references were made from: re-run "
                                    "tests/reference/make_format_refs.py");
  }
  return {};
}

void addVariantRows() {
  QTest::addColumn<QString>("name");
  if (refs().is_null()) {
    QTest::newRow("no-references") << QString();
    return;
  }
  for (const auto& [model, entry] : refs()["models"].items())
    for (const auto& v : entry["variants"]) {
      const std::string n = v["name"].get<std::string>();
      QTest::newRow(n.c_str()) << QString::fromStdString(n);
    }
}

// Max |difference| between logits [T, V] and the reference positions (probe logits, max logit,
// logsumexp); argmax compared exactly.
double compareLogits(const torch::Tensor& logits, const nlohmann::json& seq, const std::vector<int64_t>& probes,
                     QString* argmaxFault) {
  double maxDiff = 0;
  const auto l = logits.to(torch::kFloat64);  // [T, V] f64
  for (int64_t t = 0; t < l.size(0); ++t) {
    const auto& pos = seq["positions"][static_cast<size_t>(t)];
    const auto row = l[t];
    if (row.argmax().item<int64_t>() != pos["argmax"].get<int64_t>() && argmaxFault->isEmpty())
      *argmaxFault = QString("position %1: argmax %2, transformers %3").arg(t).arg(row.argmax().item<int64_t>())
                         .arg(pos["argmax"].get<int64_t>());
    maxDiff = std::max(maxDiff, std::abs(torch::logsumexp(row, 0).item<double>() - pos["logsumexp"].get<double>()));
    maxDiff = std::max(maxDiff, std::abs(row.max().item<double>() - pos["max_logit"].get<double>()));
    for (size_t k = 0; k < probes.size(); ++k)
      maxDiff = std::max(maxDiff, std::abs(row[probes[k]].item<double>() - pos["probe_logits"][k].get<double>()));
  }
  return maxDiff;
}

}  // namespace

class TestFormatModels : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }
  void configsRead();
  void logitsAndPerplexity_data() { addVariantRows(); }
  void logitsAndPerplexity();
  void decodeMatchesForward_data() { addVariantRows(); }
  void decodeMatchesForward();

 private:
  duo::LlamaModel& load(const Variant& var) {
    const std::string name = var.v["name"].get<std::string>();
    auto it = m_models.find(name);
    if (it == m_models.end()) {
      const std::string path = modelsDir() + "/" + var.v["path"].get<std::string>();
      it = m_models.emplace(name, std::make_unique<duo::LlamaModel>(duo::loadWeights(path))).first;
    }
    return *it->second;
  }
  std::map<std::string, std::unique_ptr<duo::LlamaModel>> m_models;
};

// What each file says about the features under test, as ModelConfig holds it.
void TestFormatModels::configsRead() {
  const std::string dir = modelsDir();
  if (!std::filesystem::exists(dir + "/llama32")) QSKIP("tests/data/models/formats is not present");
  const duo::ModelConfig llama = duo::loadModelConfig(dir + "/llama32");
  QCOMPARE(llama.ropeScaling.type, std::string("llama3"));
  QCOMPARE(llama.ropeScaling.factor, 32.0);
  QVERIFY(llama.tieWordEmbeddings);
  const duo::ModelConfig llamaGguf = duo::loadModelConfig(dir + "/llama32-q8_0.gguf");
  QCOMPARE(llamaGguf.ropeScaling.type, std::string("rope_freqs"));
  QCOMPARE(llamaGguf.ropeScaling.freqFactors.size(), size_t(8));
  QCOMPARE(llamaGguf.ropeScaling.freqFactors.front(), 1.0);   // shortest wavelength: kept
  QVERIFY(std::abs(llamaGguf.ropeScaling.freqFactors.back() - 32.0) < 1e-5);  // longest: divided by factor
  QVERIFY(llamaGguf.tieWordEmbeddings);
  const duo::ModelConfig mistral = duo::loadModelConfig(dir + "/mistral");
  QCOMPARE(mistral.slidingWindow, int64_t(8));
  QCOMPARE(mistral.windowOf(0), int64_t(8));
  const duo::ModelConfig swa = duo::loadModelConfig(dir + "/qwen2-swa");
  QCOMPARE(swa.windowOf(0), int64_t(0));
  QCOMPARE(swa.windowOf(1), int64_t(8));
  const duo::ModelConfig qwen = duo::loadModelConfig(dir + "/qwen2-q8_0.gguf");
  QVERIFY(qwen.attentionBias && qwen.tieWordEmbeddings);
  QCOMPARE(qwen.slidingWindow, int64_t(0));
  QCOMPARE(duo::loadModelConfig(dir + "/llama-linear").ropeScaling.type, std::string("linear"));
  QCOMPARE(duo::loadModelConfig(dir + "/llama-linear-f32.gguf").ropeScaling.factor, 4.0);
  const duo::ModelConfig dyn = duo::loadModelConfig(dir + "/llama-dynamic");
  QCOMPARE(dyn.ropeScaling.type, std::string("dynamic"));
  QCOMPARE(dyn.ropeScaling.originalMaxPositions, int64_t(16));
}

void TestFormatModels::logitsAndPerplexity() {
  QFETCH(QString, name);
  if (refs().is_null()) QSKIP("tests/reference/format_refs.json not found (set DUO_REFERENCE_DIR)");
  const Variant var = variant(name);
  const QString why = unusable(var);
  if (!why.isEmpty()) QSKIP(qPrintable(why));
  torch::NoGradGuard ng;
  duo::LlamaModel& model = load(var);
  const nlohmann::json& entry = refs()["models"][var.model];
  const auto probes = entry["probe_ids"].get<std::vector<int64_t>>();
  for (const auto& seq : var.v["sequences"]) {
    const auto ids = seq["ids"].get<std::vector<int64_t>>();
    const auto logits = model.forward(torch::tensor(ids).unsqueeze(0))[0];  // [T, V] f32
    QString argmaxFault;
    const double diff = compareLogits(logits, seq, probes, &argmaxFault);
    qInfo("%s: max |logit - transformers| %.2e over %zu positions", qPrintable(name), diff, ids.size());
    QVERIFY2(diff < kLogitTol, qPrintable(QString("max |logit diff| %1 >= %2").arg(diff).arg(kLogitTol)));
    QVERIFY2(argmaxFault.isEmpty(), qPrintable(argmaxFault));
  }
  const int64_t seqlen = entry["seqlen"].get<int64_t>();
  const auto corpus = entry["corpus_ids"].get<std::vector<int64_t>>();
  const int64_t n = static_cast<int64_t>(corpus.size()) / seqlen;
  const auto windows = torch::tensor(corpus).view({n, seqlen});  // [n, seqlen] i64
  const duo::PerplexityResult r = duo::evalPerplexity(model, windows);
  const double want = var.v["ppl"].get<double>();
  qInfo("%s: perplexity %.6f vs transformers %.6f (rel %.1e)", qPrintable(name), r.perplexity, want,
        std::abs(r.perplexity / want - 1));
  QCOMPARE(r.tokens, var.v["predicted_tokens"].get<int64_t>());
  QVERIFY2(std::abs(r.perplexity / want - 1) < kPplRelTol, qPrintable(QString("perplexity %1 vs %2").arg(r.perplexity).arg(want)));
}

// One token at a time through the KV cache: the same logits as transformers' full forward
// (the sliding window then narrows the cached keys instead of masking). Dynamic NTK rescales by
// the length seen so far (in transformers and here), so there the decode is compared, within the
// original context, with forwards over the tokens seen so far.
void TestFormatModels::decodeMatchesForward() {
  QFETCH(QString, name);
  if (refs().is_null()) QSKIP("tests/reference/format_refs.json not found (set DUO_REFERENCE_DIR)");
  const Variant var = variant(name);
  const QString why = unusable(var);
  if (!why.isEmpty()) QSKIP(qPrintable(why));
  duo::LlamaModel& model = load(var);
  torch::NoGradGuard ng;
  const auto probes = refs()["models"][var.model]["probe_ids"].get<std::vector<int64_t>>();
  const auto& seq = var.v["sequences"][0];
  const auto ids = seq["ids"].get<std::vector<int64_t>>();
  const bool dynamic = model.config().ropeScaling.type == "dynamic";
  // Dynamic NTK: within the original context nothing is rescaled yet, so step t of a decode is the
  // last position of a forward over the first t + 1 tokens. Past it the decode keeps the keys it
  // cached with the frequencies of their step (as transformers' decode does), which a prefix
  // forward does not reproduce and format_refs.json does not record: those steps are not compared.
  std::vector<std::pair<int64_t, torch::Tensor>> prefixRefs;
  if (dynamic) {
    const int64_t orig = model.config().ropeScaling.originalMaxPositions, T = static_cast<int64_t>(ids.size());
    for (int64_t t : {int64_t(0), int64_t(3), orig / 2, orig - 1}) {
      if (t < 0 || t >= T) continue;
      const std::vector<int64_t> prefix(ids.begin(), ids.begin() + t + 1);
      prefixRefs.emplace_back(t, model.forward(torch::tensor(prefix).unsqueeze(0))[0][t].clone());
    }
    QVERIFY(prefixRefs.size() >= 3);
  }
  auto decodeAll = [&] {
    duo::KvCache cache = model.newCache(1, static_cast<int64_t>(ids.size()));
    std::vector<torch::Tensor> rows;
    for (int64_t id : ids) rows.push_back(model.decodeStep(cache, torch::tensor({id}).view({1, 1}))[0]);  // [V]
    return torch::stack(rows);  // [T, V] f32
  };
  // torch's decode, then the packed CPU decoder (dense kernels: its own attention loop and RoPE)
  for (const char* path : {"torch", "packed"}) {
    torch::Tensor logits;
    if (std::string(path) == "packed") {
      const duo::perf::PackedDecoder packed(model, duo::SparsityConfig{});
      packed.install(model);
      logits = decodeAll();
      duo::perf::PackedDecoder::uninstall(model);
    } else {
      logits = decodeAll();
    }
    if (dynamic) {
      for (const auto& [t, ref] : prefixRefs) {
        const double d = (logits[t] - ref).abs().max().item<double>();
        qInfo("%s: %s decode step %lld vs the %lld-token forward: max |logit diff| %.2e", qPrintable(name), path,
              static_cast<long long>(t), static_cast<long long>(t + 1), d);
        QVERIFY2(d < kLogitTol, qPrintable(QString("%1 decode step %2: max |logit diff| %3").arg(path).arg(t).arg(d)));
      }
      continue;
    }
    QString argmaxFault;
    const double diff = compareLogits(logits, seq, probes, &argmaxFault);
    qInfo("%s: %s decode max |logit - transformers| %.2e", qPrintable(name), path, diff);
    QVERIFY2(diff < kLogitTol, qPrintable(QString("%1 decode: max |logit diff| %2").arg(path).arg(diff)));
    QVERIFY2(argmaxFault.isEmpty(), qPrintable(argmaxFault));
  }
}

QTEST_GUILESS_MAIN(TestFormatModels)
#include "test_format_models.moc"
