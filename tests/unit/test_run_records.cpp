// SPDX-License-Identifier: GPL-3.0-or-later
// Run records (core/io/run_record), the run store (core/io/run_store) and comparisons
// (core/io/run_compare): JSON round trip, conversion of `prune --json` documents (duoscope.run/1),
// errors naming the field, ids that sort by time, prefix resolution, DUO_RUNS_DIR, and the
// `runs` CLI verb over a store folder; the window's file formats in core (workspace, request,
// the older window's run documents), all without Qt's widgets.
#include <QFile>
#include <QProcess>
#include <cmath>
#include <QTemporaryDir>
#include <QtTest>
#include <cstdlib>
#include <functional>
#include <thread>

#include "core/common/atomic_file.h"
#include "core/common/device.h"
#include "core/common/error.h"
#include "core/io/run_compare.h"
#include "core/io/legacy_runs.h"
#include "core/io/run_store.h"
#include "core/io/workspace.h"
#include "core/job/prune_job.h"
#include "core/job/run_job.h"

namespace {
// A PruneResult as runPrune fills it (4 layers, 2 projections recorded), with eval and accuracy.
duo::PruneResult fakeResult(double ppl, double acc) {
  duo::PruneResult r;
  r.request.model = "tiny";
  r.request.method = duo::Method::DuoGpt;
  r.request.nsamples = 16;
  r.request.seqlen = 64;
  r.request.seed = 3;
  r.request.evalSource = "kjv:eval";
  r.sparsity = duo::SparsityConfig::uniform(4, 0.5, 0.5);
  r.sparsity.setWeight(2, duo::Proj::Down, 0.7);
  r.records = {{0, duo::Proj::Q, 0.5, 0.49, 0.01, 0.02, 0.1}, {3, duo::Proj::Down, 0.5, 0.5, 0.2, 0.3, 0.2}};
  r.eval.done = true;
  r.eval.perplexity = ppl;
  r.eval.densePerplexity = 10.5;
  r.eval.tokens = 1260;
  r.eval.windows = 20;
  r.eval.seqlen = 64;
  r.eval.taskName = "kjv-cloze";
  r.eval.taskItems = 100;
  r.eval.accuracy = acc;
  r.eval.accuracyNorm = acc - 0.01;
  r.eval.accuracyStderr = 0.04;
  r.eval.denseAccuracy = 0.7;
  r.eval.denseAccuracyNorm = 0.69;
  r.weightSparsity = 0.5;
  r.actSparsity = 0.5;
  r.predictedSpeedup = 1.8;
  r.secondsTotal = 12.5;
  r.peakRssBytes = 123456789;
  r.device = "cpu";
  r.provenance = {{"model", {{"path", "/m/tiny"}, {"format", "hf-safetensors"}, {"parameters", 4000000},
                             {"sha256", "ab12"}, {"architecture", "llama"}, {"layers", 4}}},
                  {"data", {{"calib", "kjv:calib"}, {"nsamples", 16}, {"seqlen", 64}, {"seed", 3},
                            {"tokenizer", "bpe-bytelevel"}}},
                  {"duoscope_version", "0.1.0"}, {"libtorch_version", "1.13.1"}, {"device", "cpu"}};
  return r;
}

int runCli(const QStringList& args, QByteArray* out, QByteArray* err = nullptr) {
  QProcess p;
  p.start(qEnvironmentVariable("DUO_CLI"), args);
  if (!p.waitForFinished(60000)) return -1;
  *out = p.readAllStandardOutput();
  if (err) *err = p.readAllStandardError();
  return p.exitCode();
}
}  // namespace

class TestRunRecords : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void fromPruneJson();
  void roundTrip();
  void loadRefusesNumbersADoubleCannotHold();
  void missingFields_data();
  void missingFields();
  void storeIdsSortByTime();
  void storeResolveAndDelete();
  void defaultDirFollowsEnv();
  void compare();
  void cli();
  void cliPruneAndEvalReportSpeed();
  void computeDtypeAutoAndWarning();
  void requestRoundTrips();
  void workspaceRoundTrips();
  void workspaceErrorsNameTheFile();
  void olderWorkspaceAndRunLoad();
  void isoTimesBecomeUtc();
};

