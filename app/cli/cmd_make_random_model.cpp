// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli make-random-model: a random-weight HF checkpoint at real shapes (LLaMA-2-7B,
// LLaMA-3-8B, ...) or at any shape, for measuring memory and time without downloads.
#include <iostream>

#include "app/cli/cli.h"
#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/model/io/hf_config.h"
#include "core/model/io/random_model.h"
#include "core/model/io/weight_source.h"

namespace duo::cli {
namespace {

struct RandomArgs {
  std::string out;
  std::string shape = "llama2-7b";
  int64_t layers = 0, hidden = 0, ffn = 0, heads = 0, kvHeads = 0, vocab = 0;
  std::string dtype = "bf16";
  uint64_t seed = 0;
  std::string tokenizer = "tiny";
  double shardGb = 5.0;
  bool holes = false;
};

Registrar reg_make_random_model("make-random-model", [](CLI::App& app) {
  auto a = std::make_shared<RandomArgs>();
  auto* cmd = app.add_subcommand("make-random-model",
                                 "Write a random-weight HF checkpoint at real shapes (for memory and time measurements)");
  cmd->add_option("--out", a->out, "Folder to write")->required();
  cmd->add_option("--shape", a->shape, "llama2-7b | llama3-8b | llama2-70b | mistral-7b | qwen2-7b")->capture_default_str();
  cmd->add_option("--layers", a->layers, "Override the number of decoder layers");
  cmd->add_option("--hidden", a->hidden, "Override the hidden size");
  cmd->add_option("--ffn", a->ffn, "Override the FFN (intermediate) size");
  cmd->add_option("--heads", a->heads, "Override the attention heads");
  cmd->add_option("--kv-heads", a->kvHeads, "Override the KV heads");
  cmd->add_option("--vocab", a->vocab, "Override the vocabulary size");
  cmd->add_option("--dtype", a->dtype, "bf16 | f16 | f32")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Random seed")->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer,
                  "tokenizer.json to copy, or a model alias/folder whose tokenizer.json to copy (its vocabulary must fit)")
      ->capture_default_str();
  cmd->add_option("--shard-size", a->shardGb, "Largest shard, GB (10^9 bytes)")->capture_default_str();
  cmd->add_flag("--holes", a->holes,
                "Headers only: every tensor a hole in a sparse file (reads as zeros, uses no disk), for --plan of "
                "models that do not fit on this disk");
  cmd->callback([a] {
    RandomModelOptions o;
    o.config = namedShape(a->shape);
    ModelConfig& c = o.config;
    if (a->layers > 0) c.numLayers = a->layers;
    if (a->hidden > 0) c.hiddenSize = a->hidden;
    if (a->ffn > 0) c.intermediateSize = a->ffn;
    if (a->heads > 0) c.numHeads = a->heads;
    if (a->kvHeads > 0) c.numKvHeads = a->kvHeads;
    if (a->vocab > 0) c.vocabSize = a->vocab;
    if (a->hidden > 0 || a->heads > 0) c.headDim = c.numHeads > 0 ? c.hiddenSize / c.numHeads : 0;
    o.dtype = parseDtype(a->dtype, "--dtype");
    o.seed = a->seed;
    o.holes = a->holes;
    DUO_CHECK(a->shardGb > 0, "--shard-size ", a->shardGb, " must be positive");
    o.maxShardBytes = static_cast<int64_t>(a->shardGb * 1e9);
    if (!a->tokenizer.empty()) {
      const std::string t = a->tokenizer;
      o.tokenizerSource = t.size() > 5 && t.substr(t.size() - 5) == ".json" ? t : hfTokenizerPath(resolveModelPath(t));
    }
    writeRandomModel(a->out, o, progressBar());
    finishProgress();
    std::cout << "wrote " << a->out << " (" << c.numLayers << " layers, hidden " << c.hiddenSize << ", ffn "
              << c.intermediateSize << ", " << c.parameterCount() / 1e9 << "B parameters, " << a->dtype << ")\n";
  });
});

}  // namespace
}  // namespace duo::cli
