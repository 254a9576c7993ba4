// SPDX-License-Identifier: GPL-3.0-or-later
// The window's actions, menu bar and toolbar as the user sees them: object names, texts,
// shortcuts, tips, icons and where each sits. Nothing here does anything when triggered:
// MainWindow connects each action to the controller that does the work.
#pragma once

class QMainWindow;

namespace duo::ui {

struct WindowParts;

// Creates the named actions ("actionOpen", "actionCalibrate", ...) as children of `window`, unconnected.
void createWindowActions(QMainWindow* window);
// Fills the menu bar (File with Open recent and Export, Edit with the table's undo and redo, Run,
// View with the plot tabs and the runs plot's metric and domain, Help) and the toolbar from the
// actions and `parts`' widgets; Open recent lists ModelPanel::recentModels() each time it opens.
void buildWindowMenus(QMainWindow* window, const WindowParts& parts);

}  // namespace duo::ui
