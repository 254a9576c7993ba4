// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/speed_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace duo {

using nlohmann::json;

namespace {

// Linear interpolation between order statistics (numpy's default).
double quantile(std::vector<double> v, double q) {
  DUO_ASSERT(!v.empty());
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  const double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

}  // namespace

bool SpeedCheck::hasFlag(const std::string& f) const { return std::find(flags.begin(), flags.end(), f) != flags.end(); }

std::string SpeedCheck::summary() const {
  if (!measured()) return "";
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.2fx (%.2f-%.2f over %d pairs, %d thread%s)", speedup, low, high, repeats, threads,
                threads == 1 ? "" : "s");
  return buf;
}

std::string SpeedCheck::warning() const {
  std::string w;
  for (const auto& n : notes) w += (w.empty() ? "" : " ") + n;
  return w;
}

json SpeedCheck::toJson() const {
  return {{"speedup", speedup},
          {"low", low},
          {"high", high},
          {"repeats", repeats},
          {"tokens", tokens},
          {"threads", threads},
          {"dense_tokens_per_second", denseTokensPerSecond},
          {"pruned_tokens_per_second", prunedTokensPerSecond},
          {"expected_dense_tokens_per_second", expectedDenseTokensPerSecond},
          {"history_dense_tokens_per_second", historyDenseTokensPerSecond},
          {"history_entries", historyEntries},
          {"dense_step_bytes", denseStepBytes},
          {"last_level_cache_bytes", lastLevelCacheBytes},
          {"load_before", loadBefore},
          {"trusted", trusted()},
          {"flags", flags},
          {"notes", notes}};
}

SpeedCheck SpeedCheck::fromJson(const json& j, const std::string& source) {
  DUO_CHECK(j.is_object(), source, ": the speed measurement must be an object, got ", j.type_name());
  SpeedCheck s;
  auto num = [&](const char* key, double* out) {
    if (!j.contains(key) || j.at(key).is_null()) return;
    DUO_CHECK(j.at(key).is_number(), source, ": field '", key, "' must be a number (", j.at(key).dump(), ")");
    *out = j.at(key).get<double>();
  };
  auto integer = [&](const char* key, int* out) {
    if (!j.contains(key) || j.at(key).is_null()) return;
    DUO_CHECK(j.at(key).is_number_integer(), source, ": field '", key, "' must be an integer (", j.at(key).dump(), ")");
    *out = j.at(key).get<int>();
  };
  auto strings = [&](const char* key, std::vector<std::string>* out) {
    if (!j.contains(key) || j.at(key).is_null()) return;
    const json& a = j.at(key);
    DUO_CHECK(a.is_array(), source, ": field '", key, "' must be an array of strings");
    for (const auto& e : a) {
      DUO_CHECK(e.is_string(), source, ": field '", key, "' must be an array of strings (", e.dump(), ")");
      out->push_back(e.get<std::string>());
    }
  };
  num("speedup", &s.speedup);
  num("low", &s.low);
  num("high", &s.high);
  integer("repeats", &s.repeats);
  integer("tokens", &s.tokens);
  integer("threads", &s.threads);
  num("dense_tokens_per_second", &s.denseTokensPerSecond);
  num("pruned_tokens_per_second", &s.prunedTokensPerSecond);
  num("expected_dense_tokens_per_second", &s.expectedDenseTokensPerSecond);
  num("history_dense_tokens_per_second", &s.historyDenseTokensPerSecond);
  integer("history_entries", &s.historyEntries);
  num("dense_step_bytes", &s.denseStepBytes);
  num("last_level_cache_bytes", &s.lastLevelCacheBytes);
  num("load_before", &s.loadBefore);
  strings("flags", &s.flags);
  strings("notes", &s.notes);
  return s;
}

void pairRatioStats(const std::vector<double>& dense, const std::vector<double>& pruned, double* median, double* p25,
                    double* p75) {
  DUO_CHECK(!dense.empty() && dense.size() == pruned.size(), "speed check: ", dense.size(), " dense and ",
            pruned.size(), " pruned timings (need equal, non-zero counts)");
  std::vector<double> ratios;
  for (size_t i = 0; i < dense.size(); ++i) ratios.push_back(pruned[i] > 0 ? dense[i] / pruned[i] : 0.0);
  *median = quantile(ratios, 0.5);
  *p25 = quantile(ratios, 0.25);
  *p75 = quantile(ratios, 0.75);
}

