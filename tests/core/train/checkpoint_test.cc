#include "core/train/checkpoint.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// ------------------------------------------------------------ Test data

double DoubleFromBits(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint64_t BitsOf(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

template <typename M>
void FillNormal(Rng& rng, M* m) {
  for (Eigen::Index i = 0; i < m->size(); ++i) {
    m->data()[i] = static_cast<float>(rng.Normal());
  }
}

Weights<float> RandomWeights(int n_in, int n_rec, int n_out, Rng& rng) {
  Weights<float> w{MatF(n_rec, n_in), MatF(n_rec, n_rec), MatF(n_out, n_rec),
                   Vec<float>(n_out)};
  FillNormal(rng, &w.w_in);
  FillNormal(rng, &w.w_rec);
  FillNormal(rng, &w.w_out);
  FillNormal(rng, &w.b_out);
  w.w_rec.diagonal().setZero();
  return w;
}

IterationMetrics Metrics(int64_t iteration, double error, double nmse) {
  IterationMetrics m;
  m.iteration = iteration;
  m.loss = 0.25 * static_cast<double>(iteration);
  m.reg_loss = 1e-300;
  m.error = error;
  m.nmse = nmse;
  m.rate_hz = 12.5;
  m.populations = {{"LIF", 10.0, 0.0, 40.0}, {"ALIF", 15.0, -0.0, 55.5}};
  m.ms_per_iter = 3.75;
  m.wall_s = 1234.5;
  return m;
}

// A small network with awkward values everywhere bits could get lost.
TrainingCheckpoint MakeCheckpoint(int n_in = 3, int n_rec = 5, int n_out = 2) {
  Rng rng(42);
  TrainingCheckpoint c;
  c.run_config =
      std::string("task=pattern\0seed=7 \xC3\xA9\xE2\x82\xAC\xFF", 25);
  c.iteration = 1200;
  c.weights = RandomWeights(n_in, n_rec, n_out, rng);
  c.weights.w_in(0, 0) = -0.0f;
  c.weights.w_out(0, 0) = std::numeric_limits<float>::denorm_min();
  c.feedback = MatF(n_rec, n_out);
  FillNormal(rng, &c.feedback);
  c.optimizer.step = 1200;
  c.optimizer.m = RandomWeights(n_in, n_rec, n_out, rng);
  c.optimizer.v = RandomWeights(n_in, n_rec, n_out, rng);
  c.rng_state = rng.SaveState();
  const double quiet_nan = std::numeric_limits<double>::quiet_NaN();
  c.history = {Metrics(0, quiet_nan, 0.9),
               Metrics(1200, DoubleFromBits(0xFFF8000000000123), -0.0)};
  return c;
}

// --------------------------------------------------- Bitwise comparison

template <typename M>
void ExpectSameMatrix(const M& a, const M& b, const std::string& what) {
  ASSERT_EQ(a.rows(), b.rows()) << what;
  ASSERT_EQ(a.cols(), b.cols()) << what;
  if (a.size() == 0) return;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0)
      << what;
}

void ExpectSameWeights(const Weights<float>& a, const Weights<float>& b,
                       const std::string& what) {
  ExpectSameMatrix(a.w_in, b.w_in, what + ".w_in");
  ExpectSameMatrix(a.w_rec, b.w_rec, what + ".w_rec");
  ExpectSameMatrix(a.w_out, b.w_out, what + ".w_out");
  ExpectSameMatrix(a.b_out, b.b_out, what + ".b_out");
}

void ExpectSameBits(double a, double b, const std::string& what) {
  EXPECT_EQ(BitsOf(a), BitsOf(b)) << what;
}

void ExpectSameMetrics(const IterationMetrics& a, const IterationMetrics& b) {
  EXPECT_EQ(a.iteration, b.iteration);
  ExpectSameBits(a.loss, b.loss, "loss");
  ExpectSameBits(a.reg_loss, b.reg_loss, "reg_loss");
  ExpectSameBits(a.error, b.error, "error");
  ExpectSameBits(a.nmse, b.nmse, "nmse");
  ExpectSameBits(a.rate_hz, b.rate_hz, "rate_hz");
  ASSERT_EQ(a.populations.size(), b.populations.size());
  for (size_t i = 0; i < a.populations.size(); ++i) {
    EXPECT_EQ(a.populations[i].name, b.populations[i].name);
    ExpectSameBits(a.populations[i].mean_hz, b.populations[i].mean_hz, "mean");
    ExpectSameBits(a.populations[i].min_hz, b.populations[i].min_hz, "min");
    ExpectSameBits(a.populations[i].max_hz, b.populations[i].max_hz, "max");
  }
  ExpectSameBits(a.ms_per_iter, b.ms_per_iter, "ms_per_iter");
  ExpectSameBits(a.wall_s, b.wall_s, "wall_s");
}

void ExpectSameCheckpoint(const TrainingCheckpoint& a,
                          const TrainingCheckpoint& b) {
  EXPECT_EQ(a.run_config, b.run_config);
  EXPECT_EQ(a.iteration, b.iteration);
  ExpectSameWeights(a.weights, b.weights, "weights");
  ExpectSameMatrix(a.feedback, b.feedback, "feedback");
  EXPECT_EQ(a.optimizer.step, b.optimizer.step);
  ExpectSameWeights(a.optimizer.m, b.optimizer.m, "m");
  ExpectSameWeights(a.optimizer.v, b.optimizer.v, "v");
  EXPECT_EQ(a.rng_state, b.rng_state);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t i = 0; i < a.history.size(); ++i) {
    ExpectSameMetrics(a.history[i], b.history[i]);
  }
}

