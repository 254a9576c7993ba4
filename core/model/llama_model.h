// SPDX-License-Identifier: GPL-3.0-or-later
// The LLaMA-family decoder in LibTorch (llama2.c's run.c in spirit: sections follow the data flow).
// RMSNorm -> attention (RoPE rotate-half with theta and llama3/linear/dynamic/rope_freqs scaling,
// GQA, causal mask narrowed to a sliding window where the config has one) ->
// residual -> RMSNorm -> SwiGLU MLP -> residual; tied or untied lm_head.
//
// Every one of the 7 projections of a layer is a hook point: the InputHook sees the input of each
// input site (q/k/v share one, gate/up share one) and returns the tensor the projections use, which
// lets calibration capture inputs and apply activation sparsity; weights can be swapped by passing
// another LayerWeights to layer().
// Internal header (torch).
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "core/model/llama_weights.h"

namespace duo {

// (layer, site, input [.., k_in] f32) -> the input the site's projections compute with.
using InputHook = std::function<torch::Tensor(int layer, Site site, const torch::Tensor& x)>;

// Per-layer key/value cache for single-token decoding.
struct KvCache {
  std::vector<torch::Tensor> k, v;  // per layer [B, n_kv_heads, maxLen, head_dim] f32
  int64_t length = 0;               // positions filled
  int64_t maxLen = 0;
};

// Cosine/sine tables for rotate-half RoPE, frequency scaling included (model_config.h's RopeScaling).
struct RopeTables {
  torch::Tensor cos, sin;  // [maxLen, head_dim] f32
};
// Tables for positions [0, maxLen). seqLen: the length of the sequence the tables serve, which only
// dynamic NTK scaling depends on (0 or <= originalMaxPositions: the unscaled base).
RopeTables makeRope(const ModelConfig& cfg, int64_t maxLen, torch::Device device, int64_t seqLen = 0);
// The RoPE base for a sequence of seqLen positions (ropeTheta unless dynamic NTK scaling applies).
double ropeBaseFor(const ModelConfig& cfg, int64_t seqLen);

class LlamaModel {
 public:
  LlamaModel(LlamaWeights weights, torch::Device device = torch::kCPU);

  const ModelConfig& config() const { return m_w.config; }
  LlamaWeights& weights() { return m_w; }
  const LlamaWeights& weights() const { return m_w; }
  torch::Device device() const { return m_device; }
  // Moves all weights to `device` (e.g. CUDA for calibration).
  void to(torch::Device device);

  // Full-sequence forward. tokens [B, T] i64 -> logits [B, T, vocab] f32.
  torch::Tensor forward(const torch::Tensor& tokens, const InputHook& hook = {}) const;

  // The pieces, for layer-by-layer calibration.
  torch::Tensor embed(const torch::Tensor& tokens) const;                     // -> [B, T, d]
  torch::Tensor layer(int index, const torch::Tensor& h, const InputHook& hook = {},
                      const LayerWeights* override = nullptr) const;         // [B, T, d] -> [B, T, d]
  torch::Tensor head(const torch::Tensor& h) const;                           // -> [B, T, vocab]
  torch::Tensor finalNormed(const torch::Tensor& h) const;                    // -> [B, T, d]

  // layer() cut at its four input sites, for calibration that keeps each site's input instead of
  // recomputing the layer's prefix for every group (the same arithmetic as layer(), which is built
  // from these). h [B, T, d] f32 is the layer input; the returned tensors are the next site's raw
  // (un-hooked) input.
  torch::Tensor attnInput(const LayerWeights& lw, const torch::Tensor& h) const;   // Qkv site input [B, T, d]
  torch::Tensor projection(int index, const LayerWeights& lw, Proj p, const torch::Tensor& x) const;  // with bias
  // O site input [B, T, qDim] from the q, k, v projection outputs [B, T, qDim|kvDim].
  // bf16Products: the scores' and the weighted sum's products take bf16 operands with f32 results
  // where bf16ProductsUnrounded (common/bf16_gemm.h) holds (calibration's --compute-dtype bf16);
  // elsewhere the flag changes nothing.
  torch::Tensor attend(int index, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       bool bf16Products = false) const;
  torch::Tensor mlpInput(const LayerWeights& lw, const torch::Tensor& h1) const;  // GateUp site input [B, T, d]
  static torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);  // Down site input [B, T, ffn]

