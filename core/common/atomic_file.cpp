// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/common/error.h"

namespace fs = std::filesystem;

namespace duo {

namespace {
std::string tempNameFor(const std::string& path) {
  std::random_device rd;
  std::ostringstream os;
  os << path << ".tmp-" << ::getpid() << "-" << std::hex << rd();
  return os.str();
}

void fsyncPath(const std::string& p) {
  int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

void writeFileAtomic(const std::string& path, const std::function<void(std::ostream&)>& writer) {
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  DUO_CHECK(fs::is_directory(dir), "cannot write '", path, "': folder '", dir.string(), "' does not exist");
  const std::string tmp = tempNameFor(path);
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      DUO_CHECK(out.good(), "cannot write '", path, "': ", std::strerror(errno));
      writer(out);
      out.flush();
      DUO_CHECK(out.good(), "cannot write '", path, "': write failed (disk full?)");
      out.close();
      DUO_CHECK(!out.fail(), "cannot write '", path, "': close failed (disk full?)");
    }
    fsyncPath(tmp);
    std::error_code ec;
    fs::rename(tmp, target, ec);
    DUO_CHECK(!ec, "cannot write '", path, "': rename failed: ", ec.message());
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void writeFileAtomic(const std::string& path, const std::string& bytes) {
  writeFileAtomic(path, [&](std::ostream& os) { os.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

std::string readFile(const std::string& path) {
  DUO_CHECK(fs::exists(path), "'", path, "': no such file");
  DUO_CHECK(!fs::is_directory(path), "'", path, "': is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  DUO_CHECK(in.good(), "'", path, "': cannot open: ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace duo
