// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/loader.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/model/io/dequant.h"
#include "core/model/io/gguf.h"
#include "core/model/io/hf_weights.h"
#include "core/model/io/model_info.h"
#include "core/model/io/safetensors.h"
#include "core/model/io/tensor_names.h"
#include "core/model/io/weight_source.h"

namespace fs = std::filesystem;

namespace duo {

LlamaWeights loadWeights(const std::string& path, const ProgressFn& progress) {
  return materialise(*openWeightSource(path), progress);
}

bool isGgufFile(const std::string& path) {
  if (fs::path(path).extension() == ".gguf") return true;
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) return false;
  char magic[4] = {};
  const size_t n = std::fread(magic, 1, 4, fp);
  std::fclose(fp);
  return n == 4 && std::string(magic, 4) == "GGUF";
}

ModelConfig loadModelConfig(const std::string& path) {
  const std::string p = resolveModelLocation(path);
  if (fs::is_directory(p)) return readHfConfig(p);
  if (isGgufFile(p)) {
    const GgufFile f(p);
    return ggufModelConfig(f.header(), p);
  }
  fail(p, ": not a model (expected an HF folder with config.json or a .gguf file)");
}

// GGUF rows of one head: index (i, j) with i < headDim/2, j in {0,1} holds HF row (j, i).
torch::Tensor unpermuteGgufQk(const torch::Tensor& w, int64_t nHeads) {
  const int64_t rows = w.size(0);
  DUO_CHECK(nHeads > 0 && rows % (2 * nHeads) == 0, "unpermuteGgufQk: ", rows, " rows do not split into ", nHeads,
            " heads of even size");
  std::vector<int64_t> split = {nHeads, rows / nHeads / 2, 2};
  for (int64_t d = 1; d < w.dim(); ++d) split.push_back(w.size(d));
  return w.reshape(split).transpose(1, 2).reshape(w.sizes()).contiguous();
}

torch::Tensor permuteGgufQk(const torch::Tensor& w, int64_t nHeads) {
  const int64_t rows = w.size(0);
  DUO_CHECK(nHeads > 0 && rows % (2 * nHeads) == 0, "permuteGgufQk: ", rows, " rows do not split into ", nHeads,
            " heads of even size");
  std::vector<int64_t> split = {nHeads, 2, rows / nHeads / 2};
  for (int64_t d = 1; d < w.dim(); ++d) split.push_back(w.size(d));
  return w.reshape(split).transpose(1, 2).reshape(w.sizes()).contiguous();
}

}  // namespace duo
