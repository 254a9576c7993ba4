// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/panels/sparsity_table.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QGridLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QStyledItemDelegate>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>
#include <tuple>

#include "core/common/error.h"
#include "core/io/exports.h"
#include "ui/core_types.h"

namespace duo::ui {

namespace {

// The values combo's item for int8 values with int8 inputs (the others carry their type's name).
constexpr const char* kInt8InputsItem = "int8-inputs";

// Edits a fraction as a percentage with one decimal.
class PercentDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex&) const override {
    auto* spin = new QDoubleSpinBox(parent);
    spin->setObjectName("percentEditor");
    spin->setRange(0.0, SparsityModel::kMaxSparsity * 100.0);
    spin->setDecimals(1);
    spin->setSingleStep(5.0);
    spin->setSuffix(" %");
    spin->setFrame(false);
    return spin;
  }
  void setEditorData(QWidget* editor, const QModelIndex& idx) const override {
    static_cast<QDoubleSpinBox*>(editor)->setValue(idx.data(Qt::EditRole).toDouble() * 100.0);
  }
  void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& idx) const override {
    auto* spin = static_cast<QDoubleSpinBox*>(editor);
    spin->interpretText();
    model->setData(idx, spin->value() / 100.0, Qt::EditRole);
  }
};

QDoubleSpinBox* percentSpin(const QString& name, double value, const QString& tip) {
  auto* spin = new QDoubleSpinBox;
  spin->setObjectName(name);
  spin->setRange(0.0, SparsityModel::kMaxSparsity * 100.0);
  spin->setDecimals(1);
  spin->setSingleStep(5.0);
  spin->setSuffix(" %");
  spin->setValue(value);
  spin->setToolTip(tip);
  return spin;
}

}  // namespace

