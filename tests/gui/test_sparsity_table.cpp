// SPDX-License-Identifier: GPL-3.0-or-later
// The sparsity table: editing through the real cell editors, input-site semantics for activation
// sparsity, multi-select + set, presets, N:M and rule, undo/redo, exact totals, and config files
// that round-trip through the core's JSON (duoscope.sparsity/1). The model shape is SmolLM2-135M's
// (30 layers, d 576, 9 / 3 heads, ffn 1536), read from the cached GGUF when present.
#include <QAbstractItemDelegate>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTreeView>
#include <QtTest>

#include "kernels/matvec.h"

#include "core/common/paths.h"
#include "core/engine/bytes_model.h"
#include "core/model/io/model_info.h"
#include "gui_test_util.h"
#include "ui/core_types.h"
#include "ui/panels/sparsity_table.h"

using duo::Proj;
using duo::ProjSparsity;
using duo::SparsityConfig;
using duo::ui::SparsityModel;
using duo::ui::SparsityTable;
using duo::test::editCell;

namespace {

// SmolLM2-135M's shape: from the cached file's header when it is there, else its published values.
duo::ModelConfig smolLm2Config() {
  try {
    return duo::inspectModel(duo::resolveModelPath("smollm2")).config;
  } catch (const std::exception&) {
    duo::ModelConfig c;
    c.numLayers = 30;
    c.hiddenSize = 576;
    c.numHeads = 9;
    c.numKvHeads = 3;
    c.headDim = 64;
    c.intermediateSize = 1536;
    c.vocabSize = 49152;
    return c;
  }
}

}  // namespace

