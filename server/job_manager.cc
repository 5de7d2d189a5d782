#include "server/job_manager.h"

#include <atomic>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "server/log.h"
#include "server/reinforcement_job.h"

namespace eprop::server {

struct JobManager::Record {
  v1::Job job;
  std::vector<v1::IterationMetrics> metrics;
  // Tells the trainer to stop at the next iteration boundary; set by
  // Cancel (cancel_requested) or Shutdown.
  std::atomic<bool> stop{false};
  bool cancel_requested = false;
  int64_t version = 0;  // bumped on every change that watchers can see
};

namespace {

int64_t NowUnixMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

std::unique_ptr<JobManager> JobManager::Create(
    std::unique_ptr<JobStore> store, const JobManagerOptions& options) {
  std::unique_ptr<JobManager> manager(
      new JobManager(std::move(store), options));
  std::vector<JobStore::StoredJob> stored =
      manager->store_->LoadAll(&manager->load_errors_);
  absl::MutexLock lock(&manager->mu_);
  std::deque<std::string> queued;
  for (JobStore::StoredJob& s : stored) {
    auto record = std::make_shared<Record>();
    record->job = std::move(s.job);
    record->metrics = std::move(s.metrics);
    const std::string id = record->job.job_id();
    if (record->job.state() == v1::JOB_STATE_RUNNING) {
      manager->queue_.push_back(id);  // interrupted: resume first
    } else if (record->job.state() == v1::JOB_STATE_QUEUED) {
      queued.push_back(id);
    }
    manager->jobs_[id] = std::move(record);
  }
  manager->queue_.insert(manager->queue_.end(), queued.begin(), queued.end());
  return manager;
}

JobManager::~JobManager() { Shutdown(); }

void JobManager::Start() {
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

void JobManager::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (!shutting_down_) {
      shutting_down_ = true;
      for (auto& [id, record] : jobs_) record->stop = true;
      changed_.SignalAll();
    }
  }
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

int JobManager::QueuedCountLocked() const {
  return static_cast<int>(queue_.size());
}

void JobManager::CommitLocked(Record* record) {
  ++record->version;
  if (absl::Status s = store_->SaveJob(record->job); !s.ok()) {
    Log(LogLevel::kError, "persist_failed",
        {{"job_id", record->job.job_id()}, {"error", s.ToString()}});
  }
  changed_.SignalAll();
}

absl::StatusOr<std::shared_ptr<JobManager::Record>> JobManager::FindLocked(
    const std::string& id) const {
  if (absl::Status s = store_->CheckJobId(id); !s.ok()) return s;
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("no job ", id));
  }
  return it->second;
}

absl::StatusOr<v1::Job> JobManager::Submit(const v1::JobSpec& spec) {
  absl::StatusOr<v1::JobSpec> resolved = ResolveJobSpec(spec, options_.limits);
  if (!resolved.ok()) return resolved.status();
  absl::MutexLock lock(&mu_);
  if (shutting_down_) {
    return absl::UnavailableError("the server is shutting down");
  }
  if (QueuedCountLocked() >= options_.max_queued_jobs) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the queue is full (", options_.max_queued_jobs,
        " queued jobs, --max_queued_jobs); retry when jobs have started"));
  }
  absl::StatusOr<std::string> id = store_->NewJobId();
  if (!id.ok()) return absl::InternalError(id.status().ToString());
  auto record = std::make_shared<Record>();
  v1::Job& job = record->job;
  job.set_job_id(*id);
  *job.mutable_spec() = *std::move(resolved);
  job.set_state(v1::JOB_STATE_QUEUED);
  job.set_create_time_unix_ms(NowUnixMs());
  job.set_checkpoint_iteration(-1);
  if (absl::Status s = store_->SaveJob(job); !s.ok()) {
    store_->Delete(*id).IgnoreError();
    return absl::InternalError(
        absl::StrCat("cannot store the job: ", s.ToString()));
  }
  jobs_[*id] = record;
  queue_.push_back(*id);
  changed_.SignalAll();
  Log(LogLevel::kInfo, "job_submitted",
      {{"job_id", *id},
       {"task", TaskName(job.spec().task())},
       {"algorithm", AlgorithmNameOf(job.spec().algorithm())}});
  return job;
}

absl::StatusOr<v1::Job> JobManager::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<Record>> record = FindLocked(id);
  if (!record.ok()) return record.status();
  return (*record)->job;
}

