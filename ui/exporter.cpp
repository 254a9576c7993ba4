#include "ui/exporter.h"

#include <iomanip>
#include <sstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "ui/core_types.h"

namespace duo::ui {

using nlohmann::json;

std::string recordsCsv(const std::vector<ProjRecord>& records) {
  std::ostringstream os;
  os << "layer,proj,weight_sparsity,act_sparsity,rel_error,rel_error_mask_only,seconds\n";
  os << std::setprecision(9);
  for (const ProjRecord& r : records)
    os << r.layer << ',' << projName(r.proj) << ',' << r.weightSparsity << ',' << r.actSparsity << ',' << r.relError
       << ',' << r.relErrorMaskOnly << ',' << r.seconds << '\n';
  return os.str();
}

void exportRecordsCsv(const QString& path, const std::vector<ProjRecord>& records) {
  writeFileAtomic(ss(path), recordsCsv(records));
}

namespace {
// YAML double-quoted scalar (JSON string syntax is valid YAML).
std::string quoted(const std::string& s) { return json(s).dump(); }
}  // namespace

std::string recipeYaml(const PruneRequest& q, const SparsityConfig& s) {
  std::ostringstream os;
  os << std::setprecision(6);
  os << "# DuoScope pruning recipe: duoscope-cli prune can repeat this run.\n";
  os << "model: " << quoted(q.model) << "\n";
  os << "method:\n";
  os << "  name: " << methodName(q.method) << "\n";
  os << "  score: " << scoreName(q.score) << "\n";
  os << "  alpha: " << q.alpha << "\n";
  os << "  damp: " << q.damp << "\n";
  os << "  block_size: " << q.blockSize << "\n";
  os << "calibration:\n";
  os << "  source: " << quoted(q.calibSource) << "\n";
  os << "  nsamples: " << q.nsamples << "  # 0 = default for the model\n";
  os << "  seqlen: " << q.seqlen << "\n";
  os << "  seed: " << q.seed << "\n";
  os << "evaluation:\n";
  os << "  enabled: " << (q.eval ? "true" : "false") << "\n";
  os << "  source: " << quoted(q.evalSource) << "\n";
  os << "  max_windows: " << q.maxWindows << "\n";
  if (!q.taskFile.empty()) os << "  task: " << quoted(q.taskFile) << "\n";
  os << "sparsity:\n";
  os << "  weight_structure: " << quoted(s.nm.str()) << "\n";
  os << "  act_rule: " << actRuleName(s.actRule) << "\n";
  os << "  layers:\n";
  for (int l = 0; l < s.numLayers(); ++l) {
    os << "    - {";
    for (int p = 0; p < kNumProj; ++p) {
      const ProjSparsity& v = s.at(l, static_cast<Proj>(p));
      os << (p ? ", " : "") << projName(static_cast<Proj>(p)) << ": [" << v.weight << ", " << v.act << "]";
    }
    os << "}  # layer " << l << ": [weight, act]\n";
  }
  return os.str();
}

void exportRecipeYaml(const QString& path, const PruneRequest& request, const SparsityConfig& sparsity) {
  writeFileAtomic(ss(path), recipeYaml(request, sparsity));
}

void saveWorkspace(const QString& path, const Workspace& ws) {
  // A run document carries its request; the workspace's current request rides in the same form.
  RunEntry current;
  current.id = "current";
  current.when = QDateTime::currentDateTime();
  current.result.request = ws.request;
  current.result.sparsity = ws.request.sparsity;
  json runs = json::array();
  for (const RunEntry& r : ws.runs) runs.push_back(runToJson(r));
  const json j = {{"schema", kWorkspaceSchema}, {"current", runToJson(current)}, {"runs", runs}};
  writeFileAtomic(ss(path), j.dump(1));
}

Workspace loadWorkspace(const QString& path) {
  const std::string src = ss(path);
  json j;
  try {
    j = json::parse(readFile(src));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(src, ": not JSON (", e.what(), ")");
  }
  DUO_CHECK(j.is_object() && j.value("schema", "") == kWorkspaceSchema, src, ": not a DuoScope workspace (schema ",
            j.is_object() ? j.value("schema", json()).dump() : std::string("missing"), ", expected ", kWorkspaceSchema,
            ")");
  Workspace ws;
  DUO_CHECK(j.contains("current"), src, ": missing field 'current'");
  const RunEntry current = runFromJson(j["current"], path + ": current");
  ws.request = current.result.request;
  ws.request.sparsity = current.result.sparsity;
  DUO_CHECK(j.contains("runs") && j["runs"].is_array(), src, ": missing array 'runs'");
  int i = 0;
  for (const json& r : j["runs"]) ws.runs.append(runFromJson(r, QString("%1: runs[%2]").arg(path).arg(i++)));
  return ws;
}

}  // namespace duo::ui
