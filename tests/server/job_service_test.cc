// The job service end to end on loopback, in process: submit, watch, list,
// cancel, delete, the worker pool, restart with resumption, limits.
#include "server/job_service.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/train/checkpoint.h"
#include "core/train/task.h"
#include "core/train/trainer.h"
#include "core/util/file_io.h"
#include "server/job_spec.h"
#include "tests/server/testing/in_process_server.h"

namespace eprop::server {
namespace {

using testing::Context;
using testing::InProcessServer;
using testing::ServerOptions;

// Pattern generation trains at ~1 ms per iteration: a fast real job.
v1::JobSpec PatternJob(int64_t iterations, int validate_every = 10) {
  v1::JobSpec spec;
  spec.set_task(v1::TASK_PATTERN_GENERATION);
  spec.mutable_schedule()->set_max_iterations(iterations);
  spec.mutable_schedule()->set_validate_every_iterations(validate_every);
  return spec;
}

// Evidence accumulation with the paper's batch takes ~50 ms per iteration:
// a job that is still running when the test acts on it.
v1::JobSpec LongJob() {
  v1::JobSpec spec;
  spec.set_task(v1::TASK_EVIDENCE_ACCUMULATION);
  spec.mutable_schedule()->set_max_iterations(100000);
  spec.set_stop_criterion(0);
  return spec;
}

v1::Job Submit(v1::JobService::Stub& stub, const v1::JobSpec& spec) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  v1::Job job;
  const grpc::Status status = stub.SubmitJob(Context().get(), request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

v1::Job Get(v1::JobService::Stub& stub, const std::string& id) {
  v1::GetJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  const grpc::Status status = stub.GetJob(Context().get(), request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

// Polls until `done(job)` or the timeout; returns the last job seen.
template <typename Predicate>
v1::Job WaitFor(v1::JobService::Stub& stub, const std::string& id,
                Predicate done, double timeout_s = 60) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(timeout_s);
  v1::Job job = Get(stub, id);
  while (!done(job) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    job = Get(stub, id);
  }
  return job;
}

v1::Job WaitForFinal(v1::JobService::Stub& stub, const std::string& id) {
  return WaitFor(stub, id, [](const v1::Job& j) { return IsFinal(j.state()); });
}

std::vector<v1::IterationMetrics> Metrics(v1::JobService::Stub& stub,
                                          const std::string& id) {
  v1::GetMetricsRequest request;
  request.set_job_id(id);
  v1::GetMetricsResponse response;
  EXPECT_TRUE(stub.GetMetrics(Context().get(), request, &response).ok());
  return {response.metrics().begin(), response.metrics().end()};
}

std::vector<int64_t> Iterations(const std::vector<v1::IterationMetrics>& m) {
  std::vector<int64_t> out;
  for (const v1::IterationMetrics& x : m) out.push_back(x.iteration());
  return out;
}

std::vector<int64_t> Range(int64_t last, int64_t step) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i <= last; i += step) out.push_back(i);
  return out;
}

TEST(JobServiceTest, SubmitWatchSucceedsWithTheRecordedMetrics) {
  InProcessServer server;
  auto stub = server.Stub();
  const v1::Job submitted = Submit(*stub, PatternJob(200, 20));
  EXPECT_EQ(submitted.job_id(), "job-000001");
  EXPECT_EQ(submitted.state(), v1::JOB_STATE_QUEUED);
  // Every default is filled in: the paper's constants.
  EXPECT_EQ(submitted.spec().algorithm(), v1::ALGORITHM_EPROP_RANDOM);
  EXPECT_EQ(submitted.spec().seed(), 1u);
  EXPECT_EQ(submitted.spec().schedule().batch_size(), 1);
  const NetworkConfig paper = (*MakeTask("pattern_generation", 1))->network();
  EXPECT_EQ(submitted.spec().network().n_lif(), paper.n_lif);
  EXPECT_EQ(submitted.spec().network().tau_m_ms(), paper.tau_m_ms);

  v1::WatchJobRequest request;
  request.set_job_id(submitted.job_id());
  auto context = Context();
  auto reader = stub->WatchJob(context.get(), request);
  v1::JobEvent event;
  std::vector<v1::IterationMetrics> watched;
  std::vector<v1::JobState> states;
  bool job_first = false;
  while (reader->Read(&event)) {
    if (watched.empty() && states.empty()) job_first = event.has_job();
    if (event.has_metrics()) watched.push_back(event.metrics());
    if (event.has_job()) states.push_back(event.job().state());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_TRUE(job_first);
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Iterations(watched), Range(200, 20));
  const std::vector<v1::IterationMetrics> recorded =
      Metrics(*stub, submitted.job_id());
  ASSERT_EQ(recorded.size(), watched.size());
  for (size_t i = 0; i < recorded.size(); ++i) {
    EXPECT_EQ(recorded[i].SerializeAsString(), watched[i].SerializeAsString());
  }
  // A regression task: nmse, no error; it falls while training.
  EXPECT_TRUE(recorded.back().has_nmse());
  EXPECT_FALSE(recorded.back().has_error());
  EXPECT_LT(recorded.back().nmse(), 0.8 * recorded.front().nmse());

  const v1::Job done = Get(*stub, submitted.job_id());
  EXPECT_EQ(done.iterations_completed(), 200);
  EXPECT_EQ(done.checkpoint_iteration(), 200);
  EXPECT_GT(done.end_time_unix_ms(), 0);
  EXPECT_EQ(done.latest_metrics().iteration(), 200);

  // Watching again from an iteration replays the rest and ends.
  request.set_from_iteration(150);
  auto again_context = Context();
  auto again = stub->WatchJob(again_context.get(), request);
  std::vector<int64_t> replayed;
  while (again->Read(&event)) {
    if (event.has_metrics()) replayed.push_back(event.metrics().iteration());
  }
  EXPECT_TRUE(again->Finish().ok());
  EXPECT_EQ(replayed, (std::vector<int64_t>{160, 180, 200}));
}

TEST(JobServiceTest, ExportedCheckpointIsTheTrainedNetwork) {
  InProcessServer server;
  auto stub = server.Stub();
  const v1::Job job =
      WaitForFinal(*stub, Submit(*stub, PatternJob(30)).job_id());
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  v1::ExportCheckpointRequest request;
  request.set_job_id(job.job_id());
  auto context = Context();
  auto reader = stub->ExportCheckpoint(context.get(), request);
  std::string bytes;
  v1::CheckpointChunk chunk;
  while (reader->Read(&chunk)) {
    EXPECT_EQ(chunk.offset_bytes(), static_cast<int64_t>(bytes.size()));
    EXPECT_EQ(chunk.iteration(), 30);
    bytes += chunk.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), chunk.total_bytes());
  const std::string path = server.data_dir() + "/exported.eprop";
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  absl::StatusOr<TrainingCheckpoint> checkpoint = ReadCheckpoint(path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();

  // The same run trained locally gives the same weights, bit for bit.
  const TrainerInputs inputs = ToTrainerInputs(job.spec());
  std::unique_ptr<Trainer> local = *Trainer::Create(inputs.task, inputs.config);
  local->Run([](const IterationMetrics&) {});
  EXPECT_EQ(checkpoint->weights.w_rec, local->weights().w_rec);
  EXPECT_EQ(checkpoint->weights.w_out, local->weights().w_out);
}

TEST(JobServiceTest, ListStatusCancelDelete) {
  InProcessServer server;
  auto stub = server.Stub();
  const std::string short_id = Submit(*stub, PatternJob(20)).job_id();
  const std::string long_id = Submit(*stub, LongJob()).job_id();
  ASSERT_EQ(WaitForFinal(*stub, short_id).state(), v1::JOB_STATE_SUCCEEDED);
  const v1::Job running = WaitFor(*stub, long_id, [](const v1::Job& j) {
    return j.state() == v1::JOB_STATE_RUNNING;
  });
  ASSERT_EQ(running.state(), v1::JOB_STATE_RUNNING);

  v1::ListJobsRequest list;
  v1::ListJobsResponse page;
  ASSERT_TRUE(stub->ListJobs(Context().get(), list, &page).ok());
  ASSERT_EQ(page.jobs_size(), 2);
  EXPECT_EQ(page.jobs(0).job_id(), short_id);
  list.set_state(v1::JOB_STATE_RUNNING);
  ASSERT_TRUE(stub->ListJobs(Context().get(), list, &page).ok());
  ASSERT_EQ(page.jobs_size(), 1);
  EXPECT_EQ(page.jobs(0).job_id(), long_id);
  list.set_state(v1::JOB_STATE_UNSPECIFIED);
  list.set_page_size(1);
  ASSERT_TRUE(stub->ListJobs(Context().get(), list, &page).ok());
  ASSERT_EQ(page.jobs_size(), 1);
  list.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub->ListJobs(Context().get(), list, &page).ok());
  ASSERT_EQ(page.jobs_size(), 1);
  EXPECT_EQ(page.jobs(0).job_id(), long_id);
  EXPECT_TRUE(page.next_page_token().empty());

