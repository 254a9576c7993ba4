// SPDX-License-Identifier: GPL-3.0-or-later
// Achieved sparsity per layer (weights and activations, mean over the layer's 7 projections) from
// the job's records, against the table's targets (dashed).
#pragma once
#include "core/prune/sparsity_config.h"
#include "ui/plots/records_plot.h"

namespace duo::ui {

class SparsityPlot : public RecordsPlot {
  Q_OBJECT
 public:
  explicit SparsityPlot(QWidget* parent = nullptr);

  // The table's per-layer means (dashed); their depth fixes the x range.
  void setTargets(const SparsityConfig& cfg);

  QCPGraph* achievedWeights() const { return m_weights; }
  QCPGraph* achievedActs() const { return m_acts; }
  QCPGraph* targetWeights() const { return m_targetWeights; }
  QCPGraph* targetActs() const { return m_targetActs; }

 private:
  void drawRecords(const QVector<ProjRecord>& records) override;
  void clearRecords() override;

  QCPGraph* m_weights;
  QCPGraph* m_acts;
  QCPGraph* m_targetWeights;
  QCPGraph* m_targetActs;
};

}  // namespace duo::ui
