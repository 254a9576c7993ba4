// SPDX-License-Identifier: GPL-3.0-or-later
// core/model/io GGUF models: a hand-made tiny llama/qwen2 GGUF (mixed F32/F16/BF16/Q8_0 storage,
// q/k rows permuted the way llama.cpp's converter does) loads back to the HF-order weights;
// metadata -> ModelConfig and TokenizerSpec, with every refusal naming the file and the key.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/io/dequant.h"
#include "core/model/io/gguf_model.h"
#include "core/model/io/loader.h"
#include "core/model/io/model_info.h"
#include "core/model/io/tensor_names.h"
#include "unit/test_gguf_builder.h"

using duo::test::GgufBuilder;

namespace {

struct TinyOptions {
  std::string arch = "llama";
  bool tied = true;
  std::set<std::string> omit;                                  // tensors left out
  std::map<std::string, std::vector<uint64_t>> neOverride;     // ggml dims written instead
  std::string nanTensor;                                       // an F32 tensor given a NaN
  std::function<void(GgufBuilder&)> extra;                     // more metadata / tensors
  bool tokenizer = true;
};

struct Tiny {
  std::string bytes;
  duo::LlamaWeights want;  // HF order, the values the loader must return
};

std::string raw(const torch::Tensor& t, int bytesPerElem) {
  return std::string(static_cast<const char*>(t.data_ptr()), size_t(t.numel() * bytesPerElem));
}

// Random tiny model -> GGUF bytes. Storage: embed F16, v BF16, o Q8_0, rest F32.
Tiny makeTiny(const TinyOptions& o) {
  duo::ModelConfig c;
  c.architecture = o.arch;
  c.vocabSize = 40;
  c.hiddenSize = 32;
  c.intermediateSize = 64;
  c.numLayers = 2;
  c.numHeads = 4;
  c.numKvHeads = 2;
  c.headDim = 8;
  c.maxPositions = 128;
  c.rmsNormEps = 1e-6;
  c.ropeTheta = 50000;
  c.tieWordEmbeddings = o.tied;
  c.attentionBias = o.arch == "qwen2";
  c.bosTokenId = 1;
  c.eosTokenId = 2;

  GgufBuilder b;
  const std::string p = o.arch + ".";
  b.kvStr("general.architecture", o.arch);
  b.kvStr("general.name", "tiny test");
  b.kvU32(p + "context_length", 128);
  b.kvU32(p + "embedding_length", 32);
  b.kvU32(p + "feed_forward_length", 64);
  b.kvU32(p + "block_count", 2);
  b.kvU32(p + "attention.head_count", 4);
  b.kvU32(p + "attention.head_count_kv", 2);
  b.kvF32(p + "rope.freq_base", 50000);
  b.kvF32(p + "attention.layer_norm_rms_epsilon", 1e-6f);
  if (o.tokenizer) {
    b.kvStr("tokenizer.ggml.model", "llama");
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (int i = 0; i < 40; ++i) {
      tokens.push_back(i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "\xe2\x96\x81t" + std::to_string(i));
      scores.push_back(-float(i));
      types.push_back(i < 3 ? (i == 0 ? 2 : 3) : 1);
    }
    b.kvStrArray("tokenizer.ggml.tokens", tokens);
    b.kvF32Array("tokenizer.ggml.scores", scores);
    b.kvI32Array("tokenizer.ggml.token_type", types);
    b.kvU32("tokenizer.ggml.bos_token_id", 1);
    b.kvU32("tokenizer.ggml.eos_token_id", 2);
    b.kvU32("tokenizer.ggml.unknown_token_id", 0);
  }
  if (o.extra) o.extra(b);

  torch::manual_seed(3);
  duo::LlamaWeights w;
  w.config = c;
  w.layers.resize(2);
  for (const duo::TensorSlot& slot : duo::modelSlots(c)) {
    const std::string name = duo::tensorName(duo::NameFormat::Gguf, slot);
    const std::vector<int64_t> shape = duo::expectedShape(c, slot);
    torch::Tensor hf = torch::randn(shape, torch::kFloat32);  // HF order, f32
    std::string data;
    uint32_t type = 0;
    if (slot.kind == duo::TensorKind::Embed) {  // F16
      type = 1;
      torch::Tensor h = torch::empty(shape, torch::kInt16);
      for (int64_t i = 0; i < hf.numel(); ++i) {
        const uint16_t v = duo::floatToHalf(hf.data_ptr<float>()[i]);
        std::memcpy(h.data_ptr<int16_t>() + i, &v, 2);
        hf.data_ptr<float>()[i] = duo::halfToFloat(v);
      }
      data = raw(h, 2);
    } else if (slot.kind == duo::TensorKind::Proj && slot.proj == duo::Proj::V) {  // BF16
      type = 30;
      torch::Tensor h = torch::empty(shape, torch::kInt16);
      for (int64_t i = 0; i < hf.numel(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, hf.data_ptr<float>() + i, 4);
        const uint16_t v = uint16_t(bits >> 16);
        std::memcpy(h.data_ptr<int16_t>() + i, &v, 2);
        hf.data_ptr<float>()[i] = duo::bf16ToFloat(v);
      }
      data = raw(h, 2);
    } else if (slot.kind == duo::TensorKind::Proj && slot.proj == duo::Proj::O) {  // Q8_0
      type = 8;
      const int64_t blocks = hf.numel() / 32;
      for (int64_t k = 0; k < blocks; ++k) {
        std::string blk(34, '\0');
        const uint16_t d = duo::floatToHalf(0.01f * float(1 + k % 7));
        std::memcpy(blk.data(), &d, 2);
        for (int j = 0; j < 32; ++j) blk[size_t(2 + j)] = char(int8_t((k * 31 + j * 7) % 255 - 127));
        data += blk;
      }
      duo::dequantize(duo::GgmlType::Q8_0, data.data(), hf.data_ptr<float>(), hf.numel());
    } else {  // F32; llama's q/k rows go in permuted
      torch::Tensor stored = hf;
      if (o.arch == "llama" && slot.kind == duo::TensorKind::Proj && slot.proj == duo::Proj::Q)
        stored = duo::permuteGgufQk(hf, c.numHeads);
      if (o.arch == "llama" && slot.kind == duo::TensorKind::Proj && slot.proj == duo::Proj::K)
        stored = duo::permuteGgufQk(hf, c.numKvHeads);
      stored = stored.contiguous().clone();
      if (name == o.nanTensor) stored.view(-1)[3] = std::nanf("");
      data = raw(stored, 4);
    }
    duo::LayerWeights* L = slot.layer >= 0 ? &w.layers[size_t(slot.layer)] : nullptr;
    switch (slot.kind) {
      case duo::TensorKind::Embed: w.embed = hf; break;
      case duo::TensorKind::FinalNorm: w.finalNorm = hf; break;
      case duo::TensorKind::LmHead: w.lmHead = hf; break;
      case duo::TensorKind::AttnNorm: L->attnNorm = hf; break;
      case duo::TensorKind::MlpNorm: L->mlpNorm = hf; break;
      case duo::TensorKind::Proj: L->w(slot.proj) = hf; break;
      case duo::TensorKind::QBias: L->qBias = hf; break;
      case duo::TensorKind::KBias: L->kBias = hf; break;
      case duo::TensorKind::VBias: L->vBias = hf; break;
    }
    if (o.omit.count(name)) continue;
    std::vector<uint64_t> ne(shape.rbegin(), shape.rend());
    if (o.neOverride.count(name)) ne = o.neOverride.at(name);
    b.tensor(name, ne, type, data);
  }
  if (o.tied) w.lmHead = w.embed;
  return {b.build(), w};
}

std::string writeTemp(const QTemporaryDir& dir, const std::string& bytes, const char* name = "tiny.gguf") {
  const std::string path = dir.filePath(name).toStdString();
  duo::writeFileAtomic(path, bytes);
  return path;
}

void compare(const duo::LlamaWeights& got, const duo::LlamaWeights& want) {
  QVERIFY(torch::equal(got.embed, want.embed));
  QVERIFY(torch::equal(got.finalNorm, want.finalNorm));
  QVERIFY(torch::equal(got.lmHead, want.lmHead));
  for (size_t l = 0; l < want.layers.size(); ++l) {
    for (int p = 0; p < duo::kNumProj; ++p)
      QVERIFY2(torch::equal(got.layers[l].proj[size_t(p)], want.layers[l].proj[size_t(p)]),
               qPrintable(QString("layer %1 %2").arg(l).arg(duo::projName(static_cast<duo::Proj>(p)))));
    QVERIFY(torch::equal(got.layers[l].attnNorm, want.layers[l].attnNorm));
    QVERIFY(torch::equal(got.layers[l].mlpNorm, want.layers[l].mlpNorm));
    QCOMPARE(got.layers[l].qBias.defined(), want.layers[l].qBias.defined());
    if (want.layers[l].qBias.defined()) {
      QVERIFY(torch::equal(got.layers[l].qBias, want.layers[l].qBias));
      QVERIFY(torch::equal(got.layers[l].kBias, want.layers[l].kBias));
      QVERIFY(torch::equal(got.layers[l].vBias, want.layers[l].vBias));
    }
  }
}

}  // namespace

