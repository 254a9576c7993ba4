// SPDX-License-Identifier: GPL-3.0-or-later
// A read-only memory map of a whole file. Model files are mapped, never read into buffers, so a
// 14 GB checkpoint costs page cache rather than heap and each byte is read from disk once.
// Torch-free.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace duo {

class MappedFile {
 public:
  // Maps `path` read-only. Throws duo::Error naming the path and the OS error when it cannot.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  const uint8_t* data() const { return m_data; }  // [size()] bytes; nullptr for an empty file
  size_t size() const { return m_size; }
  const std::string& path() const { return m_path; }

 private:
  void release() noexcept;

  std::string m_path;
  const uint8_t* m_data = nullptr;
  size_t m_size = 0;
};

// A mapped model file with its header, parsed and validated once on opening (SafetensorsFile,
// GgufFile). `Header` has dataOffset, where the data section starts in the file.
template <class Header>
class MappedModelFile {
 public:
  const std::string& path() const { return m_map.path(); }
  const Header& header() const { return m_header; }
  size_t fileBytes() const { return m_map.size(); }

 protected:
  // Maps `path` and parses its header with parse(data, size, path), which throws duo::Error.
  template <class Parse>
  MappedModelFile(const std::string& path, Parse parse) : m_map(path), m_header(parse(m_map.data(), m_map.size(), path)) {}
  // The file's bytes from `offset` into the data section on.
  const uint8_t* dataAt(uint64_t offset) const { return m_map.data() + m_header.dataOffset + offset; }

 private:
  MappedFile m_map;
  Header m_header;
};

}  // namespace duo
