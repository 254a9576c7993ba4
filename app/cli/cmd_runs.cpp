// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli runs: the run store (list, show, compare, delete). Every `prune` saves a record.
#include <cstdio>
#include <iostream>

#include "app/cli/cli.h"
#include "core/io/run_compare.h"
#include "core/io/run_store.h"

namespace duo::cli {
namespace {

struct RunsArgs {
  std::string dir;
  bool json = false;
  std::string id, other;
};

RunStore storeOf(const RunsArgs& a) { return RunStore(a.dir.empty() ? RunStore::defaultDir() : a.dir); }

nlohmann::json metricOrNull(const RunRecord& r, const char* metric, const char* model) {
  const RunMetric* m = r.findMetric(metric, model);
  return m ? nlohmann::json(m->value) : nlohmann::json(nullptr);
}

void list(const RunsArgs& a) {
  const RunStore store = storeOf(a);
  nlohmann::json runs = nlohmann::json::array(), errors = nlohmann::json::array();
  if (!a.json) std::printf("%-34s %-22s %10s %10s %8s %8s  %s\n", "id", "label", "ppl", "dense", "acc", "speedup", "model");
  for (const auto& id : store.ids()) {
    try {
      const RunRecord r = RunRecord::load(store.pathOf(id));
      nlohmann::json j = {{"id", r.id},
                          {"created", r.created},
                          {"method", r.method},
                          {"label", r.label()},
                          {"model", r.model.path},
                          {"weight_sparsity", r.weightSparsity},
                          {"act_sparsity", r.actSparsity},
                          {"perplexity", metricOrNull(r, "perplexity", "pruned")},
                          {"dense_perplexity", metricOrNull(r, "perplexity", "dense")},
                          {"acc", metricOrNull(r, "acc", "pruned")},
                          {"predicted_speedup", r.predictedSpeedup},
                          {"calibrated_speedup", r.calibratedSpeedup ? nlohmann::json(*r.calibratedSpeedup) : nlohmann::json()}};
      runs.push_back(j);
      if (!a.json) {
        const auto f = [](const nlohmann::json& v, const char* fmt) {
          char b[32];
          if (v.is_null()) return std::string("-");
          std::snprintf(b, sizeof b, fmt, v.get<double>());
          return std::string(b);
        };
        std::printf("%-34s %-22s %10s %10s %8s %7.2fx  %s\n", r.id.c_str(), r.label().c_str(),
                    f(j["perplexity"], "%.3f").c_str(), f(j["dense_perplexity"], "%.3f").c_str(),
                    f(j["acc"], "%.3f").c_str(), r.predictedSpeedup, r.model.path.c_str());
      }
    } catch (const std::exception& e) {
      errors.push_back({{"file", store.pathOf(id)}, {"message", e.what()}});
      if (!a.json) std::fprintf(stderr, "duoscope-cli: skipped %s: %s\n", store.pathOf(id).c_str(), e.what());
    }
  }
  // Runs whose process ended without finishing them (killed, crashed): listed, never silently lost.
  nlohmann::json interrupted = nlohmann::json::array();
  for (const RunMarker& m : store.interrupted()) {
    interrupted.push_back({{"id", m.id}, {"created", m.created}, {"method", m.method}, {"model", m.model},
                           {"out", m.outDir}, {"pid", m.pid}, {"status", "interrupted"}});
    if (!a.json)
      std::printf("%-34s %-22s %s (interrupted: process %ld ended before the run finished)\n", m.id.c_str(),
                  m.method.c_str(), m.model.c_str(), m.pid);
  }
  if (a.json) printJson({{"dir", store.dir()}, {"runs", runs}, {"interrupted", interrupted}, {"errors", errors}});
}

Registrar reg_runs("runs", [](CLI::App& app) {
  auto a = std::make_shared<RunsArgs>();
  auto* cmd = app.add_subcommand("runs", "The run store: list, show, compare and delete run records");
  cmd->require_subcommand(1);
  const auto common = [a](CLI::App* sub) {
    sub->add_option("--runs-dir", a->dir, "Run store folder (default $DUO_RUNS_DIR or <cache>/runs)");
    sub->add_flag("--json", a->json, "Print JSON");
  };
  auto* ls = cmd->add_subcommand("list", "List the stored runs, oldest first");
  common(ls);
  ls->callback([a] { list(*a); });

  auto* show = cmd->add_subcommand("show", "Print one run record (an id, a unique prefix, or latest)");
  show->add_option("id", a->id, "Run id, unique prefix or 'latest'")->required();
  common(show);
  show->callback([a] {
    const RunRecord r = storeOf(*a).load(a->id);
    if (a->json) {
      printJson(r.toJson());
      return;
    }
    std::cout << r.id << "  " << r.label() << "  (" << r.created << ")\n"
              << "model    " << r.model.path << " (" << r.model.format << ", " << r.model.parameters
              << " parameters, sha256 " << (r.model.sha256.empty() ? "-" : r.model.sha256.substr(0, 16)) << ")\n"
              << "data     " << r.data.corpus << ", " << r.data.nsamples << " x " << r.data.seqlen << ", seed "
              << r.data.seed << "\n"
              << "achieved weight sparsity " << r.weightSparsity << ", activation sparsity " << r.actSparsity
              << ", predicted speedup " << r.predictedSpeedup << "x\n";
    for (const auto& m : r.metrics) {
      std::cout << "metric   " << m.metric << " (" << m.model << ", " << m.data << ") = " << m.value;
      if (m.stderrValue) std::cout << " +- " << *m.stderrValue;
      std::cout << (m.kind == "perplexity" ? " over " + std::to_string(m.count) + " tokens"
                                           : " over " + std::to_string(m.count) + " items")
                << "\n";
    }
    if (!r.outDir.empty()) std::cout << "out      " << r.outDir << "\n";
  });

  auto* cmp = cmd->add_subcommand("compare", "Two runs side by side: metrics and per-layer differences");
  cmp->add_option("a", a->id, "Run A")->required();
  cmp->add_option("b", a->other, "Run B")->required();
  common(cmp);
  cmp->callback([a] {
    const RunStore store = storeOf(*a);
    const RunComparison c = compareRuns(store.load(a->id), store.load(a->other));
    if (a->json) printJson(c.toJson());
    else std::cout << c.toText();
  });

  auto* del = cmd->add_subcommand("delete", "Delete one run record (exact id or unique prefix)");
  del->add_option("id", a->id, "Run id")->required();
  common(del);
  del->callback([a] {
    const std::string id = storeOf(*a).remove(a->id);
    if (a->json) printJson({{"deleted", id}});
    else std::cout << "deleted " << id << "\n";
  });
});

}  // namespace
}  // namespace duo::cli
