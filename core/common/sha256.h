// SPDX-License-Identifier: GPL-3.0-or-later
// SHA-256 (FIPS 180-4) for provenance: model content hashes and corpus checksums. Torch-free.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace duo {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t len);
  std::string hexDigest();  // finalises; call once

 private:
  void block(const uint8_t* p);
  uint32_t m_h[8];
  uint8_t m_buf[64];
  size_t m_bufLen = 0;
  uint64_t m_total = 0;
};

std::string sha256Hex(const std::string& bytes);
// Hash of a file's contents (streamed); throws duo::Error naming the path when unreadable.
std::string sha256File(const std::string& path);

}  // namespace duo
