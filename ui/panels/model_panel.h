// SPDX-License-Identifier: GPL-3.0-or-later
// Model panel: choose a model (dialog, known models, recent files, drag and drop through the
// window) and show its summary. Reading the headers runs in a worker thread (QtConcurrent) so a
// slow disk never blocks the window; a bad file is reported through openFailed() with the core's
// message, and the previously open model stays.
#pragma once
#include <QFutureWatcher>
#include <QMap>
#include <QWidget>

#include "core/model/io/model_info.h"

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;

namespace duo::ui {

class ModelPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ModelPanel(QWidget* parent = nullptr);
  ~ModelPanel() override;

  bool hasModel() const { return m_hasModel; }
  const ModelInfo& model() const { return m_model; }
  bool isLoading() const { return m_watcher.isRunning(); }

  // The models DuoScope knows without a dialog: the bundled tiny model and the cached SmolLM2,
  // each only when its file exists. Pairs of (label, path).
  static QList<QPair<QString, QString>> knownModels();

  // Recent model paths, most recent first (QSettings "models/recent", at most 8).
  static QStringList recentModels();
  static void addRecentModel(const QString& path);

 public Q_SLOTS:
  // Starts reading `path` (a model folder or a .gguf file) in a worker thread. Ignored while a
  // model is loading.
  void openModel(const QString& path);
  // Shows the file dialog and opens the chosen model.
  void browse();

 Q_SIGNALS:
  void loadingStarted(const QString& path);
  void modelOpened(const duo::ModelInfo& info);
  void openFailed(const QString& path, const QString& message);

 private:
  struct Loaded {
    QString path;
    ModelInfo info;
    QString error;  // empty on success
  };
  void onLoaded();
  void showSummary();
  void refillKnown();

  QComboBox* m_known = nullptr;
  QPushButton* m_openButton = nullptr;
  QProgressBar* m_busy = nullptr;
  QMap<QString, QLabel*> m_fields;  // summary value labels by key ("layers", "params", ...)
  QFutureWatcher<Loaded> m_watcher;
  ModelInfo m_model;
  bool m_hasModel = false;
};

}  // namespace duo::ui
