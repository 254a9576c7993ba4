// SPDX-License-Identifier: GPL-3.0-or-later
// Writing all of a buffer to a file descriptor: the streamed writers (checkpoint shards, GGUF)
// write tensors straight to their open temp files. Torch-free.
#pragma once
#include <cstddef>
#include <string>

namespace duo {

// Writes all of [data, data + n) to fd, retrying short writes and EINTR. Throws duo::Error naming
// `file` and the OS error (a full disk, EFBIG under a file size limit, EIO).
void writeAllToFd(int fd, const void* data, size_t n, const std::string& file);

}  // namespace duo
