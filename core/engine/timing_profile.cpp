// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope.timing/1 files: writing, reading and checking a timing profile. Torch-free, so that the
// fuzz targets compile it on its own.
#include "core/engine/timing_profile.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace duo::perf {

std::string timingProfileJson(const TimingProfile& p, const std::vector<CalibrationPoint>& points) {
  nlohmann::json j;
  j["schema"] = "duoscope.timing/1";
  j["device"] = p.device;
  j["threads"] = p.threads;
  j["values"] = kernels::valueTypeName(p.values);
  j["int8_inputs"] = p.int8Inputs;
  j["read_bandwidth_gbs"] = p.readBandwidthGbs;
  j["other_us"] = p.otherUs;
  j["other_context"] = p.otherContext;
  nlohmann::json shapes = nlohmann::json::array();
  for (const ShapeTiming& st : p.shapes) {
    nlohmann::json ks = nlohmann::json::object();
    for (Kernel k : kAllKernels) {
      const auto ki = static_cast<std::size_t>(k);
      const CostLine& c = st.kernels[ki];
      if (c.fixedUs <= 0 && c.gbs <= 0) continue;
      ks[kernelKey(k)] = {{"fixed_us", c.fixedUs}, {"gbs", c.gbs}, {"max_residual", st.maxResidual[ki]}};
    }
    shapes.push_back({{"rows", st.rows}, {"cols", st.cols}, {"kernels", ks}});
  }
  j["shapes"] = shapes;
  nlohmann::json topk = nlohmann::json::array();
  for (const auto& [w, us] : p.topkUs) topk.push_back({{"width", w}, {"us", us}});
  j["topk"] = topk;
  if (!points.empty()) {
    nlohmann::json pts = nlohmann::json::array();
    for (const CalibrationPoint& c : points)
      pts.push_back({{"rows", c.rows}, {"cols", c.cols}, {"w_sparsity", c.pW}, {"a_sparsity", c.pA},
                     {"kernel", kernelKey(c.kernel)}, {"bytes", c.bytes}, {"median_us", c.medianUs},
                     {"fitted_us", c.fittedUs}});
    j["points"] = pts;
  }
  return j.dump(2) + "\n";
}

void saveTimingProfile(const std::string& path, const TimingProfile& p, const std::vector<CalibrationPoint>& points) {
  writeFileAtomic(path, timingProfileJson(p, points));
}

TimingProfile loadTimingProfile(const std::string& path) { return parseTimingProfile(readFile(path), path); }

TimingProfile parseTimingProfile(const std::string& text, const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error("timing profile " + path + ": not valid JSON (" + e.what() + ")");
  }
  auto fail = [&](const std::string& what) { return Error("timing profile " + path + ": " + what); };
  // not j.value(): a non-string schema must get this error, not nlohmann's type_error
  if (!j.is_object() || !j.contains("schema") || j["schema"] != "duoscope.timing/1")
    throw fail("expected \"schema\": \"duoscope.timing/1\" (write one with `duoscope-cli bench calibrate --out`)");
  // Whole numbers are read as such: get<int64_t>() on a float casts, which is undefined behaviour
  // outside int64's range (1e300).
  auto whole = [&](const nlohmann::json& v, const char* key) {
    if (!v.is_number_integer()) throw fail(std::string(key) + " must be a whole number, not " + v.dump());
    return v.get<std::int64_t>();
  };
  TimingProfile p;
  p.source = path;
  try {
    p.device = j.value("device", std::string());
    p.threads = j.contains("threads") ? static_cast<int>(whole(j["threads"], "threads")) : 0;
    // Profiles written before value formats existed were timed with f32 values.
    const nlohmann::json& values = j.contains("values") ? j["values"] : nlohmann::json("f32");
    if (!values.is_string()) throw fail("values must be a string (f32, f16, bf16 or int8), not " + values.dump());
    try {
      p.values = kernels::parseValueType(values.get<std::string>());
    } catch (const Error& e) {
      throw fail(e.what());
    }
    const nlohmann::json& int8Inputs = j.contains("int8_inputs") ? j["int8_inputs"] : nlohmann::json(false);
    if (!int8Inputs.is_boolean()) throw fail("int8_inputs must be true or false, not " + int8Inputs.dump());
    p.int8Inputs = int8Inputs.get<bool>();
    if (p.int8Inputs && p.values != kernels::ValueType::I8) throw fail("int8_inputs needs int8 values");
    p.readBandwidthGbs = j.at("read_bandwidth_gbs").get<double>();
    p.otherUs = j.value("other_us", 0.0);
    p.otherContext = j.value("other_context", 0.0);
    if (!(p.otherUs >= 0) || !(p.otherContext >= 0)) throw fail("other_us and other_context must be >= 0");
    if (!(p.readBandwidthGbs > 0)) throw fail("read_bandwidth_gbs must be positive");
    for (const auto& sj : j.at("shapes")) {
      ShapeTiming st;
      st.rows = whole(sj.at("rows"), "rows");
      st.cols = whole(sj.at("cols"), "cols");
      if (st.rows < 1 || st.cols < 1) throw fail("a shape has rows or cols < 1");
      const auto& ks = sj.at("kernels");
      if (!ks.contains("dense"))
        throw fail("shape " + std::to_string(st.rows) + "x" + std::to_string(st.cols) + " has no \"dense\" line");
      for (Kernel k : kAllKernels) {
        if (!ks.contains(kernelKey(k))) continue;
        const auto& c = ks.at(kernelKey(k));
        CostLine& line = st.kernels[static_cast<std::size_t>(k)];
        line.fixedUs = c.at("fixed_us").get<double>();
        line.gbs = c.at("gbs").get<double>();
        st.maxResidual[static_cast<std::size_t>(k)] = c.value("max_residual", 0.0);
        if (!(line.fixedUs >= 0) || !(line.gbs >= 0) || (line.fixedUs == 0 && line.gbs == 0) || !std::isfinite(line.gbs))
          throw fail(std::string("shape ") + std::to_string(st.rows) + "x" + std::to_string(st.cols) + ", kernel " +
                     kernelKey(k) + ": fixed_us must be >= 0 and gbs >= 0, not both 0");
      }
      p.shapes.push_back(st);
    }
    for (const auto& tj : j.at("topk")) {
      const double us = tj.at("us").get<double>();
      if (!(us >= 0)) throw fail("topk times must be >= 0");
      p.topkUs.emplace_back(whole(tj.at("width"), "width"), us);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw fail(std::string("missing or mistyped field (") + e.what() + ")");
  }
  if (p.shapes.empty()) throw fail("no shapes");
  return p;
}

}  // namespace duo::perf
