// SPDX-License-Identifier: GPL-3.0-or-later
// Workspaces: File > Save workspace as / Open workspace (core/io/workspace: the request, the value
// format, the extra evaluation corpora and every run), the autosave of this window's setup and the
// offer, at start, of an autosave an earlier window left behind.
#pragma once
#include <QObject>
#include <optional>

#include "core/io/workspace.h"
#include "core/model/io/model_info.h"
#include "ui/window_parts.h"

namespace duo::ui {

class WorkspaceAutosave;

class WorkspaceController : public QObject {
  Q_OBJECT
 public:
  // Starts the autosave beside `parts.runs`'s folder (<AppData>/workspace), with this window's session.
  explicit WorkspaceController(const WindowParts& parts, QObject* parent = nullptr);

  WorkspaceAutosave* autosave() const { return m_autosave; }
  // The workspace the window holds now (request, value format, extra evaluation corpora), no runs.
  Workspace currentWorkspace(const QString& runsDir) const;
  // The model being opened has arrived: a workspace's table waiting for it goes into the table
  // (not as an undo step) when its layer count fits.
  void applyPendingTable(const ModelConfig& config);
  void dropPendingTable() { m_pendingTable.reset(); }  // the model could not be opened

 public Q_SLOTS:
  void saveAs(const QString& path = QString());  // asks when empty
  void open(const QString& path = QString());    // asks when empty; its runs in <name>-runs beside it
  // When an earlier window in the same workspace folder ended without closing (killed, crashed),
  // offers its autosaved workspace (a non-modal box, objectName "restoreOffer": Restore, Discard,
  // or Later, which keeps it for the next start). The window calls it once it has started.
  void offerRestore();
  // Restores an autosaved workspace: its run folder (interrupted runs marked), model, data, method
  // and table. False, with an error dialog naming the file, when it cannot be read.
  bool restoreAutosave(const QString& path);

 private:
  // Shows a workspace's settings and runs, its runs kept in `runsDir`; opens its model.
  void apply(const Workspace& ws, const QString& runsDir);

  WindowParts m_ui;
  WorkspaceAutosave* m_autosave = nullptr;
  std::optional<SparsityConfig> m_pendingTable;  // applied once the model being opened arrives
};

}  // namespace duo::ui
