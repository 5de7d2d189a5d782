// Versioned, atomically written training checkpoints: everything a trainer
// needs to resume a run exactly where it stopped.
//
// File format, version 1. All integers are little-endian two's complement;
// float is IEEE-754 binary32 and double binary64, each stored as its bit
// pattern in a little-endian uint32 / uint64 (so every value, NaN payloads
// included, round-trips bit for bit).
//
//   offset  size  field
//   0       8     magic, the ASCII bytes "EPROPCKP"
//   8       4     uint32 format version (1)
//   12      8     uint64 payload length L
//   20      L     payload (below)
//   20 + L  4     uint32 CRC-32C of the L payload bytes (Castagnoli,
//                 reflected polynomial 0x82F63B78, initial value and final
//                 XOR 0xFFFFFFFF; the CRC of "123456789" is 0xE3069283)
//
// The file ends right after the checksum. Payload primitives:
//   string  uint64 byte count n, then n raw bytes (any bytes, NUL included)
//   matrix  int64 rows, int64 cols, then rows * cols floats in row-major
//           order; a vector is stored as a matrix with cols = 1
// Payload, in order:
//   string  run_config
//   int64   iteration
//   matrix  weights.w_in, weights.w_rec, weights.w_out
//   matrix  weights.b_out                  (cols = 1)
//   matrix  feedback                       (0 x 0 when empty)
//   int64   optimizer.step
//   matrix  optimizer.m.w_in, .w_rec, .w_out, .b_out (cols = 1)
//   matrix  optimizer.v.w_in, .w_rec, .w_out, .b_out (cols = 1)
//   string  rng_state
//   uint64  number of history entries, then for each IterationMetrics:
//           int64 iteration; double loss, reg_loss, error, nmse, rate_hz;
//           uint64 number of populations, then for each PopulationRates:
//             string name; double mean_hz, min_hz, max_hz;
//           double ms_per_iter, wall_s
#ifndef EPROP_CORE_TRAIN_CHECKPOINT_H_
#define EPROP_CORE_TRAIN_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/learn/optimizer.h"
#include "core/model/weights.h"
#include "core/train/metrics.h"
#include "core/util/eigen_types.h"

namespace eprop {

// The newest file format version this build reads and the one it writes.
inline constexpr uint32_t kCheckpointFormatVersion = 1;

struct TrainingCheckpoint {
  // Opaque text describing the run (task, algorithm, network, seed...); the
  // trainer compares it on resume. Stored byte for byte.
  std::string run_config;
  int64_t iteration = 0;  // training iterations completed
  Weights<float> weights;
  MatF feedback;  // B [n_rec x n_out]; empty for symmetric feedback
  OptimizerState<float> optimizer;
  std::string rng_state;  // Rng::SaveState() of the data generator
  // Every recorded validation so far, including populations.
  std::vector<IterationMetrics> history;
};

// Writes `checkpoint` to `path` atomically: the bytes go to
// "<path>.tmp-<pid>-<counter>" in the same directory, which is fsync'ed,
// renamed over `path`, and then the directory is fsync'ed. Readers of `path`
// therefore see either the old file or the complete new one, also after a
// crash; concurrent writers to one path each leave a complete file (the
// last rename wins).
//
// Refuses (kInvalidArgument, nothing touched) a checkpoint that
// ReadCheckpoint would reject: inconsistent shapes, non-finite weights,
// feedback or optimizer moments, negative iteration or step, or sizes over
// the limits below. On any I/O error the file at `path` is unchanged, the
// temporary file is removed, and the status (code mapped from errno by
// absl::ErrnoToStatus) names the operation, the path and the system error.
// The one exception: if only the final directory fsync fails, the new
// checkpoint is already in place but may not survive a crash; the error
// says so.
absl::Status WriteCheckpoint(const std::string& path,
                             const TrainingCheckpoint& checkpoint);

// Reads and validates a checkpoint written by WriteCheckpoint. Errors name
// the path and what is wrong:
//   kNotFound (and other errno codes)  the file cannot be opened or read
//   kInvalidArgument  not an eprop checkpoint (wrong magic)
//   kUnimplemented    "checkpoint format version N is newer than this build
//                     supports (M)"
//   kDataLoss         truncated or oversized file, checksum mismatch,
//                     version 0, a matrix over 1e9 entries or a string over
//                     1e8 bytes (refused before allocating), inconsistent
//                     shapes (w_rec square [n_rec x n_rec], w_in rows = n_rec,
//                     w_out cols = n_rec, b_out size = w_out rows, feedback
//                     empty or [n_rec x n_out], optimizer m and v shaped like
//                     the weights), NaN or infinity in weights, feedback or
//                     optimizer moments, negative iteration or step, or bytes
//                     left over after the last payload section.
// Metrics in `history` are not checked: NaN is a legitimate value there.
absl::StatusOr<TrainingCheckpoint> ReadCheckpoint(const std::string& path);

}  // namespace eprop

#endif  // EPROP_CORE_TRAIN_CHECKPOINT_H_
