// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/bench/kernel_bench.h"

#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "core/bench/machine_probes.h"
#include "core/common/error.h"
#include "kernels/cuda/cuda_matvec.h"
#include "kernels/matvec.h"

// The one BLAS routine we need, declared here so that no cblas.h is required (row-major = 101,
// no-transpose = 111 in every CBLAS). libblas.so.3 resolves to OpenBLAS on our machines.
extern "C" void cblas_sgemv(int order, int trans, int m, int n, float alpha, const float* a, int lda, const float* x,
                            int incx, float beta, float* y, int incy);

namespace duo::perf {

namespace k = duo::kernels;

namespace {

constexpr int kCblasRowMajor = 101;
constexpr int kCblasNoTrans = 111;
constexpr int kInputs = 16;  // input vectors rotated through (each its own zero pattern)

using Clock = std::chrono::steady_clock;

void setBlasThreads(int n) {
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

// Copies of a format so that they together exceed `rotateBytes` (at least one).
int copiesFor(double formatBytes, double rotateBytes) {
  const double n = std::ceil(rotateBytes / std::max(formatBytes, 1.0));
  return static_cast<int>(std::clamp(n, 1.0, 1024.0));
}

struct Problem {
  std::vector<float> w;  // [rows, cols] masked, values rounded to the storage type
  std::vector<float> x;  // [kInputs, cols]
};

Problem makeProblem(const KernelBenchConfig& c) {
  std::mt19937_64 rng(c.seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Problem p;
  p.w.resize(static_cast<std::size_t>(c.rows * c.cols));
  for (auto& v : p.w) {
    const bool keep = u(rng) >= c.wSparsity;
    const float g = normal(rng);
    const float g1 = g == 0.0f ? 1.0f : g;
    v = keep ? (c.type == k::ValueType::I8 ? g1 : k::roundTo(c.type, g1)) : 0.0f;  // int8: quantised per row when packed
  }
  p.x.resize(static_cast<std::size_t>(kInputs * c.cols));
  std::vector<std::int64_t> order(static_cast<std::size_t>(c.cols));
  const auto zeros = static_cast<std::int64_t>(std::llround(c.aSparsity * static_cast<double>(c.cols)));
  for (int i = 0; i < kInputs; ++i) {
    for (std::int64_t j = 0; j < c.cols; ++j) order[static_cast<std::size_t>(j)] = j;
    std::shuffle(order.begin(), order.end(), rng);
    float* xi = p.x.data() + static_cast<std::size_t>(i) * c.cols;
    for (std::int64_t r = 0; r < c.cols; ++r) {
      const float g = normal(rng);
      xi[order[static_cast<std::size_t>(r)]] = r < zeros ? 0.0f : (g == 0.0f ? 1.0f : g);
    }
  }
  return p;
}

std::string cpuDevice() {
  std::ostringstream os;
  os << "cpu: " << k::cpu::isaName(k::cpu::activeIsa()) << " kernels, " << omp_get_max_threads() << " threads";
  return os.str();
}

void fillModel(KernelBenchResult& r) {
  const KernelBenchConfig& c = r.config;
  const double blasMedian = r.at(Kernel::BlasDense).medianUs;
  for (Kernel kind : kAllKernels) {
    KernelTiming& t = r.kernels[static_cast<std::size_t>(kind)];
    MatVec m{c.rows, c.cols, c.wSparsity, c.aSparsity, c.type, r.stripRows};
    // OpenBLAS multiplies f32; cuBLAS multiplies like types but has no row-scaled int8 product.
    if (kind == Kernel::BlasDense && (!c.cuda || c.type == k::ValueType::I8)) m.type = k::ValueType::F32;
    t.bytes = kernelBytes(kind, m).total();
    t.predictedUs = 1e6 * predictSeconds(kernelBytes(kind, m), r.modelBandwidthGbs);
    if (!t.ran) continue;
    t.gbs = t.bytes / (t.medianUs * 1e-6) / 1e9;
    t.speedupVsBlas = blasMedian > 0 ? blasMedian / t.medianUs : 0.0;
  }
}

void report(const ProgressFn& progress, int done, const char* what, int total = 5) {
  reportProgress(progress, Progress{"bench", what, done, total});
}

// W in the formats the kernels read: dense row-major and column-major, and column-packed with
// strips of `stripRows` (0: the packer's choice; its index and strip height go into r), with how
// many copies of each together exceed `rotateBytes` (copy 0 is the original).
struct Formats {
  k::DenseMatrix rowMajor, colMajor;
  k::SparseColumns packed;
  int denseCopies = 1, sparseCopies = 1;
};

Formats packFormats(const KernelBenchConfig& c, const Problem& p, int stripRows, double rotateBytes,
                    KernelBenchResult& r) {
  k::PackOptions opt;
  opt.type = c.type;
  opt.stripRows = stripRows;
  Formats f;
  f.rowMajor = k::DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, k::Layout::RowMajor, c.type);
  f.colMajor = k::DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, k::Layout::ColMajor, c.type);
  f.packed = k::SparseColumns::pack(p.w.data(), c.rows, c.cols, opt);
  f.denseCopies = copiesFor(static_cast<double>(f.rowMajor.bytes()), rotateBytes);
  f.sparseCopies = copiesFor(static_cast<double>(f.packed.bytes().total()), rotateBytes);
  r.index = k::indexKindName(f.packed.index());
  r.stripRows = f.packed.view().stripRows;
  return f;
}

KernelBenchResult runCpu(const KernelBenchConfig& c, const ProgressFn& progress) {
  KernelBenchResult r;
  r.config = c;
  r.device = cpuDevice();
  r.blas = blasName();
  r.threads = omp_get_max_threads();
  const double rotate = c.rotateMiB > 0 ? c.rotateMiB * 1048576.0 : 4.0 * static_cast<double>(lastLevelCacheBytes());

  const Problem p = makeProblem(c);
  const Formats f = packFormats(c, p, 0, rotate, r);
  const int nDense = f.denseCopies, nSparse = f.sparseCopies;
  const int nBlas = copiesFor(4.0 * static_cast<double>(c.rows * c.cols), rotate);
  r.copies = std::max({nDense, nSparse, nBlas});
  std::vector<k::DenseMatrix> rows(static_cast<std::size_t>(nDense), f.rowMajor),
      cols(static_cast<std::size_t>(nDense), f.colMajor);
  std::vector<k::SparseColumns> sparse(static_cast<std::size_t>(nSparse), f.packed);
  std::vector<std::vector<float>> blasW;  // [rows, cols] f32 copies for sgemv
  if (c.type == k::ValueType::F32) {
    blasW.clear();  // sgemv reads our row-major f32 copies directly
  } else {
    blasW.assign(static_cast<std::size_t>(nBlas), p.w);
  }
  auto blasMatrix = [&](int i) -> const float* {
    if (c.type == k::ValueType::F32) return static_cast<const float*>(rows[static_cast<std::size_t>(i % nDense)].data());
    return blasW[static_cast<std::size_t>(i % nBlas)].data();
  };

  const std::size_t ny = static_cast<std::size_t>(c.rows);
  std::vector<float> y(ny), yDense(ny);  // [rows] f32
  auto x = [&](int i) { return p.x.data() + static_cast<std::size_t>(i % kInputs) * c.cols; };
  const int threads = omp_get_max_threads();
  setBlasThreads(threads);

  // Every kernel of ours with int8 inputs when asked.
  auto q8 = [&](auto v) {
    v.int8Inputs = c.int8Inputs;
    return v;
  };
  using Run = std::function<void(int)>;
  const std::array<Run, 5> runs = {
      Run([&](int i) {
        cblas_sgemv(kCblasRowMajor, kCblasNoTrans, static_cast<int>(c.rows), static_cast<int>(c.cols), 1.0f,
                    blasMatrix(i), static_cast<int>(c.cols), x(i), 1, 0.0f, y.data(), 1);
      }),
      Run([&](int i) { k::cpu::denseGemv(q8(rows[static_cast<std::size_t>(i % nDense)].view()), x(i), y.data()); }),
      Run([&](int i) { k::cpu::actSparseGemv(q8(cols[static_cast<std::size_t>(i % nDense)].view()), x(i), y.data()); }),
      Run([&](int i) { k::cpu::weightSparseSpmv(q8(sparse[static_cast<std::size_t>(i % nSparse)].view()), x(i), y.data()); }),
      Run([&](int i) { k::cpu::dualSparseSpmspv(q8(sparse[static_cast<std::size_t>(i % nSparse)].view()), x(i), y.data()); }),
  };
  runs[1](0);
  yDense = y;
  for (std::size_t i = 0; i < runs.size(); ++i) {  // correctness first: each output vs our dense one
    std::fill(y.begin(), y.end(), std::nanf(""));
    runs[i](0);
    r.kernels[i].error = k::normalisedError(y.data(), yDense.data(), ny);
  }
  // Timing in rounds: every round times each kernel for a few calls, so that all kernels sample the
  // same stretches of a machine whose load and memory traffic change (a shared 2-core VM can swing
  // 30% within seconds). BLAS comes last in a round and a pause follows it: OpenBLAS's worker
  // threads spin for a while after each call and would steal the cores from our OpenMP threads.
  constexpr int kPerRound = 10;
  const std::array<std::size_t, 5> order = {1, 2, 3, 4, 0};
  std::array<std::vector<double>, 5> samples;
  const int rounds = (c.repeats + kPerRound - 1) / kPerRound;
  int call = 0;
  for (int round = 0; round < rounds; ++round) {
    report(progress, round, "timing", rounds);
    const int n = std::min(kPerRound, c.repeats - round * kPerRound);
    for (std::size_t i : order) {
      // Untimed calls first: the warm-up, and in every round one full pass over the rotation
      // copies, so that no copy is timed on its first touch in a while. On these VMs (DAMON
      // pageout running) such a touch cost 10-30x a call: the small shapes, with hundreds of
      // copies of which a round timed only a few, measured 0.9 GB/s instead of 25.
      const int warm = std::max(round == 0 ? c.warmup : 1, i == 0 ? (c.type == k::ValueType::F32 ? nDense : nBlas)
                                                            : i <= 2 ? nDense : nSparse);
      for (int w = 0; w < warm; ++w) runs[i](call++);
      for (int j = 0; j < n; ++j) {
        const auto t0 = Clock::now();
        runs[i](call++);
        samples[i].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  for (std::size_t i = 0; i < runs.size(); ++i) {
    std::sort(samples[i].begin(), samples[i].end());
    r.kernels[i].medianUs = samples[i][samples[i].size() / 2];
    r.kernels[i].minUs = samples[i].front();
    r.kernels[i].ran = true;
  }
  report(progress, rounds, "bandwidth", rounds);
  r.copyBandwidthGbs = cpuCopyBandwidthGbs();
  r.readBandwidthGbs = cpuReadBandwidthGbs();
  r.modelBandwidthGbs = r.readBandwidthGbs;
  fillModel(r);
  return r;
}

KernelBenchResult runCuda(const KernelBenchConfig& c, const ProgressFn& progress) {
  namespace cu = duo::kernels::cuda;
  const cu::Status st = cu::status();
  DUO_CHECK(st.available, "bench kernels --device cuda: ", st.reason);
  KernelBenchResult r;
  r.config = c;
  r.device = "cuda: " + st.device;
  r.blas = "cuBLAS";
  r.threads = 0;
  const double rotate = (c.rotateMiB > 0 ? c.rotateMiB : 512.0) * 1048576.0;

  const Problem p = makeProblem(c);
  // GPU strips of 1024 rows: one bitmap word per lane per strip, and enough strips to fill the SMs.
  const Formats f = packFormats(c, p, 1024, rotate, r);
  const int nDense = f.denseCopies, nSparse = f.sparseCopies;
  r.copies = std::max(nDense, nSparse);
  std::vector<std::unique_ptr<cu::DeviceDense>> rows, cols;
  std::vector<std::unique_ptr<cu::DeviceSparseColumns>> sparse;
  for (int i = 0; i < nDense; ++i) {
    rows.push_back(std::make_unique<cu::DeviceDense>(f.rowMajor));
    cols.push_back(std::make_unique<cu::DeviceDense>(f.colMajor));
  }
  for (int i = 0; i < nSparse; ++i) sparse.push_back(std::make_unique<cu::DeviceSparseColumns>(f.packed));
  // cuBLAS multiplies like types: W's type, or f32 for int8 (it has no row-scaled int8 product).
  const k::ValueType blasType = c.type == k::ValueType::I8 ? k::ValueType::F32 : c.type;
  std::vector<std::unique_ptr<cu::DeviceDense>> blasRows;  // int8 only: f32 copies for cuBLAS
  if (blasType != c.type) {
    const k::DenseMatrix f32 = k::DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, k::Layout::RowMajor, blasType);
    const int nBlas = copiesFor(static_cast<double>(f32.bytes()), rotate);
    for (int i = 0; i < nBlas; ++i) blasRows.push_back(std::make_unique<cu::DeviceDense>(f32));
    r.copies = std::max(r.copies, nBlas);
  }
  auto blasMatrix = [&](int i) -> const cu::DeviceDense& {
    return blasRows.empty() ? *rows[static_cast<std::size_t>(i % nDense)] : *blasRows[static_cast<std::size_t>(i) % blasRows.size()];
  };
  // Inputs: f32 for our kernels, blasType for cuBLAS.
  std::vector<unsigned char> xTyped(p.x.size() * k::valueBytes(blasType));
  for (std::size_t i = 0; i < p.x.size(); ++i) k::storeValue(xTyped.data(), blasType, i, p.x[i]);
  cu::DeviceBuffer dx(p.x.size() * sizeof(float)), dxTyped(xTyped.size()), dy(static_cast<std::size_t>(c.rows) * sizeof(float));
  dx.upload(p.x.data(), p.x.size() * sizeof(float));
  dxTyped.upload(xTyped.data(), xTyped.size());
  auto x = [&](int i) { return dx.as<float>() + static_cast<std::size_t>(i % kInputs) * c.cols; };
  auto xt = [&](int i) {
    return static_cast<const unsigned char*>(dxTyped.data()) + static_cast<std::size_t>(i % kInputs) * c.cols * k::valueBytes(blasType);
  };
  float* y = dy.as<float>();
  using Run = std::function<void(int)>;
  const std::array<Run, 5> runs = {
      Run([&](int i) { cu::blasGemv(blasMatrix(i).view(), xt(i), y); }),
      Run([&](int i) { cu::denseGemv(rows[static_cast<std::size_t>(i % nDense)]->view(), x(i), y); }),
      Run([&](int i) { cu::actSparseGemv(cols[static_cast<std::size_t>(i % nDense)]->view(), x(i), y); }),
      Run([&](int i) { cu::weightSparseSpmv(sparse[static_cast<std::size_t>(i % nSparse)]->view(), x(i), y); }),
      Run([&](int i) { cu::dualSparseSpmspv(sparse[static_cast<std::size_t>(i % nSparse)]->view(), x(i), y); }),
  };
  const std::size_t ny = static_cast<std::size_t>(c.rows);
  std::vector<float> yDense(ny), yHost(ny);
  runs[1](0);
  cu::synchronize();
  dy.download(yDense.data(), ny * sizeof(float));
  for (std::size_t i = 0; i < runs.size(); ++i) {
    report(progress, static_cast<int>(i), kernelKey(kAllKernels[i]));
    KernelTiming& t = r.kernels[i];
    dy.fill(0xff);
    runs[i](0);
    cu::synchronize();
    dy.download(yHost.data(), ny * sizeof(float));
    t.error = k::normalisedError(yHost.data(), yDense.data(), ny);
    t.medianUs = cu::medianMicros(runs[i], c.warmup, c.repeats);
    t.minUs = t.medianUs;  // CUDA events: the median is what the device took; no OS scheduling noise
    t.ran = true;
  }
  cu::synchronize();
  report(progress, 5, "bandwidth");
  r.copyBandwidthGbs = cu::copyBandwidthGbs(256u << 20);
  r.readBandwidthGbs = r.copyBandwidthGbs;
  r.modelBandwidthGbs = r.copyBandwidthGbs;
  fillModel(r);
  return r;
}

}  // namespace

KernelBenchResult runKernelBench(const KernelBenchConfig& c, const ProgressFn& progress) {
  DUO_CHECK(c.rows >= 1 && c.cols >= 1, "bench kernels: expected rows and cols >= 1, got ", c.rows, " x ", c.cols);
  DUO_CHECK(c.wSparsity >= 0 && c.wSparsity <= 1 && c.aSparsity >= 0 && c.aSparsity <= 1,
            "bench kernels: sparsities must be in [0, 1], got w ", c.wSparsity, ", a ", c.aSparsity);
  DUO_CHECK(c.repeats >= 1 && c.warmup >= 0, "bench kernels: repeats must be >= 1 and warm-up >= 0, got ", c.repeats,
            " and ", c.warmup);
  DUO_CHECK(c.rows <= (1 << 30) && c.cols <= (1 << 30), "bench kernels: shape too large for BLAS int sizes");
  return c.cuda ? runCuda(c, progress) : runCpu(c, progress);
}

}  // namespace duo::perf
