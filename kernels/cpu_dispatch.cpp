// The optimised CPU kernels: input checks, the ISA chosen at run time, and the split of the work
// over OpenMP threads (row ranges for dense and N:M, whole strips for the column-packed format).
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cpu_isa.h"
#include "kernels/matvec.h"

namespace duo::kernels::cpu {

namespace {

bool cpuHas(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
             __builtin_cpu_supports("popcnt");
    case Isa::Avx512:
      return cpuHas(Isa::Avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return false;
#else
  return isa == Isa::Scalar;
#endif
}

Isa bestIsa() {
  if (const char* env = std::getenv("DUO_KERNEL_ISA")) {
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
      if (std::strcmp(env, isaName(isa)) == 0 && cpuHas(isa)) return isa;
  }
  if (cpuHas(Isa::Avx512)) return Isa::Avx512;
  if (cpuHas(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

std::atomic<Isa>& currentIsa() {
  static std::atomic<Isa> isa{bestIsa()};
  return isa;
}

const detail::IsaKernels& kernelsFor(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return detail::avx512Kernels();
    case Isa::Avx2: return detail::avx2Kernels();
    case Isa::Scalar: break;
  }
  return detail::scalarKernels();
}

const detail::IsaKernels& kernels() { return kernelsFor(currentIsa().load(std::memory_order_relaxed)); }

// Below this many weights a product runs on one thread (OpenMP start-up costs more than it saves).
constexpr std::int64_t kParallelMinWeights = 1 << 16;

int threadsFor(std::int64_t weights, std::int64_t units) {
  if (weights < kParallelMinWeights) return 1;
  const std::int64_t t = omp_get_max_threads();
  return static_cast<int>(t < units ? t : (units > 0 ? units : 1));
}

// Per-thread scratch, reused across calls so that a product allocates nothing in steady state.
struct Scratch {
  std::vector<std::int32_t> index;  // [cols] active column indices
  std::vector<float> x;             // [cols, batch] gathered inputs
  AlignedBuffer ys;                 // [batch, stripRows] f32, one strip's outputs (64-byte aligned:
                                    // every 16-row slice is one cache line)
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Collects the columns to visit: all of them, or (skipZeros) those with a non-zero input in some
// batch row. The gathered inputs are laid out column after column for the kernels.
detail::ActiveColumns activeColumns(const float* x, std::int64_t cols, int batch, bool skipZeros, Scratch& s) {
  s.index.resize(static_cast<std::size_t>(cols));
  s.x.resize(static_cast<std::size_t>(cols * batch));
  std::int64_t n = 0;
  for (std::int64_t j = 0; j < cols; ++j) {
    bool active = !skipZeros;
    for (int b = 0; b < batch && !active; ++b) active = x[b * cols + j] != 0.0f;
    if (!active) continue;
    s.index[static_cast<std::size_t>(n)] = static_cast<std::int32_t>(j);
    for (int b = 0; b < batch; ++b) s.x[static_cast<std::size_t>(n * batch + b)] = x[b * cols + j];
    ++n;
  }
  return detail::ActiveColumns{s.index.data(), s.x.data(), n};
}

// Rows [r0, r1) of thread t out of nt, in chunks that are multiples of `align` rows.
void rowRange(std::int64_t rows, int t, int nt, std::int64_t align, std::int64_t& r0, std::int64_t& r1) {
  std::int64_t chunk = (rows + nt - 1) / nt;
  chunk = (chunk + align - 1) / align * align;
  r0 = t * chunk < rows ? t * chunk : rows;
  r1 = r0 + chunk < rows ? r0 + chunk : rows;
}

void colMajorProduct(const DenseView& w, const float* x, float* y, int batch, bool skipZeros) {
  Scratch& s = scratch();
  const detail::ActiveColumns a = activeColumns(x, w.cols, batch, skipZeros, s);
  const detail::IsaKernels& k = kernels();
  const int nt = threadsFor(w.rows * a.count, (w.rows + 15) / 16);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::int64_t r0, r1;
    rowRange(w.rows, omp_get_thread_num(), omp_get_num_threads(), 16, r0, r1);
    if (r0 < r1) k.colMajorRows(w, a, y, batch, r0, r1);
  }
}

// The work is the list of (strip, active column) records in storage order (strip-major). Thread t
// takes the contiguous share [t P / T, (t + 1) P / T) of the P = strips x active records, so each
// thread streams one forward stretch of the packed arrays; skipped columns are skipped stretches.
// A strip whose columns fall to several threads gets their private partial outputs summed.
void sparseColumnsProduct(const SparseColumnsView& w, const float* x, float* y, int batch, bool skipZeros) {
  Scratch& s = scratch();
  const detail::ActiveColumns a = activeColumns(x, w.cols, batch, skipZeros, s);
  const detail::IsaKernels& k = kernels();
  const std::int64_t records = static_cast<std::int64_t>(w.strips) * a.count;
  if (records == 0) {  // nothing to add: y = 0
    std::memset(y, 0, static_cast<std::size_t>(batch * w.rows) * sizeof(float));
    return;
  }
  const std::int64_t ysStride = static_cast<std::int64_t>(w.strips) * w.stripRows;  // padded rows per batch row
  const std::size_t ysBytes = static_cast<std::size_t>(batch * ysStride) * sizeof(float);
  const double visited = static_cast<double>(a.count) / static_cast<double>(w.cols);
  const int nt = threadsFor(static_cast<std::int64_t>(static_cast<double>(w.nnz) * visited) + records, records);
  std::vector<float*> partial(static_cast<std::size_t>(nt), nullptr);            // [threads] private outputs
  std::vector<std::int32_t> first(static_cast<std::size_t>(nt), 0), last(static_cast<std::size_t>(nt), -1);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    AlignedBuffer& buf = scratch().ys;  // this thread's [batch, strips * stripRows] f32
    if (buf.size() < ysBytes) buf.resize(ysBytes);
    float* yt = buf.as<float>();
    partial[static_cast<std::size_t>(t)] = yt;
    const std::int64_t p0 = records * t / n, p1 = records * (t + 1) / n;
    if (p0 < p1) {
      const auto s0 = static_cast<std::int32_t>(p0 / a.count), s1 = static_cast<std::int32_t>((p1 - 1) / a.count);
      first[static_cast<std::size_t>(t)] = s0;
      last[static_cast<std::size_t>(t)] = s1;
      for (std::int32_t st = s0; st <= s1; ++st) {
        const std::int64_t k0 = st == s0 ? p0 % a.count : 0;
        const std::int64_t k1 = st == s1 ? (p1 - 1) % a.count + 1 : a.count;
        const detail::ActiveColumns part{a.index + k0, a.x + k0 * batch, k1 - k0};
        k.sparseStrip(w, st, part, yt + static_cast<std::int64_t>(st) * w.stripRows, ysStride, batch);
      }
    }
#pragma omp barrier
    // y = the sum of the partial outputs of the threads that visited each strip.
#pragma omp for schedule(static)
    for (std::int32_t st = 0; st < w.strips; ++st) {
      const std::int64_t r0 = w.stripBegin(st), r1 = w.stripEnd(st);
      for (int b = 0; b < batch; ++b) {
        float* dst = y + b * w.rows;
        bool written = false;
        for (int u = 0; u < n; ++u) {
          if (st < first[static_cast<std::size_t>(u)] || st > last[static_cast<std::size_t>(u)]) continue;
          const float* src = partial[static_cast<std::size_t>(u)] + b * ysStride;
          if (!written)
            std::memcpy(dst + r0, src + r0, static_cast<std::size_t>(r1 - r0) * sizeof(float));
          else
            for (std::int64_t r = r0; r < r1; ++r) dst[r] += src[r];
          written = true;
        }
        if (!written) std::memset(dst + r0, 0, static_cast<std::size_t>(r1 - r0) * sizeof(float));
      }
    }
  }
}

void nmProduct(const NmView& w, const float* x, float* y, int batch) {
  const detail::IsaKernels& k = kernels();
  const int nt = threadsFor(w.rows * w.valuesPerRow(), w.rows);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::int64_t r0, r1;
    rowRange(w.rows, omp_get_thread_num(), omp_get_num_threads(), 4, r0, r1);
    if (r0 < r1) k.nmRows(w, x, y, batch, r0, r1);
  }
}

}  // namespace

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa parseIsa(const std::string& name) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (name == isaName(isa)) return isa;
  fail("CPU instruction set: expected scalar, avx2 or avx512, got '", name, "'");
}

std::vector<Isa> supportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (cpuHas(isa)) out.push_back(isa);
  return out;
}

