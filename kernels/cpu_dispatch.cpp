// SPDX-License-Identifier: GPL-3.0-or-later
// The optimised CPU kernels: input checks, the ISA chosen at run time, and the split of the work
// over OpenMP threads (row ranges for dense and N:M, whole strips for the column-packed format).
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cpu_isa.h"
#include "kernels/matvec.h"

namespace duo::kernels::cpu {

namespace {

constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni};

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
    case Isa::Avx512Vnni: return cpuHas(Isa::Avx512) && detail::cpuHasVnni();
  }
  return false;
#else
  return isa == Isa::Scalar;
#endif
}

Isa bestIsa() {
  if (const char* env = std::getenv("DUO_KERNEL_ISA")) {
    for (Isa isa : kAllIsas)
      if (std::strcmp(env, isaName(isa)) == 0 && cpuHas(isa)) return isa;
  }
  if (cpuHas(Isa::Avx512Vnni)) return Isa::Avx512Vnni;
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
    case Isa::Avx512Vnni: return detail::avx512VnniKernels();
    case Isa::Avx512: return detail::avx512Kernels();
    case Isa::Avx2: return detail::avx2Kernels();
    case Isa::Scalar: break;
  }
  return detail::scalarKernels();
}

const detail::IsaKernels& kernels() { return kernelsFor(currentIsa().load(std::memory_order_relaxed)); }

// Below this many weights a product runs on one thread (OpenMP start-up costs more than it saves).
constexpr std::int64_t kParallelMinWeights = 1 << 15;
// Work is cut into about this many chunks per thread and handed out dynamically, so that a thread
// the OS preempts (other processes, a busy machine) delays one chunk, not half of the product.
constexpr std::int64_t kChunksPerThread = 8;

int threadsFor(std::int64_t weights, std::int64_t units) {
  if (weights < kParallelMinWeights) return 1;
  const std::int64_t t = omp_get_max_threads();
  return static_cast<int>(t < units ? t : (units > 0 ? units : 1));
}

std::int64_t chunkSize(std::int64_t units, int threads, std::int64_t minimum, std::int64_t align) {
  std::int64_t c = (units + kChunksPerThread * threads - 1) / (kChunksPerThread * threads);
  c = c < minimum ? minimum : c;
  return (c + align - 1) / align * align;
}

