// The environment runner (client/lib/environment_client.h) and `eprop env
// run` against a scripted in-process EnvironmentService on loopback: the
// protocol (open, sequence numbers, the previous action's outcome, resets),
// observation encodings, reconnecting, the job's end, per-message errors,
// the frame budget, the stop flag and the bearer token.
#include "client/lib/environment_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli/env_command.h"
#include "core/env/breakout.h"
#include "core/env/pong.h"
#include "eprop/v1/environments.grpc.pb.h"

namespace eprop::client {
namespace {

using std::chrono::milliseconds;

// What the fake service does; every field's default is "never".
struct Script {
  // Streams [0, fail_streams) end with fail_status when step number
  // fail_after_steps (counted from 0 per stream) arrives, unanswered.
  int fail_streams = 0;
  int fail_after_steps = -1;
  grpc::Status fail_status;
  // Answers step number error_at_step of every stream with error_code.
  int error_at_step = -1;
  absl::StatusCode error_code = absl::StatusCode::kInvalidArgument;
  // Answers the first reject_opens opens with UNAVAILABLE, and the opens
  // from number open_error_from on (counted from 0) with open_error_code.
  int reject_opens = 0;
  int open_error_from = -1;
  grpc::StatusCode open_error_code = grpc::StatusCode::FAILED_PRECONDITION;
  // Does not answer step number hold_at_step of stream hold_stream (waits
  // until the call is cancelled, at most 10 s).
  int hold_stream = -1;
  int hold_at_step = -1;
};

// One stream as the fake service saw it.
struct StreamRecord {
  std::string authorization;  // the metadata, "" if absent
  std::vector<v1::EnvironmentMessage> messages;
  bool half_closed = false;  // the client half-closed it (Read failed)
  std::vector<v1::EnvironmentStep> steps() const {
    std::vector<v1::EnvironmentStep> out;
    for (const v1::EnvironmentMessage& m : messages) {
      if (m.has_step()) out.push_back(m.step());
    }
    return out;
  }
};

class FakeEnvironmentService final : public v1::EnvironmentService::Service {
 public:
  explicit FakeEnvironmentService(Script script) : script_(script) {}

  grpc::Status ConnectEnvironment(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::AgentMessage, v1::EnvironmentMessage>*
          stream) override {
    int index = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      index = static_cast<int>(streams_.size());
      StreamRecord record;
      const auto& metadata = context->client_metadata();
      auto it = metadata.find("authorization");
      if (it != metadata.end()) {
        record.authorization.assign(it->second.data(), it->second.size());
      }
      streams_.push_back(record);
    }
    v1::EnvironmentMessage message;
    int num_actions = 1;
    int steps = 0;
    while (stream->Read(&message)) {
      Record(index, message);
      v1::AgentMessage answer;
      if (message.has_open()) {
        num_actions = std::max(1, message.open().num_actions());
        const int open = opens_.fetch_add(1);
        if (open < script_.reject_opens) {
          answer.set_status_code(grpc::StatusCode::UNAVAILABLE);
          answer.set_status_message("job does not accept environments now");
        } else if (script_.open_error_from >= 0 &&
                   open >= script_.open_error_from) {
          answer.set_status_code(script_.open_error_code);
          answer.set_status_message("scripted open error");
        } else {
          answer.mutable_accepted()->set_job_id(message.open().job_id());
          answer.mutable_accepted()->set_slot(index);
        }
      } else {
        const int64_t sequence = message.step().sequence_number();
        if (index < script_.fail_streams && steps == script_.fail_after_steps) {
          return script_.fail_status;
        }
        if (index == script_.hold_stream && steps == script_.hold_at_step) {
          const auto until =
              std::chrono::steady_clock::now() + milliseconds(10000);
          while (!context->IsCancelled() &&
                 std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(milliseconds(5));
          }
          return grpc::Status(grpc::StatusCode::CANCELLED, "held");
        }
        if (steps == script_.error_at_step) {
          answer.set_status_code(static_cast<int>(script_.error_code));
          answer.set_status_message("scripted error");
        } else {
          answer.mutable_action()->set_sequence_number(sequence);
          answer.mutable_action()->set_action(
              static_cast<int>(sequence % num_actions));
        }
        ++steps;
      }
      if (!stream->Write(answer)) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    streams_[index].half_closed = true;
    return grpc::Status::OK;
  }

  std::vector<StreamRecord> streams() const {
    std::lock_guard<std::mutex> lock(mu_);
    return streams_;
  }

 private:
  void Record(int index, const v1::EnvironmentMessage& message) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_[index].messages.push_back(message);
  }

