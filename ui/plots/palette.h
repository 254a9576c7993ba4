// SPDX-License-Identifier: GPL-3.0-or-later
// Colours shared by every plot so that a projection has the same colour everywhere.
#pragma once
#include <QColor>

#include "core/model/model_config.h"

namespace duo::ui {

// Seven distinguishable colours in data-flow order (q, k, v, o, gate, up, down): attention in
// blues/teal, o in purple, MLP in oranges/red.
inline QColor projColor(Proj p) {
  static const QColor kColors[kNumProj] = {QColor(31, 119, 180), QColor(86, 180, 233), QColor(0, 158, 115),
                                           QColor(148, 103, 189), QColor(230, 159, 0), QColor(213, 94, 0),
                                           QColor(204, 121, 167)};
  return kColors[static_cast<int>(p)];
}

}  // namespace duo::ui
