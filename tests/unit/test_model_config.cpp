// SPDX-License-Identifier: GPL-3.0-or-later
// core/model/io config.json <-> ModelConfig: real configs of each family parse to the right
// values (tests/data/models/configs), everything that would change the math is refused with the
// key named, and hfConfigJson() round-trips.
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/io/hf_config.h"

namespace {

std::string configsDir() {
  const char* d = std::getenv("DUO_TEST_DATA_DIR");
  return std::string(d ? d : "tests/data") + "/models/configs";
}

nlohmann::json load(const std::string& name) {
  return nlohmann::json::parse(duo::readFile(configsDir() + "/" + name));
}

// SmolLM2's config with one key changed (or removed, when the value is "<remove>").
nlohmann::json smollm2With(const nlohmann::json& patch) {
  nlohmann::json j = load("smollm2-135m.json");
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value() == "<remove>") j.erase(it.key());
    else j[it.key()] = it.value();
  }
  return j;
}

bool sameConfig(const duo::ModelConfig& a, const duo::ModelConfig& b) {
  return a.architecture == b.architecture && a.vocabSize == b.vocabSize && a.hiddenSize == b.hiddenSize &&
         a.intermediateSize == b.intermediateSize && a.numLayers == b.numLayers && a.numHeads == b.numHeads &&
         a.numKvHeads == b.numKvHeads && a.headDim == b.headDim && a.maxPositions == b.maxPositions &&
         a.rmsNormEps == b.rmsNormEps && a.ropeTheta == b.ropeTheta && a.ropeScaling.type == b.ropeScaling.type &&
         a.ropeScaling.factor == b.ropeScaling.factor && a.ropeScaling.lowFreqFactor == b.ropeScaling.lowFreqFactor &&
         a.ropeScaling.highFreqFactor == b.ropeScaling.highFreqFactor &&
         a.ropeScaling.originalMaxPositions == b.ropeScaling.originalMaxPositions &&
         a.tieWordEmbeddings == b.tieWordEmbeddings && a.attentionBias == b.attentionBias &&
         a.bosTokenId == b.bosTokenId && a.eosTokenId == b.eosTokenId && a.slidingWindow == b.slidingWindow &&
         a.slidingWindowFromLayer == b.slidingWindowFromLayer;
}

}  // namespace

class TestModelConfig : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void families_data();
  void families();
  void refusals_data();
  void refusals();
  void variantsAccepted();
  void scalingAndWindows();
  void roundTrip_data();
  void roundTrip();
  void readsFolderAndNamesFile();
};

void TestModelConfig::families_data() {
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("arch");
  QTest::addColumn<qint64>("hidden");
  QTest::addColumn<qint64>("ffn");
  QTest::addColumn<qint64>("layers");
  QTest::addColumn<qint64>("heads");
  QTest::addColumn<qint64>("kvHeads");
  QTest::addColumn<qint64>("headDim");
  QTest::addColumn<qint64>("vocab");
  QTest::addColumn<qint64>("maxPos");
  QTest::addColumn<double>("theta");
  QTest::addColumn<double>("eps");
  QTest::addColumn<double>("ropeFactor");  // 0 = no llama3 scaling
  QTest::addColumn<bool>("tied");
  QTest::addColumn<bool>("bias");
  QTest::addColumn<qint64>("bos");
  QTest::addColumn<qint64>("eos");
  QTest::newRow("LLaMA-2 7B (MHA)") << "llama-2-7b.json" << "llama" << 4096LL << 11008LL << 32LL << 32LL << 32LL << 128LL
                                    << 32000LL << 4096LL << 10000.0 << 1e-5 << 0.0 << false << false << 1LL << 2LL;
  QTest::newRow("LLaMA-3 8B") << "llama-3-8b.json" << "llama" << 4096LL << 14336LL << 32LL << 32LL << 8LL << 128LL
                              << 128256LL << 8192LL << 500000.0 << 1e-5 << 0.0 << false << false << 128000LL << 128001LL;
  QTest::newRow("LLaMA-3.1 8B (llama3 rope)") << "llama-3.1-8b.json" << "llama" << 4096LL << 14336LL << 32LL << 32LL << 8LL
                                              << 128LL << 128256LL << 131072LL << 500000.0 << 1e-5 << 8.0 << false << false
                                              << 128000LL << 128001LL;
  QTest::newRow("LLaMA-3.2 1B (tied, head_dim)") << "llama-3.2-1b.json" << "llama" << 2048LL << 8192LL << 16LL << 32LL << 8LL
                                                 << 64LL << 128256LL << 131072LL << 500000.0 << 1e-5 << 32.0 << true << false
                                                 << 128000LL << 128001LL;
  QTest::newRow("Mistral 7B v0.3") << "mistral-7b-v0.3.json" << "mistral" << 4096LL << 14336LL << 32LL << 32LL << 8LL << 128LL
                                   << 32768LL << 32768LL << 1e6 << 1e-5 << 0.0 << false << false << 1LL << 2LL;
  QTest::newRow("Qwen2 0.5B (biases)") << "qwen2-0.5b.json" << "qwen2" << 896LL << 4864LL << 24LL << 14LL << 2LL << 64LL
                                       << 151936LL << 131072LL << 1e6 << 1e-6 << 0.0 << true << true << 151643LL << 151643LL;
  QTest::newRow("SmolLM 135M") << "smollm-135m.json" << "llama" << 576LL << 1536LL << 30LL << 9LL << 3LL << 64LL << 49152LL
                               << 2048LL << 10000.0 << 1e-5 << 0.0 << true << false << 0LL << 0LL;
  QTest::newRow("SmolLM2 135M") << "smollm2-135m.json" << "llama" << 576LL << 1536LL << 30LL << 9LL << 3LL << 64LL << 49152LL
                                << 8192LL << 100000.0 << 1e-5 << 0.0 << true << false << 1LL << 2LL;
}

