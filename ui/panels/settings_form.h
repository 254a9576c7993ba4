// SPDX-License-Identifier: GPL-3.0-or-later
// The form layout of the setup tabs (Data, Method): labels left, fields growing to the tab's width,
// the same margins and spacing on every tab.
#pragma once

class QFormLayout;
class QWidget;

namespace duo::ui {

// Sets a new QFormLayout on `tab` and returns it.
QFormLayout* settingsForm(QWidget* tab);

}  // namespace duo::ui
