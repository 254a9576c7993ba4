// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/tensor_names.h"

#include <cstdlib>
#include <cstring>

namespace duo {

namespace {

// One row per tensor kind (and projection). "{i}" stands for the layer index.
struct NameRow {
  TensorKind kind;
  Proj proj;
  const char* hf;
  const char* gguf;
};

const NameRow kNames[] = {
    {TensorKind::Embed, Proj::Q, "model.embed_tokens.weight", "token_embd.weight"},
    {TensorKind::FinalNorm, Proj::Q, "model.norm.weight", "output_norm.weight"},
    {TensorKind::LmHead, Proj::Q, "lm_head.weight", "output.weight"},
    {TensorKind::AttnNorm, Proj::Q, "model.layers.{i}.input_layernorm.weight", "blk.{i}.attn_norm.weight"},
    {TensorKind::MlpNorm, Proj::Q, "model.layers.{i}.post_attention_layernorm.weight", "blk.{i}.ffn_norm.weight"},
    {TensorKind::Proj, Proj::Q, "model.layers.{i}.self_attn.q_proj.weight", "blk.{i}.attn_q.weight"},
    {TensorKind::Proj, Proj::K, "model.layers.{i}.self_attn.k_proj.weight", "blk.{i}.attn_k.weight"},
    {TensorKind::Proj, Proj::V, "model.layers.{i}.self_attn.v_proj.weight", "blk.{i}.attn_v.weight"},
    {TensorKind::Proj, Proj::O, "model.layers.{i}.self_attn.o_proj.weight", "blk.{i}.attn_output.weight"},
    {TensorKind::Proj, Proj::Gate, "model.layers.{i}.mlp.gate_proj.weight", "blk.{i}.ffn_gate.weight"},
    {TensorKind::Proj, Proj::Up, "model.layers.{i}.mlp.up_proj.weight", "blk.{i}.ffn_up.weight"},
    {TensorKind::Proj, Proj::Down, "model.layers.{i}.mlp.down_proj.weight", "blk.{i}.ffn_down.weight"},
    {TensorKind::QBias, Proj::Q, "model.layers.{i}.self_attn.q_proj.bias", "blk.{i}.attn_q.bias"},
    {TensorKind::KBias, Proj::K, "model.layers.{i}.self_attn.k_proj.bias", "blk.{i}.attn_k.bias"},
    {TensorKind::VBias, Proj::V, "model.layers.{i}.self_attn.v_proj.bias", "blk.{i}.attn_v.bias"},
};

// Tensors some checkpoints carry that hold no weights: HF's recomputed RoPE buffers, and the
// llama3 RoPE frequency divisors of LLaMA-3.x GGUFs (read into ModelConfig by gguf_model.cpp).
const char* const kIgnorableHf[] = {"model.layers.{i}.self_attn.rotary_emb.inv_freq"};
const char* const kIgnorableGguf[] = {"rope_freqs.weight"};

const char* pattern(NameFormat f, const NameRow& r) { return f == NameFormat::Hf ? r.hf : r.gguf; }

// Matches `name` against a pattern with at most one "{i}" (a decimal layer index, no sign, no
// leading zeros); sets *layer (-1 when the pattern has none).
bool matchPattern(const char* pat, const std::string& name, int* layer) {
  const char* brace = std::strstr(pat, "{i}");
  if (brace == nullptr) {
    *layer = -1;
    return name == pat;
  }
  const size_t pre = static_cast<size_t>(brace - pat);
  const std::string suffix(brace + 3);
  if (name.size() <= pre + suffix.size() || name.compare(0, pre, pat, pre) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string digits = name.substr(pre, name.size() - pre - suffix.size());
  if (digits.empty() || digits.size() > 6 || (digits.size() > 1 && digits[0] == '0')) return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  *layer = std::atoi(digits.c_str());
  return true;
}

}  // namespace

std::string tensorName(NameFormat format, const TensorSlot& slot) {
  for (const NameRow& r : kNames) {
    if (r.kind != slot.kind || (slot.kind == TensorKind::Proj && r.proj != slot.proj)) continue;
    std::string s = pattern(format, r);
    const size_t at = s.find("{i}");
    if (at != std::string::npos) s.replace(at, 3, std::to_string(slot.layer));
    return s;
  }
  return "?";
}

bool parseTensorName(NameFormat format, const std::string& name, TensorSlot* out) {
  for (const NameRow& r : kNames) {
    int layer = -1;
    if (matchPattern(pattern(format, r), name, &layer)) {
      out->kind = r.kind;
      out->proj = r.proj;
      out->layer = layer;
      return true;
    }
  }
  return false;
}

bool isIgnorableTensorName(NameFormat format, const std::string& name) {
  int layer = -1;
  if (format == NameFormat::Gguf) {
    for (const char* pat : kIgnorableGguf)
      if (matchPattern(pat, name, &layer)) return true;
    return false;
  }
  for (const char* pat : kIgnorableHf)
    if (matchPattern(pat, name, &layer)) return true;
  return false;
}

std::vector<TensorSlot> modelSlots(const ModelConfig& config) {
  std::vector<TensorSlot> slots;
  slots.push_back({TensorKind::Embed, -1, Proj::Q});
  for (int l = 0; l < static_cast<int>(config.numLayers); ++l) {
    slots.push_back({TensorKind::AttnNorm, l, Proj::Q});
    for (int p = 0; p < kNumProj; ++p) {
      slots.push_back({TensorKind::Proj, l, static_cast<Proj>(p)});
      if (config.attentionBias && p == static_cast<int>(Proj::V)) {
        slots.push_back({TensorKind::QBias, l, Proj::Q});
        slots.push_back({TensorKind::KBias, l, Proj::K});
        slots.push_back({TensorKind::VBias, l, Proj::V});
      }
    }
    slots.push_back({TensorKind::MlpNorm, l, Proj::Q});
  }
  slots.push_back({TensorKind::FinalNorm, -1, Proj::Q});
  if (!config.tieWordEmbeddings) slots.push_back({TensorKind::LmHead, -1, Proj::Q});
  return slots;
}

std::vector<int64_t> expectedShape(const ModelConfig& c, const TensorSlot& slot) {
  const int64_t d = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  const int64_t ffn = c.intermediateSize;
  switch (slot.kind) {
    case TensorKind::Embed:
    case TensorKind::LmHead: return {c.vocabSize, d};
    case TensorKind::FinalNorm:
    case TensorKind::AttnNorm:
    case TensorKind::MlpNorm: return {d};
    case TensorKind::QBias: return {q};
    case TensorKind::KBias:
    case TensorKind::VBias: return {kv};
    case TensorKind::Proj:
      switch (slot.proj) {
        case Proj::Q: return {q, d};
        case Proj::K:
        case Proj::V: return {kv, d};
        case Proj::O: return {d, q};
        case Proj::Gate:
        case Proj::Up: return {ffn, d};
        case Proj::Down: return {d, ffn};
      }
  }
  return {};
}

std::string shapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace duo
