#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# gpu-check.sh: on a machine with an NVIDIA GPU, build duoscope-cli (no GUI, no tests, no Qt) against
# that machine's PyTorch and CUDA, check every CUDA kernel against the reference
# (`duoscope-cli selftest --cuda-only --require-cuda`), time them against cuBLAS in f16
# (`duoscope-cli bench kernels --device cuda --dtype f16`), and print one summary table.
# Budget: under 8 minutes on a 16-core machine (build ~3-5 min, checks < 1 min, benchmark < 1 min).
#
# Header-only dependencies the GPU machine may lack (nlohmann/json, CLI11) travel as a folder:
#   here (dev machine):   scripts/gpu-check.sh --bundle-deps build-gpu-deps
#   there (GPU machine):  scripts/gpu-check.sh --deps build-gpu-deps
# (build-* is git-ignored: name the folder in the device tool's `carry` list.)
# Without a system BLAS, a plain-C cblas_sgemv is built so that duo_perf links; the GPU benchmark's
# baseline is cuBLAS, not it.
#
# Options: --deps DIR | --bundle-deps DIR | --build DIR (default build-gpu) | --jobs N |
#          --repeats N (benchmark repeats, default 50) | --out DIR (JSON outputs; default $OUT or the build dir)
#          --configure-only (stop after CMake: checks the toolchain, torch, shims)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS=""
BUILD="$ROOT/build-gpu"
JOBS="$(nproc 2>/dev/null || echo 8)"
REPEATS=50
OUTDIR="${OUT:-}"
CONFIGURE_ONLY=0
START=$(date +%s)

die() { echo "gpu-check: $*" >&2; exit 1; }
step() { echo "== [$(( $(date +%s) - START ))s] $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --deps) DEPS="$(cd "$2" && pwd)"; shift 2 ;;
    --build) BUILD="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --out) OUTDIR="$2"; shift 2 ;;
    --configure-only) CONFIGURE_ONLY=1; shift ;;
    --bundle-deps)
      dst="$2"; mkdir -p "$dst"
      for inc in /usr/include /usr/local/include; do
        [[ -f $inc/nlohmann/json.hpp ]] && cp -r "$inc/nlohmann" "$dst/" && break
      done
      for inc in /usr/include /usr/local/include; do
        [[ -f $inc/CLI/CLI.hpp ]] && cp -r "$inc/CLI" "$dst/" && break
      done
      [[ -f $dst/nlohmann/json.hpp && -f $dst/CLI/CLI.hpp ]] || die "could not find nlohmann/json.hpp and CLI/CLI.hpp to bundle"
      echo "bundled header-only dependencies into $dst"; exit 0 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -n $OUTDIR ]] || OUTDIR="$BUILD"
mkdir -p "$BUILD" "$OUTDIR"

# ---- tools ---------------------------------------------------------------------------------------
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true
command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] || die "no nvcc: the CUDA kernels cannot be built here"
command -v nvcc >/dev/null || export PATH="/usr/local/cuda/bin:$PATH"
command -v cmake >/dev/null || die "no cmake on PATH"
GEN="Unix Makefiles"; command -v ninja >/dev/null && GEN="Ninja"
TORCH_PREFIX="${TORCH_PREFIX:-$(python3 -c "import torch; print(torch.utils.cmake_prefix_path)")}" || die "python3 cannot import torch (or set TORCH_PREFIX)"
step "torch cmake prefix: $TORCH_PREFIX"

# ---- shims: header-only packages without CMake configs, and BLAS ------------------------------------
SHIMS="$BUILD/shims"
mkdir -p "$SHIMS/cmake"
PREFIX="$TORCH_PREFIX"
if [[ -n $DEPS ]]; then
  [[ -f $DEPS/nlohmann/json.hpp && -f $DEPS/CLI/CLI.hpp ]] || die "--deps $DEPS lacks nlohmann/json.hpp or CLI/CLI.hpp"
  # header_only_package PKG TARGET VERSION: a CMake package config $SHIMS/PKG whose imported TARGET
  # has its headers in $DEPS.
  header_only_package() {
    local pkg=$1 target=$2 version=$3
    mkdir -p "$SHIMS/$pkg"
    cat > "$SHIMS/$pkg/${pkg}Config.cmake" <<CFG
if(NOT TARGET $target)
  add_library($target INTERFACE IMPORTED)
  set_target_properties($target PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "$DEPS")
endif()
CFG
    printf 'set(PACKAGE_VERSION %s)\nset(PACKAGE_VERSION_COMPATIBLE TRUE)\n' "$version" > "$SHIMS/$pkg/${pkg}ConfigVersion.cmake"
  }
  header_only_package nlohmann_json nlohmann_json::nlohmann_json 3.11.2
  header_only_package CLI11 CLI11::CLI11 2.3.2
  PREFIX="$SHIMS/nlohmann_json;$SHIMS/CLI11;$PREFIX"