// ------------------------------------------------------------ Encoder
// An independent implementation of the layout documented in checkpoint.h,
// used to check the documentation and to craft invalid files.

uint32_t BitwiseCrc32c(absl::string_view bytes) {
  uint32_t crc = 0xFFFFFFFF;
  for (const char c : bytes) {
    crc ^= static_cast<uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
    }
  }
  return ~crc;
}

class Encoder {
 public:
  void U32(uint32_t v) { Bytes(v, 4); }
  void U64(uint64_t v) { Bytes(v, 8); }
  void I64(int64_t v) { Bytes(static_cast<uint64_t>(v), 8); }
  void F64(double v) { U64(BitsOf(v)); }
  void Str(absl::string_view s) {
    U64(s.size());
    out.append(s.data(), s.size());
  }
  template <typename M>
  void Matrix(const M& m) {
    I64(m.rows());
    I64(m.cols());
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
      for (Eigen::Index c = 0; c < m.cols(); ++c) {
        const float value = m(r, c);
        uint32_t bits;
        std::memcpy(&bits, &value, sizeof(bits));
        U32(bits);
      }
    }
  }
  void Weights4(const Weights<float>& w) {
    Matrix(w.w_in);
    Matrix(w.w_rec);
    Matrix(w.w_out);
    Matrix(w.b_out);
  }

  std::string out;

 private:
  void Bytes(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  }
};

void EncodeMetrics(const IterationMetrics& m, Encoder* e) {
  e->I64(m.iteration);
  for (double x : {m.loss, m.reg_loss, m.error, m.nmse, m.rate_hz}) e->F64(x);
  e->U64(m.populations.size());
  for (const PopulationRates& p : m.populations) {
    e->Str(p.name);
    for (double x : {p.mean_hz, p.min_hz, p.max_hz}) e->F64(x);
  }
  e->F64(m.ms_per_iter);
  e->F64(m.wall_s);
}

