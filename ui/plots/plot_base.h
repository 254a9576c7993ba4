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

  // The title line above the axes (e.g. "Relative output error · kjv:calib · 64 x 256 tokens").
  void setTitle(const QString& title);
  QString title() const;
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
  QCPTextElement* m_title;
  QCPItemText* m_empty;
};

}  // namespace duo::ui
