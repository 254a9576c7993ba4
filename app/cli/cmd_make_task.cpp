// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli make-task: a cloze multiple-choice task (JSONL) from any text, for `eval --task`.
#include <iostream>

#include "app/cli/cli.h"
#include "core/data/corpus.h"
#include "core/data/cloze_task.h"

namespace duo::cli {
namespace {

struct MakeTaskArgs {
  std::string corpus = "kjv:eval";
  ClozeOptions opt;
  std::string out;
  bool json = false;
};

Registrar reg_make_task("make-task", [](CLI::App& app) {
  auto a = std::make_shared<MakeTaskArgs>();
  auto* cmd = app.add_subcommand("make-task", "Generate a cloze multiple-choice task (JSONL) from a text");
  cmd->add_option("--corpus", a->corpus, std::string(duo::kCorpusSourcesHelp) + "; a text file: one passage a line")
      ->capture_default_str();
  cmd->add_option("--choices", a->opt.choices, "Choices per item (1 gold + distractors)")->capture_default_str();
  cmd->add_option("--items", a->opt.items, "Number of items")->capture_default_str();
  cmd->add_option("--seed", a->opt.seed, "Seed (same seed and text = same file)")->capture_default_str();
  cmd->add_option("--min-words", a->opt.minWords, "Lines shorter than this are not used")->capture_default_str();
  cmd->add_option("--max-ending-words", a->opt.maxEndingWords, "Longest ending (choice) in words")
      ->capture_default_str();
  cmd->add_option("--out,-o", a->out, "Output JSONL file")->required();
  cmd->add_flag("--json", a->json, "Print a JSON summary");
  cmd->callback([a] {
    const McTask task = makeClozeTask(loadCorpus(a->corpus), a->opt);
    saveMcTask(a->out, task);
    if (a->json)
      printJson({{"out", a->out}, {"corpus", a->corpus}, {"items", task.items.size()}, {"choices", a->opt.choices},
                 {"seed", a->opt.seed}});
    else
      std::cout << "wrote " << task.items.size() << " items with " << a->opt.choices << " choices to " << a->out
                << "\n";
  });
});

}  // namespace
}  // namespace duo::cli