std::string EncodePayload(const TrainingCheckpoint& c) {
  Encoder e;
  e.Str(c.run_config);
  e.I64(c.iteration);
  e.Weights4(c.weights);
  e.Matrix(c.feedback);
  e.I64(c.optimizer.step);
  e.Weights4(c.optimizer.m);
  e.Weights4(c.optimizer.v);
  e.Str(c.rng_state);
  e.U64(c.history.size());
  for (const IterationMetrics& m : c.history) EncodeMetrics(m, &e);
  return e.out;
}

std::string EncodeFile(absl::string_view payload, uint32_t version = 1) {
  Encoder e;
  e.out = "EPROPCKP";
  e.U32(version);
  e.U64(payload.size());
  e.out.append(payload.data(), payload.size());
  e.U32(BitwiseCrc32c(payload));
  return e.out;
}

// ------------------------------------------------------------- Fixture

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Replaces the file at `path` (removing it first: truncating a file in place
// makes ext4 flush it on close, which is slow).
void WriteBytes(const std::string& path, absl::string_view bytes) {
  fs::remove(path);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info =
        ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat("checkpoint_test_", info->name(), "_", ::getpid());
    fs::remove_all(dir_);
    ASSERT_TRUE(fs::create_directories(dir_));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ / name; }

  // Names in the temp directory, sorted.
  std::vector<std::string> Listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // Writes `bytes` to a file and returns ReadCheckpoint's status for it.
  absl::Status ReadStatusOf(absl::string_view bytes) {
    const std::string path = Path("crafted.ckpt");
    WriteBytes(path, bytes);
    return ReadCheckpoint(path).status();
  }

  // A checkpoint spoiled by `spoil`, encoded with a valid checksum, must be
  // rejected with kDataLoss and a message containing `expected`.
  void ExpectRejected(const std::function<void(TrainingCheckpoint*)>& spoil,
                      const std::string& expected) {
    TrainingCheckpoint c = MakeCheckpoint();
    spoil(&c);
    const absl::Status status = ReadStatusOf(EncodeFile(EncodePayload(c)));
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(status.message(), HasSubstr(expected)) << status;
  }

  fs::path dir_;
};

// ---------------------------------------------------------- Round trip