  const Script script_;
  std::atomic<int> opens_{0};
  mutable std::mutex mu_;
  std::vector<StreamRecord> streams_;
};

class FakeServer {
 public:
  explicit FakeServer(Script script = {}, int port = 0) : service_(script) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_GT(port_, 0);
  }
  ~FakeServer() { Shutdown(); }

  void Shutdown() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() + milliseconds(200));
    server_->Wait();
    server_.reset();
  }

  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }
  FakeEnvironmentService& service() { return service_; }

 private:
  FakeEnvironmentService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// Features [episode, t]: t counts the episode's steps. The reward of an
// action is 10 * action + t (after the step); an episode terminates at
// t = 4, or is truncated at t = 3 when the episode number is a multiple of
// 3. Episodes are numbered from 1 (the first Reset).
class CountingEnvironment : public Environment {
 public:
  static constexpr int kActions = 3;

  v1::ObservationSpec spec() const override {
    v1::ObservationSpec spec;
    spec.set_kind(v1::OBSERVATION_KIND_FEATURES);
    spec.add_shape(2);
    return spec;
  }
  int num_actions() const override { return kActions; }
  void Reset(Observation* observation) override {
    ++episode_;
    t_ = 0;
    ++resets_;
    observation->features = {static_cast<float>(episode_), 0.0f};
  }
  StepResult Step(int action, Observation* observation) override {
    ++t_;
    StepResult r;
    r.reward = static_cast<float>(10 * action + t_);
    r.truncated = episode_ % 3 == 0 && t_ == 3;
    r.terminated = !r.truncated && t_ == 4;
    observation->features = {static_cast<float>(episode_),
                             static_cast<float>(t_)};
    return r;
  }
  int resets() const { return resets_; }

 private:
  int episode_ = 0;
  int t_ = 0;
  int resets_ = 0;
};

// Checks one stream's steps against CountingEnvironment's rules, the
// actions the fake service chose (sequence % 3), and that the stream
// starts a fresh episode with no outcome.
void ExpectCountingProtocol(const std::vector<v1::EnvironmentStep>& steps) {
  for (size_t k = 0; k < steps.size(); ++k) {
    const v1::EnvironmentStep& s = steps[k];
    SCOPED_TRACE(absl::StrCat("step ", k));
    ASSERT_EQ(s.sequence_number(), static_cast<int64_t>(k));
    ASSERT_EQ(s.features_size(), 2);
    EXPECT_TRUE(s.observation().empty());
    if (k == 0) {
      EXPECT_EQ(s.features(1), 0.0f);  // a fresh episode
      EXPECT_EQ(s.reward(), 0.0f);     // no stale outcome
      EXPECT_FALSE(s.terminated());
      EXPECT_FALSE(s.truncated());
      continue;
    }
    const v1::EnvironmentStep& p = steps[k - 1];
    const int episode = static_cast<int>(p.features(0));
    const int t = static_cast<int>(p.features(1)) + 1;
    const int action =
        static_cast<int>((k - 1) % CountingEnvironment::kActions);
    const bool truncated = episode % 3 == 0 && t == 3;
    const bool terminated = !truncated && t == 4;
    EXPECT_EQ(s.reward(), static_cast<float>(10 * action + t));
    EXPECT_EQ(s.terminated(), terminated);
    EXPECT_EQ(s.truncated(), truncated);
    if (terminated || truncated) {
      EXPECT_EQ(s.features(0), episode + 1);  // the next episode's start
      EXPECT_EQ(s.features(1), 0.0f);
    } else {
      EXPECT_EQ(s.features(0), episode);
      EXPECT_EQ(s.features(1), t);
    }
  }
}

const v1::EnvironmentOpen& OpenOf(const StreamRecord& stream) {
  EXPECT_FALSE(stream.messages.empty());
  EXPECT_TRUE(stream.messages.front().has_open());
  return stream.messages.front().open();
}

EnvironmentRunnerOptions Options(const FakeServer& server) {
  EnvironmentRunnerOptions options;
  options.target = server.target();
  options.job_id = "job-1";
  options.name = "test-env";
  options.initial_backoff = milliseconds(10);
  options.max_backoff = milliseconds(40);
  options.step_timeout = milliseconds(10000);
  options.close_timeout = milliseconds(2000);
  return options;
}

// RunEnvironment on a thread with a deadline: after `limit` the stop flag
// is set and the test fails.
struct RunRecord {
  EnvironmentRunResult result;
  std::vector<EnvironmentEvent> events;
  int Count(EnvironmentEvent::Kind kind) const {
    int n = 0;
    for (const EnvironmentEvent& e : events) n += e.kind == kind;
    return n;
  }
};