class TestGgufModel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void loads_data();
  void loads();
  void configFaults_data();
  void configFaults();
  void weightFaults_data();
  void weightFaults();
  void tokenizerSpec();
  void tokenizerFaults_data();
  void tokenizerFaults();
  void inspect();
  void readsFileWrittenByGgufPackage();
  void ropeScalingRead();
};

// LLaMA-3.x's rope_freqs.weight (read from the file, ignored as a weight) and linear scaling keys.
void TestGgufModel::ropeScalingRead() {
  TinyOptions o;
  o.extra = [](GgufBuilder& b) { b.tensorF32("rope_freqs.weight", {4}, {1.0f, 1.5f, 8.0f, 8.0f}); };
  QTemporaryDir dir;
  const std::string path = writeTemp(dir, makeTiny(o).bytes);
  const duo::LlamaWeights w = duo::loadWeights(path);
  QCOMPARE(w.config.ropeScaling.type, std::string("rope_freqs"));
  QCOMPARE(w.config.ropeScaling.freqFactors, (std::vector<double>{1.0, 1.5, 8.0, 8.0}));
  QCOMPARE(duo::loadModelConfig(path).ropeScaling.freqFactors.size(), size_t(4));
  QVERIFY(duo::isIgnorableTensorName(duo::NameFormat::Gguf, "rope_freqs.weight"));
  QVERIFY(!duo::isIgnorableTensorName(duo::NameFormat::Gguf, "blk.0.rope_freqs.weight"));
  // without the file's bytes the tensor cannot be read: the error says so
  const duo::GgufFile f(path);
  try {
    duo::ggufModelConfig(f.header(), path, nullptr);
    QFAIL("accepted");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("rope_freqs.weight needs the file's data"), e.what());
  }
  for (const char* key : {"scale_linear", "scaling"}) {
    TinyOptions lin;
    lin.extra = [key](GgufBuilder& b) {
      if (std::string(key) == "scaling") {
        b.kvStr("llama.rope.scaling.type", "linear");
        b.kvF32("llama.rope.scaling.factor", 4.0f);
      } else {
        b.kvF32("llama.rope.scale_linear", 4.0f);
      }
    };
    QTemporaryDir d2;
    const duo::ModelConfig c = duo::loadModelConfig(writeTemp(d2, makeTiny(lin).bytes));
    QCOMPARE(c.ropeScaling.type, std::string("linear"));
    QCOMPARE(c.ropeScaling.factor, 4.0);
  }
}

