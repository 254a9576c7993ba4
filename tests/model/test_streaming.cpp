// SPDX-License-Identifier: GPL-3.0-or-later
// The layer streamer (core/model/io/weight_source.h, calibrate(WeightSource&...), the layer-wise
// evaluation and the CheckpointWriter) against the whole-model path:
//  - the same pruned weights (masks identical, values within 1e-6 relative) for duogpt, sparsegpt,
//    wanda and magnitude on the bundled tiny model and SmolLM2 (read from disk one layer at a time
//    vs held whole in f32);
//  - the same perplexity (1e-5 relative), and prune's streamed checkpoint and evaluation equal to
//    the whole-model calibration's weights and perplexity;
//  - bf16 checkpoints: pruned zeros stay exact, values are the f32 result rounded once, and a bf16
//    source's untouched tensors are copied bit for bit; sharded output with an index loads back;
//  - cancel mid-layer and a failing disk (ulimit -f) leave no folder;
//  - peak RSS of calibration on a 4-layer and a 16-layer random model (hidden 1024, FFN 2816)
//    within 15% of each other (each measured in its own child process);
//  - the memory plan: its terms for LLaMA-2-7B shapes, and the refusal when it does not fit.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/data/corpus.h"
#include "core/data/windows.h"
#include "core/eval/perplexity.h"
#include "core/job/memory_plan.h"
#include "core/job/prune_job.h"
#include "core/model/io/checkpoint_writer.h"
#include "core/model/io/loader.h"
#include "core/model/io/model_writer.h"
#include "core/model/io/random_model.h"
#include "core/model/io/weight_source.h"
#include "core/model/model_loader.h"
#include "core/prune/act_hook.h"
#include "core/prune/calibrate.h"

namespace fs = std::filesystem;

namespace {

std::string tinyDir() { return std::string(std::getenv("DUO_RESOURCES_DIR")) + "/models/duo-tiny-kjv"; }
std::string cli() { return std::getenv("DUO_CLI"); }

std::string smollm2OrEmpty() {
  try {
    return duo::resolveModelPath("smollm2");
  } catch (const duo::Error&) {
    return "";
  }
}

// Windows of the calibration corpus, tokenized by the model's tokenizer.
torch::Tensor windowsFor(const std::string& model, int n, int seqlen, bool calib) {
  duo::OpenedModel m = duo::openModel(model);
  const auto text = duo::loadCorpus(calib ? "kjv:calib" : "kjv:eval").text;
  const auto tokens = m.tokenizer->encode(text.substr(0, 400000), false);
  return calib ? duo::sampleWindows(tokens, n, seqlen, 7) : duo::consecutiveWindows(tokens, seqlen, n);
}

double maxRelDiff(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = std::max(b.abs().max().item<double>(), 1e-30);
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>() / scale;
}

// Folders next to `dir` whose names start with its name and ".partial-".
int partialSiblings(const std::string& dir) {
  int n = 0;
  const fs::path p(dir);
  for (const auto& e : fs::directory_iterator(p.parent_path()))
    if (e.path().filename().string().rfind(p.filename().string() + ".partial-", 0) == 0) ++n;
  return n;
}

duo::CalibrateOptions optionsFor(duo::Method m, int layers) {
  duo::CalibrateOptions o;
  o.method = m;
  o.sparsity = duo::SparsityConfig::uniform(layers, 0.5, 0.5);
  o.device = torch::kCPU;
  return o;
}

// Runs a CLI command; returns exit code, stdout in *out and stderr in *err.
int runCli(const QStringList& args, QByteArray* out, QByteArray* err, const QString& shellPrefix = "") {
  QProcess p;
  if (shellPrefix.isEmpty()) {
    p.start(QString::fromStdString(cli()), args);
  } else {
    QStringList quoted;
    for (const auto& a : args) quoted << "'" + a + "'";
    p.start("/bin/sh", {"-c", shellPrefix + " exec '" + QString::fromStdString(cli()) + "' " + quoted.join(' ')});
  }
  if (!p.waitForFinished(900000)) {
    p.kill();
    return -1;
  }
  if (out) *out = p.readAllStandardOutput();
  if (err) *err = p.readAllStandardError();
  return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

}  // namespace

class TestStreaming : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void streamedCalibrationMatchesWhole_data();
  void streamedCalibrationMatchesWhole();
  void streamedPerplexityMatchesWhole_data();
  void streamedPerplexityMatchesWhole();
  void pruneJobMatchesWholeModel();
  void bf16CheckpointKeepsZerosAndRoundsOnce();
  void bf16SourceRoundTripsExactly();
  void shardedCheckpointLoadsBack();
  void cancelMidLayerLeavesNothing();
  void fullDiskLeavesNothing();
  void peakRssIndependentOfDepth();
  void memoryPlanTerms();
  void memoryPlanRefusesWhatDoesNotFit();