// Per-thread scratch, reused across calls so that a product allocates nothing in steady state.
struct Scratch {
  std::vector<std::int32_t> index;  // [cols] active column indices
  std::vector<float> x;             // [cols, batch] gathered inputs
  AlignedBuffer acc;                // [batch, padded rows] f32: this thread's partial y (64-byte aligned)
  std::vector<std::int8_t> q8;      // [blocks * kInputBlock] one input rounded to int8 (int8 inputs)
  std::vector<float> q8Scale;       // [blocks] its block scales
  std::vector<const std::int8_t*> quadCol;  // [4 * quads] int8 inputs' active columns, in quads (dense W)
  std::vector<std::int32_t> quadIndex;        // [4 * quads] their column indices
  std::vector<std::int8_t> quadQ, quadAbs;   // [4 * quads] their inputs and |inputs|
  std::vector<detail::Q8Block> q8Blocks;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// This thread's partial output, [batch, stride] f32, zeroed.
float* zeroedPartial(int batch, std::int64_t stride) {
  AlignedBuffer& buf = scratch().acc;
  const std::size_t bytes = static_cast<std::size_t>(batch * stride) * sizeof(float);
  if (buf.size() < bytes) buf.resize(bytes);
  std::memset(buf.data(), 0, bytes);
  return buf.as<float>();
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

// Runs addChunk(c, partial) for chunks c in [0, chunks) on nt threads, each adding into its own
// zeroed [batch, stride] partial output; then y [batch, rows] = the sum of the partials. The sum
// runs on the calling thread after the parallel region (a few thousand adds), so the threads meet
// only once: on a busy machine every meeting point can wait for a thread the OS has preempted.
template <typename AddChunk>
void reduceOverChunks(int nt, std::int64_t chunks, std::int64_t rows, std::int64_t stride, int batch, float* y,
                      AddChunk addChunk) {
  std::vector<float*> partial(static_cast<std::size_t>(nt), nullptr);  // [threads] (null: no chunk taken)
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    float* mine = nullptr;
#pragma omp for schedule(dynamic, 1) nowait
    for (std::int64_t c = 0; c < chunks; ++c) {
      if (!mine) mine = zeroedPartial(batch, stride);
      addChunk(c, mine);
    }
    partial[static_cast<std::size_t>(omp_get_thread_num())] = mine;
  }
  bool first = true;
  for (const float* src : partial) {
    if (!src) continue;
    for (int b = 0; b < batch; ++b) {
      float* dst = y + b * rows;
      const float* s = src + b * stride;
      if (first)
        std::memcpy(dst, s, static_cast<std::size_t>(rows) * sizeof(float));
      else
        for (std::int64_t r = 0; r < rows; ++r) dst[r] += s[r];
    }
    first = false;
  }
  if (first) std::memset(y, 0, static_cast<std::size_t>(batch * rows) * sizeof(float));  // no chunks at all
}

// I8 matrices: the kernels add up q * x; each row's scale multiplies its sum once, here (y [batch,
// rows], rows [r0, r1)). Nothing to do for the float types (rowScale is null).
void applyRowScales(const float* rowScale, float* y, std::int64_t rows, int batch, std::int64_t r0, std::int64_t r1) {
  if (rowScale == nullptr) return;
  for (int b = 0; b < batch; ++b)
    for (std::int64_t r = r0; r < r1; ++r) y[b * rows + r] *= rowScale[r];
}

// Rows [r0, r1) of chunk c, chunks of `size` rows.
void chunkRows(std::int64_t rows, std::int64_t size, std::int64_t c, std::int64_t& r0, std::int64_t& r1) {
  r0 = c * size;
  r1 = r0 + size < rows ? r0 + size : rows;
}

// Column-major: chunks of active columns, each thread adding whole columns (one forward stream)
// into its partial y.
void colMajorProduct(const DenseView& w, const float* x, float* y, int batch, bool skipZeros) {
  Scratch& s = scratch();
  const detail::ActiveColumns a = activeColumns(x, w.cols, batch, skipZeros, s);
  const detail::IsaKernels& k = kernels();
  const int nt = threadsFor(w.rows * a.count, a.count);
  const std::int64_t size = chunkSize(a.count, nt, 4, 4);
  const std::int64_t chunks = (a.count + size - 1) / size;
  const std::int64_t stride = (w.rows + 15) / 16 * 16;
  reduceOverChunks(nt, chunks, w.rows, stride, batch, y, [&](std::int64_t c, float* part) {
    const std::int64_t k0 = c * size, k1 = k0 + size < a.count ? k0 + size : a.count;
    k.colMajorAdd(w, detail::ActiveColumns{a.index + k0, a.x + k0 * batch, k1 - k0}, part, stride, batch, 0, w.rows);
  });
  applyRowScales(w.type == ValueType::I8 ? w.rowScale : nullptr, y, w.rows, batch, 0, w.rows);
}

// Column-packed: the work is the list of (strip, active column) records in storage order (strip-
// major); a chunk is a contiguous stretch of it, so each thread streams forward through memory and
// a skipped column is a skipped record. Partial outputs are indexed by row (strip s's row i is row
// s * stripRows + i), padded to whole strips.
void sparseColumnsProduct(const SparseColumnsView& w, const float* x, float* y, int batch, bool skipZeros) {
  Scratch& s = scratch();
  const detail::ActiveColumns a = activeColumns(x, w.cols, batch, skipZeros, s);
  const detail::IsaKernels& k = kernels();
  const std::int64_t records = static_cast<std::int64_t>(w.strips) * a.count;
  if (records == 0) {  // nothing to add: y = 0
    std::memset(y, 0, static_cast<std::size_t>(batch * w.rows) * sizeof(float));
    return;
  }
  const std::int64_t stride = static_cast<std::int64_t>(w.strips) * w.stripRows;
  const double visited = static_cast<double>(a.count) / static_cast<double>(w.cols);
  const int nt = threadsFor(static_cast<std::int64_t>(static_cast<double>(w.nnz) * visited) + records, records);
  const std::int64_t size = chunkSize(records, nt, 16, 2);
  const std::int64_t chunks = (records + size - 1) / size;
  reduceOverChunks(nt, chunks, w.rows, stride, batch, y, [&](std::int64_t c, float* acc) {
    const std::int64_t p0 = c * size, p1 = p0 + size < records ? p0 + size : records;
    const auto s0 = static_cast<std::int32_t>(p0 / a.count), s1 = static_cast<std::int32_t>((p1 - 1) / a.count);
    for (std::int32_t st = s0; st <= s1; ++st) {
      const std::int64_t k0 = st == s0 ? p0 % a.count : 0;
      const std::int64_t k1 = st == s1 ? (p1 - 1) % a.count + 1 : a.count;
      const detail::ActiveColumns cols{a.index + k0, a.x + k0 * batch, k1 - k0};
      k.sparseStripAdd(w, st, cols, acc + static_cast<std::int64_t>(st) * w.stripRows, stride, batch);
    }
  });
  applyRowScales(w.type == ValueType::I8 ? w.rowScale : nullptr, y, w.rows, batch, 0, w.rows);
}

// Row-major (dense, N:M): chunks of rows, written straight into y.
template <typename Rows>
void rowChunks(std::int64_t rows, std::int64_t work, Rows fn) {
  const int nt = threadsFor(work, (rows + 3) / 4);
  const std::int64_t size = chunkSize(rows, nt, 4, 4);
  const std::int64_t chunks = (rows + size - 1) / size;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
  for (std::int64_t c = 0; c < chunks; ++c) {
    std::int64_t r0, r1;
    chunkRows(rows, size, c, r0, r1);
    fn(r0, r1);
  }
}

// Int8 inputs, row-major: each batch row's input rounded in blocks, then chunks of rows as above.
void denseQ8Product(const DenseView& w, const float* x, float* y, int batch) {
  const detail::IsaKernels& k = kernels();
  Scratch& s = scratch();
  s.q8.resize(static_cast<std::size_t>(inputBlocks(w.cols) * kInputBlock));
  s.q8Scale.resize(static_cast<std::size_t>(inputBlocks(w.cols)));
  for (int b = 0; b < batch; ++b) {
    k.quantizeInputs(x + b * w.cols, w.cols, s.q8.data(), s.q8Scale.data());
    float* yb = y + b * w.rows;
    rowChunks(w.rows, w.rows * w.cols, [&](std::int64_t r0, std::int64_t r1) {
      k.denseRowsQ8(w, s.q8.data(), s.q8Scale.data(), yb, r0, r1);
      applyRowScales(w.rowScale, yb, w.rows, 1, r0, r1);
    });
  }
}

// Int8 inputs, column-major (dense or column-packed W): input blocks [blk0, blk1) of one input
// vector x [cols] rounded (block by block, so any range rounds as the whole vector does), its
// non-zero int8 inputs grouped in quads per block (a zero rounded input skips its column, whatever
// the product) into s.quadIndex/quadQ/quadAbs, and, for dense W (kDense: values and ld are W's),
// each slot's column start into s.quadCol. Returns the blocks with an active column, described in
// s.q8Blocks.
template <bool kDense>
std::int64_t q8Quads(const detail::IsaKernels& k, const float* x, std::int64_t cols, std::int64_t blk0,
                     std::int64_t blk1, const std::int8_t* values, std::int64_t ld, Scratch& s) {
  const std::int64_t blocks = blk1 - blk0, j0 = blk0 * kInputBlock;
  s.q8.resize(static_cast<std::size_t>(blocks * kInputBlock));
  s.q8Scale.resize(static_cast<std::size_t>(blocks));
  k.quantizeInputs(x + j0, std::min(cols, blk1 * kInputBlock) - j0, s.q8.data(), s.q8Scale.data());
  const std::size_t slots = static_cast<std::size_t>(blocks * kInputBlock + 3 * blocks);
  s.quadCol.resize(kDense ? slots : 0);
  const std::int8_t** col = s.quadCol.data();
  s.quadIndex.resize(slots);
  s.quadQ.resize(slots);
  s.quadAbs.resize(slots);
  s.q8Blocks.resize(static_cast<std::size_t>(blocks));
  std::int32_t* index = s.quadIndex.data();
  std::int8_t* qv = s.quadQ.data();
  std::int8_t* qa = s.quadAbs.data();
  std::int64_t n = 0, used = 0;
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int8_t* qb = s.q8.data() + b * kInputBlock;
    std::uint32_t active = 0;  // bit i: input i of the block rounds to a non-zero (a loop the compiler vectorises)
    for (int i = 0; i < kInputBlock; ++i) active |= static_cast<std::uint32_t>(qb[i] != 0) << i;
    if (active == 0) continue;  // nothing active here
    const std::int64_t begin = n;
    for (; active != 0; active &= active - 1, ++n) {  // the active inputs only, in ascending order
      const int i = __builtin_ctz(active);
      const std::int64_t j = j0 + b * kInputBlock + i;
      index[n] = static_cast<std::int32_t>(j);
      if constexpr (kDense) col[n] = values + j * ld;
      qv[n] = qb[i];
      qa[n] = static_cast<std::int8_t>(qb[i] < 0 ? -qb[i] : qb[i]);
    }
    for (; n % 4 != 0; ++n) {  // pad with the last column (in cache), input 0
      index[n] = index[n - 1];
      if constexpr (kDense) col[n] = col[n - 1];
      qv[n] = qa[n] = 0;
    }
    s.q8Blocks[static_cast<std::size_t>(used++)] = detail::Q8Block{
        static_cast<std::int32_t>(begin / 4), static_cast<std::int32_t>(n / 4), s.q8Scale[static_cast<std::size_t>(b)]};
  }
  return used;
}

