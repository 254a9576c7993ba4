// SPDX-License-Identifier: GPL-3.0-or-later
// The window's workspace autosave: the setup (model, data, method, table) and the run folder,
// written atomically a moment after each change and at once when a run starts, to the file of
// this window's duo::WindowSession. An orderly close removes it; a window that ended without
// closing (killed, crashed) leaves it, and the next window offers it (WorkspaceController::offerRestore).
#pragma once
#include <QObject>
#include <QString>
#include <QTimer>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/io/window_session.h"
#include "core/io/workspace.h"

class QMessageBox;
class QWidget;

namespace duo::ui {

class WorkspaceAutosave : public QObject {
  Q_OBJECT
 public:
  static constexpr int kDelayMs = 1500;
  // What to save now; nullopt when there is nothing worth restoring (no model open).
  using Snapshot = std::function<std::optional<Workspace>()>;

  // Opens this window's session in `dir` (<AppData>/workspace: the run folder's parent). When the
  // folder cannot be written the autosave is off and error() says why.
  WorkspaceAutosave(const QString& dir, Snapshot snapshot, QObject* parent = nullptr);
  ~WorkspaceAutosave() override;

  bool isActive() const { return m_session != nullptr; }
  QString error() const { return m_error; }
  QString path() const;  // this session's autosave file ("" when off)
  // Sessions in the same folder that ended without closing, newest autosave first.
  std::vector<WindowSession::Left> leftBehind() const;
  // The offer of the newest left-behind autosave: a non-modal box (objectName "restoreOffer") on
  // `parent` naming its model, method, calibration and run folder (with its interrupted runs),
  // with Restore (calls `restore` with the file; the sessions are forgotten when it returns true),
  // Discard (forgets them) and Later (keeps them for the next start). Sessions without an autosave
  // are forgotten at once. Null when there is nothing to offer; when the newest autosave cannot be
  // read it is forgotten too and `unreadable` says why. The caller opens the box.
  QMessageBox* makeOffer(QWidget* parent, const QString& currentRunsDir,
                         const std::function<bool(const QString&)>& restore, QString* unreadable) const;

 public Q_SLOTS:
  void schedule();  // saves kDelayMs after the last call
  void saveNow();
  // The orderly end (the window closed): this session's lock and autosave are removed.
  void close();

 Q_SIGNALS:
  // A save failed (full disk, folder gone); emitted once per distinct message.
  void failed(const QString& message);

 private:
  std::unique_ptr<WindowSession> m_session;
  Snapshot m_snapshot;
  QTimer m_timer;
  QString m_error;
};

}  // namespace duo::ui
