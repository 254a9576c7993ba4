// SPDX-License-Identifier: GPL-3.0-or-later
// `duoscope-cli info` validates what it reads as `eval` does: a config.json that disagrees with the
// tensor shapes, a missing tensor and a tokenizer.json of the wrong JSON shape are refused by both
// with the same message naming the file and the fault; a good model passes.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_run.h"

namespace fs = std::filesystem;

namespace {

std::string tinyDir() { return std::string(std::getenv("DUO_RESOURCES_DIR")) + "/models/duo-tiny-kjv"; }

// stderr as text, trimmed: the CLI's message, compared between two verbs.
QString errOf(const duo::test::CliRun& r) { return QString::fromUtf8(r.err).trimmed(); }

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
  const auto info = duo::test::runCli({"info", "--model", model, "--json"});
  const auto eval = duo::test::runCli({"eval", "--model", model, "--max-windows", "1", "--seqlen", "16"});
  QCOMPARE(info.code, 1);
  QCOMPARE(eval.code, 1);
  QVERIFY2(errOf(info).contains(expect), qPrintable(errOf(info)));
  QVERIFY2(errOf(info).contains(model), qPrintable(errOf(info)));  // names the file
  QCOMPARE(errOf(info), errOf(eval));                              // exactly as eval says it
}

void TestCliInfo::goodModelPasses() {
  const auto r = duo::test::runCli({"info", "--model", QString::fromStdString(tinyDir()), "--json"});
  QVERIFY2(r.code == 0, r.err.constData());
}

QTEST_GUILESS_MAIN(TestCliInfo)
#include "test_cli_info.moc"
