// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/plots/plot_base.h"

#include <QBuffer>
#include <QTemporaryDir>
#include <algorithm>
#include <vector>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace duo::ui {

PlotBase::PlotBase(QWidget* parent) : QCustomPlot(parent) {
  setMinimumSize(200, 160);
  setAntialiasedElements(QCP::aeAll);
  plotLayout()->insertRow(0);
  m_title = new QCPTextElement(this, QString(), QFont(font().family(), font().pointSize(), QFont::Bold));
  plotLayout()->addElement(0, 0, m_title);
  m_empty = new QCPItemText(this);
  m_empty->setPositionAlignment(Qt::AlignCenter);
  m_empty->position->setType(QCPItemPosition::ptAxisRectRatio);
  m_empty->position->setCoords(0.5, 0.5);
  m_empty->setColor(QColor(110, 110, 110));
  m_empty->setClipToAxisRect(false);
  legend->setFont(QFont(font().family(), font().pointSize() - 1));
  legend->setBrush(QColor(255, 255, 255, 220));
  legend->setBorderPen(QPen(QColor(180, 180, 180)));
}

void PlotBase::setLayerTicks(QCPAxis* axis) {
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  axis->setTicker(ticker);
}

void PlotBase::setLogAxis(QCPAxis* axis) {
  axis->setScaleType(QCPAxis::stLogarithmic);
  axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  axis->setNumberFormat("eb");
  axis->setNumberPrecision(0);
}

QCPColorScale* PlotBase::addColorScale(const QString& label, int barWidth) {
  auto* scale = new QCPColorScale(this);
  scale->setType(QCPAxis::atRight);
  scale->axis()->setLabel(label);
  scale->setBarWidth(barWidth);
  plotLayout()->addElement(1, 1, scale);
  auto* group = new QCPMarginGroup(this);
  axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, group);
  scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
  return scale;
}

void PlotBase::placeLegendBelow(int columns) {
  axisRect()->insetLayout()->take(legend);
  const int row = plotLayout()->rowCount();
  plotLayout()->addElement(row, 0, legend);
  plotLayout()->setRowStretchFactor(row, 0.001);
  legend->setWrap(columns);
  legend->setFillOrder(QCPLegend::foColumnsFirst, true);  // true: re-flows the items already there
  legend->setBorderPen(Qt::NoPen);
  legend->setBrush(Qt::NoBrush);
  legend->setMargins(QMargins(4, 2, 4, 5));
  legend->setIconSize(14, 10);
  legend->setIconTextPadding(4);
  legend->setRowSpacing(0);
  legend->setColumnSpacing(10);
  legend->setVisible(true);
  m_legendColumns = columns;
  fitLegend(width());
}

void PlotBase::fitLegend(int width) {
  if (m_legendColumns <= 0) return;
  std::vector<int> widths;
  const int descent = QFontMetrics(legend->font()).descent();
  for (int i = 0; i < legend->itemCount(); ++i)
    if (QCPAbstractLegendItem* item = legend->item(i)) {
      // Room under each entry for its descenders: the entry is clipped to its outer rect.
      item->setMargins(QMargins(6, 1, 6, 2 + descent));
      widths.push_back(item->minimumOuterSizeHint().width());
    }
  const int room = std::max(1, width - legend->margins().left() - legend->margins().right() - 8);
  // The most columns whose widths (each its widest entry, filled row by row) fit the room.
  int columns = 1;
  for (int c = std::min<int>(m_legendColumns, static_cast<int>(widths.size())); c > 1; --c) {
    std::vector<int> col(static_cast<size_t>(c), 0);
    for (size_t i = 0; i < widths.size(); ++i) col[i % static_cast<size_t>(c)] = std::max(col[i % static_cast<size_t>(c)], widths[i]);
    int total = legend->columnSpacing() * (c - 1);
    for (int w : col) total += w;
    if (total <= room) {
      columns = c;
      break;
    }
  }
  if (columns != legend->wrap()) {
    legend->setWrap(columns);
    legend->setFillOrder(QCPLegend::foColumnsFirst, true);
  }
}

