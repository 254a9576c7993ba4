// SPDX-License-Identifier: GPL-3.0-or-later
// The sparsity table panel: the layer/projection tree (ui/sparsity_model.h) with percent editors,
// multi-select + "set", presets (uniform, from a saved config, allocated, OWL), N:M and activation rule, undo/redo,
// and live totals (weights kept, ideal traffic, predicted speedup) that follow every change.
#pragma once
#include <QWidget>

#include "ui/sparsity_model.h"

class QComboBox;
class QDoubleSpinBox;
class QAction;
class QLabel;
class QTreeView;
class QToolButton;

namespace duo::ui {

class SparsityTable : public QWidget {
  Q_OBJECT
 public:
  explicit SparsityTable(QWidget* parent = nullptr);

  SparsityModel* model() { return m_model; }
  QTreeView* view() { return m_view; }
  const SparsityConfig& config() const { return m_model->config(); }

  // A new model: the table gets one row per decoder layer at the current uniform preset.
  void setModelConfig(const ModelConfig& cfg);
  // Replaces the table (undoable); throws duo::Error when `cfg` does not fit the model.
  void applyConfig(const SparsityConfig& cfg, const QString& what);
  // An allocator's config (the slider): consecutive calls merge into one undo step.
  void applyAllocation(const SparsityConfig& cfg, const QString& what);
  // Enables the Allocated and OWL presets (a sensitivity table exists for this model).
  void setAllocationAvailable(bool on);

 public Q_SLOTS:
  void applyUniform();                    // the preset spin boxes to every projection
  void setSelected();                     // the "set" spin box to the selected rows
  void loadConfigFile(const QString& path);  // a saved duoscope.sparsity/1 JSON (undoable)
  void refreshTotals();
  // Selects the value format the speed is predicted for (the "values" choice).
  void setDecodeValues(kernels::ValueType values, bool int8Inputs = false);

 Q_SIGNALS:
  void configChanged();
  void failed(const QString& title, const QString& message);
  // A preset computed outside the table: "allocated" or "owl".
  void presetRequested(const QString& kind);

 private:
  SparsityModel* m_model;
  QTreeView* m_view;
  QDoubleSpinBox* m_uniformWeight;
  QDoubleSpinBox* m_uniformAct;
  QComboBox* m_nm;
  QComboBox* m_actRule;
  QComboBox* m_values;
  QComboBox* m_setColumn;
  QDoubleSpinBox* m_setValue;
  QToolButton* m_undo;
  QToolButton* m_redo;
  QLabel* m_totals;
  QAction* m_presetAllocated = nullptr;
  QAction* m_presetOwl = nullptr;
};

}  // namespace duo::ui
