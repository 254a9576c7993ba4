// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/hf_config.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/common/error.h"
#include "core/common/json_file.h"
#include "core/model/io/int8_layout.h"
#include "core/model/io/model_info.h"

namespace fs = std::filesystem;

namespace duo {

namespace {

struct Family {
  const char* modelType;
  const char* architecture;  // HF class in "architectures"
  const char* ours;          // ModelConfig::architecture
};
const Family kFamilies[] = {
    {"llama", "LlamaForCausalLM", "llama"},
    {"mistral", "MistralForCausalLM", "mistral"},
    {"qwen2", "Qwen2ForCausalLM", "qwen2"},
};

// Reads config values with the file named in every complaint.
class Reader {
 public:
  Reader(const nlohmann::json& j, const std::string& source) : m_j(j), m_source(source) {}

  bool has(const char* key) const { return m_j.contains(key) && !m_j[key].is_null(); }

  int64_t integer(const char* key, int64_t fallback, bool required, int64_t lo, int64_t hi) const {
    if (!has(key)) {
      DUO_CHECK(!required, m_source, ": missing required key '", key, "'");
      return fallback;
    }
    const nlohmann::json& v = m_j[key];
    DUO_CHECK(v.is_number_integer(), m_source, ": '", key, "' must be an integer, got ", v.dump());
    const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi) ? hi + 1 : v.get<int64_t>();
    DUO_CHECK(x >= lo && x <= hi, m_source, ": '", key, "' = ", x, " is outside [", lo, ", ", hi, "]");
    return x;
  }

  double number(const nlohmann::json& obj, const char* key, double fallback, const std::string& where) const {
    if (!obj.contains(key) || obj[key].is_null()) return fallback;
    DUO_CHECK(obj[key].is_number(), m_source, ": '", where, key, "' must be a number, got ", obj[key].dump());
    return obj[key].get<double>();
  }
  double number(const char* key, double fallback) const { return number(m_j, key, fallback, ""); }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    DUO_CHECK(m_j[key].is_boolean(), m_source, ": '", key, "' must be true or false, got ", m_j[key].dump());
    return m_j[key].get<bool>();
  }

  std::string string(const char* key) const {
    if (!has(key)) return "";
    DUO_CHECK(m_j[key].is_string(), m_source, ": '", key, "' must be a string, got ", m_j[key].dump());
    return m_j[key].get<std::string>();
  }

  // A token id that may be given as a list (LLaMA-3.1 lists several eos ids): the first one.
  int64_t tokenId(const char* key) const {
    if (!has(key)) return -1;
    const nlohmann::json& v = m_j[key];
    const nlohmann::json& first = v.is_array() && !v.empty() ? v[0] : v;
    DUO_CHECK(first.is_number_integer() && first.get<int64_t>() >= 0, m_source, ": '", key,
              "' must be a token id, got ", v.dump());
    return first.get<int64_t>();
  }

  const nlohmann::json& json() const { return m_j; }
  const std::string& source() const { return m_source; }

 private:
  const nlohmann::json& m_j;
  const std::string& m_source;
};

const Family& family(const Reader& r) {
  const std::string modelType = r.string("model_type");
  std::string arch;
  if (r.has("architectures")) {
    const nlohmann::json& a = r.json()["architectures"];
    DUO_CHECK(a.is_array() && a.size() == 1 && a[0].is_string(), r.source(),
              ": 'architectures' must list exactly one class, got ", a.dump());
    arch = a[0].get<std::string>();
  }
  DUO_CHECK(!modelType.empty() || !arch.empty(), r.source(), ": neither 'model_type' nor 'architectures' is given");
  for (const Family& f : kFamilies) {
    const bool typeOk = modelType.empty() || modelType == f.modelType;
    const bool archOk = arch.empty() || arch == f.architecture;
    if ((modelType == f.modelType || arch == f.architecture)) {
      DUO_CHECK(typeOk && archOk, r.source(), ": model_type '", modelType, "' does not match architecture '", arch, "'");
      return f;
    }
  }
  fail(r.source(), ": unsupported model: model_type '", modelType, "', architecture '", arch,
       "' (supported: llama, mistral, qwen2 and their *ForCausalLM classes)");
}