void TestRunRecords::fromPruneJson() {
  const auto rec = duo::RunRecord::fromJson(fakeResult(12.0, 0.6).toJson(), "test");
  QCOMPARE(rec.method, std::string("duogpt"));
  QCOMPARE(rec.model.path, std::string("/m/tiny"));
  QCOMPARE(rec.model.sha256, std::string("ab12"));
  QCOMPARE(rec.model.layers, 4);
  QCOMPARE(rec.data.corpus, std::string("kjv:calib"));
  QCOMPARE(rec.data.split, std::string("calib"));
  QCOMPARE(rec.data.nsamples, 16);
  QCOMPARE(rec.data.seed, uint64_t(3));
  QVERIFY(!rec.options.contains("nsamples") && rec.options.contains("alpha"));
  QCOMPARE(rec.sparsity.at(2, duo::Proj::Down).weight, 0.7);
  QCOMPARE(rec.records.size(), size_t(2));
  QCOMPARE(rec.records[1].relErrorMaskOnly, 0.3);
  QCOMPARE(rec.timings.at("total"), 12.5);
  QVERIFY(!rec.measuredSpeedup.has_value());
  const auto* ppl = rec.findMetric("perplexity", "pruned");
  QVERIFY(ppl);
  QCOMPARE(ppl->value, 12.0);
  QCOMPARE(ppl->seqlen, 64);
  QCOMPARE(ppl->count, int64_t(1260));
  QCOMPARE(ppl->data, std::string("kjv:eval"));
  QCOMPARE(rec.findMetric("perplexity", "dense")->value, 10.5);
  const auto* acc = rec.findMetric("acc", "pruned");
  QVERIFY(acc);
  QCOMPARE(acc->value, 0.6);
  QCOMPARE(acc->data, std::string("kjv-cloze"));
  QCOMPARE(acc->count, int64_t(100));
  QCOMPARE(*acc->stderrValue, 0.04);
  QCOMPARE(rec.findMetric("acc_norm", "dense")->value, 0.69);
  QCOMPARE(rec.label(), std::string("duogpt W51/A50"));
  // The mix corpus's splits, whole or one domain, are recognised like kjv's.
  for (const char* calib : {"mix:calib", "mix:calib:gcide"}) {
    duo::PruneResult r = fakeResult(12.0, 0.6);
    r.provenance["data"]["calib"] = calib;
    const auto m = duo::RunRecord::fromJson(r.toJson(), "test");
    QCOMPARE(m.data.corpus, std::string(calib));
    QCOMPARE(m.data.split, std::string("calib"));
  }
}

void TestRunRecords::loadRefusesNumbersADoubleCannotHold() {
  QTemporaryDir tmp;
  const std::string rec = tmp.filePath("run.json").toStdString();
  const std::string cfg = tmp.filePath("sparsity.json").toStdString();
  duo::writeFileAtomic(rec, "{\"schema\": \"duoscope.run-record/1\", \"id\": 5e523}\n");
  duo::writeFileAtomic(cfg, "{\"schema\": \"duoscope.sparsity/1\", \"num_layers\": 1E400}\n");
  for (const auto& [path, load] : std::vector<std::pair<std::string, std::function<void()>>>{
           {rec, [&] { duo::RunRecord::load(rec); }}, {cfg, [&] { duo::SparsityConfig::load(cfg, 4); }}}) {
    try {
      load();
      QFAIL(("accepted " + path).c_str());
    } catch (const duo::Error& e) {
      const std::string what = e.what();
      QVERIFY2(what.find(path) != std::string::npos && what.find("not valid JSON") != std::string::npos, e.what());
    }
  }
}

void TestRunRecords::roundTrip() {
  auto rec = duo::RunRecord::fromJson(fakeResult(12.0, 0.6).toJson(), "test");
  rec.id = "20261129-093512-042-duogpt";
  rec.created = "2026-11-29T09:35:12Z";
  rec.measuredSpeedup = 1.6;
  const auto j = rec.toJson();
  QCOMPARE(j["schema"].get<std::string>(), std::string("duoscope.run-record/1"));
  QVERIFY(j["speed"]["measured"].is_number());
  const auto back = duo::RunRecord::fromJson(j, "again");
  QCOMPARE(back.toJson().dump(), j.dump());
  QCOMPARE(*back.measuredSpeedup, 1.6);
  QVERIFY(back.sparsity == rec.sparsity);
  rec.measuredSpeedup.reset();
  QVERIFY(rec.toJson()["speed"]["measured"].is_null());
  QVERIFY(rec.toJson()["speed"]["calibrated"].is_null());
  // A timing profile's prediction (prune --timing, the window with a profile) round-trips too, and
  // the prune JSON's `calibrated_speedup` / `timing` become the record's.
  auto prune = fakeResult(12.0, 0.6).toJson();
  prune["calibrated_speedup"] = 1.78;
  prune["timing"] = "smollm2-timing.json";
  const auto timed = duo::RunRecord::fromJson(prune, "prune");
  QCOMPARE(*timed.calibratedSpeedup, 1.78);
  QCOMPARE(timed.timingProfile, std::string("smollm2-timing.json"));
  const auto timedBack = duo::RunRecord::fromJson(timed.toJson(), "again");
  QCOMPARE(*timedBack.calibratedSpeedup, 1.78);
  QCOMPARE(timedBack.timingProfile, std::string("smollm2-timing.json"));
  // Records written before the field existed still load.
  auto old = timed.toJson();
  old["speed"].erase("calibrated");
  old["speed"].erase("timing_profile");
  QVERIFY(!duo::RunRecord::fromJson(old, "old").calibratedSpeedup.has_value());
}

