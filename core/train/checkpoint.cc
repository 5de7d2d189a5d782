#include "core/train/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/util/file_io.h"

namespace eprop {
namespace {

constexpr char kMagic[] = "EPROPCKP";  // 8 bytes, no terminator in the file
constexpr size_t kMagicBytes = 8;
constexpr size_t kHeaderBytes = kMagicBytes + 4 + 8;  // magic, version, L
constexpr size_t kChecksumBytes = 4;
constexpr int64_t kMaxMatrixEntries = 1'000'000'000;
constexpr uint64_t kMaxStringBytes = 100'000'000;

// ---------------------------------------------------------------- CRC-32C

constexpr uint32_t kCrc32cPolynomial = 0x82F63B78;  // reflected Castagnoli

constexpr std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ ((crc & 1) != 0 ? kCrc32cPolynomial : 0);
    }
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrc32cTable = MakeCrc32cTable();

// CRC-32C of `bytes` as documented in checkpoint.h.
uint32_t Crc32c(absl::string_view bytes) {
  uint32_t crc = 0xFFFFFFFF;
  for (const char c : bytes) {
    crc = (crc >> 8) ^ kCrc32cTable[(crc ^ static_cast<uint8_t>(c)) & 0xFF];
  }
  return crc ^ 0xFFFFFFFF;
}

// --------------------------------------------------------------- Encoding

// Appends little-endian primitives to a byte string.
class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}

  void PutU32(uint32_t value) { PutLittleEndian(value, 4); }
  void PutU64(uint64_t value) { PutLittleEndian(value, 8); }
  void PutI64(int64_t value) { PutU64(static_cast<uint64_t>(value)); }
  void PutF64(double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    PutU64(bits);
  }
  void PutString(absl::string_view s) {
    PutU64(s.size());
    out_->append(s.data(), s.size());
  }
  // rows, cols, then the entries in row-major order.
  template <typename M>
  void PutMatrix(const M& m) {
    PutI64(m.rows());
    PutI64(m.cols());
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
      for (Eigen::Index c = 0; c < m.cols(); ++c) PutF32(m(r, c));
    }
  }

 private:
  void PutF32(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    PutU32(bits);
  }
  void PutLittleEndian(uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      out_->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
    }
  }

  std::string* out_;
};

void PutWeights(const Weights<float>& w, ByteWriter* out) {
  out->PutMatrix(w.w_in);
  out->PutMatrix(w.w_rec);
  out->PutMatrix(w.w_out);
  out->PutMatrix(w.b_out);
}

void PutMetrics(const IterationMetrics& m, ByteWriter* out) {
  out->PutI64(m.iteration);
  out->PutF64(m.loss);
  out->PutF64(m.reg_loss);
  out->PutF64(m.error);
  out->PutF64(m.nmse);
  out->PutF64(m.rate_hz);
  out->PutU64(m.populations.size());
  for (const PopulationRates& p : m.populations) {
    out->PutString(p.name);
    out->PutF64(p.mean_hz);
    out->PutF64(p.min_hz);
    out->PutF64(p.max_hz);
  }
  out->PutF64(m.ms_per_iter);
  out->PutF64(m.wall_s);
}

std::string EncodePayload(const TrainingCheckpoint& c) {
  std::string payload;
  ByteWriter out(&payload);
  out.PutString(c.run_config);
  out.PutI64(c.iteration);
  PutWeights(c.weights, &out);
  out.PutMatrix(c.feedback);
  out.PutI64(c.optimizer.step);
  PutWeights(c.optimizer.m, &out);
  PutWeights(c.optimizer.v, &out);
  out.PutString(c.rng_state);
  out.PutU64(c.history.size());
  for (const IterationMetrics& m : c.history) PutMetrics(m, &out);
  return payload;
}

// The complete file: header, payload, checksum.
std::string EncodeFile(const TrainingCheckpoint& c) {
  const std::string payload = EncodePayload(c);
  std::string file(kMagic, kMagicBytes);
  ByteWriter out(&file);
  out.PutU32(kCheckpointFormatVersion);
  out.PutU64(payload.size());
  file += payload;
  out.PutU32(Crc32c(payload));
  return file;
}

// --------------------------------------------------------------- Decoding

