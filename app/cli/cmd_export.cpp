// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli export: a run's sparsity config (JSON), recipe (YAML) and per-layer records (CSV).
#include <iostream>

#include "app/cli/cli.h"
#include "core/job/checkpoint_copy.h"
#include "core/common/error.h"
#include "core/io/exports.h"
#include "core/io/recipe_yaml.h"
#include "core/io/run_store.h"

namespace duo::cli {
namespace {

struct ExportArgs {
  std::string run, from, runsDir;
  std::string config, recipe, csv, checkpoint, outFormat = "dense";
  bool json = false;
};

Registrar reg_export("export", [](CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export", "Export a run: sparsity config JSON, recipe YAML, records CSV, its pruned checkpoint in another format");
  auto* run = cmd->add_option("--run", a->run, "A stored run: id, unique prefix or 'latest'");
  auto* from = cmd->add_option("--from", a->from, "A run file instead: a run record, prune --json output or DIR/duoscope.json");
  run->excludes(from);
  cmd->add_option("--runs-dir", a->runsDir, "Run store folder (default $DUO_RUNS_DIR or <cache>/runs)");
  cmd->add_option("--config", a->config, "Write the sparsity config (duoscope.sparsity/1) here");
  cmd->add_option("--recipe", a->recipe, "Write the recipe YAML (llm-compressor layout) here");
  cmd->add_option("--csv", a->csv, "Write the per-projection records as CSV here");
  cmd->add_option("--checkpoint", a->checkpoint,
                  "Write the run's pruned checkpoint (the folder its record names: prune --out, or the weights the "
                  "window kept) to this folder, without calibrating again");
  cmd->add_option("--out-format", a->outFormat, "With --checkpoint: dense | sparse-bitmask")->capture_default_str();
  cmd->add_flag("--json", a->json, "Print what was written as JSON");
  cmd->callback([a] {
    DUO_CHECK(!a->run.empty() || !a->from.empty(), "export: give --run ID or --from FILE");
    DUO_CHECK(!a->config.empty() || !a->recipe.empty() || !a->csv.empty() || !a->checkpoint.empty(),
              "export: nothing to write (give --config, --recipe, --csv and/or --checkpoint)");
    const RunRecord r = a->from.empty()
                            ? RunStore(a->runsDir.empty() ? RunStore::defaultDir() : a->runsDir).load(a->run)
                            : RunRecord::load(a->from);
    nlohmann::json wrote = nlohmann::json::object();
    if (!a->config.empty()) exportConfig(a->config, r.sparsity), wrote["config"] = a->config;
    if (!a->recipe.empty()) exportRecipeYaml(a->recipe, r), wrote["recipe"] = a->recipe;
    if (!a->csv.empty()) exportRecordsCsv(a->csv, r), wrote["csv"] = a->csv;
    if (!a->checkpoint.empty()) {
      DUO_CHECK(!r.outDir.empty(), "export --checkpoint: run ", r.id,
                " has no pruned checkpoint (it was run without --out); run prune again with --out DIR");
      copyCheckpoint(r.outDir, a->checkpoint, a->outFormat, progressBar(a->json));
      finishProgress();
      wrote["checkpoint"] = a->checkpoint;
    }
    if (a->json) printJson({{"run", r.id}, {"wrote", wrote}});
    else
      for (const auto& [k, v] : wrote.items()) std::cout << "wrote " << k << " " << v.get<std::string>() << "\n";
  });
});

}  // namespace
}  // namespace duo::cli