 private:
  // DuoGPT on the bundled model at n x 64 on the CPU, written to m_tmp/<out>.
  duo::PruneRequest tinyRequest(int nsamples, const QString& out) const {
    duo::PruneRequest req;
    req.model = tinyDir();
    req.method = duo::Method::DuoGpt;
    req.nsamples = nsamples;
    req.seqlen = 64;
    req.device = "cpu";
    req.outDir = (m_tmp.path() + out).toStdString();
    return req;
  }

  QTemporaryDir m_tmp;
};

void TestStreaming::initTestCase() {
  QVERIFY(m_tmp.isValid());
  QVERIFY2(fs::exists(tinyDir() + "/config.json"), "the bundled tiny model is missing");
}

void TestStreaming::streamedCalibrationMatchesWhole_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<int>("method");
  for (auto m : {duo::Method::DuoGpt, duo::Method::SparseGpt, duo::Method::Wanda, duo::Method::Magnitude}) {
    QTest::newRow((std::string("tiny ") + duo::methodName(m)).c_str()) << QString("tiny") << static_cast<int>(m);
    QTest::newRow((std::string("smollm2 ") + duo::methodName(m)).c_str()) << QString("smollm2") << static_cast<int>(m);
  }
}

void TestStreaming::streamedCalibrationMatchesWhole() {
  QFETCH(QString, model);
  QFETCH(int, method);
  const std::string path = model == "tiny" ? tinyDir() : smollm2OrEmpty();
  if (path.empty()) QSKIP("SmolLM2 is not cached: run scripts/setup.sh (scripts/fetch-smollm2.sh)");
  const bool small = model == "tiny";
  const torch::Tensor windows = windowsFor(path, small ? 16 : 4, small ? 64 : 64, true);  // [n, T] i64

  // Whole model in f32, as before the streamer.
  const duo::LlamaWeights whole = duo::loadWeights(path);
  const int L = static_cast<int>(whole.config.numLayers);
  const duo::CalibrateOptions opts = optionsFor(static_cast<duo::Method>(method), L);
  const duo::CalibrationResult a = duo::calibrate(whole, windows, opts);

  // Streamed from disk, one layer at a time.
  auto source = duo::openWeightSource(path);
  std::vector<std::array<torch::Tensor, duo::kNumProj>> got(static_cast<size_t>(L));
  int layersSeen = 0;
  const duo::CalibrationResult b = duo::calibrate(*source, windows, opts, {}, {}, [&](const duo::LayerDone& d) {
    for (int p = 0; p < duo::kNumProj; ++p) got[static_cast<size_t>(d.index)][static_cast<size_t>(p)] = d.pruned.proj[static_cast<size_t>(p)].clone();
    QCOMPARE(d.index, layersSeen++);
  });
  QCOMPARE(layersSeen, L);
  QCOMPARE(b.weights.layers.size(), size_t(0));  // the streamed call keeps no model
  QCOMPARE(b.records.size(), a.records.size());
  for (int l = 0; l < L; ++l)
    for (int p = 0; p < duo::kNumProj; ++p) {
      const torch::Tensor& wa = a.weights.layers[static_cast<size_t>(l)].proj[static_cast<size_t>(p)];
      const torch::Tensor& wb = got[static_cast<size_t>(l)][static_cast<size_t>(p)];
      const QString where = QString("layer %1 %2").arg(l).arg(duo::projName(static_cast<duo::Proj>(p)));
      QVERIFY2(torch::equal(wa.eq(0), wb.eq(0)), qPrintable(where + ": masks differ"));
      const double d = maxRelDiff(wb, wa);
      QVERIFY2(d <= 1e-6, qPrintable(where + QString(": values differ by %1 relative").arg(d)));
    }
}

void TestStreaming::streamedPerplexityMatchesWhole_data() {
  QTest::addColumn<QString>("model");
  QTest::newRow("tiny") << "tiny";
  QTest::newRow("smollm2") << "smollm2";
}

