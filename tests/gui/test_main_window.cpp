// SPDX-License-Identifier: GPL-3.0-or-later
// The DuoScope window's first behaviours: menus and shortcuts exist, the status bar names the
// device LibTorch uses, a bad model path shows the core's message in a dialog and leaves the
// window usable, a real model fills the summary and the layer table, and an offscreen screenshot
// renders. Runs with -platform offscreen (CTest sets QT_QPA_PLATFORM).
#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <nlohmann/json.hpp>
#include <QSpinBox>
#include <QTabWidget>
#include <QApplication>
#include <QClipboard>
#include <QFileInfo>
#include <QProcess>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QMessageBox>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTreeView>
#include <QtTest>

#include "core/common/device.h"
#include "core/common/paths.h"
#include "gui_test_util.h"
#include "ui/export_controller.h"
#include "ui/main_window.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/error_plot.h"
#include "ui/run_controller.h"
#include "ui/run_store.h"
#include "ui/sparsity_model.h"
#include "ui/workspace_controller.h"

using duo::ui::MainWindow;

namespace {

QString smolLm2Path() {
  try {
    const QString p = QString::fromStdString(duo::resolveModelPath("smollm2"));
    return QFile::exists(p) ? p : QString();
  } catch (const std::exception&) {
    return {};
  }
}

// A LLaMA-2-70B-shaped HF folder whose 138 GB model.safetensors is a sparse file: a real header
// (every tensor's name, BF16 dtype, shape and offsets) and a hole where the data would be. Opening
// it must read headers only.
bool writeSparse70B(const QString& dir, const QString& tokenizer) {
  const long long d = 8192, ffn = 28672, kv = 1024, vocab = 32000, layers = 80;
  nlohmann::ordered_json header;
  unsigned long long off = 0;
  auto add = [&](const std::string& name, std::vector<long long> shape) {
    unsigned long long n = 2;
    for (long long s : shape) n *= static_cast<unsigned long long>(s);
    header[name] = {{"dtype", "BF16"}, {"shape", shape}, {"data_offsets", {off, off + n}}};
    off += n;
  };
  add("model.embed_tokens.weight", {vocab, d});
  for (int l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {d});
    add(p + "self_attn.q_proj.weight", {d, d});
    add(p + "self_attn.k_proj.weight", {kv, d});
    add(p + "self_attn.v_proj.weight", {kv, d});
    add(p + "self_attn.o_proj.weight", {d, d});
    add(p + "mlp.gate_proj.weight", {ffn, d});
    add(p + "mlp.up_proj.weight", {ffn, d});
    add(p + "mlp.down_proj.weight", {d, ffn});
    add(p + "post_attention_layernorm.weight", {d});
  }
  add("model.norm.weight", {d});
  add("lm_head.weight", {vocab, d});
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  QFile f(dir + "/model.safetensors");
  if (!f.open(QIODevice::WriteOnly)) return false;
  const quint64 n = text.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(text.data(), static_cast<qint64>(text.size()));
  if (!f.resize(static_cast<qint64>(8 + text.size() + off))) return false;  // the hole
  f.close();
  const nlohmann::json cfg = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"},
                              {"hidden_size", d}, {"intermediate_size", ffn}, {"num_hidden_layers", layers},
                              {"num_attention_heads", 64}, {"num_key_value_heads", 8}, {"vocab_size", vocab},
                              {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}, {"max_position_embeddings", 4096},
                              {"tie_word_embeddings", false}, {"torch_dtype", "bfloat16"}};
  QFile c(dir + "/config.json");
  if (!c.open(QIODevice::WriteOnly)) return false;
  c.write(QByteArray::fromStdString(cfg.dump(2)));
  c.close();
  return QFile::copy(tokenizer, dir + "/tokenizer.json");
}

// The error dialog the window opened (non-modal to the test), or nullptr.
QMessageBox* errorDialog(MainWindow& w) { return w.findChild<QMessageBox*>("errorDialog"); }

}  // namespace