TEST_F(CheckpointTest, RoundTripIsBitwiseExact) {
  const TrainingCheckpoint original = MakeCheckpoint();
  const std::string path = Path("run.ckpt");
  ASSERT_TRUE(WriteCheckpoint(path, original).ok());
  const absl::StatusOr<TrainingCheckpoint> read = ReadCheckpoint(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameCheckpoint(*read, original);
  EXPECT_TRUE(std::isnan(read->history[0].error));
  EXPECT_EQ(BitsOf(read->history[1].error), 0xFFF8000000000123);
  EXPECT_EQ(read->run_config.size(), 25u);  // NUL and non-ASCII kept
}

TEST_F(CheckpointTest, RoundTripOfEmptyFeedbackHistoryAndStrings) {
  TrainingCheckpoint original = MakeCheckpoint();
  original.feedback = MatF();
  original.history.clear();
  original.run_config.clear();
  original.rng_state.clear();
  const std::string path = Path("run.ckpt");
  ASSERT_TRUE(WriteCheckpoint(path, original).ok());
  const absl::StatusOr<TrainingCheckpoint> read = ReadCheckpoint(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameCheckpoint(*read, original);
}

TEST_F(CheckpointTest, RoundTripOfDefaultCheckpoint) {
  const TrainingCheckpoint original;  // 0 x 0 everything
  const std::string path = Path("run.ckpt");
  ASSERT_TRUE(WriteCheckpoint(path, original).ok());
  const absl::StatusOr<TrainingCheckpoint> read = ReadCheckpoint(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameCheckpoint(*read, original);
}

TEST_F(CheckpointTest, FileMatchesDocumentedLayout) {
  ASSERT_EQ(BitwiseCrc32c("123456789"), 0xE3069283u);  // the CRC-32C check
  const TrainingCheckpoint c = MakeCheckpoint();
  const std::string path = Path("run.ckpt");
  ASSERT_TRUE(WriteCheckpoint(path, c).ok());
  EXPECT_EQ(ReadBytes(path), EncodeFile(EncodePayload(c)));
  EXPECT_EQ(ReadBytes(path).substr(0, 12), std::string("EPROPCKP\1\0\0\0", 12));
}

// ---------------------------------------------------------- Atomicity

TEST_F(CheckpointTest, OverwriteReplacesFileAndLeavesNoTempFiles) {
  const std::string path = Path("run.ckpt");
  TrainingCheckpoint first = MakeCheckpoint();
  ASSERT_TRUE(WriteCheckpoint(path, first).ok());
  TrainingCheckpoint second = MakeCheckpoint(4, 6, 3);
  second.iteration = 2400;
  ASSERT_TRUE(WriteCheckpoint(path, second).ok());
  const absl::StatusOr<TrainingCheckpoint> read = ReadCheckpoint(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameCheckpoint(*read, second);
  EXPECT_EQ(Listing(), std::vector<std::string>{"run.ckpt"});
}

TEST_F(CheckpointTest, ParentIsARegularFileFailsWithoutTrace) {
  WriteBytes(Path("plain"), "not a directory");
  const std::string path = Path("plain") + "/run.ckpt";
  const absl::Status status = WriteCheckpoint(path, MakeCheckpoint());
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_EQ(Listing(), std::vector<std::string>{"plain"});
  EXPECT_EQ(ReadBytes(Path("plain")), "not a directory");
}

TEST_F(CheckpointTest, MissingDirectoryIsNotFound) {
  const std::string path = Path("missing") + "/run.ckpt";
  const absl::Status status = WriteCheckpoint(path, MakeCheckpoint());
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_TRUE(Listing().empty());
}

// Lowers the file size limit for the life of the object, so that writes past
// `bytes` fail with EFBIG (SIGXFSZ ignored); this also binds root.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = saved_;
    lowered.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &lowered), 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_;
  sighandler_t old_handler_;
};

TEST_F(CheckpointTest, FailureMidWriteLeavesOldFileIntact) {
  const std::string path = Path("run.ckpt");
  ASSERT_TRUE(WriteCheckpoint(path, MakeCheckpoint()).ok());
  const std::string old_bytes = ReadBytes(path);
  const TrainingCheckpoint big = MakeCheckpoint(10, 60, 3);  // ~45 kB
  absl::Status status;
  {
    FileSizeLimit limit(8192);
    status = WriteCheckpoint(path, big);
  }
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("cannot write"));
  EXPECT_THAT(status.message(), HasSubstr(path + ".tmp-"));
  EXPECT_EQ(ReadBytes(path), old_bytes);
  EXPECT_EQ(Listing(), std::vector<std::string>{"run.ckpt"});
  ASSERT_TRUE(WriteCheckpoint(path, big).ok());  // works without the limit
}

TEST_F(CheckpointTest, FailedRenameLeavesTargetAndNoTempFiles) {
  const std::string path = Path("run.ckpt");
  fs::create_directory(path);  // a non-empty directory cannot be replaced
  WriteBytes(path + "/keep", "x");
  const absl::Status status = WriteCheckpoint(path, MakeCheckpoint());
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("cannot rename"));
  EXPECT_EQ(Listing(), std::vector<std::string>{"run.ckpt"});
  EXPECT_EQ(ReadBytes(path + "/keep"), "x");
}

TEST_F(CheckpointTest, InvalidCheckpointIsNotWritten) {
  const std::string path = Path("run.ckpt");
  ASSERT_TRUE(WriteCheckpoint(path, MakeCheckpoint()).ok());
  const std::string old_bytes = ReadBytes(path);
  TrainingCheckpoint nan_weights = MakeCheckpoint();
  nan_weights.weights.w_rec(1, 2) = std::numeric_limits<float>::quiet_NaN();
  TrainingCheckpoint bad_shape = MakeCheckpoint();
  bad_shape.feedback = MatF::Zero(2, 5);
  for (const TrainingCheckpoint* c : {&nan_weights, &bad_shape}) {
    const absl::Status status = WriteCheckpoint(path, *c);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(status.message(), HasSubstr(path));
  }
  EXPECT_EQ(ReadBytes(path), old_bytes);
  EXPECT_EQ(Listing(), std::vector<std::string>{"run.ckpt"});
}

