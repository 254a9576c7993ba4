#include "ui/workspace_autosave.h"

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

void WorkspaceAutosave::schedule() {
  if (m_session) m_timer.start();
}

void WorkspaceAutosave::saveNow() {
  m_timer.stop();
  if (!m_session) return;
  const std::optional<Workspace> ws = m_snapshot();
  if (!ws) return;
  try {
    saveWorkspace(path(), *ws);
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
