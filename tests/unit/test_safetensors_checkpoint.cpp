// SPDX-License-Identifier: GPL-3.0-or-later
// core/model/io HF checkpoints: saveHfCheckpoint -> loadWeights round trips for each family
// shape, sharded folders, F16/BF16 storage, and the faults a folder can have (each error names
// the file or folder and the fault). Also inspectModel and hfTokenizerPath on folders.
#include <QTemporaryDir>
#include <QtTest>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/io/bitmask.h"
#include "core/model/io/dequant.h"
#include "core/model/io/loader.h"
#include "core/model/io/model_info.h"
#include "core/model/io/model_writer.h"
#include "core/model/io/safetensors.h"
#include "core/model/io/tensor_names.h"

#include "unit/expect_error.h"

namespace fs = std::filesystem;

namespace {

duo::ModelConfig tinyConfig(const std::string& arch, bool tied, int64_t kvHeads) {
  duo::ModelConfig c;
  c.architecture = arch;
  c.vocabSize = 32;
  c.hiddenSize = 16;
  c.intermediateSize = 24;
  c.numLayers = 2;
  c.numHeads = 4;
  c.numKvHeads = kvHeads;
  c.headDim = 4;
  c.maxPositions = 64;
  c.rmsNormEps = 1e-5;
  c.ropeTheta = 10000;
  c.tieWordEmbeddings = tied;
  c.attentionBias = arch == "qwen2";
  c.bosTokenId = 1;
  c.eosTokenId = 2;
  return c;
}

// Random weights of the right shapes (fixed seed).
duo::LlamaWeights tinyWeights(const duo::ModelConfig& c, uint64_t seed = 1) {
  torch::manual_seed(seed);
  duo::LlamaWeights w;
  w.config = c;
  auto rnd = [](std::vector<int64_t> s) { return torch::randn(s, torch::kFloat32); };
  w.embed = rnd({c.vocabSize, c.hiddenSize});
  w.finalNorm = rnd({c.hiddenSize});
  w.lmHead = c.tieWordEmbeddings ? w.embed : rnd({c.vocabSize, c.hiddenSize});
  for (int l = 0; l < c.numLayers; ++l) {
    duo::LayerWeights L;
    L.attnNorm = rnd({c.hiddenSize});
    L.mlpNorm = rnd({c.hiddenSize});
    for (int p = 0; p < duo::kNumProj; ++p)
      L.proj[size_t(p)] = rnd(duo::expectedShape(c, {duo::TensorKind::Proj, l, static_cast<duo::Proj>(p)}));
    if (c.attentionBias) {
      L.qBias = rnd({c.qDim()});
      L.kBias = rnd({c.kvDim()});
      L.vBias = rnd({c.kvDim()});
    }
    w.layers.push_back(L);
  }
  return w;
}

void compareWeights(const duo::LlamaWeights& a, const duo::LlamaWeights& b) {
  const duo::NamedTensors ta = duo::hfNamedTensors(a), tb = duo::hfNamedTensors(b);
  QCOMPARE(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    QCOMPARE(ta[i].first, tb[i].first);
    QVERIFY2(torch::equal(ta[i].second, tb[i].second), ta[i].first.c_str());
  }
}

size_t entries(const fs::path& p) {
  return size_t(std::distance(fs::directory_iterator(p), fs::directory_iterator{}));
}

using duo::test::expectError;

// Rewrites one tensor of <dir>/model.safetensors through `edit`, keeping all others.
void editTensors(const std::string& dir, const std::function<void(duo::NamedTensors&)>& edit) {
  const std::string path = dir + "/model.safetensors";
  duo::NamedTensors ts;
  {
    const duo::SafetensorsFile f(path);
    for (const auto& t : f.header().tensors) {
      torch::Tensor x = torch::empty(t.shape, torch::kFloat32);
      f.readF32(t, x.data_ptr<float>());
      ts.emplace_back(t.name, x);
    }
  }
  edit(ts);
  duo::saveSafetensors(path, ts);
}

// Zeroes about half of every projection (a fixed random mask) and makes one kept weight -0.0,
// which compressed-tensors counts as zero too.
duo::LlamaWeights halfPruned(duo::LlamaWeights w) {
  torch::manual_seed(7);
  for (auto& L : w.layers)
    for (auto& p : L.proj) p = p * (torch::rand(p.sizes()) < 0.5).to(torch::kFloat32);
  w.layers[0].proj[0].view(-1)[0] = -0.0f;
  return w;
}

// Bytes the projections take in a folder's safetensors (all their stored parts).
int64_t projectionBytes(const fs::path& dir) {
  int64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") {
      const duo::SafetensorsFile f(e.path().string());
      for (const auto& t : f.header().tensors)
        if (t.name.find("_proj.") != std::string::npos) n += int64_t(t.end - t.begin);
    }
  return n;
}

