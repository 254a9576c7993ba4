// Achieved sparsity per layer (weights and activations, mean over the layer's 7 projections) from
// the job's records, against the table's targets (dashed).
#pragma once
#include <QVector>

#include "core/prune/prune_types.h"
#include "core/prune/sparsity_config.h"
#include "ui/plots/plot_base.h"

namespace duo::ui {

class SparsityPlot : public PlotBase {
  Q_OBJECT
 public:
  explicit SparsityPlot(QWidget* parent = nullptr);

  void setTargets(const SparsityConfig& cfg);
  void setRecords(const QVector<ProjRecord>& records);
  void clearRecords();

  QCPGraph* achievedWeights() const { return m_weights; }
  QCPGraph* achievedActs() const { return m_acts; }
  QCPGraph* targetWeights() const { return m_targetWeights; }
  QCPGraph* targetActs() const { return m_targetActs; }

 private:
  QCPGraph* m_weights;
  QCPGraph* m_acts;
  QCPGraph* m_targetWeights;
  QCPGraph* m_targetActs;
  int m_layers = 0;
};

}  // namespace duo::ui