RunRecord RunWithDeadline(
    const EnvironmentRunnerOptions& options, Environment& environment,
    std::atomic<bool>* stop,
    std::function<void(const EnvironmentEvent&)> also = {},
    milliseconds limit = milliseconds(20000)) {
  RunRecord run;
  std::atomic<bool> own_stop{false};
  if (stop == nullptr) stop = &own_stop;
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  std::thread thread([&] {
    run.result = RunEnvironment(options, environment, stop,
                                [&](const EnvironmentEvent& event) {
                                  run.events.push_back(event);
                                  if (also) also(event);
                                });
    done.set_value();
  });
  if (finished.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << "RunEnvironment did not return within " << limit.count()
                  << " ms; stopping it";
    *stop = true;
  }
  thread.join();
  return run;
}

bool IsHexRunId(const std::string& id) {
  if (id.size() != 16) return false;
  for (const char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(EnvironmentRunnerTest, OpensThenStepsWithThePreviousActionsOutcome) {
  FakeServer server;
  CountingEnvironment environment;
  EnvironmentRunnerOptions options = Options(server);
  options.max_frames = 40;
  const RunRecord run = RunWithDeadline(options, environment, nullptr);
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  EXPECT_FALSE(run.result.job_ended);
  const EnvironmentRunStats& stats = run.result.stats;
  EXPECT_EQ(stats.frames, 40);
  EXPECT_EQ(stats.connects, 1);
  EXPECT_EQ(stats.reconnects, 0);
  EXPECT_EQ(stats.opens, 1);
  EXPECT_EQ(stats.latency.count(), 40);
  EXPECT_GT(stats.latency.Quantile(0.5).count(), 0);
  EXPECT_LE(stats.latency.Quantile(0.5), stats.latency.max());

  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 1u);
  const v1::EnvironmentOpen& open = OpenOf(streams[0]);
  EXPECT_EQ(open.job_id(), "job-1");
  EXPECT_EQ(open.name(), "test-env");
  EXPECT_TRUE(IsHexRunId(open.run_id())) << open.run_id();
  EXPECT_EQ(open.run_id(), stats.last_run_id);
  EXPECT_EQ(open.num_actions(), 3);
  EXPECT_EQ(open.observation_spec().kind(), v1::OBSERVATION_KIND_FEATURES);
  // The budget: 40 actions executed, so 40 steps sent (the outcome of the
  // last action is never sent), then a clean half-close.
  const std::vector<v1::EnvironmentStep> steps = streams[0].steps();
  EXPECT_EQ(steps.size(), 40u);
  EXPECT_EQ(streams[0].messages.size(), 41u);
  EXPECT_TRUE(streams[0].half_closed);
  EXPECT_TRUE(streams[0].authorization.empty());
  ExpectCountingProtocol(steps);

  // Episodes: lengths 4, 4, 3 (truncated), 4, 4, 3, ... within 40 frames.
  int64_t episodes = 0;
  double return_sum = 0.0;
  for (const EnvironmentEvent& e : run.events) {
    if (e.kind != EnvironmentEvent::Kind::kEpisodeEnd) continue;
    ++episodes;
    return_sum += e.episode_return;
    EXPECT_EQ(e.episode_frames, e.truncated ? 3 : 4);
  }
  EXPECT_EQ(episodes, stats.episodes);
  EXPECT_EQ(stats.episodes, 10);  // 3 cycles of 11 frames, then 4 + 3
  EXPECT_DOUBLE_EQ(return_sum, stats.return_sum);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kStep), 40);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kOpened), 1);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kClosed), 1);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kRetry), 0);
}

TEST(EnvironmentRunnerTest, SendsTheBearerToken) {
  FakeServer server;
  CountingEnvironment environment;
  EnvironmentRunnerOptions options = Options(server);
  options.max_frames = 2;
  options.token = "s3cret-token";
  const RunRecord run = RunWithDeadline(options, environment, nullptr);
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].authorization, "Bearer s3cret-token");
}