SparsityTable::SparsityTable(QWidget* parent) : QWidget(parent), m_model(new SparsityModel(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->setSpacing(4);

  // Row 1: uniform preset, load config, N:M, act rule.
  auto* grid = new QGridLayout;
  grid->setHorizontalSpacing(6);
  grid->setVerticalSpacing(4);
  m_uniformWeight = percentSpin("uniformWeight", 50.0, "Weight sparsity for the uniform preset");
  m_uniformAct = percentSpin("uniformAct", 50.0, "Activation sparsity for the uniform preset");
  auto* uniform = new QPushButton("Uniform");
  uniform->setObjectName("applyUniform");
  uniform->setToolTip("Set every projection of every layer to these weight / activation sparsities");
  // Presets beyond uniform: a saved config, and (once a sensitivity table exists) the allocator's
  // config at the target speedup and OWL's outlier-weighted one.
  auto* presets = new QToolButton;
  presets->setObjectName("presets");
  presets->setText("Presets");
  presets->setPopupMode(QToolButton::InstantPopup);
  presets->setToolTip("Fill the table from a saved config, the allocator or OWL");
  auto* menu = new QMenu(presets);
  QAction* fromFile = menu->addAction("From file...");
  fromFile->setObjectName("presetFromFile");
  fromFile->setToolTip("Load a saved sparsity config (duoscope.sparsity/1 JSON)");
  m_presetAllocated = menu->addAction("Allocated (target speedup)");
  m_presetAllocated->setObjectName("presetAllocated");
  m_presetAllocated->setToolTip("Per-projection weight and activation sparsity chosen by the allocator for the "
                                "target-speedup slider (needs Run sensitivity)");
  m_presetOwl = menu->addAction("OWL (outlier-weighted)");
  m_presetOwl->setObjectName("presetOwl");
  m_presetOwl->setToolTip("OWL: layers with more outlier weights keep more weights; mean set by the target speedup "
                          "(needs Run sensitivity)");
  presets->setMenu(menu);
  setAllocationAvailable(false);
  connect(m_presetAllocated, &QAction::triggered, this, [this] { Q_EMIT presetRequested("allocated"); });
  connect(m_presetOwl, &QAction::triggered, this, [this] { Q_EMIT presetRequested("owl"); });
  // Narrow minimums (the texts still fit): the table box must leave room for the plots in a
  // 1000-pixel window.
  for (QWidget* w : std::initializer_list<QWidget*>{m_uniformWeight, m_uniformAct}) w->setMinimumWidth(72);
  grid->addWidget(new QLabel("W"), 0, 0);
  grid->addWidget(m_uniformWeight, 0, 1);
  grid->addWidget(new QLabel("A"), 0, 2);
  grid->addWidget(m_uniformAct, 0, 3);
  grid->addWidget(uniform, 0, 4);

  m_nm = new QComboBox;
  m_nm->setObjectName("nmPattern");
  m_nm->addItems({"unstructured", "2:4", "4:8"});
  m_nm->setToolTip("Weight structure: unstructured, or N:M (N zeros in every group of M consecutive inputs)");
  m_actRule = new QComboBox;
  m_actRule->setObjectName("actRule");
  m_actRule->addItems({"topk", "threshold"});
  m_actRule->setToolTip("Activation rule: topk zeroes the p_a smallest |x| of each token; threshold (TEAL) uses one "
                        "calibrated magnitude per input site");

  m_values = new QComboBox;
  m_values->setObjectName("decodeValues");
  for (const char* v : {"f32", "bf16", "f16", "int8"}) m_values->addItem(v, QString(v));
  m_values->addItem("int8 + int8 inputs", QString(kInt8InputsItem));
  // The longest item would widen the grid past a 1000-pixel window; the popup shows it whole.
  m_values->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_values->setMinimumContentsLength(6);
  m_values->setToolTip("Value format of the decode the speed is predicted and measured for: the kept weights (and "
                       "the lm_head and embedding rows) stored as f32, bf16, f16 or int8 with one scale per output "
                       "row; \"int8 + int8 inputs\" also rounds every product's input to int8 and multiplies in "
                       "integers, as llama.cpp does (CPU; with AVX-512 VNNI the pruned projections run dual-sparse, "
                       "elsewhere act-sparse, where pruned weights save no bytes). The checkpoint's own dtype is set "
                       "where it is exported.");
  connect(m_values, &QComboBox::currentIndexChanged, this, [this](int i) {
    const QString v = m_values->itemData(i).toString();
    if (v == kInt8InputsItem) m_model->setDecodeValues(kernels::ValueType::I8, true);
    else m_model->setDecodeValues(kernels::parseValueType(ss(v)));
  });

  // Row 2: set the selection, undo/redo.
  m_setColumn = new QComboBox;
  m_setColumn->setObjectName("setColumn");
  m_setColumn->addItem("weight", SparsityModel::ColWeight);
  m_setColumn->addItem("act", SparsityModel::ColAct);
  m_setValue = percentSpin("setValue", 60.0, "Value to give the selected rows");
  auto* set = new QPushButton("Set selected");
  set->setObjectName("setSelected");
  set->setToolTip("Give every selected row (layers or projections) this sparsity");
  // The undo/redo actions (Edit menu, shortcuts) carry the step's name ("Undo allocate 1.60×");
  // the buttons keep a short fixed label and show the name as a tooltip, so the panel's width
  // never follows the text.
  QAction* undoAction = m_model->undoStack()->createUndoAction(this);
  undoAction->setShortcut(QKeySequence::Undo);
  QAction* redoAction = m_model->undoStack()->createRedoAction(this);
  redoAction->setShortcut(QKeySequence::Redo);
  m_undo = new QToolButton;
  m_redo = new QToolButton;
  m_undo->setObjectName("undo");
  m_redo->setObjectName("redo");
  for (auto [button, action, label] : {std::tuple{m_undo, undoAction, "Undo"}, std::tuple{m_redo, redoAction, "Redo"}}) {
    button->setText(label);
    button->setEnabled(action->isEnabled());
    button->setToolTip(action->text());
    addAction(action);
    connect(button, &QToolButton::clicked, action, &QAction::trigger);
    connect(action, &QAction::changed, button, [button = button, action = action] {
      button->setEnabled(action->isEnabled());
      button->setToolTip(action->text());
    });
  }
  grid->addWidget(new QLabel("N:M"), 1, 0);
  grid->addWidget(m_nm, 1, 1);
  grid->addWidget(new QLabel("rule"), 1, 2);
  grid->addWidget(m_actRule, 1, 3);
  grid->addWidget(presets, 1, 4);
  grid->addWidget(new QLabel("values"), 3, 0);
  grid->addWidget(m_values, 3, 1);
  // Undo and redo as arrows (their step names in the tooltips), so the grid stays four columns
  // of controls plus one of buttons and fits a 1000-pixel window.
  m_undo->setIcon(style()->standardIcon(QStyle::SP_ArrowBack));
  m_redo->setIcon(style()->standardIcon(QStyle::SP_ArrowForward));
  m_undo->setToolButtonStyle(Qt::ToolButtonIconOnly);
  m_redo->setToolButtonStyle(Qt::ToolButtonIconOnly);
  auto* undoRedo = new QHBoxLayout;
  undoRedo->setSpacing(2);
  undoRedo->addWidget(m_undo);
  undoRedo->addWidget(m_redo);
  grid->addLayout(undoRedo, 0, 5, 2, 1);
  auto* setLabel = new QLabel("Sel.");
  setLabel->setToolTip("Set one column of the selected rows: which column, to what value");
  setLabel->setBuddy(m_setColumn);
  m_setValue->setMinimumWidth(72);
  for (QComboBox* c : {m_actRule, m_setColumn}) c->setMinimumWidth(72);
  m_nm->setMinimumWidth(m_nm->fontMetrics().horizontalAdvance("unstructured") + 34);  // its longest item, whole
  grid->addWidget(setLabel, 2, 0);
  grid->addWidget(m_setColumn, 2, 1);
  grid->addWidget(m_setValue, 2, 2, 1, 2);
  grid->addWidget(set, 2, 4);
  presets->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  grid->setColumnStretch(1, 1);
  grid->setColumnStretch(3, 1);
  layout->addLayout(grid);

  m_view = new QTreeView;
  m_view->setObjectName("sparsityView");
  m_view->setModel(m_model);
  m_view->setItemDelegateForColumn(SparsityModel::ColWeight, new PercentDelegate(m_view));
  m_view->setItemDelegateForColumn(SparsityModel::ColAct, new PercentDelegate(m_view));
  m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
  m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_view->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                          QAbstractItemView::AnyKeyPressed);
  m_view->setAlternatingRowColors(true);
  m_view->setUniformRowHeights(true);
  m_view->header()->setStretchLastSection(false);
  m_view->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_view->header()->setSectionResizeMode(SparsityModel::ColName, QHeaderView::Stretch);
  layout->addWidget(m_view, 1);

  m_totals = new QLabel;
  m_totals->setObjectName("sparsityTotals");
  m_totals->setWordWrap(true);
  // Two lines at least: under the allocation bar the splitter would otherwise squeeze the
  // prediction line out of a wrapped label.
  m_totals->setMinimumHeight(2 * fontMetrics().lineSpacing() + 4);
  layout->addWidget(m_totals);

  connect(uniform, &QPushButton::clicked, this, &SparsityTable::applyUniform);
  connect(set, &QPushButton::clicked, this, &SparsityTable::setSelected);
  connect(fromFile, &QAction::triggered, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, "Load sparsity config", dialogStartDir("open"), "Sparsity config (*.json)");
    if (!path.isEmpty()) loadConfigFile(path);
  });
  connect(m_nm, &QComboBox::activated, this, [this](int) {
    SparsityConfig next = config();
    next.nm = parseNm(ss(m_nm->currentText()));
    applyConfig(next, "set weight structure " + m_nm->currentText());
  });
  connect(m_actRule, &QComboBox::activated, this, [this](int) {
    SparsityConfig next = config();
    actRuleFromName(ss(m_actRule->currentText()), &next.actRule);
    applyConfig(next, "set activation rule " + m_actRule->currentText());
  });
  connect(m_model, &SparsityModel::configChanged, this, [this] {
    // Keep the combo boxes in step with undo/redo.
    m_nm->setCurrentText(qs(config().nm.str()));
    m_actRule->setCurrentText(actRuleName(config().actRule));
    refreshTotals();
    Q_EMIT configChanged();
  });
  connect(m_model, &SparsityModel::timingChanged, this, &SparsityTable::refreshTotals);
  setEnabled(false);
  refreshTotals();
}