  v1::DeleteJobRequest delete_request;
  delete_request.set_job_id(long_id);
  v1::DeleteJobResponse deleted;
  EXPECT_EQ(
      stub->DeleteJob(Context().get(), delete_request, &deleted).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  v1::CancelJobRequest cancel;
  cancel.set_job_id(long_id);
  v1::Job cancelled;
  ASSERT_TRUE(stub->CancelJob(Context().get(), cancel, &cancelled).ok());
  const v1::Job finished = WaitForFinal(*stub, long_id);
  EXPECT_EQ(finished.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_GE(finished.checkpoint_iteration(), 0);
  EXPECT_EQ(stub->CancelJob(Context().get(), cancel, &cancelled).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  ASSERT_TRUE(stub->DeleteJob(Context().get(), delete_request, &deleted).ok());
  v1::GetJobRequest get;
  get.set_job_id(long_id);
  v1::Job gone;
  EXPECT_EQ(stub->GetJob(Context().get(), get, &gone).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(
      std::filesystem::exists(server.data_dir() + "/data/jobs/" + long_id));
  // Ids are never reused.
  EXPECT_EQ(Submit(*stub, PatternJob(1)).job_id(), "job-000003");
}

TEST(JobServiceTest, EightJobsShareTwoWorkers) {
  InProcessServer server;
  auto stub = server.Stub();
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    v1::JobSpec spec = PatternJob(150, 50);
    spec.set_seed(i + 1);
    ids.push_back(Submit(*stub, spec).job_id());
  }
  int max_running = 0;
  bool all_done = false;
  while (!all_done) {
    v1::ListJobsResponse page;
    ASSERT_TRUE(
        stub->ListJobs(Context().get(), v1::ListJobsRequest(), &page).ok());
    int running = 0;
    all_done = true;
    for (const v1::Job& job : page.jobs()) {
      running += job.state() == v1::JOB_STATE_RUNNING;
      all_done &= IsFinal(job.state());
    }
    max_running = std::max(max_running, running);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(max_running, 2);
  for (const std::string& id : ids) {
    const v1::Job job = Get(*stub, id);
    EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << id;
    EXPECT_EQ(Iterations(Metrics(*stub, id)), Range(150, 50)) << id;
  }
}

TEST(JobServiceTest, RestartResumesRunningJobsWithAnIntactHistory) {
  InProcessServer server;
  auto stub = server.Stub();
  v1::JobSpec spec = PatternJob(1500);
  spec.set_checkpoint_every_iterations(100);
  const std::string id = Submit(*stub, spec).job_id();
  const v1::Job before = WaitFor(*stub, id, [](const v1::Job& j) {
    return j.checkpoint_iteration() >= 200;
  });
  ASSERT_EQ(before.state(), v1::JOB_STATE_RUNNING);
  server.Restart();
  stub = server.Stub();
  const v1::Job after = WaitForFinal(*stub, id);
  EXPECT_EQ(after.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(after.resume_count(), 1);
  EXPECT_EQ(Iterations(Metrics(*stub, id)), Range(1500, 10));
  // The resumed run ends where an uninterrupted one does, bit for bit.
  absl::StatusOr<TrainingCheckpoint> resumed = ReadCheckpoint(
      server.data_dir() + "/data/jobs/" + id + "/checkpoint.eprop");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  const TrainerInputs inputs = ToTrainerInputs(after.spec());
  std::unique_ptr<Trainer> local = *Trainer::Create(inputs.task, inputs.config);
  local->Run([](const IterationMetrics&) {});
  EXPECT_EQ(resumed->weights.w_rec, local->weights().w_rec);
  EXPECT_EQ(resumed->iteration, 1500);
}

TEST(JobServiceTest, FullQueueIsResourceExhausted) {
  ServerOptions options;
  options.manager.workers = 1;
  options.manager.max_queued_jobs = 1;
  InProcessServer server(options);
  auto stub = server.Stub();
  const std::string running = Submit(*stub, LongJob()).job_id();
  WaitFor(*stub, running,
          [](const v1::Job& j) { return j.state() == v1::JOB_STATE_RUNNING; });
  Submit(*stub, PatternJob(1));  // waits for the worker
  v1::SubmitJobRequest request;
  *request.mutable_spec() = PatternJob(1);
  v1::Job job;
  const grpc::Status status = stub->SubmitJob(Context().get(), request, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("--max_queued_jobs"),
            std::string::npos);
}

}  // namespace
}  // namespace eprop::server
