// SPDX-License-Identifier: GPL-3.0-or-later
// Files other tools read, all written atomically (temp file in the same folder, renamed into
// place: a failure or a full disk leaves the previous file intact):
//   - the sparsity config as JSON (`duoscope.sparsity/1`, docs/sparsity-config.md), re-importable;
//   - every per-projection record of a run as CSV;
//   - the recipe YAML (recipe_yaml.h).
// Torch-free.
#pragma once
#include <string>

#include "core/io/run_record.h"
#include "core/model/model_config.h"
#include "core/prune/sparsity_config.h"

namespace duo {

// The config's JSON text exactly as exportConfig writes it (2-space indent, trailing newline).
std::string configJsonText(const SparsityConfig& config);
void exportConfig(const std::string& path, const SparsityConfig& config);

// Reads a config file (full or short form) and validates it against a model: layer count,
// values in [0, 1), one activation sparsity per input site, and an N:M structure whose M divides
// the input width of every projection. Throws duo::Error naming the file and the first fault.
SparsityConfig importConfig(const std::string& path, const ModelConfig& model);
// The model checks alone, for a config already in memory (source names it in errors).
void validateConfigForModel(const SparsityConfig& config, const ModelConfig& model, const std::string& source);

// CSV, one row per projection record, header
//   layer,proj,target_weight,target_act,weight_sparsity,act_sparsity,rel_error,rel_error_mask_only,seconds
// (targets from the run's sparsity config; numbers with 9 significant digits).
std::string recordsCsv(const RunRecord& run);
void exportRecordsCsv(const std::string& path, const RunRecord& run);

}  // namespace duo