// Reads little-endian primitives from a byte string. The first failure is
// remembered in error() and every later read returns zero/empty, so callers
// can read a whole section and check once.
class ByteReader {
 public:
  explicit ByteReader(absl::string_view bytes) : bytes_(bytes) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t remaining() const { return bytes_.size() - pos_; }

  uint32_t GetU32(const char* what) {
    return static_cast<uint32_t>(GetLittleEndian(4, what));
  }
  uint64_t GetU64(const char* what) { return GetLittleEndian(8, what); }
  int64_t GetI64(const char* what) {
    return static_cast<int64_t>(GetU64(what));
  }
  double GetF64(const char* what) {
    const uint64_t bits = GetU64(what);
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }
  std::string GetString(const char* what);
  MatF GetMatrix(const char* what);
  Vec<float> GetVector(const char* what);
  // Reads an element count and checks that `count` elements of at least
  // `min_bytes_each` fit in what is left; 0 on failure.
  uint64_t GetCount(const char* what, size_t min_bytes_each);

  void Fail(std::string message) {
    if (ok()) error_ = std::move(message);
  }

 private:
  uint64_t GetLittleEndian(int bytes, const char* what);
  float GetF32() {
    const uint32_t bits = GetU32("float");
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }

  absl::string_view bytes_;
  size_t pos_ = 0;
  std::string error_;
};

uint64_t ByteReader::GetLittleEndian(int bytes, const char* what) {
  if (!ok()) return 0;
  if (remaining() < static_cast<size_t>(bytes)) {
    Fail(absl::StrCat("payload truncated while reading ", what));
    return 0;
  }
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value |= uint64_t{static_cast<uint8_t>(bytes_[pos_ + i])} << (8 * i);
  }
  pos_ += bytes;
  return value;
}

std::string ByteReader::GetString(const char* what) {
  const uint64_t size = GetU64(what);
  if (!ok()) return "";
  if (size > kMaxStringBytes) {
    Fail(absl::StrCat(what, " claims ", size, " bytes, over the limit of ",
                      kMaxStringBytes));
    return "";
  }
  if (size > remaining()) {
    Fail(absl::StrCat("payload truncated while reading ", what));
    return "";
  }
  std::string s(bytes_.substr(pos_, size));
  pos_ += size;
  return s;
}

MatF ByteReader::GetMatrix(const char* what) {
  const int64_t rows = GetI64(what);
  const int64_t cols = GetI64(what);
  if (!ok()) return MatF();
  if (rows < 0 || cols < 0 || rows > kMaxMatrixEntries ||
      cols > kMaxMatrixEntries || rows * cols > kMaxMatrixEntries) {
    Fail(absl::StrCat(what, " has absurd dimensions ", rows, " x ", cols,
                      " (at most ", kMaxMatrixEntries, " entries allowed)"));
    return MatF();
  }
  if (static_cast<uint64_t>(rows * cols) > remaining() / 4) {
    Fail(absl::StrCat("payload truncated while reading ", what, " (", rows,
                      " x ", cols, ")"));
    return MatF();
  }
  MatF m(rows, cols);
  for (int64_t i = 0; i < rows * cols; ++i) m.data()[i] = GetF32();
  return m;
}

Vec<float> ByteReader::GetVector(const char* what) {
  const MatF m = GetMatrix(what);
  if (ok() && m.cols() != 1) {
    Fail(absl::StrCat(what, " must be stored with cols = 1, got ", m.rows(),
                      " x ", m.cols()));
  }
  if (!ok()) return Vec<float>();
  return Eigen::Map<const Vec<float>>(m.data(), m.rows());
}

uint64_t ByteReader::GetCount(const char* what, size_t min_bytes_each) {
  const uint64_t count = GetU64(what);
  if (ok() && count > remaining() / min_bytes_each) {
    Fail(absl::StrCat(what, " is ", count, ", more than the ", remaining(),
                      " remaining payload bytes can hold"));
  }
  return ok() ? count : 0;
}

Weights<float> GetWeights(const char* what, ByteReader* in) {
  Weights<float> w;
  w.w_in = in->GetMatrix(absl::StrCat(what, ".w_in").c_str());
  w.w_rec = in->GetMatrix(absl::StrCat(what, ".w_rec").c_str());
  w.w_out = in->GetMatrix(absl::StrCat(what, ".w_out").c_str());
  w.b_out = in->GetVector(absl::StrCat(what, ".b_out").c_str());
  return w;
}