TEST(EnvironmentRunnerTest, ReconnectsWithANewRunIdAfterUnavailable) {
  Script script;
  script.fail_streams = 2;
  script.fail_after_steps = 3;
  script.fail_status =
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is restarting");
  FakeServer server(script);
  CountingEnvironment environment;
  EnvironmentRunnerOptions options = Options(server);
  options.max_frames = 20;
  const RunRecord run = RunWithDeadline(options, environment, nullptr);
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  const EnvironmentRunStats& stats = run.result.stats;
  EXPECT_EQ(stats.frames, 20);  // 3 + 3 + 14
  EXPECT_EQ(stats.connects, 3);
  EXPECT_EQ(stats.reconnects, 2);
  EXPECT_EQ(stats.opens, 3);
  // Every stream starts afresh, and every finished episode is reset.
  EXPECT_EQ(environment.resets(), 3 + stats.episodes);

  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 3u);
  std::set<std::string> run_ids;
  for (const StreamRecord& stream : streams) {
    run_ids.insert(OpenOf(stream).run_id());
    ExpectCountingProtocol(stream.steps());
  }
  EXPECT_EQ(run_ids.size(), 3u);
  // The failed streams got 4 steps (the 4th unanswered), the last 14.
  EXPECT_EQ(streams[0].steps().size(), 4u);
  EXPECT_EQ(streams[1].steps().size(), 4u);
  EXPECT_EQ(streams[2].steps().size(), 14u);
  EXPECT_TRUE(streams[2].half_closed);

  ASSERT_EQ(run.Count(EnvironmentEvent::Kind::kRetry), 2);
  for (const EnvironmentEvent& e : run.events) {
    if (e.kind != EnvironmentEvent::Kind::kRetry) continue;
    EXPECT_EQ(e.status.code(), absl::StatusCode::kUnavailable);
    EXPECT_LE(e.retry_after, milliseconds(40));
  }
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kOpened), 3);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kClosed), 3);
}

TEST(EnvironmentRunnerTest, RetriesAnOpenAnsweredUnavailable) {
  Script script;
  script.reject_opens = 2;
  FakeServer server(script);
  CountingEnvironment environment;
  EnvironmentRunnerOptions options = Options(server);
  options.max_frames = 5;
  const RunRecord run = RunWithDeadline(options, environment, nullptr);
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  EXPECT_EQ(run.result.stats.frames, 5);
  EXPECT_EQ(run.result.stats.message_errors, 2);
  EXPECT_EQ(run.result.stats.opens, 1);
  EXPECT_EQ(run.result.stats.reconnects, 2);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kMessageError), 2);
  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 3u);
  EXPECT_TRUE(streams[0].half_closed);  // closed cleanly before retrying
  EXPECT_EQ(streams[0].messages.size(), 1u);
  EXPECT_EQ(streams[2].steps().size(), 5u);
}

TEST(EnvironmentRunnerTest, StopsWhenTheJobIsCancelled) {
  Script script;
  script.fail_streams = 1000;
  script.fail_after_steps = 2;
  script.fail_status =
      grpc::Status(grpc::StatusCode::CANCELLED, "the job was cancelled");
  FakeServer server(script);
  CountingEnvironment environment;
  const RunRecord run = RunWithDeadline(Options(server), environment, nullptr);
  EXPECT_EQ(run.result.status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(run.result.status.message(), "the job was cancelled");
  EXPECT_TRUE(run.result.job_ended);
  EXPECT_TRUE(IsJobEnd(run.result.status));
  EXPECT_EQ(run.result.stats.frames, 2);
  EXPECT_EQ(run.result.stats.connects, 1);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kRetry), 0);
  EXPECT_EQ(server.service().streams().size(), 1u);
}

TEST(EnvironmentRunnerTest, StopsWhenTheJobHasFinishedOrIsUnknown) {
  for (const grpc::StatusCode code :
       {grpc::StatusCode::FAILED_PRECONDITION, grpc::StatusCode::NOT_FOUND}) {
    Script script;
    script.fail_streams = 1000;
    script.fail_after_steps = 0;
    script.fail_status = grpc::Status(code, "job over");
    FakeServer server(script);
    CountingEnvironment environment;
    const RunRecord run =
        RunWithDeadline(Options(server), environment, nullptr);
    EXPECT_EQ(static_cast<int>(run.result.status.code()),
              static_cast<int>(code));
    EXPECT_TRUE(run.result.job_ended);
    EXPECT_EQ(run.result.stats.frames, 0);
    EXPECT_EQ(run.result.stats.connects, 1);
  }
}

TEST(EnvironmentRunnerTest, APerMessageErrorEndsTheRun) {
  Script script;
  script.error_at_step = 2;
  script.error_code = absl::StatusCode::kInvalidArgument;
  FakeServer server(script);
  CountingEnvironment environment;
  const RunRecord run = RunWithDeadline(Options(server), environment, nullptr);
  EXPECT_EQ(run.result.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(run.result.status.message(), "scripted error");
  EXPECT_FALSE(run.result.job_ended);
  EXPECT_EQ(run.result.stats.frames, 2);
  EXPECT_EQ(run.result.stats.message_errors, 1);
  ASSERT_EQ(run.Count(EnvironmentEvent::Kind::kMessageError), 1);
  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_TRUE(streams[0].half_closed);
}

TEST(EnvironmentRunnerTest, AStreamEndedOkByTheServerIsTheJobsCompletion) {
  Script script;
  script.fail_streams = 1000;
  script.fail_after_steps = 4;
  script.fail_status = grpc::Status::OK;
  FakeServer server(script);
  CountingEnvironment environment;
  const RunRecord run = RunWithDeadline(Options(server), environment, nullptr);
  EXPECT_TRUE(run.result.status.ok()) << run.result.status;
  EXPECT_TRUE(run.result.job_ended);
  EXPECT_EQ(run.result.stats.frames, 4);
  EXPECT_EQ(run.result.stats.connects, 1);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kRetry), 0);
}

