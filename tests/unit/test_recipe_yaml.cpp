// SPDX-License-Identifier: GPL-3.0-or-later
// The recipe YAML (core/io/recipe_yaml), parsed back with yaml-cpp (Debian libyaml-cpp-dev) the
// way llm-compressor's Recipe.from_dict walks it (<stage>_stage -> <group>_modifiers -> modifier):
// every module's weight sparsity, found by matching the targets against the HF module names, the
// mask structure, ignore and the activation block read back equal to the run's sparsity config,
// for uniform, per-layer and per-projection configs and every method. Modifiers carry only the
// fields llm-compressor declares. (tests/reference/check_exports.py runs llm-compressor itself.)
#include <QtTest>
#include <map>
#include <regex>
#include <set>

#include "core/io/recipe_yaml.h"
#include "core/model/io/tensor_names.h"

#ifdef DUO_HAVE_YAML_CPP
#include <yaml-cpp/yaml.h>
#endif

namespace {
duo::RunRecord runOf(const std::string& method, const duo::SparsityConfig& s) {
  duo::RunRecord r;
  r.id = "20260101-000000-000-" + method;
  r.method = method;
  r.model.path = "/models/it's here";  // a quote inside a single-quoted scalar
  r.data.corpus = "kjv:calib";
  r.data.nsamples = 64;
  r.data.seqlen = 128;
  r.data.seed = 5;
  r.options = {{"damp", 0.01}, {"block_size", 128}, {"alpha", 0.5}, {"score", "full"}, {"act_rule", "topk"}};
  r.sparsity = s;
  return r;
}

duo::SparsityConfig perLayer() {
  auto s = duo::SparsityConfig::uniform(4, 0.5, 0.5);
  for (int p = 0; p < duo::kNumProj; ++p) s.setWeight(3, static_cast<duo::Proj>(p), 0.625);
  s.setSiteAct(1, duo::Site::Down, 0.3);
  return s;
}

duo::SparsityConfig perProjection() {
  auto s = duo::SparsityConfig::uniform(4, 0.5, 0.5);
  s.setWeight(0, duo::Proj::Down, 0.7);
  s.setWeight(2, duo::Proj::Down, 0.1 + 0.2);  // 0.30000000000000004 must survive the text
  s.setWeight(1, duo::Proj::K, 0.0);
  s.setWeight(1, duo::Proj::V, 0.0);
  for (int l = 0; l < 4; ++l) s.setWeight(l, duo::Proj::O, 0.0);  // o_proj never pruned
  s.nm = duo::parseNm("2:4");
  s.actRule = duo::ActRule::Threshold;
  return s;
}
}  // namespace

class TestRecipeYaml : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void parsesBack_data();
  void parsesBack();
  void modifierNames();
};

void TestRecipeYaml::initTestCase() {
#ifndef DUO_HAVE_YAML_CPP
  QSKIP("yaml-cpp not found at configure time (Debian libyaml-cpp-dev)");
#endif
}

void TestRecipeYaml::parsesBack_data() {
  QTest::addColumn<QString>("method");
  QTest::addColumn<int>("config");  // 0 uniform, 1 per layer, 2 per projection
  QTest::addColumn<int>("groups");  // modifier groups
  for (const char* m : {"duogpt", "sparsegpt", "wanda", "magnitude"}) {
    QTest::newRow((std::string(m) + " uniform").c_str()) << QString(m) << 0 << 1;
    // Magnitude has no per-layer list: layers 0-2 (0.5) and layer 3 (0.625) are two groups.
    QTest::newRow((std::string(m) + " per layer").c_str()) << QString(m) << 1 << (std::string(m) == "magnitude" ? 2 : 1);
  }
  // Groups with equal vectors: {q, gate, up}, {k, v}, {down}; o is never pruned.
  QTest::newRow("duogpt per projection") << "duogpt" << 2 << 3;
  QTest::newRow("sparsegpt-sparse-in per projection") << "sparsegpt-sparse-in" << 2 << 3;
  // Magnitude: {q, gate, up} 0.5 everywhere; {k, v} 0.5 in layers 0, 2, 3; down 0.7 / 0.5 / 0.3.
  QTest::newRow("magnitude per projection") << "magnitude" << 2 << 5;
  QTest::newRow("teal") << "teal" << 1 << 0;
  QTest::newRow("dense") << "dense" << 0 << 0;
}