// Smallest encodings: a population has an empty name and three doubles; a
// history entry has no populations.
constexpr size_t kMinPopulationBytes = 8 + 3 * 8;
constexpr size_t kMinMetricsBytes = 8 + 5 * 8 + 8 + 2 * 8;

PopulationRates GetPopulation(ByteReader* in) {
  PopulationRates p;
  p.name = in->GetString("population name");
  p.mean_hz = in->GetF64("population mean_hz");
  p.min_hz = in->GetF64("population min_hz");
  p.max_hz = in->GetF64("population max_hz");
  return p;
}

IterationMetrics GetMetrics(ByteReader* in) {
  IterationMetrics m;
  m.iteration = in->GetI64("history iteration");
  m.loss = in->GetF64("history loss");
  m.reg_loss = in->GetF64("history reg_loss");
  m.error = in->GetF64("history error");
  m.nmse = in->GetF64("history nmse");
  m.rate_hz = in->GetF64("history rate_hz");
  const uint64_t populations =
      in->GetCount("population count", kMinPopulationBytes);
  m.populations.reserve(populations);
  for (uint64_t i = 0; i < populations && in->ok(); ++i) {
    m.populations.push_back(GetPopulation(in));
  }
  m.ms_per_iter = in->GetF64("history ms_per_iter");
  m.wall_s = in->GetF64("history wall_s");
  return m;
}

// Parses the payload layout; on failure the reader holds the reason.
TrainingCheckpoint DecodePayload(ByteReader* in) {
  TrainingCheckpoint c;
  c.run_config = in->GetString("run_config");
  c.iteration = in->GetI64("iteration");
  c.weights = GetWeights("weights", in);
  c.feedback = in->GetMatrix("feedback");
  c.optimizer.step = in->GetI64("optimizer step");
  c.optimizer.m = GetWeights("optimizer m", in);
  c.optimizer.v = GetWeights("optimizer v", in);
  c.rng_state = in->GetString("rng_state");
  const uint64_t entries = in->GetCount("history count", kMinMetricsBytes);
  c.history.reserve(entries);
  for (uint64_t i = 0; i < entries && in->ok(); ++i) {
    c.history.push_back(GetMetrics(in));
  }
  if (in->ok() && in->remaining() != 0) {
    in->Fail(absl::StrCat(in->remaining(),
                          " unexpected bytes after the last payload section"));
  }
  return c;
}

// ------------------------------------------------------------- Validation

std::string ShapeOf(const MatF& m) {
  return absl::StrCat(m.rows(), " x ", m.cols());
}
std::string ShapeOf(const Vec<float>& v) { return absl::StrCat(v.size()); }

// Checks `w` against n_rec = w.w_rec.rows(); `what` names it in errors.
absl::Status CheckWeightShapes(const char* what, const Weights<float>& w) {
  const Eigen::Index n_rec = w.w_rec.rows();
  if (w.w_rec.cols() != n_rec || w.w_in.rows() != n_rec ||
      w.w_out.cols() != n_rec || w.b_out.size() != w.w_out.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("inconsistent ", what, " shapes: w_in ", ShapeOf(w.w_in),
                     ", w_rec ", ShapeOf(w.w_rec), ", w_out ", ShapeOf(w.w_out),
                     ", b_out ", ShapeOf(w.b_out),
                     " (need w_rec square [n_rec x n_rec], w_in rows = "
                     "n_rec, w_out cols = n_rec, b_out size = w_out rows)"));
  }
  return absl::OkStatus();
}

bool SameShapes(const Weights<float>& a, const Weights<float>& b) {
  return a.w_in.rows() == b.w_in.rows() && a.w_in.cols() == b.w_in.cols() &&
         a.w_rec.rows() == b.w_rec.rows() && a.w_rec.cols() == b.w_rec.cols() &&
         a.w_out.rows() == b.w_out.rows() && a.w_out.cols() == b.w_out.cols() &&
         a.b_out.size() == b.b_out.size();
}

bool AllFinite(const Weights<float>& w) {
  return w.w_in.allFinite() && w.w_rec.allFinite() && w.w_out.allFinite() &&
         w.b_out.allFinite();
}