void TestGgufModel::loads_data() {
  QTest::addColumn<QString>("arch");
  QTest::addColumn<bool>("tied");
  QTest::newRow("llama tied") << "llama" << true;
  QTest::newRow("llama untied") << "llama" << false;
  QTest::newRow("qwen2 biases") << "qwen2" << false;
}

void TestGgufModel::loads() {
  QFETCH(QString, arch);
  QFETCH(bool, tied);
  TinyOptions o;
  o.arch = arch.toStdString();
  o.tied = tied;
  const Tiny t = makeTiny(o);
  QTemporaryDir dir;
  const duo::LlamaWeights w = duo::loadWeights(writeTemp(dir, t.bytes));
  const duo::ModelConfig& c = w.config;
  QCOMPARE(c.architecture, o.arch);
  QCOMPARE(c.hiddenSize, int64_t(32));
  QCOMPARE(c.numKvHeads, int64_t(2));
  QCOMPARE(c.headDim, int64_t(8));
  QCOMPARE(c.vocabSize, int64_t(40));  // from the token list (no vocab_size key)
  QCOMPARE(c.maxPositions, int64_t(128));
  QCOMPARE(c.ropeTheta, 50000.0);
  QCOMPARE(c.rmsNormEps, double(1e-6f));
  QCOMPARE(c.tieWordEmbeddings, tied);
  QCOMPARE(c.attentionBias, o.arch == "qwen2");
  QCOMPARE(c.bosTokenId, int64_t(1));
  QCOMPARE(w.lmHead.is_same(w.embed), tied);
  compare(w, t.want);
}