// rope_scaling (transformers <= 4.x) or rope_parameters (transformers 5): none, "default",
// "llama3", "linear" or "dynamic" (see RopeScaling); every other type (yarn, longrope, ...) changes
// the math in ways we do not implement and is refused by name.
void readRope(const Reader& r, ModelConfig* c) {
  const nlohmann::json& j = r.json();
  const char* key = r.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  if (!r.has(key)) return;
  const nlohmann::json& s = j[key];
  DUO_CHECK(s.is_object(), r.source(), ": '", key, "' must be an object, got ", s.dump());
  std::string type;
  for (const char* k : {"rope_type", "type"})
    if (s.contains(k) && s[k].is_string()) type = s[k].get<std::string>();
  const std::string where = std::string(key) + ".";
  c->ropeTheta = r.number(s, "rope_theta", c->ropeTheta, where);
  if (type.empty() || type == "default") return;
  DUO_CHECK(type == "llama3" || type == "linear" || type == "dynamic", r.source(), ": ", key, ".rope_type '", type,
            "' is not supported (supported: default, llama3, linear, dynamic)");
  RopeScaling& rs = c->ropeScaling;
  rs.type = type;
  rs.factor = r.number(s, "factor", 0.0, where);
  DUO_CHECK(rs.factor >= 1.0, r.source(), ": ", key, ".factor must be >= 1, got ", rs.factor);
  if (type == "llama3") {
    rs.lowFreqFactor = r.number(s, "low_freq_factor", 1.0, where);
    rs.highFreqFactor = r.number(s, "high_freq_factor", 4.0, where);
    rs.originalMaxPositions = static_cast<int64_t>(r.number(s, "original_max_position_embeddings", 8192.0, where));
    DUO_CHECK(rs.highFreqFactor > rs.lowFreqFactor && rs.lowFreqFactor > 0, r.source(), ": ", key,
              ": need high_freq_factor > low_freq_factor > 0, got ", rs.highFreqFactor, " and ", rs.lowFreqFactor);
  } else if (type == "dynamic") {
    // transformers (5.24 _compute_dynamic_ntk_parameters) scales past max_position_embeddings,
    // whatever rope_scaling says about an original length.
    rs.originalMaxPositions = c->maxPositions;
  }
  DUO_CHECK(rs.originalMaxPositions > 0, r.source(), ": ", key, ".original_max_position_embeddings must be positive");
}

// Sliding-window attention. Mistral: `sliding_window` (absent: transformers' default 4096; null:
// none) in every layer. Qwen2: only with use_sliding_window = true (same default), in layers >=
// max_window_layers (transformers 5 writes the same as `layer_types`, which wins when present).
// A window of W lets the query at position p see keys p-W < k <= p; honoured at every length (it
// changes nothing until a sequence is longer than W).
void readSlidingWindow(const Reader& r, const Family& f, ModelConfig* c) {
  const std::string type = f.modelType;
  if (type == "llama") return;  // LlamaConfig has no sliding window; transformers ignores the key
  const nlohmann::json& j = r.json();
  int64_t window = 0;
  const bool qwenUses = type != "qwen2" || r.boolean("use_sliding_window", false);
  if (qwenUses && !j.contains("sliding_window")) window = 4096;  // both configs' default
  if (r.has("sliding_window") && qwenUses) window = r.integer("sliding_window", 0, false, 1, 1ll << 24);
  int64_t from = 0;
  if (type == "qwen2" && window > 0) from = r.integer("max_window_layers", 28, false, 0, 1 << 20);
  if (type == "qwen2" && r.has("layer_types")) {  // Mistral's transformers class reads no layer_types
    const nlohmann::json& lt = j["layer_types"];
    DUO_CHECK(lt.is_array() && static_cast<int64_t>(lt.size()) == c->numLayers, r.source(), ": 'layer_types' must list ",
              c->numLayers, " layer types, got ", lt.dump());
    int64_t firstSliding = c->numLayers;
    for (int64_t i = 0; i < c->numLayers; ++i) {
      const nlohmann::json& t = lt[static_cast<size_t>(i)];
      DUO_CHECK(t == "full_attention" || t == "sliding_attention", r.source(), ": layer_types[", i, "] = ", t.dump(),
                " is not supported (full_attention and sliding_attention are)");
      if (t == "sliding_attention" && firstSliding == c->numLayers) firstSliding = i;
      DUO_CHECK(t == "sliding_attention" || firstSliding == c->numLayers, r.source(), ": layer_types: full_attention at layer ",
                i, " after sliding_attention at layer ", firstSliding, " is not supported (sliding layers must be the last ones)");
    }
    if (firstSliding == c->numLayers) {
      window = 0;
    } else {
      DUO_CHECK(window > 0, r.source(), ": layer_types has sliding_attention layers but no 'sliding_window' is in force");
      from = firstSliding;
    }
  }
  c->slidingWindow = window;
  c->slidingWindowFromLayer = window > 0 ? std::min(from, c->numLayers) : 0;
}