void TestRunRecords::missingFields_data() {
  QTest::addColumn<QString>("pointer");
  QTest::addColumn<QString>("message");
  QTest::newRow("method") << "/method" << "missing field 'method'";
  QTest::newRow("data") << "/data" << "missing field 'data'";
  QTest::newRow("seed") << "/data/seed" << "data: missing field 'seed'";
  QTest::newRow("metric value") << "/metrics/0/value" << "metrics[0]: missing field 'value'";
  QTest::newRow("record proj") << "/records/1/proj" << "records[1]: missing field 'proj'";
  QTest::newRow("speed") << "/speed" << "missing field 'speed'";
}

void TestRunRecords::missingFields() {
  QFETCH(QString, pointer);
  QFETCH(QString, message);
  auto rec = duo::RunRecord::fromJson(fakeResult(12.0, 0.6).toJson(), "test");
  rec.id = "x";
  auto j = rec.toJson();
  const nlohmann::json::json_pointer ptr(pointer.toStdString());
  j[ptr.parent_pointer()].erase(ptr.back());
  try {
    duo::RunRecord::fromJson(j, "runs/x.json");
    QFAIL("expected duo::Error");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).startsWith("runs/x.json") && QString(e.what()).contains(message), e.what());
  }
}

void TestRunRecords::storeIdsSortByTime() {
  QTemporaryDir dir;
  const duo::RunStore store(dir.filePath("runs").toStdString());
  QVERIFY(store.ids().empty());
  std::vector<std::string> saved;
  for (int i = 0; i < 4; ++i) {
    auto rec = duo::RunRecord::fromJson(fakeResult(12.0 + i, 0.6).toJson(), "test");
    rec.method = i % 2 ? "wanda" : "duogpt";
    saved.push_back(store.save(rec));
    QCOMPARE(rec.id, saved.back());
    QVERIFY(!rec.created.empty());
    if (i == 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  QVERIFY(store.ids() == saved);  // save order == sorted order: ids start with the UTC time
  QVERIFY(QRegularExpression("^\\d{8}-\\d{6}-\\d{3}-duogpt").match(QString::fromStdString(saved[0])).hasMatch());
  QCOMPARE(store.load(saved[2]).findMetric("perplexity", "pruned")->value, 14.0);
  // No temp files are left beside the records.
  QCOMPARE(QDir(dir.filePath("runs")).entryList(QDir::Files).size(), 4);
}

void TestRunRecords::storeResolveAndDelete() {
  QTemporaryDir dir;
  const duo::RunStore store(dir.path().toStdString());
  auto a = duo::RunRecord::fromJson(fakeResult(12.0, 0.6).toJson(), "t");
  auto b = a, c = a;
  a.id = "20260101-000000-000-duogpt";
  b.id = "20260101-000000-500-wanda";
  c.id = "20260102-000000-000-duogpt";
  for (auto* r : {&a, &b, &c}) store.save(*r);
  QCOMPARE(store.resolve("latest"), c.id);
  QCOMPARE(store.resolve("20260102"), c.id);
  QCOMPARE(store.resolve(b.id), b.id);
  QVERIFY_EXCEPTION_THROWN(store.resolve("20260101"), duo::Error);  // ambiguous
  try {
    store.resolve("2027");
    QFAIL("expected duo::Error");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("not found"), e.what());
  }
  QCOMPARE(store.remove("20260101-000000-5"), b.id);
  QCOMPARE(store.ids().size(), size_t(2));
  // A corrupt file is reported by load, naming it.
  duo::writeFileAtomic(store.pathOf("20260103-000000-000-bad"), "{not json");
  try {
    store.load("20260103");
    QFAIL("expected duo::Error");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("20260103-000000-000-bad.json"), e.what());
  }
}

void TestRunRecords::defaultDirFollowsEnv() {
  const QByteArray old = qgetenv("DUO_RUNS_DIR");
  qputenv("DUO_RUNS_DIR", "/tmp/somewhere/runs");
  QCOMPARE(duo::RunStore::defaultDir(), std::string("/tmp/somewhere/runs"));
  qunsetenv("DUO_RUNS_DIR");
  QVERIFY(QString::fromStdString(duo::RunStore::defaultDir()).endsWith("/runs"));
  if (!old.isNull()) qputenv("DUO_RUNS_DIR", old);
}

