#include "core/job/sensitivity_job.h"

#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/data/windows.h"
#include "core/job/prune_job.h"
#include "core/model/model_loader.h"
#include "core/perf/bytes_model.h"
#include "core/prune/sensitivity_compute.h"

namespace duo {


void fillDecodeTimes(SensitivityTable& t, int contextTokens, double bandwidthGbs) {
  const perf::ModelShape shape = perf::shapeOf(t.config);
  perf::DecodeInput in;  // dense: no layers given
  in.shape = shape;
  in.contextTokens = contextTokens;
  in.bandwidthGbs = bandwidthGbs;
  const perf::DecodePrediction dense = perf::predictDecode(in);
  t.contextTokens = contextTokens;
  t.bandwidthGbs = bandwidthGbs;
  t.denseStepSeconds = dense.denseSeconds.total();
  t.fixedSeconds = dense.denseSeconds.total() - dense.denseSeconds.projections;
  const size_t nW = t.gridW.size(), nA = t.gridA.size();
  for (ProjSensitivity& ps : t.projs) {
    // perf::Projection has Proj's order: q, k, v, o, gate, up, down (as in decode_estimate.cpp).
    perf::MatVec m = perf::projectionShape(shape, static_cast<perf::Projection>(static_cast<int>(ps.proj)));
    m.type = in.weightType;
    ps.denseSeconds = perf::predictSeconds(perf::kernelBytes(perf::Kernel::Dense, m), bandwidthGbs);
    ps.seconds.assign(nW * nA, 0.0);
    for (size_t iw = 0; iw < nW; ++iw)
      for (size_t ia = 0; ia < nA; ++ia) {
        m.pW = t.gridW[iw];
        m.pA = t.gridA[ia];
        ps.seconds[iw * nA + ia] = perf::predictSeconds(perf::kernelBytes(perf::cheapestKernel(m), m), bandwidthGbs);
      }
  }
}

SensitivityTable runSensitivity(const SensitivityRequest& reqIn, const ProgressFn& progress) {
  SensitivityRequest req = reqIn;
  req.options.validate();
  const torch::Device device = chooseDevice(req.device);
  LoadedModel m = loadModel(req.model, device, progress);
  const ModelConfig& cfg = m.model->config();
  // The prune job's windows for the same source, size and seed.
  int defN = 0, defL = 0;
  defaultCalibration(cfg.parameterCount(), device.is_cuda(), &defN, &defL);
  if (req.nsamples <= 0) req.nsamples = defN;
  if (req.seqlen <= 0) req.seqlen = defL;
  const CorpusText calib = loadCorpus(req.calibSource);
  const auto tokens = m.tokenizer->encode(calib.text, false);
  const torch::Tensor windows = sampleWindows(tokens, req.nsamples, req.seqlen, req.seed);  // [n, seqlen] i64
  SensitivityTable t = computeSensitivity(m.model->weights(), windows, req.options, device, progress);
  t.model = req.model;
  t.calib = req.calibSource;
  t.seed = req.seed;
  fillDecodeTimes(t, req.contextTokens, req.bandwidthGbs);
  return t;
}

}  // namespace duo