Isa activeIsa() { return currentIsa().load(); }

void setIsa(Isa isa) {
  DUO_CHECK(cpuHas(isa), "cpu::setIsa: this CPU cannot run the ", isaName(isa), " kernels");
  currentIsa().store(isa);
}

void denseGemv(const DenseView& w, const float* x, float* y, int batch) {
  checkMatVec("cpu::denseGemv", w.rows, w.cols, x, y, batch);
  checkView(w, "cpu::denseGemv");
  if (w.layout == Layout::ColMajor) return colMajorProduct(w, x, y, batch, false);
  const detail::IsaKernels& k = kernels();
  const int nt = threadsFor(w.rows * w.cols, w.rows);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::int64_t r0, r1;
    rowRange(w.rows, omp_get_thread_num(), omp_get_num_threads(), 4, r0, r1);
    if (r0 < r1) k.denseRows(w, x, y, batch, r0, r1);
  }
}

void actSparseGemv(const DenseView& w, const float* x, float* y, int batch) {
  checkMatVec("cpu::actSparseGemv", w.rows, w.cols, x, y, batch);
  checkView(w, "cpu::actSparseGemv");
  DUO_CHECK(w.layout == Layout::ColMajor, "cpu::actSparseGemv: needs a column-major matrix (a zero input skips a "
                                          "contiguous column), got row-major");
  colMajorProduct(w, x, y, batch, true);
}

void weightSparseSpmv(const SparseColumnsView& w, const float* x, float* y, int batch) {
  checkMatVec("cpu::weightSparseSpmv", w.rows, w.cols, x, y, batch);
  checkView(w, "cpu::weightSparseSpmv");
  sparseColumnsProduct(w, x, y, batch, false);
}

void dualSparseSpmspv(const SparseColumnsView& w, const float* x, float* y, int batch) {
  checkMatVec("cpu::dualSparseSpmspv", w.rows, w.cols, x, y, batch);
  checkView(w, "cpu::dualSparseSpmspv");
  sparseColumnsProduct(w, x, y, batch, true);
}

void weightSparseSpmv(const NmView& w, const float* x, float* y, int batch) {
  checkMatVec("cpu::weightSparseSpmv", w.rows, w.cols, x, y, batch);
  checkView(w, "cpu::weightSparseSpmv");
  nmProduct(w, x, y, batch);
}

void dualSparseSpmspv(const NmView& w, const float* x, float* y, int batch) {
  // Row-major N:M: a zero input saves no bytes, so this is the weight-sparse product (zero inputs
  // contribute zero); see kernels/nm_sparse.h.
  checkMatVec("cpu::dualSparseSpmspv", w.rows, w.cols, x, y, batch);
  checkView(w, "cpu::dualSparseSpmspv");
  nmProduct(w, x, y, batch);
}

}  // namespace duo::kernels::cpu
