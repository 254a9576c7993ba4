// SPDX-License-Identifier: GPL-3.0-or-later
// What every DuoScope plot shares: a QCustomPlot with the project's fonts and margins, a title
// line that names data, seqlen and metric, a centred message when there is nothing to show, and
// export to PNG/PDF through the core's atomic writer.
#pragma once
#include <qcustomplot.h>

namespace duo::ui {

class PlotBase : public QCustomPlot {
  Q_OBJECT
 public:
  explicit PlotBase(QWidget* parent = nullptr);

  // The title above the axes (e.g. "Relative output error · duogpt W50/A50 on SmolLM2 · kjv:calib
  // 64×256 tok"). It always fits: where the plot is narrower than the line, it breaks at the " · "
  // separators, and a part still too wide is elided in the middle.
  void setTitle(const QString& title);
  QString title() const;           // as set
  QString displayedTitle() const;  // as drawn now (with line breaks)
  // Shown in the middle of the axes while the plot has no data; "" hides it.
  void setEmptyMessage(const QString& message);
  QString emptyMessage() const;
  // Where the message sits, as fractions of the axis rect (default the centre).
  void setEmptyMessagePosition(double x, double y);

  // Writes the plot as PNG (by extension .png) or PDF (.pdf) atomically; throws duo::Error naming
  // the path on failure.
  void exportTo(const QString& path, int width = 1200, int height = 700);

  // Moves the legend out of the axes into a row under them, `columns` entries per line, so that
  // it never hides data.
  void placeLegendBelow(int columns);

 protected:
  void resizeEvent(QResizeEvent* event) override;
  void showEvent(QShowEvent* event) override;
  // Breaks the title for a plot `width` pixels wide.
  void fitTitle(int width);
  // Sets the legend's columns to what fits `width` (at most the placeLegendBelow count), so that
  // no entry is cut.
  void fitLegend(int width);
  // Integer ticks on a layer axis (every layer, or every n-th when crowded).
  static void setLayerTicks(QCPAxis* axis);
  // A logarithmic axis labelled in powers of ten.
  static void setLogAxis(QCPAxis* axis);
  // A colour scale `barWidth` pixels wide in a column right of the axes, its top and bottom
  // aligned with theirs.
  QCPColorScale* addColorScale(const QString& label, int barWidth);
  int m_legendColumns = 0;  // 0: the legend is inside the axes
  QString m_fullTitle;
  int m_titleReserve = 0;  // pixels of the width the title's layout cell does not get (a colour scale column)
  QString m_fullEmpty;  // the empty message as set (wrapped to the axes' width when drawn)
  QCPTextElement* m_title;
  QCPItemText* m_empty;
};

}  // namespace duo::ui
