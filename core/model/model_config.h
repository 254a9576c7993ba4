// SPDX-License-Identifier: GPL-3.0-or-later
// The architecture of a LLaMA-family model, as read from config.json or GGUF metadata.
// Torch-free: the UI shows it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace duo {

// RoPE frequency scaling. inv_freq_i = theta^(-2i/head_dim) before scaling; then by type:
//  ""             none;
//  "llama3"       LLaMA-3.1 smooth scaling (factor, low/high_freq_factor, originalMaxPositions);
//  "linear"       inv_freq / factor (transformers' "linear", GGUF rope.scaling.type = linear);
//  "dynamic"      dynamic NTK as transformers applies it in the forward: a sequence of L > originalMaxPositions
//                 positions uses theta * (factor * L / originalMaxPositions - (factor - 1))^(hd / (hd - 2));
//  "rope_freqs"   inv_freq_i / freqFactors[i], the per-frequency divisors a LLaMA-3.x GGUF stores as
//                 `rope_freqs.weight` (llama.cpp's definition).
struct RopeScaling {
  std::string type;
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositions = 8192;
  std::vector<double> freqFactors;   // [head_dim / 2], "rope_freqs" only
};

struct ModelConfig {
  std::string architecture = "llama";  // llama | mistral | qwen2 (all run through one decoder)
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;              // d_model
  int64_t intermediateSize = 0;        // SwiGLU inner width
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;              // == numHeads for MHA (LLaMA-2)
  int64_t headDim = 0;                 // hiddenSize / numHeads unless given
  int64_t maxPositions = 2048;
  double rmsNormEps = 1e-5;
  double ropeTheta = 10000.0;
  RopeScaling ropeScaling;
  bool tieWordEmbeddings = false;      // lm_head shares embed_tokens (SmolLM2)
  bool attentionBias = false;          // q/k/v biases (Qwen2)
  // Sliding-window attention (Mistral, Qwen2 with use_sliding_window): a query at position p sees
  // keys p - slidingWindow < k <= p, in layers >= slidingWindowFromLayer. 0: full causal attention.
  int64_t slidingWindow = 0;
  int64_t slidingWindowFromLayer = 0;  // Qwen2's max_window_layers; 0 for Mistral
  int64_t bosTokenId = -1;
  int64_t eosTokenId = -1;

  // The window layer `layer` attends over: 0 (none) or slidingWindow.
  int64_t windowOf(int64_t layer) const {
    return slidingWindow > 0 && layer >= slidingWindowFromLayer ? slidingWindow : 0;
  }
  int64_t kvDim() const { return numKvHeads * headDim; }
  int64_t qDim() const { return numHeads * headDim; }
  // Parameters in weights (embeddings counted once when tied).
  int64_t parameterCount() const;
};

// The 7 prunable projections of one decoder layer, in data-flow order.
enum class Proj { Q = 0, K, V, O, Gate, Up, Down };
inline constexpr int kNumProj = 7;
const char* projName(Proj p);          // "q_proj", ..., "down_proj"
bool projFromName(const std::string& name, Proj* out);

// Input sites: projections that share one input vector share one activation-sparsity site.
enum class Site { Qkv = 0, O, GateUp, Down };
inline constexpr int kNumSites = 4;
Site siteOf(Proj p);
const char* siteName(Site s);          // "qkv", "o", "gate_up", "down"

}  // namespace duo
