// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF export (core/model/io/gguf_writer): the written file reads back through our GGUF reader
// (itself checked against PyPI gguf and transformers) as the same model: every tensor equal to the
// source's in the stored dtype (q/k un-permuted again for llama), the same config (llama3 RoPE
// through rope_freqs.weight, linear scaling, Qwen2 biases) and a tokenizer that encodes like the
// source's, for byte-level BPE (tokenizer.json) and SentencePiece (tokenizer.model). Models the
// GGUF architectures cannot express are refused by name, and a cancelled export leaves no file.
// tests/reference/check_exports.py checks the same files with PyPI gguf and transformers.
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>

#include "core/common/error.h"
#include "core/model/io/gguf_model.h"
#include "core/model/io/gguf_writer.h"
#include "core/model/io/hf_config.h"
#include "core/model/io/random_model.h"
#include "core/model/io/tensor_names.h"
#include "core/model/io/weight_source.h"
#include "core/model/rope.h"
#include "core/model/tokenizer/tokenizer.h"
#include "core/model/tokenizer/tokenizer_spm.h"

#include "unit/expect_error.h"

namespace fs = std::filesystem;

namespace {

const char* const kTexts[] = {"In the beginning God created the heaven and the earth.",
                              "And God said, Let there be light: and there was light. 1234 don't",
                              "  spaces\tand\nnewlines \xC3\xA9\xE6\x97\xA5 ..."};

std::string resources() {
  const char* r = std::getenv("DUO_RESOURCES_DIR");
  return r ? r : "resources";
}
std::string tinyDir() { return resources() + "/models/duo-tiny-kjv"; }
std::string dataDir() {
  const char* d = std::getenv("DUO_TEST_DATA_DIR");
  return d ? d : "tests/data";
}

using duo::test::expectError;

// Every tensor of `gguf` equals the source's converted to the stored dtype (norms and biases f32).
void compareTensors(const std::string& src, const std::string& gguf, torch::ScalarType dtype) {
  auto a = duo::openWeightSource(src);
  auto b = duo::openWeightSource(gguf);
  const duo::ModelConfig& c = a->config();
  for (const duo::TensorSlot& slot : duo::modelSlots(c)) {
    const bool big = slot.kind == duo::TensorKind::Embed || slot.kind == duo::TensorKind::LmHead ||
                     slot.kind == duo::TensorKind::Proj;
    const torch::ScalarType t = big ? dtype : torch::kFloat32;
    const torch::Tensor x = a->tensor(slot).to(t), y = b->tensor(slot).to(t);
    QVERIFY2(torch::equal(x, y), duo::tensorName(duo::NameFormat::Gguf, slot).c_str());
  }
}

void compareConfigs(const duo::ModelConfig& a, const duo::ModelConfig& b) {
  QCOMPARE(b.hiddenSize, a.hiddenSize);
  QCOMPARE(b.intermediateSize, a.intermediateSize);
  QCOMPARE(b.numLayers, a.numLayers);
  QCOMPARE(b.numHeads, a.numHeads);
  QCOMPARE(b.numKvHeads, a.numKvHeads);
  QCOMPARE(b.headDim, a.headDim);
  QCOMPARE(b.vocabSize, a.vocabSize);
  QCOMPARE(b.maxPositions, a.maxPositions);
  QCOMPARE(b.tieWordEmbeddings, a.tieWordEmbeddings);
  QCOMPARE(b.attentionBias, a.attentionBias);
  QCOMPARE(b.ropeTheta, double(float(a.ropeTheta)));
  QCOMPARE(b.rmsNormEps, double(float(a.rmsNormEps)));
  QCOMPARE(b.bosTokenId, a.bosTokenId);
  QCOMPARE(b.eosTokenId, a.eosTokenId);
  // The rotary frequencies the forward uses (llama3 -> rope_freqs divisors in f32).
  QVERIFY(torch::allclose(duo::ropeInvFreq(b), duo::ropeInvFreq(a), 1e-6, 0));
}

}  // namespace

class TestGgufExport : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void tinyRoundTrip_data();
  void tinyRoundTrip();
  void architectures_data();
  void architectures();
  void sentencePiece();
  void refusals();

 private:
  QTemporaryDir m_tmp;
  std::string path(const std::string& name) { return m_tmp.filePath(QString::fromStdString(name)).toStdString(); }
};

