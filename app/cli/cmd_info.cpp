// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli info --model PATH [--json]: what a model file is, from its headers alone.
#include <iostream>

#include "app/cli/cli.h"
#include "core/common/device.h"
#include "core/model/io/model_info.h"
#include "core/model/model_loader.h"

namespace duo::cli {

nlohmann::json modelInfoJson(const ModelInfo& m) {
  const auto& c = m.config;
  return {{"path", m.path},
          {"name", m.name},
          {"format", m.format},
          {"architecture", c.architecture},
          {"layers", c.numLayers},
          {"hidden_size", c.hiddenSize},
          {"intermediate_size", c.intermediateSize},
          {"heads", c.numHeads},
          {"kv_heads", c.numKvHeads},
          {"head_dim", c.headDim},
          {"vocab_size", c.vocabSize},
          {"rope_theta", c.ropeTheta},
          {"tied_embeddings", c.tieWordEmbeddings},
          {"parameters", m.parameters},
          {"dtype", m.dtype},
          {"dtype_counts", m.dtypeCounts},
          {"tensors", m.tensorCount},
          {"file_bytes", m.fileBytes},
          {"tokenizer", m.tokenizer}};
}

namespace {
Registrar reg_info("info", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Describe a model (HF safetensors folder or GGUF file) from its headers");
  auto model = std::make_shared<std::string>("tiny");
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--model,-m", *model, "Model folder/file, or alias: tiny (bundled), smollm2 (cached)")
      ->capture_default_str();
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([=] {
    const ModelRef ref = ModelRef::resolve(*model);
    const ModelInfo& info = ref.info();
    // What eval, prune and the window would refuse, info refuses too, with the same message: every
    // expected tensor present with the shape config.json gives it, a storage type we can decode,
    // and a tokenizer that loads (headers and tokenizer only; no weights are read).
    (void)openModel(ref);
    nlohmann::json j = modelInfoJson(info);
    j["device"] = deviceInfo().name;
    if (*json) {
      printJson(j);
      return;
    }
    const auto& c = info.config;
    std::cout << info.path << "\n"
              << "  format        " << info.format << " (" << info.dtype << ", " << info.tensorCount << " tensors, "
              << info.fileBytes / (1024.0 * 1024.0) << " MiB)\n"
              << "  architecture  " << c.architecture << ", " << c.numLayers << " layers, hidden " << c.hiddenSize
              << ", ffn " << c.intermediateSize << "\n"
              << "  attention     " << c.numHeads << " heads / " << c.numKvHeads << " kv heads, head_dim "
              << c.headDim << ", rope theta " << c.ropeTheta << "\n"
              << "  vocabulary    " << c.vocabSize << " (" << info.tokenizer << ")"
              << (c.tieWordEmbeddings ? ", tied embeddings" : "") << "\n"
              << "  parameters    " << info.parameters << "\n"
              << "  device        " << deviceInfo().description << "\n";
  });
});
}  // namespace

}  // namespace duo::cli