TEST(EnvironmentRunnerTest, AbortedMeansConnectAgain) {
  Script script;
  script.fail_streams = 1;
  script.fail_after_steps = 1;
  script.fail_status =
      grpc::Status(grpc::StatusCode::ABORTED, "hub replaced; connect again");
  FakeServer server(script);
  CountingEnvironment environment;
  EnvironmentRunnerOptions options = Options(server);
  options.max_frames = 5;
  const RunRecord run = RunWithDeadline(options, environment, nullptr);
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  EXPECT_FALSE(run.result.job_ended);
  EXPECT_EQ(run.result.stats.frames, 5);  // 1, then 4 after reconnecting
  EXPECT_EQ(run.result.stats.reconnects, 1);
  EXPECT_EQ(server.service().streams().size(), 2u);
}

TEST(EnvironmentRunnerTest, AFirstOpenRefusedAsFinishedIsAnError) {
  Script script;
  script.open_error_from = 0;
  script.open_error_code = grpc::StatusCode::FAILED_PRECONDITION;
  FakeServer server(script);
  CountingEnvironment environment;
  const RunRecord run = RunWithDeadline(Options(server), environment, nullptr);
  EXPECT_EQ(run.result.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(run.result.status.message(), "scripted open error");
  EXPECT_FALSE(run.result.job_ended);  // e.g. a spec the job does not take
  EXPECT_EQ(run.result.stats.opens, 0);
  EXPECT_EQ(run.result.stats.message_errors, 1);
}

TEST(EnvironmentRunnerTest, AReOpenRefusedAsFinishedIsTheJobsEnd) {
  // The server goes away after 2 steps; when the runner is back the job
  // has finished meanwhile.
  for (const grpc::StatusCode code :
       {grpc::StatusCode::FAILED_PRECONDITION, grpc::StatusCode::NOT_FOUND}) {
    Script script;
    script.fail_streams = 1;
    script.fail_after_steps = 2;
    script.fail_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "restart");
    script.open_error_from = 1;
    script.open_error_code = code;
    FakeServer server(script);
    CountingEnvironment environment;
    const RunRecord run =
        RunWithDeadline(Options(server), environment, nullptr);
    EXPECT_EQ(static_cast<int>(run.result.status.code()),
              static_cast<int>(code));
    EXPECT_TRUE(run.result.job_ended);
    EXPECT_EQ(run.result.stats.frames, 2);
    EXPECT_EQ(run.result.stats.opens, 1);
    EXPECT_EQ(server.service().streams().size(), 2u);
  }
}

TEST(EnvironmentRunnerTest, TheStopFlagEndsTheRunCleanly) {
  FakeServer server;
  CountingEnvironment environment;
  std::atomic<bool> stop{false};
  const RunRecord run = RunWithDeadline(
      Options(server), environment, &stop, [&stop](const EnvironmentEvent& e) {
        if (e.kind == EnvironmentEvent::Kind::kStep && e.frames == 7) {
          stop = true;
        }
      });
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  EXPECT_EQ(run.result.stats.frames, 7);
  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].steps().size(), 7u);
  EXPECT_TRUE(streams[0].half_closed);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kClosed), 1);
}

TEST(EnvironmentRunnerTest, TheStopFlagInterruptsAWaitForAnAction) {
  Script script;
  script.hold_stream = 0;
  script.hold_at_step = 3;
  FakeServer server(script);
  CountingEnvironment environment;
  std::atomic<bool> stop{false};
  EnvironmentRunnerOptions options = Options(server);
  options.close_timeout = milliseconds(100);
  // Sets the stop flag 100 ms after the 3rd action, while the runner waits
  // for the 4th, which the server holds back.
  std::thread stopper;
  const auto start = std::chrono::steady_clock::now();
  const RunRecord run = RunWithDeadline(
      options, environment, &stop, [&](const EnvironmentEvent& e) {
        if (e.kind != EnvironmentEvent::Kind::kStep || e.frames != 3) return;
        stopper = std::thread([&stop] {
          std::this_thread::sleep_for(milliseconds(100));
          stop = true;
        });
      });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (stopper.joinable()) stopper.join();
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  EXPECT_EQ(run.result.stats.frames, 3);
  // The held step was sent; the runner half-closed, waited close_timeout
  // and cancelled, well before the server's 10 s hold ends.
  EXPECT_EQ(server.service().streams().at(0).steps().size(), 4u);
  EXPECT_LT(elapsed, milliseconds(5000));
}

