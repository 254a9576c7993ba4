// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/layerwise.h"

#include "core/common/error.h"

namespace duo {

LayerWeights layerToDevice(const LayerWeights& lw, torch::Device device) {
  LayerWeights out;
  auto mv = [&](const torch::Tensor& t) { return t.defined() ? t.to(device, torch::kFloat32).contiguous() : t; };
  out.attnNorm = mv(lw.attnNorm);
  out.mlpNorm = mv(lw.mlpNorm);
  for (int p = 0; p < kNumProj; ++p) out.proj[static_cast<size_t>(p)] = mv(lw.proj[static_cast<size_t>(p)]);
  out.qBias = mv(lw.qBias);
  out.kBias = mv(lw.kBias);
  out.vBias = mv(lw.vBias);
  return out;
}

LayerwiseBatches::LayerwiseBatches(const ModelConfig& config, torch::Device device)
    : m_runner(configOnly(config), device), m_device(device) {}

size_t LayerwiseBatches::add(const torch::Tensor& tokens) {
  DUO_CHECK(tokens.dim() == 2 && tokens.size(0) > 0 && tokens.size(1) > 0, "evaluation: expected tokens [batch, seq], got ",
            tokens.sizes());
  DUO_ASSERT(m_hidden.empty());
  m_tokens.push_back(tokens.to(torch::kCPU, torch::kInt64));
  return m_tokens.size() - 1;
}

void LayerwiseBatches::embed(const torch::Tensor& table) {
  m_hidden.clear();
  for (const auto& t : m_tokens)
    m_hidden.push_back(torch::embedding(table, t.to(table.device())).to(m_device, torch::kFloat32).contiguous());
}

void LayerwiseBatches::layer(int index, const LayerWeights& weights, const InputHook& hook) {
  DUO_ASSERT(m_hidden.size() == m_tokens.size());
  for (auto& h : m_hidden) h = m_runner.layer(index, h, hook, &weights);
}

int64_t LayerwiseBatches::hiddenBytes() const {
  int64_t n = 0;
  for (const auto& h : m_hidden) n += h.numel() * 4;
  return n;
}

void LayerwiseBatches::setHead(const torch::Tensor& finalNorm, const torch::Tensor& lmHead) {
  m_finalNorm = finalNorm.to(m_device, torch::kFloat32).contiguous();
  m_lmHead = lmHead.to(m_device, torch::kFloat32).contiguous();
}

torch::Tensor LayerwiseBatches::logits(const torch::Tensor& h) const {
  DUO_ASSERT(m_lmHead.defined());
  return torch::linear(rmsNorm(h, m_finalNorm, m_runner.config().rmsNormEps), m_lmHead);
}

void walkLayers(WeightSource& source, LayerwiseBatches& batches, const InputHook& hook, const std::string& detail,
                const ProgressFn& progress) {
  torch::NoGradGuard noGrad;
  const int L = static_cast<int>(source.config().numLayers);
  reportProgress(progress, {"eval", detail, 0, L});
  batches.embed(source.embed());
  for (int l = 0; l < L; ++l) {
    reportProgress(progress, {"eval", detail + ": layer " + std::to_string(l), l, L});
    batches.layer(l, layerToDevice(source.layer(l), batches.device()), hook);
  }
  batches.setHead(source.finalNorm(), source.lmHead());
  reportProgress(progress, {"eval", detail, L, L});
}

}  // namespace duo