// Rewrites <file> without tensor `drop` (the others' bytes copied as they are).
void dropTensor(const std::string& file, const std::string& drop) {
  std::string data, ordered;
  nlohmann::ordered_json header;
  {
    const duo::SafetensorsFile f(file);
    for (const auto& t : f.header().tensors) {
      if (t.name == drop) continue;
      header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + (t.end - t.begin)}}};
      data.append(reinterpret_cast<const char*>(f.tensorBytes(t)), t.end - t.begin);
    }
  }
  const std::string text = header.dump();
  std::string out(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  duo::writeFileAtomic(file, out + text + data);
}

}  // namespace

class TestSafetensorsCheckpoint : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void roundTrip_data();
  void roundTrip();
  void extraConfigAndTokenizer();
  void replacesExistingFolder();
  void cancelLeavesNothing();
  void untiedWhenHeadEdited();
  void shardedFolder();
  void shardFaults();
  void f16AndBf16Storage();
  void weightFaults();
  void folderFaults();
  void inspectFolder();
  void tokenizerPath();
  void bitmaskCodec();
  void sparseBitmaskRoundTrip_data();
  void sparseBitmaskRoundTrip();
  void sparseBitmaskFaults();
};

void TestSafetensorsCheckpoint::roundTrip_data() {
  QTest::addColumn<QString>("arch");
  QTest::addColumn<bool>("tied");
  QTest::addColumn<int>("kvHeads");
  QTest::newRow("llama GQA untied") << "llama" << false << 2;
  QTest::newRow("llama MHA") << "llama" << false << 4;
  QTest::newRow("llama tied (SmolLM)") << "llama" << true << 2;
  QTest::newRow("mistral") << "mistral" << false << 1;
  QTest::newRow("qwen2 biases tied") << "qwen2" << true << 2;
}

void TestSafetensorsCheckpoint::roundTrip() {
  QFETCH(QString, arch);
  QFETCH(bool, tied);
  QFETCH(int, kvHeads);
  QTemporaryDir tmp;
  const std::string dir = tmp.filePath("model").toStdString();
  const duo::LlamaWeights w = tinyWeights(tinyConfig(arch.toStdString(), tied, kvHeads));
  duo::saveHfCheckpoint(w, dir);
  const duo::LlamaWeights r = duo::loadWeights(dir);
  QCOMPARE(r.config.architecture, w.config.architecture);
  QCOMPARE(r.config.numKvHeads, w.config.numKvHeads);
  QCOMPARE(r.config.tieWordEmbeddings, tied);
  QCOMPARE(r.config.attentionBias, w.config.attentionBias);
  QCOMPARE(r.config.rmsNormEps, w.config.rmsNormEps);
  QCOMPARE(r.config.bosTokenId, int64_t(1));
  compareWeights(w, r);
  QCOMPARE(r.lmHead.is_same(r.embed), tied);
  // tied checkpoints store no lm_head.weight
  const duo::SafetensorsFile f(dir + "/model.safetensors");
  QCOMPARE(f.header().find("lm_head.weight") == nullptr, tied);
  QCOMPARE(entries(tmp.path().toStdString()), size_t(1));  // no temp folders left
  // a file inside the folder stands for the folder
  QCOMPARE(duo::loadModelConfig(dir + "/config.json").numKvHeads, w.config.numKvHeads);
  compareWeights(w, duo::loadWeights(dir + "/model.safetensors"));
}