fi
BLAS_LIB="$(ldconfig -p 2>/dev/null | awk '/libopenblas\.so|libblas\.so/ && !found {print $NF; found = 1}' || true)"
if [[ -z $BLAS_LIB ]]; then
  step "no system BLAS: building a plain-C cblas_sgemv (CPU baseline only; the GPU baseline is cuBLAS)"
  cat > "$SHIMS/naive_blas.c" <<'C'
/* Row-major / no-transpose sgemv only: what duo_perf's CPU benchmark calls. */
void cblas_sgemv(int order, int trans, int m, int n, float alpha, const float* a, int lda, const float* x,
                 int incx, float beta, float* y, int incy) {
  (void)order; (void)trans;
  for (int i = 0; i < m; ++i) {
    float s = 0.0f;
    for (int j = 0; j < n; ++j) s += a[(long)i * lda + j] * x[(long)j * incx];
    y[(long)i * incy] = alpha * s + (beta == 0.0f ? 0.0f : beta * y[(long)i * incy]);
  }
}
C
  cc -O2 -shared -fPIC "$SHIMS/naive_blas.c" -o "$SHIMS/libduo_naive_blas.so"
  BLAS_LIB="$SHIMS/libduo_naive_blas.so"
fi
cat > "$SHIMS/cmake/FindBLAS.cmake" <<CFG
# gpu-check.sh: the BLAS found on this machine ($BLAS_LIB).
set(BLAS_FOUND TRUE)
set(BLAS_LIBRARIES "$BLAS_LIB")
set(BLAS_LINKER_FLAGS "")
CFG
step "BLAS: $BLAS_LIB"

# ---- build -----------------------------------------------------------------------------------------
step "configure ($GEN)"
cmake -S "$ROOT" -B "$BUILD" -G "$GEN" -DCMAKE_BUILD_TYPE=Release -DDUO_BUILD_GUI=OFF -DDUO_BUILD_TESTS=OFF \
  -DDUO_ENABLE_CUDA=ON -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_MODULE_PATH="$SHIMS/cmake" >"$BUILD/configure.log" 2>&1 \
  || { tail -40 "$BUILD/configure.log" >&2; die "configure failed (full log: $BUILD/configure.log)"; }
grep -E "DuoScope: CUDA kernels" "$BUILD/configure.log" >&2 || true
if [[ $CONFIGURE_ONLY -eq 1 ]]; then step "configured (--configure-only)"; exit 0; fi
step "build duoscope-cli with $JOBS jobs"
if ! cmake --build "$BUILD" --target duoscope-cli -j "$JOBS" >"$BUILD/build.log" 2>&1; then
  grep -E "error:|Error " "$BUILD/build.log" | head -20 >&2
  # Fallback: the kernels' own check tool needs no torch code (only the configure needs torch).
  step "duoscope-cli did not build (log: $BUILD/build.log); falling back to duo_kernels_check"
  cmake --build "$BUILD" --target duo_kernels_check -j "$JOBS" >"$BUILD/build-check.log" 2>&1 \
    || { grep -E "error:" "$BUILD/build-check.log" | head -20 >&2; die "duo_kernels_check did not build either"; }
  CHECK="$(find "$BUILD" -name duo_kernels_check -type f -perm -u+x -print -quit)"
  "$CHECK" --cuda --bench --dtype f16 --repeats "$REPEATS" | tee "$OUTDIR/kernels_check.txt"
  rc=${PIPESTATUS[0]}
  step "done in $(( $(date +%s) - START )) s (fallback tool, rc $rc)"
  exit "$rc"
fi
CLI="$BUILD/app/duoscope-cli"
[[ -x $CLI ]] || CLI="$(find "$BUILD" -name duoscope-cli -type f -perm -u+x -print -quit)"

# ---- checks and benchmark ---------------------------------------------------------------------------
step "selftest --cuda-only --require-cuda"
set +e
"$CLI" selftest --cuda-only --require-cuda --json >"$OUTDIR/selftest.json"
SELFTEST_RC=$?
step "bench kernels --device cuda --dtype f16 (default shapes, $REPEATS repeats)"
"$CLI" bench kernels --device cuda --dtype f16 --repeats "$REPEATS" --json >"$OUTDIR/bench_f16.json"
BENCH_RC=$?
# Data-parallel: the bundled model pruned on the GPU by 1 rank and by N ranks (NCCL, one GPU each)
# when the machine has N >= 2 GPUs, else by 2 ranks sharing the one GPU (Gloo); the perplexities must
# agree. The text is the repository's own docs (the KJV corpus is derived at set-up, not here).
NGPU=$(nvidia-smi -L 2>/dev/null | wc -l)
DP="prune --model $ROOT/resources/models/duo-tiny-kjv --method duogpt --calib $ROOT/docs/method.md --eval-text $ROOT/docs/method.md --nsamples 16 --seqlen 128 --eval --max-windows 8 --no-record --json"
if [[ $NGPU -ge 2 ]]; then
  step "data-parallel: 1 GPU vs $NGPU GPUs (NCCL)"
  "$CLI" $DP --device cuda >"$OUTDIR/dp_1.json"; "$CLI" $DP --device cuda --nproc "$NGPU" >"$OUTDIR/dp_n.json"