void TestRecipeYaml::parsesBack() {
#ifdef DUO_HAVE_YAML_CPP
  QFETCH(QString, method);
  QFETCH(int, config);
  QFETCH(int, groups);
  const duo::SparsityConfig s =
      config == 0 ? duo::SparsityConfig::uniform(4, 0.5, 0.5) : config == 1 ? perLayer() : perProjection();
  const auto run = runOf(method.toStdString(), s);
  const std::string text = duo::recipeYaml(run);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    QFAIL(qPrintable(QString("yaml-cpp: %1\n%2").arg(e.what(), QString::fromStdString(text))));
  }
  QVERIFY(root.IsMap());
  const bool magnitude = run.method == "magnitude";
  const std::set<std::string> fields =
      magnitude ? std::set<std::string>{"init_sparsity", "final_sparsity", "mask_structure", "targets"}
      : run.method == "wanda"
          ? std::set<std::string>{"sparsity", "mask_structure", "targets", "ignore"}
          : std::set<std::string>{"sparsity", "mask_structure", "targets", "ignore", "dampening_frac", "block_size"};

  // Weight sparsity per (layer, projection) as the modifiers' targets say; absent = 0.
  std::map<std::pair<int, int>, double> weight;
  int groupCount = 0;
  auto endsWith = [](const std::string& a, const std::string& b) {
    return a.size() >= b.size() && a.compare(a.size() - b.size(), b.size(), b) == 0;
  };
  for (const auto& stage : root) {
    if (!endsWith(stage.first.as<std::string>(), "_stage")) continue;
    for (const auto& group : stage.second) {
      if (!endsWith(group.first.as<std::string>(), "_modifiers")) continue;
      ++groupCount;
      const YAML::Node mods = group.second;
      QCOMPARE(static_cast<int>(mods.size()), 1);
      QCOMPARE(mods.begin()->first.as<std::string>(), duo::recipeModifierName(run.method));
      const YAML::Node mod = mods.begin()->second;
      for (const auto& f : mod) QVERIFY2(fields.count(f.first.as<std::string>()), f.first.as<std::string>().c_str());
      QCOMPARE(mod["mask_structure"].as<std::string>(),
               magnitude ? s.nm.str() : s.nm.structured() ? std::string("2:4") : std::string("0:0"));
      if (!magnitude) {
        const auto ignore = mod["ignore"].as<std::vector<std::string>>();
        QVERIFY(ignore == (std::vector<std::string>{"re:.*lm_head", "re:.*embed_tokens"}));
      }
      if (fields.count("dampening_frac")) QCOMPARE(mod["dampening_frac"].as<double>(), 0.01);
      std::vector<double> perLayerValues;
      if (magnitude) {
        QCOMPARE(mod["init_sparsity"].as<double>(), mod["final_sparsity"].as<double>());
        perLayerValues.assign(4, mod["final_sparsity"].as<double>());
      } else if (mod["sparsity"].IsSequence()) {
        perLayerValues = mod["sparsity"].as<std::vector<double>>();
      } else {
        perLayerValues.assign(4, mod["sparsity"].as<double>());
      }
      QCOMPARE(static_cast<int>(perLayerValues.size()), 4);
      for (const auto& target : mod["targets"].as<std::vector<std::string>>()) {
        QVERIFY2(target.rfind("re:", 0) == 0, target.c_str());
        const std::regex re(target.substr(3));
        int matched = 0;
        for (int l = 0; l < 4; ++l)
          for (int p = 0; p < duo::kNumProj; ++p) {
            std::string module = duo::tensorName(duo::NameFormat::Hf, {duo::TensorKind::Proj, l, static_cast<duo::Proj>(p)});
            module.resize(module.size() - 7);  // drop ".weight"
            if (!std::regex_match(module, re)) continue;
            ++matched;
            QVERIFY2(!weight.count({l, p}), "a module is targeted by one modifier only");
            weight[{l, p}] = perLayerValues[static_cast<size_t>(l)];
          }
        QVERIFY2(matched > 0, target.c_str());
      }
    }
  }
  QCOMPARE(groupCount, groups);
  const bool prunesWeights = run.method != "teal" && run.method != "dense";
  for (int l = 0; l < 4; ++l)
    for (int p = 0; p < duo::kNumProj; ++p) {
      const double want = prunesWeights ? s.at(l, static_cast<duo::Proj>(p)).weight : 0.0;
      const double got = weight.count({l, p}) ? weight[{l, p}] : 0.0;
      QCOMPARE(got, want);  // exact: numbers are written in shortest round-trip form
    }
  if (run.method == "duogpt") {
    QCOMPARE(root["duoscope_duogpt"]["alpha"].as<double>(), 0.5);
    QCOMPARE(root["duoscope_duogpt"]["score"].as<std::string>(), std::string("full"));
  }

  // Activation block.
  const YAML::Node act = root["duoscope_activation_sparsity"];
  QCOMPARE(act["rule"].as<std::string>(), std::string(duo::actRuleName(s.actRule)));
  const auto sites = act["sites"].as<std::vector<std::string>>();
  QCOMPARE(static_cast<int>(sites.size()), duo::kNumSites);
  for (int l = 0; l < 4; ++l)
    for (int si = 0; si < duo::kNumSites; ++si) {
      const double got = act["sparsity"] ? act["sparsity"].as<double>()
                                         : act["layers"][l][sites[static_cast<size_t>(si)]].as<double>();
      QCOMPARE(got, s.siteAct(l, static_cast<duo::Site>(si)));
    }

  const YAML::Node r = root["duoscope_run"];
  QCOMPARE(r["method"].as<std::string>(), run.method);
  QCOMPARE(r["model"].as<std::string>(), run.model.path);
  QCOMPARE(r["num_layers"].as<int>(), 4);
  QCOMPARE(r["calibration"]["nsamples"].as<int>(), 64);
  QCOMPARE(r["calibration"]["seed"].as<int>(), 5);
  QCOMPARE(r["options"]["score"].as<std::string>(), std::string("full"));
#endif
}

void TestRecipeYaml::modifierNames() {
  QCOMPARE(duo::recipeModifierName("sparsegpt"), std::string("SparseGPTModifier"));
  QCOMPARE(duo::recipeModifierName("wanda"), std::string("WandaPruningModifier"));
  QCOMPARE(duo::recipeModifierName("duogpt"), std::string("SparseGPTModifier"));
  QCOMPARE(duo::recipeModifierName("magnitude"), std::string("MagnitudePruningModifier"));
  QCOMPARE(duo::recipeLayerTarget({0, 3}, duo::Proj::Q), std::string("re:.*layers\\.(0|3)\\.self_attn\\.q_proj$"));
  QCOMPARE(duo::recipeLayerTarget({1}, duo::Proj::Down), std::string("re:.*layers\\.(1)\\.mlp\\.down_proj$"));
  QCOMPARE(duo::recipeModifierName("teal"), std::string());
  QCOMPARE(duo::recipeTarget(duo::Proj::Down), std::string("re:.*\\.down_proj$"));
}

QTEST_GUILESS_MAIN(TestRecipeYaml)
#include "test_recipe_yaml.moc"