// Blocks [b0, b1) of the quads q8Quads left in s.
detail::Q8Columns q8Columns(const Scratch& s, std::int64_t b0, std::int64_t b1) {
  detail::Q8Columns c;
  c.column = s.quadCol.data();
  c.index = s.quadIndex.data();
  c.q = s.quadQ.data();
  c.qAbs = s.quadAbs.data();
  c.blocks = s.q8Blocks.data() + b0;
  c.count = b1 - b0;
  return c;
}

// Int8 inputs, dense column-major W: chunks of input blocks over the threads, each chunk rounded,
// gathered into quads and multiplied by the thread that takes it (nothing serial before the
// threads start; a chunk's columns are one forward stretch of W).
void colMajorQ8Product(const DenseView& w, const float* x, float* y, int batch) {
  const detail::IsaKernels& k = kernels();
  const std::int64_t stride = (w.rows + 15) / 16 * 16;
  const std::int64_t blocks = inputBlocks(w.cols);
  const auto* values = static_cast<const std::int8_t*>(w.values);
  for (int b = 0; b < batch; ++b) {
    const float* xb = x + b * w.cols;
    std::int64_t nonZero = 0;  // the threads' estimate: the columns a zero input does not skip
    for (std::int64_t j = 0; j < w.cols; ++j) nonZero += xb[j] != 0.0f;
    float* yb = y + b * w.rows;
    const int nt = threadsFor(w.rows * nonZero, blocks);
    const std::int64_t size = chunkSize(blocks, nt, 1, 1);
    const std::int64_t chunks = (blocks + size - 1) / size;
    reduceOverChunks(nt, chunks, w.rows, stride, 1, yb, [&](std::int64_t c, float* part) {
      Scratch& s = scratch();  // this thread's
      const std::int64_t b0 = c * size, b1 = std::min(b0 + size, blocks);
      const std::int64_t used = q8Quads<true>(k, xb, w.cols, b0, b1, values, w.ld, s);
      k.colMajorAddQ8(w, q8Columns(s, 0, used), part, 0, w.rows);
    });
    applyRowScales(w.rowScale, yb, w.rows, 1, 0, w.rows);
  }
}