TEST(EnvironmentRunnerTest, ASilentServerIsRetriedAfterTheStepTimeout) {
  Script script;
  script.hold_stream = 0;
  script.hold_at_step = 2;
  FakeServer server(script);
  CountingEnvironment environment;
  EnvironmentRunnerOptions options = Options(server);
  options.step_timeout = milliseconds(200);
  options.max_frames = 6;
  const RunRecord run = RunWithDeadline(options, environment, nullptr);
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  EXPECT_EQ(run.result.stats.frames, 6);
  EXPECT_EQ(run.result.stats.reconnects, 1);
  ASSERT_EQ(run.Count(EnvironmentEvent::Kind::kRetry), 1);
  for (const EnvironmentEvent& e : run.events) {
    if (e.kind == EnvironmentEvent::Kind::kRetry) {
      EXPECT_EQ(e.status.code(), absl::StatusCode::kDeadlineExceeded);
    }
  }
  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[1].steps().size(), 4u);
}

// A port that nothing listens on (a server's, after it shut down).
int FreePort() {
  FakeServer server;
  return server.port();
}

TEST(EnvironmentRunnerTest, GivesUpAfterMaxRetryTime) {
  CountingEnvironment environment;
  EnvironmentRunnerOptions options;
  options.target = absl::StrCat("127.0.0.1:", FreePort());
  options.job_id = "job-1";
  options.initial_backoff = milliseconds(10);
  options.max_backoff = milliseconds(50);
  options.max_retry_time = milliseconds(300);
  const RunRecord run = RunWithDeadline(options, environment, nullptr);
  EXPECT_EQ(run.result.status.code(), absl::StatusCode::kUnavailable)
      << run.result.status;
  EXPECT_FALSE(run.result.job_ended);
  EXPECT_GE(run.result.stats.connects, 2);
  EXPECT_EQ(run.result.stats.opens, 0);
  EXPECT_EQ(run.Count(EnvironmentEvent::Kind::kOpened), 0);
}

TEST(EnvironmentRunnerTest, WaitsForTheServerAndSurvivesItsRestart) {
  const int port = FreePort();
  CountingEnvironment environment;
  EnvironmentRunnerOptions options;
  options.target = absl::StrCat("127.0.0.1:", port);
  options.job_id = "job-1";
  options.initial_backoff = milliseconds(10);
  options.max_backoff = milliseconds(100);
  options.step_timeout = milliseconds(5000);
  options.max_frames = 3000;
  std::mutex mu;
  std::condition_variable cv;
  int64_t frames = 0;
  std::atomic<bool> stop{false};
  std::promise<RunRecord> promise;
  std::future<RunRecord> future = promise.get_future();
  std::thread runner([&] {
    promise.set_value(RunWithDeadline(
        options, environment, &stop, [&](const EnvironmentEvent& e) {
          if (e.kind != EnvironmentEvent::Kind::kStep) return;
          {
            std::lock_guard<std::mutex> lock(mu);
            frames = e.frames;
          }
          cv.notify_all();
        }));
  });
  const auto wait_for_frames = [&](int64_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10),
                       [&] { return frames >= n; });
  };
  // Nothing listens yet: the runner keeps retrying.
  std::this_thread::sleep_for(milliseconds(200));
  {
    FakeServer first({}, port);
    EXPECT_TRUE(wait_for_frames(50));
  }  // shut down: the stream fails
  std::this_thread::sleep_for(milliseconds(100));
  FakeServer second({}, port);
  EXPECT_TRUE(wait_for_frames(3000));
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    stop = true;
  }
  runner.join();
  const RunRecord run = future.get();
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  EXPECT_EQ(run.result.stats.frames, 3000);
  EXPECT_GE(run.result.stats.opens, 2);
  EXPECT_GE(run.Count(EnvironmentEvent::Kind::kRetry), 2);
  const std::vector<StreamRecord> streams = second.service().streams();
  ASSERT_GE(streams.size(), 1u);
  ExpectCountingProtocol(streams.back().steps());
}

