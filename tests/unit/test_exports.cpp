// SPDX-License-Identifier: GPL-3.0-or-later
// Exports (core/io/exports): sparsity config JSON export -> import is identical (bytes and value)
// and import refuses configs that do not fit the model, naming file and fault; the records CSV
// holds every record; failed writes (file size limit hit mid-write in a child process, a parent
// path that is a file) leave the previous file intact and no temp file behind; `duoscope-cli
// export` writes all three from a run file.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <csignal>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/exports.h"
#include "core/io/run_record.h"

namespace {
duo::ModelConfig smallModel() {
  duo::ModelConfig c;
  c.numLayers = 3;
  c.hiddenSize = 64;
  c.intermediateSize = 96;
  c.numHeads = 4;
  c.numKvHeads = 2;
  c.headDim = 16;
  c.vocabSize = 100;
  return c;
}

duo::SparsityConfig varied() {
  auto s = duo::SparsityConfig::uniform(3, 0.5, 0.4);
  s.setWeight(1, duo::Proj::Down, 0.65);
  s.setWeight(2, duo::Proj::Q, 0.3125);
  s.setSiteAct(2, duo::Site::GateUp, 0.55);
  s.actRule = duo::ActRule::Threshold;
  s.nm = duo::parseNm("2:4");
  return s;
}

duo::RunRecord runWith(const duo::SparsityConfig& s) {
  duo::RunRecord r;
  r.id = "20260101-000000-000-duogpt";
  r.method = "duogpt";
  r.sparsity = s;
  for (int l = 0; l < s.numLayers(); ++l)
    for (int p = 0; p < duo::kNumProj; ++p)
      r.records.push_back({l, static_cast<duo::Proj>(p), s.at(l, static_cast<duo::Proj>(p)).weight, 0.4 + 0.001 * p,
                           0.01 * (l + 1) + 0.001 * p, 0.02 * (l + 1), 0.5});
  return r;
}

QStringList filesIn(const QString& dir) { return QDir(dir).entryList(QDir::Files | QDir::Hidden, QDir::Name); }
}  // namespace

class TestExports : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void configRoundTrip();
  void importRefuses_data();
  void importRefuses();
  void csvHasEveryRecord();
  void failedWriteKeepsPreviousFile();
  void parentIsAFile();
  void cliExport();
};

void TestExports::configRoundTrip() {
  QTemporaryDir dir;
  const std::string path = dir.filePath("config.json").toStdString();
  const auto s = varied();
  duo::exportConfig(path, s);
  const auto back = duo::importConfig(path, smallModel());
  QVERIFY(back == s);
  QCOMPARE(duo::configJsonText(back), duo::readFile(path));  // byte-identical on re-export
  QCOMPARE(back.at(2, duo::Proj::Q).weight, 0.3125);
  QCOMPARE(back.siteAct(2, duo::Site::GateUp), 0.55);
}

void TestExports::importRefuses_data() {
  QTest::addColumn<QString>("text");
  QTest::addColumn<int>("layers");
  QTest::addColumn<QString>("message");
  QTest::newRow("layer count") << R"({"num_layers": 4, "default": {"weight": 0.5}})" << 3 << "config is for 4 layers, the model has 3";
  QTest::newRow("value") << R"({"default": {"weight": 1.0}})" << 3 << "weight sparsity 1 is outside [0, 1)";
  QTest::newRow("nm width") << R"({"default": {"weight": 0.5}, "weight_structure": "3:7"})" << 3 << "multiples of 7";
  QTest::newRow("site") << R"({"layers": {"1": {"q_proj": {"act": 0.5}}}})" << 3 << "shares its input";
  QTest::newRow("not json") << "{" << 3 << "not valid JSON";
  QTest::newRow("unknown proj") << R"({"layers": {"0": {"x_proj": {"weight": 0.5}}}})" << 3 << "unknown projection 'x_proj'";
}

void TestExports::importRefuses() {
  QFETCH(QString, text);
  QFETCH(int, layers);
  QFETCH(QString, message);
  QTemporaryDir dir;
  const std::string path = dir.filePath("bad.json").toStdString();
  duo::writeFileAtomic(path, text.toStdString());
  auto model = smallModel();
  model.numLayers = layers;
  try {
    duo::importConfig(path, model);
    QFAIL("expected duo::Error");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains(QString::fromStdString(path)) && QString(e.what()).contains(message), e.what());
  }
}