void TestSafetensorsCheckpoint::extraConfigAndTokenizer() {
  QTemporaryDir tmp;
  const std::string tok = tmp.filePath("tokenizer.json").toStdString();
  duo::writeFileAtomic(tok, std::string(R"({"model":{"type":"BPE"},"pre_tokenizer":{"type":"ByteLevel"}})"));
  const std::string dir = tmp.filePath("out/pruned").toStdString();  // parent created on demand
  const nlohmann::json extra = {{"sparsity_config", {{"method", "duogpt"}, {"sparsity", 0.5}}}, {"rope_theta", 5e5}};
  duo::saveHfCheckpoint(tinyWeights(tinyConfig("llama", false, 2)), dir, extra, tok);
  const nlohmann::json cfg = nlohmann::json::parse(duo::readFile(dir + "/config.json"));
  QCOMPARE(cfg["sparsity_config"]["method"].get<std::string>(), std::string("duogpt"));
  QCOMPARE(cfg["rope_theta"].get<double>(), 5e5);  // extra keys win
  QCOMPARE(duo::readFile(dir + "/tokenizer.json"), duo::readFile(tok));
  QCOMPARE(duo::loadModelConfig(dir).ropeTheta, 5e5);
}

void TestSafetensorsCheckpoint::replacesExistingFolder() {
  QTemporaryDir tmp;
  const std::string dir = tmp.filePath("m").toStdString();
  duo::saveHfCheckpoint(tinyWeights(tinyConfig("llama", false, 2), 1), dir);
  duo::writeFileAtomic(dir + "/stale.txt", std::string("old"));
  const duo::LlamaWeights w2 = tinyWeights(tinyConfig("llama", false, 2), 2);
  duo::saveHfCheckpoint(w2, dir);
  compareWeights(w2, duo::loadWeights(dir));
  QVERIFY(!fs::exists(dir + "/stale.txt"));  // the folder is replaced, not merged
  QCOMPARE(entries(tmp.path().toStdString()), size_t(1));
}

void TestSafetensorsCheckpoint::cancelLeavesNothing() {
  QTemporaryDir tmp;
  const std::string dir = tmp.filePath("m").toStdString();
  const duo::LlamaWeights w1 = tinyWeights(tinyConfig("llama", false, 2), 1);
  duo::ProgressFn cancelMidway = [](const duo::Progress& p) { return !(p.stage == "save" && p.done >= 5); };
  QVERIFY_THROWS_EXCEPTION(duo::Cancelled, duo::saveHfCheckpoint(w1, dir, {}, "", cancelMidway));
  QCOMPARE(entries(tmp.path().toStdString()), size_t(0));  // nothing half-written
  duo::saveHfCheckpoint(w1, dir);
  QVERIFY_THROWS_EXCEPTION(duo::Cancelled,
                           duo::saveHfCheckpoint(tinyWeights(w1.config, 2), dir, {}, "", cancelMidway));
  compareWeights(w1, duo::loadWeights(dir));  // the previous checkpoint is intact
  QCOMPARE(entries(tmp.path().toStdString()), size_t(1));
}

void TestSafetensorsCheckpoint::untiedWhenHeadEdited() {
  QTemporaryDir tmp;
  duo::LlamaWeights w = tinyWeights(tinyConfig("llama", true, 2));
  w.lmHead = w.embed.clone() * 0.5;  // e.g. pruned separately
  const std::string dir = tmp.filePath("m").toStdString();
  duo::saveHfCheckpoint(w, dir);
  const duo::LlamaWeights r = duo::loadWeights(dir);
  QVERIFY(!r.config.tieWordEmbeddings);
  QVERIFY(torch::equal(r.lmHead, w.lmHead));
}

void TestSafetensorsCheckpoint::shardedFolder() {
  QTemporaryDir tmp;
  const std::string dir = tmp.path().toStdString();
  const duo::LlamaWeights w = tinyWeights(tinyConfig("llama", false, 2));
  duo::writeFileAtomic(dir + "/config.json", duo::hfConfigJson(w.config).dump());
  const duo::NamedTensors all = duo::hfNamedTensors(w);
  duo::NamedTensors s1(all.begin(), all.begin() + 10), s2(all.begin() + 10, all.end());
  duo::saveSafetensors(dir + "/model-00001-of-00002.safetensors", s1);
  duo::saveSafetensors(dir + "/model-00002-of-00002.safetensors", s2);
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  for (const auto& [n, t] : s1) index["weight_map"][n] = "model-00001-of-00002.safetensors";
  for (const auto& [n, t] : s2) index["weight_map"][n] = "model-00002-of-00002.safetensors";
  duo::writeFileAtomic(dir + "/model.safetensors.index.json", index.dump());
  compareWeights(w, duo::loadWeights(dir));
  const duo::ModelInfo info = duo::inspectModel(dir);
  QCOMPARE(info.tensorCount, int64_t(all.size()));
  QCOMPARE(info.parameters, w.config.parameterCount());
  QCOMPARE(info.fileBytes, int64_t(fs::file_size(dir + "/model-00001-of-00002.safetensors") +
                                   fs::file_size(dir + "/model-00002-of-00002.safetensors")));
}

