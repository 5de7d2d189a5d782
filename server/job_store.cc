#include "server/job_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "core/util/file_io.h"

namespace eprop::server {
namespace {

namespace fs = std::filesystem;

constexpr char kJobPrefix[] = "job-";
constexpr uint32_t kMaxRecordBytes = 1 << 20;

int64_t JobNumber(const std::string& id) {
  int64_t number = 0;
  if (!absl::SimpleAtoi(absl::string_view(id).substr(4), &number)) return -1;
  return number;
}

absl::StatusOr<v1::Job> ReadJob(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  v1::Job job;
  if (!job.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat(path, " is not a valid job"));
  }
  return job;
}

// The valid prefix of a metrics log (see the header).
std::vector<v1::IterationMetrics> ParseMetricsLog(absl::string_view bytes) {
  std::vector<v1::IterationMetrics> out;
  while (bytes.size() >= 4) {
    uint32_t length = 0;
    for (int i = 0; i < 4; ++i) {
      length |= uint32_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
    }
    if (length > kMaxRecordBytes || bytes.size() - 4 < length) break;
    v1::IterationMetrics m;
    if (!m.ParseFromArray(bytes.data() + 4, static_cast<int>(length))) break;
    if (!out.empty() && m.iteration() <= out.back().iteration()) break;
    out.push_back(std::move(m));
    bytes.remove_prefix(4 + length);
  }
  return out;
}

std::string EncodeRecord(const v1::IterationMetrics& m) {
  const std::string payload = m.SerializeAsString();
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<char>((payload.size() >> (8 * i)) & 0xff);
  }
  return out + payload;
}

absl::Status AppendDurably(const std::string& path, absl::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                        0644);
  if (fd < 0) return ErrnoError(errno, "cannot open", path);
  absl::Status status;
  while (!bytes.empty() && status.ok()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoError(errno, "cannot append to", path);
    } else {
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  if (status.ok() && ::fdatasync(fd) != 0) {
    status = ErrnoError(errno, "cannot fsync", path);
  }
  ::close(fd);
  return status;
}

}  // namespace

bool IsValidJobId(const std::string& id) {
  if (id.size() < 10 || id.size() > 24 || id.rfind(kJobPrefix, 0) != 0) {
    return false;
  }
  return std::all_of(id.begin() + 4, id.end(),
                     [](char c) { return std::isdigit(c); });
}

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(
    const std::string& data_dir) {
  std::error_code error;
  fs::create_directories(fs::path(data_dir) / "jobs", error);
  if (error) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create data directory ", data_dir, ": ", error.message()));
  }
  int64_t next = 1;
  const std::string counter = data_dir + "/next_job_number";
  if (absl::StatusOr<std::string> text = ReadFileToString(counter); text.ok()) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &next) ||
        next < 1) {
      return absl::DataLossError(
          absl::StrCat(counter, " does not hold a job number"));
    }
  }
  for (const fs::directory_entry& entry :
       fs::directory_iterator(fs::path(data_dir) / "jobs", error)) {
    const std::string id = entry.path().filename().string();
    if (IsValidJobId(id)) next = std::max(next, JobNumber(id) + 1);
  }
  auto store = std::unique_ptr<JobStore>(new JobStore(data_dir, next));
  // Proves the directory writable now rather than at the first submit.
  if (absl::Status s = WriteFileAtomically(counter, absl::StrCat(next, "\n"));
      !s.ok()) {
    return s;
  }
  return store;
}

std::string JobStore::JobDir(const std::string& id) const {
  return absl::StrCat(data_dir_, "/jobs/", id);
}

std::string JobStore::CheckpointPath(const std::string& id) const {
  return JobDir(id) + "/checkpoint.eprop";
}

std::vector<JobStore::StoredJob> JobStore::LoadAll(
    std::vector<std::string>* errors) const {
  std::vector<std::string> ids;
  std::error_code error;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(fs::path(data_dir_) / "jobs", error)) {
    const std::string id = entry.path().filename().string();
    if (IsValidJobId(id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end(), [](const std::string& a,
                                       const std::string& b) {
    return JobNumber(a) < JobNumber(b);
  });
  std::vector<StoredJob> jobs;
  for (const std::string& id : ids) {
    absl::StatusOr<v1::Job> job = ReadJob(JobDir(id) + "/job.pb");
    if (!job.ok() || job->job_id() != id) {
      errors->push_back(absl::StrCat(
          "skipping job directory ", JobDir(id), ": ",
          job.ok() ? "job id does not match" : job.status().message()));
      continue;
    }
    StoredJob stored{*std::move(job), {}};
    absl::StatusOr<std::string> log =
        ReadFileToString(JobDir(id) + "/metrics.log");
    if (log.ok()) stored.metrics = ParseMetricsLog(*log);
    jobs.push_back(std::move(stored));
  }
  return jobs;
}

absl::StatusOr<std::string> JobStore::NewJobId() {
  const int64_t number = next_number_;
  if (absl::Status s = WriteFileAtomically(data_dir_ + "/next_job_number",
                                           absl::StrCat(number + 1, "\n"));
      !s.ok()) {
    return s;
  }
  next_number_ = number + 1;
  return absl::StrFormat("%s%06d", kJobPrefix, number);
}

absl::Status JobStore::SaveJob(const v1::Job& job) {
  std::error_code error;
  fs::create_directories(JobDir(job.job_id()), error);
  if (error) {
    return absl::InternalError(absl::StrCat(
        "cannot create ", JobDir(job.job_id()), ": ", error.message()));
  }
  return WriteFileAtomically(JobDir(job.job_id()) + "/job.pb",
                             job.SerializeAsString());
}

absl::Status JobStore::AppendMetrics(const std::string& id,
                                     const v1::IterationMetrics& metrics) {
  return AppendDurably(JobDir(id) + "/metrics.log", EncodeRecord(metrics));
}

absl::Status JobStore::ReplaceMetrics(
    const std::string& id, const std::vector<v1::IterationMetrics>& history) {
  std::string bytes;
  for (const v1::IterationMetrics& m : history) bytes += EncodeRecord(m);
  return WriteFileAtomically(JobDir(id) + "/metrics.log", bytes);
}

absl::Status JobStore::Delete(const std::string& id) {
  std::error_code error;
  fs::remove_all(JobDir(id), error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot delete ", JobDir(id), ": ",
                                            error.message()));
  }
  return absl::OkStatus();
}

}  // namespace eprop::server
