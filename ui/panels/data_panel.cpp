// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/panels/data_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QSpinBox>
#include <QToolButton>

#include "core/data/corpus.h"
#include "core/data/default_corpora.h"
#include "core/data/domains.h"
#include "ui/core_types.h"
#include "ui/panels/settings_form.h"

namespace duo::ui {

namespace {

// The built-in sources of one split, "auto" (the model's default) first: "auto", "mix:calib",
// "kjv:calib", "mix:calib:gcide", ..., and for calibration the mix less one domain,
// "mix:calib:without-gcide", ... (core/data/corpus.h; docs/corpus.md).
QStringList builtinSources(const QString& split) {
  QStringList out = {kAutoCorpus, "mix:" + split, "kjv:" + split};
  for (const std::string& d : mixDomains()) out << QString("mix:%1:%2").arg(split, QString::fromStdString(d));
  if (split == "calib")
    for (const std::string& d : mixDomains()) out << QString("mix:calib:%1%2").arg(kMixWithout, QString::fromStdString(d));
  return out;
}

// An editable source combo (the built-in corpus splits first) with a browse button.
QWidget* sourceRow(QComboBox* combo, const QStringList& builtins, const QString& tip, QWidget* parent) {
  combo->setEditable(true);
  combo->addItems(builtins);
  combo->setToolTip(tip);
  combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  combo->setMinimumContentsLength(10);
  auto* browse = new QToolButton;
  browse->setText("...");
  browse->setToolTip("Choose a text file (one passage per line) or a JSONL file with a \"text\" field");
  QObject::connect(browse, &QToolButton::clicked, parent, [combo, parent] {
    const QString path = QFileDialog::getOpenFileName(parent, "Choose text", dialogStartDir("open"), "Text or JSONL (*.txt *.jsonl);;All files (*)");
    if (path.isEmpty()) return;
    combo->setCurrentText(path);
  });
  auto* row = new QWidget;
  auto* h = new QHBoxLayout(row);
  h->setContentsMargins(0, 0, 0, 0);
  h->addWidget(combo, 1);
  h->addWidget(browse);
  return row;
}

QSpinBox* spin(const QString& name, int lo, int hi, int value, const QString& tip) {
  auto* s = new QSpinBox;
  s->setObjectName(name);
  s->setRange(lo, hi);
  s->setValue(value);
  s->setToolTip(tip);
  return s;
}

}  // namespace

DataPanel::DataPanel(QWidget* parent) : QWidget(parent) {
  QFormLayout* form = settingsForm(this);

  m_calib = new QComboBox;
  m_calib->setObjectName("calibSource");
  form->addRow("Calibration:", sourceRow(m_calib, builtinSources("calib"),
                                          "Calibration text: auto (the model's default: the corpus a model DuoScope "
                                          "trained was trained on, mix:calib for any other), kjv:calib (King James "
                                          "Bible, Genesis..Malachi), mix:calib "
                                          "(six kinds of English: dictionary, man pages, a handbook, fortunes, the Jargon "
                                          "File, the KJV), one of its domains, the mix less one domain (mix:calib:without-manpages: "
                                          "evaluate on that domain to see text of a kind calibration never saw), a text "
                                          "file or a JSONL file with a \"text\" field",
                                          this));
  m_nsamples = spin("nsamples", 0, 4096, 0,
                    "Calibration windows (sequences) per run; more gives better statistics and a slower run");
  m_seqlen = spin("seqlen", 0, 8192, 0, "Tokens per calibration window");
  for (QSpinBox* s : {m_nsamples, m_seqlen}) s->setMinimumWidth(64);  // the left column fits a 1000-pixel window
  m_nsamples->setSingleStep(8);
  m_seqlen->setSingleStep(64);
  auto* sizeRow = new QWidget;
  auto* h = new QHBoxLayout(sizeRow);
  h->setContentsMargins(0, 0, 0, 0);
  h->addWidget(m_nsamples, 1);
  h->addWidget(new QLabel("×"));
  h->addWidget(m_seqlen, 1);
  form->addRow("Windows × tokens:", sizeRow);
  m_advice = new QLabel;
  m_advice->setObjectName("calibrationAdvice");
  m_advice->setWordWrap(true);
  m_advice->setVisible(false);
  form->addRow(m_advice);
  m_seed = spin("seed", 0, 1 << 30, 0, "Seed for the choice of calibration windows (same seed, same run)");
  form->addRow("Seed:", m_seed);

  m_eval = new QCheckBox("Evaluate perplexity after pruning");
  m_eval->setObjectName("evalEnabled");
  m_eval->setChecked(true);
  m_eval->setToolTip("Perplexity of the pruned (and the dense) model on the evaluation text, in the same worker");
  form->addRow(m_eval);
  m_evalSource = new QComboBox;
  m_evalSource->setObjectName("evalSource");
  form->addRow("Evaluation:", sourceRow(m_evalSource, builtinSources("eval"),
                                         "Evaluation text: auto (the held-out split of the model's default corpus: "
                                         "kjv:eval for the bundled tiny model, mix:eval for any other), kjv:eval "
                                         "(Matthew..Revelation, never seen in calibration), "
                                         "mix:eval or one of its domains (documents never in mix:calib), or a file",
                                         this));
  m_maxWindows = spin("maxWindows", 0, 100000, 16,
                      "Evaluate on at most this many windows (0 = the whole text); fewer is faster and noisier");
  m_maxWindows->setSpecialValueText("all");
  form->addRow("Eval windows:", m_maxWindows);
  m_alsoEval = new QLineEdit;
  m_alsoEval->setObjectName("alsoEval");
  m_alsoEval->setPlaceholderText("e.g. mix:eval, mix:eval:manpages");
  m_alsoEval->setToolTip("More evaluation texts, separated by commas: each is reported beside the first with its "
                         "own dense perplexity and whether it is in the calibration's domain or held out");
  form->addRow("Also evaluate:", m_alsoEval);
  m_task = new QLineEdit;
  m_task->setObjectName("taskFile");
  m_task->setPlaceholderText("optional multiple-choice JSONL");
  m_task->setToolTip("lm-eval-harness style task: JSONL lines with context, choices, gold; accuracy and acc_norm");
  auto* taskBrowse = new QToolButton;
  taskBrowse->setText("...");
  taskBrowse->setToolTip("Choose a multiple-choice task (JSONL)");
  connect(taskBrowse, &QToolButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, "Choose task", dialogStartDir("open"), "JSONL (*.jsonl);;All files (*)");
    if (!path.isEmpty()) m_task->setText(path);
  });
  auto* taskMake = new QToolButton;
  taskMake->setObjectName("makeTask");
  taskMake->setText("Make...");
  taskMake->setToolTip("Generate a cloze multiple-choice task from the evaluation text (core's generator) and use it here");
  connect(taskMake, &QToolButton::clicked, this, &DataPanel::makeTaskRequested);
  auto* taskRow = new QWidget;
  auto* th = new QHBoxLayout(taskRow);
  th->setContentsMargins(0, 0, 0, 0);
  th->addWidget(m_task, 1);
  th->addWidget(taskBrowse);
  th->addWidget(taskMake);
  form->addRow("Task:", taskRow);

  setModelDefaults(0, false);
  for (QSpinBox* s : {m_nsamples, m_seqlen, m_seed, m_maxWindows})
    connect(s, QOverload<int>::of(&QSpinBox::valueChanged), this, &DataPanel::changed);
  connect(m_eval, &QCheckBox::toggled, this, [this](bool on) {
    m_evalSource->setEnabled(on);
    m_maxWindows->setEnabled(on);
    m_task->setEnabled(on);
    m_alsoEval->setEnabled(on);
    Q_EMIT changed();
  });
  connect(m_calib, &QComboBox::currentTextChanged, this, &DataPanel::changed);
  connect(m_evalSource, &QComboBox::currentTextChanged, this, &DataPanel::changed);
}

