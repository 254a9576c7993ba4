// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/panels/model_panel.h"

#include <QAbstractItemView>
#include <QComboBox>
#include <QStyle>
#include <algorithm>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/common/device.h"
#include "core/common/paths.h"
#include "ui/core_types.h"

namespace duo::ui {

namespace {
constexpr int kMaxRecent = 8;
constexpr const char* kRecentKey = "models/recent";

// Rows of the summary: key, label. Values are filled by showSummary().
const QList<QPair<QString, QString>>& summaryRows() {
  static const QList<QPair<QString, QString>> rows = {
      {"name", "Name"},       {"format", "Format"},       {"arch", "Architecture"},
      {"layers", "Layers"},   {"hidden", "Hidden size"},  {"heads", "Heads / KV heads"},
      {"ffn", "FFN size"},    {"vocab", "Vocabulary"},    {"params", "Parameters"},
      {"dtype", "Dtype"},     {"size", "File size"},      {"device", "Device"},
  };
  return rows;
}
}  // namespace

ModelPanel::ModelPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);

  auto* row = new QHBoxLayout;
  m_known = new QComboBox;
  m_known->setObjectName("knownModels");
  m_known->setToolTip("Bundled, cached and recently opened models");
  m_known->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_known->setMinimumContentsLength(12);
  m_openButton = new QPushButton("Open...");
  m_openButton->setToolTip("Open a Hugging Face model folder (config.json + safetensors) or a GGUF file (Ctrl+O)");
  row->addWidget(m_known, 1);
  row->addWidget(m_openButton);
  layout->addLayout(row);

  m_busy = new QProgressBar;
  m_busy->setObjectName("modelBusy");
  m_busy->setRange(0, 0);  // busy indicator: header reading has no useful fraction
  m_busy->setTextVisible(false);
  m_busy->setMaximumHeight(6);
  m_busy->setVisible(false);
  layout->addWidget(m_busy);

  auto* form = new QFormLayout;
  form->setLabelAlignment(Qt::AlignRight);
  form->setRowWrapPolicy(QFormLayout::DontWrapRows);
  form->setVerticalSpacing(3);
  for (const auto& [key, label] : summaryRows()) {
    auto* value = new QLabel(QStringLiteral("—"));
    value->setObjectName("summary_" + key);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    value->setWordWrap(true);
    m_fields[key] = value;
    form->addRow(label + ":", value);
  }
  layout->addLayout(form);
  layout->addStretch(1);
  m_fields["device"]->setText(qs(device().description));

  refillKnown();
  connect(m_openButton, &QPushButton::clicked, this, &ModelPanel::browse);
  connect(m_known, QOverload<int>::of(&QComboBox::activated), this, [this](int i) {
    const QString path = m_known->itemData(i).toString();
    if (!path.isEmpty()) openModel(path);
  });
  connect(&m_watcher, &QFutureWatcher<Loaded>::finished, this, &ModelPanel::onLoaded);
}

ModelPanel::~ModelPanel() { m_watcher.waitForFinished(); }

QList<QPair<QString, QString>> ModelPanel::knownModels() {
  QList<QPair<QString, QString>> out;
  const std::pair<const char*, const char*> aliases[] = {{"tiny", "Bundled tiny model (duo-tiny-kjv)"},
                                                         {"smollm2", "SmolLM2-135M-Instruct (cached GGUF)"}};
  for (const auto& [alias, label] : aliases) {
    try {
      const QString path = qs(resolveModelPath(alias));
      if (QFileInfo::exists(path)) out.append({label, path});
    } catch (const std::exception&) {
      // Not installed on this machine: simply not listed.
    }
  }
  return out;
}

QStringList ModelPanel::recentModels() { return QSettings().value(kRecentKey).toStringList(); }

