// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/run_job.h"

#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <system_error>

#include "core/bench/decode_bench.h"
#include "core/common/device.h"
#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/data/domains.h"
#include "core/io/run_store.h"
#include "core/job/calibration_advice.h"
#include "core/job/decode_estimate.h"
#include "core/job/eval_job.h"
#include "core/model/io/loader.h"

namespace duo {
namespace {

namespace fs = std::filesystem;

// A folder under the system's temporary directory, removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "duoscope-measure-XXXXXX").string();
    DUO_CHECK(mkdtemp(pattern.data()) != nullptr, "measure speed: cannot create a temporary folder like ", pattern);
    m_path = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
};

// The run's marker in the store while it runs; removed however the run ends that this process sees.
class MarkerGuard {
 public:
  MarkerGuard(const RunStore* store, const PruneRequest& req) : m_store(store) {
    if (!m_store) return;
    m_marker.model = req.model;
    m_marker.method = methodName(req.method);
    m_marker.outDir = req.outDir;
    m_store->beginRun(m_marker);
  }
  ~MarkerGuard() {
    if (!m_store) return;
    try {
      m_store->endRun(m_marker.id);
    } catch (...) {  // a marker that cannot be removed lists as interrupted: no reason to fail the run
    }
  }
  MarkerGuard(const MarkerGuard&) = delete;
  MarkerGuard& operator=(const MarkerGuard&) = delete;
  const std::string& id() const { return m_marker.id; }

 private:
  const RunStore* m_store;
  RunMarker m_marker;
};

}  // namespace

