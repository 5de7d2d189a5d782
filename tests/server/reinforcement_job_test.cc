// Reinforcement-learning jobs through the service, in process on loopback:
// built-in Breakout games, and remote environments that connect with
// EnvironmentService.ConnectEnvironment while the job runs (finish, cancel,
// restart with reconnect, errors, preprocessed RGB frames).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli/env_command.h"
#include "client/lib/environment_client.h"
#include "core/env/atari_preprocessing.h"
#include "core/env/pong.h"
#include "eprop/v1/environments.grpc.pb.h"
#include "server/job_spec.h"
#include "tests/server/testing/in_process_server.h"

namespace eprop::server {
namespace {

using testing::Context;
using testing::InProcessServer;
using EnvStream =
    grpc::ClientReaderWriter<v1::EnvironmentMessage, v1::AgentMessage>;

constexpr int kCorridor = 4;  // observation: one-hot position

v1::JobSpec RemoteSpec(int64_t max_frames, int64_t report_every) {
  v1::JobSpec spec;
  spec.set_task(v1::TASK_REMOTE_ENVIRONMENT);
  spec.set_threads(1);
  spec.mutable_network()->set_n_lif(8);
  spec.mutable_network()->set_n_alif(8);
  v1::ReinforcementSpec* rl = spec.mutable_reinforcement();
  rl->mutable_observation_spec()->set_kind(v1::OBSERVATION_KIND_FEATURES);
  rl->mutable_observation_spec()->add_shape(kCorridor);
  rl->set_num_actions(2);
  rl->set_num_envs(4);
  rl->set_max_frames(max_frames);
  rl->set_report_every_frames(report_every);
  rl->set_unroll_decisions(5);
  rl->set_max_queueing_delay_ms(5);
  return spec;
}

// Remote Pong: raw RGB frames, 3 actions, the default preprocessing.
v1::JobSpec PongSpec(int64_t max_frames, int64_t report_every) {
  v1::JobSpec spec = RemoteSpec(max_frames, report_every);
  v1::ReinforcementSpec* rl = spec.mutable_reinforcement();
  rl->mutable_observation_spec()->set_kind(v1::OBSERVATION_KIND_RGB_FRAME);
  rl->mutable_observation_spec()->clear_shape();
  for (int d : {env::Pong::kHeight, env::Pong::kWidth, 3}) {
    rl->mutable_observation_spec()->add_shape(d);
  }
  rl->set_num_actions(3);
  rl->set_num_envs(2);
  rl->set_max_queueing_delay_ms(50);
  return spec;
}

v1::JobSpec BreakoutSpec(int64_t max_frames, int64_t report_every) {
  v1::JobSpec spec;
  spec.set_task(v1::TASK_BREAKOUT);
  spec.set_threads(1);
  spec.mutable_network()->set_n_lif(16);
  spec.mutable_network()->set_n_alif(16);
  spec.mutable_reinforcement()->set_num_envs(8);
  spec.mutable_reinforcement()->set_max_frames(max_frames);
  spec.mutable_reinforcement()->set_report_every_frames(report_every);
  return spec;
}

v1::Job Submit(InProcessServer& server, const v1::JobSpec& spec) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  v1::Job job;
  const grpc::Status status =
      server.Stub()->SubmitJob(Context().get(), request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

v1::Job Get(InProcessServer& server, const std::string& id) {
  v1::GetJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  EXPECT_TRUE(server.Stub()->GetJob(Context().get(), request, &job).ok());
  return job;
}

// Polls until `done(job)` or 60 s.
template <typename Done>
v1::Job WaitFor(InProcessServer& server, const std::string& id, Done done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  v1::Job job = Get(server, id);
  while (!done(job) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    job = Get(server, id);
  }
  EXPECT_TRUE(done(job)) << job.DebugString();
  return job;
}

std::vector<v1::IterationMetrics> Metrics(InProcessServer& server,
                                          const std::string& id) {
  v1::GetMetricsRequest request;
  request.set_job_id(id);
  v1::GetMetricsResponse response;
  EXPECT_TRUE(
      server.Stub()->GetMetrics(Context().get(), request, &response).ok());
  return {response.metrics().begin(), response.metrics().end()};
}

v1::EnvironmentMessage Open(const std::string& job_id,
                            const std::string& run_id) {
  v1::EnvironmentMessage message;
  v1::EnvironmentOpen* open = message.mutable_open();
  open->set_job_id(job_id);
  open->set_run_id(run_id);
  open->set_name("corridor");
  open->mutable_observation_spec()->set_kind(v1::OBSERVATION_KIND_FEATURES);
  open->mutable_observation_spec()->add_shape(kCorridor);
  open->set_num_actions(2);
  return message;
}

// A corridor of kCorridor cells: action 1 moves right, 0 left; reaching the
// right end gives reward 1 and ends the episode, the left end ends it with
// 0. Plays until the server ends the stream; returns how it ended (an
// open rejected with UNAVAILABLE counts as UNAVAILABLE).
struct CorridorResult {
  grpc::Status status;
  int64_t actions = 0;
};

CorridorResult PlayCorridor(v1::EnvironmentService::Stub& stub,
                            const std::string& job_id,
                            const std::string& run_id) {
  CorridorResult result;
  auto context = Context("", 120);
  std::unique_ptr<EnvStream> stream = stub.ConnectEnvironment(context.get());
  v1::AgentMessage answer;
  if (!stream->Write(Open(job_id, run_id)) || !stream->Read(&answer)) {
    result.status = stream->Finish();
    return result;
  }
  if (answer.status_code() != 0) {
    stream->WritesDone();
    stream->Finish().ok();
    result.status = grpc::Status(
        static_cast<grpc::StatusCode>(answer.status_code()),
        answer.status_message());
    return result;
  }
  int position = kCorridor / 2;
  float reward = 0.0f;
  bool ended = false;
  for (int64_t seq = 0;; ++seq) {
    v1::EnvironmentMessage message;
    v1::EnvironmentStep* step = message.mutable_step();
    step->set_sequence_number(seq);
    for (int i = 0; i < kCorridor; ++i) step->add_features(i == position);
    step->set_reward(reward);
    step->set_terminated(ended);
    if (!stream->Write(message) || !stream->Read(&answer)) break;
    EXPECT_EQ(answer.status_code(), 0) << answer.status_message();
    EXPECT_EQ(answer.action().sequence_number(), seq);
    ++result.actions;
    position += answer.action().action() == 1 ? 1 : -1;
    reward = position == kCorridor - 1 ? 1.0f : 0.0f;
    ended = position == 0 || position == kCorridor - 1;
    if (ended) position = kCorridor / 2;
  }
  result.status = stream->Finish();
  return result;
}

// PlayCorridor, retried while the job answers UNAVAILABLE (it is queued,
// or registers its hub right after it turns RUNNING).
CorridorResult PlayCorridorOnceRunning(InProcessServer& server,
                                       const std::string& job_id, int env) {
  auto stub = server.EnvironmentStub();
  CorridorResult result;
  do {
    result = PlayCorridor(*stub, job_id, absl::StrCat("run", env));
  } while (result.status.error_code() == grpc::UNAVAILABLE);
  return result;
}

TEST(ReinforcementJobTest, RemoteJobRunsToMaxFramesAndEndsStreamsOk) {
  InProcessServer server;
  // The job looks at its frame count every 50 ms, so a report interval
  // must span more than 50 ms of play for every interval to get its entry.
  const v1::Job job = Submit(server, RemoteSpec(30000, 10000));
  std::vector<CorridorResult> results(2);
  std::vector<std::thread> envs;
  for (int i = 0; i < 2; ++i) {
    envs.emplace_back([&, i] {
      results[i] = PlayCorridorOnceRunning(server, job.job_id(), i);
    });
  }
  for (std::thread& t : envs) t.join();
  const v1::Job done = WaitFor(
      server, job.job_id(), [](const v1::Job& j) { return IsFinal(j.state()); });
  EXPECT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.failure_reason();
  for (const CorridorResult& r : results) {
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_GT(r.actions, 100);
  }
  EXPECT_GE(results[0].actions + results[1].actions, 30000);
  const std::vector<v1::IterationMetrics> metrics =
      Metrics(server, job.job_id());
  ASSERT_GE(metrics.size(), 3u);
  for (size_t i = 1; i < metrics.size(); ++i) {
    EXPECT_GT(metrics[i].frames(), metrics[i - 1].frames());
  }
  EXPECT_GE(metrics.back().frames(), 30000);
  EXPECT_GT(metrics.back().episodes(), 0);
  EXPECT_GT(metrics.back().iteration(), 0);  // weight updates
  EXPECT_EQ(metrics.front().connected_environments(), 2);
  EXPECT_EQ(done.checkpoint_iteration(), metrics.back().iteration());
}

TEST(ReinforcementJobTest, CancelWhileConnectedEndsTheStreamsCancelled) {
  InProcessServer server;
  const v1::Job job = Submit(server, RemoteSpec(1000000000, 500));
  std::vector<CorridorResult> results(2);
  std::vector<std::thread> envs;
  for (int i = 0; i < 2; ++i) {
    envs.emplace_back([&, i] {
      results[i] = PlayCorridorOnceRunning(server, job.job_id(), i);
    });
  }
  WaitFor(server, job.job_id(), [](const v1::Job& j) {
    return j.latest_metrics().connected_environments() == 2;
  });
  v1::CancelJobRequest cancel;
  cancel.set_job_id(job.job_id());
  v1::Job cancelled;
  ASSERT_TRUE(
      server.Stub()->CancelJob(Context().get(), cancel, &cancelled).ok());
  for (std::thread& t : envs) t.join();
  for (const CorridorResult& r : results) {
    EXPECT_EQ(r.status.error_code(), grpc::CANCELLED);
    EXPECT_TRUE(absl::StrContains(r.status.error_message(), "cancelled"))
        << r.status.error_message();
  }
  const v1::Job done = WaitFor(
      server, job.job_id(), [](const v1::Job& j) { return IsFinal(j.state()); });
  EXPECT_EQ(done.state(), v1::JOB_STATE_CANCELLED);
}

TEST(ReinforcementJobTest, RestartResumesAndEnvironmentsReconnect) {
  InProcessServer server;
  const v1::Job job = Submit(server, RemoteSpec(30000, 1000));
  std::atomic<int> port{server.port()};
  std::atomic<int> connections{0};
  std::vector<std::thread> envs;
  for (int i = 0; i < 2; ++i) {
    envs.emplace_back([&, i] {
      for (int attempt = 0; attempt < 2000; ++attempt) {
        auto stub = v1::EnvironmentService::NewStub(
            grpc::CreateChannel(absl::StrCat("127.0.0.1:", port.load()),
                                grpc::InsecureChannelCredentials()));
        const CorridorResult r = PlayCorridor(
            *stub, job.job_id(), absl::StrCat("env", i, "-", attempt));
        if (r.actions > 0) ++connections;
        if (r.status.ok()) return;
        EXPECT_EQ(r.status.error_code(), grpc::UNAVAILABLE)
            << r.status.error_message();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  WaitFor(server, job.job_id(), [](const v1::Job& j) {
    return j.checkpoint_iteration() > 0 && j.latest_metrics().frames() >= 2000;
  });
  server.Restart();
  port = server.port();
  for (std::thread& t : envs) t.join();
  const v1::Job done = WaitFor(
      server, job.job_id(), [](const v1::Job& j) { return IsFinal(j.state()); });
  EXPECT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.failure_reason();
  EXPECT_EQ(done.resume_count(), 1);
  EXPECT_GE(connections.load(), 4);  // both environments, before and after
  const std::vector<v1::IterationMetrics> metrics =
      Metrics(server, job.job_id());
  for (size_t i = 1; i < metrics.size(); ++i) {
    EXPECT_GT(metrics[i].frames(), metrics[i - 1].frames());
    EXPECT_GE(metrics[i].iteration(), metrics[i - 1].iteration());
  }
  EXPECT_GE(metrics.back().frames(), 30000);
}

TEST(ReinforcementJobTest, OpenNamesWhyAJobTakesNoEnvironments) {
  InProcessServer server;
  const v1::Job builtin = Submit(server, BreakoutSpec(8000, 4000));
  auto stub = server.EnvironmentStub();
  const CorridorResult unknown = PlayCorridor(*stub, "job-999999", "a");
  EXPECT_EQ(unknown.status.error_code(), grpc::NOT_FOUND);
  const CorridorResult wrong = PlayCorridor(*stub, builtin.job_id(), "b");
  EXPECT_EQ(wrong.status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(wrong.status.error_message(),
                                "does not take remote environments"))
      << wrong.status.error_message();
}

TEST(ReinforcementJobTest, BuiltinBreakoutRecordsEpisodesAndCheckpoints) {
  InProcessServer server;
  const v1::Job job = Submit(server, BreakoutSpec(40000, 10000));
  const v1::Job done = WaitFor(
      server, job.job_id(), [](const v1::Job& j) { return IsFinal(j.state()); });
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.failure_reason();
  const std::vector<v1::IterationMetrics> metrics =
      Metrics(server, job.job_id());
  ASSERT_EQ(metrics.size(), 4u);
  EXPECT_EQ(metrics.back().frames(), 40000);
  EXPECT_GT(metrics.back().episodes(), 10);
  EXPECT_GT(metrics.back().frames_per_s(), 0.0);
  EXPECT_EQ(done.checkpoint_iteration(), metrics.back().iteration());
  EXPECT_EQ(done.iterations_completed(), metrics.back().iteration());
}

TEST(ReinforcementJobTest, BuiltinJobResumesFromItsCheckpoint) {
  InProcessServer server;
  const v1::Job job = Submit(server, BreakoutSpec(400000, 20000));
  WaitFor(server, job.job_id(),
          [](const v1::Job& j) { return j.checkpoint_iteration() > 0; });
  server.Restart();
  const v1::Job done = WaitFor(
      server, job.job_id(), [](const v1::Job& j) { return IsFinal(j.state()); });
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.failure_reason();
  EXPECT_EQ(done.resume_count(), 1);
  const std::vector<v1::IterationMetrics> metrics =
      Metrics(server, job.job_id());
  ASSERT_FALSE(metrics.empty());
  for (size_t i = 1; i < metrics.size(); ++i) {
    EXPECT_GT(metrics[i].frames(), metrics[i - 1].frames());
    EXPECT_GT(metrics[i].iteration(), metrics[i - 1].iteration());
  }
  EXPECT_EQ(metrics.back().frames(), 400000);
}

TEST(ReinforcementJobTest, InvalidReinforcementSpecsAreRefused) {
  const JobLimits limits;
  auto refused = [&](v1::JobSpec spec, const char* text) {
    absl::StatusOr<v1::JobSpec> r = ResolveJobSpec(spec, limits);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(r.status().message(), text))
        << r.status().message();
  };
  v1::JobSpec spec = RemoteSpec(1000, 100);
  spec.mutable_reinforcement()->clear_observation_spec();
  refused(spec, "observation_spec is required");
  spec = RemoteSpec(1000, 100);
  spec.mutable_reinforcement()->clear_num_actions();
  refused(spec, "num_actions is required");
  spec = RemoteSpec(1000, 100);
  spec.mutable_reinforcement()->set_num_actions(1);
  refused(spec, "reinforcement.num_actions");
  spec = RemoteSpec(1000, 100);
  spec.set_algorithm(v1::ALGORITHM_BPTT);
  refused(spec, "not ALGORITHM_BPTT");
  spec = RemoteSpec(1000, 100);
  spec.mutable_schedule()->set_max_iterations(5);
  refused(spec, "schedule");
  spec = RemoteSpec(1000, 100);
  spec.mutable_reinforcement()->set_source(v1::ENVIRONMENT_SOURCE_BUILTIN);
  refused(spec, "ENVIRONMENT_SOURCE_REMOTE");
  // RGB frames: [height, width, 3], height and width in [screen_size,
  // 1024]; the preprocessing fields only for them.
  spec = RemoteSpec(1000, 100);
  spec.mutable_reinforcement()->mutable_observation_spec()->set_kind(
      v1::OBSERVATION_KIND_RGB_FRAME);
  refused(spec, "must be [height, width, 3]");
  spec = PongSpec(1000, 100);
  spec.mutable_reinforcement()->mutable_observation_spec()->set_shape(2, 4);
  refused(spec, "must be [height, width, 3]");
  spec = PongSpec(1000, 100);
  spec.mutable_reinforcement()->mutable_observation_spec()->set_shape(0, 80);
  refused(spec, "shape[0] (height of an RGB_FRAME) must be in [84, 1024]");
  spec = PongSpec(1000, 100);
  spec.mutable_reinforcement()->mutable_observation_spec()->set_shape(1, 1025);
  refused(spec, "shape[1]");
  spec = PongSpec(1000, 100);
  spec.mutable_reinforcement()->set_screen_size(161);
  refused(spec, "shape[1]");  // wider than the frame
  spec = PongSpec(1000, 100);
  spec.mutable_reinforcement()->set_frame_skip(0);
  refused(spec, "reinforcement.frame_skip");
  spec = PongSpec(1000, 100);
  spec.mutable_reinforcement()->set_noop_max(-1);
  refused(spec, "reinforcement.noop_max");
  spec = PongSpec(1000, 100);
  spec.mutable_reinforcement()->set_sticky_action_probability(1.5);
  refused(spec, "reinforcement.sticky_action_probability");
  spec = PongSpec(1000, 100);
  spec.mutable_reinforcement()->set_screen_size(0);
  refused(spec, "reinforcement.screen_size");
  spec = RemoteSpec(1000, 100);
  spec.mutable_reinforcement()->set_frame_skip(4);
  refused(spec, "only for OBSERVATION_KIND_RGB_FRAME");
  spec = BreakoutSpec(1000, 100);
  spec.mutable_reinforcement()->set_clip_rewards(false);
  refused(spec, "only for OBSERVATION_KIND_RGB_FRAME");
  spec = BreakoutSpec(1000, 100);
  spec.mutable_reinforcement()->set_num_actions(4);
  refused(spec, "TASK_BREAKOUT");
  spec = BreakoutSpec(1000, 100);
  spec.mutable_reinforcement()->set_num_envs(0);
  refused(spec, "reinforcement.num_envs");
  v1::JobSpec supervised;
  supervised.set_task(v1::TASK_EVIDENCE_ACCUMULATION);
  supervised.mutable_reinforcement()->set_max_frames(5);
  refused(supervised, "only for TASK_BREAKOUT");

  absl::StatusOr<v1::JobSpec> resolved =
      ResolveJobSpec(BreakoutSpec(1000, 100), limits);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->algorithm(), v1::ALGORITHM_EPROP_SYMMETRIC);
  EXPECT_EQ(resolved->reinforcement().source(), v1::ENVIRONMENT_SOURCE_BUILTIN);
  EXPECT_EQ(resolved->reinforcement().num_actions(), 3);
  EXPECT_EQ(resolved->reinforcement().observation_spec().shape_size(), 3);
  EXPECT_EQ(ResolveJobSpec(*resolved, limits)->SerializeAsString(),
            resolved->SerializeAsString());
  const AgentConfig agent = ToAgentConfig(*resolved);
  EXPECT_EQ(agent.network.n_in, 400);
  EXPECT_EQ(agent.network.n_out, 4);
  EXPECT_TRUE(agent.Validate().ok());
  EXPECT_FALSE(resolved->reinforcement().has_frame_skip());
  EXPECT_FALSE(ToFramePreprocessing(resolved->reinforcement()).has_value());

  // A Pong job: the ALE defaults, and the network sees 84 x 84.
  resolved = ResolveJobSpec(PongSpec(1000, 100), limits);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  const v1::ReinforcementSpec& rl = resolved->reinforcement();
  EXPECT_EQ(rl.frame_skip(), 4);
  EXPECT_EQ(rl.noop_max(), 30);
  EXPECT_EQ(rl.sticky_action_probability(), 0.25);
  EXPECT_TRUE(rl.clip_rewards());
  EXPECT_EQ(rl.screen_size(), 84);
  EXPECT_EQ(ResolveJobSpec(*resolved, limits)->SerializeAsString(),
            resolved->SerializeAsString());
  EXPECT_EQ(ToAgentConfig(*resolved).network.n_in, 84 * 84);
  EXPECT_TRUE(ToAgentConfig(*resolved).Validate().ok());
  const std::optional<env::PreprocessingOptions> frames =
      ToFramePreprocessing(rl);
  ASSERT_TRUE(frames.has_value());
  EXPECT_EQ(frames->frame_skip, 4);
  EXPECT_EQ(frames->noop_max, 30);
  EXPECT_EQ(frames->sticky_action_probability, 0.25);
  EXPECT_TRUE(frames->clip_rewards);
  EXPECT_EQ(frames->screen_size, 84);
  v1::JobSpec small = PongSpec(1000, 100);
  small.mutable_reinforcement()->set_screen_size(42);
  small.mutable_reinforcement()->set_clip_rewards(false);
  small.mutable_reinforcement()->set_frame_skip(1);
  resolved = ResolveJobSpec(small, limits);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(ToAgentConfig(*resolved).network.n_in, 42 * 42);
  EXPECT_FALSE(resolved->reinforcement().clip_rewards());
  EXPECT_EQ(resolved->reinforcement().frame_skip(), 1);
}

// Two remote Pong games (eprop env run's PongEnvironment with the C++
// runner of client/lib/environment_client.h) stream raw [210, 160, 3]
// frames; the job preprocesses them and runs to max_frames raw frames.
TEST(ReinforcementJobTest, RemotePongStreamsRawFramesToMaxFrames) {
  InProcessServer server;
  constexpr int64_t kFrames = 4000;
  const v1::Job job = Submit(server, PongSpec(kFrames, 2000));
  WaitFor(server, job.job_id(),
          [](const v1::Job& j) { return j.state() == v1::JOB_STATE_RUNNING; });
  std::vector<client::EnvironmentRunResult> results(2);
  std::vector<std::thread> envs;
  for (int i = 0; i < 2; ++i) {
    envs.emplace_back([&, i] {
      client::EnvironmentRunnerOptions options;
      options.target = absl::StrCat("127.0.0.1:", server.port());
      options.job_id = job.job_id();
      options.name = absl::StrCat("pong", i);
      options.initial_backoff = std::chrono::milliseconds(10);
      options.max_backoff = std::chrono::milliseconds(100);
      options.max_retry_time = std::chrono::milliseconds(30000);
      env::PongOptions short_games;
      short_games.points_to_win = 2;
      cli::PongEnvironment pong(100 + i, short_games);
      results[i] = client::RunEnvironment(options, pong, nullptr);
    });
  }
  for (std::thread& t : envs) t.join();
  const v1::Job done = WaitFor(server, job.job_id(), [](const v1::Job& j) {
    return IsFinal(j.state());
  });
  EXPECT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.failure_reason();
  int64_t played = 0;
  for (const client::EnvironmentRunResult& r : results) {
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_TRUE(r.job_ended);
    EXPECT_GT(r.stats.frames, 100);
    played += r.stats.frames;
  }
  EXPECT_GE(played, kFrames);  // raw frames, each one step
  const std::vector<v1::IterationMetrics> metrics =
      Metrics(server, job.job_id());
  ASSERT_GE(metrics.size(), 2u);
  EXPECT_GE(metrics.back().frames(), kFrames);
  EXPECT_GT(metrics.back().episodes(), 0);
  EXPECT_GT(metrics.back().iteration(), 0);  // weight updates
  EXPECT_EQ(done.checkpoint_iteration(), metrics.back().iteration());
}

}  // namespace
}  // namespace eprop::server