void TestStreaming::streamedPerplexityMatchesWhole() {
  QFETCH(QString, model);
  const std::string path = model == "tiny" ? tinyDir() : smollm2OrEmpty();
  if (path.empty()) QSKIP("SmolLM2 is not cached: run scripts/setup.sh (scripts/fetch-smollm2.sh)");
  const torch::Tensor windows = windowsFor(path, 6, 128, false);  // [6, 128] i64
  const duo::LlamaModel whole(duo::loadWeights(path));
  const int L = static_cast<int>(whole.config().numLayers);
  // With an activation rule on too (topk 50% at every site), as a pruned model is evaluated.
  const duo::InputHook hook = duo::makeActivationHook(duo::SparsityConfig::uniform(L, 0.5, 0.5));
  for (bool withRule : {false, true}) {
    const auto a = duo::evalPerplexity(whole, windows, withRule ? hook : duo::InputHook{}, 4);
    auto source = duo::openWeightSource(path);
    const auto b = duo::evalPerplexityStreamed(*source, windows, withRule ? hook : duo::InputHook{}, 4, torch::kCPU);
    QCOMPARE(b.tokens, a.tokens);
    QCOMPARE(b.windows, a.windows);
    const double rel = std::abs(b.perplexity - a.perplexity) / a.perplexity;
    QVERIFY2(rel <= 1e-5, qPrintable(QString("rule %1: streamed %2 vs whole %3 (rel %4)")
                                         .arg(withRule).arg(b.perplexity, 0, 'g', 10).arg(a.perplexity, 0, 'g', 10).arg(rel)));
  }
}

void TestStreaming::pruneJobMatchesWholeModel() {
  // prune through the streamer (checkpoint written as layers finish, evaluation as they pass)
  // against the whole-model calibration and evaluation of the same windows.
  duo::PruneRequest req = tinyRequest(16, "/job-f32");
  req.seed = 3;
  req.eval = true;
  req.maxWindows = 8;
  const duo::PruneResult r = duo::runPrune(req, {});
  QCOMPARE(r.outDtype, std::string("F32"));  // the tiny model's own dtype

  const duo::LlamaWeights dense = duo::loadWeights(tinyDir());
  const int L = static_cast<int>(dense.config.numLayers);
  duo::OpenedModel m = duo::openModel(tinyDir());
  const auto calibTokens = m.tokenizer->encode(duo::loadCorpus("kjv:calib").text, false);
  const torch::Tensor windows = duo::sampleWindows(calibTokens, 16, 64, 3);
  duo::CalibrateOptions co = optionsFor(duo::Method::DuoGpt, L);
  const duo::CalibrationResult whole = duo::calibrate(dense, windows, co);

  const duo::LlamaWeights written = duo::loadWeights(req.outDir);
  for (int l = 0; l < L; ++l)
    for (int p = 0; p < duo::kNumProj; ++p) {
      const auto& a = whole.weights.layers[static_cast<size_t>(l)].proj[static_cast<size_t>(p)];
      const auto& b = written.layers[static_cast<size_t>(l)].proj[static_cast<size_t>(p)];
      QVERIFY(torch::equal(a.eq(0), b.eq(0)));
      QVERIFY(maxRelDiff(b, a) <= 1e-6);
    }
  QVERIFY(torch::equal(written.embed, dense.embed));

  const auto evalTokens = m.tokenizer->encode(duo::loadCorpus("kjv:eval").text, false);
  const torch::Tensor evalWin = duo::consecutiveWindows(evalTokens, 64, 8);
  const auto pw = duo::evalPerplexity(duo::LlamaModel(whole.weights), evalWin,
                                      duo::makeActivationHook(co.sparsity, whole.thresholds), 4);
  const auto pd = duo::evalPerplexity(duo::LlamaModel(dense), evalWin, {}, 4);
  QVERIFY2(std::abs(r.eval.perplexity - pw.perplexity) / pw.perplexity <= 1e-5,
           qPrintable(QString("pruned %1 vs %2").arg(r.eval.perplexity, 0, 'g', 10).arg(pw.perplexity, 0, 'g', 10)));
  QVERIFY(std::abs(r.eval.densePerplexity - pd.perplexity) / pd.perplexity <= 1e-5);
  QVERIFY(r.memoryPlan.total > 0);
  QCOMPARE(r.siteInputs, std::string("keep"));  // 16 x 64 fits: every site input is kept
  QCOMPARE(r.streamDevice, std::string("cpu"));
}