// ------------------------------------------------------- Corrupt files

TEST_F(CheckpointTest, TruncatedFileIsDataLoss) {
  const std::string bytes = EncodeFile(EncodePayload(MakeCheckpoint()));
  const size_t n = bytes.size();
  for (const size_t length :
       {size_t{0}, size_t{3}, size_t{8}, size_t{11}, size_t{12}, size_t{19},
        size_t{20}, size_t{21}, size_t{100}, n / 2, n - 5, n - 4, n - 1}) {
    const absl::Status status = ReadStatusOf(bytes.substr(0, length));
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss)
        << "length " << length << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr("truncated")) << length;
    EXPECT_THAT(status.message(), HasSubstr("crafted.ckpt")) << length;
  }
}

TEST_F(CheckpointTest, BytesAfterChecksumAreDataLoss) {
  const std::string bytes = EncodeFile(EncodePayload(MakeCheckpoint()));
  const absl::Status status = ReadStatusOf(bytes + "junk");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(), HasSubstr("4 unexpected bytes"));
}

TEST_F(CheckpointTest, FlippedBitAnywhereAfterHeaderIsDataLoss) {
  const std::string bytes = EncodeFile(EncodePayload(MakeCheckpoint()));
  // Every byte of the payload length, the payload and the checksum.
  for (size_t i = 12; i < bytes.size(); ++i) {
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ (1 << (i % 8)));
    const absl::Status status = ReadStatusOf(corrupt);
    ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss)
        << "byte " << i << ": " << status;
  }
  std::string corrupt = bytes;
  corrupt[40] = static_cast<char>(corrupt[40] ^ 0xFF);
  EXPECT_THAT(ReadStatusOf(corrupt).message(), HasSubstr("CRC-32C"));
}

TEST_F(CheckpointTest, WrongMagicIsNotAnEpropCheckpoint) {
  std::string bytes = EncodeFile(EncodePayload(MakeCheckpoint()));
  bytes[0] = 'X';
  for (const absl::string_view contents :
       {absl::string_view(bytes), absl::string_view("hello\n")}) {
    const absl::Status status = ReadStatusOf(contents);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(status.message(), HasSubstr("not an eprop checkpoint"));
    EXPECT_THAT(status.message(), HasSubstr("crafted.ckpt"));
  }
}

TEST_F(CheckpointTest, NewerVersionNamesBothVersions) {
  const absl::Status status =
      ReadStatusOf(EncodeFile(EncodePayload(MakeCheckpoint()), 2));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("checkpoint format version 2 is newer than this "
                        "build supports (1)"));
}

TEST_F(CheckpointTest, VersionZeroIsDataLoss) {
  const absl::Status status =
      ReadStatusOf(EncodeFile(EncodePayload(MakeCheckpoint()), 0));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(), HasSubstr("version 0"));
}

TEST_F(CheckpointTest, InconsistentShapesAreDataLoss) {
  using C = TrainingCheckpoint;
  ExpectRejected([](C* c) { c->weights.w_rec = MatF::Zero(5, 4); },
                 "inconsistent weight shapes");
  ExpectRejected([](C* c) { c->weights.w_in = MatF::Zero(4, 3); },
                 "inconsistent weight shapes");
  ExpectRejected([](C* c) { c->weights.w_out = MatF::Zero(2, 6); },
                 "inconsistent weight shapes");
  ExpectRejected([](C* c) { c->weights.b_out = Vec<float>::Zero(3); },
                 "inconsistent weight shapes");
  ExpectRejected([](C* c) { c->feedback = MatF::Zero(2, 5); },
                 "feedback is 2 x 5");
  ExpectRejected([](C* c) { c->optimizer.m.w_in = MatF::Zero(5, 4); },
                 "optimizer moments");
  ExpectRejected([](C* c) { c->optimizer.v.b_out = Vec<float>(); },
                 "optimizer moments");
}