absl::Status CheckShapes(const TrainingCheckpoint& c) {
  if (absl::Status s = CheckWeightShapes("weight", c.weights); !s.ok()) {
    return s;
  }
  const Weights<float>& w = c.weights;
  if (c.feedback.size() != 0 && (c.feedback.rows() != w.w_rec.rows() ||
                                 c.feedback.cols() != w.w_out.rows())) {
    return absl::InvalidArgumentError(
        absl::StrCat("feedback is ", ShapeOf(c.feedback),
                     ", need empty or [n_rec x n_out] = ", w.w_rec.rows(),
                     " x ", w.w_out.rows()));
  }
  if (!SameShapes(c.optimizer.m, w) || !SameShapes(c.optimizer.v, w)) {
    return absl::InvalidArgumentError(
        "optimizer moments m and v must have the shapes of the weights");
  }
  return absl::OkStatus();
}

absl::Status CheckValues(const TrainingCheckpoint& c) {
  if (c.iteration < 0 || c.optimizer.step < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("iteration and optimizer step must be >= 0, got ",
                     c.iteration, " and ", c.optimizer.step));
  }
  if (!AllFinite(c.weights)) {
    return absl::InvalidArgumentError("weights contain NaN or infinity");
  }
  if (!c.feedback.allFinite()) {
    return absl::InvalidArgumentError("feedback contains NaN or infinity");
  }
  if (!AllFinite(c.optimizer.m) || !AllFinite(c.optimizer.v)) {
    return absl::InvalidArgumentError(
        "optimizer moments contain NaN or infinity");
  }
  return absl::OkStatus();
}

// The size limits ReadCheckpoint enforces, checked before writing.
absl::Status CheckSizes(const TrainingCheckpoint& c) {
  bool ok = c.run_config.size() <= kMaxStringBytes &&
            c.rng_state.size() <= kMaxStringBytes;
  for (const IterationMetrics& m : c.history) {
    for (const PopulationRates& p : m.populations) {
      ok = ok && p.name.size() <= kMaxStringBytes;
    }
  }
  // With consistent shapes the optimizer moments have these sizes too.
  for (const Eigen::Index n :
       {c.weights.w_in.size(), c.weights.w_rec.size(), c.weights.w_out.size(),
        c.weights.b_out.size(), c.feedback.size()}) {
    ok = ok && n <= kMaxMatrixEntries;
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("a string is over ", kMaxStringBytes,
                   " bytes or a matrix over ", kMaxMatrixEntries, " entries"));
}

// kInvalidArgument unless ReadCheckpoint would accept `c`.
absl::Status Validate(const TrainingCheckpoint& c) {
  if (absl::Status s = CheckShapes(c); !s.ok()) return s;
  if (absl::Status s = CheckSizes(c); !s.ok()) return s;
  return CheckValues(c);
}

// -------------------------------------------------------------- File I/O

// Reads exactly `size` bytes; a short read means the file is truncated.
absl::StatusOr<std::string> ReadExactly(int fd, size_t size,
                                        const std::string& path) {
  std::string bytes(size, '\0');
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, &bytes[done], size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "cannot read", path);
    if (n == 0) {
      return absl::DataLossError(absl::StrCat("checkpoint ", path,
                                              " is truncated: ended after ",
                                              done, " of ", size, " bytes"));
    }
    done += static_cast<size_t>(n);
  }
  return bytes;
}

// Owns a file descriptor opened for reading.
class ReadOnlyFile {
 public:
  ~ReadOnlyFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return ErrnoError(errno, "cannot open checkpoint", path);
    struct stat info;
    if (::fstat(fd_, &info) != 0) {
      return ErrnoError(errno, "cannot stat checkpoint", path);
    }
    if (!S_ISREG(info.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", path, " is not a regular file"));
    }
    size_ = static_cast<uint64_t>(info.st_size);
    return absl::OkStatus();
  }
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

// --------------------------------------------------------- Header checks

absl::Status CheckMagic(absl::string_view head, const std::string& path) {
  const absl::string_view magic(kMagic, kMagicBytes);
  if (head.size() < kMagicBytes && magic.substr(0, head.size()) == head) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path, " is truncated: ", head.size(),
        " bytes, shorter than the ", kHeaderBytes, "-byte header"));
  }
  if (head.substr(0, kMagicBytes) != magic) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not an eprop checkpoint (its first bytes are not \"", magic,
        "\")"));
  }
  return absl::OkStatus();
}

