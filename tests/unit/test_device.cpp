// SPDX-License-Identifier: GPL-3.0-or-later
// core/common/device: the CPU allocator that puts large tensors on huge pages.
#include <QtTest/QtTest>
#include <c10/core/Allocator.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "core/common/device.h"

namespace {

// A field of the mapping that holds address p in /proc/self/smaps ("AnonHugePages:", "VmFlags:"):
// the rest of its line, empty if not found.
std::string smapsField(const void* p, const std::string& field) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  bool inside = false;
  while (std::getline(in, line)) {
    std::uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = a >= lo && a < hi;
      continue;
    }
    if (inside && line.rfind(field, 0) == 0) return line.substr(field.size());
  }
  return {};
}

std::string thpMode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string s;
  std::getline(in, s);
  return s;
}

}  // namespace

class TestDevice : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void largeTensorsStartOnHugePages();
  void rawInterfaceFreesBothKinds();
};

// After useHugePagesForLargeTensors: a 64 MB tensor starts on a 2 MB boundary and, where the
// kernel offers transparent huge pages on request, its mapping asks for them; small tensors
// keep LibTorch's own 64-byte alignment; values, resizing and freeing behave as before.
void TestDevice::largeTensorsStartOnHugePages() {
  duo::useHugePagesForLargeTensors();
  duo::useHugePagesForLargeTensors();  // idempotent
  for (int round = 0; round < 3; ++round) {  // allocated, freed and allocated again
    torch::Tensor big = torch::empty({16 << 20}, torch::kFloat32);  // 64 MB
    QCOMPARE(reinterpret_cast<std::uintptr_t>(big.data_ptr()) % (std::uintptr_t(2) << 20), std::uintptr_t(0));
    big.fill_(1.5f);
    QCOMPARE(big.sum(torch::kFloat64).item<double>(), 1.5 * double(16 << 20));
    const std::string mode = thpMode();
    if (!mode.empty() && mode.find("[never]") == std::string::npos) {
      // The request itself is ours to check (madvise marks the mapping "hg"); whether the kernel
      // finds free huge pages to back it is the machine's, so that is reported, not asserted.
      const std::string flags = smapsField(big.data_ptr(), "VmFlags:");
      QVERIFY2(flags.find(" hg") != std::string::npos, ("mapping flags without hg:" + flags).c_str());
      qInfo("THP %s: AnonHugePages%s of the 64 MB tensor's mapping", mode.c_str(),
            smapsField(big.data_ptr(), "AnonHugePages:").c_str());
    }
  }
  torch::Tensor small = torch::arange(1000, torch::kFloat32);
  QCOMPARE(reinterpret_cast<std::uintptr_t>(small.data_ptr()) % 64, std::uintptr_t(0));
  small.resize_({20 << 20});  // grows past the threshold: reallocated by the large path, values kept
  QCOMPARE(small[999].item<float>(), 999.0f);
  QCOMPARE(reinterpret_cast<std::uintptr_t>(small.data_ptr()) % (std::uintptr_t(2) << 20), std::uintptr_t(0));
}

// The raw interface (raw_allocate / raw_deallocate, one deleter for every buffer: oneDNN's bf16
// products use it) frees large and small buffers alike, many times over; the bf16 product that
// first tripped LibTorch's assertion ("raw_deallocate": no raw deleter) runs.
void TestDevice::rawInterfaceFreesBothKinds() {
  duo::useHugePagesForLargeTensors();
  c10::Allocator* a = c10::GetAllocator(c10::DeviceType::CPU);
  QVERIFY(a->raw_deleter() != nullptr);
  for (int round = 0; round < 4; ++round)
    for (size_t n : {size_t(100), size_t(1) << 20, size_t(40) << 20}) {
      void* p = a->raw_allocate(n);
      QVERIFY(p != nullptr);
      std::memset(p, round, n);
      if (n >= (size_t(32) << 20)) QCOMPARE(reinterpret_cast<std::uintptr_t>(p) % (std::uintptr_t(2) << 20), std::uintptr_t(0));
      a->raw_deallocate(p);
    }
  const torch::Tensor x = torch::randn({2048, 4096}).to(torch::kBFloat16);  // 16 MB, and a 64 MB f32 source
  const torch::Tensor w = torch::randn({4096, 1024}).to(torch::kBFloat16);
  const torch::Tensor y = torch::matmul(x, w);
  QCOMPARE(y.size(0), int64_t(2048));
  QVERIFY(std::isfinite(y.to(torch::kFloat32).abs().sum().item<double>()));
}

QTEST_GUILESS_MAIN(TestDevice)
#include "test_device.moc"
