// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/workspace_autosave.h"

#include <QDateTime>
#include <QFileInfo>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>

#include "core/io/run_store.h"
#include "core/prune/prune_types.h"
#include "ui/core_types.h"

namespace duo::ui {

WorkspaceAutosave::WorkspaceAutosave(const QString& dir, Snapshot snapshot, QObject* parent)
    : QObject(parent), m_snapshot(std::move(snapshot)) {
  m_timer.setSingleShot(true);
  m_timer.setInterval(kDelayMs);
  connect(&m_timer, &QTimer::timeout, this, &WorkspaceAutosave::saveNow);
  try {
    m_session = std::make_unique<WindowSession>(ss(dir));
  } catch (const std::exception& e) {
    m_error = QString::fromUtf8(e.what());
  }
}

WorkspaceAutosave::~WorkspaceAutosave() = default;  // WindowSession's destructor is the orderly end

QString WorkspaceAutosave::path() const { return m_session ? qs(m_session->autosavePath()) : QString(); }

std::vector<WindowSession::Left> WorkspaceAutosave::leftBehind() const {
  return m_session ? m_session->leftBehind() : std::vector<WindowSession::Left>{};
}

QMessageBox* WorkspaceAutosave::makeOffer(QWidget* parent, const QString& currentRunsDir,
                                          const std::function<bool(const QString&)>& restore,
                                          QString* unreadable) const {
  std::vector<WindowSession::Left> left = leftBehind();
  for (auto it = left.begin(); it != left.end();) {  // never autosaved (no model was open): nothing to offer
    if (it->autosavePath.empty()) {
      WindowSession::forget(*it);
      it = left.erase(it);
    } else {
      ++it;
    }
  }
  if (left.empty()) return nullptr;
  const WindowSession::Left& newest = left.front();
  QString what;
  try {
    const Workspace ws = loadWorkspace(newest.autosavePath);
    const QString runsDir = ws.runsDir.empty() ? currentRunsDir : qs(ws.runsDir);
    const size_t interrupted = duo::RunStore(ss(runsDir)).interrupted().size();
    what = QString("Model: %1\nMethod: %2, calibration %3\nRuns: %4%5")
               .arg(QFileInfo(qs(ws.request.model)).fileName(), QString::fromUtf8(methodName(ws.request.method)),
                    qs(ws.request.calibSource), runsDir,
                    interrupted ? QString(" (%1 interrupted)").arg(interrupted) : QString());
  } catch (const std::exception& e) {  // cut short by the crash: said, and dropped
    if (unreadable) *unreadable = QString::fromUtf8(e.what());
    for (const WindowSession::Left& s : left) WindowSession::forget(s);
    return nullptr;
  }
  auto* box = new QMessageBox(QMessageBox::Question, "Restore the last workspace?",
                              QString("DuoScope did not close properly last time (process %1, autosaved %2). "
                                      "Restore the workspace it was working on?")
                                  .arg(newest.pid)
                                  .arg(QLocale().toString(QDateTime::fromSecsSinceEpoch(newest.autosavedAt),
                                                          QLocale::ShortFormat)),
                              QMessageBox::NoButton, parent);
  box->setObjectName("restoreOffer");
  if (left.size() > 1) what += QString("\n(%1 older unclosed sessions are discarded with it.)").arg(left.size() - 1);
  box->setInformativeText(what);
  QPushButton* restoreButton = box->addButton("Restore", QMessageBox::AcceptRole);
  restoreButton->setObjectName("restoreButton");
  QPushButton* discardButton = box->addButton("Discard", QMessageBox::DestructiveRole);
  discardButton->setObjectName("discardButton");
  box->addButton("Later", QMessageBox::RejectRole)->setObjectName("laterButton");
  box->setDefaultButton(restoreButton);
  box->setAttribute(Qt::WA_DeleteOnClose);
  QObject::connect(box, &QMessageBox::buttonClicked, box, [left, restore, restoreButton, discardButton](QAbstractButton* b) {
    if (b == restoreButton) {
      if (!restore(qs(left.front().autosavePath))) return;  // kept: the error names the file
    } else if (b != discardButton) {
      return;  // Later: offered again at the next start
    }
    for (const WindowSession::Left& s : left) WindowSession::forget(s);
  });
  return box;
}

void WorkspaceAutosave::schedule() {
  if (m_session) m_timer.start();
}

void WorkspaceAutosave::saveNow() {
  m_timer.stop();
  if (!m_session) return;
  const std::optional<Workspace> ws = m_snapshot();
  if (!ws) return;
  try {
    saveWorkspace(ss(path()), *ws);
    m_error.clear();
  } catch (const std::exception& e) {
    const QString message = QString::fromUtf8(e.what());
    if (message != m_error) {
      m_error = message;
      Q_EMIT failed(message);
    }
  }
}

void WorkspaceAutosave::close() {
  m_timer.stop();
  if (m_session) m_session->close();
}

}  // namespace duo::ui
