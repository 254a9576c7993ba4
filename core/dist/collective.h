// SPDX-License-Identifier: GPL-3.0-or-later
// The collectives a data-parallel job needs, behind one interface: a single process (every call a
// no-op) or a c10d process group (Gloo on CPU, NCCL on CUDA) opened from DistSettings. Internal
// header (torch). Every call is made by all ranks in the same order; a failure on any rank (a
// peer gone, a timeout) throws duo::Error naming this rank and the operation.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/dist/dist_settings.h"

namespace duo {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "none" for a single process, "gloo", "nccl"
  // In place: every rank ends with the element-wise sum over ranks (same shapes and dtypes on all).
  virtual void allReduceSum(std::vector<torch::Tensor>& tensors) = 0;
  // In place: every rank ends with root's values (same shapes and dtypes on all).
  virtual void broadcast(std::vector<torch::Tensor>& tensors, int root) = 0;
  virtual void barrier() = 0;

  // Conveniences: a double / an int64 summed over ranks (f64 / i64 on the host).
  double sum(double v);
  int64_t sum(int64_t v);
  void allReduceSum(torch::Tensor& t);
  void broadcast(torch::Tensor& t, int root);
};

// One process: rank 0 of 1, every collective a no-op.
std::unique_ptr<Collective> singleProcess();

// The process group `s` describes (a single process when s.worldSize is 1): rank 0 serves the
// rendezvous (TCPStore) at MASTER_ADDR:MASTER_PORT, the others connect within s.connectSeconds;
// backend auto is NCCL when `device` is CUDA and NCCL is built, Gloo otherwise. Throws duo::Error
// naming the rank and the cause (port in use, master unreachable, backend not built).
std::unique_ptr<Collective> openCollective(const DistSettings& s, torch::Device device);

// The device a rank computes on: `device` itself, except that ranks of a data-parallel job on CUDA
// take one GPU each, cuda:(LOCAL_RANK mod the device count), as torchrun lays them out.
torch::Device rankDevice(torch::Device device, const DistSettings& s);

// The contiguous share [begin, end) of `n` items that `rank` of `size` takes: shares differ by at
// most one item, lower ranks take the larger ones.
std::pair<int64_t, int64_t> shareOf(int64_t n, int rank, int size);

// `n` windows cut into forward chunks of `batch` (the last one shorter), the chunks shared out
// contiguously: this rank's windows [begin, end) and the chunk size every rank uses. Each chunk
// holds the windows it would hold in one process, so it is computed the same way. With fewer
// chunks than ranks the chunk size shrinks so that every rank gets one; n < ranks throws, naming
// `what` ("calibration").
struct ChunkShare {
  int64_t begin = 0, end = 0, batch = 1;
  // This rank's rows of all ranks' windows [n, T].
  torch::Tensor of(const torch::Tensor& all) const { return all.narrow(0, begin, end - begin); }
};
ChunkShare shareChunks(int64_t n, int64_t batch, const Collective& dist, const std::string& what);

}  // namespace duo
