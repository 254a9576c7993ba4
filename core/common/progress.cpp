// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/progress.h"

#include "core/common/error.h"

namespace duo {

void reportProgress(const ProgressFn& fn, const Progress& p) {
  if (fn && !fn(p)) throw Cancelled();
}

}  // namespace duo
