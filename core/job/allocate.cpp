// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/allocate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/common/clock.h"
#include "core/common/error.h"
#include "core/common/name_table.h"
#include "core/job/decode_estimate.h"

namespace duo {

const char* allocTargetName(AllocTarget t) { return t == AllocTarget::Speedup ? "speedup" : "weight_sparsity"; }

namespace {

// Linear interpolation position of x on an ascending grid: index i and weight f of g[i + 1]
// (clamped at the ends).
void locate(const std::vector<double>& g, double x, size_t* i, double* f) {
  if (g.size() == 1 || x <= g.front()) {
    *i = 0, *f = 0;
    return;
  }
  if (x >= g.back()) {
    *i = g.size() - 2, *f = 1;
    return;
  }
  size_t j = 0;
  while (x > g[j + 1]) ++j;
  *i = j;
  *f = (x - g[j]) / (g[j + 1] - g[j]);
}

// The factor a projection's relative error is multiplied by under the objective.
double objectiveWeight(const ProjSensitivity& ps, AllocObjective o) { return o == AllocObjective::Loss ? ps.lossWeight : 1.0; }

double interpolatedError(const SensitivityTable& t, const ProjSensitivity& ps, double pw, double pa) {
  size_t iw = 0, ia = 0;
  double fw = 0, fa = 0;
  locate(t.gridW, pw, &iw, &fw);
  locate(t.gridA, pa, &ia, &fa);
  const size_t iw1 = std::min(iw + 1, t.gridW.size() - 1), ia1 = std::min(ia + 1, t.gridA.size() - 1);
  return (1 - fw) * ((1 - fa) * ps.errorAt(iw, ia) + fa * ps.errorAt(iw, ia1)) +
         fw * ((1 - fa) * ps.errorAt(iw1, ia) + fa * ps.errorAt(iw1, ia1));
}

// The allocation problem on the grid: for projection q = layer * 7 + proj and point
// i = iw * nA + ia, err[q][i] and cost[q][i] (cost normalised by the budget: feasible when the
// sum over projections is <= 1).
struct Problem {
  int layers = 0;
  size_t nW = 0, nA = 0;
  std::vector<std::vector<double>> err, cost;
};

// A choice: a p_w index per projection and a p_a index per site (layer * 4 + site).
struct Choice {
  std::vector<int> iw, ia;
  double err = 0, cost = 0;
};

int siteIndex(int layer, Proj p) { return layer * kNumSites + static_cast<int>(siteOf(p)); }

void evaluate(const Problem& pb, Choice& c) {
  c.err = c.cost = 0;
  for (int l = 0; l < pb.layers; ++l)
    for (int p = 0; p < kNumProj; ++p) {
      const size_t q = static_cast<size_t>(l) * kNumProj + static_cast<size_t>(p);
      const size_t i = static_cast<size_t>(c.iw[q]) * pb.nA + static_cast<size_t>(c.ia[static_cast<size_t>(siteIndex(l, static_cast<Proj>(p)))]);
      c.err += pb.err[q][i];
      c.cost += pb.cost[q][i];
    }
}

const std::vector<Proj>& siteProjs(int s) {
  static const std::vector<Proj> kProjs[kNumSites] = {
      {Proj::Q, Proj::K, Proj::V}, {Proj::O}, {Proj::Gate, Proj::Up}, {Proj::Down}};
  return kProjs[s];
}

// Exact minimiser of err + lambda * cost: sites are independent; within a site, for each shared
// p_a every projection picks its own best p_w. Ties go to the lower cost.
Choice solveLagrangian(const Problem& pb, double lambda) {
  Choice c;
  c.iw.assign(static_cast<size_t>(pb.layers) * kNumProj, 0);
  c.ia.assign(static_cast<size_t>(pb.layers) * kNumSites, 0);
  for (int l = 0; l < pb.layers; ++l)
    for (int s = 0; s < kNumSites; ++s) {
      double bestVal = std::numeric_limits<double>::infinity(), bestCost = bestVal;
      std::vector<int> bestIw;
      int bestIa = 0;
      for (size_t ia = 0; ia < pb.nA; ++ia) {
        double val = 0, cost = 0;
        std::vector<int> iws;
        for (Proj p : siteProjs(s)) {
          const size_t q = static_cast<size_t>(l) * kNumProj + static_cast<size_t>(p);
          double bv = std::numeric_limits<double>::infinity(), bc = bv;
          int bi = 0;
          for (size_t iw = 0; iw < pb.nW; ++iw) {
            const size_t i = iw * pb.nA + ia;
            const double v = pb.err[q][i] + lambda * pb.cost[q][i];
            if (v < bv || (v == bv && pb.cost[q][i] < bc)) bv = v, bc = pb.cost[q][i], bi = static_cast<int>(iw);
          }
          val += bv;
          cost += bc;
          iws.push_back(bi);
        }
        if (val < bestVal || (val == bestVal && cost < bestCost)) bestVal = val, bestCost = cost, bestIw = iws, bestIa = static_cast<int>(ia);
      }
      c.ia[static_cast<size_t>(l) * kNumSites + static_cast<size_t>(s)] = bestIa;
      const auto& projs = siteProjs(s);
      for (size_t j = 0; j < projs.size(); ++j)
        c.iw[static_cast<size_t>(l) * kNumProj + static_cast<size_t>(projs[j])] = bestIw[j];
    }
  evaluate(pb, c);
  return c;
}

constexpr double kFeasibleSlack = 1e-12;  // rounding room on the normalised budget (1.0)

// Spends the budget left: repeatedly takes the move (one projection's p_w, or one site's p_a)
// that lowers the error most per unit of cost added while staying within budget; a move that
// lowers both error and cost is taken first. Returns the number of moves.
int greedyRefine(const Problem& pb, Choice& c) {
  int moves = 0;
  for (;;) {
    double bestRatio = 0;
    int bestKind = -1;  // 0: p_w of projection bestIdx, 1: p_a of site bestIdx
    size_t bestIdx = 0;
    int bestTo = 0;
    double bestDErr = 0, bestDCost = 0;
    auto consider = [&](int kind, size_t idx, int to, double dErr, double dCost) {
      if (dErr >= -1e-15 || c.cost + dCost > 1.0 + kFeasibleSlack) return;
      const double ratio = dCost <= 0 ? std::numeric_limits<double>::infinity() : -dErr / dCost;
      if (ratio > bestRatio || (ratio == bestRatio && dErr < bestDErr))
        bestRatio = ratio, bestKind = kind, bestIdx = idx, bestTo = to, bestDErr = dErr, bestDCost = dCost;
    };
    for (int l = 0; l < pb.layers; ++l)
      for (int s = 0; s < kNumSites; ++s) {
        const size_t si = static_cast<size_t>(l) * kNumSites + static_cast<size_t>(s);
        const size_t ia = static_cast<size_t>(c.ia[si]);
        for (Proj p : siteProjs(s)) {
          const size_t q = static_cast<size_t>(l) * kNumProj + static_cast<size_t>(p);
          const size_t cur = static_cast<size_t>(c.iw[q]) * pb.nA + ia;
          for (size_t iw = 0; iw < pb.nW; ++iw) {
            if (static_cast<int>(iw) == c.iw[q]) continue;
            const size_t i = iw * pb.nA + ia;
            consider(0, q, static_cast<int>(iw), pb.err[q][i] - pb.err[q][cur], pb.cost[q][i] - pb.cost[q][cur]);
          }
        }
        for (size_t to = 0; to < pb.nA; ++to) {
          if (to == ia) continue;
          double dErr = 0, dCost = 0;
          for (Proj p : siteProjs(s)) {
            const size_t q = static_cast<size_t>(l) * kNumProj + static_cast<size_t>(p);
            const size_t w = static_cast<size_t>(c.iw[q]) * pb.nA;
            dErr += pb.err[q][w + to] - pb.err[q][w + ia];
            dCost += pb.cost[q][w + to] - pb.cost[q][w + ia];
          }
          consider(1, si, static_cast<int>(to), dErr, dCost);
        }
      }
    if (bestKind < 0) return moves;
    (bestKind == 0 ? c.iw : c.ia)[bestIdx] = bestTo;
    c.err += bestDErr;
    c.cost += bestDCost;
    ++moves;
  }
}

double maxSpeedupNote(const SensitivityTable& t, double minCostSeconds) {
  return t.denseStepSeconds / (t.fixedSeconds + minCostSeconds);
}

Problem buildProblem(const SensitivityTable& t, const AllocateOptions& o, double* budgetOut) {
  Problem pb;
  pb.layers = t.numLayers();
  pb.nW = t.gridW.size();
  pb.nA = t.gridA.size();
  double budget = 0;
  if (o.target == AllocTarget::Speedup) {
    DUO_CHECK(std::isfinite(o.value) && o.value > 0, "allocate: target speedup must be > 0, got ", o.value);
    DUO_CHECK(t.denseStepSeconds > 0, "allocate: the sensitivity table has no decode times (bytes model)");
    budget = t.denseStepSeconds / o.value - t.fixedSeconds;  // seconds left for the projections
    DUO_CHECK(budget > 0, "allocate: target speedup ", o.value, "x is out of reach: the parts sparsity does not touch ",
              "(attention, lm_head, norms) alone allow at most ", t.denseStepSeconds / t.fixedSeconds, "x");
  } else {
    DUO_CHECK(std::isfinite(o.value) && o.value >= 0 && o.value < 1, "allocate: target weight sparsity must be in [0, 1), got ",
              o.value);
    double params = 0;
    for (const auto& ps : t.projs) params += static_cast<double>(ps.rows * ps.cols);
    budget = (1.0 - o.value) * params;  // weights kept
  }
  *budgetOut = budget;
  const AllocObjective objective = o.resolvedObjective(t);
  for (const auto& ps : t.projs) {
    DUO_CHECK(ps.error.size() == pb.nW * pb.nA && (o.target != AllocTarget::Speedup || ps.seconds.size() == pb.nW * pb.nA),
              "allocate: layer ", ps.layer, " ", projName(ps.proj), " has ", ps.error.size(), " points, the grid ",
              pb.nW * pb.nA);
    std::vector<double> e = ps.error, c(pb.nW * pb.nA);
    if (o.monotone)  // running max: more sparsity never predicts less error
      for (size_t iw = 0; iw < pb.nW; ++iw)
        for (size_t ia = 0; ia < pb.nA; ++ia) {
          double& v = e[iw * pb.nA + ia];
          if (iw > 0) v = std::max(v, e[(iw - 1) * pb.nA + ia]);
          if (ia > 0) v = std::max(v, e[iw * pb.nA + ia - 1]);
        }
    for (size_t iw = 0; iw < pb.nW; ++iw)
      for (size_t ia = 0; ia < pb.nA; ++ia)
        c[iw * pb.nA + ia] = o.target == AllocTarget::Speedup
                                 ? ps.seconds[iw * pb.nA + ia] / budget
                                 : (1.0 - t.gridW[iw]) * static_cast<double>(ps.rows * ps.cols) / budget;
    const double w = objectiveWeight(ps, objective);
    for (double& v : e) v *= w;
    pb.err.push_back(std::move(e));
    pb.cost.push_back(std::move(c));
  }
  return pb;
}

Allocation finish(const SensitivityTable& t, const AllocateOptions& o, SparsityConfig cfg, const std::string& method) {
  Allocation a;
  a.method = method;
  a.objective = o.resolvedObjective(t);
  cfg.actRule = o.actRule;
  a.config = cfg;
  a.predicted = predictConfig(t, cfg, o);
  for (int l = 0; l < t.numLayers(); ++l)
    for (int p = 0; p < kNumProj; ++p) {
      const ProjSparsity& s = cfg.at(l, static_cast<Proj>(p));
      const ProjSensitivity& ps = t.at(l, static_cast<Proj>(p));
      const double rel = interpolatedError(t, ps, s.weight, s.act);
      a.projRelError.push_back(rel);
      a.projError.push_back(objectiveWeight(ps, a.objective) * rel);
    }
  return a;
}

bool meets(const ConfigPrediction& p, const AllocateOptions& o) {
  return o.target == AllocTarget::Speedup ? p.speedup >= o.value * (1 - 1e-12) : p.weightSparsity >= o.value - 1e-12;
}

}  // namespace

ConfigPrediction predictConfig(const SensitivityTable& t, const SparsityConfig& c, const AllocateOptions& o) {
  const perf::TimingProfile* timing = o.timing;
  const AllocObjective objective = o.resolvedObjective(t);
  DUO_CHECK(c.numLayers() == t.numLayers(), "allocate: config has ", c.numLayers(), " layers, the sensitivity table ",
            t.numLayers());
  ConfigPrediction r;
  if (t.denseStepSeconds > 0) r.speedup = predictDecodeFor(t.config, c, t.contextTokens, t.bandwidthGbs, timing).speedup;
  r.weightSparsity = c.parameterWeightedSparsity(t.config);
  r.actSparsity = c.meanAct();
  for (int l = 0; l < t.numLayers(); ++l)
    for (int p = 0; p < kNumProj; ++p) {
      const ProjSparsity& s = c.at(l, static_cast<Proj>(p));
      const ProjSensitivity& ps = t.at(l, static_cast<Proj>(p));
      r.error += objectiveWeight(ps, objective) * interpolatedError(t, ps, s.weight, s.act);
    }
  return r;
}

Allocation allocate(const SensitivityTable& t, const AllocateOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  DUO_CHECK(t.numLayers() > 0 && t.projs.size() == static_cast<size_t>(t.numLayers()) * kNumProj,
            "allocate: the sensitivity table is empty or incomplete");
  double budget = 0;
  const Problem pb = buildProblem(t, o, &budget);

  // Reachable at all? The cheapest choice is the Lagrangian at lambda -> infinity.
  const Choice cheapest = solveLagrangian(pb, 1e18);
  if (cheapest.cost > 1.0 + kFeasibleSlack) {
    std::ostringstream best;
    if (o.target == AllocTarget::Speedup)
      best << "the sparsest grid points give " << maxSpeedupNote(t, cheapest.cost * budget) << "x";
    else
      best << "the grid's largest weight sparsity is " << t.gridW.back();
    fail("allocate: target ", allocTargetName(o.target), " ", o.value, " is out of reach: ", best.str(),
         "; add larger values to the grids (--grid-w, --grid-a)");
  }
  // Lagrangian sweep: the smallest lambda whose minimiser fits the budget.
  Choice best = solveLagrangian(pb, 0.0);
  double lambda = 0;
  if (best.cost > 1.0 + kFeasibleSlack) {
    double lo = 0, hi = 1e-6;
    Choice atHi = solveLagrangian(pb, hi);
    while (atHi.cost > 1.0 + kFeasibleSlack && hi < 1e18) atHi = solveLagrangian(pb, hi *= 4);
    for (int it = 0; it < 60 && hi - lo > 1e-12 * hi; ++it) {
      const double mid = 0.5 * (lo + hi);
      Choice c = solveLagrangian(pb, mid);
      if (c.cost <= 1.0 + kFeasibleSlack) hi = mid, atHi = std::move(c);
      else lo = mid;
    }
    best = std::move(atHi);
    lambda = hi;
  }
  int moves = greedyRefine(pb, best);
  // The best uniform grid point within budget as a second starting point (never worse than uniform).
  Choice bestUniform;
  bestUniform.err = std::numeric_limits<double>::infinity();
  for (size_t iw = 0; iw < pb.nW; ++iw)
    for (size_t ia = 0; ia < pb.nA; ++ia) {
      Choice u;
      u.iw.assign(static_cast<size_t>(pb.layers) * kNumProj, static_cast<int>(iw));
      u.ia.assign(static_cast<size_t>(pb.layers) * kNumSites, static_cast<int>(ia));
      evaluate(pb, u);
      if (u.cost <= 1.0 + kFeasibleSlack && u.err < bestUniform.err) bestUniform = std::move(u);
    }
  if (bestUniform.err < best.err) {
    const int m = greedyRefine(pb, bestUniform);
    if (bestUniform.err < best.err) best = std::move(bestUniform), moves = m;
  }

  SparsityConfig cfg = SparsityConfig::uniform(pb.layers, 0, 0);
  for (int l = 0; l < pb.layers; ++l)
    for (int p = 0; p < kNumProj; ++p) {
      const size_t q = static_cast<size_t>(l) * kNumProj + static_cast<size_t>(p);
      cfg.set(l, static_cast<Proj>(p),
              {t.gridW[static_cast<size_t>(best.iw[q])],
               t.gridA[static_cast<size_t>(best.ia[static_cast<size_t>(siteIndex(l, static_cast<Proj>(p)))])]});
    }
  Allocation a = finish(t, o, cfg, "lagrangian");
  a.lambda = lambda;
  a.greedyMoves = moves;
  a.seconds = secondsSince(t0);
  return a;
}

namespace {
// Bisection for the smallest p in [0, pMax] whose config meets the target (configs grow sparser with p).
template <typename MakeFn>
double bisectTarget(const SensitivityTable& t, const AllocateOptions& o, const MakeFn& make, const char* what) {
  const double pMax = 0.99;
  const ConfigPrediction top = predictConfig(t, make(pMax), o);
  DUO_CHECK(meets(top, o), "allocate: target ", allocTargetName(o.target), " ", o.value, " is out of reach for the ",
            what, " preset: at sparsity ", pMax, " it predicts ", top.speedup, "x");
  if (meets(predictConfig(t, make(0.0), o), o)) return 0.0;
  double lo = 0, hi = pMax;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    (meets(predictConfig(t, make(mid), o), o) ? hi : lo) = mid;
  }
  return hi;
}
}  // namespace