void SparsityTable::setModelConfig(const ModelConfig& cfg) {
  SparsityConfig initial = SparsityConfig::uniform(static_cast<int>(cfg.numLayers), m_uniformWeight->value() / 100.0,
                                                   m_uniformAct->value() / 100.0);
  initial.nm = parseNm(ss(m_nm->currentText()));
  actRuleFromName(ss(m_actRule->currentText()), &initial.actRule);
  m_model->setModel(cfg, initial);
  setEnabled(cfg.numLayers > 0);
}

void SparsityTable::applyConfig(const SparsityConfig& cfg, const QString& what) {
  cfg.validate("sparsity table", m_model->config().numLayers());
  m_model->apply(cfg, what);
}

void SparsityTable::setAllocationAvailable(bool on) {
  m_presetAllocated->setEnabled(on);
  m_presetOwl->setEnabled(on);
}

void SparsityTable::applyAllocation(const SparsityConfig& cfg, const QString& what) {
  SparsityConfig next = cfg;
  next.nm = config().nm;  // the table's weight structure stays
  next.validate("allocation", config().numLayers());
  m_model->apply(next, what, SparsityModel::kMergeAllocation);
}

void SparsityTable::applyUniform() {
  SparsityConfig next = SparsityConfig::uniform(config().numLayers(), m_uniformWeight->value() / 100.0,
                                                m_uniformAct->value() / 100.0);
  next.nm = config().nm;
  next.actRule = config().actRule;
  applyConfig(next, QString("uniform W%1/A%2").arg(m_uniformWeight->value()).arg(m_uniformAct->value()));
}

