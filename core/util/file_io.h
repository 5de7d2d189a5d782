// Crash-safe file replacement, for checkpoints and every other piece of
// state that must survive a crash.
#ifndef EPROP_CORE_UTIL_FILE_IO_H_
#define EPROP_CORE_UTIL_FILE_IO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace eprop {

// Writes `bytes` to `path` atomically: the bytes go to
// "<path>.tmp-<pid>-<counter>" in the same directory, which is fsync'ed,
// renamed over `path`, and then the directory is fsync'ed. Readers of `path`
// see either the old file or the complete new one, also after a crash. On
// an I/O error `path` is unchanged, the temporary file is removed, and the
// status (code from errno) names the operation, the path and the system
// error; if only the final directory fsync fails, the new file is in place
// but may not survive a crash, and the error says so.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes);

// The whole file; NOT_FOUND (and other errno codes) name the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// An absl::Status from errno: "<what> <path>: <strerror>".
absl::Status ErrnoError(int error, absl::string_view what,
                        absl::string_view path);

}  // namespace eprop

#endif  // EPROP_CORE_UTIL_FILE_IO_H_