class TestSparsityTable : public QObject {
  Q_OBJECT
  duo::ModelConfig m_cfg;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    m_cfg = smolLm2Config();
    QCOMPARE(m_cfg.numLayers, 30);
  }

  void rowsAndExactTotals() {
    SparsityTable t;
    t.setModelConfig(m_cfg);
    SparsityModel* m = t.model();
    QCOMPARE(m->rowCount(), 30);
    QCOMPARE(m->rowCount(m->index(0, 0)), 7);
    QCOMPARE(m->index(2, 0, m->index(4, 0)).data().toString(), QString("v_proj"));
    // Per layer: q 576x576, k/v 192x576, o 576x576, gate/up/down 1536x576 = 3,538,944 weights.
    QCOMPARE(m->prunableParams(), 30.0 * 3538944.0);
    QCOMPARE(m->keptParams(), 0.5 * 30.0 * 3538944.0);  // default preset W50/A50
    QCOMPARE(m->idealTrafficFraction(), 0.25);
  }

  void totalsFollowTheBytesModel() {
    SparsityTable t;
    t.setModelConfig(m_cfg);
    auto* totals = t.findChild<QLabel*>("sparsityTotals");
    // The same prediction computed directly from core/engine for SmolLM2's shape.
    auto predicted = [](double w, double a) {
      duo::perf::DecodeInput in;
      in.shape = duo::perf::smolLm2Shape();
      duo::perf::LayerSparsity layer{};
      layer.fill({w, a});
      in.layers.assign(30, layer);
      return QString::number(duo::perf::predictDecode(in).speedup, 'f', 2) + "×";
    };
    QVERIFY2(totals->text().contains(predicted(0.5, 0.5)), qPrintable(totals->text()));
    t.findChild<QDoubleSpinBox*>("uniformWeight")->setValue(70.0);
    t.findChild<QDoubleSpinBox*>("uniformAct")->setValue(40.0);
    t.applyUniform();  // live: the label follows every change
    QVERIFY2(totals->text().contains(predicted(0.7, 0.4)), qPrintable(totals->text()));
    QVERIFY(totals->text().contains(duo::ui::formatCount(0.3 * 30 * 3538944.0)));
    t.model()->undoStack()->undo();
    QVERIFY2(totals->text().contains(predicted(0.5, 0.5)), qPrintable(totals->text()));
  }

  // The values choice: "int8 + int8 inputs" sets both on the model; the totals then follow the
  // bytes model with the sparse projections on act-sparse (half of each int8 matrix at A50), which
  // predicts less than int8 values on the packed kernels (a quarter plus the bitmaps).
  void valuesChoiceWithInt8Inputs() {
    SparsityTable t;
    t.setModelConfig(m_cfg);
    auto* values = t.findChild<QComboBox*>("decodeValues");
    auto* totals = t.findChild<QLabel*>("sparsityTotals");
    auto predicted = [](bool int8Inputs) {
      duo::perf::DecodeInput in;
      in.shape = duo::perf::smolLm2Shape();
      in.weightType = duo::kernels::ValueType::I8;
      in.int8Inputs = int8Inputs;
      duo::perf::LayerSparsity layer{};
      layer.fill({0.5, 0.5});
      in.layers.assign(30, layer);
      return duo::perf::predictDecode(in).speedup;
    };
    // Equal where the CPU runs the packed int8-input kernels at memory speed (AVX-512 VNNI).
    if (duo::kernels::cpu::packedInt8InputsAtSpeed())
      QCOMPARE(predicted(true), predicted(false));
    else
      QVERIFY(predicted(true) < predicted(false));
    values->setCurrentIndex(values->findText("int8"));
    QCOMPARE(t.model()->decodeValues(), duo::kernels::ValueType::I8);
    QVERIFY(!t.model()->decodeInt8Inputs());
    QVERIFY2(totals->text().contains(QString::number(predicted(false), 'f', 2) + "×"), qPrintable(totals->text()));
    values->setCurrentIndex(values->findText("int8 + int8 inputs"));
    QCOMPARE(t.model()->decodeValues(), duo::kernels::ValueType::I8);
    QVERIFY(t.model()->decodeInt8Inputs());
    QVERIFY2(totals->text().contains(QString::number(predicted(true), 'f', 2) + "×"), qPrintable(totals->text()));
    t.setDecodeValues(duo::kernels::ValueType::F32, true);  // int8 inputs only go with int8 values
    QCOMPARE(values->currentText(), QString("f32"));
    QVERIFY(!t.model()->decodeInt8Inputs());
    t.setDecodeValues(duo::kernels::ValueType::I8, true);  // as a workspace restores it
    QCOMPARE(values->currentText(), QString("int8 + int8 inputs"));
  }

  void editorSetsOneProjectionAndUndoRedo() {
    SparsityTable t;
    t.setModelConfig(m_cfg);
    SparsityModel* m = t.model();
    const SparsityConfig before = t.config();
    QSignalSpy changed(&t, &SparsityTable::configChanged);
    editCell(t.view(), m->index(0, SparsityModel::ColWeight, m->index(3, 0)), 70.0);  // layer 3 q_proj
    QCOMPARE(t.config().at(3, Proj::Q).weight, 0.7);
    QCOMPARE(t.config().at(3, Proj::K).weight, 0.5);
    QCOMPARE(t.config().at(4, Proj::Q).weight, 0.5);
    QCOMPARE(changed.count(), 1);
    QVERIFY(m->undoStack()->canUndo());
    m->undoStack()->undo();
    QVERIFY(t.config() == before);
    m->undoStack()->redo();
    QCOMPARE(t.config().at(3, Proj::Q).weight, 0.7);
  }

  void actEditSetsWholeSite_data() {
    QTest::addColumn<int>("proj");
    QTest::addColumn<QList<int>>("sameSite");
    QTest::newRow("q sets q,k,v") << int(Proj::Q) << QList<int>{0, 1, 2};
    QTest::newRow("k sets q,k,v") << int(Proj::K) << QList<int>{0, 1, 2};
    QTest::newRow("o alone") << int(Proj::O) << QList<int>{3};
    QTest::newRow("up sets gate,up") << int(Proj::Up) << QList<int>{4, 5};
    QTest::newRow("down alone") << int(Proj::Down) << QList<int>{6};
  }
  void actEditSetsWholeSite() {
    QFETCH(int, proj);
    QFETCH(QList<int>, sameSite);
    SparsityTable t;
    t.setModelConfig(m_cfg);
    SparsityModel* m = t.model();
    editCell(t.view(), m->index(proj, SparsityModel::ColAct, m->index(5, 0)), 35.0);
    for (int p = 0; p < duo::kNumProj; ++p)
      QCOMPARE(t.config().at(5, static_cast<Proj>(p)).act, sameSite.contains(p) ? 0.35 : 0.5);
    t.config().validate("test", 30);  // sites stay consistent
  }

  void layerRowSetsAllProjections() {
    SparsityTable t;
    t.setModelConfig(m_cfg);
    SparsityModel* m = t.model();
    editCell(t.view(), m->index(7, SparsityModel::ColWeight), 60.0);
    editCell(t.view(), m->index(7, SparsityModel::ColAct), 20.0);
    for (int p = 0; p < duo::kNumProj; ++p) {
      QCOMPARE(t.config().at(7, static_cast<Proj>(p)).weight, 0.6);
      QCOMPARE(t.config().at(7, static_cast<Proj>(p)).act, 0.2);
    }
    QCOMPARE(m->index(7, SparsityModel::ColWeight).data(Qt::EditRole).toDouble(), 0.6);
    QCOMPARE(m->undoStack()->count(), 2);
  }

  void multiSelectSetIsOneUndoStep() {
    SparsityTable t;
    t.setModelConfig(m_cfg);
    SparsityModel* m = t.model();
    QItemSelectionModel* sel = t.view()->selectionModel();
    const auto flags = QItemSelectionModel::Select | QItemSelectionModel::Rows;
    sel->select(m->index(1, 0), flags);
    sel->select(m->index(4, 0), flags);
    sel->select(m->index(6, 0, m->index(9, 0)), flags);  // layer 9 down_proj
    t.findChild<QComboBox*>("setColumn")->setCurrentIndex(0);  // weight
    t.findChild<QDoubleSpinBox*>("setValue")->setValue(80.0);
    const SparsityConfig before = t.config();
    t.setSelected();
    for (int p = 0; p < duo::kNumProj; ++p) {
      QCOMPARE(t.config().at(1, static_cast<Proj>(p)).weight, 0.8);
      QCOMPARE(t.config().at(4, static_cast<Proj>(p)).weight, 0.8);
      QCOMPARE(t.config().at(9, static_cast<Proj>(p)).weight, p == int(Proj::Down) ? 0.8 : 0.5);
    }
    QCOMPARE(m->undoStack()->count(), 1);
    m->undoStack()->undo();
    QVERIFY(t.config() == before);
  }

  void uniformPresetNmAndRule() {
    SparsityTable t;
    t.setModelConfig(m_cfg);
    t.findChild<QDoubleSpinBox*>("uniformWeight")->setValue(40.0);
    t.findChild<QDoubleSpinBox*>("uniformAct")->setValue(25.0);
    t.applyUniform();
    QVERIFY(t.config() == SparsityConfig::uniform(30, 0.4, 0.25));
    QCOMPARE(t.model()->keptParams(), 0.6 * 30.0 * 3538944.0);
    auto* nm = t.findChild<QComboBox*>("nmPattern");
    nm->setCurrentText("2:4");
    Q_EMIT nm->activated(nm->currentIndex());
    QCOMPARE(t.config().nm.n, 2);
    QCOMPARE(t.config().nm.m, 4);
    auto* rule = t.findChild<QComboBox*>("actRule");
    rule->setCurrentText("threshold");
    Q_EMIT rule->activated(rule->currentIndex());
    QVERIFY(t.config().actRule == duo::ActRule::Threshold);
    // Undo walks back rule, N:M, then the preset; the combo boxes follow.
    t.model()->undoStack()->undo();
    QCOMPARE(rule->currentText(), QString("topk"));
    t.model()->undoStack()->undo();
    QCOMPARE(nm->currentText(), QString("unstructured"));
    t.model()->undoStack()->undo();
    QVERIFY(t.config() == SparsityConfig::uniform(30, 0.5, 0.5));
  }

  void configFileRoundTrip() {
    QTemporaryDir tmp;
    SparsityTable a;
    a.setModelConfig(m_cfg);
    SparsityModel* m = a.model();
    editCell(a.view(), m->index(4, SparsityModel::ColWeight, m->index(12, 0)), 65.0);  // layer 12 gate
    editCell(a.view(), m->index(6, SparsityModel::ColAct, m->index(29, 0)), 10.0);     // layer 29 down
    const QString path = tmp.filePath("cfg.json");
    a.config().save(path.toStdString());

    SparsityTable b;
    b.setModelConfig(m_cfg);
    QVERIFY(!(b.config() == a.config()));
    b.loadConfigFile(path);
    QVERIFY(b.config() == a.config());
    QVERIFY(b.model()->undoStack()->canUndo());  // loading is undoable
  }

  void badConfigFileReportsAndKeepsTable_data() {
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("expect");
    QTest::newRow("wrong layer count") << QByteArray(R"({"num_layers": 12, "default": {"weight": 0.5, "act": 0.5}})")
                                       << "12";
    QTest::newRow("sparsity 1.2") << QByteArray(R"({"default": {"weight": 1.2, "act": 0.5}})") << "1.2";
    QTest::newRow("not json") << QByteArray("layer 1: 50%") << "cfg.json";
  }
  void badConfigFileReportsAndKeepsTable() {
    QFETCH(QByteArray, json);
    QFETCH(QString, expect);
    QTemporaryDir tmp;
    const QString path = tmp.filePath("cfg.json");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(json);
    f.close();
    SparsityTable t;
    t.setModelConfig(m_cfg);
    const SparsityConfig before = t.config();
    QSignalSpy failed(&t, &SparsityTable::failed);
    t.loadConfigFile(path);
    QCOMPARE(failed.count(), 1);
    const QString message = failed.first().at(1).toString();
    QVERIFY2(message.contains(expect), qPrintable(message));
    QVERIFY(t.config() == before);
    QVERIFY(!t.model()->undoStack()->canUndo());
  }
};

QTEST_MAIN(TestSparsityTable)
#include "test_sparsity_table.moc"
