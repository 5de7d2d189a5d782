// Bad input never crashes the server or changes its state: malformed
// requests of every field family get the right status code and a message
// that says what is allowed, and random JobSpecs either resolve to a
// trainable job or are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "absl/random/random.h"
#include "core/train/trainer.h"
#include "server/job_spec.h"
#include "tests/server/testing/in_process_server.h"

namespace eprop::server {
namespace {

using testing::Context;
using testing::InProcessServer;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct BadSpec {
  std::string name;
  std::function<void(v1::JobSpec*)> mutate;
  grpc::StatusCode code;
  std::string message;  // must occur in the error message
};

std::vector<BadSpec> BadSpecs() {
  using C = grpc::StatusCode;
  const C kInvalid = C::INVALID_ARGUMENT;
  return {
      {"no task", [](v1::JobSpec* s) { s->clear_task(); }, kInvalid,
       "task is required"},
      {"unknown task", [](v1::JobSpec* s) { s->set_task(v1::Task(99)); },
       kInvalid, "TASK_PATTERN_GENERATION, TASK_BREAKOUT or TASK_REMOTE_ENVIRONMENT"},
      {"unknown algorithm",
       [](v1::JobSpec* s) { s->set_algorithm(v1::Algorithm(42)); }, kInvalid,
       "algorithm must be"},
      {"negative n_lif",
       [](v1::JobSpec* s) { s->mutable_network()->set_n_lif(-1); }, kInvalid,
       "network.n_lif must be in [0, 20000]"},
      {"negative n_alif",
       [](v1::JobSpec* s) { s->mutable_network()->set_n_alif(-5); }, kInvalid,
       "network.n_alif"},
      {"no neurons",
       [](v1::JobSpec* s) {
         s->mutable_network()->set_n_lif(0);
         s->mutable_network()->set_n_alif(0);
       },
       kInvalid, "network.n_lif + network.n_alif must be in [1, 20000]"},
      {"too many neurons",
       [](v1::JobSpec* s) {
         s->mutable_network()->set_n_lif(15000);
         s->mutable_network()->set_n_alif(15000);
       },
       kInvalid, "--max_neurons"},
      {"NaN tau_m",
       [](v1::JobSpec* s) { s->mutable_network()->set_tau_m_ms(kNaN); },
       kInvalid, "network.tau_m_ms must be in (0, 1e+06]"},
      {"zero tau_m",
       [](v1::JobSpec* s) { s->mutable_network()->set_tau_m_ms(0); }, kInvalid,
       "network.tau_m_ms"},
      {"-inf tau_a",
       [](v1::JobSpec* s) { s->mutable_network()->set_tau_a_ms(-kInf); },
       kInvalid, "network.tau_a_ms"},
      {"negative beta",
       [](v1::JobSpec* s) { s->mutable_network()->set_beta_alif(-0.1); },
       kInvalid, "network.beta_alif"},
      {"zero threshold",
       [](v1::JobSpec* s) { s->mutable_network()->set_v_th(0); }, kInvalid,
       "network.v_th"},
      {"negative refractory period",
       [](v1::JobSpec* s) { s->mutable_network()->set_n_ref_steps(-1); },
       kInvalid, "network.n_ref_steps"},
      {"infinite gamma",
       [](v1::JobSpec* s) { s->mutable_network()->set_gamma(kInf); }, kInvalid,
       "network.gamma"},
      {"negative readout filter",
       [](v1::JobSpec* s) { s->mutable_network()->set_tau_out_ms(-1); },
       kInvalid, "network.tau_out_ms"},
      {"unknown optimizer",
       [](v1::JobSpec* s) {
         s->mutable_optimizer()->set_kind(v1::OptimizerKind(7));
       },
       kInvalid, "OPTIMIZER_KIND_SGD or OPTIMIZER_KIND_ADAM"},
      {"zero learning rate",
       [](v1::JobSpec* s) { s->mutable_optimizer()->set_learning_rate(0); },
       kInvalid, "optimizer.learning_rate must be in (0, 10]"},
      {"NaN learning rate",
       [](v1::JobSpec* s) { s->mutable_optimizer()->set_learning_rate(kNaN); },
       kInvalid, "optimizer.learning_rate"},
      {"beta1 of one",
       [](v1::JobSpec* s) { s->mutable_optimizer()->set_adam_beta1(1); },
       kInvalid, "optimizer.adam_beta1"},
      {"negative beta2",
       [](v1::JobSpec* s) { s->mutable_optimizer()->set_adam_beta2(-0.5); },
       kInvalid, "optimizer.adam_beta2"},
      {"zero epsilon",
       [](v1::JobSpec* s) { s->mutable_optimizer()->set_adam_epsilon(0); },
       kInvalid, "optimizer.adam_epsilon"},
      {"negative clip",
       [](v1::JobSpec* s) { s->mutable_optimizer()->set_clip_global_norm(-1); },
       kInvalid, "optimizer.clip_global_norm"},
      {"zero iterations",
       [](v1::JobSpec* s) { s->mutable_schedule()->set_max_iterations(0); },
       kInvalid, "schedule.max_iterations must be in [1, 1e+06]"},
      {"iterations over the limit",
       [](v1::JobSpec* s) {
         s->mutable_schedule()->set_max_iterations(2000000);
       },
       kInvalid, "schedule.max_iterations"},
      {"zero batch",
       [](v1::JobSpec* s) { s->mutable_schedule()->set_batch_size(0); },
       kInvalid, "schedule.batch_size must be in [1, 100000]"},
      {"huge batch",
       [](v1::JobSpec* s) { s->mutable_schedule()->set_batch_size(1000000); },
       kInvalid, "schedule.batch_size"},
      {"zero validation interval",
       [](v1::JobSpec* s) {
         s->mutable_schedule()->set_validate_every_iterations(0);
       },
       kInvalid, "schedule.validate_every_iterations"},
      {"negative decay interval",
       [](v1::JobSpec* s) {
         s->mutable_schedule()->set_lr_decay_every_iterations(-3);
       },
       kInvalid, "schedule.lr_decay_every_iterations"},
      {"decay factor above one",
       [](v1::JobSpec* s) { s->mutable_schedule()->set_lr_decay_factor(1.5); },
       kInvalid, "schedule.lr_decay_factor must be in (0, 1]"},
      {"NaN stop criterion",
       [](v1::JobSpec* s) { s->set_stop_criterion(kNaN); }, kInvalid,
       "stop_criterion"},
      {"negative stop criterion",
       [](v1::JobSpec* s) { s->set_stop_criterion(-1); }, kInvalid,
       "stop_criterion"},
      {"zero checkpoint interval",
       [](v1::JobSpec* s) { s->set_checkpoint_every_iterations(0); }, kInvalid,
       "checkpoint_every_iterations"},
      {"zero threads", [](v1::JobSpec* s) { s->set_threads(0); }, kInvalid,
       "threads must be in [1, 2]"},
      {"too many threads", [](v1::JobSpec* s) { s->set_threads(1000); },
       kInvalid, "threads"},
      {"long display name",
       [](v1::JobSpec* s) { s->set_display_name(std::string(500, 'x')); },
       kInvalid, "display_name must be at most 200 bytes"},
      {"network beyond the memory limit",
       [](v1::JobSpec* s) {
         s->set_task(v1::TASK_EVIDENCE_ACCUMULATION);
         s->mutable_network()->set_n_lif(10000);
         s->mutable_schedule()->set_batch_size(64);
       },
       C::RESOURCE_EXHAUSTED, "the batch may be at most"},
      {"batch beyond the memory limit",
       [](v1::JobSpec* s) {
         s->set_task(v1::TASK_EVIDENCE_ACCUMULATION);
         s->mutable_schedule()->set_batch_size(50000);
       },
       C::RESOURCE_EXHAUSTED, "--max_job_memory_mb"},
      {"5 MB display name",
       [](v1::JobSpec* s) { s->set_display_name(std::string(5 << 20, 'x')); },
       kInvalid, "display_name must be at most 200 bytes, got 5242880"},
  };
}

v1::JobSpec ValidSpec() {
  v1::JobSpec spec;
  spec.set_task(v1::TASK_PATTERN_GENERATION);
  spec.mutable_schedule()->set_max_iterations(5);
  return spec;
}

TEST(JobValidationTest, MalformedRequestsGetTheRightCodeAndMessage) {
  InProcessServer server;
  auto stub = server.Stub();
  int cases = 0;
  for (const BadSpec& bad : BadSpecs()) {
    v1::SubmitJobRequest request;
    *request.mutable_spec() = ValidSpec();
    bad.mutate(request.mutable_spec());
    v1::Job job;
    const grpc::Status status = stub->SubmitJob(Context().get(), request, &job);
    EXPECT_EQ(status.error_code(), bad.code)
        << bad.name << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(bad.message), std::string::npos)
        << bad.name << ": " << status.error_message();
    ++cases;
  }