// A quantization_config block is accepted in compressed-tensors' two forms DuoScope writes and
// reads: sparsity-only (a pruned, unquantised model, as DuoScope and llm-compressor write it:
// weights dense or in the sparse-bitmask layout) and int8 weights per output channel (format
// "int-quantized", int8_layout.h: prune --out-dtype int8), both read by openHfWeights.
void checkCompressedTensors(const nlohmann::json& q, const std::string& source) {
  const std::string unsupported = ": quantization_config ";
  const std::string hint = " is not supported (load an unquantised F32/F16/BF16 checkpoint)";
  DUO_CHECK(q.is_object(), source, unsupported, "that is not an object", hint);
  const std::string method = q.value("quant_method", std::string());
  DUO_CHECK(method == "compressed-tensors", source, unsupported, "with quant_method '", method, "'", hint);
  const bool groups = q.contains("config_groups") && !q["config_groups"].is_null() && !q["config_groups"].empty();
  if (groups) {
    DUO_CHECK(q["config_groups"].is_object(), source, unsupported, "with config_groups (quantised weights) that is not an object",
              hint);
    const std::string int8Hint = std::string(" is not supported (int8 weights, symmetric, per output channel, format \"") +
                                 kInt8Format + "\", are)";
    for (auto it = q["config_groups"].begin(); it != q["config_groups"].end(); ++it) {
      const std::string fault = int8GroupFault(it.value());
      DUO_CHECK(fault.empty(), source, unsupported, "with config_groups (quantised weights) is not supported: group '",
                it.key(), "': ", fault, "; only int8 weights, symmetric, per output channel (format \"", kInt8Format,
                "\") are");
    }
    DUO_CHECK(q.value("format", nlohmann::json()) == kInt8Format, source, unsupported, "format ",
              q.value("format", nlohmann::json()).dump(), " with int8 config_groups", int8Hint);
  }
  const bool kv = q.contains("kv_cache_scheme") && !q["kv_cache_scheme"].is_null();
  DUO_CHECK(!kv, source, unsupported, "with a kv_cache_scheme", hint);
  const auto formatOk = [](const nlohmann::json& f) {
    return f.is_null() || (f.is_string() && (f == "dense" || f == "sparse-bitmask"));
  };
  DUO_CHECK(groups || !q.contains("format") || formatOk(q["format"]), source, unsupported, "format ", q["format"].dump(), hint);
  if (q.contains("sparsity_config") && q["sparsity_config"].is_object() && q["sparsity_config"].contains("format")) {
    DUO_CHECK(formatOk(q["sparsity_config"]["format"]), source, ": quantization_config.sparsity_config.format ",
              q["sparsity_config"]["format"].dump(), " is not supported (dense and sparse-bitmask are)");
    // Stacked on int8 weights the bitmask would hold the integers: not a layout we read.
    DUO_CHECK(!groups || q["sparsity_config"]["format"] != "sparse-bitmask", source,
              ": quantization_config.sparsity_config.format \"sparse-bitmask\" over int8 config_groups is not supported "
              "(int8 weights are read dense)");
  }
}

