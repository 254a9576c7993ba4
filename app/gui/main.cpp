// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope: the DuoScope window. Thin: parses flags, opens the model, shows ui::MainWindow.
//   duoscope [--model PATH|tiny|smollm2] [--plot error|heatmap|sparsity|runs|sensitivity]
//            [--panel model|data|method] [--timing PROFILE.json] [--size WxH] [--calibrate]
//            [--screenshot FILE.png]
// Without --model it opens the bundled tiny model when that exists.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTabWidget>
#include <QTimer>
#include <iostream>

#include "core/common/device.h"
#include "core/common/paths.h"
#include "core/common/version.h"
#include "core/engine/timing_profile.h"
#include "ui/job_controller.h"
#include "ui/main_window.h"
#include "ui/panels/model_panel.h"
#include "ui/run_controller.h"
#include "ui/timing_controller.h"

int main(int argc, char** argv) {
  duo::tuneProcess(argc, argv);
  QApplication app(argc, argv);
  duo::initComputeThreads();  // Debian's LibTorch otherwise starts with one intra-op thread
  QApplication::setOrganizationName("DuoScope");
  QApplication::setApplicationName("DuoScope");
  QApplication::setApplicationVersion(duo::kVersion);

  QCommandLineParser cli;
  cli.setApplicationDescription("DuoScope: dual-sparsity (weights + activations) pruning workbench");
  cli.addHelpOption();
  cli.addVersionOption();
  QCommandLineOption modelOpt("model", "Model folder, GGUF file, or alias (tiny, smollm2) to open.", "PATH");
  QCommandLineOption shotOpt("screenshot", "Render the window to FILE (PNG) once the model is open, then quit.",
                             "FILE");
  QCommandLineOption plotOpt("plot", "Plot tab to show: error, heatmap, sparsity, runs or sensitivity.", "NAME");
  cli.addOption(modelOpt);
  cli.addOption(shotOpt);
  QCommandLineOption panelOpt("panel", "Setup tab to show: model, data or method.", "NAME");
  cli.addOption(plotOpt);
  cli.addOption(panelOpt);
  QCommandLineOption timingOpt("timing",
                               "Timing profile (duoscope-cli bench calibrate) for the speed predictions instead of "
                               "the bytes model.",
                               "FILE");
  cli.addOption(timingOpt);
  QCommandLineOption sizeOpt("size", "Window size, e.g. 1000x700 (default: the last session's).", "WxH");
  cli.addOption(sizeOpt);
  QCommandLineOption calibrateOpt("calibrate",
                                  "Start a calibration with the window's settings once the model is open (with "
                                  "--screenshot: the picture is taken when the run has ended).");
  cli.addOption(calibrateOpt);
  cli.process(app);

  // The model to open at start-up: --model, else the bundled tiny model when it is there.
  QString model;
  try {
    if (cli.isSet(modelOpt)) {
      model = QString::fromStdString(duo::resolveModelPath(cli.value(modelOpt).toStdString()));
    } else {
      const std::string tiny = duo::resolveModelPath("tiny");
      if (QFileInfo::exists(QString::fromStdString(tiny))) model = QString::fromStdString(tiny);
    }
  } catch (const std::exception& e) {
    if (cli.isSet(modelOpt)) std::cerr << "duoscope: " << e.what() << std::endl;
    // Without --model a missing bundled model just means an empty window.
  }

  duo::ui::MainWindow window;
  if (cli.isSet(plotOpt)) {
    const QStringList tabs = {"error", "heatmap", "sparsity", "runs", "sensitivity"};
    const int tab = tabs.indexOf(cli.value(plotOpt));
    if (tab < 0) {
      std::cerr << "duoscope: --plot expects one of error, heatmap, sparsity, runs, sensitivity" << std::endl;
      return 2;
    }
    window.plotTabs()->setCurrentIndex(tab);
  }
  if (cli.isSet(panelOpt)) {
    const int tab = QStringList{"model", "data", "method"}.indexOf(cli.value(panelOpt));
    if (tab < 0) {
      std::cerr << "duoscope: --panel expects one of model, data, method" << std::endl;
      return 2;
    }
    window.setupTabs()->setCurrentIndex(tab);
  }
  if (cli.isSet(timingOpt)) {
    const QString timing = cli.value(timingOpt);
    try {
      (void)duo::perf::loadTimingProfile(timing.toStdString());  // a bad file is a start-up error, not a dialog
    } catch (const std::exception& e) {
      std::cerr << "duoscope: " << e.what() << std::endl;
      return 2;
    }
    window.timingController()->load(timing);
  }
  if (cli.isSet(sizeOpt)) {
    const QStringList wh = cli.value(sizeOpt).split('x');
    bool okW = false, okH = false;
    const int w = wh.size() == 2 ? wh[0].toInt(&okW) : 0, h = wh.size() == 2 ? wh[1].toInt(&okH) : 0;
    if (!okW || !okH || w < 200 || h < 200) {
      std::cerr << "duoscope: --size expects WIDTHxHEIGHT, each at least 200, e.g. 1000x700" << std::endl;
      return 2;
    }
    window.resize(w, h);
  }
  window.show();
  const bool calibrate = cli.isSet(calibrateOpt) && !model.isEmpty();
  if (calibrate)
    QObject::connect(window.modelPanel(), &duo::ui::ModelPanel::modelOpened, &window, [&window] {
      QTimer::singleShot(0, &window, [&window] { window.runController()->calibrate(); });
    });

  if (cli.isSet(shotOpt)) {
    const QString shot = cli.value(shotOpt);
    auto saveAndQuit = [&window, shot] {
      QTimer::singleShot(300, &window, [&window, shot] {
        try {
          window.saveScreenshot(shot);
          std::cout << "duoscope: wrote " << shot.toStdString() << std::endl;
          QApplication::exit(0);
        } catch (const std::exception& e) {
          std::cerr << "duoscope: " << e.what() << std::endl;
          QApplication::exit(1);
        }
      });
    };
    if (model.isEmpty()) {
      saveAndQuit();
    } else if (calibrate) {
      QObject::connect(window.job(), &duo::ui::JobController::cancelled, &window, saveAndQuit);
      QObject::connect(window.runController(), &duo::ui::RunController::runStored, &window, saveAndQuit);
      QObject::connect(window.job(), &duo::ui::JobController::failed, &window, saveAndQuit);
      QObject::connect(window.modelPanel(), &duo::ui::ModelPanel::openFailed, &window, saveAndQuit);
    } else {
      QObject::connect(window.modelPanel(), &duo::ui::ModelPanel::modelOpened, &window, saveAndQuit);
      QObject::connect(window.modelPanel(), &duo::ui::ModelPanel::openFailed, &window, saveAndQuit);
    }
  }
  if (!model.isEmpty()) window.modelPanel()->openModel(model);
  return app.exec();
}
