// SPDX-License-Identifier: GPL-3.0-or-later
// Two formats the window wrote before it used core's run records, still readable: the window's
// own run document (`duoscope.ui-run/1`, converted to a run record when its folder is opened) and
// the request form (model, method, options, data, evaluation, table) that workspace files carry.
// Torch-free and Qt-free.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "core/io/run_record.h"
#include "core/job/prune_job.h"

namespace duo {

inline constexpr const char* kLegacyRunSchema = "duoscope.ui-run/1";

// A PruneRequest as JSON and back (every field; the sparsity table as duoscope.sparsity/1).
nlohmann::json requestToJson(const PruneRequest& q);
// Throws duo::Error naming `source` when a field is missing or malformed.
PruneRequest requestFromJson(const nlohmann::json& j, const std::string& source);

// A `duoscope.ui-run/1` document converted to a run record (id, time, measured speedup kept): its
// fields are rewritten as the `duoscope.run/1` document `prune --json` prints and read through
// RunRecord::fromJson. Throws duo::Error naming `source` when a field is missing or malformed.
RunRecord legacyRunToRecord(const nlohmann::json& j, const std::string& source);

// "2026-11-29T10:35:12" (local time), "...Z" or "...+01:00" (fractions of a second allowed) as
// "2026-11-29T09:35:12Z"; "" when `iso` is not such a time.
std::string isoToUtc(const std::string& iso);

}  // namespace duo