void PlotBase::setTitle(const QString& title) {
  m_fullTitle = title;
  fitTitle(width());
}
QString PlotBase::title() const { return m_fullTitle; }
QString PlotBase::displayedTitle() const { return m_title->text(); }

void PlotBase::resizeEvent(QResizeEvent* event) {
  fitTitle(event->size().width());
  fitLegend(event->size().width());
  QCustomPlot::resizeEvent(event);
}

void PlotBase::fitTitle(int width) {
  const QFontMetrics fm(m_title->font());
  const int room = std::max(60, width - 16 - m_titleReserve);
  QStringList lines;
  QString line;
  for (const QString& part : m_fullTitle.split(QStringLiteral(" · "))) {
    const QString joined = line.isEmpty() ? part : line + QStringLiteral(" · ") + part;
    if (line.isEmpty() || fm.horizontalAdvance(joined) <= room) {
      line = joined;
    } else {
      lines << line;
      line = part;
    }
  }
  if (!line.isEmpty() || lines.isEmpty()) lines << line;
  for (QString& l : lines) l = fm.elidedText(l, Qt::ElideMiddle, room);
  m_title->setText(lines.join('\n'));

  // The empty message, word-wrapped to about the axes' width.
  const QFontMetrics em(m_empty->font());
  const int emptyRoom = std::max(80, width - 120);
  QStringList wrapped;
  QString current;
  for (const QString& word : m_fullEmpty.split(' ', Qt::SkipEmptyParts)) {
    const QString joined = current.isEmpty() ? word : current + ' ' + word;
    if (current.isEmpty() || em.horizontalAdvance(joined) <= emptyRoom) {
      current = joined;
    } else {
      wrapped << current;
      current = word;
    }
  }
  if (!current.isEmpty()) wrapped << current;
  m_empty->setText(wrapped.join('\n'));
}

void PlotBase::setEmptyMessagePosition(double x, double y) { m_empty->position->setCoords(x, y); }

void PlotBase::setEmptyMessage(const QString& message) {
  m_fullEmpty = message;
  fitTitle(width());
  m_empty->setVisible(!message.isEmpty());
}
QString PlotBase::emptyMessage() const { return m_empty->visible() ? m_fullEmpty : QString(); }

void PlotBase::showEvent(QShowEvent* event) {
  fitTitle(width());
  fitLegend(width());
  QCustomPlot::showEvent(event);
}

void PlotBase::exportTo(const QString& path, int width, int height) {
  const std::string target = path.toStdString();
  if (path.endsWith(".pdf", Qt::CaseInsensitive)) {
    // QCustomPlot writes PDFs only to a file: render into a private temp folder, then move the
    // bytes into place atomically.
    QTemporaryDir tmp;
    DUO_CHECK(tmp.isValid(), "export plot '", target, "': cannot create a temporary folder");
    const QString pdf = tmp.filePath("plot.pdf");
    fitTitle(width);
    fitLegend(width);
    const bool saved = savePdf(pdf, width, height);
    fitTitle(this->width());
    fitLegend(this->width());
    DUO_CHECK(saved, "export plot '", target, "': QCustomPlot could not render the PDF");
    writeFileAtomic(target, readFile(pdf.toStdString()));
    return;
  }
  DUO_CHECK(path.endsWith(".png", Qt::CaseInsensitive), "export plot '", target,
            "': expected a .png or .pdf file name");
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  fitTitle(width);  // the title and legend fit the picture's width, then again the widget's
  fitLegend(width);
  const QPixmap picture = toPixmap(width, height);
  fitTitle(this->width());
  fitLegend(this->width());
  DUO_CHECK(picture.save(&buffer, "PNG"), "export plot '", target, "': PNG encoding failed");
  writeFileAtomic(target, std::string(bytes.constData(), static_cast<size_t>(bytes.size())));
}

}  // namespace duo::ui
