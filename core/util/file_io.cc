#include "core/util/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace eprop {
namespace {

// Writes all of `bytes` to fd, retrying short writes and EINTR.
absl::Status WriteAll(int fd, absl::string_view bytes,
                      const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "cannot write", path);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Creates `path` (which must not exist), writes `bytes`, fsyncs and closes.
// On error the file is removed if this call created it.
absl::Status WriteNewFile(const std::string& path, absl::string_view bytes) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, "cannot create temporary file", path);
  absl::Status status = WriteAll(fd, bytes, path);
  if (status.ok() && ::fsync(fd) != 0) {
    status = ErrnoError(errno, "cannot fsync", path);
  }
  if (::close(fd) != 0 && status.ok()) {
    status = ErrnoError(errno, "cannot close", path);
  }
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

// "<path>.tmp-<pid>-<counter>", unique within and across live processes.
std::string TempPathFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(path, ".tmp-", ::getpid(), "-", counter++);
}

// Writes `bytes` to a new temporary file next to `path`, fsyncs it and
// renames it over `path`. On error `path` is untouched and the temporary
// file is gone.
absl::Status ReplaceFile(const std::string& path, absl::string_view bytes) {
  const std::string temp = TempPathFor(path);
  if (absl::Status s = WriteNewFile(temp, bytes); !s.ok()) return s;
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return ErrnoError(error, absl::StrCat("cannot rename ", temp, " to"), path);
  }
  return absl::OkStatus();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "cannot open directory", dir);
  absl::Status status;
  if (::fsync(fd) != 0) {
    status = ErrnoError(errno, "cannot fsync directory", dir);
  }
  ::close(fd);
  return status;
}

}  // namespace

absl::Status ErrnoError(int error, absl::string_view what,
                        absl::string_view path) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " ", path));
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes) {
  if (absl::Status s = ReplaceFile(path, bytes); !s.ok()) return s;
  if (absl::Status s = SyncDirectory(DirectoryOf(path)); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat(path,
                                     " was written but may not survive a "
                                     "crash: ",
                                     s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return ErrnoError(errno, "cannot open", path);
  std::ostringstream bytes;
  bytes << file.rdbuf();
  if (file.bad()) return ErrnoError(errno, "cannot read", path);
  return bytes.str();
}

}  // namespace eprop
