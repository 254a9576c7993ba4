// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/dist.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>
#include <vector>

#include "app/cli/cli.h"
#include "core/common/error.h"

namespace duo::cli {

namespace {

std::vector<std::string> g_args;

// A free TCP port on the loopback (the kernel's choice), for the rendezvous.
int freeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  DUO_CHECK(fd >= 0, "--nproc: cannot open a socket to find a free port: ", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  DUO_CHECK(ok, "--nproc: cannot find a free port on 127.0.0.1: ", std::strerror(errno));
  return ntohs(a.sin_port);
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "stopped (status " + std::to_string(status) + ")";
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Ctrl-C reaches every worker from the terminal (they share its process group) and each cancels
// cleanly; the launcher only keeps waiting. SIGTERM to the launcher is passed on as SIGINT: the
// workers cancel as on Ctrl-C (a second SIGINT would make them leave at once, so it is sent once).
volatile sig_atomic_t g_terminate = 0;
extern "C" void onLauncherSignal(int sig) {
  if (sig == SIGTERM) g_terminate = 1;
}

// Starts `n` workers (this executable, the same arguments without --nproc) and waits for them.
int launch(int n) {
  std::vector<std::string> args;
  for (size_t i = 0; i < g_args.size(); ++i) {
    const std::string& s = g_args[i];
    if (s == "--nproc") {
      ++i;
      continue;
    }
    if (s.rfind("--nproc=", 0) == 0) continue;
    args.push_back(s);
  }
  const char* envAddr = std::getenv("MASTER_ADDR");
  const char* envPort = std::getenv("MASTER_PORT");
  const std::string addr = envAddr && *envAddr ? envAddr : "127.0.0.1";
  const std::string port = envPort && *envPort ? envPort : std::to_string(freeLoopbackPort());
  const char* omp = std::getenv("OMP_NUM_THREADS");
  std::string threads;
  if (!omp || !*omp) {  // share the cores out, as torchrun does (it gives each worker one thread)
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    threads = std::to_string(std::max(1u, hw / static_cast<unsigned>(n)));
    std::cerr << "duoscope-cli: " << n << " ranks on 127.0.0.1:" << port << ", " << threads
              << " thread(s) each (OMP_NUM_THREADS sets it)\n";
  }
  std::signal(SIGINT, onLauncherSignal);
  std::signal(SIGTERM, onLauncherSignal);
  std::vector<pid_t> pids(static_cast<size_t>(n), -1);
  for (int r = 0; r < n; ++r) {
    const pid_t pid = fork();
    DUO_CHECK(pid >= 0, "--nproc: cannot start rank ", r, ": ", std::strerror(errno));
    if (pid == 0) {
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(n).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(n).c_str(), 1);
      setenv("MASTER_ADDR", addr.c_str(), 1);
      setenv("MASTER_PORT", port.c_str(), 1);
      if (!threads.empty()) setenv("OMP_NUM_THREADS", threads.c_str(), 1);
      std::signal(SIGINT, SIG_DFL);
      std::signal(SIGTERM, SIG_DFL);
      std::vector<char*> argv;
      for (std::string& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "duoscope-cli: rank %d: cannot start: %s\n", r, std::strerror(errno));
      std::_Exit(127);
    }
    pids[static_cast<size_t>(r)] = pid;
  }
  // Wait; after the first failure the others get a grace period to stop on their own (a peer's
  // collective fails as soon as a rank is gone), then SIGTERM, then SIGKILL.
  using clock = std::chrono::steady_clock;
  int running = n, firstCode = 0;
  clock::time_point failedAt{};
  bool failed = false, termSent = false, killSent = false, cancelSent = false;
  const auto grace = std::chrono::seconds(20);
  while (running > 0) {
    if (g_terminate && !cancelSent) {
      for (pid_t p : pids)
        if (p > 0) kill(p, SIGINT);
      cancelSent = true;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < n; ++r) {
        if (pids[static_cast<size_t>(r)] != pid) continue;
        pids[static_cast<size_t>(r)] = -1;
        --running;
        if (exitCodeOf(status) != 0 && !failed) {
          failed = true;
          failedAt = clock::now();
          firstCode = exitCodeOf(status);
          std::cerr << "duoscope-cli: rank " << r << " " << describeStatus(status);
          if (running > 0) std::cerr << "; stopping the other ranks";
          std::cerr << std::endl;
        }
      }
      continue;
    }
    if (failed && !termSent && clock::now() - failedAt > grace) {
      for (pid_t p : pids)
        if (p > 0) kill(p, SIGTERM);
      termSent = true;
    }
    if (failed && !killSent && clock::now() - failedAt > grace + std::chrono::seconds(10)) {
      for (pid_t p : pids)
        if (p > 0) kill(p, SIGKILL);
      killSent = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return failed ? (firstCode != 0 ? firstCode : 1) : 0;
}

}  // namespace

void addDistOptions(CLI::App* cmd, DistArgs& d) {
  cmd->add_option("--nproc", d.nproc,
                  "Data-parallel: start this many local worker processes on 127.0.0.1 (torch.distributed; torchrun "
                  "--nproc-per-node N --no-python duoscope-cli ... works too)")
      ->capture_default_str();
  cmd->add_option("--dist-backend", d.backend, "torch.distributed backend: auto (nccl on CUDA, gloo otherwise) | gloo | nccl")
      ->capture_default_str();
  cmd->add_option("--dist-timeout", d.timeoutSeconds,
                  "Seconds a rank waits in a collective before it gives up (the longest single solve must fit)")
      ->capture_default_str();
}

void keepArguments(int argc, char** argv) { g_args.assign(argv, argv + argc); }

DistSettings resolveDist(const DistArgs& d) {
  DUO_CHECK(d.nproc >= 1, "--nproc ", d.nproc, " must be at least 1");
  DistSettings s;
  if (launchedAsWorker()) {
    DUO_CHECK(d.nproc == 1, "--nproc ", d.nproc, " in a process started by a launcher (WORLD_SIZE is set): ",
              "let the launcher start the workers, or unset WORLD_SIZE");
    s = distSettingsFromEnv();
  } else if (d.nproc > 1) {
    DUO_CHECK(distributedBuilt(), "--nproc ", d.nproc, ": this duoscope-cli was built without torch.distributed ",
              "(c10d; Debian: libgloo-dev at build time); it runs one process");
    DistSettings check;  // the flags are checked before any worker starts
    check.backend = d.backend;
    check.timeoutSeconds = d.timeoutSeconds;
    check.validate();
    throw ExitCode{launch(d.nproc)};
  }
  s.backend = d.backend;
  s.timeoutSeconds = d.timeoutSeconds;
  s.validate();
  if (s.distributed()) setProgressLabel(std::to_string(s.worldSize) + " ranks");
  return s;
}

std::string rankPrefix() {
  if (!launchedAsWorker()) return "";
  const char* ws = std::getenv("WORLD_SIZE");
  const char* r = std::getenv("RANK");
  if (!ws || std::atoi(ws) <= 1) return "";
  return std::string("rank ") + (r ? r : "?") + ": ";
}

}  // namespace duo::cli
