// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/gguf_model.h"

#include <cmath>

#include "core/common/error.h"
#include "core/model/io/dequant.h"
#include "core/model/io/mapped_file.h"
#include "core/model/io/model_info.h"
#include "core/model/io/tensor_names.h"

namespace duo {

namespace {

int64_t bounded(const GgufMeta& m, const std::string& key, int64_t fallback, bool required, int64_t lo, int64_t hi) {
  const int64_t v = required ? m.integer(key) : m.integer(key, fallback);
  DUO_CHECK(v >= lo && v <= hi, m.file(), ": metadata '", key, "' = ", v, " is outside [", lo, ", ", hi, "]");
  return v;
}

// LLaMA-3.x files (llama.cpp's converter for rope_scaling llama3) store the per-frequency RoPE
// divisors as the tensor `rope_freqs.weight` [head_dim / 2] f32: inv_freq_i / factor_i.
std::vector<double> readRopeFreqs(const GgufHeader& h, const GgufTensorInfo& t, const std::string& file,
                                  const uint8_t* fileData, int64_t headDim) {
  const std::string what = file + ": tensor '" + t.name + "'";
  DUO_CHECK(t.ne.size() == 1 && t.ne[0] == headDim / 2, what, ": expected [", headDim / 2,
            "] (head dimension / 2), got ", shapeString(t.shape()));
  DUO_CHECK(t.type == static_cast<uint32_t>(GgmlType::F32) || t.type == static_cast<uint32_t>(GgmlType::F16), what,
            ": expected F32 or F16, got ", ggmlTypeName(t.type));
  std::vector<float> v(static_cast<size_t>(t.elements));  // [head_dim / 2] f32
  dequantize(static_cast<GgmlType>(t.type), fileData + h.dataOffset + t.offset, v.data(), t.elements);
  for (size_t i = 0; i < v.size(); ++i)
    DUO_CHECK(std::isfinite(v[i]) && v[i] > 0, what, ": factor ", i, " = ", v[i], " (expected finite and > 0)");
  return {v.begin(), v.end()};
}

}  // namespace

bool ggufPermutesQk(const std::string& architecture) { return architecture == "llama"; }

ModelConfig ggufModelConfig(const GgufHeader& h, const std::string& file) {
  if (h.tensor(kRopeFreqsTensor) == nullptr) return ggufModelConfig(h, file, nullptr);
  const MappedFile map(file);  // the caller parsed `h` from this file; rope_freqs needs its data
  const GgufTensorInfo& t = *h.tensor(kRopeFreqsTensor);
  DUO_CHECK(map.size() >= h.dataOffset + t.offset + static_cast<uint64_t>(t.bytes), file, ": tensor '", t.name,
            "' lies outside the file (", map.size(), " bytes): was the file replaced while open?");
  return ggufModelConfig(h, file, map.data());
}

ModelConfig ggufModelConfig(const GgufHeader& h, const std::string& file, const uint8_t* fileData) {
  const GgufMeta m(h, file);
  const std::string arch = m.string("general.architecture", "");
  DUO_CHECK(!arch.empty(), file, ": missing metadata 'general.architecture'");
  DUO_CHECK(arch == "llama" || arch == "qwen2", file, ": general.architecture '", arch,
            "' is not supported (llama and qwen2 are)");
  const std::string p = arch + ".";
  ModelConfig c;
  c.architecture = arch;
  c.hiddenSize = bounded(m, p + "embedding_length", 0, true, 1, 1ll << 17);
  c.intermediateSize = bounded(m, p + "feed_forward_length", 0, true, 1, 1ll << 19);
  c.numLayers = bounded(m, p + "block_count", 0, true, 1, 1024);
  c.numHeads = bounded(m, p + "attention.head_count", 0, true, 1, 4096);
  c.numKvHeads = bounded(m, p + "attention.head_count_kv", c.numHeads, false, 1, 4096);
  DUO_CHECK(c.numHeads % c.numKvHeads == 0, file, ": head_count ", c.numHeads, " is not a multiple of head_count_kv ",
            c.numKvHeads);
  const int64_t defaultHeadDim = c.hiddenSize % c.numHeads == 0 ? c.hiddenSize / c.numHeads : 0;
  c.headDim = bounded(m, p + "attention.key_length", defaultHeadDim, false, 0, 4096);
  DUO_CHECK(c.headDim >= 2 && c.headDim % 2 == 0, file, ": head dimension ", c.headDim, " must be even and >= 2");
  const int64_t valueLength = m.integer(p + "attention.value_length", c.headDim);
  DUO_CHECK(valueLength == c.headDim, file, ": attention.value_length ", valueLength, " != key_length ", c.headDim,
            " is not supported");
  const int64_t ropeDims = m.integer(p + "rope.dimension_count", c.headDim);
  DUO_CHECK(ropeDims == c.headDim, file, ": rope.dimension_count ", ropeDims, " != head dimension ", c.headDim,
            " (partial RoPE) is not supported");
  c.maxPositions = bounded(m, p + "context_length", 2048, false, 1, 1ll << 24);
  c.rmsNormEps = m.number(p + "attention.layer_norm_rms_epsilon", 1e-5);
  DUO_CHECK(c.rmsNormEps > 0 && c.rmsNormEps < 1, file, ": layer_norm_rms_epsilon ", c.rmsNormEps, " is outside (0, 1)");
  c.ropeTheta = m.number(p + "rope.freq_base", 10000.0);
  DUO_CHECK(c.ropeTheta > 0, file, ": rope.freq_base ", c.ropeTheta, " must be positive");
  // RoPE scaling: rope.scaling.type none or linear (with rope.scaling.factor, or the older
  // rope.scale_linear), and/or LLaMA-3.x's rope_freqs.weight. yarn & co. are refused by name.
  const std::string scaling = m.string(p + "rope.scaling.type", "none");
  DUO_CHECK(scaling == "none" || scaling == "linear", file, ": metadata '", p, "rope.scaling.type' = '", scaling,
            "' is not supported (none and linear are)");
  double linear = m.number(p + "rope.scale_linear", 1.0);
  if (scaling == "linear") linear = m.number(p + "rope.scaling.factor", linear);
  DUO_CHECK(linear >= 1.0, file, ": linear RoPE scaling factor ", linear, " must be >= 1");
  if (linear != 1.0) {
    c.ropeScaling.type = "linear";
    c.ropeScaling.factor = linear;
  }
  if (const GgufTensorInfo* freqs = h.tensor(kRopeFreqsTensor)) {
    DUO_CHECK(c.ropeScaling.type.empty(), file, ": ", kRopeFreqsTensor, " together with linear RoPE scaling is not supported");
    DUO_CHECK(fileData != nullptr, file, ": ", kRopeFreqsTensor, " needs the file's data");
    c.ropeScaling.type = "rope_freqs";
    c.ropeScaling.freqFactors = readRopeFreqs(h, *freqs, file, fileData, c.headDim);
  }

  // Vocabulary: the explicit key, else the token list, else the embedding's row count.
  int64_t vocab = m.integer(p + "vocab_size", 0);
  if (vocab == 0) {
    if (const GgufValue* tokens = m.array("tokenizer.ggml.tokens", GgufType::String))
      vocab = static_cast<int64_t>(tokens->strings.size());
  }
  const GgufTensorInfo* embed = h.tensor(tensorName(NameFormat::Gguf, {TensorKind::Embed, -1, Proj::Q}));
  if (vocab == 0 && embed != nullptr && embed->ne.size() == 2) vocab = embed->ne[1];
  DUO_CHECK(vocab >= 1 && vocab <= (1ll << 24), file, ": vocabulary size ", vocab, " is missing or out of range");
  c.vocabSize = vocab;
  c.tieWordEmbeddings = h.tensor(tensorName(NameFormat::Gguf, {TensorKind::LmHead, -1, Proj::Q})) == nullptr;
  c.attentionBias = arch == "qwen2";
  c.bosTokenId = m.integer("tokenizer.ggml.bos_token_id", -1);
  c.eosTokenId = m.integer("tokenizer.ggml.eos_token_id", -1);
  return c;
}

TokenizerSpec ggufTokenizerSpec(const GgufHeader& h, const std::string& file) {
  const GgufMeta m(h, file);
  TokenizerSpec s;
  s.model = m.string("tokenizer.ggml.model", "");
  DUO_CHECK(!s.model.empty(), file, ": missing metadata 'tokenizer.ggml.model' (no tokenizer in this file)");
  DUO_CHECK(s.model == "gpt2" || s.model == "llama", file, ": tokenizer.ggml.model '", s.model,
            "' is not supported (gpt2 and llama are)");
  s.pre = m.string("tokenizer.ggml.pre", "default");
  const GgufValue* tokens = m.array("tokenizer.ggml.tokens", GgufType::String);
  DUO_CHECK(tokens != nullptr && !tokens->strings.empty(), file, ": missing or empty 'tokenizer.ggml.tokens'");
  s.tokens = tokens->strings;
  const size_t n = s.tokens.size();
  if (const GgufValue* scores = m.array("tokenizer.ggml.scores", GgufType::F32)) {
    DUO_CHECK(scores->floats.size() == n, file, ": tokenizer.ggml.scores has ", scores->floats.size(),
              " entries for ", n, " tokens");
    s.scores.assign(scores->floats.begin(), scores->floats.end());
  }
  if (const GgufValue* types = m.array("tokenizer.ggml.token_type", GgufType::I32)) {
    DUO_CHECK(types->ints.size() == n, file, ": tokenizer.ggml.token_type has ", types->ints.size(), " entries for ",
              n, " tokens");
    s.tokenTypes.reserve(n);
    for (int64_t t : types->ints) s.tokenTypes.push_back(static_cast<int32_t>(t));
  }
  if (const GgufValue* merges = m.array("tokenizer.ggml.merges", GgufType::String)) s.merges = merges->strings;
  DUO_CHECK(s.model != "gpt2" || !s.merges.empty(), file, ": gpt2 tokenizer without 'tokenizer.ggml.merges'");
  auto id = [&](const char* key) {
    const int64_t v = m.integer(key, -1);
    DUO_CHECK(v >= -1 && v < static_cast<int64_t>(n), file, ": ", key, " = ", v, " is not a token id (vocabulary ", n, ")");
    return v;
  };
  s.bosId = id("tokenizer.ggml.bos_token_id");
  s.eosId = id("tokenizer.ggml.eos_token_id");
  s.unkId = id("tokenizer.ggml.unknown_token_id");
  s.padId = id("tokenizer.ggml.padding_token_id");
  // llama.cpp's defaults when the keys are absent: SentencePiece adds BOS and a space prefix.
  const bool spm = s.model == "llama";
  s.addBos = m.boolean("tokenizer.ggml.add_bos_token", spm);
  s.addSpacePrefix = m.boolean("tokenizer.ggml.add_space_prefix", spm);
  return s;
}

TokenizerSpec ggufTokenizerSpec(const std::string& path) {
  const std::string p = resolveModelLocation(path);
  const GgufFile f(p);
  return ggufTokenizerSpec(f.header(), p);
}

}  // namespace duo
