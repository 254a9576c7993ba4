// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/random_model.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/common/error.h"
#include "core/model/io/checkpoint_writer.h"
#include "core/model/io/tensor_names.h"

namespace duo {

ModelConfig namedShape(const std::string& name) {
  ModelConfig c;
  c.architecture = "llama";
  c.rmsNormEps = 1e-5;
  c.bosTokenId = 1;
  c.eosTokenId = 2;
  auto set = [&](int64_t layers, int64_t d, int64_t ffn, int64_t heads, int64_t kv, int64_t vocab) {
    c.numLayers = layers;
    c.hiddenSize = d;
    c.intermediateSize = ffn;
    c.numHeads = heads;
    c.numKvHeads = kv;
    c.headDim = d / heads;
    c.vocabSize = vocab;
  };
  if (name == "llama2-7b") {
    set(32, 4096, 11008, 32, 32, 32000);
    c.maxPositions = 4096;
  } else if (name == "llama3-8b") {
    set(32, 4096, 14336, 32, 8, 128256);
    c.maxPositions = 8192;
    c.ropeTheta = 500000.0;
    c.bosTokenId = 128000;
    c.eosTokenId = 128001;
  } else if (name == "llama2-70b") {
    set(80, 8192, 28672, 64, 8, 32000);
    c.maxPositions = 4096;
  } else if (name == "mistral-7b") {
    set(32, 4096, 14336, 32, 8, 32000);
    c.architecture = "mistral";
    c.maxPositions = 32768;
    c.ropeTheta = 1000000.0;
  } else if (name == "qwen2-7b") {
    set(28, 3584, 18944, 28, 4, 152064);
    c.architecture = "qwen2";
    c.attentionBias = true;
    c.maxPositions = 32768;
    c.ropeTheta = 1000000.0;
    c.rmsNormEps = 1e-6;
  } else {
    fail("shape '", name, "' is not one of llama2-7b, llama3-8b, llama2-70b, mistral-7b, qwen2-7b");
  }
  return c;
}

void writeRandomModel(const std::string& outDir, const RandomModelOptions& o, const ProgressFn& progress) {
  const ModelConfig& c = o.config;
  DUO_CHECK(c.numLayers > 0 && c.hiddenSize > 0 && c.intermediateSize > 0 && c.numHeads > 0 && c.numKvHeads > 0 &&
                c.vocabSize > 0 && c.headDim > 0 && c.numHeads % c.numKvHeads == 0,
            outDir, ": random model shape is inconsistent (layers ", c.numLayers, ", hidden ", c.hiddenSize, ", ffn ",
            c.intermediateSize, ", heads ", c.numHeads, "/", c.numKvHeads, ", head_dim ", c.headDim, ", vocab ",
            c.vocabSize, ")");
  torch::NoGradGuard noGrad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  CheckpointWriterOptions wo;
  wo.dtype = o.dtype;
  if (o.maxShardBytes > 0) wo.maxShardBytes = o.maxShardBytes;
  CheckpointWriter writer(outDir, c, wo);
  const std::vector<TensorSlot> slots = modelSlots(c);
  int64_t done = 0;
  for (const TensorSlot& slot : slots) {
    reportProgress(progress, {"generate", tensorName(NameFormat::Hf, slot), done, static_cast<int64_t>(slots.size())});
    if (o.holes) {
      writer.skip(slot);
      ++done;
      continue;
    }
    const std::vector<int64_t> shape = expectedShape(c, slot);
    torch::Tensor t;  // [shape] f32
    switch (slot.kind) {
      case TensorKind::AttnNorm:
      case TensorKind::MlpNorm:
      case TensorKind::FinalNorm: t = torch::ones(shape); break;
      case TensorKind::QBias:
      case TensorKind::KBias:
      case TensorKind::VBias: t = torch::zeros(shape); break;
      default: t = torch::empty(shape).normal_(0.0, 0.02, gen); break;
    }
    writer.put(slot, t);
    ++done;
  }
  writer.commit({{"duoscope_random_weights", {{"seed", o.seed}, {"note", "random N(0, 0.02^2) weights at real shapes"}}}},
                o.tokenizerSource, progress);
}

}  // namespace duo
