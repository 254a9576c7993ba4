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

}  // namespace duo