void ModelPanel::addRecentModel(const QString& path) {
  QStringList recent = recentModels();
  recent.removeAll(path);
  recent.prepend(path);
  while (recent.size() > kMaxRecent) recent.removeLast();
  QSettings().setValue(kRecentKey, recent);
}

void ModelPanel::refillKnown() {
  m_known->clear();
  m_known->addItem("Choose a model...", QString());
  QStringList listed;
  for (const auto& [label, path] : knownModels()) {
    m_known->addItem(label, path);
    m_known->setItemData(m_known->count() - 1, path, Qt::ToolTipRole);
    listed << path;
  }
  for (const QString& path : recentModels()) {
    if (listed.contains(path)) continue;
    m_known->addItem("Recent: " + QFileInfo(path).fileName(), path);
    m_known->setItemData(m_known->count() - 1, path, Qt::ToolTipRole);
  }
  if (m_hasModel) {
    const int i = m_known->findData(qs(m_model.path));
    if (i >= 0) m_known->setCurrentIndex(i);
  }
  // The list's rows are as wide as their text even where the closed box is narrower.
  int widest = 0;
  for (int i = 0; i < m_known->count(); ++i)
    widest = std::max(widest, m_known->fontMetrics().horizontalAdvance(m_known->itemText(i)));
  m_known->view()->setMinimumWidth(widest + 3 * m_known->style()->pixelMetric(QStyle::PM_ScrollBarExtent));
}

void ModelPanel::browse() {
  const QString start = m_hasModel ? QFileInfo(qs(m_model.path)).absolutePath() : dialogStartDir("model");
  QString path = QFileDialog::getOpenFileName(this, "Open model", start,
                                              "Models (*.gguf config.json *.safetensors);;All files (*)");
  if (path.isEmpty()) return;
  if (!path.endsWith(".gguf", Qt::CaseInsensitive)) path = QFileInfo(path).absolutePath();  // HF folder
  openModel(path);
}

void ModelPanel::openModel(const QString& path) {
  if (m_watcher.isRunning()) return;
  m_busy->setVisible(true);
  m_openButton->setEnabled(false);
  m_known->setEnabled(false);
  Q_EMIT loadingStarted(path);
  m_watcher.setFuture(QtConcurrent::run([path]() {
    Loaded out;
    out.path = path;
    try {
      out.info = inspectModel(ss(path));
    } catch (const std::exception& e) {
      out.error = QString::fromUtf8(e.what());
    }
    return out;
  }));
}

void ModelPanel::onLoaded() {
  const Loaded loaded = m_watcher.result();
  m_busy->setVisible(false);
  m_openButton->setEnabled(true);
  m_known->setEnabled(true);
  if (!loaded.error.isEmpty()) {
    Q_EMIT openFailed(loaded.path, loaded.error);
    return;
  }
  m_model = loaded.info;
  m_hasModel = true;
  addRecentModel(loaded.path);
  refillKnown();
  showSummary();
  Q_EMIT modelOpened(m_model);
}

void ModelPanel::showSummary() {
  const ModelConfig& c = m_model.config;
  m_fields["name"]->setText(qs(m_model.name));
  m_fields["name"]->setToolTip(qs(m_model.path));
  m_fields["format"]->setText(qs(m_model.format));
  m_fields["arch"]->setText(qs(c.architecture));
  m_fields["layers"]->setText(QString::number(c.numLayers));
  m_fields["hidden"]->setText(QString::number(c.hiddenSize));
  m_fields["heads"]->setText(QString("%1 / %2").arg(c.numHeads).arg(c.numKvHeads));
  m_fields["ffn"]->setText(QString::number(c.intermediateSize));
  m_fields["vocab"]->setText(QString::number(c.vocabSize));
  m_fields["params"]->setText(formatCount(static_cast<double>(m_model.parameters)));
  m_fields["dtype"]->setText(qs(m_model.dtype));
  m_fields["size"]->setText(formatBytes(static_cast<double>(m_model.fileBytes)));
}

}  // namespace duo::ui