void TestSafetensorsCheckpoint::shardFaults() {
  QTemporaryDir tmp;
  const std::string dir = tmp.path().toStdString();
  const duo::LlamaWeights w = tinyWeights(tinyConfig("llama", false, 2));
  duo::writeFileAtomic(dir + "/config.json", duo::hfConfigJson(w.config).dump());
  const duo::NamedTensors all = duo::hfNamedTensors(w);
  duo::saveSafetensors(dir + "/a.safetensors", duo::NamedTensors(all.begin(), all.begin() + 10));
  duo::saveSafetensors(dir + "/b.safetensors", duo::NamedTensors(all.begin() + 9, all.end()));  // one shared
  const std::string indexPath = dir + "/model.safetensors.index.json";
  auto writeIndex = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json index = {{"weight_map", nlohmann::json::object()}};
    for (size_t i = 0; i < all.size(); ++i) index["weight_map"][all[i].first] = i < 10 ? "a.safetensors" : "b.safetensors";
    edit(index);
    duo::writeFileAtomic(indexPath, index.dump());
  };
  writeIndex([](nlohmann::json&) {});
  expectError([&] { duo::loadWeights(dir); }, {"tensor '" + all[9].first + "' is in both", "a.safetensors", "b.safetensors"});
  duo::saveSafetensors(dir + "/b.safetensors", duo::NamedTensors(all.begin() + 10, all.end()));
  writeIndex([](nlohmann::json& j) { j["weight_map"]["model.norm.weight"] = "c.safetensors"; });
  expectError([&] { duo::loadWeights(dir); }, {indexPath, "shard 'c.safetensors'", "is missing"});
  writeIndex([](nlohmann::json& j) { j["weight_map"]["model.norm.weight"] = "../a.safetensors"; });
  expectError([&] { duo::loadWeights(dir); }, {indexPath, "is not a file name inside the folder"});
  writeIndex([&](nlohmann::json& j) { j["weight_map"][all[0].first] = "b.safetensors"; });
  expectError([&] { duo::loadWeights(dir); }, {indexPath, "tensor '" + all[0].first + "' is listed in shard 'b.safetensors'"});
  duo::writeFileAtomic(indexPath, std::string("{\"weight_map\": [1,"));
  expectError([&] { duo::loadWeights(dir); }, {indexPath, "not valid JSON"});
  writeIndex([](nlohmann::json&) {});
  compareWeights(w, duo::loadWeights(dir));
}

