// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/dist/collective.h"

#include <chrono>
#include <exception>

#include "core/common/error.h"

#ifdef DUO_HAVE_C10D
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef DUO_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace duo {

double Collective::sum(double v) {
  auto t = torch::tensor({v}, torch::kFloat64);
  allReduceSum(t);
  return t.item<double>();
}

int64_t Collective::sum(int64_t v) {
  auto t = torch::tensor({v}, torch::kInt64);
  allReduceSum(t);
  return t.item<int64_t>();
}

void Collective::allReduceSum(torch::Tensor& t) {
  std::vector<torch::Tensor> v{t};
  allReduceSum(v);
  t = v[0];
}

void Collective::broadcast(torch::Tensor& t, int root) {
  std::vector<torch::Tensor> v{t};
  broadcast(v, root);
  t = v[0];
}

torch::Device rankDevice(torch::Device device, const DistSettings& s) {
  if (!device.is_cuda() || !s.distributed()) return device;
  const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(torch::cuda::device_count()));
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(s.localRank % n));
}

std::pair<int64_t, int64_t> shareOf(int64_t n, int rank, int size) {
  DUO_ASSERT(size >= 1 && rank >= 0 && rank < size && n >= 0);
  const int64_t base = n / size, extra = n % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

ChunkShare shareChunks(int64_t n, int64_t batch, const Collective& dist, const std::string& what) {
  const int W = dist.size();
  DUO_CHECK(batch >= 1, what, ": windows per chunk expected >= 1, got ", batch);
  DUO_CHECK(n >= W, what, ": ", n, " windows cannot be shared by ", W, " ranks (--nsamples must be >= ranks)");
  ChunkShare s;
  s.batch = batch;
  if ((n + batch - 1) / batch < W) s.batch = std::max<int64_t>(1, n / W);  // every rank gets a chunk
  const auto [c0, c1] = shareOf((n + s.batch - 1) / s.batch, dist.rank(), W);
  s.begin = c0 * s.batch;
  s.end = std::min(n, c1 * s.batch);
  return s;
}

namespace {

class SingleProcess final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "none"; }
  void allReduceSum(std::vector<torch::Tensor>&) override {}
  void broadcast(std::vector<torch::Tensor>&, int) override {}
  void barrier() override {}
};

#ifdef DUO_HAVE_C10D
// A c10d process group of type PG (ProcessGroupGloo or ProcessGroupNCCL; the same calls in
// LibTorch 1.13 and 2.x). Gloo works on host tensors: device tensors go through the host.
template <typename PG>
class ProcessGroupCollective final : public Collective {
 public:
  ProcessGroupCollective(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<PG> pg, int rank, int size,
                         std::string backend)
      : m_store(std::move(store)), m_pg(std::move(pg)), m_rank(rank), m_size(size), m_backend(std::move(backend)) {}

  int rank() const override { return m_rank; }
  int size() const override { return m_size; }
  std::string backend() const override { return m_backend; }

  void allReduceSum(std::vector<torch::Tensor>& tensors) override {
    run("all-reduce", tensors, [&](std::vector<at::Tensor>& ts) { m_pg->allreduce(ts)->wait(); });
  }
  void broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    DUO_ASSERT(root >= 0 && root < m_size);
    run("broadcast from rank " + std::to_string(root), tensors, [&](std::vector<at::Tensor>& ts) {
      c10d::BroadcastOptions o;
      o.rootRank = root;
      m_pg->broadcast(ts, o)->wait();
    });
  }
  void barrier() override {
    try {
      m_pg->barrier()->wait();
    } catch (const std::exception& e) {
      fail("rank ", m_rank, ": barrier failed (", firstLine(e.what()), "); another rank has probably stopped");
    }
  }

 private:
  static std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

  template <typename Op>
  void run(const std::string& what, std::vector<torch::Tensor>& tensors, const Op& op) {
    // One tensor per call: c10d's vector form means "one per local device", not a batch.
    const bool host = m_backend == "gloo";
    for (torch::Tensor& t : tensors) {
      std::vector<at::Tensor> ts{host ? t.to(torch::kCPU).contiguous() : t.contiguous()};
      try {
        op(ts);
      } catch (const std::exception& e) {
        fail("rank ", m_rank, ": ", what, " failed (", firstLine(e.what()), "); another rank has probably stopped");
      }
      if (ts[0].device() != t.device() || !t.is_contiguous() || ts[0].data_ptr() != t.data_ptr()) t.copy_(ts[0]);
    }
  }

  c10::intrusive_ptr<c10d::Store> m_store;
  c10::intrusive_ptr<PG> m_pg;
  int m_rank, m_size;
  std::string m_backend;
};

bool isLoopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}
#endif

}  // namespace

std::unique_ptr<Collective> singleProcess() { return std::make_unique<SingleProcess>(); }

std::unique_ptr<Collective> openCollective(const DistSettings& s, torch::Device device) {
  s.validate();
  if (!s.distributed()) return singleProcess();
  const std::string backend = s.backend == "auto" ? (device.is_cuda() && ncclBuilt() ? "nccl" : "gloo") : s.backend;
#ifndef DUO_HAVE_C10D
  (void)device;
  fail("this duoscope-cli was built without torch.distributed (c10d); WORLD_SIZE=", s.worldSize,
       " needs a LibTorch with c10d and Gloo's headers (Debian: libgloo-dev) at build time");
#else
  DUO_CHECK(backend != "nccl" || ncclBuilt(), "--dist-backend nccl: this build has no NCCL (its LibTorch has no CUDA)");
  DUO_CHECK(backend != "nccl" || device.is_cuda(), "--dist-backend nccl needs the job on CUDA (--device cuda)");
  const std::string master = s.masterAddr + ":" + std::to_string(s.masterPort);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(s.masterPort);
    so.isServer = s.rank == 0;
    so.numWorkers = static_cast<std::size_t>(s.worldSize);
    so.waitWorkers = true;
    so.timeout = std::chrono::milliseconds(static_cast<int64_t>(s.connectSeconds * 1000));
    store = c10::make_intrusive<c10d::TCPStore>(s.masterAddr, so);
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    const std::string cause = msg.substr(0, msg.find('\n'));
    if (s.rank == 0)
      fail("rank 0: cannot serve the rendezvous at MASTER_ADDR:MASTER_PORT ", master, " for ", s.worldSize,
           " ranks within ", s.connectSeconds, " s (", cause, "); is the port in use, or did a rank not start?");
    fail("rank ", s.rank, ": cannot reach the rendezvous at MASTER_ADDR:MASTER_PORT ", master, " within ",
         s.connectSeconds, " s (", cause, ")");
  }
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(s.timeoutSeconds * 1000));
  try {
#ifdef DUO_HAVE_NCCL
    if (backend == "nccl") {
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = timeout;
      auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, s.rank, s.worldSize, o);
      return std::make_unique<ProcessGroupCollective<c10d::ProcessGroupNCCL>>(store, pg, s.rank, s.worldSize, backend);
    }
#endif
    auto o = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (isLoopback(s.masterAddr))
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, s.rank, s.worldSize, o);
    return std::make_unique<ProcessGroupCollective<c10d::ProcessGroupGloo>>(store, pg, s.rank, s.worldSize, backend);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    fail("rank ", s.rank, ": cannot open the ", backend, " process group of ", s.worldSize, " ranks at ", master, " (",
         msg.substr(0, msg.find('\n')), ")");
  }
#endif
}

}  // namespace duo