else
  step "data-parallel: one GPU here; 1 rank vs 2 ranks sharing it (Gloo through the host)"
  "$CLI" $DP --device cuda >"$OUTDIR/dp_1.json"
  "$CLI" $DP --device cuda --nproc 2 --dist-backend gloo >"$OUTDIR/dp_n.json"
fi
DP_RC=$?
# bf16 products on the GPU (prune --compute-dtype bf16, tensor cores): the same job's perplexity
# against the f32 one above, and both times (the result differs by bf16 rounding, not by a bug:
# docs/method.md, "Compute dtype"; checked loosely, within 5%).
step "calibration with bf16 products on the GPU"
"$CLI" $DP --device cuda --compute-dtype bf16 >"$OUTDIR/dp_bf16.json"
BF16_RC=$?
set -e
python3 - "$OUTDIR/dp_1.json" "$OUTDIR/dp_bf16.json" <<'PY' || BF16_RC=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
pa, pb = a["eval"]["perplexity"], b["eval"]["perplexity"]
print(f"bf16 products: ppl {pb:.4f} ({b['timings']['total']:.1f} s) against f32 {pa:.4f} ({a['timings']['total']:.1f} s)")
sys.exit(0 if abs(pa - pb) / pa <= 0.05 else 1)
PY
python3 - "$OUTDIR/dp_1.json" "$OUTDIR/dp_n.json" <<'PY' || DP_RC=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
pa, pb = a["eval"]["perplexity"], b["eval"]["perplexity"]
print(f"data-parallel: 1 rank ppl {pa:.6f} ({a['timings']['total']:.1f} s), {b['world_size']} ranks "
      f"({b.get('dist_backend')}) ppl {pb:.6f} ({b['timings']['total']:.1f} s), rel diff {abs(pa - pb) / pa:.2e}")
sys.exit(0 if abs(pa - pb) / pa <= 1e-5 else 1)
PY

# ---- summary -----------------------------------------------------------------------------------------
python3 - "$OUTDIR/selftest.json" "$OUTDIR/bench_f16.json" <<'PY'
import json, sys
def load(p):
    try:
        with open(p) as f: return json.load(f)
    except Exception as e:
        print(f"(no JSON in {p}: {e})"); return None
st, bench = load(sys.argv[1]), load(sys.argv[2])
print()
if st:
    c = st.get("cuda", {})
    if c.get("ran"):
        print(f"selftest (CUDA, {c.get('device')}): {c['checks']} checks over {c['cases']} cases, "
              f"{c['failed']} failed, worst error {c['worst_error_over_tolerance']:.2f} x tolerance")
        for f in c.get("failures", [])[:10]:
            print(f"  FAIL {f['case']} {f['kernel']}: {f['message']}")
    else:
        print(f"selftest: CUDA skipped: {c.get('skipped')}")
if bench:
    bw = bench["copy_bandwidth_gbs"]
    print(f"\nbench kernels, {bench['device']}, dtype {bench['dtype']}, W{bench['w_sparsity']:.0%} A{bench['a_sparsity']:.0%}, "
          f"copy bandwidth {bw:.0f} GB/s")
    keys = ["blas_dense", "dense", "act_sparse", "weight_sparse", "dual_sparse"]
    print(f"{'shape':>13} | " + " | ".join(f"{k:>20}" for k in keys) + " | dense % copy bw")
    for r in bench["results"]:
        cells = [f"{r[k]['median_us']:8.1f}us x{r[k]['speedup_vs_blas']:5.2f}" for k in keys]
        print(f"{r['rows']:>6}x{r['cols']:<6} | " + " | ".join(f"{c:>20}" for c in cells)
              + f" | {100 * r['dense']['gbs'] / bw:5.1f}%")
    print("targets (4096x11008 f16): dual_sparse >= 3.0x cuBLAS; dense >= 85% of copy bandwidth")
PY
step "done in $(( $(date +%s) - START )) s (selftest rc $SELFTEST_RC, bench rc $BENCH_RC, data-parallel rc ${DP_RC:-1}, bf16 rc ${BF16_RC:-1})"
[[ $SELFTEST_RC -eq 0 && $BENCH_RC -eq 0 && ${DP_RC:-1} -eq 0 && ${BF16_RC:-1} -eq 0 ]]
