// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/exports.h"

#include <cstdio>
#include <sstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace duo {

std::string configJsonText(const SparsityConfig& config) { return config.toJson().dump(2) + "\n"; }

void exportConfig(const std::string& path, const SparsityConfig& config) {
  config.validate(path);
  writeFileAtomic(path, configJsonText(config));
}

void validateConfigForModel(const SparsityConfig& config, const ModelConfig& model, const std::string& source) {
  config.validate(source, static_cast<int>(model.numLayers));
  if (!config.nm.structured()) return;
  DUO_CHECK(config.nm.m > 0 && config.nm.n < config.nm.m, source, ": weight_structure ", config.nm.str(),
            " must prune N < M of every M weights");
  for (int i = 0; i < kNumProj; ++i) {
    const Proj p = static_cast<Proj>(i);
    const int64_t kIn = p == Proj::O ? model.qDim() : p == Proj::Down ? model.intermediateSize : model.hiddenSize;
    DUO_CHECK(kIn % config.nm.m == 0, source, ": weight_structure ", config.nm.str(), " needs input widths that are ",
              "multiples of ", config.nm.m, ", but ", projName(p), " has ", kIn, " inputs");
  }
}

SparsityConfig importConfig(const std::string& path, const ModelConfig& model) {
  SparsityConfig c = SparsityConfig::load(path, static_cast<int>(model.numLayers));
  validateConfigForModel(c, model, path);
  return c;
}

std::string recordsCsv(const RunRecord& run) {
  std::ostringstream os;
  os << "layer,proj,target_weight,target_act,weight_sparsity,act_sparsity,rel_error,rel_error_mask_only,seconds\n";
  char buf[512];
  for (const ProjRecord& r : run.records) {
    const bool known = r.layer >= 0 && r.layer < run.sparsity.numLayers();
    const ProjSparsity t = known ? run.sparsity.at(r.layer, r.proj) : ProjSparsity{};
    std::snprintf(buf, sizeof buf, "%d,%s,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", r.layer, projName(r.proj), t.weight,
                  t.act, r.weightSparsity, r.actSparsity, r.relError, r.relErrorMaskOnly, r.seconds);
    os << buf;
  }
  return os.str();
}

void exportRecordsCsv(const std::string& path, const RunRecord& run) { writeFileAtomic(path, recordsCsv(run)); }

}  // namespace duo