void TestStreaming::bf16CheckpointKeepsZerosAndRoundsOnce() {
  const std::string f32Dir = (m_tmp.path() + "/job-f32").toStdString();
  if (!fs::exists(f32Dir)) QSKIP("needs pruneJobMatchesWholeModel's checkpoint");
  duo::PruneRequest req = tinyRequest(16, "/job-bf16");
  req.seed = 3;
  req.outDtype = "bf16";
  const duo::PruneResult r = duo::runPrune(req, {});
  QCOMPARE(r.outDtype, std::string("BF16"));
  auto src = duo::openWeightSource(req.outDir);
  QCOMPARE(src->dtype(), torch::kBFloat16);
  const duo::LlamaWeights a = duo::loadWeights(f32Dir), b = duo::loadWeights(req.outDir);
  for (size_t l = 0; l < a.layers.size(); ++l)
    for (int p = 0; p < duo::kNumProj; ++p) {
      const auto& wa = a.layers[l].proj[static_cast<size_t>(p)];
      const auto& wb = b.layers[l].proj[static_cast<size_t>(p)];
      QVERIFY(torch::equal(wa.eq(0), wb.eq(0)));                                         // exact zeros
      QVERIFY(torch::equal(wa.to(torch::kBFloat16).to(torch::kFloat32), wb));           // rounded once
    }
  // The checkpoint's config says what it holds.
  QVERIFY(duo::readFile(req.outDir + "/config.json").find("\"torch_dtype\": \"bfloat16\"") != std::string::npos);
}

void TestStreaming::bf16SourceRoundTripsExactly() {
  // A bf16 source pruned with the default --out-dtype source: bf16 out, and every tensor the job
  // does not prune (embedding, norms, lm_head) copied bit for bit.
  const std::string srcDir = (m_tmp.path() + "/rand-bf16").toStdString();
  duo::RandomModelOptions o;
  o.config = duo::namedShape("llama2-7b");
  o.config.numLayers = 2;
  o.config.hiddenSize = 128;
  o.config.intermediateSize = 352;
  o.config.numHeads = 4;
  o.config.numKvHeads = 2;
  o.config.headDim = 32;
  o.config.vocabSize = 1024;
  o.seed = 11;
  o.tokenizerSource = tinyDir() + "/tokenizer.json";
  duo::writeRandomModel(srcDir, o);
  duo::PruneRequest req;
  req.model = srcDir;
  req.method = duo::Method::SparseGpt;
  req.nsamples = 8;
  req.seqlen = 32;
  req.device = "cpu";
  req.outDir = (m_tmp.path() + "/rand-bf16-pruned").toStdString();
  const duo::PruneResult r = duo::runPrune(req, {});
  QCOMPARE(r.outDtype, std::string("BF16"));
  auto a = duo::openWeightSource(srcDir), b = duo::openWeightSource(req.outDir);
  QCOMPARE(b->dtype(), torch::kBFloat16);
  QVERIFY(torch::equal(a->embed(), b->embed()));
  QVERIFY(torch::equal(a->lmHead(), b->lmHead()));
  QVERIFY(torch::equal(a->finalNorm(), b->finalNorm()));
  for (int l = 0; l < 2; ++l) {
    const duo::LayerWeights la = a->layer(l), lb = b->layer(l);
    QVERIFY(torch::equal(la.attnNorm, lb.attnNorm));
    for (int p = 0; p < duo::kNumProj; ++p) {
      const auto& wb = lb.proj[static_cast<size_t>(p)];
      QCOMPARE(wb.scalar_type(), torch::kBFloat16);
      const double z = wb.eq(0).sum().item<double>() / static_cast<double>(wb.numel());
      QVERIFY2(std::abs(z - 0.5) < 0.01, qPrintable(QString("layer %1 proj %2: %3 zeros").arg(l).arg(p).arg(z)));
    }
  }
}

void TestStreaming::shardedCheckpointLoadsBack() {
  const duo::LlamaWeights w = duo::loadWeights(tinyDir());
  const std::string dir = (m_tmp.path() + "/sharded").toStdString();
  duo::CheckpointWriterOptions o;
  o.maxShardBytes = 2'000'000;  // the 7.6 MB tiny model in 4+ shards
  duo::saveHfCheckpoint(w, dir, {}, tinyDir() + "/tokenizer.json", {}, o);
  QVERIFY(fs::exists(dir + "/model.safetensors.index.json"));
  QVERIFY(!fs::exists(dir + "/model.safetensors"));
  const auto index = nlohmann::json::parse(duo::readFile(dir + "/model.safetensors.index.json"));
  std::set<std::string> files;
  for (const auto& [name, file] : index["weight_map"].items()) files.insert(file.get<std::string>());
  QVERIFY2(files.size() >= 4, qPrintable(QString("%1 shards").arg(files.size())));
  for (const auto& f : files) QVERIFY(fs::file_size(dir + "/" + f) <= 2'000'000 + 4096);
  const duo::LlamaWeights back = duo::loadWeights(dir);
  QVERIFY(torch::equal(back.embed, w.embed));
  for (size_t l = 0; l < w.layers.size(); ++l)
    for (int p = 0; p < duo::kNumProj; ++p)
      QVERIFY(torch::equal(back.layers[l].proj[static_cast<size_t>(p)], w.layers[l].proj[static_cast<size_t>(p)]));
}