  // KV-cached decoding: tokens [B, 1] i64 at position cache.length -> logits [B, vocab].
  KvCache newCache(int64_t batch, int64_t maxLen) const;
  torch::Tensor decodeStep(KvCache& cache, const torch::Tensor& tokens, const InputHook& hook = {}) const;

  // Optional replacement for the projection mat-vecs during decode (e.g. the packed dual-sparse
  // kernels): called with (layer, proj, input [B, 1, k_in]) and returns [B, 1, n_out], or an undefined
  // tensor to fall back to the dense matmul.
  using ProjOverride = std::function<torch::Tensor(int layer, Proj proj, const torch::Tensor& x)>;
  void setDecodeOverride(ProjOverride fn) { m_decodeOverride = std::move(fn); }
  // Optional replacement for the lm_head mat-vec during single-token decode: called with the
  // final-normed hidden state [B, 1, d] and returns [B, 1, vocab], or undefined to fall back.
  using HeadOverride = std::function<torch::Tensor(const torch::Tensor& normed)>;
  void setDecodeHeadOverride(HeadOverride fn) { m_decodeHeadOverride = std::move(fn); }
  // Optional replacement for a whole single-token step (tokens [B, 1]): it must fill the cache at
  // cache.length, advance it and return logits [B, vocab], or return an undefined tensor (cache
  // untouched) to fall back. It applies its own activation rule: decodeStep's hook is not passed.
  using StepOverride = std::function<torch::Tensor(KvCache& cache, const torch::Tensor& tokens)>;
  void setDecodeStepOverride(StepOverride fn) { m_decodeStepOverride = std::move(fn); }
  // Optional hook on every projection's output in forward/layer (not decode): called with (layer,
  // proj, y [..., n_out]) and returns what the model uses instead (the sensitivity job adds a zero
  // tensor that requires grad, to read the loss gradient at each output). Empty: none.
  using OutputHook = std::function<torch::Tensor(int layer, Proj proj, const torch::Tensor& y)>;
  void setOutputHook(OutputHook fn) { m_outputHook = std::move(fn); }

 private:
  torch::Tensor attention(int index, const LayerWeights& lw, const torch::Tensor& x, int64_t pos0,
                          KvCache* cache, const InputHook& hook, bool decode) const;
  torch::Tensor mlp(int index, const LayerWeights& lw, const torch::Tensor& x, const InputHook& hook,
                    bool decode) const;
  torch::Tensor layerImpl(int index, const LayerWeights& lw, const torch::Tensor& h, int64_t pos0,
                          KvCache* cache, const InputHook& hook, bool decode) const;
  torch::Tensor project(int index, const LayerWeights& lw, Proj p, const torch::Tensor& x, bool decode) const;
  torch::Tensor attendImpl(int index, torch::Tensor q, torch::Tensor k, torch::Tensor v, int64_t pos0,
                           KvCache* cache, bool bf16Products = false) const;
  const RopeTables& rope(int64_t needLen) const;

  LlamaWeights m_w;
  torch::Device m_device;
  mutable RopeTables m_rope;
  mutable int64_t m_ropeLen = 0;
  mutable RopeTables m_dynRope;   // dynamic NTK tables for one sequence length past the original context
  mutable int64_t m_dynLen = 0;
  ProjOverride m_decodeOverride;
  HeadOverride m_decodeHeadOverride;
  StepOverride m_decodeStepOverride;
  OutputHook m_outputHook;
};

// Weights with the config and empty layers: a LlamaModel built on them computes only with the
// LayerWeights passed to layer() (the layer streamer's runner).
LlamaWeights configOnly(const ModelConfig& config);

// RMSNorm over the last dimension: x / sqrt(mean(x^2) + eps) * weight.
torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

}  // namespace duo