void TestGgufExport::tinyRoundTrip_data() {
  QTest::addColumn<int>("dtype");
  QTest::newRow("f32") << int(torch::kFloat32);
  QTest::newRow("f16") << int(torch::kFloat16);
  QTest::newRow("bf16") << int(torch::kBFloat16);
}

void TestGgufExport::tinyRoundTrip() {
  QFETCH(int, dtype);
  const auto dt = static_cast<torch::ScalarType>(dtype);
  const std::string out = path("tiny-" + std::to_string(dtype) + ".gguf");
  duo::GgufExportOptions o;
  o.dtype = dt;
  auto src = duo::openWeightSource(tinyDir());
  const duo::GgufExportResult r = duo::exportGguf(*src, duo::exportTokenizerSpec(tinyDir()), out, o);
  QCOMPARE(r.path, fs::absolute(out).lexically_normal().string());
  QCOMPARE(r.fileBytes, int64_t(fs::file_size(out)));
  QVERIFY2(r.tokenizer.rfind("gpt2 (pre ", 0) == 0, r.tokenizer.c_str());
  compareTensors(tinyDir(), out, dt);
  compareConfigs(duo::readHfConfig(tinyDir()), duo::openWeightSource(out)->config());

  const auto a = duo::Tokenizer::fromJsonFile(tinyDir() + "/tokenizer.json");
  const auto b = duo::Tokenizer::fromSpec(duo::ggufTokenizerSpec(out));
  for (const char* t : kTexts) QVERIFY2(a->encode(t, false) == b->encode(t, false), t);
  QCOMPARE(b->addsBos(), a->addsBos());
  QCOMPARE(b->vocabSize(), a->vocabSize());
  for (const auto& e : fs::directory_iterator(m_tmp.path().toStdString()))
    QVERIFY2(e.path().string().find(".partial-") == std::string::npos, "a partial file was left");
}

void TestGgufExport::architectures_data() {
  QTest::addColumn<QString>("arch");
  QTest::addColumn<QString>("rope");
  QTest::newRow("llama3 rope (LLaMA-3.2 style, tied)") << "llama" << "llama3";
  QTest::newRow("linear rope, untied") << "llama" << "linear";
  QTest::newRow("qwen2 biases") << "qwen2" << "";
  QTest::newRow("mistral, window >= context") << "mistral" << "";
}

// Random models at tiny's vocabulary (its tokenizer.json) in each architecture variant.
void TestGgufExport::architectures() {
  QFETCH(QString, arch);
  QFETCH(QString, rope);
  duo::RandomModelOptions o;
  duo::ModelConfig& c = o.config;
  c = duo::readHfConfig(tinyDir());
  c.architecture = arch.toStdString();
  c.attentionBias = arch == "qwen2";
  c.tieWordEmbeddings = rope != "linear";
  c.ropeScaling.type = rope.toStdString();
  if (rope == "llama3") c.ropeScaling = {"llama3", 32.0, 1.0, 4.0, 64, {}}, c.ropeTheta = 500000;
  if (rope == "linear") c.ropeScaling.factor = 4.0;
  if (arch == "mistral") c.slidingWindow = c.maxPositions;
  o.dtype = torch::kFloat32;
  o.seed = 3;
  o.tokenizerSource = tinyDir() + "/tokenizer.json";
  const std::string dir = path("m-" + arch.toStdString() + "-" + rope.toStdString());
  duo::writeRandomModel(dir, o);
  const std::string out = dir + ".gguf";
  auto src = duo::openWeightSource(dir);
  duo::GgufExportOptions go;
  go.dtype = torch::kFloat32;
  duo::exportGguf(*src, duo::exportTokenizerSpec(dir), out, go);
  compareTensors(dir, out, torch::kFloat32);
  const duo::ModelConfig back = duo::openWeightSource(out)->config();
  compareConfigs(duo::readHfConfig(dir), back);
  QCOMPARE(back.architecture, arch == "qwen2" ? std::string("qwen2") : std::string("llama"));
  QCOMPARE(back.ropeScaling.type, rope == "llama3" ? std::string("rope_freqs") : rope.toStdString());
}