// Keys whose presence (with these values) changes the computation in ways we do not implement.
void refuseUnsupported(const Reader& r, const Family& f) {
  const std::string act = r.has("hidden_act") ? r.string("hidden_act") : "silu";
  DUO_CHECK(act == "silu", r.source(), ": hidden_act '", act, "' is not supported (SwiGLU with silu only)");
  DUO_CHECK(r.number("partial_rotary_factor", 1.0) == 1.0, r.source(), ": partial_rotary_factor ",
            r.number("partial_rotary_factor", 1.0), " is not supported (RoPE on the whole head only)");
  if (r.has("quantization_config")) checkCompressedTensors(r.json()["quantization_config"], r.source());
  DUO_CHECK(!r.boolean("mlp_bias", false), r.source(), ": mlp_bias = true is not supported");
  // nanotron-exported SmolLM configs say whether RoPE pairs are interleaved; HF's is rotate-half.
  DUO_CHECK(!r.boolean("rope_interleaved", false), r.source(), ": rope_interleaved = true is not supported");
  if (std::string(f.modelType) != "qwen2")  // LLaMA's attention_bias also biases o_proj
    DUO_CHECK(!r.boolean("attention_bias", false), r.source(),
              ": attention_bias = true is not supported for ", f.modelType, " (o_proj bias)");
}

}  // namespace

ModelConfig parseHfConfig(const nlohmann::json& j, const std::string& source) {
  DUO_CHECK(j.is_object(), source, ": config is not a JSON object");
  const Reader r(j, source);
  const Family& f = family(r);
  ModelConfig c;
  c.architecture = f.ours;
  c.vocabSize = r.integer("vocab_size", 0, true, 1, 1ll << 24);
  c.hiddenSize = r.integer("hidden_size", 0, true, 1, 1ll << 17);
  c.intermediateSize = r.integer("intermediate_size", 0, true, 1, 1ll << 19);
  c.numLayers = r.integer("num_hidden_layers", 0, true, 1, 1024);
  c.numHeads = r.integer("num_attention_heads", 0, true, 1, 4096);
  c.numKvHeads = r.integer("num_key_value_heads", c.numHeads, false, 1, 4096);
  DUO_CHECK(c.numHeads % c.numKvHeads == 0, source, ": num_attention_heads ", c.numHeads,
            " is not a multiple of num_key_value_heads ", c.numKvHeads);
  const bool headDimGiven = r.has("head_dim");
  c.headDim = r.integer("head_dim", 0, false, 2, 4096);
  if (!headDimGiven) {
    DUO_CHECK(c.hiddenSize % c.numHeads == 0, source, ": hidden_size ", c.hiddenSize,
              " is not a multiple of num_attention_heads ", c.numHeads, " and no head_dim is given");
    c.headDim = c.hiddenSize / c.numHeads;
  }
  DUO_CHECK(c.headDim % 2 == 0, source, ": head dimension ", c.headDim, " must be even for RoPE");
  const int64_t defaultMax = std::string(f.modelType) == "llama" ? 2048 : 32768;
  c.maxPositions = r.integer("max_position_embeddings", defaultMax, false, 1, 1ll << 24);
  c.rmsNormEps = r.number("rms_norm_eps", 1e-6);
  DUO_CHECK(c.rmsNormEps > 0 && c.rmsNormEps < 1, source, ": rms_norm_eps ", c.rmsNormEps, " is outside (0, 1)");
  c.ropeTheta = r.number("rope_theta", 10000.0);
  readRope(r, &c);
  DUO_CHECK(c.ropeTheta > 0, source, ": rope_theta ", c.ropeTheta, " must be positive");
  c.tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
  c.attentionBias = std::string(f.modelType) == "qwen2";  // Qwen2 always has q/k/v biases
  c.bosTokenId = r.tokenId("bos_token_id");
  c.eosTokenId = r.tokenId("eos_token_id");
  readSlidingWindow(r, f, &c);
  refuseUnsupported(r, f);
  return c;
}

