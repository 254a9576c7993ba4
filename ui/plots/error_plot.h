// SPDX-License-Identifier: GPL-3.0-or-later
// Per-layer relative output error of each projection, ||W'Xs - W Xd||^2 / ||W Xd||^2, as bars
// grouped by projection on a log axis, with the mask-only error (same mask, no weight update) of
// each layer as the reference line. Fed with the job's records as they arrive.
#pragma once
#include <array>

#include "ui/plots/records_plot.h"

namespace duo::ui {

class ErrorPlot : public RecordsPlot {
  Q_OBJECT
 public:
  explicit ErrorPlot(QWidget* parent = nullptr);

  // The model's depth fixes the x range (layers 0..n-1).
  void setLayerCount(int layers);

  QCPBars* bars(Proj p) const { return m_bars[static_cast<int>(p)]; }
  QCPGraph* maskOnly() const { return m_maskOnly; }

 private:
  void drawRecords(const QVector<ProjRecord>& records) override;
  void clearRecords() override;

  std::array<QCPBars*, kNumProj> m_bars{};
  QCPBarsGroup* m_group;
  QCPGraph* m_maskOnly;
};

}  // namespace duo::ui
