// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/domains.h"

#include <algorithm>

namespace duo {

const std::vector<std::string>& mixDomainNames() {
  static const std::vector<std::string> kDomains = {"gcide", "manpages", "debref", "fortunes", "jargon", "kjv"};
  return kDomains;
}

std::vector<std::string> corpusDomains(const std::string& source) {
  if (source.rfind("kjv:", 0) == 0) return {"kjv"};
  if (source.rfind("wikitext2:", 0) == 0) return {"wikitext2"};
  if (source.rfind("mix:", 0) == 0) {
    const size_t colon = source.find(':', 4);
    if (colon == std::string::npos) return mixDomainNames();
    const std::string domain = source.substr(colon + 1);
    if (domain.rfind(kMixWithout, 0) != 0) return {domain};
    const std::string left = domain.substr(std::string(kMixWithout).size());
    std::vector<std::string> rest;
    for (const std::string& d : mixDomainNames())
      if (d != left) rest.push_back(d);
    return rest;
  }
  const size_t slash = source.find_last_of('/');
  return {"file:" + (slash == std::string::npos ? source : source.substr(slash + 1))};
}

std::string domainRelation(const std::string& calibSource, const std::string& evalSource) {
  if (calibSource.empty() || evalSource.empty()) return "";
  const std::vector<std::string> calib = corpusDomains(calibSource), eval = corpusDomains(evalSource);
  size_t covered = 0;
  for (const std::string& d : eval) covered += std::count(calib.begin(), calib.end(), d) > 0;
  return covered == eval.size() ? "in-domain" : covered == 0 ? "held-out" : "mixed";
}

}  // namespace duo