void TestExports::csvHasEveryRecord() {
  const auto run = runWith(varied());
  const QString csv = QString::fromStdString(duo::recordsCsv(run));
  const QStringList lines = csv.split('\n', Qt::SkipEmptyParts);
  QCOMPARE(lines.size(), 1 + 3 * duo::kNumProj);
  QCOMPARE(lines[0], QString("layer,proj,target_weight,target_act,weight_sparsity,act_sparsity,rel_error,rel_error_mask_only,seconds"));
  for (int i = 0; i < static_cast<int>(run.records.size()); ++i) {
    const QStringList f = lines[i + 1].split(',');
    const auto& r = run.records[static_cast<size_t>(i)];
    QCOMPARE(f.size(), 9);
    QCOMPARE(f[0].toInt(), r.layer);
    QCOMPARE(f[1], QString(duo::projName(r.proj)));
    QCOMPARE(f[2].toDouble(), run.sparsity.at(r.layer, r.proj).weight);
    QVERIFY(std::abs(f[6].toDouble() - r.relError) < 1e-12);
  }
}

void TestExports::failedWriteKeepsPreviousFile() {
  // A full disk, simulated: the child process may write at most 4 KiB per file (RLIMIT_FSIZE;
  // SIGXFSZ ignored so write() fails with EFBIG), then exports a CSV far larger than that.
  QTemporaryDir dir;
  const std::string path = dir.filePath("records.csv").toStdString();
  const std::string previous = "previous contents\n";
  duo::writeFileAtomic(path, previous);
  auto run = runWith(duo::SparsityConfig::uniform(3, 0.5, 0.5));
  while (duo::recordsCsv(run).size() < 64 * 1024) run.records.insert(run.records.end(), run.records.begin(), run.records.end());
  const pid_t pid = fork();
  QVERIFY(pid >= 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &lim);
    int code = 3;
    try {
      duo::exportRecordsCsv(path, run);
      code = 1;  // the write should not have succeeded
    } catch (const duo::Error&) {
      code = 0;
    } catch (...) {
      code = 2;
    }
    _exit(code);
  }
  int status = 0;
  QCOMPARE(waitpid(pid, &status, 0), pid);
  QVERIFY(WIFEXITED(status));
  QCOMPARE(WEXITSTATUS(status), 0);  // the child saw duo::Error
  QCOMPARE(duo::readFile(path), previous);
  QCOMPARE(filesIn(dir.path()), QStringList{"records.csv"});  // no temp file left
  // Without the limit the same export replaces the file.
  duo::exportRecordsCsv(path, run);
  QCOMPARE(duo::readFile(path), duo::recordsCsv(run));
  QCOMPARE(filesIn(dir.path()), QStringList{"records.csv"});
}

void TestExports::parentIsAFile() {
  QTemporaryDir dir;
  const std::string file = dir.filePath("plain").toStdString();
  duo::writeFileAtomic(file, "x");
  try {
    duo::exportConfig(file + "/config.json", varied());
    QFAIL("expected duo::Error");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains(QString::fromStdString(file + "/config.json")), e.what());
  }
  QCOMPARE(duo::readFile(file), std::string("x"));
  QCOMPARE(filesIn(dir.path()), QStringList{"plain"});
}

void TestExports::cliExport() {
  QTemporaryDir dir;
  auto run = runWith(varied());
  run.model.path = "tiny";
  run.data.corpus = "kjv:calib";
  run.options = {{"damp", 0.01}, {"block_size", 128}, {"alpha", 0.5}, {"score", "full"}};
  run.created = "2026-01-01T00:00:00Z";
  const QString from = dir.filePath("run.json");
  duo::writeFileAtomic(from.toStdString(), run.toJson().dump(1));
  const QString cfg = dir.filePath("c.json"), yaml = dir.filePath("r.yaml"), csv = dir.filePath("r.csv");
  QProcess p;
  p.start(qEnvironmentVariable("DUO_CLI"), {"export", "--from", from, "--config", cfg, "--recipe", yaml, "--csv", csv, "--json"});
  QVERIFY(p.waitForFinished(60000));
  QCOMPARE(p.exitCode(), 0);
  const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
  QCOMPARE(j["run"].get<std::string>(), run.id);
  QVERIFY(duo::importConfig(cfg.toStdString(), smallModel()) == run.sparsity);
  QCOMPARE(duo::readFile(csv.toStdString()), duo::recordsCsv(run));
  QVERIFY(QString::fromStdString(duo::readFile(yaml.toStdString())).contains("duoscope_duogpt:"));  // DuoGPT's own options beside SparseGPTModifier
  // Nothing to write: a clear error.
  p.start(qEnvironmentVariable("DUO_CLI"), {"export", "--from", from});
  QVERIFY(p.waitForFinished(60000));
  QCOMPARE(p.exitCode(), 1);
  QVERIFY(p.readAllStandardError().contains("nothing to write"));
}

QTEST_GUILESS_MAIN(TestExports)
#include "test_exports.moc"