SpeedCheck assessSpeed(const SpeedSample& s, const std::vector<double>& history) {
  SpeedCheck c;
  pairRatioStats(s.denseStepSeconds, s.prunedStepSeconds, &c.speedup, &c.low, &c.high);
  c.repeats = static_cast<int>(s.denseStepSeconds.size());
  c.tokens = s.tokens;
  c.threads = s.threads;
  const double b = static_cast<double>(std::max(1, s.batch));
  c.denseTokensPerSecond = b / quantile(s.denseStepSeconds, 0.5);
  c.prunedTokensPerSecond = b / quantile(s.prunedStepSeconds, 0.5);
  c.expectedDenseTokensPerSecond = s.expectedDenseTokensPerSecond;
  c.denseStepBytes = s.denseStepBytes;
  c.lastLevelCacheBytes = s.lastLevelCacheBytes;
  c.loadBefore = s.loadBefore;
  c.historyEntries = static_cast<int>(history.size());
  if (!history.empty()) c.historyDenseTokensPerSecond = quantile(history, 0.5);

  const bool cacheResident = s.denseStepBytes > 0 && s.lastLevelCacheBytes > 0 && s.denseStepBytes <= s.lastLevelCacheBytes;
  if (cacheResident) {
    c.flags.push_back("cache_resident");
    c.notes.push_back(fmt("The %.1f MB a dense step reads fit in the %.0f MB last-level cache: the step is not bound "
                          "by memory bandwidth, so this speedup says nothing about decoding a model that is.",
                          s.denseStepBytes / 1e6, s.lastLevelCacheBytes / 1e6));
  } else if (s.expectedDenseTokensPerSecond > 0 &&
             c.denseTokensPerSecond < SpeedCheck::kDenseSlowFraction * s.expectedDenseTokensPerSecond) {
    c.flags.push_back("dense_slow");
    c.notes.push_back(fmt("The dense baseline ran at %.1f tokens/s, %.0f%% of the %.1f tokens/s this machine's read "
                          "bandwidth allows: it was starved (other load?), so the speedup over it is inflated.",
                          c.denseTokensPerSecond, 100.0 * c.denseTokensPerSecond / s.expectedDenseTokensPerSecond,
                          s.expectedDenseTokensPerSecond));
  }
  if (c.historyEntries >= SpeedCheck::kHistoryMinEntries && c.historyDenseTokensPerSecond > 0) {
    const double r = c.denseTokensPerSecond / c.historyDenseTokensPerSecond;
    if (r < 1.0 / SpeedCheck::kHistoryFactor || r > SpeedCheck::kHistoryFactor) {
      c.flags.push_back("dense_off_history");
      c.notes.push_back(fmt("The dense baseline ran at %.1f tokens/s against a median of %.1f tokens/s in %.0f earlier "
                            "measurements of this shape and thread count on this machine.",
                            c.denseTokensPerSecond, c.historyDenseTokensPerSecond, c.historyEntries));
    }
  }
  if (c.relativeSpread() > SpeedCheck::kNoisySpread) {
    c.flags.push_back("noisy");
    c.notes.push_back(fmt("The pairs' speedups spread from %.2fx to %.2fx (interquartile), more than %.0f%% of the "
                          "median: the machine was not quiet.",
                          c.low, c.high, 100.0 * SpeedCheck::kNoisySpread));
  }
  return c;
}

std::string SpeedHistory::defaultPath() {
  if (const char* e = std::getenv("DUO_SPEED_HISTORY"); e && *e) return std::string(e) == "off" ? std::string() : e;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/duoscope/decode-history.json";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.local/state/duoscope/decode-history.json";
  return "";
}

SpeedHistory::SpeedHistory(std::string path) : m_path(std::move(path)) {}

namespace {
json readHistory(const std::string& path) {
  if (path.empty()) return json::object();
  std::ifstream in(path);
  if (!in) return json::object();
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}
}  // namespace

std::vector<double> SpeedHistory::lookup(const std::string& key) const {
  std::vector<double> out;
  const json j = readHistory(m_path);
  if (!j.contains(key) || !j.at(key).is_array()) return out;
  for (const auto& v : j.at(key))
    if (v.is_number() && v.get<double>() > 0) out.push_back(v.get<double>());
  return out;
}

void SpeedHistory::add(const std::string& key, double denseTokensPerSecond) {
  if (m_path.empty() || !(denseTokensPerSecond > 0) || !std::isfinite(denseTokensPerSecond)) return;
  try {
    json j = readHistory(m_path);
    json& a = j[key];
    if (!a.is_array()) a = json::array();
    a.push_back(denseTokensPerSecond);
    while (a.size() > kKeep) a.erase(a.begin());
    std::filesystem::create_directories(std::filesystem::path(m_path).parent_path());
    writeFileAtomic(m_path, j.dump(1) + "\n");
  } catch (const std::exception&) {
    // The history only adds a flag; a read-only home must not fail a measurement.
  }
}

}  // namespace duo