absl::StatusOr<v1::ListJobsResponse> JobManager::List(
    const v1::ListJobsRequest& request) const {
  if (!v1::JobState_IsValid(request.state())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state must be a JobState (0: any), got ", request.state()));
  }
  absl::StatusOr<int> page_size =
      store_->PageSize(request.page_size(), request.page_token());
  if (!page_size.ok()) return page_size.status();
  v1::ListJobsResponse response;
  absl::MutexLock lock(&mu_);
  auto it = request.page_token().empty()
                ? jobs_.begin()
                : jobs_.upper_bound(request.page_token());
  for (; it != jobs_.end(); ++it) {
    const v1::Job& job = it->second->job;
    if (request.state() != v1::JOB_STATE_UNSPECIFIED &&
        job.state() != request.state()) {
      continue;
    }
    if (response.jobs_size() == *page_size) {
      response.set_next_page_token(response.jobs().rbegin()->job_id());
      break;
    }
    *response.add_jobs() = job;
  }
  return response;
}

absl::StatusOr<v1::Job> JobManager::Cancel(const std::string& id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<Record>> found = FindLocked(id);
  if (!found.ok()) return found.status();
  Record& record = **found;
  if (IsFinal(record.job.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id, " has already finished (",
                     JobStateName(record.job.state()), ")"));
  }
  record.cancel_requested = true;
  record.stop = true;
  if (record.job.state() == v1::JOB_STATE_QUEUED) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (*it == id) {
        queue_.erase(it);
        break;
      }
    }
    record.job.set_state(v1::JOB_STATE_CANCELLED);
    record.job.set_end_time_unix_ms(NowUnixMs());
    CommitLocked(&record);
  }
  // A running job is finished by its worker within one iteration.
  Log(LogLevel::kInfo, "job_cancel_requested", {{"job_id", id}});
  return record.job;
}

absl::Status JobManager::Delete(const std::string& id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<Record>> found = FindLocked(id);
  if (!found.ok()) return found.status();
  if (!IsFinal((*found)->job.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id, " is ", JobStateName((*found)->job.state()),
                     "; cancel it before deleting it"));
  }
  if (absl::Status s = store_->Delete(id); !s.ok()) return s;
  jobs_.erase(id);
  changed_.SignalAll();
  Log(LogLevel::kInfo, "job_deleted", {{"job_id", id}});
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::IterationMetrics>> JobManager::Metrics(
    const std::string& id, int64_t from_iteration) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<Record>> found = FindLocked(id);
  if (!found.ok()) return found.status();
  std::vector<v1::IterationMetrics> out;
  for (const v1::IterationMetrics& m : (*found)->metrics) {
    if (m.iteration() >= from_iteration) out.push_back(m);
  }
  return out;
}

absl::StatusOr<std::pair<std::string, int64_t>> JobManager::Checkpoint(
    const std::string& id) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<Record>> found = FindLocked(id);
  if (!found.ok()) return found.status();
  if ((*found)->job.checkpoint_iteration() < 0) {
    return absl::NotFoundError(
        absl::StrCat("job ", id, " has no checkpoint yet"));
  }
  return std::make_pair(store_->CheckpointPath(id),
                        (*found)->job.checkpoint_iteration());
}

absl::StatusOr<JobManager::WatchUpdate> JobManager::WaitForUpdate(
    const std::string& id, int64_t seen_version, int64_t after_iteration,
    absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  std::shared_ptr<Record> record;
  while (true) {
    absl::StatusOr<std::shared_ptr<Record>> found = FindLocked(id);
    if (!found.ok()) return found.status();  // deleted meanwhile
    if (shutting_down_) {
      return absl::UnavailableError("the server is shutting down");
    }
    record = *std::move(found);
    if (record->version != seen_version) break;
    if (changed_.WaitWithDeadline(&mu_, deadline)) break;  // timed out
  }
  WatchUpdate update;
  update.job = record->job;
  update.version = record->version;
  for (const v1::IterationMetrics& m : record->metrics) {
    if (m.iteration() > after_iteration) update.metrics.push_back(m);
  }
  return update;
}

void JobManager::WorkerLoop() {
  while (true) {
    std::shared_ptr<Record> record;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shutting_down_ || !queue_.empty();
      };
      while (!ready()) changed_.Wait(&mu_);
      if (shutting_down_) return;
      record = jobs_.at(queue_.front());
      queue_.pop_front();
      v1::Job& job = record->job;
      job.set_state(v1::JOB_STATE_RUNNING);
      if (job.start_time_unix_ms() == 0)
        job.set_start_time_unix_ms(NowUnixMs());
      CommitLocked(record.get());
    }
    RunJob(record);
  }
}