class TestMainWindow : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    duo::test::useTestSettings("test_main_window");
  }

  void menusAndShortcuts_data() {
    QTest::addColumn<QString>("action");
    QTest::addColumn<QString>("shortcut");
    QTest::newRow("open") << "actionOpen" << QKeySequence(QKeySequence::Open).toString();
    QTest::newRow("export") << "actionExport" << "Ctrl+E";
    QTest::newRow("quit") << "actionQuit" << QKeySequence(QKeySequence::Quit).toString();
    QTest::newRow("calibrate") << "actionCalibrate" << "Ctrl+R";
    QTest::newRow("cancel") << "actionCancel" << "Esc";
    QTest::newRow("about") << "actionAbout" << "";
  }
  void menusAndShortcuts() {
    QFETCH(QString, action);
    QFETCH(QString, shortcut);
    MainWindow w;
    QAction* a = w.action(action);
    QVERIFY2(a, qPrintable("missing action " + action));
    QCOMPARE(a->shortcut().toString(), shortcut);
    // With no model open only opening (and quitting, about) make sense.
    const bool needsModel = action == "actionCalibrate" || action == "actionExport" || action == "actionCancel";
    QCOMPARE(a->isEnabled(), !needsModel);
  }

  void statusBarNamesDevice() {
    MainWindow w;
    const duo::DeviceInfo dev = duo::deviceInfo();
    auto* label = w.findChild<QLabel*>("deviceLabel");
    QVERIFY(label);
    QVERIFY2(label->text().contains(QString::fromStdString(dev.description)), qPrintable(label->text()));
    QVERIFY(label->toolTip().contains(QString::fromStdString(dev.name)));
    auto* memory = w.findChild<QLabel*>("memoryLabel");
    QVERIFY(memory && memory->text().contains("MiB"));
    // The model summary names the same device.
    auto* summaryDevice = w.findChild<QLabel*>("summary_device");
    QVERIFY(summaryDevice);
    QCOMPARE(summaryDevice->text(), QString::fromStdString(dev.description));
  }

  // The Products combo says what bf16 products are on the device the run would use, and follows
  // the Device combo (cpu chosen on a CUDA machine reads the CPU's case).
  void productsFollowDevice() {
    MainWindow w;
    auto* device = w.findChild<QComboBox*>("device");
    auto* compute = w.findChild<QComboBox*>("computeDtype");
    QVERIFY(device && compute);
    auto label = [](const duo::Bf16Products& b) {
      return b.fast ? QString("bf16 (faster here)") : b.fallback ? QString("bf16 (emulated here: no gain)") : QString("bf16");
    };
    for (const char* choice : {"cpu", "cuda", ""}) {
      device->setCurrentIndex(device->findData(QString(choice)));
      const bool cuda = QString(choice) == "cuda" || (QString(choice).isEmpty() && duo::deviceInfo().cuda);
      const duo::Bf16Products b = duo::bf16Products(cuda);
      QCOMPARE(compute->itemText(compute->findData("bf16")), label(b));
      QCOMPARE(compute->itemText(compute->findData("auto")), QString("auto (%1 here)").arg(b.fast ? "bf16" : "f32"));
      QVERIFY2(compute->toolTip().contains(QString::fromStdString(b.detail)), qPrintable(compute->toolTip()));
    }
  }

  void badModelShowsErrorAndWindowStaysUsable_data() {
    QTest::addColumn<QString>("kind");
    QTest::newRow("missing file") << "missing";
    QTest::newRow("text file named .gguf") << "notgguf";
    QTest::newRow("empty folder") << "emptydir";
  }
  void badModelShowsErrorAndWindowStaysUsable() {
    QFETCH(QString, kind);
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    QString path;
    if (kind == "missing") {
      path = tmp.filePath("no-such-model.gguf");
    } else if (kind == "notgguf") {
      path = tmp.filePath("words.gguf");
      QFile f(path);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("In the beginning God created the heaven and the earth.\n");
    } else {
      path = tmp.filePath("empty-model");
      QVERIFY(QDir().mkpath(path));
    }
    MainWindow w;
    w.show();
    QSignalSpy failed(w.modelPanel(), &duo::ui::ModelPanel::openFailed);
    w.modelPanel()->openModel(path);
    QVERIFY(failed.wait(10000));
    QTRY_VERIFY(errorDialog(w) != nullptr);
    QMessageBox* box = errorDialog(w);
    // The core's message names the file.
    QVERIFY2(box->text().contains(QFileInfo(path).fileName()), qPrintable(box->text()));
    QVERIFY(!w.modelPanel()->hasModel());
    QCOMPARE(w.sparsityTable()->model()->rowCount(), 0);
    box->accept();
    QTRY_VERIFY(errorDialog(w) == nullptr);
    // Still usable: opening is possible again, and a second bad open reports again.
    QVERIFY(w.action("actionOpen")->isEnabled());
    QVERIFY(!w.action("actionCalibrate")->isEnabled());
    w.modelPanel()->openModel(path);
    QVERIFY(failed.wait(10000));
    QCOMPARE(failed.count(), 2);
    QTRY_VERIFY(errorDialog(w) != nullptr);
  }

  void opensSmolLM2() {
    const QString path = smolLm2Path();
    if (path.isEmpty()) QSKIP("SmolLM2 GGUF not in the cache (scripts/fetch-smollm2.sh puts it there)");
    MainWindow w;
    w.show();
    QSignalSpy opened(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
    w.modelPanel()->openModel(path);
    QVERIFY(opened.wait(30000));
    QVERIFY(w.modelPanel()->hasModel());
    QCOMPARE(w.modelPanel()->model().config.numLayers, 30);
    QCOMPARE(w.findChild<QLabel*>("summary_layers")->text(), QString("30"));
    QCOMPARE(w.findChild<QLabel*>("summary_heads")->text(), QString("9 / 3"));
    QCOMPARE(w.findChild<QLabel*>("summary_hidden")->text(), QString("576"));
    // One row per decoder layer, each with its 7 projections.
    auto* model = w.sparsityTable()->model();
    QCOMPARE(model->rowCount(), 30);
    for (int l = 0; l < 30; ++l) QCOMPARE(model->rowCount(model->index(l, 0)), 7);
    QVERIFY(w.action("actionCalibrate")->isEnabled());
    QVERIFY(w.action("actionExport")->isEnabled());
    QVERIFY(w.windowTitle().contains(QString::fromStdString(w.modelPanel()->model().name)));
  }

  void opens70BFromHeadersAndShowsMemoryPlan() {
    const QString tiny = duo::test::modelPath("tiny");
    QVERIFY2(!tiny.isEmpty(), "the bundled tiny model is missing (its tokenizer.json is copied)");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    QVERIFY(writeSparse70B(tmp.path(), tiny + "/tokenizer.json"));
    MainWindow w;
    w.show();
    QElapsedTimer clock;
    clock.start();
    QVERIFY(duo::test::openAndWait(w, tmp.path()));
    qInfo("opened a 70B-shaped folder (138 GB on paper) in %lld ms", static_cast<long long>(clock.elapsed()));
    QCOMPARE(w.modelPanel()->model().config.numLayers, 80);
    QCOMPARE(w.sparsityTable()->model()->rowCount(), 80);
    // The plan beside Run: 70B's largest site (FFN 28672) alone needs ~17 GB of statistics.
    auto* plan = w.findChild<QLabel*>("memoryPlan");
    QVERIFY(plan);
    QTRY_VERIFY(plan->text().startsWith("Memory: "));
    QVERIFY2(plan->text().contains("GiB"), qPrintable(plan->text()));
    QVERIFY2(plan->toolTip().contains("statistics") && plan->toolTip().contains("layer"), qPrintable(plan->toolTip()));
    const double total = plan->text().section(' ', 1, 1).toDouble();
    QVERIFY2(total > 20 && total < 60, qPrintable(plan->text()));
    // Opening the bundled model again replaces the plan with its own, far smaller, one.
    QVERIFY(duo::test::openAndWait(w, tiny));
    QTRY_VERIFY(plan->text().section(' ', 1, 1).toDouble() < 2.0);
    QVERIFY(!plan->text().contains("does not fit"));
  }

  void plotsExportAsPngAndPdf_data() {
    QTest::addColumn<int>("tab");
    QTest::addColumn<QString>("ext");
    for (int tab = 0; tab < 4; ++tab)
      for (const char* ext : {"png", "pdf"}) QTest::newRow(qPrintable(QString("tab %1 %2").arg(tab).arg(ext))) << tab << ext;
  }
  void plotsExportAsPngAndPdf() {
    QFETCH(int, tab);
    QFETCH(QString, ext);
    QTemporaryDir tmp;
    MainWindow w;
    w.plotTabs()->setCurrentIndex(tab);
    const QString path = tmp.filePath("plot." + ext);
    w.exportController()->exportPlot(path);
    QFile f(path);
    QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(path));
    const QByteArray head = f.read(8);
    if (ext == "png") {
      QVERIFY(head.startsWith("\x89PNG"));
      QCOMPARE(QImage(path).size(), QSize(1200, 700));
    } else {
      QVERIFY(head.startsWith("%PDF"));
    }
    // Only the file itself: the atomic writer leaves no temporary beside it.
    QCOMPARE(QDir(tmp.path()).entryList(QDir::Files).size(), 1);
  }

  void settingsAreRemembered() {
    {
      MainWindow w;
      w.show();
      w.findChild<QSpinBox*>("nsamples")->setValue(24);
      w.findChild<QSpinBox*>("seed")->setValue(1234);
      auto* method = w.findChild<QComboBox*>("method");
      method->setCurrentIndex(method->findText("wanda"));
      w.plotTabs()->setCurrentIndex(2);
      w.close();
    }
    MainWindow again;
    QCOMPARE(again.findChild<QSpinBox*>("nsamples")->value(), 24);
    QCOMPARE(again.findChild<QSpinBox*>("seed")->value(), 1234);
    QCOMPARE(again.findChild<QComboBox*>("method")->currentText(), QString("wanda"));
    QCOMPARE(again.plotTabs()->currentIndex(), 2);
    QVERIFY(again.currentRequest().method == duo::Method::Wanda);
    QSettings().clear();
  }

  void workspaceRestoresModelTableAndData() {
    const QString path = smolLm2Path();
    if (path.isEmpty()) QSKIP("SmolLM2 GGUF not in the cache (scripts/fetch-smollm2.sh puts it there)");
    QTemporaryDir tmp;
    const QString ws = tmp.filePath("ws.json");
    duo::SparsityConfig saved;
    {
      MainWindow w(nullptr, tmp.filePath("runs-a"));
      QSignalSpy opened(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
      w.modelPanel()->openModel(path);
      QVERIFY(opened.wait(30000));
      auto* model = w.sparsityTable()->model();
      model->setValues({model->index(4, 0), model->index(2, 0, model->index(9, 0))}, duo::ui::SparsityModel::ColWeight, 0.7);
      w.findChild<QSpinBox*>("seqlen")->setValue(128);
      saved = w.sparsityTable()->config();
      w.workspaceController()->saveAs(ws);
      QVERIFY(QFile::exists(ws));
    }
    MainWindow w(nullptr, tmp.filePath("runs-b"));
    QSignalSpy opened(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
    w.workspaceController()->open(ws);
    QVERIFY(opened.wait(30000));
    QCOMPARE(QString::fromStdString(w.modelPanel()->model().path), path);
    QVERIFY(w.sparsityTable()->config() == saved);
    QCOMPARE(w.findChild<QSpinBox*>("seqlen")->value(), 128);
    QCOMPARE(w.currentRequest().seqlen, 128);
  }

  void copyCommandLineRunsInTheCli() {
    // Run > Copy command line: the copied command (here its 2-rank form) runs the window's setup in
    // duoscope-cli, and its run record opens in the window like any other.
    QTemporaryDir tmp;
    const QString runsDir = tmp.filePath("runs");
    MainWindow w(nullptr, runsDir);
    QSignalSpy opened(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
    w.modelPanel()->openModel(QString::fromStdString(duo::resolveModelPath("tiny")));
    QVERIFY(opened.wait(30000));
    QVERIFY(w.action("actionCopyCommandLine")->isEnabled());
    w.findChild<QSpinBox*>("nsamples")->setValue(8);
    w.findChild<QSpinBox*>("seqlen")->setValue(32);
    auto* model = w.sparsityTable()->model();
    model->setValues({model->index(1, 0)}, duo::ui::SparsityModel::ColWeight, 0.7);
    const QString cfg = tmp.filePath("my run.sparsity.json");  // a space: the command must quote it
    w.exportController()->copyCommandLine(cfg);
    QVERIFY(QFile::exists(cfg));
    const QStringList lines = QGuiApplication::clipboard()->text().split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 3);
    QVERIFY2(lines[0].startsWith("duoscope-cli prune --model "), qPrintable(lines[0]));
    QVERIFY2(lines[1] == lines[0] + " --nproc 2", qPrintable(lines[1]));
    QVERIFY2(lines[2] == "torchrun --nproc-per-node 2 --no-python " + lines[0], qPrintable(lines[2]));
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PATH", QFileInfo(qEnvironmentVariable("DUO_CLI")).absolutePath() + ":" + env.value("PATH"));
    env.insert("OMP_NUM_THREADS", "1");
    p.setProcessEnvironment(env);
    p.start("/bin/sh", {"-c", lines[1] + " --json --runs-dir '" + runsDir + "'"});
    QVERIFY(p.waitForFinished(600000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
    QCOMPARE(j["world_size"].get<int>(), 2);
    QCOMPARE(j["options"]["nsamples"].get<int>(), 8);
    QCOMPARE(j["options"]["seqlen"].get<int>(), 32);
    const duo::SparsityConfig ran = duo::SparsityConfig::fromJson(j["sparsity"], 4, "run");
    QVERIFY(ran == w.sparsityTable()->config());
    MainWindow w2(nullptr, runsDir);
    const QString id = QString::fromStdString(j["run_id"].get<std::string>());
    QVERIFY2(w2.runStore()->find(id), qPrintable(id));
    w2.runController()->loadRun(id);
  }

  void screenshotRenders() {
    // Writes to $DUO_SCREENSHOT_DIR when set (docs/screenshots is refreshed that way), else a temp dir.
    QTemporaryDir tmp;
    const QString dir = duo::test::screenshotDir(tmp);
    MainWindow w;
    w.show();
    const QString path = smolLm2Path();
    if (!path.isEmpty()) {
      QSignalSpy opened(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
      w.modelPanel()->openModel(path);
      QVERIFY(opened.wait(30000));
    }
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const QString file = dir + "/main-window.png";
    w.saveScreenshot(file);
    QImage img(file);
    QVERIFY(!img.isNull());
    QCOMPARE(img.size(), w.size() * w.devicePixelRatio());
    // Not a blank image: many distinct colours.
    QSet<QRgb> colours;
    for (int y = 0; y < img.height(); y += 7)
      for (int x = 0; x < img.width(); x += 7) colours.insert(img.pixel(x, y));
    QVERIFY2(colours.size() > 20, qPrintable(QString::number(colours.size())));
  }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
