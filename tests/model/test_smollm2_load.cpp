// SPDX-License-Identifier: GPL-3.0-or-later
// The real SmolLM2-135M-Instruct Q4_1 GGUF file (cached by scripts/fetch-smollm2.sh): config,
// shapes, tokenizer metadata, dequantisation against the PyPI `gguf` package, and the q/k row
// order against HF transformers' GGUF loader (tests/reference/make_gguf_refs.py wrote both).
// Skips when the file is absent.
#include <QTemporaryDir>
#include <QtTest>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/model/io/dequant.h"
#include "core/model/io/gguf.h"
#include "core/model/io/gguf_model.h"
#include "core/model/io/loader.h"
#include "core/model/io/model_info.h"
#include "core/model/io/model_writer.h"
#include "core/model/io/tensor_names.h"

namespace {

std::string modelPath() { return duo::cacheDir() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"; }

nlohmann::json refs() {
  const char* dir = std::getenv("DUO_REFERENCE_DIR");
  const std::string path = std::string(dir ? dir : "tests/reference") + "/gguf_refs.json";
  std::ifstream in(path);
  if (!in) return {};
  return nlohmann::json::parse(in);
}

// fp(j) = ((j * 7919) % 1000) / 1000 - 0.5, as in make_gguf_refs.py.
std::vector<double> rowFingerprints(const torch::Tensor& w) {
  const torch::Tensor fp = (torch::arange(w.size(1), torch::kInt64) * 7919).remainder(1000).to(torch::kFloat64) / 1000.0 - 0.5;
  const torch::Tensor r = torch::mv(w.to(torch::kFloat64), fp);  // [rows] f64
  return {r.data_ptr<double>(), r.data_ptr<double>() + r.numel()};
}

}  // namespace

class TestSmollm2Load : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void configMatchesTransformers();
  void shapesAndTiedHead();
  void inspectFromHeaders();
  void tokenizerSpec();
  void dequantMatchesGgufPackage();
  void loadedTensorsMatchRawSums();
  void qkRowsMatchTransformers();
  void qkUnpermuteInvertsPermute();
  void cancelStopsLoading();
  void exportsHfCheckpoint();

 private:
  duo::LlamaWeights m_w;
  nlohmann::json m_refs;
};

void TestSmollm2Load::initTestCase() {
  if (!std::filesystem::exists(modelPath()))
    QSKIP("SmolLM2 GGUF not cached (run scripts/fetch-smollm2.sh)");
  m_refs = refs();
  QVERIFY2(m_refs.contains("smollm2"), "tests/reference/gguf_refs.json lacks the smollm2 section");
  const auto t0 = std::chrono::steady_clock::now();
  m_w = duo::loadWeights(modelPath());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  qInfo("loaded SmolLM2 in %.2f s", s);
}

void TestSmollm2Load::configMatchesTransformers() {
  const duo::ModelConfig& c = m_w.config;
  const nlohmann::json& t = m_refs["smollm2"]["transformers"]["config"];
  QCOMPARE(c.architecture, std::string("llama"));
  QCOMPARE(c.hiddenSize, t["hidden_size"].get<int64_t>());
  QCOMPARE(c.intermediateSize, t["intermediate_size"].get<int64_t>());
  QCOMPARE(c.numLayers, t["num_hidden_layers"].get<int64_t>());
  QCOMPARE(c.numHeads, t["num_attention_heads"].get<int64_t>());
  QCOMPARE(c.numKvHeads, t["num_key_value_heads"].get<int64_t>());
  QCOMPARE(c.vocabSize, t["vocab_size"].get<int64_t>());
  QCOMPARE(c.maxPositions, t["max_position_embeddings"].get<int64_t>());
  QCOMPARE(c.tieWordEmbeddings, t["tie_word_embeddings"].get<bool>());
  QCOMPARE(c.bosTokenId, t["bos_token_id"].get<int64_t>());
  QCOMPARE(c.eosTokenId, t["eos_token_id"].get<int64_t>());
  QCOMPARE(c.ropeTheta, t["rope_theta"].get<double>());
  QCOMPARE(c.rmsNormEps, t["rms_norm_eps"].get<double>());
  QCOMPARE(c.headDim, int64_t(64));
  QVERIFY(!c.attentionBias);
  QVERIFY(c.ropeScaling.type.empty());
}