// F16/BF16 checkpoints load as the f32 value of each stored half.
void TestSafetensorsCheckpoint::f16AndBf16Storage() {
  QTemporaryDir tmp;
  const std::string dir = tmp.path().toStdString();
  const duo::LlamaWeights w = tinyWeights(tinyConfig("llama", false, 2));
  duo::writeFileAtomic(dir + "/config.json", duo::hfConfigJson(w.config).dump());
  nlohmann::ordered_json header;
  std::string data;
  std::vector<torch::Tensor> want;  // what each tensor should load as
  int i = 0;
  for (const auto& [name, t] : duo::hfNamedTensors(w)) {
    const bool bf16 = (i++ % 2) == 1;
    const torch::Tensor c = t.contiguous();
    std::vector<uint16_t> h(size_t(c.numel()));
    std::vector<float> back(h.size());
    for (size_t k = 0; k < h.size(); ++k) {
      const float x = c.data_ptr<float>()[k];
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      h[k] = bf16 ? uint16_t(bits >> 16) : duo::floatToHalf(x);  // bf16 by truncation
      back[k] = bf16 ? duo::bf16ToFloat(h[k]) : duo::halfToFloat(h[k]);
    }
    want.push_back(torch::from_blob(back.data(), c.sizes(), torch::kFloat32).clone());
    header[name] = {{"dtype", bf16 ? "BF16" : "F16"}, {"shape", c.sizes().vec()}, {"data_offsets", {data.size(), data.size() + h.size() * 2}}};
    data.append(reinterpret_cast<const char*>(h.data()), h.size() * 2);
  }
  std::string text = header.dump();
  std::string file(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(file.data(), &n, 8);
  duo::writeFileAtomic(dir + "/model.safetensors", file + text + data);
  const duo::LlamaWeights r = duo::loadWeights(dir);
  const duo::NamedTensors got = duo::hfNamedTensors(r);
  QCOMPARE(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) QVERIFY2(torch::equal(got[k].second, want[k]), got[k].first.c_str());
  QVERIFY(!torch::equal(got[0].second, duo::hfNamedTensors(w)[0].second));  // really rounded
  const duo::ModelInfo info = duo::inspectModel(dir);
  QCOMPARE(info.dtypeCounts.at("F16") + info.dtypeCounts.at("BF16"), info.tensorCount);
}

void TestSafetensorsCheckpoint::weightFaults() {
  QTemporaryDir tmp;
  const std::string dir = tmp.filePath("m").toStdString();
  const duo::LlamaWeights w = tinyWeights(tinyConfig("llama", false, 2));
  const std::string st = dir + "/model.safetensors";
  auto fresh = [&] { duo::saveHfCheckpoint(w, dir); };

  fresh();
  editTensors(dir, [](duo::NamedTensors& ts) { ts.erase(ts.begin() + 3); });
  expectError([&] { duo::loadWeights(dir); }, {dir, "missing tensor 'model.layers.0.self_attn.k_proj.weight'"});

  fresh();
  editTensors(dir, [](duo::NamedTensors& ts) { ts[2].second = torch::zeros({16, 12}); });
  expectError([&] { duo::loadWeights(dir); },
              {st, "tensor 'model.layers.0.self_attn.q_proj.weight': expected [16, 16], got [16, 12]"});

  fresh();
  editTensors(dir, [](duo::NamedTensors& ts) { ts[5].second.view(-1)[7] = std::nanf(""); });
  expectError([&] { duo::loadWeights(dir); },
              {st, "tensor 'model.layers.0.self_attn.o_proj.weight' contains 1 non-finite values", "flat index 7"});

  fresh();
  editTensors(dir, [](duo::NamedTensors& ts) { ts.emplace_back("model.layers.0.self_attn.o_proj.bias", torch::zeros({16})); });
  expectError([&] { duo::loadWeights(dir); }, {st, "unexpected tensor 'model.layers.0.self_attn.o_proj.bias'"});

  fresh();
  editTensors(dir, [](duo::NamedTensors& ts) { ts.emplace_back("model.layers.2.mlp.up_proj.weight", torch::zeros({24, 16})); });
  expectError([&] { duo::loadWeights(dir); }, {st, "'model.layers.2.mlp.up_proj.weight' belongs to layer 2", "has 2 layers"});

  fresh();
  editTensors(dir, [](duo::NamedTensors& ts) { ts.emplace_back("model.layers.0.self_attn.q_proj.bias", torch::zeros({16})); });
  expectError([&] { duo::loadWeights(dir); }, {st, "unexpected tensor 'model.layers.0.self_attn.q_proj.bias'", "no attention biases"});

  // Old LLaMA checkpoints carry rotary inv_freq buffers: ignored.
  fresh();
  editTensors(dir, [](duo::NamedTensors& ts) { ts.emplace_back("model.layers.1.self_attn.rotary_emb.inv_freq", torch::ones({2})); });
  compareWeights(w, duo::loadWeights(dir));

  // A truncated weights file is caught by the header check.
  fresh();
  fs::resize_file(st, fs::file_size(st) - 100);
  expectError([&] { duo::loadWeights(dir); }, {st, "lie outside the data section", "truncated file?"});
}

void TestSafetensorsCheckpoint::folderFaults() {
  QTemporaryDir tmp;
  const std::string dir = tmp.path().toStdString();
  expectError([&] { duo::loadWeights(dir); }, {dir + "/config.json", "missing"});
  expectError([&] { duo::loadWeights(dir + "/nope"); }, {dir + "/nope", "no such file or folder"});
  duo::writeFileAtomic(dir + "/config.json", duo::hfConfigJson(tinyConfig("llama", false, 2)).dump());
  duo::writeFileAtomic(dir + "/pytorch_model.bin", std::string("x"));
  expectError([&] { duo::loadWeights(dir); }, {dir, "no model.safetensors", "pytorch_model.bin checkpoints are not supported"});
  duo::writeFileAtomic(dir + "/config.json", std::string(R"({"model_type":"gpt_neox","architectures":["GPTNeoXForCausalLM"]})"));
  expectError([&] { duo::loadWeights(dir); }, {dir + "/config.json", "unsupported model", "gpt_neox"});
  duo::writeFileAtomic(dir + "/x.txt", std::string("hello"));
  expectError([&] { duo::loadWeights(dir + "/x.txt"); }, {dir + "/x.txt", "not a model"});
}

void TestSafetensorsCheckpoint::inspectFolder() {
  QTemporaryDir tmp;
  const std::string tok = tmp.filePath("tokenizer.json").toStdString();
  duo::writeFileAtomic(tok, std::string(R"({"model":{"type":"BPE"},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"ByteLevel"}]}})"));
  const std::string dir = tmp.filePath("duo-tiny").toStdString();
  const duo::LlamaWeights w = tinyWeights(tinyConfig("llama", true, 2));
  duo::saveHfCheckpoint(w, dir, {}, tok);
  const duo::ModelInfo info = duo::inspectModel(dir);
  QCOMPARE(info.format, std::string("hf-safetensors"));
  QCOMPARE(info.name, std::string("duo-tiny"));
  QCOMPARE(info.dtype, std::string("F32"));
  QCOMPARE(info.parameters, w.config.parameterCount());
  QCOMPARE(info.tensorCount, int64_t(duo::hfNamedTensors(w).size()));
  QCOMPARE(info.fileBytes, int64_t(fs::file_size(dir + "/model.safetensors")));
  QCOMPARE(info.tokenizer, std::string("bpe-bytelevel"));
  QCOMPARE(duo::inspectModel(dir + "/config.json").path, dir);  // a file inside stands for the folder
  QCOMPARE(duo::hfTokenizerPath(dir + "/model.safetensors"), dir + "/tokenizer.json");
  QCOMPARE(info.config.numKvHeads, int64_t(2));
  duo::writeFileAtomic(dir + "/tokenizer.json", std::string(R"({"model":{"type":"BPE","byte_fallback":true},"decoder":{"type":"Sequence"}})"));
  QCOMPARE(duo::inspectModel(dir).tokenizer, std::string("spm"));
}

void TestSafetensorsCheckpoint::tokenizerPath() {
  QTemporaryDir tmp;
  const std::string dir = tmp.path().toStdString();
  expectError([&] { duo::hfTokenizerPath(dir); }, {dir, "no tokenizer"});
  duo::writeFileAtomic(dir + "/tokenizer.model", std::string("spm"));
  QCOMPARE(duo::hfTokenizerPath(dir), dir + "/tokenizer.model");
  duo::writeFileAtomic(dir + "/tokenizer.json", std::string("{}"));
  QCOMPARE(duo::hfTokenizerPath(dir), dir + "/tokenizer.json");
}


// The packing compressed-tensors uses (numpy.packbits(bitorder="little") per row, row_offsets the
// running count, -0 counted as zero), on hand-worked rows; decode inverts it.
void TestSafetensorsCheckpoint::bitmaskCodec() {
  const std::vector<float> x = {1, 0, 0, 2, 0, 0, 0, 0, 3, 0,   // bits 0, 3, 8
                                0, 0, -0.0f, 0, 0, 0, 0, 4, 0, 5};  // bits 7, 9
  const duo::BitmaskEncoded e = duo::bitmaskEncode(x.data(), 2, 10, 4);
  QCOMPARE(e.nnz, int64_t(5));
  QCOMPARE(e.mask, (std::vector<uint8_t>{0x09, 0x01, 0x80, 0x02}));
  QCOMPARE(e.rowOffsets, (std::vector<int64_t>{0, 3}));
  std::vector<float> values(5);
  std::memcpy(values.data(), e.values.data(), 20);
  QCOMPARE(values, (std::vector<float>{1, 2, 3, 4, 5}));
  std::vector<float> back(20, 9.f);
  duo::bitmaskDecode(e.values.data(), e.nnz, e.mask.data(), e.rowOffsets.data(), 2, 10, 4, back.data(), "t");
  for (size_t i = 0; i < x.size(); ++i) QCOMPARE(back[i], x[i] == 0 ? 0.f : x[i]);

  // 16-bit values: the sign bit alone is zero too.
  const std::vector<uint16_t> h = {0x8000, 0x3C00, 0x0000, 0xBC00};
  const duo::BitmaskEncoded eh = duo::bitmaskEncode(h.data(), 1, 4, 2);
  QCOMPARE(eh.nnz, int64_t(2));
  QCOMPARE(eh.mask, (std::vector<uint8_t>{0x0A}));

  const std::vector<int64_t> badOffsets = {0, 2};
  expectError([&] { duo::bitmaskDecode(e.values.data(), e.nnz, e.mask.data(), badOffsets.data(), 2, 10, 4, back.data(), "w"); },
              {"w: row_offsets[1] = 2 but the rows before it hold 3 values"});
  expectError([&] { duo::bitmaskDecode(e.values.data(), 4, e.mask.data(), e.rowOffsets.data(), 2, 10, 4, back.data(), "w"); },
              {"w: the bitmask sets more bits than the 4 stored values (at row 1)"});
  expectError([&] { duo::bitmaskDecode(e.values.data(), 6, e.mask.data(), e.rowOffsets.data(), 2, 10, 4, back.data(), "w"); },
              {"w: 6 values are stored but the bitmask sets 5 bits"});
  std::vector<uint8_t> stray = e.mask;
  stray[1] |= 0x40;  // column 14 of a 10-column row
  expectError([&] { duo::bitmaskDecode(e.values.data(), e.nnz, stray.data(), e.rowOffsets.data(), 2, 10, 4, back.data(), "w"); },
              {"w: row 0 sets bits past column 9"});
}

void TestSafetensorsCheckpoint::sparseBitmaskRoundTrip_data() {
  QTest::addColumn<QString>("arch");
  QTest::addColumn<int>("dtype");
  QTest::addColumn<qint64>("shardBytes");
  QTest::newRow("llama f32") << "llama" << int(torch::kFloat32) << qint64(0);
  QTest::newRow("llama bf16 sharded") << "llama" << int(torch::kBFloat16) << qint64(3000);
  QTest::newRow("qwen2 f16 sharded") << "qwen2" << int(torch::kFloat16) << qint64(2000);
}

// A sparse-bitmask checkpoint loads to exactly the weights of the dense one in the same dtype,
// is smaller, and inspects as the same model.
void TestSafetensorsCheckpoint::sparseBitmaskRoundTrip() {
  QFETCH(QString, arch);
  QFETCH(int, dtype);
  QFETCH(qint64, shardBytes);
  QTemporaryDir tmp;
  duo::ModelConfig c = tinyConfig(arch.toStdString(), false, 2);
  c.intermediateSize = 20;  // down_proj rows of 20 columns: a partial last bitmask byte
  const duo::LlamaWeights w = halfPruned(tinyWeights(c));
  duo::CheckpointWriterOptions o;
  o.dtype = static_cast<torch::ScalarType>(dtype);
  if (shardBytes > 0) o.maxShardBytes = shardBytes;
  const std::string dense = tmp.filePath("dense").toStdString(), sparse = tmp.filePath("sparse").toStdString();
  duo::saveHfCheckpoint(w, dense, {}, "", {}, o);
  o.format = duo::CheckpointFormat::SparseBitmask;
  duo::saveHfCheckpoint(w, sparse, {}, "", {}, o);
  compareWeights(duo::loadWeights(dense), duo::loadWeights(sparse));
  // At 50%: values half, one bit per weight, 8 bytes per row (a large share at 16 columns).
  const double ratio = double(projectionBytes(sparse)) / double(projectionBytes(dense));
  qInfo("projections stored in %.3f of their dense bytes", ratio);
  QVERIFY2(ratio < (o.dtype == torch::kFloat32 ? 0.75 : 0.9), qPrintable(QString::number(ratio)));
  QCOMPARE(fs::exists(sparse + "/model.safetensors.index.json"), shardBytes > 0);

  const duo::ModelInfo a = duo::inspectModel(dense), b = duo::inspectModel(sparse);
  QCOMPARE(b.parameters, a.parameters);
  QCOMPARE(b.tensorCount, a.tensorCount);
  QCOMPARE(b.dtype, a.dtype);

  // The stored layout: four parts per projection, norms and embedding dense.
  const std::string q = "model.layers.0.self_attn.q_proj";
  if (shardBytes > 0) {
    const nlohmann::json index = nlohmann::json::parse(duo::readFile(sparse + "/model.safetensors.index.json"));
    for (const char* part : {".shape", ".compressed", ".bitmask", ".row_offsets"})
      QVERIFY2(index["weight_map"].contains(q + part), part);
    QVERIFY(!index["weight_map"].contains(q + ".weight"));
  } else {
    const duo::SafetensorsFile f(sparse + "/model.safetensors");
    QVERIFY(f.header().find(q + ".weight") == nullptr);
    QCOMPARE(f.header().find(q + ".bitmask")->dtype, std::string("U8"));
    QCOMPARE(f.header().find(q + ".bitmask")->shape, (std::vector<int64_t>{16, 2}));
    QCOMPARE(f.header().find(q + ".shape")->dtype, std::string("I64"));
    QCOMPARE(f.header().find("model.layers.0.mlp.down_proj.bitmask")->shape, (std::vector<int64_t>{16, 3}));
    QVERIFY(f.header().find("model.embed_tokens.weight") != nullptr);
  }
}

// A part missing, or values that disagree with the bitmask, are refused naming file and tensor.
void TestSafetensorsCheckpoint::sparseBitmaskFaults() {
  QTemporaryDir tmp;
  const std::string dir = tmp.filePath("m").toStdString();
  const duo::LlamaWeights w = halfPruned(tinyWeights(tinyConfig("llama", false, 2)));
  duo::CheckpointWriterOptions o;
  o.format = duo::CheckpointFormat::SparseBitmask;
  const std::string st = dir + "/model.safetensors";
  duo::saveHfCheckpoint(w, dir, {}, "", {}, o);
  dropTensor(st, "model.layers.1.mlp.up_proj.row_offsets");
  expectError([&] { duo::loadWeights(dir); },
              {st, "sparse-bitmask weight 'model.layers.1.mlp.up_proj' has no 'model.layers.1.mlp.up_proj.row_offsets' tensor"});
  expectError([&] { duo::inspectModel(dir); }, {"has no 'model.layers.1.mlp.up_proj.row_offsets' tensor"});

  duo::saveHfCheckpoint(w, dir, {}, "", {}, o);
  {  // one stored value fewer than the bitmask's bits: shrink the values tensor by one element
    std::string data;
    nlohmann::ordered_json header;
    const std::string name = "model.layers.0.self_attn.v_proj.compressed";
    {
      const duo::SafetensorsFile f(st);
      for (const auto& t : f.header().tensors) {
        uint64_t bytes = t.end - t.begin;
        std::vector<int64_t> shape = t.shape;
        if (t.name == name) bytes -= 4, shape[0] -= 1;
        header[t.name] = {{"dtype", t.dtype}, {"shape", shape}, {"data_offsets", {data.size(), data.size() + bytes}}};
        data.append(reinterpret_cast<const char*>(f.tensorBytes(t)), bytes);
      }
    }
    const std::string text = header.dump();
    std::string out(8, '\0');
    const uint64_t n = text.size();
    std::memcpy(out.data(), &n, 8);
    duo::writeFileAtomic(st, out + text + data);
  }
  expectError([&] { duo::loadWeights(dir); },
              {st, "sparse-bitmask tensor 'model.layers.0.self_attn.v_proj.weight'", "more bits than the"});
}

QTEST_GUILESS_MAIN(TestSafetensorsCheckpoint)
#include "test_safetensors_checkpoint.moc"
