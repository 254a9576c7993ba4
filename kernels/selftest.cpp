// SPDX-License-Identifier: GPL-3.0-or-later
#include "kernels/selftest.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <type_traits>

#include "kernels/cuda/cuda_matvec.h"

namespace duo::kernels::selftest {

namespace {

std::string caseName(const Case& c) {
  std::ostringstream os;
  os << c.rows << "x" << c.cols << " ";
  if (c.nmM > 0)
    os << c.nmN << ":" << c.nmM;
  else
    os << "w" << c.wSparsity;
  os << " a" << c.aSparsity << " " << valueTypeName(c.type) << " b" << c.batch;
  if (c.stripRows) os << " strip" << c.stripRows;
  return os.str();
}

Case make(std::int64_t rows, std::int64_t cols, double pw, double pa, ValueType t = ValueType::F32, int batch = 1,
          int stripRows = 0, int n = 0, int m = 0) {
  Case c{"", rows, cols, pw, pa, t, batch, stripRows, n, m};
  c.seed = static_cast<std::uint64_t>(rows * 1000003 + cols * 7919 + static_cast<std::int64_t>(pw * 100) * 31 +
                                      static_cast<std::int64_t>(pa * 100) + batch * 17 + n * 5 + m + stripRows);
  c.name = caseName(c);
  return c;
}

// A value that stays non-zero after rounding to any float storage type (int8 quantises each row by
// its own scale when packing, so its problems keep the f32 values).
float nonZeroValue(std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  float v = normal(rng);
  if (std::fabs(v) < 1e-3f) v = v < 0 ? -0.5f : 0.5f;
  return v;
}

// A problem's weight for storage t: rounded to a float type (so every format holds it exactly),
// kept as f32 for I8 (the packers quantise each row with its own scale).
float stored(ValueType t, float v) { return t == ValueType::I8 ? v : roundTo(t, v); }

}  // namespace

std::vector<Case> standardCases() {
  std::vector<Case> out;
  const std::int64_t shapes[][2] = {{1, 1}, {1, 37}, {37, 1}, {5, 7}, {16, 16}, {64, 48}, {100, 257}, {333, 129},
                                    {1024, 600}};
  for (const auto& s : shapes)
    for (double pw : {0.0, 0.5, 0.9, 1.0})
      for (double pa : {0.0, 0.5, 1.0}) out.push_back(make(s[0], s[1], pw, pa));
  // Half-precision and int8 (row-scaled) storage.
  for (ValueType t : {ValueType::F16, ValueType::BF16, ValueType::I8})
    for (const auto& s : {std::array<std::int64_t, 2>{100, 257}, std::array<std::int64_t, 2>{1024, 600}})
      for (double pw : {0.0, 0.5, 0.9})
        for (double pa : {0.0, 0.5}) out.push_back(make(s[0], s[1], pw, pa, t));
  // Small batches (a column is skipped only when zero in every input).
  for (int batch : {2, 3, 8})
    for (double pw : {0.0, 0.5, 0.9})
      for (double pa : {0.0, 0.5, 1.0}) out.push_back(make(333, 129, pw, pa, ValueType::F32, batch));
  out.push_back(make(1024, 600, 0.5, 0.5, ValueType::F16, 4));
  out.push_back(make(1024, 600, 0.5, 0.5, ValueType::I8, 3));
  out.push_back(make(333, 129, 0.5, 0.5, ValueType::I8, 8));
  // Int8: an odd number of whole input blocks (the VNNI row kernel takes blocks in pairs), heights
  // that are not multiples of 64 (its column steps), a width of whole blocks only.
  for (double pw : {0.0, 0.5})
    for (double pa : {0.0, 0.5}) {
      out.push_back(make(200, 97, pw, pa, ValueType::I8));
      out.push_back(make(130, 160, pw, pa, ValueType::I8));
    }
  // Many short strips, and one strip taller than the matrix.
  for (double pw : {0.5, 0.9}) {
    out.push_back(make(333, 129, pw, 0.5, ValueType::F32, 1, 16));
    out.push_back(make(100, 257, pw, 0.5, ValueType::F32, 2, 48));
    out.push_back(make(37, 65, pw, 0.5, ValueType::F16, 1, 512));
    out.push_back(make(333, 129, pw, 0.5, ValueType::I8, 2, 16));
    out.push_back(make(100, 257, pw, 0.5, ValueType::I8, 1, 48));  // strips of 32 rows + 16 (int8 inputs)
    out.push_back(make(300, 160, pw, 0.5, ValueType::I8, 1, 144));  // 64-row steps + 16 (VNNI)
  }
  // N:M patterns (groups along each row's columns).
  const int nm[][2] = {{2, 4}, {1, 4}, {4, 8}, {1, 2}, {8, 16}, {4, 4}};
  for (const auto& p : nm)
    for (double pa : {0.0, 0.5, 1.0}) {
      out.push_back(make(64, 48, 0.0, pa, ValueType::F32, 1, 0, p[0], p[1]));
      out.push_back(make(333, 144, 0.0, pa, ValueType::F32, 1, 0, p[0], p[1]));
    }
  out.push_back(make(100, 256, 0.0, 0.5, ValueType::F16, 1, 0, 2, 4));
  out.push_back(make(100, 256, 0.0, 0.5, ValueType::BF16, 3, 0, 2, 4));
  out.push_back(make(100, 256, 0.0, 0.5, ValueType::I8, 2, 0, 2, 4));
  out.push_back(make(5, 4, 0.0, 0.5, ValueType::F32, 1, 0, 2, 4));
  out.push_back(make(7, 36, 0.0, 0.5, ValueType::F32, 2, 0, 2, 4));
  return out;
}

Problem makeProblem(const Case& c) {
  std::mt19937_64 rng(c.seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Problem p;
  p.w.assign(static_cast<std::size_t>(c.rows * c.cols), 0.0f);
  if (c.nmM > 0) {
    // Exactly nmN random survivors in every group of nmM columns.
    std::vector<int> pos(static_cast<std::size_t>(c.nmM));
    for (std::int64_t r = 0; r < c.rows; ++r)
      for (std::int64_t g = 0; g < c.cols; g += c.nmM) {
        for (int i = 0; i < c.nmM; ++i) pos[static_cast<std::size_t>(i)] = i;
        std::shuffle(pos.begin(), pos.end(), rng);
        for (int i = 0; i < c.nmN; ++i) p.w[static_cast<std::size_t>(r * c.cols + g + pos[static_cast<std::size_t>(i)])] =
            stored(c.type, nonZeroValue(rng));
      }
  } else {
    for (auto& v : p.w) v = u(rng) >= c.wSparsity ? stored(c.type, nonZeroValue(rng)) : 0.0f;
  }
  // Activations: exactly round(aSparsity * cols) zeros per batch row, at random places.
  p.x.assign(static_cast<std::size_t>(c.batch * c.cols), 0.0f);
  const auto zeros = static_cast<std::int64_t>(std::llround(c.aSparsity * static_cast<double>(c.cols)));
  std::vector<std::int64_t> order(static_cast<std::size_t>(c.cols));
  for (int b = 0; b < c.batch; ++b) {
    for (std::int64_t j = 0; j < c.cols; ++j) order[static_cast<std::size_t>(j)] = j;
    std::shuffle(order.begin(), order.end(), rng);
    for (std::int64_t k = 0; k < c.cols; ++k)
      p.x[static_cast<std::size_t>(b * c.cols + order[static_cast<std::size_t>(k)])] = k < zeros ? 0.0f : nonZeroValue(rng);
  }
  return p;
}

double tolerance(const Case& c) {
  // f32 sums of `cols` products in another order than the f64 reference: ~sqrt(cols) roundings of
  // 2^-24 relative each; 1e-5 * sqrt(cols) leaves a wide margin, while one wrong or missing weight
  // costs orders of magnitude more.
  return 1e-5 * std::sqrt(static_cast<double>(c.cols)) + 1e-6;
}

namespace {

// The formats of a case, packed once on the host.
struct Packed {
  DenseMatrix rowMajor, colMajor;
  SparseColumns bitmap, u16;
  NmMatrix nm;
  bool hasNm = false;
};

Packed pack(const Case& c, const Problem& p) {
  Packed k;
  k.rowMajor = DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, Layout::RowMajor, c.type);
  k.colMajor = DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, Layout::ColMajor, c.type);
  PackOptions o;
  o.type = c.type;
  o.stripRows = c.stripRows;
  o.index = IndexChoice::Bitmap;
  k.bitmap = SparseColumns::pack(p.w.data(), c.rows, c.cols, o);
  o.index = IndexChoice::RowU16;
  k.u16 = SparseColumns::pack(p.w.data(), c.rows, c.cols, o);
  if (c.nmM > 0) {
    k.nm = NmMatrix::pack(p.w.data(), c.rows, c.cols, c.nmN, c.nmM, c.type);
    k.hasNm = true;
  }
  return k;
}

// One kernel run: `call(y)` computes into y; the result is compared with `ref`.
template <typename Call>
Result check(const std::string& kernel, const std::string& backend, const Case& c, const std::vector<float>& ref,
             Call call) {
  Result r;
  r.kernel = kernel;
  r.backend = backend;
  r.tolerance = tolerance(c);
  std::vector<float> y(ref.size(), std::numeric_limits<float>::quiet_NaN());  // poisoned
  try {
    call(y);
    r.error = normalisedError(y.data(), ref.data(), y.size());
    r.passed = r.error <= r.tolerance;  // false for NaN
    if (!r.passed) {
      std::ostringstream os;
      os << "normalised error " << r.error << " > " << r.tolerance;
      if (std::isnan(r.error)) os << " (an output element was left unwritten)";
      r.message = os.str();
    }
  } catch (const std::exception& e) {
    r.error = std::nan("");
    r.message = e.what();
  }
  return r;
}

// Runs every kernel of the case with `run(kernelName, fn)`, fn taking the format and y.
template <typename Backend>
std::vector<Result> runAll(const Case& c, const std::string& backend, Backend&& be) {
  const Problem p = makeProblem(c);
  const Packed k = pack(c, p);
  const std::size_t n = static_cast<std::size_t>(c.batch * c.rows);
  std::vector<float> ref(n), refDual(n);
  ref::denseGemv(k.rowMajor.view(), p.x.data(), ref.data(), c.batch);
  ref::dualSparseSpmspv(k.bitmap.view(), p.x.data(), refDual.data(), c.batch);
  std::vector<Result> out;
  out.push_back(check("dense(row-major)", backend, c, ref, [&](std::vector<float>& y) { be.dense(k.rowMajor, p, y); }));
  out.push_back(check("dense(col-major)", backend, c, ref, [&](std::vector<float>& y) { be.dense(k.colMajor, p, y); }));
  out.push_back(
      check("act_sparse(col-major)", backend, c, ref, [&](std::vector<float>& y) { be.act(k.colMajor, p, y); }));
  out.push_back(
      check("weight_sparse(bitmap)", backend, c, ref, [&](std::vector<float>& y) { be.weight(k.bitmap, p, y); }));
  out.push_back(check("weight_sparse(u16)", backend, c, ref, [&](std::vector<float>& y) { be.weight(k.u16, p, y); }));
  out.push_back(check("dual_sparse(bitmap)", backend, c, refDual, [&](std::vector<float>& y) { be.dual(k.bitmap, p, y); }));
  out.push_back(check("dual_sparse(u16)", backend, c, refDual, [&](std::vector<float>& y) { be.dual(k.u16, p, y); }));
  if constexpr (std::decay_t<Backend>::kInt8Inputs) {
    if (c.type == ValueType::I8) {  // the same weights times inputs rounded to int8 in blocks
      DenseView rm = k.rowMajor.view(), cm = k.colMajor.view();
      rm.int8Inputs = cm.int8Inputs = true;
      std::vector<float> refQ8(n);
      ref::denseGemv(rm, p.x.data(), refQ8.data(), c.batch);
      out.push_back(check("dense(row-major, int8 inputs)", backend, c, refQ8,
                          [&](std::vector<float>& y) { be.dense(rm, p, y); }));
      out.push_back(check("dense(col-major, int8 inputs)", backend, c, refQ8,
                          [&](std::vector<float>& y) { be.dense(cm, p, y); }));
      out.push_back(check("act_sparse(col-major, int8 inputs)", backend, c, refQ8,
                          [&](std::vector<float>& y) { be.act(cm, p, y); }));
      SparseColumnsView bv = k.bitmap.view(), uv = k.u16.view();
      bv.int8Inputs = uv.int8Inputs = true;
      std::vector<float> refQ8Weight(n), refQ8Dual(n);
      ref::weightSparseSpmv(bv, p.x.data(), refQ8Weight.data(), c.batch);
      ref::dualSparseSpmspv(bv, p.x.data(), refQ8Dual.data(), c.batch);
      out.push_back(check("weight_sparse(bitmap, int8 inputs)", backend, c, refQ8Weight,
                          [&](std::vector<float>& y) { be.weight(bv, p, y); }));
      out.push_back(check("weight_sparse(u16, int8 inputs)", backend, c, refQ8Weight,
                          [&](std::vector<float>& y) { be.weight(uv, p, y); }));
      out.push_back(check("dual_sparse(bitmap, int8 inputs)", backend, c, refQ8Dual,
                          [&](std::vector<float>& y) { be.dual(bv, p, y); }));
      out.push_back(check("dual_sparse(u16, int8 inputs)", backend, c, refQ8Dual,
                          [&](std::vector<float>& y) { be.dual(uv, p, y); }));
    }
  }
  if (k.hasNm) {
    out.push_back(check("weight_sparse(n:m)", backend, c, ref, [&](std::vector<float>& y) { be.weight(k.nm, p, y); }));
    out.push_back(check("dual_sparse(n:m)", backend, c, refDual, [&](std::vector<float>& y) { be.dual(k.nm, p, y); }));
  }
  return out;
}

struct CpuBackend {
  static constexpr bool kInt8Inputs = true;
  int batch;
  void dense(const DenseMatrix& m, const Problem& p, std::vector<float>& y) const { dense(m.view(), p, y); }
  void act(const DenseMatrix& m, const Problem& p, std::vector<float>& y) const { act(m.view(), p, y); }
  void dense(const DenseView& v, const Problem& p, std::vector<float>& y) const {
    cpu::denseGemv(v, p.x.data(), y.data(), batch);
  }
  void act(const DenseView& v, const Problem& p, std::vector<float>& y) const {
    cpu::actSparseGemv(v, p.x.data(), y.data(), batch);
  }
  template <typename M>
  void weight(const M& m, const Problem& p, std::vector<float>& y) const {
    cpu::weightSparseSpmv(m.view(), p.x.data(), y.data(), batch);
  }
  template <typename M>
  void dual(const M& m, const Problem& p, std::vector<float>& y) const {
    cpu::dualSparseSpmspv(m.view(), p.x.data(), y.data(), batch);
  }
  void weight(const SparseColumnsView& v, const Problem& p, std::vector<float>& y) const {
    cpu::weightSparseSpmv(v, p.x.data(), y.data(), batch);
  }
  void dual(const SparseColumnsView& v, const Problem& p, std::vector<float>& y) const {
    cpu::dualSparseSpmspv(v, p.x.data(), y.data(), batch);
  }
};

// Uploads the format and x, poisons a device y, runs, downloads y.
struct CudaBackend {
  static constexpr bool kInt8Inputs = false;  // not in the CUDA kernels (they refuse such views)
  int batch;
  template <typename DeviceM, typename M, typename Fn>
  void run(const M& m, const Problem& p, std::vector<float>& y, Fn fn) const {
    DeviceM dm(m);
    cuda::DeviceBuffer x(p.x.size() * sizeof(float)), dy(y.size() * sizeof(float));
    x.upload(p.x.data(), p.x.size() * sizeof(float));
    dy.fill(0xff);
    fn(dm.view(), x.as<float>(), dy.as<float>());
    cuda::synchronize();
    dy.download(y.data(), y.size() * sizeof(float));
  }
  void dense(const DenseMatrix& m, const Problem& p, std::vector<float>& y) const {
    run<cuda::DeviceDense>(m, p, y, [&](const DenseView& v, const float* x, float* dy) { cuda::denseGemv(v, x, dy, batch); });
  }
  void act(const DenseMatrix& m, const Problem& p, std::vector<float>& y) const {
    run<cuda::DeviceDense>(m, p, y,
                           [&](const DenseView& v, const float* x, float* dy) { cuda::actSparseGemv(v, x, dy, batch); });
  }
  void weight(const SparseColumns& m, const Problem& p, std::vector<float>& y) const {
    run<cuda::DeviceSparseColumns>(
        m, p, y, [&](const SparseColumnsView& v, const float* x, float* dy) { cuda::weightSparseSpmv(v, x, dy, batch); });
  }
  void dual(const SparseColumns& m, const Problem& p, std::vector<float>& y) const {
    run<cuda::DeviceSparseColumns>(
        m, p, y, [&](const SparseColumnsView& v, const float* x, float* dy) { cuda::dualSparseSpmspv(v, x, dy, batch); });
  }
  void weight(const NmMatrix& m, const Problem& p, std::vector<float>& y) const {
    run<cuda::DeviceNm>(m, p, y, [&](const NmView& v, const float* x, float* dy) { cuda::weightSparseSpmv(v, x, dy, batch); });
  }
  void dual(const NmMatrix& m, const Problem& p, std::vector<float>& y) const {
    run<cuda::DeviceNm>(m, p, y, [&](const NmView& v, const float* x, float* dy) { cuda::dualSparseSpmspv(v, x, dy, batch); });
  }
};

}  // namespace

std::vector<Result> runCpu(const Case& c, cpu::Isa isa) {
  const cpu::Isa before = cpu::activeIsa();
  cpu::setIsa(isa);
  struct Restore {
    cpu::Isa isa;
    ~Restore() { cpu::setIsa(isa); }
  } restore{before};
  return runAll(c, cpu::isaName(isa), CpuBackend{c.batch});
}

std::vector<Result> runCuda(const Case& c) {
  const cuda::Status s = cuda::status();
  DUO_CHECK(s.available, "selftest: CUDA kernels cannot run: ", s.reason);
  return runAll(c, "cuda", CudaBackend{c.batch});
}

}  // namespace duo::kernels::selftest