void TestModelConfig::families() {
  QFETCH(QString, file);
  QFETCH(QString, arch);
  QFETCH(qint64, hidden);
  QFETCH(qint64, ffn);
  QFETCH(qint64, layers);
  QFETCH(qint64, heads);
  QFETCH(qint64, kvHeads);
  QFETCH(qint64, headDim);
  QFETCH(qint64, vocab);
  QFETCH(qint64, maxPos);
  QFETCH(double, theta);
  QFETCH(double, eps);
  QFETCH(double, ropeFactor);
  QFETCH(bool, tied);
  QFETCH(bool, bias);
  QFETCH(qint64, bos);
  QFETCH(qint64, eos);
  const duo::ModelConfig c = duo::readHfConfig(configsDir() + "/" + file.toStdString());
  QCOMPARE(QString::fromStdString(c.architecture), arch);
  QCOMPARE(c.hiddenSize, hidden);
  QCOMPARE(c.intermediateSize, ffn);
  QCOMPARE(c.numLayers, layers);
  QCOMPARE(c.numHeads, heads);
  QCOMPARE(c.numKvHeads, kvHeads);
  QCOMPARE(c.headDim, headDim);
  QCOMPARE(c.vocabSize, vocab);
  QCOMPARE(c.maxPositions, maxPos);
  QCOMPARE(c.ropeTheta, theta);
  QCOMPARE(c.rmsNormEps, eps);
  QCOMPARE(c.tieWordEmbeddings, tied);
  QCOMPARE(c.attentionBias, bias);
  QCOMPARE(c.bosTokenId, bos);
  QCOMPARE(c.eosTokenId, eos);  // the first of a list
  if (ropeFactor > 0) {
    QCOMPARE(c.ropeScaling.type, std::string("llama3"));
    QCOMPARE(c.ropeScaling.factor, ropeFactor);
    QCOMPARE(c.ropeScaling.lowFreqFactor, 1.0);
    QCOMPARE(c.ropeScaling.highFreqFactor, 4.0);
    QCOMPARE(c.ropeScaling.originalMaxPositions, int64_t(8192));
  } else {
    QVERIFY(c.ropeScaling.type.empty());
  }
}