TEST(EnvironmentRunnerTest, RejectsBadOptionsAndObservations) {
  FakeServer server;
  CountingEnvironment environment;
  EnvironmentRunnerOptions options = Options(server);
  options.job_id.clear();
  EXPECT_EQ(RunWithDeadline(options, environment, nullptr).result.status.code(),
            absl::StatusCode::kInvalidArgument);
  options = Options(server);
  options.max_backoff = milliseconds(1);
  EXPECT_EQ(RunWithDeadline(options, environment, nullptr).result.status.code(),
            absl::StatusCode::kInvalidArgument);

  // An environment whose observations do not fit its spec.
  class WrongSize : public CountingEnvironment {
   public:
    void Reset(Observation* observation) override {
      CountingEnvironment::Reset(observation);
      observation->features.push_back(1.0f);
    }
  } wrong;
  const RunRecord run = RunWithDeadline(Options(server), wrong, nullptr);
  EXPECT_EQ(run.result.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.service().streams().size(), 0u);
}

TEST(LatencyHistogramTest, QuantilesWithinTheBucketResolution) {
  LatencyHistogram h;
  EXPECT_EQ(h.Quantile(0.5).count(), 0);
  for (int i = 1; i <= 1000; ++i) h.Add(std::chrono::microseconds(i));
  EXPECT_EQ(h.count(), 1000);
  EXPECT_EQ(h.min(), std::chrono::microseconds(1));
  EXPECT_EQ(h.max(), std::chrono::microseconds(1000));
  EXPECT_NEAR(h.mean().count(), 500500.0, 1.0);
  EXPECT_NEAR(h.Quantile(0.5).count(), 500e3, 500e3 * 0.05);
  EXPECT_NEAR(h.Quantile(0.99).count(), 990e3, 990e3 * 0.05);
  EXPECT_EQ(h.Quantile(1.0), h.max());
  LatencyHistogram other;
  other.Add(std::chrono::seconds(2));
  h.Merge(other);
  EXPECT_EQ(h.count(), 1001);
  EXPECT_EQ(h.max(), std::chrono::seconds(2));
}

// Packs 0/1 values the way environments.proto defines SPIKES.
std::string PackReference(const uint8_t* values, int n) {
  std::string bytes((n + 7) / 8, '\0');
  for (int i = 0; i < n; ++i) {
    if (values[i] != 0)
      bytes[i / 8] = static_cast<char>(bytes[i / 8] | (1 << (i % 8)));
  }
  return bytes;
}

TEST(GameEnvironmentTest, BreakoutSendsBitPackedObservations) {
  FakeServer server;
  constexpr uint64_t kSeed = 17;
  cli::BreakoutEnvironment environment(kSeed);
  EnvironmentRunnerOptions options = Options(server);
  options.max_frames = 300;
  const RunRecord run = RunWithDeadline(options, environment, nullptr);
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 1u);
  const v1::EnvironmentOpen& open = OpenOf(streams[0]);
  EXPECT_EQ(open.num_actions(), 3);
  EXPECT_EQ(open.observation_spec().kind(), v1::OBSERVATION_KIND_SPIKES);
  EXPECT_EQ(std::vector<int>(open.observation_spec().shape().begin(),
                             open.observation_spec().shape().end()),
            (std::vector<int>{10, 10, 4}));

  // The same game played with the same actions, packed by hand.
  env::Breakout reference(kSeed);
  reference.Reset();
  std::array<uint8_t, env::Breakout::kObservationSize> values{};
  const std::vector<v1::EnvironmentStep> steps = streams[0].steps();
  ASSERT_EQ(steps.size(), 300u);
  env::Breakout::StepResult outcome;
  int episodes = 0;
  for (size_t k = 0; k < steps.size(); ++k) {
    SCOPED_TRACE(absl::StrCat("step ", k));
    reference.Observe(values.data());
    ASSERT_EQ(steps[k].observation(),
              PackReference(values.data(), env::Breakout::kObservationSize));
    EXPECT_EQ(steps[k].observation().size(), 50u);
    EXPECT_TRUE(steps[k].features().empty());
    EXPECT_EQ(steps[k].reward(), outcome.reward);
    EXPECT_EQ(steps[k].terminated(), outcome.terminated);
    EXPECT_EQ(steps[k].truncated(), outcome.truncated);
    outcome = reference.Step(static_cast<int>(k % 3));
    if (outcome.terminated || outcome.truncated) {
      reference.Reset();
      ++episodes;
    }
  }
  EXPECT_GT(episodes, 0);  // the comparison crossed episode boundaries
  EXPECT_EQ(run.result.stats.episodes, episodes);
}