void TestRunRecords::compare() {
  auto a = duo::RunRecord::fromJson(fakeResult(12.0, 0.6).toJson(), "a");
  auto b = duo::RunRecord::fromJson(fakeResult(15.0, 0.5).toJson(), "b");
  a.id = "A";
  b.id = "B";
  b.records[1].relError = 0.5;
  b.metrics.pop_back();  // b lacks dense acc_norm
  const auto c = duo::compareRuns(a, b);
  const auto j = c.toJson();
  bool sawPpl = false, sawMissing = false;
  for (const auto& row : j["summary"]) {
    if (row["name"] == "perplexity (pruned, kjv:eval)") {
      sawPpl = true;
      QCOMPARE(row["diff"].get<double>(), 3.0);
    }
    if (row["name"] == "acc_norm (dense, kjv-cloze)") {
      sawMissing = true;
      QVERIFY(row["b"].is_null() && row["diff"].is_null());
    }
  }
  QVERIFY(sawPpl && sawMissing);
  QCOMPARE(j["layers"].size(), size_t(2));
  QCOMPARE(j["layers"][1]["rel_error"]["diff"].get<double>(), 0.3);
  QCOMPARE(j["layers"][1]["proj"].get<std::string>(), std::string("down_proj"));
  QVERIFY(QString::fromStdString(c.toText()).contains("down_proj"));
}

void TestRunRecords::cli() {
  QTemporaryDir dir;
  const duo::RunStore store(dir.path().toStdString());
  auto a = duo::RunRecord::fromJson(fakeResult(12.0, 0.6).toJson(), "a");
  auto b = duo::RunRecord::fromJson(fakeResult(14.0, 0.55).toJson(), "b");
  store.save(a);
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  store.save(b);
  const QString d = dir.path();
  QByteArray out, err;
  QCOMPARE(runCli({"runs", "list", "--runs-dir", d, "--json"}, &out), 0);
  auto j = nlohmann::json::parse(out.toStdString());
  QCOMPARE(j["runs"].size(), size_t(2));
  QCOMPARE(j["runs"][0]["id"].get<std::string>(), a.id);
  QCOMPARE(j["runs"][1]["perplexity"].get<double>(), 14.0);
  QCOMPARE(runCli({"runs", "show", "latest", "--runs-dir", d, "--json"}, &out), 0);
  QCOMPARE(nlohmann::json::parse(out.toStdString())["id"].get<std::string>(), b.id);
  QCOMPARE(runCli({"runs", "compare", QString::fromStdString(a.id), QString::fromStdString(b.id), "--runs-dir", d, "--json"}, &out), 0);
  QCOMPARE(nlohmann::json::parse(out.toStdString())["summary"][0]["diff"].get<double>(), 2.0);
  QCOMPARE(runCli({"runs", "compare", QString::fromStdString(a.id), QString::fromStdString(b.id), "--runs-dir", d}, &out), 0);
  QVERIFY(out.contains("perplexity (pruned, kjv:eval)"));
  QCOMPARE(runCli({"runs", "delete", QString::fromStdString(a.id), "--runs-dir", d}, &out), 0);
  QCOMPARE(store.ids().size(), size_t(1));
  QCOMPARE(runCli({"runs", "show", "nope", "--runs-dir", d}, &out, &err), 1);
  QVERIFY2(err.contains("not found"), err.constData());
}

// --compute-dtype auto resolves to what this CPU computes natively (the JSON never says "auto");
// bf16 on a CPU without AVX-512 runs emulated (operands rounded to bf16, products in f32), with a note first;
// an unknown dtype is refused naming the flag.
void TestRunRecords::computeDtypeAutoAndWarning() {
  const duo::Bf16Products b16 = duo::bf16Products(false);
  QCOMPARE(duo::resolveComputeDtype("auto", false), std::string(b16.fast ? "bf16" : "f32"));
  QCOMPARE(duo::resolveComputeDtype("auto", true), std::string("bf16"));
  QCOMPARE(duo::resolveComputeDtype("f32", true), std::string("f32"));
  QVERIFY(!b16.fast || !b16.fallback);
  qInfo("this CPU: %s", b16.detail.c_str());
  QByteArray out, err;
  const QStringList base{"prune", "--model", "tiny", "--nsamples", "2", "--seqlen", "32", "--device", "cpu",
                         "--no-record", "--json"};
  QCOMPARE(runCli(base + QStringList{"--compute-dtype", "auto"}, &out, &err), 0);
  QCOMPARE(nlohmann::json::parse(out.toStdString())["options"]["compute_dtype"].get<std::string>(),
           duo::resolveComputeDtype("auto", false));
  QVERIFY2(!err.contains("--compute-dtype bf16 on a"), err.constData());
  QCOMPARE(runCli(base + QStringList{"--compute-dtype", "bf16"}, &out, &err), 0);
  QCOMPARE(nlohmann::json::parse(out.toStdString())["options"]["compute_dtype"].get<std::string>(), std::string("bf16"));
  QCOMPARE(err.contains("note: --compute-dtype bf16 on a CPU without AVX-512"), b16.fallback);
  QCOMPARE(runCli(base + QStringList{"--compute-dtype", "f16"}, &out, &err), 1);
  QVERIFY2(err.contains("--compute-dtype 'f16' is not f32, bf16 or auto"), err.constData());
}