void DataPanel::setAdvice(const QString& text, bool enough) {
  m_advice->setText(text);
  m_advice->setToolTip(text);
  m_advice->setStyleSheet(enough ? QString() : QStringLiteral("color: #b35900;"));
  m_advice->setVisible(!text.isEmpty());
}

QString DataPanel::advice() const { return m_advice->text(); }

std::vector<std::string> DataPanel::alsoEval() const {
  std::vector<std::string> out;
  if (!m_eval->isChecked()) return out;
  for (const QString& part : m_alsoEval->text().split(',', Qt::SkipEmptyParts))
    if (!part.trimmed().isEmpty()) out.push_back(ss(part.trimmed()));
  return out;
}

void DataPanel::setAlsoEval(const QString& commaSeparated) { m_alsoEval->setText(commaSeparated); }

namespace {

// "auto (mix:calib)": the first entry of a source combo, the corpus "auto" stands for in brackets.
QString autoText(const QString& meaning) { return QString("%1 (%2)").arg(kAutoCorpus, meaning); }

// The combo's source as a request names it: "auto" for its first entry, else the text.
QString sourceOf(const QComboBox* combo) {
  const QString t = combo->currentText().trimmed();
  return t.isEmpty() || t == combo->itemText(0) || t == QLatin1String(kAutoCorpus) ? QString(kAutoCorpus) : t;
}

// Shows `source` in the combo: "auto" as its first entry.
void showSource(QComboBox* combo, const std::string& source) {
  if (isAutoCorpus(source))
    combo->setCurrentIndex(0);
  else
    combo->setCurrentText(qs(source));
}

void setAutoMeaning(QComboBox* combo, const QString& meaning) {
  const bool onAuto = sourceOf(combo) == QLatin1String(kAutoCorpus);
  combo->setItemText(0, autoText(meaning));
  if (onAuto) {
    combo->setCurrentIndex(0);
    combo->setEditText(combo->itemText(0));
  }
}

}  // namespace

