// What the Export menu writes that is not a plain core export: whole workspaces (model, data,
// method, table, runs) as JSON, and the run record the current settings would make (for the
// recipe and CSV of the table or of a run in progress). Config JSON, records CSV and recipe YAML
// themselves are core/io's (exports.h, recipe_yaml.h), written atomically.
#pragma once
#include <QString>
#include <QVector>

#include "core/io/run_record.h"
#include "core/job/prune_job.h"

namespace duo::ui {

// A run record holding a request's settings (model, method, options, data, sparsity) and
// `records`, with no metrics: what the recipe and CSV exports of unsaved work read.
RunRecord recordOfRequest(const PruneRequest& request, const std::vector<ProjRecord>& records = {});

// A whole workspace: the request the window would run now (model, data, method, table) and every
// run (core run records). Schema kWorkspaceSchema; files of the older duoscope.workspace/1 (the
// window's own run documents) still load.
inline constexpr const char* kWorkspaceSchema = "duoscope.workspace/2";
struct Workspace {
  PruneRequest request;  // model path, data, method options, sparsity table
  QVector<RunRecord> runs;
  // Where the window keeps this workspace's runs ("runs_dir"; the window's autosave names its run
  // folder here instead of copying every run). "" when the file does not say.
  QString runsDir;
};
void saveWorkspace(const QString& path, const Workspace& ws);
// Throws duo::Error naming the file when it is missing, not a workspace, or malformed.
Workspace loadWorkspace(const QString& path);

}  // namespace duo::ui
