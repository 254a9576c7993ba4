#include "ui/plots/plot_base.h"

#include <QBuffer>
#include <QTemporaryDir>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace duo::ui {

PlotBase::PlotBase(QWidget* parent) : QCustomPlot(parent) {
  setMinimumSize(240, 180);
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
}

void PlotBase::setTitle(const QString& title) { m_title->setText(title); }
QString PlotBase::title() const { return m_title->text(); }

void PlotBase::setEmptyMessagePosition(double x, double y) { m_empty->position->setCoords(x, y); }

void PlotBase::setEmptyMessage(const QString& message) {
  m_empty->setText(message);
  m_empty->setVisible(!message.isEmpty());
}
QString PlotBase::emptyMessage() const { return m_empty->visible() ? m_empty->text() : QString(); }

void PlotBase::exportTo(const QString& path, int width, int height) {
  const std::string target = path.toStdString();
  if (path.endsWith(".pdf", Qt::CaseInsensitive)) {
    // QCustomPlot writes PDFs only to a file: render into a private temp folder, then move the
    // bytes into place atomically.
    QTemporaryDir tmp;
    DUO_CHECK(tmp.isValid(), "export plot '", target, "': cannot create a temporary folder");
    const QString pdf = tmp.filePath("plot.pdf");
    DUO_CHECK(savePdf(pdf, width, height), "export plot '", target, "': QCustomPlot could not render the PDF");
    writeFileAtomic(target, readFile(pdf.toStdString()));
    return;
  }
  DUO_CHECK(path.endsWith(".png", Qt::CaseInsensitive), "export plot '", target,
            "': expected a .png or .pdf file name");
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  DUO_CHECK(toPixmap(width, height).save(&buffer, "PNG"), "export plot '", target, "': PNG encoding failed");
  writeFileAtomic(target, std::string(bytes.constData(), static_cast<size_t>(bytes.size())));
}

}  // namespace duo::ui