void TestSmollm2Load::shapesAndTiedHead() {
  const duo::ModelConfig& c = m_w.config;
  QCOMPARE(m_w.embed.sizes().vec(), (std::vector<int64_t>{49152, 576}));
  QVERIFY(m_w.lmHead.is_same(m_w.embed));  // tied: one tensor
  QCOMPARE(m_w.finalNorm.sizes().vec(), std::vector<int64_t>{576});
  QCOMPARE(int64_t(m_w.layers.size()), c.numLayers);
  for (const duo::LayerWeights& l : m_w.layers) {
    QCOMPARE(l.w(duo::Proj::Q).sizes().vec(), (std::vector<int64_t>{576, 576}));
    QCOMPARE(l.w(duo::Proj::K).sizes().vec(), (std::vector<int64_t>{192, 576}));
    QCOMPARE(l.w(duo::Proj::V).sizes().vec(), (std::vector<int64_t>{192, 576}));
    QCOMPARE(l.w(duo::Proj::O).sizes().vec(), (std::vector<int64_t>{576, 576}));
    QCOMPARE(l.w(duo::Proj::Gate).sizes().vec(), (std::vector<int64_t>{1536, 576}));
    QCOMPARE(l.w(duo::Proj::Up).sizes().vec(), (std::vector<int64_t>{1536, 576}));
    QCOMPARE(l.w(duo::Proj::Down).sizes().vec(), (std::vector<int64_t>{576, 1536}));
    QCOMPARE(l.attnNorm.sizes().vec(), std::vector<int64_t>{576});
    QCOMPARE(l.mlpNorm.sizes().vec(), std::vector<int64_t>{576});
    QVERIFY(!l.qBias.defined());
    for (const torch::Tensor& t : l.proj) {
      QCOMPARE(t.scalar_type(), torch::kFloat32);
      QVERIFY(t.is_contiguous());
    }
  }
  QCOMPARE(c.parameterCount(), int64_t(134515008));
}

void TestSmollm2Load::inspectFromHeaders() {
  const duo::ModelInfo info = duo::inspectModel("smollm2");
  QCOMPARE(info.format, std::string("gguf"));
  QCOMPARE(info.tensorCount, int64_t(272));
  QCOMPARE(info.dtypeCounts.at("Q4_1"), int64_t(210));
  QCOMPARE(info.dtypeCounts.at("F32"), int64_t(61));
  QCOMPARE(info.dtypeCounts.at("Q8_0"), int64_t(1));
  QCOMPARE(info.dtype, std::string("Q4_1"));
  QCOMPARE(info.parameters, m_w.config.parameterCount());  // tied: no output.weight in the file
  QCOMPARE(info.tokenizer, std::string("gpt2"));
  QCOMPARE(info.config.numLayers, int64_t(30));
  QCOMPARE(info.fileBytes, int64_t(std::filesystem::file_size(modelPath())));
  QVERIFY(!info.name.empty());
}

void TestSmollm2Load::tokenizerSpec() {
  const duo::TokenizerSpec s = duo::ggufTokenizerSpec(modelPath());
  QCOMPARE(s.model, std::string("gpt2"));
  QCOMPARE(s.pre, std::string("smollm"));
  QCOMPARE(s.tokens.size(), size_t(49152));
  QCOMPARE(s.merges.size(), size_t(48900));
  QCOMPARE(s.tokenTypes.size(), size_t(49152));
  QVERIFY(s.scores.empty());
  QCOMPARE(s.bosId, int64_t(1));
  QCOMPARE(s.eosId, int64_t(2));
  QCOMPARE(s.unkId, int64_t(0));
  QCOMPARE(s.padId, int64_t(2));
  QVERIFY(!s.addBos);
  QVERIFY(!s.addSpacePrefix);
  QCOMPARE(s.tokens[1], std::string("<|im_start|>"));
  QCOMPARE(s.tokenTypes[1], 3);  // control
}

// Our dequantisation of whole tensors (GGUF order) vs the gguf package's: sums and samples.
void TestSmollm2Load::dequantMatchesGgufPackage() {
  const duo::GgufFile f(modelPath());
  for (const nlohmann::json& r : m_refs["smollm2"]["tensors"]) {
    const std::string name = r["name"];
    const duo::GgufTensorInfo* t = f.header().tensor(name);
    QVERIFY2(t != nullptr, name.c_str());
    QCOMPARE(duo::ggmlTypeName(t->type), r["type"].get<std::string>());
    QCOMPARE(t->shape(), r["shape"].get<std::vector<int64_t>>());
    std::vector<float> v(static_cast<size_t>(t->elements));  // [elements] f32, GGUF order
    f.readF32(*t, v.data());
    double sum = 0, sumAbs = 0, sumSq = 0;
    for (float x : v) sum += x, sumAbs += std::fabs(x), sumSq += double(x) * x;
    // Same f32 values summed in f64 in a different order: agreement to ~1e-12 relative.
    QVERIFY2(std::fabs(sum - r["sum"].get<double>()) <= 1e-9 * r["sum_abs"].get<double>(), name.c_str());
    QVERIFY2(std::fabs(sumAbs - r["sum_abs"].get<double>()) <= 1e-9 * sumAbs, name.c_str());
    QVERIFY2(std::fabs(sumSq - r["sum_sq"].get<double>()) <= 1e-9 * sumSq, name.c_str());
    const auto idx = r["index"].get<std::vector<int64_t>>();
    const auto vals = r["values"].get<std::vector<double>>();
    for (size_t i = 0; i < idx.size(); ++i) QCOMPARE(double(v[size_t(idx[i])]), vals[i]);  // bit-exact
  }
}

