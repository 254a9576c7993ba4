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

LoadedModel loadModel(const std::string& pathOrAlias, torch::Device device, const ProgressFn& progress) {
  const std::string path = resolveModelPath(pathOrAlias);
  LoadedModel m;
  m.info = inspectModel(path);
  LlamaWeights w = loadWeights(path, progress);
  if (m.info.format == "gguf") {
    m.tokenizer = Tokenizer::fromSpec(ggufTokenizerSpec(path));
  } else {
    m.tokenizerJsonPath = hfTokenizerPath(path);
    if (std::filesystem::path(m.tokenizerJsonPath).filename() == "tokenizer.model") {
      m.tokenizer = Tokenizer::fromSpec(spmTokenizerSpec(m.tokenizerJsonPath));
      m.tokenizer->setSpecialIds(static_cast<int32_t>(w.config.bosTokenId), static_cast<int32_t>(w.config.eosTokenId));
    } else {
      m.tokenizer = Tokenizer::fromJsonFile(m.tokenizerJsonPath);
    }
  }
  DUO_CHECK(m.tokenizer->vocabSize() <= w.config.vocabSize, path, ": tokenizer has ", m.tokenizer->vocabSize(),
            " tokens, the embedding only ", w.config.vocabSize);
  m.model = std::make_shared<LlamaModel>(std::move(w), device);
  return m;
}

}  // namespace duo