  // Requests other than Submit.
  auto expect = [&](const grpc::Status& status, grpc::StatusCode code,
                    const std::string& message) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_NE(status.error_message().find(message), std::string::npos)
        << status.error_message();
    ++cases;
  };
  v1::Job job;
  expect(stub->SubmitJob(Context().get(), v1::SubmitJobRequest(), &job),
         grpc::StatusCode::INVALID_ARGUMENT, "spec is required");
  v1::GetJobRequest get;
  expect(stub->GetJob(Context().get(), get, &job),
         grpc::StatusCode::INVALID_ARGUMENT, "job_id is required");
  get.set_job_id("../../etc/passwd");
  expect(stub->GetJob(Context().get(), get, &job),
         grpc::StatusCode::INVALID_ARGUMENT, "job-000001");
  get.set_job_id("job-999999");
  expect(stub->GetJob(Context().get(), get, &job), grpc::StatusCode::NOT_FOUND,
         "no job job-999999");
  v1::ListJobsRequest list;
  v1::ListJobsResponse page;
  list.set_page_size(-1);
  expect(stub->ListJobs(Context().get(), list, &page),
         grpc::StatusCode::INVALID_ARGUMENT, "page_size must be in [0, 1000]");
  list.set_page_size(0);
  list.set_state(v1::JobState(17));
  expect(stub->ListJobs(Context().get(), list, &page),
         grpc::StatusCode::INVALID_ARGUMENT, "state");
  list.set_state(v1::JOB_STATE_UNSPECIFIED);
  list.set_page_token("abc");
  expect(stub->ListJobs(Context().get(), list, &page),
         grpc::StatusCode::INVALID_ARGUMENT, "page_token");
  v1::WatchJobRequest watch;
  watch.set_job_id("job-000001");
  watch.set_from_iteration(-1);
  {
    auto context = Context();
    auto reader = stub->WatchJob(context.get(), watch);
    v1::JobEvent event;
    EXPECT_FALSE(reader->Read(&event));
    expect(reader->Finish(), grpc::StatusCode::INVALID_ARGUMENT,
           "from_iteration must be >= 0");
  }
  {
    v1::ExportCheckpointRequest request;
    request.set_job_id("job-000042");
    auto context = Context();
    auto reader = stub->ExportCheckpoint(context.get(), request);
    v1::CheckpointChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    expect(reader->Finish(), grpc::StatusCode::NOT_FOUND, "no job");
  }
  v1::CancelJobRequest cancel;
  cancel.set_job_id("job-000007");
  expect(stub->CancelJob(Context().get(), cancel, &job),
         grpc::StatusCode::NOT_FOUND, "no job");
  v1::DeleteJobRequest remove;
  remove.set_job_id("job-1");
  v1::DeleteJobResponse removed;
  expect(stub->DeleteJob(Context().get(), remove, &removed),
         grpc::StatusCode::INVALID_ARGUMENT, "job_id must look like");
  EXPECT_GE(cases, 45);