ModelConfig readHfConfig(const std::string& path) {
  const bool isFile = fs::is_regular_file(path) || fs::path(path).extension() == ".json";
  const std::string file = isFile ? path : (fs::path(path) / "config.json").string();
  DUO_CHECK(fs::exists(file), file, ": missing (an HF model folder needs config.json)");
  return parseHfConfig(readJsonFile(file), file);
}

nlohmann::json hfConfigJson(const ModelConfig& c) {
  const Family* f = &kFamilies[0];
  for (const Family& g : kFamilies)
    if (c.architecture == g.ours) f = &g;
  nlohmann::json j;
  j["architectures"] = {f->architecture};
  j["model_type"] = f->modelType;
  j["vocab_size"] = c.vocabSize;
  j["hidden_size"] = c.hiddenSize;
  j["intermediate_size"] = c.intermediateSize;
  j["num_hidden_layers"] = c.numLayers;
  j["num_attention_heads"] = c.numHeads;
  j["num_key_value_heads"] = c.numKvHeads;
  j["head_dim"] = c.headDim;
  j["max_position_embeddings"] = c.maxPositions;
  j["rms_norm_eps"] = c.rmsNormEps;
  j["rope_theta"] = c.ropeTheta;
  const RopeScaling& rs = c.ropeScaling;
  if (rs.type == "llama3") {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", rs.factor},
                         {"low_freq_factor", rs.lowFreqFactor},
                         {"high_freq_factor", rs.highFreqFactor},
                         {"original_max_position_embeddings", rs.originalMaxPositions}};
  } else if (rs.type == "linear") {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rs.factor}};
  } else if (rs.type == "dynamic") {
    j["rope_scaling"] = {{"rope_type", "dynamic"},
                         {"factor", rs.factor},
                         {"original_max_position_embeddings", rs.originalMaxPositions}};
  } else if (rs.type.empty()) {
    j["rope_scaling"] = nullptr;
  } else {
    fail("config.json: RoPE scaling '", rs.type, "' (from a GGUF's rope_freqs.weight) has no config.json form we write");
  }
  j["tie_word_embeddings"] = c.tieWordEmbeddings;
  if (c.architecture != "qwen2") j["attention_bias"] = false;
  const nlohmann::json window = c.slidingWindow > 0 ? nlohmann::json(c.slidingWindow) : nlohmann::json(nullptr);
  if (c.architecture == "mistral") j["sliding_window"] = window;  // null, not absent: absent means 4096
  if (c.architecture == "qwen2") {
    j["use_sliding_window"] = c.slidingWindow > 0;
    j["sliding_window"] = window;
    j["max_window_layers"] = c.slidingWindow > 0 ? c.slidingWindowFromLayer : c.numLayers;
  }
  j["mlp_bias"] = false;
  j["hidden_act"] = "silu";
  if (c.bosTokenId >= 0) j["bos_token_id"] = c.bosTokenId;
  if (c.eosTokenId >= 0) j["eos_token_id"] = c.eosTokenId;
  j["torch_dtype"] = "float32";
  return j;
}

std::string hfTokenizerPath(const std::string& path) {
  const std::string dir = resolveModelLocation(path);
  const fs::path json = fs::path(dir) / "tokenizer.json";
  if (fs::exists(json)) return json.string();
  const fs::path spm = fs::path(dir) / "tokenizer.model";
  if (fs::exists(spm)) return spm.string();
  fail(dir, ": no tokenizer (neither tokenizer.json nor tokenizer.model is present)");
}

}  // namespace duo