void DataPanel::setModelDefaults(int64_t params, bool cuda, const std::string& modelPath) {
  defaultCalibration(params, cuda, &m_autoNsamples, &m_autoSeqlen);
  m_nsamples->setSpecialValueText(QString("auto (%1)").arg(m_autoNsamples));
  m_seqlen->setSpecialValueText(QString("auto (%1)").arg(m_autoSeqlen));
  DefaultCorpora d;
  try {
    d = defaultCorpora(modelPath);
  } catch (const std::exception&) {
    // A broken training.json: the job reports it with the file's name when it runs.
  }
  m_autoCalib = qs(d.calib);
  m_autoEval = qs(d.eval);
  setAutoMeaning(m_calib, m_autoCalib);
  setAutoMeaning(m_evalSource, m_autoEval);
}

void DataPanel::fillRequest(PruneRequest* req) const {
  req->calibSource = ss(sourceOf(m_calib));
  req->nsamples = m_nsamples->value();
  req->seqlen = m_seqlen->value();
  req->seed = static_cast<uint64_t>(m_seed->value());
  req->eval = m_eval->isChecked();
  req->evalSource = ss(sourceOf(m_evalSource));
  req->maxWindows = m_maxWindows->value();
  req->taskFile = ss(m_task->text().trimmed());
}

void DataPanel::showRequest(const PruneRequest& req) {
  showSource(m_calib, req.calibSource);
  m_nsamples->setValue(req.nsamples);
  m_seqlen->setValue(req.seqlen);
  m_seed->setValue(static_cast<int>(req.seed));
  m_eval->setChecked(req.eval);
  showSource(m_evalSource, req.evalSource);
  m_maxWindows->setValue(req.maxWindows);
  m_task->setText(qs(req.taskFile));
}

void DataPanel::setTaskFile(const QString& path) {
  m_eval->setChecked(true);  // accuracy is part of the evaluation
  m_task->setText(path);
}

QString DataPanel::evalSource() const {
  const QString s = sourceOf(m_evalSource);
  return s == QLatin1String(kAutoCorpus) ? m_autoEval : s;
}

QString DataPanel::calibrationSummary() const {
  const int n = m_nsamples->value() > 0 ? m_nsamples->value() : m_autoNsamples;
  const int t = m_seqlen->value() > 0 ? m_seqlen->value() : m_autoSeqlen;
  const QString given = sourceOf(m_calib) == QLatin1String(kAutoCorpus) ? m_autoCalib : sourceOf(m_calib);
  const QString src = QFileInfo(given).fileName();  // a path shows as its file name
  return QString("%1 %2×%3 tok, seed %4").arg(src.isEmpty() ? given : src).arg(n).arg(t).arg(m_seed->value());
}

void DataPanel::saveSettings() const {
  QSettings s;
  PruneRequest req;
  fillRequest(&req);
  s.setValue("data/calib", qs(req.calibSource));
  s.setValue("data/nsamples", req.nsamples);
  s.setValue("data/seqlen", req.seqlen);
  s.setValue("data/seed", static_cast<qulonglong>(req.seed));
  s.setValue("data/eval", req.eval);
  s.setValue("data/evalSource", qs(req.evalSource));
  s.setValue("data/sourcesVersion", 2);  // "auto" exists
  s.setValue("data/maxWindows", req.maxWindows);
  s.setValue("data/task", qs(req.taskFile));
}

void DataPanel::loadSettings() {
  QSettings s;
  if (!s.contains("data/calib")) return;
  PruneRequest req;
  req.calibSource = ss(s.value("data/calib").toString());
  // Settings saved before "auto" existed hold the old defaults, kjv:calib and kjv:eval, whatever
  // the model: they become "auto" (which is still the KJV for the bundled tiny model).
  const bool old = s.value("data/sourcesVersion", 1).toInt() < 2;
  req.nsamples = s.value("data/nsamples").toInt();
  req.seqlen = s.value("data/seqlen").toInt();
  req.seed = s.value("data/seed").toULongLong();
  req.eval = s.value("data/eval", true).toBool();
  req.evalSource = ss(s.value("data/evalSource", kAutoCorpus).toString());
  if (old && req.calibSource == "kjv:calib") req.calibSource = kAutoCorpus;
  if (old && req.evalSource == "kjv:eval") req.evalSource = kAutoCorpus;
  req.maxWindows = s.value("data/maxWindows", 16).toInt();
  req.taskFile = ss(s.value("data/task").toString());
  showRequest(req);
}

}  // namespace duo::ui