TEST(GameEnvironmentTest, PongSendsRawRgbFrames) {
  FakeServer server;
  cli::PongEnvironment environment(5);
  EnvironmentRunnerOptions options = Options(server);
  options.max_frames = 20;
  const RunRecord run = RunWithDeadline(options, environment, nullptr);
  ASSERT_TRUE(run.result.status.ok()) << run.result.status;
  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 1u);
  const v1::EnvironmentOpen& open = OpenOf(streams[0]);
  EXPECT_EQ(open.observation_spec().kind(), v1::OBSERVATION_KIND_RGB_FRAME);
  EXPECT_EQ(std::vector<int>(open.observation_spec().shape().begin(),
                             open.observation_spec().shape().end()),
            (std::vector<int>{210, 160, 3}));
  EXPECT_EQ(open.num_actions(), env::Pong::kNumActions);
  env::Pong reference(5);
  reference.Reset();
  const std::vector<v1::EnvironmentStep> steps = streams[0].steps();
  ASSERT_EQ(steps.size(), 20u);
  for (size_t k = 0; k < steps.size(); ++k) {
    const std::vector<uint8_t>& frame = reference.frame();
    ASSERT_EQ(steps[k].observation(), std::string(frame.begin(), frame.end()))
        << k;
    reference.Step(static_cast<int>(k % env::Pong::kNumActions));
  }
}

TEST(EnvCommandTest, HelpAndUsageErrors) {
  cli::GlobalOptions global;
  global.server = "127.0.0.1:1";
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  EXPECT_EQ(cli::RunEnvCommand(global, {"--help"}), 0);
  EXPECT_EQ(cli::RunEnvCommand(global, {"run", "--help"}), 0);
  EXPECT_EQ(cli::RunEnvCommand(global, {}), 2);
  EXPECT_EQ(cli::RunEnvCommand(global, {"walk"}), 2);
  EXPECT_EQ(cli::RunEnvCommand(global, {"run", "--job", "j"}), 2);
  EXPECT_EQ(
      cli::RunEnvCommand(global, {"run", "--game", "chess", "--job", "j"}), 2);
  EXPECT_EQ(cli::RunEnvCommand(global, {"run", "--game", "pong"}), 2);
  EXPECT_EQ(cli::RunEnvCommand(global, {"run", "--game", "pong", "--job", "j",
                                        "--count", "257"}),
            2);
  EXPECT_EQ(cli::RunEnvCommand(global, {"run", "--game", "pong", "--job", "j",
                                        "--no-such-flag"}),
            2);
  const std::string out = testing::internal::GetCapturedStdout();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("env run --game=breakout|pong --job=ID"),
            std::string::npos);
  EXPECT_NE(out.find("--frames"), std::string::npos);
  EXPECT_NE(err.find("missing --game"), std::string::npos);
}

TEST(EnvCommandTest, RunsEnvironmentsToTheirFrameBudget) {
  FakeServer server;
  cli::GlobalOptions global;
  global.server = server.target();
  global.timeout_s = 10;
  testing::internal::CaptureStdout();
  const int code = cli::RunEnvCommand(
      global, {"run", "--game", "breakout", "--job", "job-7", "--count", "3",
               "--frames", "50", "--name", "box", "--progress-every-s", "0.1"});
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("finished after 150 frames"), std::string::npos) << out;
  const std::vector<StreamRecord> streams = server.service().streams();
  ASSERT_EQ(streams.size(), 3u);
  std::set<std::string> names, run_ids;
  for (const StreamRecord& stream : streams) {
    const v1::EnvironmentOpen& open = OpenOf(stream);
    EXPECT_EQ(open.job_id(), "job-7");
    names.insert(open.name());
    run_ids.insert(open.run_id());
    EXPECT_EQ(stream.steps().size(), 50u);
    EXPECT_TRUE(stream.half_closed);
  }
  EXPECT_EQ(names, (std::set<std::string>{"box-0", "box-1", "box-2"}));
  EXPECT_EQ(run_ids.size(), 3u);
}

TEST(EnvCommandTest, TheJobsEndIsACleanExitAndErrorsFail) {
  {
    Script script;
    script.fail_streams = 1000;
    script.fail_after_steps = 5;
    script.fail_status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                      "the job has finished");
    FakeServer server(script);
    cli::GlobalOptions global;
    global.server = server.target();
    global.json = true;
    testing::internal::CaptureStdout();
    const int code = cli::RunEnvCommand(
        global, {"run", "--game", "pong", "--job", "j", "--count", "2"});
    const std::string out = testing::internal::GetCapturedStdout();
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("\"end\":\"job_ended\""), std::string::npos) << out;
    EXPECT_NE(out.find("the job has finished"), std::string::npos) << out;
  }
  {
    Script script;
    script.error_at_step = 0;
    FakeServer server(script);
    cli::GlobalOptions global;
    global.server = server.target();
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    const int code =
        cli::RunEnvCommand(global, {"run", "--game", "breakout", "--job", "j"});
    testing::internal::GetCapturedStdout();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, 1);
    EXPECT_NE(err.find("INVALID_ARGUMENT: scripted error"), std::string::npos)
        << err;
  }
}

}  // namespace
}  // namespace eprop::client
