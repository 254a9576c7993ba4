// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/cli.h"

#include "core/io/speed_check.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <vector>

namespace duo::cli {

namespace {
std::vector<std::pair<std::string, AddVerbFn>>& registry() {
  static std::vector<std::pair<std::string, AddVerbFn>> r;
  return r;
}
std::atomic<bool> g_interrupted{false};
bool g_barDrawn = false;
std::string g_label;

extern "C" void onSigint(int) {
  if (g_interrupted.exchange(true)) std::_Exit(130);  // second Ctrl-C: leave at once
}
}  // namespace

Registrar::Registrar(const char* name, AddVerbFn add) { registry().emplace_back(name, std::move(add)); }

void addAllVerbs(CLI::App& app) {
  auto& r = registry();
  std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, add] : r) add(app);
}

CLI::App& benchVerb(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == "bench") return *sub;
  CLI::App* b = app.add_subcommand("bench", "Benchmarks that print numbers: kernels, forward, decode");
  b->require_subcommand(1);
  return *b;
}

void notePassiveWait(int threads) {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  if (threads == 1 || policy == nullptr) return;
  std::string p = policy;
  for (char& c : p) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (p == "PASSIVE")
    std::cerr << "note: OMP_WAIT_POLICY=PASSIVE: each parallel region waits for a thread wake-up, which distorts "
                 "multi-thread decode timings; unset it (or use --threads 1) for numbers that mean something\n";
}

void printJson(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

void printSpeedCheck(const SpeedCheck& c) {
  std::cout << "measured decode speedup " << c.summary() << (c.trusted() ? "\n" : " - not to be trusted:\n");
  for (size_t i = 0; i < c.notes.size(); ++i) std::cout << "  " << c.flags[i] << ": " << c.notes[i] << "\n";
}

ProgressFn progressBar(bool quiet) {
  std::signal(SIGINT, onSigint);
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto start = std::chrono::steady_clock::now();
  auto last = std::make_shared<std::chrono::steady_clock::time_point>(start - std::chrono::seconds(1));
  return [=](const Progress& p) {
    if (g_interrupted.load()) return false;
    if (quiet) return true;
    auto now = std::chrono::steady_clock::now();
    const bool finalTick = p.total > 0 && p.done >= p.total;
    if (!finalTick && now - *last < std::chrono::milliseconds(tty ? 100 : 2000)) return true;
    *last = now;
    const double secs = std::chrono::duration<double>(now - start).count();
    char line[320];
    const std::string stage = g_label.empty() ? p.stage : p.stage + " [" + g_label + "]";
    if (p.total > 0) {
      const double frac = static_cast<double>(p.done) / static_cast<double>(p.total);
      const int width = 30;
      const int filled = static_cast<int>(frac * width + 0.5);
      std::string bar(filled, '#');
      bar += std::string(width - filled, '.');
      const double eta = frac > 0 ? secs * (1 - frac) / frac : 0;
      std::snprintf(line, sizeof line, "%-10s [%s] %5.1f%% %lld/%lld  %5.0fs ETA %4.0fs  %s", stage.c_str(),
                    bar.c_str(), 100 * frac, static_cast<long long>(p.done), static_cast<long long>(p.total),
                    secs, eta, p.detail.c_str());
    } else {
      std::snprintf(line, sizeof line, "%-10s %lld  %5.0fs  %s", stage.c_str(), static_cast<long long>(p.done),
                    secs, p.detail.c_str());
    }
    if (tty) {
      std::fprintf(stderr, "\r\033[K%s", line);
      g_barDrawn = true;
    } else {
      std::fprintf(stderr, "%s\n", line);
    }
    std::fflush(stderr);
    return true;
  };
}

void setProgressLabel(const std::string& label) { g_label = label; }

void finishProgress() {
  if (g_barDrawn) std::fprintf(stderr, "\n");
  g_barDrawn = false;
}

}  // namespace duo::cli
