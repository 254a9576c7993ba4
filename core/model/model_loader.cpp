// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/model_loader.h"

#include <filesystem>

#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/model/io/loader.h"
#include "core/model/tokenizer/tokenizer_spm.h"

namespace fs = std::filesystem;

namespace duo {

torch::Device chooseDevice(const std::string& preference) {
  if (preference.empty() || preference == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (preference == "cpu") return torch::kCPU;
  if (preference == "cuda" || preference.rfind("cuda:", 0) == 0) {
    DUO_CHECK(torch::cuda::is_available(), "device '", preference, "': this LibTorch has no CUDA device available");
    return torch::Device(preference);
  }
  fail("device '", preference, "': expected auto, cpu or cuda");
}

namespace {
// The tokenizer of the model at `path` (resolved): GGUF metadata, tokenizer.json or a SentencePiece
// tokenizer.model; checked against the embedding's vocabulary.
void loadTokenizerInto(const std::string& path, const ModelInfo& info, const ModelConfig& config,
                       std::shared_ptr<Tokenizer>* tokenizer, std::string* tokenizerPath) {
  if (info.format == "gguf") {
    *tokenizer = Tokenizer::fromSpec(ggufTokenizerSpec(path));
  } else {
    *tokenizerPath = hfTokenizerPath(path);
    if (std::filesystem::path(*tokenizerPath).filename() == "tokenizer.model") {
      *tokenizer = Tokenizer::fromSpec(spmTokenizerSpec(*tokenizerPath));
      (*tokenizer)->setSpecialIds(static_cast<int32_t>(config.bosTokenId), static_cast<int32_t>(config.eosTokenId));
    } else {
      *tokenizer = Tokenizer::fromJsonFile(*tokenizerPath);
    }
  }
  DUO_CHECK((*tokenizer)->vocabSize() <= config.vocabSize, path, ": tokenizer has ", (*tokenizer)->vocabSize(),
            " tokens, the embedding only ", config.vocabSize);
}
}  // namespace

LoadedModel loadModel(const std::string& pathOrAlias, torch::Device device, const ProgressFn& progress) {
  const std::string path = resolveModelPath(pathOrAlias);
  LoadedModel m;
  m.info = inspectModel(path);
  LlamaWeights w = loadWeights(path, progress);
  loadTokenizerInto(path, m.info, w.config, &m.tokenizer, &m.tokenizerJsonPath);
  m.model = std::make_shared<LlamaModel>(std::move(w), device);
  return m;
}

OpenedModel openModel(const ModelRef& model) {
  OpenedModel m;
  m.info = model.info();
  m.source = openWeightSource(model.path(), &model.config());
  loadTokenizerInto(model.path(), m.info, m.source->config(), &m.tokenizer, &m.tokenizerJsonPath);
  return m;
}

OpenedModel openModel(const std::string& pathOrAlias) { return openModel(ModelRef::resolve(pathOrAlias)); }

}  // namespace duo