void SparsityTable::setSelected() {
  const QModelIndexList rows = m_view->selectionModel()->selectedRows(SparsityModel::ColName);
  m_model->setValues(rows, static_cast<SparsityModel::Column>(m_setColumn->currentData().toInt()),
                     m_setValue->value() / 100.0);
}

void SparsityTable::loadConfigFile(const QString& path) {
  try {
    // core/io's import: validated against the model (layers, ranges, sites, N:M widths).
    const SparsityConfig cfg = duo::importConfig(ss(path), m_model->modelConfig());
    applyConfig(cfg, "load " + path);
  } catch (const std::exception& e) {
    Q_EMIT failed("Could not load the sparsity config", QString::fromUtf8(e.what()));
  }
}

void SparsityTable::refreshTotals() {
  if (config().numLayers() == 0) {
    m_totals->setText("Open a model to edit its per-layer sparsity.");
    return;
  }
  const double total = m_model->prunableParams();
  const double kept = m_model->keptParams();
  QString decode;
  QString timingTip;
  try {
    const SparsityModel::DecodeEstimate est = m_model->decodeEstimate();
    decode = QString("Decode step reads %1 (dense %2) → ").arg(formatBytes(est.sparseBytes), formatBytes(est.denseBytes));
    if (est.timed) {
      decode += QString("%1× bytes model · <b>%2×</b> timing profile (%3 → %4 tokens/s)")
                    .arg(est.bytesSpeedup, 0, 'f', 2)
                    .arg(est.speedup, 0, 'f', 2)
                    .arg(1.0 / est.denseSeconds, 0, 'f', 0)
                    .arg(1.0 / est.sparseSeconds, 0, 'f', 0);
    } else {
      decode += QString("<b>%1×</b> predicted").arg(est.speedup, 0, 'f', 2);
      if (!est.timingProblem.empty())
        decode += "<br>Timing profile not used: " + qs(est.timingProblem).toHtmlEscaped();
    }
    if (const auto& t = m_model->timingProfile())
      timingTip = QString(" With the timing profile %1 (%2): each projection's time is the measured line of its "
                          "fastest kernel at that shape, the lm_head, topk and the rest of the step as measured.")
                      .arg(qs(t->source).toHtmlEscaped(), qs(t->device).toHtmlEscaped());
  } catch (const std::exception& e) {
    decode = "No speed prediction: " + QString::fromUtf8(e.what()).toHtmlEscaped();
  }
  m_totals->setText(QString("Kept <b>%1</b> of %2 (%3) · mean W %4, A %5<br>%6")
                        .arg(formatCount(kept), formatCount(total), formatPercent(total > 0 ? kept / total : 1.0),
                             formatPercent(config().parameterWeightedSparsity(m_model->modelConfig())),
                             formatPercent(config().meanAct()), decode));
  m_totals->setToolTip(QString("Bytes model (core/engine): one batch-1 decode step with 256 tokens of KV cache, %3 "
                               "weights, each projection on its cheapest kernel (dense, activation-sparse, "
                               "weight-sparse or dual-sparse), index overhead, the dense lm_head, attention and "
                               "norms included. Ideal weight traffic alone: %1 of dense.%2")
                           .arg(formatPercent(m_model->idealTrafficFraction()), timingTip,
                                QString(kernels::valueTypeName(m_model->decodeValues())) +
                                    (m_model->decodeInt8Inputs() ? " (inputs rounded to int8)" : "")));
}

void SparsityTable::setDecodeValues(kernels::ValueType values, bool int8Inputs) {
  const bool inputs = int8Inputs && values == kernels::ValueType::I8;
  // The combo's signal updates the model.
  m_values->setCurrentIndex(m_values->findData(inputs ? QString(kInt8InputsItem) : QString(kernels::valueTypeName(values))));
}

}  // namespace duo::ui
