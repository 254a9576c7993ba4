// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/sparsity_plan.h"

#include <cmath>

#include "core/common/error.h"

namespace duo {

SparsityPlan SparsityPlan::uniform(double weight, double act) {
  SparsityPlan p;
  p.m_weight = weight;
  p.m_act = act;
  return p;
}

SparsityPlan SparsityPlan::table(const SparsityConfig& config) {
  SparsityPlan p;
  if (config.numLayers() > 0) {
    p.m_source = Source::Table;
    p.m_table = config;
  }
  p.nm = config.nm;
  p.actRule = config.actRule;
  return p;
}

SparsityPlan SparsityPlan::file(const std::string& path) {
  SparsityPlan p;
  p.m_source = Source::File;
  p.m_path = path;
  return p;
}

SparsityConfig SparsityPlan::table() const {
  if (m_source == Source::Table) return m_table;
  SparsityConfig empty;
  empty.nm = nm;
  empty.actRule = actRule;
  return empty;
}

std::string SparsityPlan::sourceName() const {
  switch (m_source) {
    case Source::Uniform: return "uniform sparsity";
    case Source::Table: return "sparsity table";
    case Source::File: return m_path;
  }
  return "sparsity";
}

SparsityConfig SparsityPlan::resolve(int layers) const {
  SparsityConfig sc;
  switch (m_source) {
    case Source::Uniform: {
      const auto inRange = [](double v) { return std::isfinite(v) && v >= 0.0 && v < 1.0; };
      DUO_CHECK(inRange(m_weight), sourceName(), ": weight sparsity ", m_weight, " is outside [0, 1)");
      DUO_CHECK(inRange(m_act), sourceName(), ": activation sparsity ", m_act, " is outside [0, 1)");
      sc = SparsityConfig::uniform(layers, m_weight, m_act);
      sc.actRule = actRule;
      break;
    }
    case Source::Table:
      sc = m_table;
      sc.actRule = actRule;
      sc.validate(sourceName(), layers);
      break;
    case Source::File:
      sc = SparsityConfig::load(m_path, layers);  // read against the model's depth and validated
      break;
  }
  if (nm.structured()) sc.nm = nm;
  return sc;
}

bool SparsityPlan::operator==(const SparsityPlan& o) const {
  return m_source == o.m_source && m_weight == o.m_weight && m_act == o.m_act && m_table == o.m_table &&
         m_path == o.m_path && nm.n == o.nm.n && nm.m == o.nm.m && actRule == o.actRule;
}

}  // namespace duo