// prune --measure-speed times the pruned checkpoint (--out, else a temporary one) and keeps the number in its run record; eval of
// that checkpoint predicts the same speedup from its zeros and rule, and measures on request.
void TestRunRecords::cliPruneAndEvalReportSpeed() {
  QTemporaryDir dir;
  const QString d = dir.path(), ck = dir.filePath("ck");
  QByteArray out, err;
  // Without --out the decode is timed on a temporary checkpoint that does not outlive the run.
  QCOMPARE(runCli({"prune", "--model", "tiny", "--nsamples", "8", "--seqlen", "64", "--measure-speed", "--runs-dir", d,
                   "--json"},
                  &out, &err),
           0);
  {
    const auto j = nlohmann::json::parse(out.toStdString());
    QVERIFY2(j["measured_speedup"].get<double>() > 0.0, out.constData());
    QCOMPARE(j["speed_check"]["repeats"].get<int>() >= 1, true);
    const duo::RunRecord rec = duo::RunStore(d.toStdString()).load(j["run_id"].get<std::string>());
    QVERIFY(rec.outDir.empty());
    QVERIFY(rec.measuredSpeedup && *rec.measuredSpeedup == j["measured_speedup"].get<double>());
    // 8 x 64 tokens are far below DuoGPT's advice for the tiny model (10 x its FFN width, 480).
    QCOMPARE(j["calibration"]["tokens"].get<int64_t>(), int64_t(512));
    QCOMPARE(j["calibration"]["widest_input"].get<int64_t>(), int64_t(480));
    QCOMPARE(j["calibration"]["advised_tokens"].get<int64_t>(), int64_t(4800));
    QCOMPARE(j["calibration"]["enough"].get<bool>(), false);
    QVERIFY2(err.contains("warning: 512 calibration tokens (8 x 64); DuoGPT advises at least 4,800"), err.constData());
  }
  // --also-eval: one run, perplexity in-domain (kjv:eval after kjv:calib) and on held-out text, each
  // with its own dense perplexity on the same windows, in the JSON and the record.
  QCOMPARE(runCli({"prune", "--model", "tiny", "--nsamples", "8", "--seqlen", "64", "--also-eval", "mix:eval:manpages",
                   "--runs-dir", d},
                  &out, &err),
           1);
  QVERIFY2(err.contains("--also-eval needs --eval"), err.constData());
  QCOMPARE(runCli({"prune", "--model", "tiny", "--nsamples", "8", "--seqlen", "64", "--eval", "--max-windows", "2",
                   "--also-eval", "mix:eval:manpages", "--runs-dir", d, "--json"},
                  &out, &err),
           0);
  {
    const auto j = nlohmann::json::parse(out.toStdString());
    QCOMPARE(j["also_eval"].size(), size_t(1));
    const auto& a = j["also_eval"][0];
    QCOMPARE(a["corpus"].get<std::string>(), std::string("mix:eval:manpages"));
    QCOMPARE(a["domain"].get<std::string>(), std::string("held-out"));
    QCOMPARE(a["windows"].get<int64_t>(), int64_t(2));
    QCOMPARE(a["seqlen"].get<int>(), 64);
    // The KJV-trained tiny model reads man pages far worse than its own text, pruned or not.
    QVERIFY2(a["dense_perplexity"].get<double>() > 3 * j["eval"]["dense_perplexity"].get<double>(), out.constData());
    QVERIFY(a["perplexity"].get<double>() > a["dense_perplexity"].get<double>());
    QVERIFY(j["out"].get<std::string>().empty());  // evaluated on a temporary checkpoint, gone now
    const duo::RunRecord rec = duo::RunStore(d.toStdString()).load(j["run_id"].get<std::string>());
    int pruned = 0;
    for (const duo::RunMetric& m : rec.metrics)
      if (m.kind == "perplexity" && m.model == "pruned") {
        ++pruned;
        QCOMPARE(rec.domainOf(m), std::string(m.data == "kjv:eval" ? "in-domain" : "held-out"));
      }
    QCOMPARE(pruned, 2);
    QCOMPARE(rec.findMetric("perplexity", "pruned")->data, std::string("kjv:eval"));  // the first stays the main one
  }
  QCOMPARE(runCli({"prune", "--model", "tiny", "--nsamples", "8", "--seqlen", "64", "--out", ck, "--measure-speed",
                   "--runs-dir", d, "--json"},
                  &out, &err),
           0);
  const auto p = nlohmann::json::parse(out.toStdString());
  // No --calib: the tiny model's own corpus (its training.json), and the checkpoint keeps that record.
  QCOMPARE(p["options"]["calib"].get<std::string>(), std::string("kjv:calib"));
  QVERIFY2(err.contains("tokens of kjv:calib (default: the corpus its training.json names"), err.constData());
  QVERIFY(QFile::exists(ck + "/training.json"));
  const double predicted = p["predicted_speedup"].get<double>(), measured = p["measured_speedup"].get<double>();
  QVERIFY(predicted > 2.0 && measured > 0.0);
  // The tiny model's 6.5 MiB step fits in any server's last-level cache.
  QCOMPARE(p["cache_resident"].get<bool>(), true);
  QCOMPARE(runCli({"runs", "show", "latest", "--runs-dir", d, "--json"}, &out), 0);
  QCOMPARE(nlohmann::json::parse(out.toStdString())["speed"]["measured"].get<double>(), measured);
  QCOMPARE(runCli({"eval", "--model", ck, "--max-windows", "2", "--seqlen", "64", "--measure-speed", "--json"}, &out, &err), 0);
  const auto e = nlohmann::json::parse(out.toStdString());
  QCOMPARE(e["corpus"].get<std::string>(), std::string("kjv:eval"));  // the pruned tiny model's default, too
  QVERIFY2(std::abs(e["predicted_speedup"].get<double>() - predicted) < 1e-6, out.constData());
  QVERIFY(e["measured_speedup"].get<double>() > 0.0);
  QCOMPARE(runCli({"eval", "--model", "tiny", "--max-windows", "1", "--measure-speed"}, &out, &err), 1);
  QVERIFY2(err.contains("not a pruned DuoScope checkpoint"), err.constData());
}

