// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/run_compare.h"

#include <cstdio>
#include <sstream>

namespace duo {

using nlohmann::json;

namespace {
std::string metricName(const RunMetric& m) {
  return m.metric + " (" + m.model + (m.data.empty() ? "" : ", " + m.data) + ")";
}
json optJson(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
std::string fmt(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", *v);
  return buf;
}
}  // namespace

RunComparison compareRuns(const RunRecord& a, const RunRecord& b) {
  RunComparison c;
  c.a = a.id.empty() ? a.label() : a.id;
  c.b = b.id.empty() ? b.label() : b.id;
  // Metrics of a (matched in b), then those only b has.
  for (const auto& m : a.metrics) {
    RunComparison::Row row{metricName(m), m.value, std::nullopt};
    for (const auto& n : b.metrics)
      if (n.sameKey(m) && n.data == m.data) row.b = n.value;
    c.summary.push_back(row);
  }
  for (const auto& n : b.metrics) {
    bool inA = false;
    for (const auto& m : a.metrics) inA = inA || (n.sameKey(m) && n.data == m.data);
    if (!inA) c.summary.push_back({metricName(n), std::nullopt, n.value});
  }
  c.summary.push_back({"weight_sparsity", a.weightSparsity, b.weightSparsity});
  c.summary.push_back({"act_sparsity", a.actSparsity, b.actSparsity});
  c.summary.push_back({"predicted_speedup", a.predictedSpeedup, b.predictedSpeedup});
  c.summary.push_back({"calibrated_speedup", a.calibratedSpeedup, b.calibratedSpeedup});
  c.summary.push_back({"measured_speedup", a.measuredSpeedup, b.measuredSpeedup});
  const auto total = [](const RunRecord& r) -> std::optional<double> {
    auto it = r.timings.find("total");
    return it == r.timings.end() ? std::nullopt : std::optional<double>(it->second);
  };
  c.summary.push_back({"seconds_total", total(a), total(b)});
  for (const auto& ra : a.records)
    for (const auto& rb : b.records)
      if (ra.layer == rb.layer && ra.proj == rb.proj) {
        c.layers.push_back({ra.layer, ra.proj, ra.weightSparsity, rb.weightSparsity, ra.actSparsity, rb.actSparsity,
                            ra.relError, rb.relError});
        break;
      }
  return c;
}

json RunComparison::toJson() const {
  json s = json::array(), l = json::array();
  for (const auto& r : summary) s.push_back({{"name", r.name}, {"a", optJson(r.a)}, {"b", optJson(r.b)}, {"diff", optJson(r.diff())}});
  const auto triple = [](double x, double y) { return json{{"a", x}, {"b", y}, {"diff", y - x}}; };
  for (const auto& r : layers)
    l.push_back({{"layer", r.layer}, {"proj", projName(r.proj)}, {"weight_sparsity", triple(r.weightA, r.weightB)},
                 {"act_sparsity", triple(r.actA, r.actB)}, {"rel_error", triple(r.errA, r.errB)}});
  return {{"a", a}, {"b", b}, {"summary", s}, {"layers", l}};
}

std::string RunComparison::toText() const {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-40s %14s %14s %14s\n", "", "A", "B", "B - A");
  os << "A = " << a << "\nB = " << b << "\n\n" << line;
  for (const auto& r : summary) {
    std::snprintf(line, sizeof line, "%-40s %14s %14s %14s\n", r.name.c_str(), fmt(r.a).c_str(), fmt(r.b).c_str(),
                  fmt(r.diff()).c_str());
    os << line;
  }
  if (!layers.empty()) {
    std::snprintf(line, sizeof line, "\n%5s %-10s %9s %9s %9s %9s %12s %12s %12s\n", "layer", "proj", "w A", "w B",
                  "a A", "a B", "err A", "err B", "err B-A");
    os << line;
    for (const auto& r : layers) {
      std::snprintf(line, sizeof line, "%5d %-10s %9.4f %9.4f %9.4f %9.4f %12.4g %12.4g %12.4g\n", r.layer,
                    projName(r.proj), r.weightA, r.weightB, r.actA, r.actB, r.errA, r.errB, r.errB - r.errA);
      os << line;
    }
  }
  return os.str();
}

}  // namespace duo