  // Nothing was stored, and the server still serves.
  ASSERT_TRUE(
      stub->ListJobs(Context().get(), v1::ListJobsRequest(), &page).ok());
  EXPECT_EQ(page.jobs_size(), 0);
  v1::SubmitJobRequest good;
  *good.mutable_spec() = ValidSpec();
  ASSERT_TRUE(stub->SubmitJob(Context().get(), good, &job).ok());
  EXPECT_EQ(job.job_id(), "job-000001");
}

// Random specs: any field present or not, values drawn from a mix of
// sensible, extreme and non-finite numbers, enums from any integer.
v1::JobSpec RandomSpec(absl::BitGen& gen) {
  auto maybe = [&] { return absl::Bernoulli(gen, 0.15); };
  auto real = [&]() -> double {
    switch (absl::Uniform(gen, 0, 10)) {
      case 0:
        return kNaN;
      case 1:
        return absl::Bernoulli(gen, 0.5) ? kInf : -kInf;
      case 2:
        return absl::Uniform(gen, -1e9, 1e9);
      case 3:
        return 0;
      default:
        return absl::Uniform(gen, 0.0, 2.0);
    }
  };
  auto integer = [&](int64_t scale) -> int64_t {
    return absl::Bernoulli(gen, 0.1)
               ? absl::Uniform<int64_t>(gen, -scale * 100, scale * 100)
               : absl::Uniform<int64_t>(gen, 0, scale);
  };
  v1::JobSpec s;
  auto enum_value = [&](int valid_end) {
    return absl::Bernoulli(gen, 0.1) ? absl::Uniform(gen, -5, 100)
                                     : absl::Uniform(gen, 0, valid_end);
  };
  s.set_task(v1::Task(enum_value(3)));
  s.set_algorithm(v1::Algorithm(enum_value(5)));
  if (maybe()) s.set_seed(absl::Uniform<uint64_t>(gen));
  v1::NetworkSpec* n = s.mutable_network();
  if (maybe()) n->set_n_lif(static_cast<int32_t>(integer(300)));
  if (maybe()) n->set_n_alif(static_cast<int32_t>(integer(300)));
  if (maybe()) n->set_tau_m_ms(real() * 20);
  if (maybe()) n->set_tau_a_ms(real() * 500);
  if (maybe()) n->set_beta_alif(real());
  if (maybe()) n->set_v_th(real());
  if (maybe()) n->set_n_ref_steps(static_cast<int32_t>(integer(10)));
  if (maybe()) n->set_gamma(real());
  if (maybe()) n->set_tau_out_ms(real() * 20);
  v1::OptimizerSpec* o = s.mutable_optimizer();
  o->set_kind(v1::OptimizerKind(enum_value(3)));
  if (maybe()) o->set_learning_rate(real() * 0.01);
  if (maybe()) o->set_adam_beta1(real());
  if (maybe()) o->set_adam_beta2(real());
  if (maybe()) o->set_adam_epsilon(real() * 1e-8);
  if (maybe()) o->set_clip_global_norm(real());
  v1::ScheduleSpec* sc = s.mutable_schedule();
  if (maybe()) sc->set_max_iterations(integer(3000000));
  if (maybe()) sc->set_batch_size(static_cast<int32_t>(integer(200)));
  if (maybe())
    sc->set_validate_every_iterations(static_cast<int32_t>(integer(50)));
  if (maybe()) sc->set_lr_decay_every_iterations(integer(1000));
  if (maybe()) sc->set_lr_decay_factor(real());
  if (maybe()) s.set_stop_criterion(real());
  if (maybe()) s.set_checkpoint_every_iterations(integer(100));
  if (maybe()) s.set_threads(static_cast<int32_t>(integer(4)));
  return s;
}