// The loader's tensors carry the same values (sums are invariant under the q/k row permutation).
void TestSmollm2Load::loadedTensorsMatchRawSums() {
  for (const nlohmann::json& r : m_refs["smollm2"]["tensors"]) {
    const std::string name = r["name"];
    duo::TensorSlot slot;
    QVERIFY(duo::parseTensorName(duo::NameFormat::Gguf, name, &slot));
    torch::Tensor t;
    if (slot.kind == duo::TensorKind::Embed) t = m_w.embed;
    else if (slot.kind == duo::TensorKind::FinalNorm) t = m_w.finalNorm;
    else if (slot.kind == duo::TensorKind::AttnNorm) t = m_w.layers[size_t(slot.layer)].attnNorm;
    else t = m_w.layers[size_t(slot.layer)].w(slot.proj);
    const double sum = t.to(torch::kFloat64).sum().item<double>();
    QVERIFY2(std::fabs(sum - r["sum"].get<double>()) <= 1e-9 * r["sum_abs"].get<double>(), name.c_str());
  }
}

// Every q/k row of layers 0 and 29 against transformers' reverse-permuted tensors: a row
// fingerprint (dot product with a fixed vector) equal to 1e-6 relative means the rows are the
// same rows in the same order (a wrong permutation moves rows of different norms around).
void TestSmollm2Load::qkRowsMatchTransformers() {
  const nlohmann::json& fps = m_refs["smollm2"]["transformers"]["row_fingerprints"];
  int checked = 0;
  for (int layer : {0, 29}) {
    for (duo::Proj p : {duo::Proj::Q, duo::Proj::K}) {
      const std::string name = duo::tensorName(duo::NameFormat::Hf, {duo::TensorKind::Proj, layer, p});
      QVERIFY2(fps.contains(name), name.c_str());
      const auto want = fps[name].get<std::vector<double>>();
      const auto got = rowFingerprints(m_w.layers[size_t(layer)].w(p));
      QCOMPARE(got.size(), want.size());
      for (size_t r = 0; r < got.size(); ++r) {
        if (std::fabs(got[r] - want[r]) > 1e-6 * (1 + std::fabs(want[r])))
          QFAIL(qPrintable(QString("%1 row %2: %3 vs transformers %4").arg(name.c_str()).arg(r).arg(got[r]).arg(want[r])));
        ++checked;
      }
    }
  }
  QCOMPARE(checked, 2 * (576 + 192));
}

void TestSmollm2Load::qkUnpermuteInvertsPermute() {
  const torch::Tensor q = m_w.layers[3].w(duo::Proj::Q);
  QVERIFY(torch::equal(duo::unpermuteGgufQk(duo::permuteGgufQk(q, 9), 9), q));
  // The raw GGUF rows differ from the HF rows (the permutation is not the identity here).
  QVERIFY(!torch::equal(duo::permuteGgufQk(q, 9), q));
}

void TestSmollm2Load::cancelStopsLoading() {
  int calls = 0;
  duo::ProgressFn stopAfter3 = [&](const duo::Progress& p) {
    if (p.stage != "load") return true;
    return ++calls <= 3;
  };
  QVERIFY_THROWS_EXCEPTION(duo::Cancelled, duo::loadWeights(modelPath(), stopAfter3));
  QCOMPARE(calls, 4);
}

// GGUF -> HF folder -> back: identical tensors, tied head kept tied, tokenizer.json copied.
// With DUO_KEEP_EXPORT=<dir> the folder is also written there, for
// tests/reference/check_hf_export.py (transformers loads it and compares logits with its own
// GGUF loader).
void TestSmollm2Load::exportsHfCheckpoint() {
  QTemporaryDir tmp;
  const std::string dir = tmp.filePath("smollm2-hf").toStdString();
  const std::string tok = tmp.filePath("tokenizer.json").toStdString();
  duo::writeFileAtomic(tok, std::string("{}"));
  duo::saveHfCheckpoint(m_w, dir, {{"sparsity_config", {{"note", "dense"}}}}, tok);
  const duo::LlamaWeights r = duo::loadWeights(dir);
  QVERIFY(r.config.tieWordEmbeddings);
  QVERIFY(r.lmHead.is_same(r.embed));
  QCOMPARE(r.config.ropeTheta, m_w.config.ropeTheta);
  QCOMPARE(r.config.rmsNormEps, m_w.config.rmsNormEps);
  QVERIFY(torch::equal(r.embed, m_w.embed));
  for (size_t l = 0; l < r.layers.size(); ++l)
    for (int p = 0; p < duo::kNumProj; ++p) QVERIFY(torch::equal(r.layers[l].proj[size_t(p)], m_w.layers[l].proj[size_t(p)]));
  QVERIFY(std::filesystem::exists(dir + "/tokenizer.json"));
  if (const char* keep = std::getenv("DUO_KEEP_EXPORT")) duo::saveHfCheckpoint(m_w, keep);
}

QTEST_GUILESS_MAIN(TestSmollm2Load)
#include "test_smollm2_load.moc"