Allocation owlAllocation(const SensitivityTable& t, const AllocateOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const int L = t.numLayers();
  DUO_CHECK(L > 0, "allocate: the sensitivity table is empty");
  DUO_CHECK(o.owlLambda >= 0 && o.owlLambda < 0.5, "allocate: OWL lambda must be in [0, 0.5), got ", o.owlLambda);
  const auto [mn, mx] = std::minmax_element(t.outlierRatio.begin(), t.outlierRatio.end());
  std::vector<double> r(static_cast<size_t>(L), 0.0);  // outlier ratios scaled to [0, 1]
  double mean = 0;
  for (int l = 0; l < L; ++l) {
    r[static_cast<size_t>(l)] = *mx > *mn ? (t.outlierRatio[static_cast<size_t>(l)] - *mn) / (*mx - *mn) : 0.0;
    mean += r[static_cast<size_t>(l)] / L;
  }
  const double actFixed = o.owlAct > 0 ? o.owlAct : 0.0;
  auto make = [&](double p) {
    SparsityConfig c = SparsityConfig::uniform(L, 0, o.target == AllocTarget::Speedup ? p : actFixed);
    for (int l = 0; l < L; ++l) {
      const double w = std::clamp(p + 2.0 * o.owlLambda * (mean - r[static_cast<size_t>(l)]), 0.0, 0.99);
      for (int q = 0; q < kNumProj; ++q) c.setWeight(l, static_cast<Proj>(q), w);
    }
    return c;
  };
  const double p = o.target == AllocTarget::Speedup ? bisectTarget(t, o, make, "OWL") : o.value;
  Allocation a = finish(t, o, make(p), "owl");
  a.seconds = secondsSince(t0);
  return a;
}

