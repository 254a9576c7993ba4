// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli prune: calibrate a model layer by layer with one method, write the pruned model.
#include <iostream>

#include "app/cli/cli.h"
#include "app/cli/dist.h"
#include "app/cli/options.h"
#include "core/common/device.h"
#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/data/corpus.h"
#include "core/data/default_corpora.h"
#include "core/data/domains.h"
#include "core/engine/timing_profile.h"
#include "core/io/run_store.h"
#include "core/job/calibration_advice.h"
#include "core/job/prune_job.h"
#include "core/job/run_job.h"
#include "core/model/model_ref.h"

namespace duo::cli {
namespace {

struct PruneArgs {
  PruneRequest req;
  std::string method = "duogpt";
  std::string actRule = "topk";
  std::string score = "full";
  std::string nm;
  std::string config;
  double w = 0.5, a = 0.5;
  bool json = false;
  std::string runsDir;  // run store folder ("" = RunStore::defaultDir())
  bool noRecord = false;
  bool measureSpeed = false;  // time the written checkpoint's decode (core/bench/decode_bench)
  std::string timing;         // a timing profile: calibrated_speedup, and the measured decode's kernel choice
  std::string values = "f32";  // weight value storage the decode speed is predicted and measured with
  bool int8Inputs = false;     // ... and with int8-rounded inputs
  std::vector<std::string> alsoEval;  // more evaluation corpora
  bool plan = false;          // print the memory plan and stop
  bool noMemoryCheck = false;
  double shardGb = 5.0;
  DistArgs dist;
};

Registrar reg_prune("prune", [](CLI::App& app) {
  auto a = std::make_shared<PruneArgs>();
  a->req.model = "tiny";
  auto* cmd = app.add_subcommand("prune", "Calibrate and prune a model (DuoGPT or a baseline); write the pruned checkpoint");
  addModelOption(cmd, a->req.model);
  cmd->add_option("--method", a->method, "duogpt | sparsegpt | sparsegpt-sparse-in | wanda | magnitude | teal | dense")
      ->capture_default_str();
  cmd->add_option("--w-sparsity", a->w, "Uniform weight sparsity in [0, 1)")->capture_default_str();
  cmd->add_option("--a-sparsity", a->a, "Uniform activation sparsity in [0, 1)")->capture_default_str();
  cmd->add_option("--act-rule", a->actRule, "topk (per token) | threshold (calibrated per input site, TEAL)")
      ->capture_default_str();
  cmd->add_option("--config", a->config, "Per-layer sparsity config JSON (schema duoscope.sparsity/1)");
  cmd->add_option("--nm", a->nm, "N:M weight structure, e.g. 2:4 (N of each M weights pruned)");
  cmd->add_option("--score", a->score, "DuoGPT score: full | marginal | sparsegpt")->capture_default_str();
  cmd->add_option("--alpha", a->req.alpha, "DuoGPT residual-correction damping")->capture_default_str();
  cmd->add_option("--damp", a->req.damp, "Hessian damping lambda (times mean diag H)")->capture_default_str();
  cmd->add_option("--block-size", a->req.blockSize, "Solver block size B")->capture_default_str();
  addCalibrationOptions(cmd, a->req.calibSource, a->req.nsamples, a->req.seqlen, a->req.seed);
  cmd->add_option("--out", a->req.outDir, "Write the pruned HF checkpoint (+ duoscope.json) here");
  cmd->add_option("--out-dtype", a->req.outDtype,
                  "Checkpoint dtype: source | f32 | bf16 | f16 | int8 (projections as compressed-tensors int-quantized, "
                  "int8 with an f32 scale per output row, the rest in the source dtype); pruned zeros stay exact")
      ->capture_default_str();
  auto* rounding = cmd->add_option("--int8-rounding", a->req.int8Rounding,
                  "With --out-dtype int8: after (calibrated in f32, each finished layer rounded to nearest) | solve "
                  "(DuoGPT/SparseGPT round each kept weight inside the solve and compensate its error in later "
                  "columns; other methods round to nearest) | nearest (each solved projection rounded)")
      ->capture_default_str();
  cmd->add_option("--out-format", a->req.outFormat,
                  "Projections stored dense | sparse-bitmask (compressed-tensors: non-zero values + a bit per weight)")
      ->capture_default_str();
  cmd->add_option("--shard-size", a->shardGb, "Largest checkpoint shard, GB (10^9 bytes)")->capture_default_str();
  cmd->add_option("--stream-dtype", a->req.streamDtype, "Calibration streams: f32 | bf16")->capture_default_str();
  cmd->add_option("--compute-dtype", a->req.computeDtype,
                  "Calibration's matrix products: f32 | bf16 | auto (bf16 with f32 accumulation: several times faster "
                  "where the CPU has AMX or AVX-512 BF16, and on CUDA; emulated at f32's speed on a CPU without AVX-512; "
                  "auto: bf16 where native, else f32; docs/method.md, \"Compute dtype\")")
      ->capture_default_str();
  cmd->add_option("--stream-device", a->req.streamDevice,
                  "On CUDA, where the calibration streams live: auto (device when the plan fits its free memory) | device | host")
      ->capture_default_str();
  cmd->add_option("--site-inputs", a->req.siteInputs,
                  "Calibration keeps every window's site inputs (keep: fastest) or recomputes them per group (recompute: "
                  "one chunk of memory); auto keeps them when the memory plan fits")
      ->capture_default_str();
  addMemoryPlanOptions(cmd, a->plan, a->noMemoryCheck);
  cmd->add_flag("--eval", a->req.eval, "Evaluate perplexity (pruned and dense) with the activation rule on");
  cmd->add_option("--eval-text", a->req.evalSource, std::string("Evaluation corpus: ") + duo::kModelCorpusSourcesHelp)
      ->capture_default_str();
  cmd->add_option("--also-eval", a->alsoEval,
                  "More evaluation corpora (repeatable), each reported with its own dense perplexity and whether it "
                  "is in-domain or held out (also_eval); needs --eval")
      ->take_all();
  cmd->add_option("--eval-seqlen", a->req.evalSeqlen, "Evaluation window (default: calibration seqlen)");
  cmd->add_option("--max-windows", a->req.maxWindows, "Evaluate at most this many windows (0 = all)");
  cmd->add_option("--task", a->req.taskFile, "Multiple-choice task JSONL for accuracy (ours or lm-eval's datasets)");
  cmd->add_option("--task-format", a->req.taskFormat,
                  "The task file's layout: auto | duoscope | hellaswag | piqa | arc | winogrande | boolq")
      ->capture_default_str();
  addDeviceOption(cmd, a->req.device);
  cmd->add_option("--runs-dir", a->runsDir, "Save the run record here (default $DUO_RUNS_DIR or <cache>/runs)");
  cmd->add_flag("--no-record", a->noRecord, "Do not save a run record");
  cmd->add_flag("--measure-speed", a->measureSpeed,
                "Time the pruned model's decode (batch 1) dense vs packed in interleaved pairs: measured_speedup "
                "(the --out checkpoint, else a temporary one)");
  addTimingOption(cmd, a->timing,
                  "also report its prediction (calibrated_speedup); --measure-speed then runs each projection on "
                  "the kernel it says is fastest");
  cmd->add_option("--values", a->values,
                  "Weight value storage of the decode the speed is predicted and measured for: f32 | f16 | bf16 | "
                  "int8 (one scale per output row; the checkpoint's own dtype is --out-dtype)")
      ->capture_default_str();
  cmd->add_flag("--int8-inputs", a->int8Inputs,
                "With --values int8: the decode also rounds every product's input to int8 (bench decode "
                "--int8-inputs); the sparse projections then run on act_sparse");
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  addDistOptions(cmd, a->dist);
  cmd->callback([a, rounding] {
    PruneRequest req = a->req;
    const perf::TimingProfile timing = a->timing.empty() ? perf::TimingProfile{} : perf::loadTimingProfile(a->timing);
    DUO_CHECK(methodFromName(a->method, &req.method), "--method '", a->method, "' is not one of duogpt, sparsegpt, ",
              "sparsegpt-sparse-in, wanda, magnitude, teal, dense");
    DUO_CHECK(scoreFromName(a->score, &req.score), "--score '", a->score, "' is not full, marginal or sparsegpt");
    req.sparsity = a->config.empty() ? SparsityPlan::uniform(a->w, a->a) : SparsityPlan::file(a->config);
    DUO_CHECK(actRuleFromName(a->actRule, &req.sparsity.actRule), "--act-rule '", a->actRule,
              "' is not topk or threshold");
    req.sparsity.nm = parseNm(a->nm);
    DUO_CHECK(req.taskFile.empty() || req.eval, "--task needs --eval (accuracy is part of the evaluation)");
    DUO_CHECK(a->alsoEval.empty() || req.eval, "--also-eval needs --eval");
    DUO_CHECK(rounding->count() == 0 || req.outDtype == "int8", "--int8-rounding needs --out-dtype int8");
    DUO_CHECK(a->shardGb > 0, "--shard-size ", a->shardGb, " must be positive");
    req.maxShardBytes = static_cast<int64_t>(a->shardGb * 1e9);
    req.memoryCheck = !a->noMemoryCheck;
    if (a->plan) return printMemoryPlan(planPrune(req, ModelRef::resolve(req.model)), a->json);
    req.dist = resolveDist(a->dist);  // --nproc: starts the workers here and leaves with their status
    const bool lead = req.dist.rank == 0;  // prints, records and writes; the other ranks report errors only
    RunRequest run;
    run.model = ModelRef::resolve(req.model);  // resolved here once: the advice below and the run read it
    if (lead) {  // say what the calibration is, and whether it is enough, before the long part starts
      const ModelInfo& info = run.model.info();
      const bool cuda = req.device == "cuda" || (req.device.empty() && deviceInfo().cuda);
      int n = 0, len = 0;
      defaultCalibration(info.parameters, cuda, &n, &len);
      const int nsamples = req.nsamples > 0 ? req.nsamples : n, seqlen = req.seqlen > 0 ? req.seqlen : len;
      std::cerr << "calibration: " << nsamples << " windows x " << seqlen << " tokens of ";
      if (isAutoCorpus(req.calibSource)) {
        const DefaultCorpora d = defaultCorpora(info.path);  // training.json read once here
        std::cerr << d.calib << " (default: " << d.reason << "; --calib changes it)";
      } else {
        std::cerr << req.calibSource;
      }
      if (req.nsamples <= 0 || req.seqlen <= 0)
        std::cerr << " (default for " << info.parameters / 1e6 << "M parameters on " << (cuda ? "cuda" : "cpu")
                  << "; --nsamples/--seqlen change it)";
      const CalibrationAdvice advice = adviseCalibration(info.config, req.method, nsamples, seqlen);
      std::cerr << "\n" << (advice.enough() ? "calibration: " : "warning: ") << advice.text(nsamples, seqlen) << "\n";
      if (req.computeDtype == "bf16") {
        const Bf16Products b = bf16Products(cuda);
        if (b.fallback)
          std::cerr << "note: --compute-dtype bf16 on a " << b.detail
                    << ": f32's speed, no gain here (--compute-dtype auto picks f32 on this CPU)\n";
      }
    }
    run.prune = req;
    run.measureSpeed = a->measureSpeed;
    run.alsoEval = a->alsoEval;
    run.values = kernels::parseValueType(a->values);
    run.int8Inputs = a->int8Inputs;
    DUO_CHECK(!run.int8Inputs || run.values == kernels::ValueType::I8, "prune: --int8-inputs needs --values int8");
    if (!timing.empty()) run.timing = std::make_shared<const perf::TimingProfile>(timing);
    if (!a->noRecord) run.runsDir = a->runsDir.empty() ? RunStore::defaultDir() : a->runsDir;
    auto progress = progressBar(!lead);
    const RunOutcome outcome = runJob(run, progress);  // marks, calibrates, measures, records
    finishProgress();
    if (!lead) return;
    const PruneResult& r = outcome.result;
    const nlohmann::json& out = outcome.json;
    if (a->json) {
      printJson(out);
      return;
    }
    std::cout << methodName(r.request.method) << ": weight sparsity " << r.weightSparsity << ", activation sparsity "
              << r.actSparsity << ", " << r.records.size() << " projections in " << r.secondsTotal << " s\n";
    if (r.eval.done)
      std::cout << "perplexity " << r.eval.perplexity << " (dense " << r.eval.densePerplexity << ") over "
                << r.eval.tokens << " tokens\n";
    for (const AlsoEval& e : outcome.alsoEvals)
      std::cout << "perplexity " << e.perplexity << " (dense " << e.densePerplexity << ") on " << e.corpus << ", "
                << domainRelation(r.request.calibSource, e.corpus) << "\n";
    if (!r.eval.taskName.empty())
      std::cout << "accuracy " << r.eval.accuracy << " (dense " << r.eval.denseAccuracy << "), acc_norm "
                << r.eval.accuracyNorm << " (dense " << r.eval.denseAccuracyNorm << ") on " << r.eval.taskItems
                << " items of " << r.eval.taskName << "\n";
    if (!r.request.outDir.empty()) std::cout << "wrote " << r.request.outDir << "\n";
    std::cout << "predicted decode speedup " << r.predictedSpeedup;
    if (out.contains("calibrated_speedup"))
      std::cout << ", with the timing profile " << out["calibrated_speedup"].get<double>();
    std::cout << "\n";
    if (out.contains("speed_check")) printSpeedCheck(SpeedCheck::fromJson(out["speed_check"], "prune"));
    if (out.contains("run_id")) std::cout << "run " << out["run_id"].get<std::string>() << "\n";
  });
});

}  // namespace
}  // namespace duo::cli
