// SPDX-License-Identifier: GPL-3.0-or-later
// Which kinds of text a corpus source holds, and whether an evaluation corpus is in the
// calibration's domain or held out from it, so that every result can be read in-domain and out
// of domain (docs/corpus.md). Torch-free, no file access.
#pragma once
#include <string>
#include <vector>

namespace duo {

// The mix's domains in their order: gcide, manpages, debref, fortunes, jargon, kjv.
const std::vector<std::string>& mixDomainNames();

// The prefix of a mix domain that names the calibration mix less that domain ("without-manpages").
inline constexpr const char* kMixWithout = "without-";

// The domains of a source: kjv:calib and kjv:eval -> {kjv}; mix:calib and mix:eval -> every mix
// domain; mix:SPLIT:DOMAIN -> {DOMAIN}; mix:calib:without-DOMAIN -> every mix domain but DOMAIN;
// wikitext2:PATH -> {wikitext2}; a file -> {file:NAME} (its file name, so the same file on both
// sides counts as one domain).
std::vector<std::string> corpusDomains(const std::string& source);

// How an evaluation corpus relates to the calibration corpus: "in-domain" (every domain of the
// evaluation was calibrated on: other documents of the same kinds of text), "held-out" (none
// was), "mixed" (some were); "" when either source is empty.
std::string domainRelation(const std::string& calibSource, const std::string& evalSource);

}  // namespace duo
