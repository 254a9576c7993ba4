// SPDX-License-Identifier: GPL-3.0-or-later
// Heatmap of the relative output error, layers (y) x projections (x), on a log colour scale
// (QCPColorMap). Hovering a cell shows layer, projection, error and achieved sparsities.
#pragma once
#include "ui/plots/records_plot.h"

namespace duo::ui {

class ErrorHeatmap : public RecordsPlot {
  Q_OBJECT
 public:
  explicit ErrorHeatmap(QWidget* parent = nullptr);

  // The model's depth fixes the rows (layers 0..n-1); clears the cells.
  void setLayerCount(int layers);

  QCPColorMap* colorMap() const { return m_map; }
  // The text the hover tooltip shows for (layer, proj); empty when that cell has no record.
  QString cellText(int layer, Proj p) const;

 protected:
  void mouseMoveEvent(QMouseEvent* e) override;

 private:
  void drawRecords(const QVector<ProjRecord>& records) override;
  void clearRecords() override;  // every cell empty, m_layers rows

  QCPColorMap* m_map;
  QCPColorScale* m_scale;
  QVector<ProjRecord> m_records;  // index layer * kNumProj + proj; relError < 0 = missing
};

}  // namespace duo::ui