void JobManager::Finish(const std::shared_ptr<Record>& record,
                        v1::JobState state, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  v1::Job& job = record->job;
  job.set_state(state);
  job.set_failure_reason(reason);
  job.set_end_time_unix_ms(NowUnixMs());
  CommitLocked(record.get());
  Log(state == v1::JOB_STATE_FAILED ? LogLevel::kError : LogLevel::kInfo,
      "job_finished",
      {{"job_id", job.job_id()},
       {"state", JobStateName(state)},
       {"iterations", absl::StrCat(job.iterations_completed())},
       {"reason", reason}});
}

absl::Status JobManager::ResumeFromCheckpoint(
    const std::shared_ptr<Record>& record, Trainer* trainer) {
  const std::string path = store_->CheckpointPath(record->job.job_id());
  std::vector<v1::IterationMetrics> history;
  if (!std::filesystem::exists(path)) return CommitResume(record, {}, -1);
  absl::StatusOr<TrainingCheckpoint> checkpoint = ReadCheckpoint(path);
  if (!checkpoint.ok()) return checkpoint.status();
  if (absl::Status s = trainer->RestoreState(*checkpoint); !s.ok()) return s;
  for (const IterationMetrics& m : trainer->history()) {
    history.push_back(ToProto(m));
  }
  return CommitResume(record, std::move(history),
                      trainer->SaveState().iteration);
}

