// SPDX-License-Identifier: GPL-3.0-or-later
// `duoscope-cli info` validates what it reads as `eval` does: a config.json that disagrees with the
// tensor shapes, a missing tensor and a tokenizer.json of the wrong JSON shape are refused by both
// with the same message naming the file and the fault; a good model passes.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

std::string tinyDir() { return std::string(std::getenv("DUO_RESOURCES_DIR")) + "/models/duo-tiny-kjv"; }

struct Run {
  int code = -1;
  QString err;
};

Run runCli(const QStringList& args) {
  QProcess p;
  p.start(QString::fromLocal8Bit(std::getenv("DUO_CLI")), args);
  Run r;
  if (p.waitForFinished(300000)) r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  r.err = QString::fromUtf8(p.readAllStandardError()).trimmed();
  return r;
}

// A copy of the bundled model with `edit` applied to its config.json.
QString copyWith(const QTemporaryDir& tmp, const QString& name, const std::function<void(nlohmann::json&)>& edit) {
  const fs::path dir = tmp.filePath(name).toStdString();
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(tinyDir())) fs::copy(e.path(), dir / e.path().filename());
  std::ifstream in(dir / "config.json");
  nlohmann::json cfg = nlohmann::json::parse(in);
  in.close();
  edit(cfg);
  std::ofstream(dir / "config.json") << cfg.dump(2);
  return QString::fromStdString(dir.string());
}

}  // namespace

class TestCliInfo : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void refusesWhatEvalRefuses_data();
  void refusesWhatEvalRefuses();
  void goodModelPasses();

 private:
  QTemporaryDir m_tmp;
};

void TestCliInfo::refusesWhatEvalRefuses_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("expect");
  QTest::newRow("ffn disagrees with the tensors")
      << copyWith(m_tmp, "ffn", [](nlohmann::json& c) { c["intermediate_size"] = 512; })
      << "tensor 'model.layers.0.mlp.gate_proj.weight': expected [512, 192], got [480, 192]";
  QTest::newRow("a layer's tensors missing")
      << copyWith(m_tmp, "layers", [](nlohmann::json& c) { c["num_hidden_layers"] = 5; })
      << "missing tensor 'model.layers.4.";
  const QString tok = copyWith(m_tmp, "tokenizer", [](nlohmann::json&) {});
  std::ofstream((tok + "/tokenizer.json").toStdString()) << "[1, 2, 3]";
  QTest::newRow("tokenizer.json is an array") << tok << "valid JSON but not a tokenizer: the top level is array";
}

void TestCliInfo::refusesWhatEvalRefuses() {
  QFETCH(QString, model);
  QFETCH(QString, expect);
  const Run info = runCli({"info", "--model", model, "--json"});
  const Run eval = runCli({"eval", "--model", model, "--max-windows", "1", "--seqlen", "16"});
  QCOMPARE(info.code, 1);
  QCOMPARE(eval.code, 1);
  QVERIFY2(info.err.contains(expect), qPrintable(info.err));
  QVERIFY2(info.err.contains(model), qPrintable(info.err));  // names the file
  QCOMPARE(info.err, eval.err);                              // exactly as eval says it
}

void TestCliInfo::goodModelPasses() {
  const Run r = runCli({"info", "--model", QString::fromStdString(tinyDir()), "--json"});
  QVERIFY2(r.code == 0, qPrintable(r.err));
}

QTEST_GUILESS_MAIN(TestCliInfo)
#include "test_cli_info.moc"
