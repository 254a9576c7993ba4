// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/workspace.h"

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/legacy_runs.h"
#include "kernels/types.h"

namespace duo {

using nlohmann::json;

void saveWorkspace(const std::string& path, const Workspace& ws) {
  json runs = json::array();
  for (const RunRecord& r : ws.runs) runs.push_back(r.toJson());
  json j = {{"schema", kWorkspaceSchema}, {"request", requestToJson(ws.request)}, {"runs", runs}};
  if (!ws.runsDir.empty()) j["runs_dir"] = ws.runsDir;
  j["values"] = ws.values;
  if (ws.int8Inputs) j["int8_inputs"] = true;
  j["also_eval"] = ws.alsoEval;
  writeFileAtomic(path, j.dump(1) + "\n");
}

Workspace loadWorkspace(const std::string& path) {
  const std::string& src = path;
  json j;
  try {
    j = json::parse(readFile(src));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(src, ": not JSON (", e.what(), ")");
  }
  const std::string schema =
      j.is_object() && j.contains("schema") && j["schema"].is_string() ? j["schema"].get<std::string>() : std::string();
  constexpr const char* kV1 = "duoscope.workspace/1";
  DUO_CHECK(schema == kWorkspaceSchema || schema == kV1, src, ": not a DuoScope workspace (schema ",
            j.is_object() && j.contains("schema") ? j["schema"].dump() : std::string("missing"), ", expected ",
            kWorkspaceSchema,
            ")");
  Workspace ws;
  DUO_CHECK(j.contains("runs") && j["runs"].is_array(), src, ": missing array 'runs'");
  if (schema == kV1) {
    // The older window's file: the current settings and every run as duoscope.ui-run/1 documents.
    DUO_CHECK(j.contains("current") && j["current"].is_object() && j["current"].contains("request"), src,
              ": missing field 'current'");
    ws.request = requestFromJson(j["current"]["request"], src + ": current.request");
    if (j["current"].contains("sparsity")) {  // the table beside the request replaces the request's
      const SparsityConfig table = SparsityConfig::fromJson(j["current"]["sparsity"], -1, src + ": current.sparsity");
      const SparsityPlan& given = ws.request.sparsity;
      SparsityPlan plan = table.numLayers() > 0 ? SparsityPlan::table(table)
                                                : SparsityPlan::uniform(given.uniformWeight(), given.uniformAct());
      plan.nm = given.nm;
      plan.actRule = given.actRule;
      ws.request.sparsity = plan;
    }
    int i = 0;
    for (const json& r : j["runs"]) ws.runs.push_back(legacyRunToRecord(r, src + ": runs[" + std::to_string(i++) + "]"));
    return ws;
  }
  DUO_CHECK(j.contains("request"), src, ": missing field 'request'");
  ws.request = requestFromJson(j["request"], src + ": request");
  if (j.contains("runs_dir")) {
    DUO_CHECK(j["runs_dir"].is_string(), src, ": 'runs_dir' must be a string");
    ws.runsDir = j["runs_dir"].get<std::string>();
  }
  if (j.contains("values")) {
    DUO_CHECK(j["values"].is_string(), src, ": 'values' must be a string (f32, f16, bf16 or int8)");
    ws.values = j["values"].get<std::string>();
    try {
      kernels::parseValueType(ws.values);
    } catch (const Error& e) {
      fail(src, ": ", e.what());
    }
  }
  if (j.contains("int8_inputs")) {
    DUO_CHECK(j["int8_inputs"].is_boolean(), src, ": 'int8_inputs' must be true or false");
    ws.int8Inputs = j["int8_inputs"].get<bool>();
    DUO_CHECK(!ws.int8Inputs || ws.values == "int8", src, ": 'int8_inputs' needs 'values' int8, got ", ws.values);
  }
  if (j.contains("also_eval")) {
    DUO_CHECK(j["also_eval"].is_array(), src, ": 'also_eval' must be an array of corpus names");
    for (const json& c : j["also_eval"]) {
      DUO_CHECK(c.is_string(), src, ": 'also_eval' must be an array of corpus names");
      ws.alsoEval.push_back(c.get<std::string>());
    }
  }
  int i = 0;
  for (const json& r : j["runs"]) ws.runs.push_back(RunRecord::fromJson(r, src + ": runs[" + std::to_string(i++) + "]"));
  return ws;
}

}  // namespace duo