// Int8 inputs, column-packed int8 W: chunks of input blocks over the threads, as for dense
// column-major W; each thread rounds and groups its chunk's inputs, then adds the chunk's columns
// of every strip (each strip's records for a column range are one forward stretch of memory).
void sparseColumnsQ8Product(const SparseColumnsView& w, const float* x, float* y, int batch) {
  const detail::IsaKernels& k = kernels();
  const std::int64_t stride = static_cast<std::int64_t>(w.strips) * w.stripRows;
  const std::int64_t blocks = inputBlocks(w.cols);
  for (int b = 0; b < batch; ++b) {
    const float* xb = x + b * w.cols;
    std::int64_t nonZero = 0;  // the threads' estimate: the columns a zero input does not skip
    for (std::int64_t j = 0; j < w.cols; ++j) nonZero += xb[j] != 0.0f;
    float* yb = y + b * w.rows;
    const double visited = static_cast<double>(nonZero) / static_cast<double>(w.cols > 0 ? w.cols : 1);
    const int nt = threadsFor(static_cast<std::int64_t>(static_cast<double>(w.nnz) * visited), blocks);
    const std::int64_t size = chunkSize(blocks, nt, 1, 1);
    const std::int64_t chunks = (blocks + size - 1) / size;
    reduceOverChunks(nt, chunks, w.rows, stride, 1, yb, [&](std::int64_t c, float* part) {
      Scratch& s = scratch();  // this thread's
      const std::int64_t b0 = c * size, b1 = std::min(b0 + size, blocks);
      const std::int64_t used = q8Quads<false>(k, xb, w.cols, b0, b1, nullptr, 0, s);
      if (used == 0) return;
      for (std::int32_t st = 0; st < w.strips; ++st)
        k.sparseStripAddQ8(w, st, q8Columns(s, 0, used), part + static_cast<std::int64_t>(st) * w.stripRows);
    });
    applyRowScales(w.rowScale, yb, w.rows, 1, 0, w.rows);
  }
}