absl::Status CheckVersion(uint32_t version, const std::string& path) {
  if (version > kCheckpointFormatVersion) {
    return absl::UnimplementedError(absl::StrCat(
        "checkpoint ", path, ": checkpoint format version ", version,
        " is newer than this build supports (", kCheckpointFormatVersion, ")"));
  }
  if (version == 0) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", path, " has invalid format version 0"));
  }
  return absl::OkStatus();
}

// Validates the 20-byte header (or what there is of it) against the file
// size and returns the payload length.
absl::StatusOr<uint64_t> CheckHeader(absl::string_view head, uint64_t file_size,
                                     const std::string& path) {
  if (absl::Status s = CheckMagic(head, path); !s.ok()) return s;
  ByteReader in(head.substr(kMagicBytes));
  const uint32_t version = in.GetU32("format version");
  if (in.ok()) {
    if (absl::Status s = CheckVersion(version, path); !s.ok()) return s;
  }
  const uint64_t length = in.GetU64("payload length");
  if (!in.ok()) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path, " is truncated: ", head.size(),
        " bytes, shorter than the ", kHeaderBytes, "-byte header"));
  }
  const uint64_t available = file_size - kHeaderBytes;
  if (length > available || available - length < kChecksumBytes) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path, " is truncated: the header declares ", length,
        " payload bytes plus a ", kChecksumBytes, "-byte checksum but only ",
        available, " bytes follow it"));
  }
  if (available - length > kChecksumBytes) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint ", path, " has ", available - length - kChecksumBytes,
        " unexpected bytes after the checksum"));
  }
  return length;
}

// `bytes` is the payload followed by its 4-byte checksum.
absl::Status CheckChecksum(absl::string_view bytes, const std::string& path) {
  const absl::string_view payload =
      bytes.substr(0, bytes.size() - kChecksumBytes);
  ByteReader in(bytes.substr(payload.size()));
  const uint32_t stored = in.GetU32("checksum");
  const uint32_t computed = Crc32c(payload);
  if (stored == computed) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "checkpoint ", path, " is corrupt: CRC-32C of the payload is ",
      absl::Hex(computed, absl::kZeroPad8), " but the file records ",
      absl::Hex(stored, absl::kZeroPad8)));
}

// Reads the file, checks its header and checksum, and returns the payload.
absl::StatusOr<std::string> ReadPayload(const std::string& path) {
  ReadOnlyFile file;
  if (absl::Status s = file.Open(path); !s.ok()) return s;
  const size_t head_size =
      file.size() < kHeaderBytes ? file.size() : kHeaderBytes;
  absl::StatusOr<std::string> head = ReadExactly(file.fd(), head_size, path);
  if (!head.ok()) return head.status();
  absl::StatusOr<uint64_t> length = CheckHeader(*head, file.size(), path);
  if (!length.ok()) return length.status();
  absl::StatusOr<std::string> bytes =
      ReadExactly(file.fd(), *length + kChecksumBytes, path);
  if (!bytes.ok()) return bytes.status();
  if (absl::Status s = CheckChecksum(*bytes, path); !s.ok()) return s;
  bytes->resize(*length);
  return bytes;
}

}  // namespace

absl::Status WriteCheckpoint(const std::string& path,
                             const TrainingCheckpoint& checkpoint) {
  if (absl::Status s = Validate(checkpoint); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("refusing to write checkpoint ", path, ": ", s.message()));
  }
  if (absl::Status s = WriteFileAtomically(path, EncodeFile(checkpoint));
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("checkpoint: ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainingCheckpoint> ReadCheckpoint(const std::string& path) {
  absl::StatusOr<std::string> payload = ReadPayload(path);
  if (!payload.ok()) return payload.status();
  ByteReader in(*payload);
  TrainingCheckpoint checkpoint = DecodePayload(&in);
  if (!in.ok()) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", path, " is malformed: ", in.error()));
  }
  if (absl::Status s = Validate(checkpoint); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", path, " is invalid: ", s.message()));
  }
  return checkpoint;
}

}  // namespace eprop