TEST(JobValidationTest, RandomSpecsResolveToTrainableJobsOrAreRefused) {
  absl::BitGen gen(std::seed_seq{20261129});
  JobLimits limits;
  limits.max_job_memory_bytes = int64_t{256} << 20;
  int accepted = 0;
  int created = 0;
  for (int i = 0; i < 20000; ++i) {
    const v1::JobSpec spec = RandomSpec(gen);
    absl::StatusOr<v1::JobSpec> resolved = ResolveJobSpec(spec, limits);
    if (!resolved.ok()) {
      EXPECT_TRUE(
          resolved.status().code() == absl::StatusCode::kInvalidArgument ||
          resolved.status().code() == absl::StatusCode::kResourceExhausted)
          << resolved.status();
      EXPECT_FALSE(resolved.status().message().empty());
      continue;
    }
    ++accepted;
    // Resolving is idempotent, and the trainer accepts the result.
    absl::StatusOr<v1::JobSpec> again = ResolveJobSpec(*resolved, limits);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->SerializeAsString(), resolved->SerializeAsString());
    const TrainerInputs inputs = ToTrainerInputs(*resolved);
    ASSERT_TRUE(inputs.config.Validate().ok()) << resolved->DebugString();
    if (created < 40) {  // building networks is the slow part
      absl::StatusOr<std::unique_ptr<Trainer>> trainer =
          Trainer::Create(inputs.task, inputs.config);
      ASSERT_TRUE(trainer.ok()) << trainer.status() << resolved->DebugString();
      ++created;
    }
  }
  // The generator reaches both outcomes often.
  EXPECT_GT(accepted, 100);
  EXPECT_LT(accepted, 19000);
}

}  // namespace
}  // namespace eprop::server