Allocation uniformAllocation(const SensitivityTable& t, const AllocateOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const int L = t.numLayers();
  DUO_CHECK(L > 0, "allocate: the sensitivity table is empty");
  const double actFixed = o.owlAct > 0 ? o.owlAct : 0.0;
  auto make = [&](double p) {
    return SparsityConfig::uniform(L, p, o.target == AllocTarget::Speedup ? p : actFixed);
  };
  const double p = o.target == AllocTarget::Speedup ? bisectTarget(t, o, make, "uniform") : o.value;
  Allocation a = finish(t, o, make(p), "uniform");
  a.seconds = secondsSince(t0);
  return a;
}

constexpr NamedValue<AllocObjective> kObjectives[] = {
    {AllocObjective::Auto, "auto"}, {AllocObjective::Relative, "relative"}, {AllocObjective::Loss, "loss"}};

const char* allocObjectiveName(AllocObjective o) { return nameOf(kObjectives, o); }
bool allocObjectiveFromName(const std::string& name, AllocObjective* out) { return valueOf(kObjectives, name, out); }

AllocObjective AllocateOptions::resolvedObjective(const SensitivityTable& t) const {
  if (objective == AllocObjective::Auto) return t.hasLossWeights() ? AllocObjective::Loss : AllocObjective::Relative;
  DUO_CHECK(objective != AllocObjective::Loss || t.hasLossWeights(),
            "allocate: the loss objective needs loss weights, and this sensitivity table has none (it was written "
            "before they existed: run `duoscope-cli sensitivity` again, or `allocate --loss-weights`)");
  return objective;
}