void TestModelConfig::refusals_data() {
  QTest::addColumn<QString>("patch");  // JSON merged into SmolLM2's config (or a whole file name)
  QTest::addColumn<QString>("fault");
  QTest::newRow("unknown model_type") << R"({"model_type":"gpt2","architectures":["GPT2LMHeadModel"]})"
                                      << "unsupported model: model_type 'gpt2', architecture 'GPT2LMHeadModel'";
  QTest::newRow("type/architecture mismatch") << R"({"architectures":["Qwen2ForCausalLM"]})"
                                              << "model_type 'llama' does not match architecture 'Qwen2ForCausalLM'";
  QTest::newRow("no model type at all") << R"({"model_type":"<remove>","architectures":"<remove>"})"
                                        << "neither 'model_type' nor 'architectures'";
  QTest::newRow("rope yarn (v5 rope_parameters)") << R"({"rope_parameters":{"rope_type":"yarn","factor":4.0}})"
                                                  << "rope_parameters.rope_type 'yarn' is not supported";
  QTest::newRow("rope longrope") << R"({"rope_scaling":{"type":"longrope","factor":4.0}})"
                                 << "rope_scaling.rope_type 'longrope' is not supported (supported: default, llama3, linear, dynamic)";
  QTest::newRow("linear factor < 1") << R"({"rope_scaling":{"type":"linear","factor":0.5}})" << "rope_scaling.factor must be >= 1";
  QTest::newRow("dynamic without factor") << R"({"rope_scaling":{"rope_type":"dynamic"}})" << "rope_scaling.factor must be >= 1";
  QTest::newRow("gelu") << R"({"hidden_act":"gelu"})" << "hidden_act 'gelu' is not supported";
  QTest::newRow("llama attention_bias") << R"({"attention_bias":true})" << "attention_bias = true is not supported";
  QTest::newRow("mlp_bias") << R"({"mlp_bias":true})" << "mlp_bias = true is not supported";
  QTest::newRow("quantized") << R"({"quantization_config":{"quant_method":"gptq"}})"
                             << "quantization_config with quant_method 'gptq' is not supported";
  QTest::newRow("compressed-tensors quantised")
      << R"({"quantization_config":{"quant_method":"compressed-tensors","config_groups":{"group_0":{"targets":["Linear"]}}}})"
      << "quantization_config with config_groups (quantised weights) is not supported";
  QTest::newRow("compressed-tensors 2:4 bitmask")
      << R"({"quantization_config":{"quant_method":"compressed-tensors","sparsity_config":{"format":"sparse-24-bitmask"}}})"
      << "quantization_config.sparsity_config.format \"sparse-24-bitmask\" is not supported (dense and sparse-bitmask are)";
  QTest::newRow("partial rotary") << R"({"partial_rotary_factor":0.5})" << "partial_rotary_factor 0.5 is not supported";
  QTest::newRow("interleaved rope") << R"({"rope_interleaved":true})" << "rope_interleaved = true is not supported";
  QTest::newRow("missing hidden_size") << R"({"hidden_size":"<remove>"})" << "missing required key 'hidden_size'";
  QTest::newRow("string layer count") << R"({"num_hidden_layers":"30"})" << "'num_hidden_layers' must be an integer";
  QTest::newRow("zero heads") << R"({"num_attention_heads":0})" << "'num_attention_heads' = 0 is outside [1, 4096]";
  QTest::newRow("kv heads not dividing") << R"({"num_key_value_heads":4})"
                                         << "num_attention_heads 9 is not a multiple of num_key_value_heads 4";
  QTest::newRow("hidden not divisible") << R"({"hidden_size":577})" << "hidden_size 577 is not a multiple of num_attention_heads 9";
  QTest::newRow("odd head dim") << R"({"head_dim":63})" << "head dimension 63 must be even";
  QTest::newRow("bad eps") << R"({"rms_norm_eps":0})" << "rms_norm_eps 0 is outside (0, 1)";
  QTest::newRow("bad eos") << R"({"eos_token_id":"x"})" << "'eos_token_id' must be a token id";
  QTest::newRow("llama3 factor < 1") << R"({"rope_scaling":{"rope_type":"llama3","factor":0.5}})" << ".factor must be >= 1";
  QTest::newRow("tie not a bool") << R"({"tie_word_embeddings":1})" << "'tie_word_embeddings' must be true or false";
  QTest::newRow("window not an integer") << R"({"model_type":"mistral","architectures":["MistralForCausalLM"],"sliding_window":"4k"})"
                                         << "'sliding_window' must be an integer";
  QTest::newRow("window zero") << R"({"model_type":"mistral","architectures":["MistralForCausalLM"],"sliding_window":0})"
                               << "'sliding_window' = 0 is outside [1, 16777216]";
  QTest::newRow("layer_types unknown")
      << R"({"model_type":"qwen2","architectures":["Qwen2ForCausalLM"],"num_hidden_layers":2,"layer_types":["full_attention","chunked_attention"]})"
      << "layer_types[1] = \"chunked_attention\" is not supported (full_attention and sliding_attention are)";
  QTest::newRow("layer_types interleaved")
      << R"({"model_type":"qwen2","architectures":["Qwen2ForCausalLM"],"num_hidden_layers":2,"use_sliding_window":true,"sliding_window":8,"layer_types":["sliding_attention","full_attention"]})"
      << "layer_types: full_attention at layer 1 after sliding_attention at layer 0 is not supported";
  QTest::newRow("layer_types count")
      << R"({"model_type":"qwen2","architectures":["Qwen2ForCausalLM"],"layer_types":["full_attention"]})"
      << "'layer_types' must list 30 layer types";
}