// Every field of the request survives its JSON form, the table included.
void TestRunRecords::requestRoundTrips() {
  duo::PruneRequest q = fakeResult(12.0, 0.6).request;
  q.method = duo::Method::Wanda;
  duo::SparsityConfig table = duo::SparsityConfig::uniform(4, 0.55, 0.45);
  table.setWeight(1, duo::Proj::Up, 0.7);
  q.sparsity = duo::SparsityPlan::table(table);
  q.sparsity.nm = duo::parseNm("2:4");
  q.sparsity.actRule = duo::ActRule::Threshold;
  q.score = duo::Score::Marginal;
  q.alpha = 0.25;
  q.damp = 0.05;
  q.blockSize = 64;
  q.calibSource = "mix:calib";
  q.eval = true;
  q.evalSource = "mix:eval:manpages";
  q.evalSeqlen = 128;
  q.maxWindows = 9;
  q.taskFile = "/t/task.jsonl";
  q.outDir = "/o/ck";
  q.device = "cpu";
  q.computeDtype = "bf16";
  const duo::PruneRequest b = duo::requestFromJson(duo::requestToJson(q), "test");
  QCOMPARE(b.computeDtype, std::string("bf16"));
  {  // a workspace written before the compute dtype existed reads as f32
    nlohmann::json old = duo::requestToJson(q);
    old.erase("compute_dtype");
    QCOMPARE(duo::requestFromJson(old, "old").computeDtype, std::string("f32"));
  }
  QVERIFY(b.sparsity == q.sparsity);
  QCOMPARE(duo::requestToJson(b).dump(), duo::requestToJson(q).dump());
  QCOMPARE(b.method, duo::Method::Wanda);
  QCOMPARE(b.sparsity.nm.str(), std::string("2:4"));
  QVERIFY(b.sparsity.table() == table);
  // A uniform request keeps its pair; its table is empty.
  q.sparsity = duo::SparsityPlan::uniform(0.3, 0.2);
  const duo::PruneRequest u = duo::requestFromJson(duo::requestToJson(q), "test");
  QVERIFY(u.sparsity == q.sparsity);
  QCOMPARE(u.sparsity.uniformWeight(), 0.3);
  QCOMPARE(b.evalSource, std::string("mix:eval:manpages"));
  // A malformed field is named with its source.
  nlohmann::json j = duo::requestToJson(q);
  j["nsamples"] = "many";
  QVERIFY_EXCEPTION_THROWN(duo::requestFromJson(j, "ws.json: request"), duo::Error);
  try {
    duo::requestFromJson(j, "ws.json: request");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("ws.json: request") && QString(e.what()).contains("nsamples"), e.what());
  }
}

