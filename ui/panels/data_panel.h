// SPDX-License-Identifier: GPL-3.0-or-later
// Data panel: where calibration and evaluation text come from and how much of it is used.
// Calibration: "auto" (the model's default corpus: its training.json's, else mix:calib), a built-in
// corpus or a text / JSONL ("text" field) file, nsamples x seqlen tokens, seed.
// Evaluation: perplexity on "auto" (its training.json's held-out split, else mix:eval), a built-in
// corpus or a file, optional multiple-choice task (JSONL).
// Values persist in QSettings ("data/..."); "auto" is saved as such and follows the open model.
#pragma once
#include <QWidget>

#include "core/job/prune_job.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace duo::ui {

class DataPanel : public QWidget {
  Q_OBJECT
 public:
  explicit DataPanel(QWidget* parent = nullptr);

  // Writes the panel's fields into `req` (calibSource, nsamples, seqlen, seed, eval*, taskFile).
  void fillRequest(PruneRequest* req) const;
  // Shows the values of `req` (e.g. a workspace or a run being loaded).
  void showRequest(const PruneRequest& req);
  // The defaults for this model on this machine, shown as the "auto" text of the spin boxes and of
  // the sources' first entries ("auto (mix:calib)"). `modelPath`: the resolved model, whose
  // training.json names its corpora (core/data/default_corpora.h).
  void setModelDefaults(int64_t params, bool cuda, const std::string& modelPath = {});
  // The calibration's token count against what the method needs on the open model (core's
  // adviseCalibration), under the window count; a warning colour when it is not enough.
  void setAdvice(const QString& text, bool enough);
  // More evaluation corpora (prune --also-eval): the "Also evaluate on" field, split at commas.
  std::vector<std::string> alsoEval() const;
  void setAlsoEval(const QString& commaSeparated);
  QString advice() const;

  // Sets the multiple-choice task (and turns evaluation on).
  void setTaskFile(const QString& path);
  // The evaluation corpus, "auto" resolved for the open model ("mix:eval").
  QString evalSource() const;

  // A short line for plot legends: "mix:calib 64×256 tok, seed 0" ("auto" resolved).
  QString calibrationSummary() const;

  void saveSettings() const;
  void loadSettings();

 Q_SIGNALS:
  void changed();
  // "Make..." beside the task: the window generates a cloze task in its worker.
  void makeTaskRequested();

 private:
  QComboBox* m_calib;
  QSpinBox* m_nsamples;
  QSpinBox* m_seqlen;
  QSpinBox* m_seed;
  QCheckBox* m_eval;
  QComboBox* m_evalSource;
  QSpinBox* m_maxWindows;
  QLineEdit* m_task;
  QLineEdit* m_alsoEval;
  QLabel* m_advice;
  int m_autoNsamples = 0;
  int m_autoSeqlen = 0;
  QString m_autoCalib = "mix:calib", m_autoEval = "mix:eval";  // what "auto" means for the open model
};

}  // namespace duo::ui