void TestModelConfig::refusals() {
  QFETCH(QString, patch);
  QFETCH(QString, fault);
  const bool isFile = patch.endsWith(".json");
  const nlohmann::json j = isFile ? load(patch.toStdString()) : smollm2With(nlohmann::json::parse(patch.toStdString()));
  try {
    duo::parseHfConfig(j, "/m/config.json");
    QFAIL("accepted");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).startsWith("/m/config.json: "), e.what());
    QVERIFY2(QString(e.what()).contains(fault), e.what());
  }
}

// Variants that do not change the math are accepted.
void TestModelConfig::variantsAccepted() {
  auto parse = [](const char* patch) { return duo::parseHfConfig(smollm2With(nlohmann::json::parse(patch)), "c"); };
  QCOMPARE(parse(R"({"rope_scaling":{"rope_type":"default"}})").ropeScaling.type, std::string());
  QCOMPARE(parse(R"({"rope_theta":"<remove>","rope_parameters":{"rope_type":"default","rope_theta":25000.0}})").ropeTheta, 25000.0);
  QCOMPARE(parse(R"({"num_key_value_heads":"<remove>"})").numKvHeads, int64_t(9));  // MHA default
  QCOMPARE(parse(R"({"tie_word_embeddings":"<remove>"})").tieWordEmbeddings, false);
  QCOMPARE(parse(R"({"rms_norm_eps":"<remove>"})").rmsNormEps, 1e-6);
  QCOMPARE(parse(R"({"model_type":"<remove>"})").architecture, std::string("llama"));  // from architectures
  QCOMPARE(parse(R"({"pretraining_tp":2})").hiddenSize, int64_t(576));
  // compressed-tensors' sparsity-only block (a pruned, unquantised checkpoint), as we write it.
  QCOMPARE(parse(R"({"quantization_config":{"quant_method":"compressed-tensors","version":"0.12.2","sparsity_config":
             {"format":"sparse-bitmask","global_sparsity":0.5,"sparsity_structure":"unstructured","targets":["Linear"],
              "ignore":["lm_head"],"registry_requires_subclass":false}}})").hiddenSize, int64_t(576));
  QCOMPARE(parse(R"({"quantization_config":{"quant_method":"compressed-tensors","config_groups":{},"sparsity_config":{}}})")
               .hiddenSize, int64_t(576));
}