void TestStreaming::cancelMidLayerLeavesNothing() {
  duo::PruneRequest req = tinyRequest(8, "/cancelled");
  req.eval = true;
  req.maxWindows = 2;
  int inLayer1 = 0;
  bool sawLayer0Done = false;
  const duo::ProgressFn progress = [&](const duo::Progress& p) {
    if (p.stage == "calibrate" && p.detail.rfind("layer 0 down_proj", 0) == 0) sawLayer0Done = true;
    // Cancel at the third report inside layer 1: after its load and first captures, mid-layer.
    if (p.stage == "calibrate" && p.detail.rfind("layer 1 ", 0) == 0) ++inLayer1;
    return inLayer1 < 3;
  };
  QVERIFY_THROWS_EXCEPTION(duo::Cancelled, duo::runPrune(req, progress));
  QVERIFY(sawLayer0Done);  // layer 0 was written to the partial folder before the cancel
  QCOMPARE(inLayer1, 3);
  QVERIFY(!fs::exists(req.outDir));
  QCOMPARE(partialSiblings(req.outDir), 0);
}

void TestStreaming::fullDiskLeavesNothing() {
  // A 2 MB file-size limit (ulimit -f 2048 blocks of 1 KB): the 7.6 MB checkpoint's shard cannot be
  // written. The CLI ignores SIGXFSZ, so the write fails with EFBIG and is reported and cleaned up.
  const QString out = m_tmp.path() + "/limited";
  QByteArray so, se;
  const int rc = runCli({"prune", "--model", QString::fromStdString(tinyDir()), "--method", "magnitude",
                         "--nsamples", "4", "--seqlen", "32", "--out", out, "--no-record", "--device", "cpu"},
                        &so, &se, "ulimit -f 2048;");
  QCOMPARE(rc, 1);
  QVERIFY2(se.contains("model.safetensors: write failed: File too large"), se.constData());
  QVERIFY(!fs::exists(out.toStdString()));
  QCOMPARE(partialSiblings(out.toStdString()), 0);
}

void TestStreaming::peakRssIndependentOfDepth() {
  // Two random models at reduced LLaMA widths that differ only in depth; calibration's peak RSS,
  // each in its own process (the high-water mark is per process), must not grow with the depth.
  std::map<int, long long> peak;
  for (int layers : {4, 16}) {
    const QString dir = m_tmp.path() + QString("/rss-%1").arg(layers);
    QByteArray so, se;
    QCOMPARE(runCli({"make-random-model", "--out", dir, "--shape", "llama2-7b", "--layers", QString::number(layers),
                     "--hidden", "1024", "--ffn", "2816", "--heads", "16", "--kv-heads", "16", "--vocab", "1024",
                     "--tokenizer", QString::fromStdString(tinyDir() + "/tokenizer.json"), "--seed", "5"},
                    &so, &se),
             0);
    QCOMPARE(runCli({"prune", "--model", dir, "--method", "duogpt", "--nsamples", "8", "--seqlen", "128",
                     "--no-record", "--json", "--device", "cpu", "--out", dir + "-pruned", "--out-dtype", "bf16"},
                    &so, &se),
             0);
    const auto j = nlohmann::json::parse(so.toStdString());
    peak[layers] = j["peak_rss_bytes"].get<long long>();
    const long long planned = j["memory_plan"]["total_bytes"].get<long long>();
    // Printed, not asserted: the plan is above the measured peak here (956 MB against 853 MB, one
    // thread), but by a margin that thread pools and allocator caches could eat; docs/results.md.
    qInfo("%d layers: peak RSS %.0f MB, memory plan %.0f MB", layers, peak[layers] / 1e6, planned / 1e6);
  }
  const double ratio = static_cast<double>(peak[16]) / static_cast<double>(peak[4]);
  QVERIFY2(ratio < 1.15, qPrintable(QString("peak RSS 16 layers / 4 layers = %1").arg(ratio)));
}

