// SPDX-License-Identifier: GPL-3.0-or-later
// Evaluation through the layer streamer: token batches are pushed through the decoder one layer at
// a time, every batch through layer i before layer i+1 is needed (as the SparseGPT reference's
// evaluation does), so a model bigger than memory can be evaluated with one layer resident. The
// hidden states of all batches ([b, T, d] f32 each) live on the compute device between layers.
// Internal header (torch).
#pragma once
#include <vector>

#include <torch/torch.h>

#include "core/model/io/weight_source.h"
#include "core/model/llama_model.h"

namespace duo {

class LayerwiseBatches {
 public:
  LayerwiseBatches(const ModelConfig& config, torch::Device device);

  // Adds a batch of tokens [b, T] i64 (before embed()); returns its index.
  size_t add(const torch::Tensor& tokens);
  size_t size() const { return m_tokens.size(); }
  const torch::Tensor& tokens(size_t i) const { return m_tokens[i]; }

  // The embedding lookup of every batch (table [vocab, d] in any dtype, on any device).
  void embed(const torch::Tensor& table);
  // Every batch through layer `index` (weights f32 on the device) with the activation rule `hook`.
  void layer(int index, const LayerWeights& weights, const InputHook& hook);
  // After the last layer: batch i's hidden states [b, T, d] f32 (before the final norm).
  const torch::Tensor& hidden(size_t i) const { return m_hidden[i]; }
  // Replaces batch i's hidden states (walks that run layers themselves, e.g. with capture hooks).
  void setHidden(size_t i, const torch::Tensor& h) { m_hidden[i] = h; }
  // Bytes of hidden state held.
  int64_t hiddenBytes() const;

  // The final norm and lm_head of the model, f32 on the device, for head() and logits().
  void setHead(const torch::Tensor& finalNorm, const torch::Tensor& lmHead);
  // Logits of hidden states h [.., d] f32: rmsNorm then lm_head -> [.., vocab] f32.
  torch::Tensor logits(const torch::Tensor& h) const;

  const LlamaModel& runner() const { return m_runner; }
  torch::Device device() const { return m_device; }

 private:
  LlamaModel m_runner;                 // holds no layer weights: each call passes the resident one
  torch::Device m_device;
  std::vector<torch::Tensor> m_tokens;  // [b, T] i64 per batch (CPU)
  std::vector<torch::Tensor> m_hidden;  // [b, T, d] f32 per batch (device)
  torch::Tensor m_finalNorm, m_lmHead;  // [d], [vocab, d] f32 (device)
};

// Walks every layer of `source` through `batches` (embed, layers 0..L-1 upcast to f32 on the
// device one at a time, then the head). Progress: stage "eval", `detail`, one step per layer;
// false cancels (duo::Cancelled).
void walkLayers(WeightSource& source, LayerwiseBatches& batches, const InputHook& hook, const std::string& detail,
                const ProgressFn& progress = {});

// A layer's weights as the compute device's f32 (the evaluation's and calibration's precision).
LayerWeights layerToDevice(const LayerWeights& lw, torch::Device device);

}  // namespace duo
