// Owns every job: the queue, the worker pool that trains them, their
// durable state (JobStore) and the notifications that Watch streams wait on.
//
// Life of a job: Submit validates the spec, persists it as QUEUED and
// queues it; a worker marks it RUNNING and trains it, appending metrics and
// writing a checkpoint every checkpoint_every_iterations; it ends SUCCEEDED,
// FAILED (with a reason) or CANCELLED. Shutdown stops running jobs at the
// next iteration boundary and checkpoints them while they stay RUNNING on
// disk; Create() on the same data directory resumes them from their
// checkpoints, as after a crash (kill -9), where the history of a resumed
// job is the checkpoint's history, so that it has no gaps and no
// duplicates.
#ifndef EPROP_SERVER_JOB_MANAGER_H_
#define EPROP_SERVER_JOB_MANAGER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/train/checkpoint.h"
#include "eprop/v1/jobs.pb.h"
#include "server/environment_registry.h"
#include "server/job_spec.h"
#include "server/job_store.h"

namespace eprop::server {

struct JobManagerOptions {
  int workers = 2;
  int max_queued_jobs = 64;
  JobLimits limits;
  // Where running remote reinforcement jobs register their environment
  // hubs; null: such jobs fail.
  EnvironmentRegistry* environments = nullptr;
};

class JobManager {
 public:
  // Loads the jobs in `store`; RUNNING and QUEUED ones are queued again
  // (RUNNING first). Workers start with Start().
  static std::unique_ptr<JobManager> Create(std::unique_ptr<JobStore> store,
                                            const JobManagerOptions& options);
  ~JobManager();  // Shutdown()

  void Start();
  // Stops accepting work, asks running jobs to stop at the next iteration
  // boundary, waits until they have written their checkpoints, and wakes
  // every watcher. Idempotent.
  void Shutdown();

  absl::StatusOr<v1::Job> Submit(const v1::JobSpec& spec);
  absl::StatusOr<v1::Job> Get(const std::string& id) const;
  absl::StatusOr<v1::ListJobsResponse> List(
      const v1::ListJobsRequest& request) const;
  absl::StatusOr<v1::Job> Cancel(const std::string& id);
  absl::Status Delete(const std::string& id);
  absl::StatusOr<std::vector<v1::IterationMetrics>> Metrics(
      const std::string& id, int64_t from_iteration) const;
  // The checkpoint file of a job and the iteration it holds; NOT_FOUND
  // before the first checkpoint.
  absl::StatusOr<std::pair<std::string, int64_t>> Checkpoint(
      const std::string& id) const;

  // What a watcher has not seen yet: the job as it is now, and the metrics
  // with iteration > after_iteration.
  struct WatchUpdate {
    v1::Job job;
    std::vector<v1::IterationMetrics> metrics;
    int64_t version = 0;
  };
  // Returns as soon as the job's version differs from seen_version, or
  // after `timeout`, or on shutdown (UNAVAILABLE). NOT_FOUND once deleted.
  absl::StatusOr<WatchUpdate> WaitForUpdate(const std::string& id,
                                            int64_t seen_version,
                                            int64_t after_iteration,
                                            absl::Duration timeout) const;

  std::vector<std::string> load_errors() const { return load_errors_; }

  // Why job `id` has no environment hub now (for EnvironmentRegistry):
  // NOT_FOUND (no such job), FAILED_PRECONDITION (finished, or not a
  // remote reinforcement job) or UNAVAILABLE (queued, or between runs).
  absl::Status WhyNoEnvironments(const std::string& id) const;

 private:
  struct Record;
  struct ByJobNumber {
    bool operator()(const std::string& a, const std::string& b) const {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    }
  };

  JobManager(std::unique_ptr<JobStore> store, const JobManagerOptions& options)
      : store_(std::move(store)), options_(options) {}
  void WorkerLoop();
  void RunJob(const std::shared_ptr<Record>& record);
  void RunReinforcement(const std::shared_ptr<Record>& record);
  // Restores a job's checkpoint into its trainer, if it has one.
  absl::Status ResumeFromCheckpoint(const std::shared_ptr<Record>& record,
                                    class Trainer* trainer);
  // Makes `history` the job's metrics; iteration >= 0: the job resumes
  // from a checkpoint of that iteration (counted in resume_count).
  absl::Status CommitResume(const std::shared_ptr<Record>& record,
                            std::vector<v1::IterationMetrics> history,
                            int64_t iteration);
  void SaveCheckpoint(const std::shared_ptr<Record>& record,
                      const TrainingCheckpoint& checkpoint);
  void RecordMetrics(const std::shared_ptr<Record>& record,
                     const v1::IterationMetrics& metrics);
  // After a run: suspended (a shutdown stopped it), CANCELLED (a cancel
  // stopped it) or SUCCEEDED.
  void EndRun(const std::shared_ptr<Record>& record, bool stopped,
              int64_t iterations);
  void Finish(const std::shared_ptr<Record>& record, v1::JobState state,
              const std::string& reason);
  // Persists the job and wakes watchers; requires mu_.
  void CommitLocked(Record* record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::shared_ptr<Record>> FindLocked(
      const std::string& id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int QueuedCountLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<JobStore> store_;
  const JobManagerOptions options_;
  std::vector<std::string> load_errors_;

  mutable absl::Mutex mu_;
  mutable absl::CondVar changed_;  // any job changed, or shutdown
  std::map<std::string, std::shared_ptr<Record>, ByJobNumber> jobs_
      ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_JOB_MANAGER_H_
