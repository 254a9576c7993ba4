// What the window stored before it used core's run records, still readable: the window's own run
// document (`duoscope.ui-run/1`) and the request form the workspace file carries (model, method,
// options, data, evaluation, table). Torch-free.
#pragma once
#include <nlohmann/json.hpp>

#include "core/io/run_record.h"
#include "core/job/prune_job.h"

namespace duo::ui {

inline constexpr const char* kLegacyRunSchema = "duoscope.ui-run/1";

// A PruneRequest as JSON and back (every field; the sparsity table as duoscope.sparsity/1).
nlohmann::json requestToJson(const PruneRequest& q);
// Throws duo::Error naming `source` when a field is missing or malformed.
PruneRequest requestFromJson(const nlohmann::json& j, const std::string& source);

// A `duoscope.ui-run/1` document converted to a run record (id, time, measured speedup kept).
// Throws duo::Error naming `source` when a field is missing or malformed.
RunRecord legacyRunToRecord(const nlohmann::json& j, const std::string& source);

}  // namespace duo::ui