void TestRunRecords::workspaceRoundTrips() {
  QTemporaryDir tmp;
  duo::Workspace ws;
  ws.request = fakeResult(12.0, 0.6).request;
  ws.request.sparsity = duo::SparsityPlan::table(duo::SparsityConfig::uniform(4, 0.55, 0.45));
  ws.request.calibSource = "/data/calib.jsonl";
  ws.runsDir = "/w/runs";
  ws.values = "int8";
  ws.int8Inputs = true;
  ws.alsoEval = {"mix:eval", "mix:eval:manpages"};
  duo::RunRecord rec = duo::RunRecord::fromJson(fakeResult(4.0, 0.5).toJson(), "test");
  rec.values = "int8";
  rec.int8Inputs = true;
  rec.id = "run-a";
  rec.created = "2026-12-01T10:00:00Z";
  ws.runs.push_back(rec);
  rec.id = "run-b";
  ws.runs.push_back(rec);
  const std::string path = tmp.filePath("ws.json").toStdString();
  duo::saveWorkspace(path, ws);
  const duo::Workspace back = duo::loadWorkspace(path);
  QCOMPARE(duo::requestToJson(back.request).dump(), duo::requestToJson(ws.request).dump());
  QCOMPARE(back.runsDir, std::string("/w/runs"));
  QCOMPARE(back.values, std::string("int8"));
  QVERIFY(back.int8Inputs);
  QCOMPARE(back.alsoEval, ws.alsoEval);
  QCOMPARE(back.runs[0].values, std::string("int8"));
  QVERIFY(back.runs[0].int8Inputs);
  QCOMPARE(back.runs.size(), size_t(2));
  QCOMPARE(back.runs[0].toJson().dump(), ws.runs[0].toJson().dump());
  QCOMPARE(back.runs[1].id, std::string("run-b"));
  // Saved again, byte for byte the same file.
  duo::saveWorkspace(tmp.filePath("again.json").toStdString(), back);
  QCOMPARE(duo::readFile(tmp.filePath("again.json").toStdString()), duo::readFile(path));
}

void TestRunRecords::workspaceErrorsNameTheFile() {
  QTemporaryDir tmp;
  const auto expectError = [&](const std::string& name, const std::string& text, const char* says) {
    const std::string path = tmp.filePath(QString::fromStdString(name)).toStdString();
    if (!text.empty()) duo::writeFileAtomic(path, text);
    try {
      duo::loadWorkspace(path);
      QFAIL(("no error for " + name).c_str());
    } catch (const duo::Error& e) {
      const QString m = e.what();
      QVERIFY2(m.contains(QString::fromStdString(name)) && m.contains(says), e.what());
    }
  };
  expectError("missing.json", "", "missing.json");
  expectError("text.json", "not json", "not JSON");
  expectError("other.json", R"({"schema": "duoscope.sparsity/1"})", "not a DuoScope workspace");
  expectError("number-schema.json", R"({"schema": 7, "runs": []})", "not a DuoScope workspace");
  expectError("array.json", "[1, 2]", "not a DuoScope workspace");
  expectError("no-runs.json", R"({"schema": "duoscope.workspace/2", "request": {}})", "'runs'");
  expectError("bad-request.json", R"({"schema": "duoscope.workspace/2", "request": {"model": 3}, "runs": []})",
              "model");
  expectError("bad-runs-dir.json",
              R"({"schema": "duoscope.workspace/2", "request": )" + duo::requestToJson(duo::PruneRequest{}).dump() +
                  R"(, "runs": [], "runs_dir": 5})",
              "runs_dir");
  expectError("bad-values.json",
              R"({"schema": "duoscope.workspace/2", "request": )" + duo::requestToJson(duo::PruneRequest{}).dump() +
                  R"(, "runs": [], "values": "int4"})",
              "int4");
  expectError("int8-inputs-on-f32.json",
              R"({"schema": "duoscope.workspace/2", "request": )" + duo::requestToJson(duo::PruneRequest{}).dump() +
                  R"(, "runs": [], "values": "f32", "int8_inputs": true})",
              "'int8_inputs' needs 'values' int8");
  expectError("bad-also-eval.json",
              R"({"schema": "duoscope.workspace/2", "request": )" + duo::requestToJson(duo::PruneRequest{}).dump() +
                  R"(, "runs": [], "also_eval": "mix:eval"})",
              "also_eval");
}

