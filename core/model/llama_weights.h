// SPDX-License-Identifier: GPL-3.0-or-later
// The weights of a LLaMA-family model in memory: what every loader (HF safetensors, GGUF)
// produces and what the forward pass, the pruners and the exporters consume.
// Internal header (torch). Conventions:
//  - all tensors float32, contiguous, on CPU after loading (the job moves them to the device);
//  - projection weights are nn.Linear layout [n_out, k_in] (y = x W^T);
//  - q/k rows in HF order (rotate-half RoPE): GGUF loaders undo llama.cpp's permutation.
#pragma once
#include <array>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/model/model_config.h"

namespace duo {

struct LayerWeights {
  torch::Tensor attnNorm;                    // [d] f32  (input_layernorm)
  std::array<torch::Tensor, kNumProj> proj;  // indexed by Proj: q [qDim,d], k/v [kvDim,d], o [d,qDim],
                                             // gate/up [ffn,d], down [d,ffn]
  torch::Tensor qBias, kBias, vBias;         // [qDim]/[kvDim] f32, undefined unless attentionBias
  torch::Tensor mlpNorm;                     // [d] f32  (post_attention_layernorm)

  torch::Tensor& w(Proj p) { return proj[static_cast<int>(p)]; }
  const torch::Tensor& w(Proj p) const { return proj[static_cast<int>(p)]; }
  // The projection's bias: q/k/v with attentionBias, else undefined.
  torch::Tensor bias(Proj p) const {
    return p == Proj::Q ? qBias : p == Proj::K ? kBias : p == Proj::V ? vBias : torch::Tensor();
  }
};

struct LlamaWeights {
  ModelConfig config;
  torch::Tensor embed;      // [vocab, d] f32
  std::vector<LayerWeights> layers;
  torch::Tensor finalNorm;  // [d] f32
  torch::Tensor lmHead;     // [vocab, d] f32; same storage as embed when tied
};

}  // namespace duo