void TestStreaming::memoryPlanTerms() {
  duo::MemoryPlanInput in;
  in.model = "llama2-7b";
  in.config = duo::namedShape("llama2-7b");
  in.sourceBytes = 2;
  in.nsamples = 16;
  in.seqlen = 512;
  in.evalWindows = 8;
  in.evalSeqlen = 512;
  const duo::MemoryPlan p = duo::planMemory(in);
  std::map<std::string, int64_t> t;
  int64_t sum = 0;
  for (const auto& term : p.terms) {
    t[term.key] = term.bytes;
    sum += term.bytes;
  }
  QCOMPARE(p.total, sum);
  QCOMPARE(t["embedding"], int64_t(2) * 32000 * 4096 * 2);           // embed + lm_head, bf16
  QCOMPARE(t["layer"], int64_t(202383360) * 10);                      // f32 twice + the bf16 read
  QCOMPARE(t["streams"], int64_t(2) * 16 * 512 * 4096 * 4);           // dense + pruned, f32
  QVERIFY(t.count("evaluation") == 1);
  // DuoGPT's H and M at the down site summed in f64, one converted to f32 beside them (20 bytes an
  // entry; the factor phase needs less), and four copies of down_proj.
  QCOMPARE(t["statistics"], int64_t(20) * 11008 * 11008 + int64_t(4) * 11008 * 4096 * 4);
  // Each stream's site inputs of all tokens at the widest step (down's input beside two hidden).
  QVERIFY(t["forward"] > int64_t(2) * 16 * 512 * (11008 + 2 * 4096) * 4);

  // Where the streams go on a GPU: the calibration terms against its free memory.
  const int64_t calib = t["layer"] + t["streams"] + t["forward"] + t["statistics"];
  QCOMPARE(duo::chooseStreamPlacement(p, "auto", calib * 2), std::string("device"));
  QCOMPARE(duo::chooseStreamPlacement(p, "auto", calib), std::string("host"));  // no 10% to spare
  QCOMPARE(duo::chooseStreamPlacement(p, "auto", -1), std::string("device"));   // unknown: as before
  QCOMPARE(duo::chooseStreamPlacement(p, "host", calib * 2), std::string("host"));
  QCOMPARE(duo::chooseStreamPlacement(p, "device", 0), std::string("device"));
  QVERIFY_EXCEPTION_THROWN(duo::chooseStreamPlacement(p, "gpu", 0), duo::Error);
  qInfo("%s", p.text().c_str());
  const auto j = p.toJson();
  for (const char* key : {"job", "model", "terms", "total_bytes", "available_bytes", "available_from", "fits"})
    QVERIFY2(j.contains(key), key);
}

void TestStreaming::memoryPlanRefusesWhatDoesNotFit() {
  // 100000 windows of 2048 tokens: the streams alone need terabytes.
  QByteArray so, se;
  const QStringList args = {"prune", "--model", QString::fromStdString(tinyDir()), "--nsamples", "100000",
                            "--seqlen", "2048", "--no-record", "--device", "cpu"};
  QCOMPARE(runCli(args + QStringList{"--plan", "--json"}, &so, &se), 0);
  const auto j = nlohmann::json::parse(so.toStdString());
  QCOMPARE(j["fits"].get<bool>(), false);
  QVERIFY(j["terms"]["streams"].get<int64_t>() > (256ll << 30));  // 2 x 100000 x 2048 x 192 x 4 B
  // Keeping every site input would need far more (auto chose to recompute them: one chunk); a bad
  // choice is named.
  QCOMPARE(runCli(args + QStringList{"--plan", "--json", "--site-inputs", "keep"}, &so, &se), 0);
  const auto jk = nlohmann::json::parse(so.toStdString());
  QVERIFY(jk["terms"]["forward"].get<int64_t>() > 100 * j["terms"]["forward"].get<int64_t>());
  QCOMPARE(runCli(args + QStringList{"--plan", "--site-inputs", "sometimes"}, &so, &se), 1);
  QVERIFY2(se.contains("--site-inputs 'sometimes' is not auto, keep or recompute"), se.constData());
  QCOMPARE(runCli(args, &so, &se), 1);
  QVERIFY2(se.contains("needs about") && se.contains("available") && se.contains("--nsamples") &&
               se.contains("--stream-dtype bf16") && se.contains("duo-tiny-kjv"),
           se.constData());
}

QTEST_GUILESS_MAIN(TestStreaming)
#include "test_streaming.moc"