nlohmann::json Allocation::toJson() const {
  nlohmann::json layers = nlohmann::json::array();
  for (int l = 0; l < config.numLayers(); ++l) {
    nlohmann::json pj = nlohmann::json::array();
    double sum = 0;
    for (int p = 0; p < kNumProj; ++p) {
      const ProjSparsity& s = config.at(l, static_cast<Proj>(p));
      const double e = projError.empty() ? 0.0 : projError[static_cast<size_t>(l) * kNumProj + static_cast<size_t>(p)];
      sum += e;
      pj.push_back({{"proj", projName(static_cast<Proj>(p))}, {"weight", s.weight}, {"act", s.act}, {"error", e}});
    }
    layers.push_back({{"layer", l}, {"error", sum}, {"projections", pj}});
  }
  return {{"schema", "duoscope.allocation/1"},
          {"method", method},
          {"objective", allocObjectiveName(objective)},
          {"predicted_speedup", predicted.speedup},
          {"predicted_error", predicted.error},
          {"weight_sparsity", predicted.weightSparsity},
          {"act_sparsity", predicted.actSparsity},
          {"lambda", lambda},
          {"greedy_moves", greedyMoves},
          {"seconds", seconds},
          {"layers", layers},
          {"config", config.toJson()}};
}

}  // namespace duo
