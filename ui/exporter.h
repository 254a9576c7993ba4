// What the Export menu writes, each through the core's atomic writer (a cancelled or failed
// export never leaves a half-written file): per-projection records as CSV, a recipe as YAML, and
// whole workspaces (model, data, method, table, runs) as JSON.
#pragma once
#include <QString>
#include <QVector>

#include "core/job/prune_job.h"
#include "ui/run_store.h"

namespace duo::ui {

// CSV, one row per projection: layer,proj,weight_sparsity,act_sparsity,rel_error,... (header row).
std::string recordsCsv(const std::vector<ProjRecord>& records);
void exportRecordsCsv(const QString& path, const std::vector<ProjRecord>& records);

// A human-readable recipe: method and options, data, and the per-layer sparsity, as YAML.
std::string recipeYaml(const PruneRequest& request, const SparsityConfig& sparsity);
void exportRecipeYaml(const QString& path, const PruneRequest& request, const SparsityConfig& sparsity);

// A whole workspace: the request the window would run now (model, data, method, table) and
// every run. Schema kWorkspaceSchema.
inline constexpr const char* kWorkspaceSchema = "duoscope.workspace/1";
struct Workspace {
  PruneRequest request;  // model path, data, method options, sparsity table
  QVector<RunEntry> runs;
};
void saveWorkspace(const QString& path, const Workspace& ws);
// Throws duo::Error naming the file when it is missing, not a workspace, or malformed.
Workspace loadWorkspace(const QString& path);

}  // namespace duo::ui
