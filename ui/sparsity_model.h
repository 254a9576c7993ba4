// SPDX-License-Identifier: GPL-3.0-or-later
// The sparsity table's item model: a tree of decoder layers, each expandable to its 7 projections,
// over one duo::SparsityConfig. Columns: name, weight sparsity, activation sparsity (per input
// site: editing q's act sets q/k/v together), input site, weights kept.
//
// Every edit (cell editor, multi-select "set", preset) goes through apply(), which pushes a
// snapshot command onto the undo stack; undo/redo swap whole configs (layers x 7 x 2 doubles).
#pragma once
#include <QAbstractItemModel>
#include <QUndoStack>
#include <memory>
#include <string>

#include "core/job/decode_estimate.h"
#include "core/model/model_config.h"
#include "core/prune/sparsity_config.h"

namespace duo::ui {

class SparsityModel : public QAbstractItemModel {
  Q_OBJECT
 public:
  enum Column { ColName = 0, ColWeight, ColAct, ColSite, ColKept, ColCount };
  // Values in the editable columns are fractions in [0, kMaxSparsity].
  static constexpr double kMaxSparsity = 0.99;

  explicit SparsityModel(QObject* parent = nullptr);

  // A new model (or none: numLayers == 0): resets the table and clears the undo history.
  void setModel(const ModelConfig& cfg, const SparsityConfig& initial);
  const ModelConfig& modelConfig() const { return m_model; }
  const SparsityConfig& config() const { return m_config; }
  QUndoStack* undoStack() { return &m_undo; }

  // Replaces the whole config as one undoable step named `what` (no-op when unchanged). Steps
  // pushed back to back with the same mergeId >= 0 (a slider drag) merge into one.
  static constexpr int kMergeAllocation = 1;
  void apply(const SparsityConfig& next, const QString& what, int mergeId = -1);
  // Sets `column` (ColWeight or ColAct) of every row in `rows` to `fraction` as one step. A layer
  // row applies to all its projections; an act edit applies to the projection's whole site.
  void setValues(const QModelIndexList& rows, Column column, double fraction);

  // Weights of projection p in one layer (n_out * k_in).
  static double projParams(const ModelConfig& cfg, Proj p);
  // Totals over all prunable weights.
  double prunableParams() const;
  double keptParams() const;
  // Ideal weight traffic of a decode step relative to dense: sum n k (1-p_w)(1-p_a) / sum n k.
  double idealTrafficFraction() const;

  // The bytes model's (core/engine) prediction for one batch-1 decode step with `contextTokens`
  // in the KV cache, weights stored as decodeValues(), each projection on its cheapest kernel (index overhead, the
  // dense lm_head, attention and norms included). With a timing profile that covers the model
  // (setTimingProfile), `speedup` and the step times come from the profile's measured kernel lines
  // and each projection runs on its fastest kernel there; the bytes stay the bytes model's.
  struct DecodeEstimate {
    double denseBytes = 0;   // bytes one dense decode step moves
    double sparseBytes = 0;  // the same with this table's sparsities
    double speedup = 1;      // dense / sparse time (the profile's when `timed`)
    double bytesSpeedup = 1; // the bytes model's, always
    bool timed = false;      // speedup and seconds are the timing profile's
    double denseSeconds = 0, sparseSeconds = 0;  // per step; real seconds only when `timed`
    std::string timingProblem;  // why a loaded profile was not used (it lacks this model's shapes)
  };
  DecodeEstimate decodeEstimate(int contextTokens = kDecodeContextTokens) const;

  // A measured timing profile (core/engine/timing_profile.h, `duoscope-cli bench calibrate`) for the
  // speed prediction, or none (nullptr): the bytes model. Emits timingChanged().
  void setTimingProfile(std::shared_ptr<const perf::TimingProfile> profile);
  const std::shared_ptr<const perf::TimingProfile>& timingProfile() const { return m_timing; }

  // Storage of the weight values the decode speed is predicted (and a run's speed measured) for:
  // f32, f16, bf16 or int8 (one scale per output row); with int8, `int8Inputs` rounds every
  // product's input to int8 too (the engine's --int8-inputs; ignored for the other types). Emits
  // timingChanged().
  void setDecodeValues(kernels::ValueType values, bool int8Inputs = false);
  kernels::ValueType decodeValues() const { return m_values; }
  bool decodeInt8Inputs() const { return m_int8Inputs; }

  // Tree helpers: layer of an index (-1 for invalid), projection (-1 for a layer row).
  static int layerOf(const QModelIndex& idx);
  static int projOf(const QModelIndex& idx);

  // QAbstractItemModel
  QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
  QModelIndex parent(const QModelIndex& child) const override;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& idx, int role = Qt::DisplayRole) const override;
  bool setData(const QModelIndex& idx, const QVariant& value, int role = Qt::EditRole) override;
  Qt::ItemFlags flags(const QModelIndex& idx) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 Q_SIGNALS:
  // The config changed (edit, undo, redo, preset, new model).
  void configChanged();
  // The timing profile was set or cleared (the prediction changed, the config did not).
  void timingChanged();

 private:
  friend class SnapshotCommand;
  void replaceConfig(const SparsityConfig& cfg);  // no undo entry; emits dataChanged
  // The layer row's p_w and p_a: parameter-weighted means over its 7 projections.
  ProjSparsity layerMean(int layer) const;

  ModelConfig m_model;
  SparsityConfig m_config;
  std::shared_ptr<const perf::TimingProfile> m_timing;
  kernels::ValueType m_values = kernels::ValueType::F32;
  bool m_int8Inputs = false;
  QUndoStack m_undo;
};

}  // namespace duo::ui
