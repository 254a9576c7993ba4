// SPDX-License-Identifier: GPL-3.0-or-later
// The data-parallel side of a pass over calibration windows (calibration, sensitivity): the
// collective it reduces over and the forward chunk size every rank uses. Internal header.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/dist/collective.h"

namespace duo {

class WindowChunks {
 protected:
  // `dist` null: a single process of its own.
  WindowChunks(Collective* dist, int64_t batchWindows)
      : m_single(dist ? std::unique_ptr<Collective>() : singleProcess()), m_dist(dist ? *dist : *m_single),
        m_bw(batchWindows) {}

  // This rank's share of `n` windows (all ranks' together); m_bw becomes the chunk size every rank
  // uses. `what` names the pass in errors ("calibration").
  ChunkShare shareWindows(int64_t n, const std::string& what) {
    const ChunkShare share = shareChunks(n, m_bw, m_dist, what);
    m_bw = share.batch;
    return share;
  }

  std::unique_ptr<Collective> m_single;  // the collective when the caller gave none
  Collective& m_dist;
  int64_t m_bw;  // windows per forward chunk (fewer when ranks outnumber the chunks)
};

}  // namespace duo