// A workspace of the older window (duoscope.workspace/1, its runs as duoscope.ui-run/1) loads
// through core's conversion: the run becomes a run record with its metrics and times.
void TestRunRecords::olderWorkspaceAndRunLoad() {
  QTemporaryDir tmp;
  const duo::PruneResult r = fakeResult(4.25, 0.6);
  nlohmann::json records = nlohmann::json::array();
  for (const duo::ProjRecord& p : r.records)
    records.push_back({{"layer", p.layer}, {"proj", duo::projName(p.proj)}, {"weight_sparsity", p.weightSparsity},
                       {"act_sparsity", p.actSparsity}, {"rel_error", p.relError},
                       {"rel_error_mask_only", p.relErrorMaskOnly}, {"seconds", p.seconds}});
  const nlohmann::json old = {
      {"schema", "duoscope.ui-run/1"}, {"id", "run-20250301-123005-duogpt"}, {"when", "2025-03-01T12:30:05Z"},
      {"measured_speedup", 1.7}, {"request", duo::requestToJson(r.request)}, {"sparsity", r.sparsity.toJson()},
      {"records", records},
      {"eval", {{"done", true}, {"perplexity", 4.25}, {"dense_perplexity", 3.5}, {"tokens", 4096}, {"windows", 16},
                {"seqlen", 256}, {"accuracy", -1}, {"accuracy_norm", -1}, {"dense_accuracy", -1}, {"task_items", 0}}},
      {"weight_sparsity", 0.5}, {"act_sparsity", 0.5}, {"predicted_speedup", 1.9},
      {"seconds", {{"total", 12.5}, {"forward", 1}, {"stats", 2}, {"solve", 3}, {"eval", 4}}},
      {"peak_rss_bytes", 77}, {"device", "cpu"}, {"provenance", r.provenance}};
  const nlohmann::json ws1 = {{"schema", "duoscope.workspace/1"},
                              {"current", {{"request", duo::requestToJson(r.request)}, {"sparsity", r.sparsity.toJson()}}},
                              {"runs", {old}}};
  const std::string path = tmp.filePath("old-ws.json").toStdString();
  duo::writeFileAtomic(path, ws1.dump());
  const duo::Workspace ws = duo::loadWorkspace(path);
  QVERIFY(ws.request.sparsity.table() == r.sparsity);
  QCOMPARE(ws.runs.size(), size_t(1));
  const duo::RunRecord& rec = ws.runs[0];
  QCOMPARE(rec.id, std::string("run-20250301-123005-duogpt"));
  QCOMPARE(rec.created, std::string("2025-03-01T12:30:05Z"));
  QCOMPARE(rec.method, std::string("duogpt"));
  QCOMPARE(rec.model.sha256, std::string("ab12"));
  QCOMPARE(rec.data.seed, uint64_t(3));
  QCOMPARE(rec.findMetric("perplexity", "pruned")->value, 4.25);
  QCOMPARE(rec.findMetric("perplexity", "dense")->value, 3.5);
  QCOMPARE(rec.findMetric("perplexity", "pruned")->data, std::string("kjv:eval"));
  QCOMPARE(*rec.measuredSpeedup, 1.7);
  QCOMPARE(rec.timings.at("solve"), 3.0);
  QCOMPARE(rec.peakRssBytes, 77LL);
  QCOMPARE(rec.records.size(), size_t(2));
  QCOMPARE(rec.records[1].proj, duo::Proj::Down);
  // A broken old run names its place in the file.
  nlohmann::json broken = ws1;
  broken["runs"][0].erase("records");
  duo::writeFileAtomic(path, broken.dump());
  try {
    duo::loadWorkspace(path);
    QFAIL("expected an error");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("old-ws.json: runs[0]") && QString(e.what()).contains("records"), e.what());
  }
}

void TestRunRecords::isoTimesBecomeUtc() {
  QCOMPARE(duo::isoToUtc("2025-03-01T12:30:05Z"), std::string("2025-03-01T12:30:05Z"));
  QCOMPARE(duo::isoToUtc("2025-03-01T12:30:05.123Z"), std::string("2025-03-01T12:30:05Z"));
  QCOMPARE(duo::isoToUtc("2025-03-01T00:30:05+01:00"), std::string("2025-02-28T23:30:05Z"));
  QCOMPARE(duo::isoToUtc("2025-03-01T23:30:05-02:30"), std::string("2025-03-02T02:00:05Z"));
  QVERIFY(!duo::isoToUtc("2025-03-01T12:30:05").empty());  // local time: some UTC time
  QCOMPARE(duo::isoToUtc("yesterday"), std::string());
  QCOMPARE(duo::isoToUtc("2025-13-01T12:30:05Z"), std::string());
  QCOMPARE(duo::isoToUtc("2025-03-01T12:30:05+1"), std::string());
}

QTEST_GUILESS_MAIN(TestRunRecords)
#include "test_run_records.moc"
