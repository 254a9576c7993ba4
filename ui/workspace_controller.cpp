// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/workspace_controller.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>

#include "ui/core_types.h"
#include "ui/panels/data_panel.h"
#include "ui/panels/method_panel.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/run_store.h"
#include "ui/sparsity_model.h"
#include "ui/status_line.h"
#include "ui/workspace_autosave.h"

namespace duo::ui {

WorkspaceController::WorkspaceController(const WindowParts& parts, QObject* parent) : QObject(parent), m_ui(parts) {
  m_autosave = new WorkspaceAutosave(QFileInfo(m_ui.runs->directory()).absolutePath(), [this]() -> std::optional<Workspace> {
    if (!m_ui.modelPanel->hasModel()) return std::nullopt;
    return currentWorkspace(m_ui.runs->directory());
  }, this);
  connect(m_autosave, &WorkspaceAutosave::failed, this, [this](const QString& m) {
    m_ui.status->setJobState("Autosave failed: " + m);
  });
  connect(m_ui.table, &SparsityTable::configChanged, m_autosave, &WorkspaceAutosave::schedule);
  connect(m_ui.dataPanel, &DataPanel::changed, m_autosave, &WorkspaceAutosave::schedule);
  connect(m_ui.methodPanel, &MethodPanel::changed, m_autosave, &WorkspaceAutosave::schedule);
  connect(m_ui.modelPanel, &ModelPanel::modelOpened, m_autosave, &WorkspaceAutosave::schedule);
  connect(m_ui.runs, &RunStore::changed, m_autosave, &WorkspaceAutosave::schedule);
}

void WorkspaceController::saveAs(const QString& given) {
  const QString path = given.isEmpty() ? m_ui.askSavePath("Save workspace", "workspace.duoscope.json", "DuoScope workspace (*.json)") : given;
  if (path.isEmpty()) return;
  try {
    Workspace ws = currentWorkspace({});
    for (const RunEntry& r : m_ui.runs->runs()) ws.runs.push_back(r.record);
    saveWorkspace(ss(path), ws);
    m_ui.status->setJobState("Saved workspace " + path);
  } catch (const std::exception& e) {
    m_ui.showError("Could not save the workspace", QString::fromUtf8(e.what()));
  }
}

void WorkspaceController::open(const QString& given) {
  if (m_ui.isBusy()) return;
  const QString path = given.isEmpty()
                           ? QFileDialog::getOpenFileName(m_ui.window, "Open workspace", dialogStartDir("open"), "DuoScope workspace (*.json)")
                           : given;
  if (given.isEmpty()) rememberDialogPath("open", path);
  if (path.isEmpty()) return;
  try {
    const Workspace ws = loadWorkspace(ss(path));
    // The workspace's runs live in a folder beside it, so that new runs join them.
    const QFileInfo fi(path);
    apply(ws, fi.absolutePath() + "/" + fi.completeBaseName() + "-runs");
    m_ui.status->setJobState("Opened workspace " + path);
  } catch (const std::exception& e) {
    m_ui.showError("Could not open the workspace", QString::fromUtf8(e.what()));
  }
}

Workspace WorkspaceController::currentWorkspace(const QString& runsDir) const {
  Workspace ws;
  ws.request = m_ui.currentRequest();
  ws.runsDir = ss(runsDir);
  ws.values = kernels::valueTypeName(m_ui.table->model()->decodeValues());
  ws.int8Inputs = m_ui.table->model()->decodeInt8Inputs();
  ws.alsoEval = m_ui.dataPanel->alsoEval();
  return ws;
}

void WorkspaceController::apply(const Workspace& ws, const QString& runsDir) {
  RunStore* runs = m_ui.runs;
  if (QFileInfo(runsDir).absoluteFilePath() != QFileInfo(runs->directory()).absoluteFilePath()) runs->setDirectory(runsDir);
  for (const RunRecord& r : ws.runs)
    if (!runs->find(qs(r.id))) runs->insert(r);
  m_ui.dataPanel->showRequest(ws.request);
  m_ui.methodPanel->showRequest(ws.request);
  QStringList also;
  for (const std::string& c : ws.alsoEval) also << qs(c);
  m_ui.dataPanel->setAlsoEval(also.join(", "));
  m_ui.table->setDecodeValues(kernels::parseValueType(ws.values), ws.int8Inputs);
  m_pendingTable = ws.request.sparsity.table();
  m_ui.modelPanel->openModel(qs(ws.request.model));
}

void WorkspaceController::applyPendingTable(const ModelConfig& config) {
  if (m_pendingTable && m_pendingTable->numLayers() == static_cast<int>(config.numLayers))
    m_ui.table->model()->setModel(config, *m_pendingTable);
  m_pendingTable.reset();
}

void WorkspaceController::offerRestore() {
  if (m_ui.window->findChild<QMessageBox*>("restoreOffer")) return;
  QString unreadable;
  QMessageBox* box = m_autosave->makeOffer(m_ui.window, m_ui.runs->directory(),
                                           [this](const QString& path) { return restoreAutosave(path); }, &unreadable);
  if (!unreadable.isEmpty()) m_ui.status->setJobState("The autosaved workspace of the last session could not be read: " + unreadable);
  if (box) box->open();
}

bool WorkspaceController::restoreAutosave(const QString& path) {
  if (m_ui.isBusy()) return false;
  try {
    const Workspace ws = loadWorkspace(ss(path));
    apply(ws, ws.runsDir.empty() ? m_ui.runs->directory() : qs(ws.runsDir));  // older autosaves: this folder
    m_ui.status->setJobState("Restored the autosaved workspace");
    return true;
  } catch (const std::exception& e) {
    m_ui.showError("Could not restore the autosaved workspace", QString::fromUtf8(e.what()));
    return false;
  }
}

}  // namespace duo::ui
