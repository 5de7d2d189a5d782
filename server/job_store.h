// Durable storage of jobs under the server's data directory. Every file is
// replaced atomically (core/util/file_io.h) or appended with fsync, so a
// crash at any point leaves each job readable:
//
//   DATA_DIR/next_job_number          the number of the next job id
//   DATA_DIR/jobs/JOB_ID/job.pb       v1::Job (binary), replaced on every
//                                     state change
//   DATA_DIR/jobs/JOB_ID/metrics.log  the metrics history: records of
//                                     uint32 little-endian length + a
//                                     serialized v1::IterationMetrics,
//                                     appended and fsync'ed per validation
//   DATA_DIR/jobs/JOB_ID/checkpoint.eprop  the latest training checkpoint
//
// A record torn by a crash (short, unparsable, or not after the previous
// iteration) ends the history where it starts; the resumed job rewrites the
// history from its checkpoint anyway.
#ifndef EPROP_SERVER_JOB_STORE_H_
#define EPROP_SERVER_JOB_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eprop/v1/jobs.pb.h"
#include "server/resource_store.h"

namespace eprop::server {

class JobStore {
 public:
  // Creates the directory layout if needed and checks that it is writable.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(
      const std::string& data_dir);

  struct StoredJob {
    v1::Job job;
    std::vector<v1::IterationMetrics> metrics;
  };
  // Every job on disk, in id order. A job directory that cannot be read is
  // reported in `errors` and skipped (left on disk for inspection).
  std::vector<StoredJob> LoadAll(std::vector<std::string>* errors) const;

  // Reserves the next id durably (ids are never reused, also after delete).
  absl::StatusOr<std::string> NewJobId() { return jobs_->NewId(); }
  absl::StatusOr<int> PageSize(int requested, const std::string& token) const {
    return jobs_->PageSize(requested, token);
  }
  absl::Status CheckJobId(const std::string& id) const {
    return jobs_->CheckId("job_id", id);
  }

  absl::Status SaveJob(const v1::Job& job);
  absl::Status AppendMetrics(const std::string& id,
                             const v1::IterationMetrics& metrics);
  absl::Status ReplaceMetrics(const std::string& id,
                              const std::vector<v1::IterationMetrics>& history);
  std::string CheckpointPath(const std::string& id) const {
    return jobs_->Path(id, "checkpoint.eprop");
  }
  absl::Status Delete(const std::string& id) { return jobs_->Delete(id); }

 private:
  explicit JobStore(std::unique_ptr<ResourceStore> jobs)
      : jobs_(std::move(jobs)) {}

  std::unique_ptr<ResourceStore> jobs_;
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_JOB_STORE_H_
