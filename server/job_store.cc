#include "server/job_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/util/file_io.h"

namespace eprop::server {
namespace {

constexpr uint32_t kMaxRecordBytes = 1 << 20;

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
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
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

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(
    const std::string& data_dir) {
  absl::StatusOr<std::unique_ptr<ResourceStore>> jobs =
      ResourceStore::Open(data_dir, "job", "jobs");
  if (!jobs.ok()) return jobs.status();
  return std::unique_ptr<JobStore>(new JobStore(*std::move(jobs)));
}

std::vector<JobStore::StoredJob> JobStore::LoadAll(
    std::vector<std::string>* errors) const {
  std::vector<StoredJob> jobs;
  for (const std::string& id : jobs_->Ids()) {
    absl::StatusOr<v1::Job> job = ReadJob(jobs_->Path(id, "job.pb"));
    if (!job.ok() || job->job_id() != id) {
      errors->push_back(absl::StrCat(
          "skipping job directory ", jobs_->Dir(id), ": ",
          job.ok() ? "job id does not match" : job.status().message()));
      continue;
    }
    StoredJob stored{*std::move(job), {}};
    absl::StatusOr<std::string> log =
        ReadFileToString(jobs_->Path(id, "metrics.log"));
    if (log.ok()) stored.metrics = ParseMetricsLog(*log);
    jobs.push_back(std::move(stored));
  }
  return jobs;
}

absl::Status JobStore::SaveJob(const v1::Job& job) {
  return jobs_->Write(job.job_id(), "job.pb", job.SerializeAsString());
}

absl::Status JobStore::AppendMetrics(const std::string& id,
                                     const v1::IterationMetrics& metrics) {
  return AppendDurably(jobs_->Path(id, "metrics.log"), EncodeRecord(metrics));
}

absl::Status JobStore::ReplaceMetrics(
    const std::string& id, const std::vector<v1::IterationMetrics>& history) {
  std::string bytes;
  for (const v1::IterationMetrics& m : history) bytes += EncodeRecord(m);
  return jobs_->Write(id, "metrics.log", bytes);
}

}  // namespace eprop::server