// A SentencePiece model (tokenizer.model): exported as tokenizer.ggml.model "llama" with its
// scores; the GGUF's tokenizer encodes like the tokenizer.model.
void TestGgufExport::sentencePiece() {
  const std::string spm = dataDir() + "/tokenizers/spm-bpe.model";
  const duo::TokenizerSpec spec = duo::spmTokenizerSpec(spm);
  duo::RandomModelOptions o;
  o.config = duo::readHfConfig(tinyDir());
  o.config.vocabSize = static_cast<int64_t>(spec.tokens.size()) + 3;  // padded rows, as real models have
  o.config.bosTokenId = spec.bosId;
  o.config.eosTokenId = spec.eosId;
  o.dtype = torch::kFloat32;
  const std::string dir = path("spm-model");
  duo::writeRandomModel(dir, o);
  fs::remove(dir + "/tokenizer.json");
  fs::copy_file(spm, dir + "/tokenizer.model");
  const std::string out = path("spm-model.gguf");
  auto src = duo::openWeightSource(dir);
  const duo::GgufExportResult r = duo::exportGguf(*src, duo::exportTokenizerSpec(dir), out);
  QCOMPARE(r.tokenizer, std::string("llama"));
  const duo::TokenizerSpec back = duo::ggufTokenizerSpec(out);
  QCOMPARE(back.model, std::string("llama"));
  QCOMPARE(back.tokens.size(), size_t(o.config.vocabSize));
  QCOMPARE(std::vector<std::string>(back.tokens.begin(), back.tokens.begin() + long(spec.tokens.size())), spec.tokens);
  QCOMPARE(back.tokens.back(), "[PAD" + std::to_string(o.config.vocabSize - 1) + "]");
  QCOMPARE(std::vector<float>(back.scores.begin(), back.scores.begin() + long(spec.scores.size())), spec.scores);
  const auto a = duo::Tokenizer::fromSpec(spec);
  const auto b = duo::Tokenizer::fromSpec(back);
  for (const char* t : kTexts) QVERIFY2(a->encode(t, true) == b->encode(t, true), t);
}

void TestGgufExport::refusals() {
  duo::RandomModelOptions o;
  o.config = duo::readHfConfig(tinyDir());
  o.dtype = torch::kFloat32;
  o.tokenizerSource = tinyDir() + "/tokenizer.json";
  const auto make = [&](const std::string& name, const std::function<void(duo::ModelConfig&)>& edit) {
    duo::RandomModelOptions m = o;
    edit(m.config);
    const std::string dir = path(name);
    duo::writeRandomModel(dir, m);
    return dir;
  };
  const std::string window = make("window", [](duo::ModelConfig& c) {
    c.architecture = "mistral";
    c.slidingWindow = 8;
  });
  auto w = duo::openWeightSource(window);
  expectError([&] { duo::exportGguf(*w, duo::exportTokenizerSpec(window), path("w.gguf")); },
              {window, "sliding_window 8 is shorter than the context", "no sliding window"});
  const std::string dynamic = make("dynamic", [](duo::ModelConfig& c) { c.ropeScaling = {"dynamic", 2.0, 1, 4, 64, {}}; });
  auto d = duo::openWeightSource(dynamic);
  expectError([&] { duo::exportGguf(*d, duo::exportTokenizerSpec(dynamic), path("d.gguf")); },
              {dynamic, "rope_scaling dynamic has no GGUF form"});
  const std::string spmJson = dataDir() + "/tokenizers/spm-llama2-style.json";
  expectError([&] { duo::tokenizerJsonSpec(spmJson); }, {spmJson, "GGUF export needs the model's tokenizer.model"});

  // Cancelled half way: nothing at the destination, no partial file beside it.
  auto src = duo::openWeightSource(tinyDir());
  int calls = 0;
  const std::string out = path("cancelled.gguf");
  QVERIFY_EXCEPTION_THROWN(duo::exportGguf(*src, duo::exportTokenizerSpec(tinyDir()), out, {},
                                           [&](const duo::Progress&) { return ++calls < 5; }),
                           duo::Cancelled);
  QVERIFY(!fs::exists(out));
  for (const auto& e : fs::directory_iterator(m_tmp.path().toStdString()))
    QVERIFY2(e.path().filename().string().rfind("cancelled.gguf.partial", 0) != 0, "a partial file was left");
}

QTEST_GUILESS_MAIN(TestGgufExport)
#include "test_gguf_export.moc"