absl::Status JobManager::CommitResume(const std::shared_ptr<Record>& record,
                                      std::vector<v1::IterationMetrics> history,
                                      int64_t iteration) {
  const std::string& id = record->job.job_id();
  // The checkpoint's history is the job's history: metrics recorded after
  // it are recomputed by the resumed run.
  if (absl::Status s = store_->ReplaceMetrics(id, history); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (iteration >= 0) {
    record->job.set_resume_count(record->job.resume_count() + 1);
    record->job.set_iterations_completed(iteration);
    Log(LogLevel::kInfo, "job_resumed",
        {{"job_id", id}, {"iteration", absl::StrCat(iteration)}});
  }
  record->metrics = std::move(history);
  CommitLocked(record.get());
  return absl::OkStatus();
}

void JobManager::SaveCheckpoint(const std::shared_ptr<Record>& record,
                                const TrainingCheckpoint& checkpoint) {
  const std::string& id = record->job.job_id();
  if (absl::Status s = WriteCheckpoint(store_->CheckpointPath(id), checkpoint);
      !s.ok()) {
    Log(LogLevel::kError, "checkpoint_failed",
        {{"job_id", id}, {"error", s.ToString()}});
    return;
  }
  absl::MutexLock lock(&mu_);
  record->job.set_checkpoint_iteration(checkpoint.iteration);
  record->job.set_iterations_completed(checkpoint.iteration);
  CommitLocked(record.get());
}

void JobManager::RecordMetrics(const std::shared_ptr<Record>& record,
                               const v1::IterationMetrics& metrics) {
  const std::string& id = record->job.job_id();
  if (absl::Status s = store_->AppendMetrics(id, metrics); !s.ok()) {
    Log(LogLevel::kError, "persist_failed",
        {{"job_id", id}, {"error", s.ToString()}});
  }
  absl::MutexLock lock(&mu_);
  record->metrics.push_back(metrics);
  *record->job.mutable_latest_metrics() = metrics;
  record->job.set_iterations_completed(metrics.iteration());
  ++record->version;
  changed_.SignalAll();
}

void JobManager::EndRun(const std::shared_ptr<Record>& record, bool stopped,
                        int64_t iterations) {
  bool cancelled_by_user;
  {
    absl::MutexLock lock(&mu_);
    record->job.set_iterations_completed(iterations);
    cancelled_by_user = record->cancel_requested;
  }
  if (stopped && !cancelled_by_user) {
    // Shutdown: the job stays RUNNING on disk and resumes on restart.
    Log(LogLevel::kInfo, "job_suspended",
        {{"job_id", record->job.job_id()},
         {"iteration", absl::StrCat(iterations)}});
    return;
  }
  Finish(record, stopped ? v1::JOB_STATE_CANCELLED : v1::JOB_STATE_SUCCEEDED,
         "");
}

void JobManager::RunJob(const std::shared_ptr<Record>& record) {
  if (IsReinforcementTask(record->job.spec().task())) {
    RunReinforcement(record);
    return;
  }
  const std::string id = record->job.job_id();
  const TrainerInputs inputs = ToTrainerInputs(record->job.spec());
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(inputs.task, inputs.config);
  if (!trainer.ok()) {
    Finish(record, v1::JOB_STATE_FAILED,
           std::string(trainer.status().message()));
    return;
  }
  if (absl::Status s = ResumeFromCheckpoint(record, trainer->get()); !s.ok()) {
    Finish(record, v1::JOB_STATE_FAILED,
           absl::StrCat("cannot resume from the checkpoint: ", s.message()));
    return;
  }
  Log(LogLevel::kInfo, "job_started", {{"job_id", id}});
  auto save = [&](const TrainingCheckpoint& checkpoint) {
    SaveCheckpoint(record, checkpoint);
  };
  auto on_validation = [&](const IterationMetrics& m) {
    RecordMetrics(record, ToProto(m));
  };
  const TrainResult result =
      (*trainer)->Run(on_validation, &record->stop, save);
  save((*trainer)->SaveState());
  {
    absl::MutexLock lock(&mu_);
    record->job.set_reached_stop_criterion(result.reached_criterion);
  }
  EndRun(record, result.cancelled, result.iterations);
}

void JobManager::RunReinforcement(const std::shared_ptr<Record>& record) {
  const std::string id = record->job.job_id();
  const std::string path = store_->CheckpointPath(id);
  std::optional<TrainingCheckpoint> checkpoint;
  std::vector<v1::IterationMetrics> history;
  if (std::filesystem::exists(path)) {
    absl::StatusOr<TrainingCheckpoint> read = ReadCheckpoint(path);
    if (!read.ok()) {
      Finish(record, v1::JOB_STATE_FAILED,
             absl::StrCat("cannot resume from the checkpoint: ",
                          read.status().message()));
      return;
    }
    checkpoint = *std::move(read);
    // Reports come after their checkpoint, so the entries up to the
    // checkpoint's update count are the history it continues.
    absl::MutexLock lock(&mu_);
    for (const v1::IterationMetrics& m : record->metrics) {
      if (m.iteration() <= checkpoint->iteration) history.push_back(m);
    }
  }
  const v1::IterationMetrics last =
      history.empty() ? v1::IterationMetrics() : history.back();
  if (absl::Status s = CommitResume(record, std::move(history),
                                    checkpoint ? checkpoint->iteration : -1);
      !s.ok()) {
    Finish(record, v1::JOB_STATE_FAILED,
           absl::StrCat("cannot resume from the checkpoint: ", s.message()));
    return;
  }
  Log(LogLevel::kInfo, "job_started", {{"job_id", id}});
  ReinforcementJobHooks hooks;
  hooks.on_checkpoint = [&](const TrainingCheckpoint& c) {
    SaveCheckpoint(record, c);
  };
  hooks.on_metrics = [&](const v1::IterationMetrics& m) {
    RecordMetrics(record, m);
  };
  hooks.stop_reason = [&] {
    absl::MutexLock lock(&mu_);
    return record->cancel_requested
               ? absl::CancelledError(absl::StrCat("job ", id,
                                                   " was cancelled"))
               : absl::UnavailableError(
                     "the server is shutting down; reconnect when it is back");
  };
  ReinforcementResume resume;
  resume.checkpoint = checkpoint ? &*checkpoint : nullptr;
  resume.metrics = checkpoint ? &last : nullptr;
  absl::StatusOr<ReinforcementJobResult> result = RunReinforcementJob(
      id, record->job.spec(), resume, options_.environments, &record->stop,
      hooks);
  if (!result.ok()) {
    Finish(record, v1::JOB_STATE_FAILED, std::string(result.status().message()));
    return;
  }
  EndRun(record, result->stopped, result->updates);
}

absl::Status JobManager::WhyNoEnvironments(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<Record>> found = FindLocked(id);
  if (!found.ok()) return found.status();
  const v1::Job& job = (*found)->job;
  if (job.spec().reinforcement().source() != v1::ENVIRONMENT_SOURCE_REMOTE) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " does not take remote environments (task ",
        TaskName(job.spec().task()), ")"));
  }
  if (IsFinal(job.state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " has finished (", JobStateName(job.state()), ")"));
  }
  return absl::UnavailableError(absl::StrCat(
      "job ", id, " is ", JobStateName(job.state()),
      " and does not accept environments yet; retry"));
}

}  // namespace eprop::server
