// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/command_line.h"

#include <cctype>
#include <cstdio>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace duo {

namespace {
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string joinQuoted(const std::vector<std::string>& words) {
  std::string s;
  for (const std::string& w : words) s += (s.empty() ? "" : " ") + shellQuote(w);
  return s;
}
}  // namespace

std::string shellQuote(const std::string& arg) {
  bool safe = !arg.empty();
  for (const char c : arg)
    safe = safe && (std::isalnum(static_cast<unsigned char>(c)) || std::string("@%+=:,./_-").find(c) != std::string::npos);
  if (safe) return arg;
  std::string q = "'";
  for (const char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

void writeSparsityFile(const PruneRequest& req, int numLayers, const std::string& path) {
  writeFileAtomic(path, req.sparsity.resolve(numLayers).toJson().dump(2) + "\n");
}

CommandLine pruneCommandLine(const PruneRequest& req, const std::string& configPath, int nproc,
                             const std::string& program) {
  DUO_CHECK(nproc >= 1, "command line: --nproc ", nproc, " must be at least 1");
  std::vector<std::string> a = {"prune", "--model", req.model, "--method", methodName(req.method), "--config",
                                configPath};
  if (req.method == Method::DuoGpt) a.insert(a.end(), {"--score", scoreName(req.score), "--alpha", num(req.alpha)});
  a.insert(a.end(), {"--damp", num(req.damp), "--block-size", std::to_string(req.blockSize), "--calib",
                     req.calibSource, "--seed", std::to_string(req.seed)});
  if (req.nsamples > 0) a.insert(a.end(), {"--nsamples", std::to_string(req.nsamples)});
  if (req.seqlen > 0) a.insert(a.end(), {"--seqlen", std::to_string(req.seqlen)});
  if (req.eval) {
    a.insert(a.end(), {"--eval", "--eval-text", req.evalSource});
    if (req.evalSeqlen > 0) a.insert(a.end(), {"--eval-seqlen", std::to_string(req.evalSeqlen)});
    if (req.maxWindows > 0) a.insert(a.end(), {"--max-windows", std::to_string(req.maxWindows)});
    if (!req.taskFile.empty()) a.insert(a.end(), {"--task", req.taskFile, "--task-format", req.taskFormat});
  }
  if (!req.outDir.empty())
    a.insert(a.end(), {"--out", req.outDir, "--out-dtype", req.outDtype, "--out-format", req.outFormat});
  if (!req.outDir.empty() && req.outDtype == "int8") a.insert(a.end(), {"--int8-rounding", req.int8Rounding});
  a.insert(a.end(), {"--stream-dtype", req.streamDtype, "--site-inputs", req.siteInputs});
  if (req.computeDtype != "f32") a.insert(a.end(), {"--compute-dtype", req.computeDtype});
  if (!req.device.empty()) a.insert(a.end(), {"--device", req.device});
  CommandLine c;
  c.args = a;
  c.shell = joinQuoted(std::vector<std::string>{program}) + " " + joinQuoted(a);
  c.nprocShell = c.shell + " --nproc " + std::to_string(nproc);
  c.torchrunShell = "torchrun --nproc-per-node " + std::to_string(nproc) + " --no-python " + c.shell;
  return c;
}

}  // namespace duo