void TestGgufModel::configFaults_data() {
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QString>("fault");
  QTest::newRow("unknown architecture") << "arch" << "general.architecture 'gptneox' is not supported";
  QTest::newRow("rope scaling") << "rope" << "metadata 'llama.rope.scaling.type' = 'yarn' is not supported (none and linear are)";
  QTest::newRow("rope_freqs size") << "rope_freqs" << "tensor 'rope_freqs.weight': expected [4] (head dimension / 2), got [3]";
  QTest::newRow("rope_freqs zero") << "rope_freqs0" << "tensor 'rope_freqs.weight': factor 2 = 0 (expected finite and > 0)";
  QTest::newRow("rope_freqs + linear") << "rope_freqs_linear" << "rope_freqs.weight together with linear RoPE scaling";
  QTest::newRow("partial rope") << "partial" << "rope.dimension_count 4 != head dimension 8";
  QTest::newRow("kv heads not dividing") << "kv" << "head_count 4 is not a multiple of head_count_kv 3";
  QTest::newRow("block_count wrong type") << "type" << "metadata 'llama.block_count' should be an integer, is STRING";
  QTest::newRow("absurd layer count") << "layers" << "metadata 'llama.block_count' = 100000 is outside [1, 1024]";
}

void TestGgufModel::configFaults() {
  QFETCH(QString, kind);
  QFETCH(QString, fault);
  TinyOptions o;
  const std::string k = kind.toStdString();
  GgufBuilder b;
  if (k == "arch") {
    b.kvStr("general.architecture", "gptneox");
  } else {
    b.kvStr("general.architecture", "llama");
    b.kvU32("llama.embedding_length", 32);
    b.kvU32("llama.feed_forward_length", 64);
    if (k == "type") b.kvStr("llama.block_count", "2");
    else b.kvU32("llama.block_count", k == "layers" ? 100000 : 2);
    b.kvU32("llama.attention.head_count", 4);
    b.kvU32("llama.attention.head_count_kv", k == "kv" ? 3 : 2);
    b.kvU32("llama.vocab_size", 40);
    if (k == "rope") b.kvStr("llama.rope.scaling.type", "yarn");
    if (k == "partial") b.kvU32("llama.rope.dimension_count", 4);
    if (k == "rope_freqs") b.tensorF32("rope_freqs.weight", {3}, {1, 1, 1});
    if (k == "rope_freqs0") b.tensorF32("rope_freqs.weight", {4}, {1, 2, 0, 4});
    if (k == "rope_freqs_linear") {
      b.tensorF32("rope_freqs.weight", {4}, {1, 1, 1, 1});
      b.kvF32("llama.rope.scale_linear", 2.0f);
    }
  }
  const std::string bytes = b.build();
  const duo::GgufHeader h = duo::parseGguf(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "cfg.gguf");
  try {
    duo::ggufModelConfig(h, "cfg.gguf", reinterpret_cast<const uint8_t*>(bytes.data()));
    QFAIL("accepted");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).startsWith("cfg.gguf: "), e.what());
    QVERIFY2(QString(e.what()).contains(fault), e.what());
  }
}

void TestGgufModel::weightFaults_data() {
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QString>("fault");
  QTest::newRow("missing tensor") << "missing" << "missing tensor 'blk.1.ffn_up.weight'";
  QTest::newRow("wrong shape") << "shape" << "tensor 'blk.0.attn_k.weight': expected [16, 32], got [8, 32]";
  QTest::newRow("NaN") << "nan" << "tensor 'blk.1.ffn_down.weight' contains 1 non-finite values";
  QTest::newRow("unexpected tensor") << "extra" << "unexpected tensor 'blk.0.attn_q_norm.weight'";
  QTest::newRow("unsupported storage") << "i8" << "tensor 'output.weight': storage type I8 is not supported";
  QTest::newRow("layer out of range") << "layer" << "tensor 'blk.7.ffn_norm.weight' belongs to layer 7";
}