void nmProduct(const NmView& w, const float* x, float* y, int batch) {
  const detail::IsaKernels& k = kernels();
  const float* scale = w.type == ValueType::I8 ? w.rowScale : nullptr;
  rowChunks(w.rows, w.rows * w.valuesPerRow(), [&](std::int64_t r0, std::int64_t r1) {
    k.nmRows(w, x, y, batch, r0, r1);
    applyRowScales(scale, y, w.rows, batch, r0, r1);
  });
}

}  // namespace

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Vnni: return "avx512-vnni";
  }
  return "?";
}

Isa parseIsa(const std::string& name) {
  for (Isa isa : kAllIsas)
    if (name == isaName(isa)) return isa;
  fail("CPU instruction set: expected scalar, avx2, avx512 or avx512-vnni, got '", name, "'");
}

std::vector<Isa> supportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas)
    if (cpuHas(isa)) out.push_back(isa);
  return out;
}

Isa activeIsa() { return currentIsa().load(); }

bool packedInt8InputsAtSpeed() { return activeIsa() == Isa::Avx512Vnni; }

void setIsa(Isa isa) {
  DUO_CHECK(cpuHas(isa), "cpu::setIsa: this CPU cannot run the ", isaName(isa), " kernels");
  currentIsa().store(isa);
}

void quantizeInputs(const float* x, std::int64_t n, std::int8_t* q, float* scale) {
  kernels().quantizeInputs(x, n, q, scale);
}

void denseGemv(const DenseView& w, const float* x, float* y, int batch) {
  checkProduct("cpu::denseGemv", w, x, y, batch);
  if (w.int8Inputs) return w.layout == Layout::ColMajor ? colMajorQ8Product(w, x, y, batch) : denseQ8Product(w, x, y, batch);
  if (w.layout == Layout::ColMajor) return colMajorProduct(w, x, y, batch, false);
  const detail::IsaKernels& k = kernels();
  const float* scale = w.type == ValueType::I8 ? w.rowScale : nullptr;
  rowChunks(w.rows, w.rows * w.cols, [&](std::int64_t r0, std::int64_t r1) {
    k.denseRows(w, x, y, batch, r0, r1);
    applyRowScales(scale, y, w.rows, batch, r0, r1);
  });
}

void actSparseGemv(const DenseView& w, const float* x, float* y, int batch) {
  checkProduct("cpu::actSparseGemv", w, x, y, batch);
  checkColMajor(w, "cpu::actSparseGemv");
  if (w.int8Inputs) return colMajorQ8Product(w, x, y, batch);
  colMajorProduct(w, x, y, batch, true);
}

void weightSparseSpmv(const SparseColumnsView& w, const float* x, float* y, int batch) {
  checkProduct("cpu::weightSparseSpmv", w, x, y, batch);
  if (w.int8Inputs) return sparseColumnsQ8Product(w, x, y, batch);  // a zero rounded input adds nothing
  sparseColumnsProduct(w, x, y, batch, false);
}

void dualSparseSpmspv(const SparseColumnsView& w, const float* x, float* y, int batch) {
  checkProduct("cpu::dualSparseSpmspv", w, x, y, batch);
  if (w.int8Inputs) return sparseColumnsQ8Product(w, x, y, batch);
  sparseColumnsProduct(w, x, y, batch, true);
}

void weightSparseSpmv(const NmView& w, const float* x, float* y, int batch) {
  checkProduct("cpu::weightSparseSpmv", w, x, y, batch);
  nmProduct(w, x, y, batch);
}

void dualSparseSpmspv(const NmView& w, const float* x, float* y, int batch) {
  // Row-major N:M: a zero input saves no bytes, so this is the weight-sparse product (zero inputs
  // contribute zero); see kernels/nm_sparse.h.
  checkProduct("cpu::dualSparseSpmspv", w, x, y, batch);
  nmProduct(w, x, y, batch);
}

}  // namespace duo::kernels::cpu