RunOutcome runJob(const RunRequest& req, const ProgressFn& progress,
                  const std::function<void(const ProjRecord&)>& onRecord) {
  const bool lead = req.prune.dist.rank == 0;  // measures, marks and records; the other ranks compute only
  resetPeakRss();
  std::optional<RunStore> store;
  if (lead && !req.runsDir.empty()) store.emplace(req.runsDir);
  const MarkerGuard marker(store ? &*store : nullptr, req.prune);

  PruneRequest prune = req.prune;
  const bool measure = lead && req.measureSpeed;
  const bool alsoEval = lead && !req.alsoEval.empty();
  DUO_CHECK(req.alsoEval.empty() || prune.eval, "more evaluation corpora need the evaluation on (--eval)");
  std::optional<ScratchDir> scratch;  // measuring and evaluating again need the pruned checkpoint on disk
  if ((measure || alsoEval) && prune.outDir.empty()) {
    scratch.emplace();
    prune.outDir = scratch->path() + "/pruned";
  }

  const ModelRef model = req.model.empty() ? ModelRef::resolve(prune.model) : req.model;
  const ModelConfig& config = model.config();  // the timing prediction and the calibration advice
  RunOutcome out;
  out.result = runPrune(prune, model, progress, onRecord);
  if (!lead) return out;

  DUO_CHECK(!req.int8Inputs || req.values == kernels::ValueType::I8, "run: int8 inputs need int8 values, got ",
            kernels::valueTypeName(req.values));
  const bool timed = req.timing && !req.timing->empty();
  if (timed && req.timing->int8Inputs != req.int8Inputs)
    out.timingError = "the timing profile " + req.timing->name() + " was measured " +
                      (req.timing->int8Inputs ? "with" : "without") + " int8 inputs, the run's speed is " +
                      (req.int8Inputs ? "with" : "without") + " them (bench calibrate " +
                      (req.int8Inputs ? "--int8-inputs " : "") + "makes a matching one)";
  else if (timed && req.timing->values != req.values)
    out.timingError = "the timing profile " + req.timing->name() + " was measured with " +
                      kernels::valueTypeName(req.timing->values) + " values, the run's speed is for " +
                      kernels::valueTypeName(req.values) + " (bench calibrate --values " +
                      kernels::valueTypeName(req.values) + " makes a matching one)";
  else if (timed) {
    try {
      out.calibratedSpeedup =
          predictDecodeFor(config, out.result.sparsity, req.timing.get(), req.values, req.int8Inputs).speedup;
    } catch (const Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      out.timingError = e.what();  // e.g. the profile has no line for this model's shapes
    }
  }
  for (size_t i = 0; alsoEval && i < req.alsoEval.size(); ++i) {
    const std::string& corpus = req.alsoEval[i];
    reportProgress(progress, {"eval", "also on " + corpus, static_cast<int64_t>(i), static_cast<int64_t>(req.alsoEval.size())});
    EvalRequest e;
    e.corpus = corpus;
    e.seqlen = out.result.request.evalSeqlen;
    e.maxWindows = prune.maxWindows;
    e.device = prune.device;
    e.memoryCheck = prune.memoryCheck;
    e.model = prune.outDir;  // the pruned checkpoint: its activation rule on
    const nlohmann::json pruned = runEval(e, progress).json;
    e.model = prune.model;  // the dense model
    const nlohmann::json dense = runEval(e, model, progress).json;
    out.alsoEvals.push_back({corpus, pruned.at("perplexity").get<double>(), dense.at("perplexity").get<double>(),
                             pruned.at("tokens").get<int64_t>(), pruned.at("windows").get<int64_t>(),
                             pruned.at("seqlen").get<int>()});
  }
  if (measure) {
    reportProgress(progress, {"bench", "decode speed", 0, 1});
    try {
      const perf::DecodeBenchResult m = perf::measureCheckpointDecode(
          prune.outDir, progress, req.timing ? *req.timing : perf::TimingProfile{}, 0, req.values, req.int8Inputs);
      out.speed = m.check;
      out.cacheResident = m.cacheResident;
    } catch (const Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      out.measureError = e.what();
    }
  }
  if (scratch) out.result.request.outDir.clear();  // the temporary checkpoint goes with `scratch`

  // The bytes model's prediction for the value format the speed is for (runPrune's is f32).
  if (req.values != kernels::ValueType::F32)
    out.result.predictedSpeedup =
        predictDecodeFor(config, out.result.sparsity, nullptr, req.values, req.int8Inputs).speedup;
  out.json = out.result.toJson();
  if (req.values != kernels::ValueType::F32) out.json["values"] = kernels::valueTypeName(req.values);
  if (req.int8Inputs) out.json["int8_inputs"] = true;
  out.json["calibration"] =
      adviseCalibration(config, out.result.request.method, out.result.request.nsamples, out.result.request.seqlen)
          .toJson();
  if (out.calibratedSpeedup > 0) {
    out.json["calibrated_speedup"] = out.calibratedSpeedup;
    out.json["timing"] = req.timing->source;
  }
  if (out.speed.measured()) {
    out.json["measured_speedup"] = out.speed.speedup;
    out.json["cache_resident"] = out.cacheResident;
    out.json["speed_check"] = out.speed.toJson();
  }
  out.record = RunRecord::fromJson(out.json, "the finished run");
  out.record.id.clear();
  if (!out.alsoEvals.empty()) {
    nlohmann::json also = nlohmann::json::array();
    for (const AlsoEval& a : out.alsoEvals) {
      RunMetric m{"perplexity", "perplexity", "pruned", a.perplexity, std::nullopt, a.corpus, a.seqlen, a.tokens, a.windows};
      out.record.metrics.push_back(m);
      m.model = "dense";
      m.value = a.densePerplexity;
      out.record.metrics.push_back(m);
      also.push_back({{"corpus", a.corpus}, {"perplexity", a.perplexity}, {"dense_perplexity", a.densePerplexity},
                      {"tokens", a.tokens}, {"windows", a.windows}, {"seqlen", a.seqlen},
                      {"domain", domainRelation(out.result.request.calibSource, a.corpus)}});
    }
    out.json["also_eval"] = also;
  }
  if (store && req.saveRecord) {
    out.record.id = marker.id();  // the id the marker announced
    out.json["run_id"] = store->save(out.record);
  }
  if (req.strict) {
    DUO_CHECK(out.timingError.empty(), "timing profile ", req.timing ? req.timing->name() : std::string(), ": ",
              out.timingError);
    DUO_CHECK(out.measureError.empty(), "measuring the decode speed of ", prune.outDir, ": ", out.measureError);
  }
  return out;
}

RunRecord recordOfRequest(const PruneRequest& request, const std::vector<ProjRecord>& records) {
  PruneResult r;  // the settings only: core's conversion fills the record's model, data, options
  r.request = request;
  r.sparsity = request.sparsity.table();
  r.records = records;
  RunRecord rec = RunRecord::fromJson(r.toJson(), "the window's settings");
  rec.model.layers = r.sparsity.numLayers();
  return rec;
}

}  // namespace duo