void TestGgufModel::weightFaults() {
  QFETCH(QString, kind);
  QFETCH(QString, fault);
  TinyOptions o;
  const std::string k = kind.toStdString();
  if (k == "missing") o.omit = {"blk.1.ffn_up.weight"};
  if (k == "shape") o.neOverride["blk.0.attn_k.weight"] = {32, 8};
  if (k == "nan") o.nanTensor = "blk.1.ffn_down.weight";
  if (k == "extra") o.extra = [](GgufBuilder& b) { b.tensorF32("blk.0.attn_q_norm.weight", {8}, std::vector<float>(8)); };
  if (k == "layer") o.extra = [](GgufBuilder& b) { b.tensorF32("blk.7.ffn_norm.weight", {32}, std::vector<float>(32)); };
  if (k == "i8") {
    o.tied = true;  // output.weight below makes it untied, stored as I8 (integers: not weights we decode)
    o.extra = [](GgufBuilder& b) { b.tensor("output.weight", {32, 40}, 24, std::string(40 * 32, '\0')); };
  }
  const Tiny t = makeTiny(o);
  QTemporaryDir dir;
  const std::string path = writeTemp(dir, t.bytes);
  try {
    duo::loadWeights(path);
    QFAIL("accepted");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(path) + ": "), e.what());
    QVERIFY2(QString(e.what()).contains(fault), e.what());
  }
}

void TestGgufModel::tokenizerSpec() {
  QTemporaryDir dir;
  const std::string path = writeTemp(dir, makeTiny({}).bytes);
  const duo::TokenizerSpec s = duo::ggufTokenizerSpec(path);
  QCOMPARE(s.model, std::string("llama"));
  QCOMPARE(s.pre, std::string("default"));
  QCOMPARE(s.tokens.size(), size_t(40));
  QCOMPARE(s.tokens[5], std::string("\xe2\x96\x81t5"));
  QCOMPARE(s.scores.size(), size_t(40));
  QCOMPARE(s.scores[7], -7.0f);
  QCOMPARE(s.tokenTypes[0], 2);
  QCOMPARE(s.tokenTypes[1], 3);
  QVERIFY(s.merges.empty());
  QCOMPARE(s.bosId, int64_t(1));
  QCOMPARE(s.eosId, int64_t(2));
  QCOMPARE(s.unkId, int64_t(0));
  QCOMPARE(s.padId, int64_t(-1));
  QVERIFY(s.addBos);          // llama.cpp's SentencePiece defaults when the keys are absent
  QVERIFY(s.addSpacePrefix);
}

void TestGgufModel::tokenizerFaults_data() {
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QString>("fault");
  QTest::newRow("no tokenizer") << "none" << "missing metadata 'tokenizer.ggml.model'";
  QTest::newRow("unknown model") << "model" << "tokenizer.ggml.model 'bert' is not supported";
  QTest::newRow("scores size") << "scores" << "tokenizer.ggml.scores has 2 entries for 3 tokens";
  QTest::newRow("bos out of range") << "bos" << "tokenizer.ggml.bos_token_id = 3 is not a token id";
  QTest::newRow("gpt2 without merges") << "merges" << "gpt2 tokenizer without 'tokenizer.ggml.merges'";
  QTest::newRow("tokens not strings") << "tokens" << "'tokenizer.ggml.tokens' should be an array of STRING";
}

void TestGgufModel::tokenizerFaults() {
  QFETCH(QString, kind);
  QFETCH(QString, fault);
  const std::string k = kind.toStdString();
  GgufBuilder b;
  if (k != "none") b.kvStr("tokenizer.ggml.model", k == "model" ? "bert" : k == "merges" ? "gpt2" : "llama");
  if (k == "tokens") b.kvI32Array("tokenizer.ggml.tokens", {1, 2, 3});
  else b.kvStrArray("tokenizer.ggml.tokens", {"a", "b", "c"});
  if (k == "scores") b.kvF32Array("tokenizer.ggml.scores", {0, 1});
  if (k == "bos") b.kvU32("tokenizer.ggml.bos_token_id", 3);
  const std::string bytes = b.build();
  const duo::GgufHeader h = duo::parseGguf(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "tok.gguf");
  try {
    duo::ggufTokenizerSpec(h, "tok.gguf");
    QFAIL("accepted");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).startsWith("tok.gguf: "), e.what());
    QVERIFY2(QString(e.what()).contains(fault), e.what());
  }
}

void TestGgufModel::inspect() {
  TinyOptions o;
  o.tied = false;
  const Tiny t = makeTiny(o);
  QTemporaryDir dir;
  const std::string path = writeTemp(dir, t.bytes);
  const duo::ModelInfo info = duo::inspectModel(path);
  QCOMPARE(info.format, std::string("gguf"));
  QCOMPARE(info.name, std::string("tiny test"));
  QCOMPARE(info.tokenizer, std::string("llama"));
  QCOMPARE(info.parameters, t.want.config.parameterCount());
  QCOMPARE(info.tensorCount, int64_t(duo::modelSlots(t.want.config).size()));
  QCOMPARE(info.dtypeCounts.at("F16"), int64_t(1));
  QCOMPARE(info.dtypeCounts.at("BF16"), int64_t(2));
  QCOMPARE(info.dtypeCounts.at("Q8_0"), int64_t(2));
  QCOMPARE(info.dtype, std::string("F32"));
  QCOMPARE(info.fileBytes, int64_t(t.bytes.size()));
  // A GGUF file without the .gguf extension is recognised by its magic.
  const std::string renamed = writeTemp(dir, t.bytes, "tiny.bin");
  QCOMPARE(duo::inspectModel(renamed).format, std::string("gguf"));
  compare(duo::loadWeights(renamed), t.want);
}