TEST_F(CheckpointTest, NonFiniteValuesAndNegativeCountersAreDataLoss) {
  using C = TrainingCheckpoint;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  ExpectRejected([&](C* c) { c->weights.w_rec(0, 1) = nan; },
                 "weights contain NaN");
  ExpectRejected([&](C* c) { c->weights.b_out(1) = -inf; },
                 "weights contain NaN");
  ExpectRejected([&](C* c) { c->feedback(4, 1) = inf; },
                 "feedback contains NaN");
  ExpectRejected([&](C* c) { c->optimizer.v.w_out(1, 1) = nan; },
                 "optimizer moments contain NaN");
  ExpectRejected([](C* c) { c->iteration = -1; }, ">= 0");
  ExpectRejected([](C* c) { c->optimizer.step = -1; }, ">= 0");
}

TEST_F(CheckpointTest, AbsurdSizesAreRefusedBeforeAllocating) {
  Encoder huge_string;
  huge_string.U64(200'000'000);
  EXPECT_THAT(ReadStatusOf(EncodeFile(huge_string.out)).message(),
              HasSubstr("over the limit"));

  Encoder huge_matrix;
  huge_matrix.Str("config");
  huge_matrix.I64(0);
  huge_matrix.I64(100'000);  // w_in rows
  huge_matrix.I64(100'000);  // w_in cols: 1e10 entries
  const absl::Status matrix = ReadStatusOf(EncodeFile(huge_matrix.out));
  EXPECT_EQ(matrix.code(), absl::StatusCode::kDataLoss) << matrix;
  EXPECT_THAT(matrix.message(), HasSubstr("absurd dimensions"));

  Encoder negative = huge_matrix;
  negative.out.resize(negative.out.size() - 16);
  negative.I64(-1);
  negative.I64(3);
  EXPECT_THAT(ReadStatusOf(EncodeFile(negative.out)).message(),
              HasSubstr("absurd dimensions -1 x 3"));

  // A plausible matrix (1e8 entries) in a small file: truncated, not 400 MB.
  Encoder big_claim = huge_matrix;
  big_claim.out.resize(big_claim.out.size() - 8);
  big_claim.I64(1000);
  EXPECT_THAT(ReadStatusOf(EncodeFile(big_claim.out)).message(),
              HasSubstr("truncated while reading weights.w_in"));

  // History count 2^60 at the very end of a valid payload.
  TrainingCheckpoint c = MakeCheckpoint();
  c.history.clear();
  std::string payload = EncodePayload(c);
  payload.resize(payload.size() - 8);
  Encoder count;
  count.U64(uint64_t{1} << 60);
  const absl::Status history = ReadStatusOf(EncodeFile(payload + count.out));
  EXPECT_EQ(history.code(), absl::StatusCode::kDataLoss) << history;
  EXPECT_THAT(history.message(), HasSubstr("history count"));
}

TEST_F(CheckpointTest, BytesAfterLastSectionAreDataLoss) {
  const std::string payload = EncodePayload(MakeCheckpoint()) + "extra";
  const absl::Status status = ReadStatusOf(EncodeFile(payload));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("5 unexpected bytes after the last payload section"));
}

TEST_F(CheckpointTest, MissingFileIsNotFound) {
  const std::string path = Path("absent.ckpt");
  const absl::Status status = ReadCheckpoint(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(status.message(), HasSubstr(path));
}

TEST_F(CheckpointTest, DirectoryIsNotACheckpoint) {
  const absl::Status status = ReadCheckpoint(Path("")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace eprop