// Features that change the math and are implemented: RoPE scaling types and sliding windows.
void TestModelConfig::scalingAndWindows() {
  auto parse = [](const char* patch) { return duo::parseHfConfig(smollm2With(nlohmann::json::parse(patch)), "c"); };
  const duo::ModelConfig lin = parse(R"({"rope_scaling":{"type":"linear","factor":2.0}})");
  QCOMPARE(lin.ropeScaling.type, std::string("linear"));
  QCOMPARE(lin.ropeScaling.factor, 2.0);
  const duo::ModelConfig dyn = parse(R"({"rope_parameters":{"rope_type":"dynamic","factor":2.0,"rope_theta":5e5}})");
  QCOMPARE(dyn.ropeScaling.type, std::string("dynamic"));
  QCOMPARE(dyn.ropeTheta, 5e5);
  QCOMPARE(dyn.ropeScaling.originalMaxPositions, int64_t(8192));  // SmolLM2's max_position_embeddings
  // Mistral: absent = transformers' default 4096, null = none, a number = that window, all layers.
  const char* kMistral = R"({"model_type":"mistral","architectures":["MistralForCausalLM"])";
  QCOMPARE(parse((std::string(kMistral) + "}").c_str()).slidingWindow, int64_t(4096));
  QCOMPARE(parse((std::string(kMistral) + R"(,"sliding_window":null})").c_str()).slidingWindow, int64_t(0));
  const duo::ModelConfig m = parse((std::string(kMistral) + R"(,"sliding_window":8192})").c_str());
  QCOMPARE(m.slidingWindow, int64_t(8192));
  QCOMPARE(m.windowOf(0), int64_t(8192));
  QCOMPARE(m.windowOf(29), int64_t(8192));
  // Qwen2: only with use_sliding_window, from max_window_layers on (default 28).
  const char* kQwen = R"({"model_type":"qwen2","architectures":["Qwen2ForCausalLM"])";
  QCOMPARE(parse((std::string(kQwen) + R"(,"sliding_window":4096})").c_str()).slidingWindow, int64_t(0));
  const duo::ModelConfig q = parse((std::string(kQwen) + R"(,"use_sliding_window":true,"sliding_window":64})").c_str());
  QCOMPARE(q.slidingWindow, int64_t(64));
  QCOMPARE(q.windowOf(27), int64_t(0));
  QCOMPARE(q.windowOf(28), int64_t(64));
  const duo::ModelConfig q2 =
      parse((std::string(kQwen) + R"(,"use_sliding_window":true,"max_window_layers":3})").c_str());
  QCOMPARE(q2.slidingWindow, int64_t(4096));
  QCOMPARE(q2.slidingWindowFromLayer, int64_t(3));
  // transformers 5's layer_types wins over max_window_layers; all-full means no window.
  std::string types = R"(,"use_sliding_window":true,"sliding_window":16,"max_window_layers":0,"layer_types":[)";
  for (int i = 0; i < 30; ++i) types += std::string(i ? "," : "") + (i < 20 ? "\"full_attention\"" : "\"sliding_attention\"");
  const duo::ModelConfig q3 = parse((std::string(kQwen) + types + "]}").c_str());
  QCOMPARE(q3.windowOf(19), int64_t(0));
  QCOMPARE(q3.windowOf(20), int64_t(16));
  // Mistral's class ignores layer_types: its window applies in every layer.
  std::string allFull = R"(,"sliding_window":16,"layer_types":[)";
  for (int i = 0; i < 30; ++i) allFull += std::string(i ? "," : "") + "\"full_attention\"";
  QCOMPARE(parse((std::string(kMistral) + allFull + "]}").c_str()).windowOf(0), int64_t(16));
  // LLaMA has no sliding window in transformers: the key is ignored.
  QCOMPARE(parse(R"({"sliding_window":16})").slidingWindow, int64_t(0));
  // Mistral v0.1's real config: a 4096-token window within a 32768-token context.
  const duo::ModelConfig v01 = duo::readHfConfig(configsDir() + "/mistral-7b-v0.1.json");
  QCOMPARE(v01.slidingWindow, int64_t(4096));
  QCOMPARE(v01.maxPositions, int64_t(32768));
  QCOMPARE(parse(R"({"pretraining_tp":2})").hiddenSize, int64_t(576));
}

void TestModelConfig::roundTrip_data() {
  QTest::addColumn<QString>("file");
  for (const char* f : {"llama-2-7b.json", "llama-3.1-8b.json", "llama-3.2-1b.json", "mistral-7b-v0.1.json", "mistral-7b-v0.3.json",
                        "qwen2-0.5b.json", "smollm2-135m.json"})
    QTest::newRow(f) << f;
}

void TestModelConfig::roundTrip() {
  QFETCH(QString, file);
  const duo::ModelConfig a = duo::parseHfConfig(load(file.toStdString()), "a");
  const nlohmann::json out = duo::hfConfigJson(a);
  const duo::ModelConfig b = duo::parseHfConfig(out, "b");
  QVERIFY2(sameConfig(a, b), out.dump().c_str());
  QCOMPARE(out["architectures"][0].get<std::string>(), load(file.toStdString())["architectures"][0].get<std::string>());
}

void TestModelConfig::readsFolderAndNamesFile() {
  try {
    duo::readHfConfig("/nonexistent/model");
    QFAIL("accepted");
  } catch (const duo::Error& e) {
    QVERIFY(QString(e.what()).contains("/nonexistent/model/config.json: missing"));
  }
  QCOMPARE(duo::readHfConfig(configsDir() + "/qwen2-0.5b.json").numLayers, int64_t(24));
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::readHfConfig(configsDir() + "/README.md"));
}

QTEST_GUILESS_MAIN(TestModelConfig)
#include "test_model_config.moc"
