// Heatmap of the relative output error, layers (y) x projections (x), on a log colour scale
// (QCPColorMap). Hovering a cell shows layer, projection, error and achieved sparsities.
#pragma once
#include <QVector>

#include "core/prune/prune_types.h"
#include "ui/plots/plot_base.h"

namespace duo::ui {

class ErrorHeatmap : public PlotBase {
  Q_OBJECT
 public:
  explicit ErrorHeatmap(QWidget* parent = nullptr);

  void setLayerCount(int layers);
  void setRecords(const QVector<ProjRecord>& records);
  void clear();

  QCPColorMap* colorMap() const { return m_map; }
  // The text the hover tooltip shows for (layer, proj); empty when that cell has no record.
  QString cellText(int layer, Proj p) const;

 protected:
  void mouseMoveEvent(QMouseEvent* e) override;

 private:
  QCPColorMap* m_map;
  QCPColorScale* m_scale;
  QVector<ProjRecord> m_records;  // index layer * kNumProj + proj; relError < 0 = missing
  int m_layers = 0;
};

}  // namespace duo::ui
