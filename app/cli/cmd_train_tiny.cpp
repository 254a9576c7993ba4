// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli train-tiny: trains the bundled default model (reproducible, fixed seed).
#include <iostream>

#include "app/cli/cli.h"
#include "core/model/train_tiny.h"

namespace duo::cli {
namespace {

Registrar reg_train_tiny("train-tiny", [](CLI::App& app) {
  auto o = std::make_shared<TrainTinyOptions>();
  o->outDir = "resources/models/duo-tiny-kjv";
  auto* cmd = app.add_subcommand("train-tiny", "Train the bundled tiny LLaMA (and its BPE tokenizer) on kjv:calib");
  cmd->add_option("--out", o->outDir, "Output HF folder")->capture_default_str();
  cmd->add_option("--layers", o->layers)->capture_default_str();
  cmd->add_option("--hidden", o->hidden)->capture_default_str();
  cmd->add_option("--heads", o->heads)->capture_default_str();
  cmd->add_option("--kv-heads", o->kvHeads)->capture_default_str();
  cmd->add_option("--ffn", o->ffn)->capture_default_str();
  cmd->add_option("--vocab", o->vocab, "BPE vocabulary size")->capture_default_str();
  cmd->add_option("--seqlen", o->seqlen)->capture_default_str();
  cmd->add_option("--batch", o->batch)->capture_default_str();
  cmd->add_option("--steps", o->steps)->capture_default_str();
  cmd->add_option("--max-seconds", o->maxSeconds, "Stop after this many seconds of training (0 = no limit)")->capture_default_str();
  cmd->add_option("--lr", o->lr)->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_option("--corpus", o->corpus)->capture_default_str();
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print the training record as JSON");
  cmd->callback([o, json] {
    const nlohmann::json rec = trainTiny(*o, progressBar());
    finishProgress();
    if (*json) printJson(rec);
    else
      std::cout << "trained " << rec["parameters"] << " parameters for " << rec["steps_done"] << " steps ("
                << rec["train_seconds"] << " s); held-out perplexity " << rec["heldout"]["perplexity_untrained"]
                << " -> " << rec["heldout"]["perplexity_trained_f32"] << "; saved to " << o->outDir << "\n";
  });
});

}  // namespace
}  // namespace duo::cli