// tests/data/models/tiny-llama-ggufwriter.gguf was written by the gguf package's GGUFWriter
// (tests/fuzz/make_seeds.py): F16/F32/Q8_0/Q4_0/Q4_1/BF16 tensors, a gpt2 tokenizer. Our reader
// must agree with the gguf package's reader (tests/reference/gguf_refs.json) on every tensor.
void TestGgufModel::readsFileWrittenByGgufPackage() {
  const char* data = std::getenv("DUO_TEST_DATA_DIR");
  const char* ref = std::getenv("DUO_REFERENCE_DIR");
  if (data == nullptr || ref == nullptr) QSKIP("DUO_TEST_DATA_DIR / DUO_REFERENCE_DIR not set (run through ctest)");
  const std::string path = std::string(data) + "/models/tiny-llama-ggufwriter.gguf";
  std::ifstream in(std::string(ref) + "/gguf_refs.json");
  QVERIFY(in.good());
  const nlohmann::json refs = nlohmann::json::parse(in)["ggufwriter_tiny"]["tensors"];
  const duo::GgufFile f(path);
  QCOMPARE(f.header().tensors.size(), refs.size());
  for (const nlohmann::json& r : refs) {
    const std::string name = r["name"];
    const duo::GgufTensorInfo* t = f.header().tensor(name);
    QVERIFY2(t != nullptr, name.c_str());
    QCOMPARE(duo::ggmlTypeName(t->type), r["type"].get<std::string>());
    QCOMPARE(t->shape(), r["shape"].get<std::vector<int64_t>>());
    std::vector<float> v(size_t(t->elements));  // [elements] f32
    f.readF32(*t, v.data());
    double sum = 0, sumAbs = 0;
    for (float x : v) sum += x, sumAbs += std::fabs(x);
    QVERIFY2(std::fabs(sum - r["sum"].get<double>()) <= 1e-9 * sumAbs, name.c_str());
    QVERIFY2(std::fabs(sumAbs - r["sum_abs"].get<double>()) <= 1e-9 * sumAbs, name.c_str());
    const auto idx = r["index"].get<std::vector<int64_t>>();
    const auto vals = r["values"].get<std::vector<double>>();
    for (size_t i = 0; i < idx.size(); ++i) QCOMPARE(double(v[size_t(idx[i])]), vals[i]);
  }
  const duo::LlamaWeights w = duo::loadWeights(path);
  QCOMPARE(w.config.hiddenSize, int64_t(32));
  QCOMPARE(w.config.numLayers, int64_t(1));
  QCOMPARE(w.config.numHeads, int64_t(2));
  QCOMPARE(w.config.numKvHeads, int64_t(1));
  QCOMPARE(w.config.headDim, int64_t(16));
  QCOMPARE(w.config.vocabSize, int64_t(8));
  QCOMPARE(w.config.bosTokenId, int64_t(5));
  QVERIFY(w.config.tieWordEmbeddings);
  QVERIFY(w.lmHead.is_same(w.embed));
  // q/k come back un-permuted: permuting them again gives the stored rows.
  std::vector<float> q(32 * 32);
  f.readF32(*f.header().tensor("blk.0.attn_q.weight"), q.data());
  QVERIFY(torch::equal(duo::permuteGgufQk(w.layers[0].w(duo::Proj::Q), 2), torch::from_blob(q.data(), {32, 32})));
  const duo::TokenizerSpec s = duo::ggufTokenizerSpec(path);
  QCOMPARE(s.model, std::string("gpt2"));
  QCOMPARE(s.pre, std::string("smollm"));
  QCOMPARE(s.tokens.size(), size_t(8));
  QCOMPARE(s.merges, (std::vector<std::string>{"a b", "\xc4\xa0 a"}));
  QVERIFY(!s.addBos);
}

QTEST_GUILESS_MAIN(TestGgufModel)
#include "test_gguf_model.moc"
