// ConnectEnvironment (server/environment_service.h) end to end: a real
// in-process gRPC server on loopback, an EnvironmentRegistry and a hub on
// its own decision thread, driven by synchronous gRPC clients.
#include "server/environment_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "eprop/v1/environments.grpc.pb.h"
#include "server/auth.h"
#include "server/environment_hub.h"
#include "server/environment_registry.h"

namespace eprop::server {
namespace {

constexpr int kObs = 8;
constexpr int kActions = 3;
constexpr int kSlots = 4;
constexpr char kJob[] = "job-000003";
constexpr char kToken[] = "5b2d4c6a8e0f1b3d5c7a9e2f3f1c9a7e";

using Stream =
    grpc::ClientReaderWriter<v1::EnvironmentMessage, v1::AgentMessage>;

EnvironmentHubOptions SmallHub() {
  EnvironmentHubOptions o;
  o.job_id = kJob;
  o.observation_spec.set_kind(v1::OBSERVATION_KIND_FEATURES);
  o.observation_spec.add_shape(kObs);
  o.agent.num_envs = kSlots;
  o.agent.n_actions = kActions;
  o.agent.network.n_in = kObs;
  o.agent.network.n_lif = 8;
  o.agent.network.n_alif = 4;
  o.agent.network.n_out = kActions + 1;
  o.agent.unroll_decisions = 4;
  o.agent.threads = 1;
  o.max_queueing_delay = absl::Milliseconds(5);
  return o;
}

v1::EnvironmentMessage Open(const std::string& run_id,
                            const std::string& job_id = kJob) {
  v1::EnvironmentMessage m;
  v1::EnvironmentOpen* open = m.mutable_open();
  open->set_job_id(job_id);
  open->set_name(absl::StrCat("env-", run_id));
  open->set_run_id(run_id);
  open->mutable_observation_spec()->set_kind(v1::OBSERVATION_KIND_FEATURES);
  open->mutable_observation_spec()->add_shape(kObs);
  open->set_num_actions(kActions);
  return m;
}

v1::EnvironmentMessage Step(int64_t seq, float reward = 0.0f,
                            bool terminated = false) {
  v1::EnvironmentMessage m;
  v1::EnvironmentStep* step = m.mutable_step();
  step->set_sequence_number(seq);
  for (int i = 0; i < kObs; ++i) {
    step->add_features((i + seq) % 3 == 0 ? 1.0f : 0.0f);
  }
  step->set_reward(reward);
  step->set_terminated(terminated);
  return m;
}

grpc::StatusCode CodeOf(const v1::AgentMessage& m) {
  return static_cast<grpc::StatusCode>(m.status_code());
}

// Waits (real time, at most 10 s) until `done` holds.
template <typename F>
bool Eventually(F done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

// One remote environment: a ConnectEnvironment stream with a deadline.
class Env {
 public:
  explicit Env(v1::EnvironmentService::Stub* stub,
               const std::string& token = "") {
    context_.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(20));
    if (!token.empty()) {
      context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
    stream_ = stub->ConnectEnvironment(&context_);
  }

  bool Send(const v1::EnvironmentMessage& m) { return stream_->Write(m); }
  // The next answer; an empty message with status_code -1 if the stream
  // ended instead.
  v1::AgentMessage Receive() {
    v1::AgentMessage m;
    if (!stream_->Read(&m)) m.set_status_code(-1);
    return m;
  }
  v1::AgentMessage Ask(const v1::EnvironmentMessage& m) {
    EXPECT_TRUE(Send(m));
    return Receive();
  }
  // Opens, expecting acceptance; returns the slot.
  int Join(const std::string& run_id) {
    const v1::AgentMessage m = Ask(Open(run_id));
    EXPECT_EQ(m.status_code(), 0) << m.status_message();
    EXPECT_TRUE(m.has_accepted()) << m.DebugString();
    return m.accepted().slot();
  }
  // Steps, expecting an action for `seq`; returns it.
  int Act(int64_t seq, float reward = 0.0f, bool terminated = false) {
    const v1::AgentMessage m = Ask(Step(seq, reward, terminated));
    EXPECT_EQ(m.status_code(), 0) << m.status_message();
    EXPECT_TRUE(m.has_action()) << m.DebugString();
    EXPECT_EQ(m.action().sequence_number(), seq);
    EXPECT_GE(m.action().action(), 0);
    EXPECT_LT(m.action().action(), kActions);
    return m.action().action();
  }
  // Half-closes and returns the stream's status.
  grpc::Status Close() {
    stream_->WritesDone();
    return stream_->Finish();
  }
  // The status of a stream the server ends (no more answers expected).
  grpc::Status Ended() {
    v1::AgentMessage m;
    EXPECT_FALSE(stream_->Read(&m)) << m.DebugString();
    return stream_->Finish();
  }
  void Cancel() { context_.TryCancel(); }
  grpc::Status Finish() { return stream_->Finish(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
};

// The server: a registry holding one hub for kJob.
class EnvironmentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(""); }

  void StartServer(const std::string& token) {
    std::string token_file;
    if (!token.empty()) {
      dir_ = (std::filesystem::temp_directory_path() /
              absl::StrCat("eprop-env-test-", ::getpid()))
                 .string();
      std::filesystem::create_directories(dir_);
      token_file = dir_ + "/token";
      std::ofstream(token_file) << token << "\n";
    }
    absl::StatusOr<Authenticator> auth =
        Authenticator::FromTokenFile(token_file);
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = std::make_unique<Authenticator>(*auth);

    absl::StatusOr<std::unique_ptr<EnvironmentHub>> hub =
        EnvironmentHub::Create(SmallHub());
    ASSERT_TRUE(hub.ok()) << hub.status();
    hub_ = *std::move(hub);
    hub_->Start();
    registry_.Add(kJob, hub_);
    registry_.SetExplainer([](const std::string& id) {
      if (id == "job-queued") {
        return absl::UnavailableError("job job-queued is queued");
      }
      if (id == "job-finished") {
        return absl::FailedPreconditionError("job job-finished has finished");
      }
      return absl::NotFoundError(absl::StrCat("no job ", id));
    });

    service_ =
        std::make_unique<EnvironmentServiceImpl>(&registry_, auth_.get());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::EnvironmentService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }

  void StopServer() {
    if (server_ == nullptr) return;
    registry_.Remove(kJob, absl::CancelledError("the test is over"));
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
    server_.reset();
    hub_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void TearDown() override { StopServer(); }

  EnvironmentRegistry registry_;
  std::shared_ptr<EnvironmentHub> hub_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<EnvironmentServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::EnvironmentService::Stub> stub_;
  int port_ = 0;
  std::string dir_;
};

TEST_F(EnvironmentServiceTest, ProtocolErrorsAreAnsweredPerMessage) {
  Env env(stub_.get());
  v1::AgentMessage m = env.Ask(Step(0));
  EXPECT_EQ(CodeOf(m), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(
      m.status_message().find("the first message must be an EnvironmentOpen"),
      std::string::npos)
      << m.status_message();
  EXPECT_EQ(CodeOf(env.Ask(v1::EnvironmentMessage())),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Jobs without a hub: the registry's explainer answers.
  m = env.Ask(Open("r", "job-000099"));
  EXPECT_EQ(CodeOf(m), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(m.status_message(), "no job job-000099");
  EXPECT_FALSE(m.has_accepted());
  EXPECT_EQ(CodeOf(env.Ask(Open("r", "job-queued"))),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(CodeOf(env.Ask(Open("r", "job-finished"))),
            grpc::StatusCode::FAILED_PRECONDITION);

  // The job's spec and number of actions must match.
  v1::EnvironmentMessage open = Open("r");
  open.mutable_open()->mutable_observation_spec()->set_shape(0, kObs + 1);
  EXPECT_EQ(CodeOf(env.Ask(open)), grpc::StatusCode::FAILED_PRECONDITION);
  open = Open("r");
  open.mutable_open()->mutable_observation_spec()->set_kind(
      v1::OBSERVATION_KIND_SPIKES);
  EXPECT_EQ(CodeOf(env.Ask(open)), grpc::StatusCode::FAILED_PRECONDITION);
  open = Open("r");
  open.mutable_open()->set_num_actions(kActions + 2);
  EXPECT_EQ(CodeOf(env.Ask(open)), grpc::StatusCode::FAILED_PRECONDITION);
  open = Open("");  // no run id
  EXPECT_EQ(CodeOf(env.Ask(open)), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(hub_->metrics().connected, 0);

  // A good open after all that.
  m = env.Ask(Open("r"));
  ASSERT_EQ(m.status_code(), 0) << m.status_message();
  ASSERT_TRUE(m.has_accepted());
  EXPECT_EQ(m.accepted().job_id(), kJob);
  EXPECT_GE(m.accepted().slot(), 0);
  EXPECT_LT(m.accepted().slot(), kSlots);
  EXPECT_EQ(m.accepted().max_queueing_delay_ms(), 5);
  EXPECT_EQ(hub_->metrics().connected, 1);
  // Re-opening for another job on the same stream is refused.
  EXPECT_EQ(CodeOf(env.Ask(Open("r", "job-000004"))),
            grpc::StatusCode::FAILED_PRECONDITION);

  // Malformed steps change nothing.
  v1::EnvironmentMessage step = Step(5);
  step.mutable_step()->mutable_features()->RemoveLast();
  m = env.Ask(step);
  EXPECT_EQ(CodeOf(m), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(m.has_action());
  step = Step(5);
  step.mutable_step()->set_reward(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(CodeOf(env.Ask(step)), grpc::StatusCode::INVALID_ARGUMENT);
  step = Step(5);
  step.mutable_step()->set_observation("abc");  // FEATURES uses `features`
  EXPECT_EQ(CodeOf(env.Ask(step)), grpc::StatusCode::INVALID_ARGUMENT);
  env.Act(5);
  // Sequence numbers must increase.
  EXPECT_EQ(CodeOf(env.Ask(Step(5))), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CodeOf(env.Ask(Step(4))), grpc::StatusCode::INVALID_ARGUMENT);
  env.Act(6);
  EXPECT_EQ(hub_->metrics().frames, 2);

  // Half-closing leaves the job; the stream ends OK.
  EXPECT_TRUE(env.Close().ok());
  EXPECT_TRUE(Eventually([&] { return hub_->metrics().connected == 0; }));
}

TEST_F(EnvironmentServiceTest, AnswersComeInOrderWhenTheClientSendsAhead) {
  Env env(stub_.get());
  // 40 messages without reading: the server stops reading while answers
  // wait (flow control) and answers each in order.
  constexpr int kAhead = 40;
  for (int i = 0; i < kAhead; ++i) ASSERT_TRUE(env.Send(Step(i)));
  ASSERT_TRUE(env.Send(Open("r")));
  for (int i = 0; i < kAhead; ++i) {
    EXPECT_EQ(CodeOf(env.Receive()), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_TRUE(env.Receive().has_accepted());
  // A step sent before the previous one's action is refused
  // (FAILED_PRECONDITION) if it reaches the hub before that action was
  // delivered, else it is answered too; either way each gets one answer.
  ASSERT_TRUE(env.Send(Step(1)));
  ASSERT_TRUE(env.Send(Step(2)));
  bool action1 = false, answered2 = false;
  while (!(action1 && answered2)) {
    const v1::AgentMessage m = env.Receive();
    ASSERT_NE(m.status_code(), -1);
    if (m.has_action() && m.action().sequence_number() == 1) {
      EXPECT_FALSE(action1);
      action1 = true;
    } else if (m.has_action()) {
      EXPECT_EQ(m.action().sequence_number(), 2);
      EXPECT_TRUE(action1);  // actions come in order
      answered2 = true;
    } else {
      EXPECT_EQ(CodeOf(m), grpc::StatusCode::FAILED_PRECONDITION)
          << m.DebugString();
      EXPECT_FALSE(answered2);
      answered2 = true;
    }
  }
  EXPECT_TRUE(env.Close().ok());
}

TEST_F(EnvironmentServiceTest, FullEpisodeLoopReturnsActionsInRange) {
  Env env(stub_.get());
  env.Join("run-1");
  std::vector<int> counts(kActions, 0);
  constexpr int kSteps = 100;
  for (int t = 0; t < kSteps; ++t) {
    // Episodes of 20 steps: steps 20, 40, 60, 80 report a terminal outcome
    // (and carry the next episode's first observation).
    const bool terminated = t > 0 && t % 20 == 0;
    ++counts[env.Act(1000 + t, t > 0 ? 0.5f : 0.0f, terminated)];
  }
  EXPECT_EQ(counts[0] + counts[1] + counts[2], kSteps);
  const EnvironmentHubMetrics m = hub_->metrics();
  EXPECT_EQ(m.frames, kSteps);
  EXPECT_EQ(m.decisions, kSteps);
  EXPECT_EQ(m.episodes, 4);
  EXPECT_DOUBLE_EQ(m.avg_return_last100, 10.0);  // 20 rewards of 0.5
  EXPECT_EQ(m.updates, kSteps / 4 - 1);  // unrolls of 4, applied on the next
  EXPECT_GT(m.entropy, 0.0);
  EXPECT_EQ(m.connected, 1);
  EXPECT_TRUE(env.Close().ok());
}

TEST_F(EnvironmentServiceTest, TwoEnvironmentsAtOnceBothGetActions) {
  constexpr int kSteps = 40;
  auto run = [this](const std::string& run_id) {
    Env env(stub_.get());
    env.Join(run_id);
    for (int t = 0; t < kSteps; ++t) env.Act(t, 1.0f);
    EXPECT_TRUE(env.Close().ok());
  };
  std::thread a(run, "a");
  std::thread b(run, "b");
  a.join();
  b.join();
  const EnvironmentHubMetrics m = hub_->metrics();
  EXPECT_EQ(m.frames, 2 * kSteps);
  EXPECT_LE(m.decisions, 2 * kSteps);  // mostly batched, unless stalled
  EXPECT_TRUE(Eventually([&] { return hub_->metrics().connected == 0; }));
}

TEST_F(EnvironmentServiceTest, ReopenWithANewRunIdStartsFresh) {
  Env env(stub_.get());
  const int slot = env.Join("run-1");
  env.Act(0);
  env.Act(1, 2.0f);
  HubDecisionRecord r = hub_->last_decision();
  EXPECT_EQ(r.rewards[slot], 2.0f);  // a continuation
  EXPECT_EQ(r.terminated[slot], 0);

  // The same run id again: accepted, nothing changes.
  v1::AgentMessage m = env.Ask(Open("run-1"));
  ASSERT_TRUE(m.has_accepted()) << m.DebugString();
  EXPECT_EQ(m.accepted().slot(), slot);
  env.Act(2, 3.0f);
  r = hub_->last_decision();
  EXPECT_EQ(r.rewards[slot], 3.0f);
  EXPECT_EQ(r.terminated[slot], 0);

  // A new run id (the environment restarted): the old participation is cut
  // with reward 0 and a terminal flag, and sequence numbers start over.
  m = env.Ask(Open("run-2"));
  ASSERT_TRUE(m.has_accepted()) << m.DebugString();
  EXPECT_EQ(m.accepted().slot(), slot);
  env.Act(0, 7.0f);
  r = hub_->last_decision();
  EXPECT_EQ(r.rewards[slot], 0.0f);
  EXPECT_EQ(r.terminated[slot], 1);
  EXPECT_EQ(r.real[slot], 1);
  env.Act(1, 4.0f);
  r = hub_->last_decision();
  EXPECT_EQ(r.rewards[slot], 4.0f);
  EXPECT_EQ(r.terminated[slot], 0);
  EXPECT_EQ(hub_->metrics().connected, 1);
  EXPECT_EQ(hub_->metrics().cuts, 0);
  EXPECT_TRUE(env.Close().ok());
}

TEST_F(EnvironmentServiceTest, AFullJobAnswersResourceExhausted) {
  std::vector<std::unique_ptr<Env>> envs;
  for (int i = 0; i < kSlots; ++i) {
    envs.push_back(std::make_unique<Env>(stub_.get()));
    envs.back()->Join(absl::StrCat("run-", i));
  }
  Env extra(stub_.get());
  v1::AgentMessage m = extra.Ask(Open("extra"));
  EXPECT_EQ(CodeOf(m), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_FALSE(m.has_accepted());
  // The stream stays open but is not joined.
  EXPECT_EQ(CodeOf(extra.Ask(Step(0))), grpc::StatusCode::INVALID_ARGUMENT);
  // A slot frees up when an environment leaves: the retry is accepted.
  EXPECT_TRUE(envs[1]->Close().ok());
  ASSERT_TRUE(Eventually([&] { return hub_->metrics().connected == 3; }));
  extra.Join("extra");
  extra.Act(0);
  EXPECT_TRUE(extra.Close().ok());
}

TEST_F(EnvironmentServiceTest, ACrashedEnvironmentFreesItsSlot) {
  std::vector<std::unique_ptr<Env>> envs;
  for (int i = 0; i < kSlots; ++i) {
    envs.push_back(std::make_unique<Env>(stub_.get()));
    envs.back()->Join(absl::StrCat("run-", i));
  }
  for (int i = 0; i < kSlots; ++i) envs[i]->Act(0);
  // Environment 2 crashes with a step in flight.
  ASSERT_TRUE(envs[2]->Send(Step(1)));
  envs[2]->Cancel();
  EXPECT_EQ(envs[2]->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(Eventually([&] { return hub_->metrics().connected == 3; }));

  // A fifth environment takes the free slot; the others keep going.
  Env fifth(stub_.get());
  fifth.Join("fifth");
  for (int t = 1; t < 6; ++t) {
    for (int i : {0, 1, 3}) envs[i]->Act(t);
    fifth.Act(t);
  }
  EXPECT_EQ(hub_->metrics().connected, 4);
  for (int i : {0, 1, 3}) EXPECT_TRUE(envs[i]->Close().ok());
  EXPECT_TRUE(fifth.Close().ok());
  EXPECT_TRUE(Eventually([&] { return hub_->metrics().connected == 0; }));
}

TEST_F(EnvironmentServiceTest, RemovingTheJobEndsItsStreams) {
  Env a(stub_.get());
  Env b(stub_.get());
  a.Join("a");
  b.Join("b");
  a.Act(0);
  b.Act(0);
  ASSERT_TRUE(a.Send(Step(1)));  // may or may not be answered first
  registry_.Remove(kJob, absl::CancelledError("job cancelled"));
  EXPECT_TRUE(hub_->closed());
  v1::AgentMessage m;
  int answered = 0;
  while (true) {
    m = a.Receive();
    if (m.status_code() == -1) break;
    EXPECT_EQ(m.action().sequence_number(), 1);
    ++answered;
  }
  EXPECT_LE(answered, 1);
  const grpc::Status sa = a.Finish();
  EXPECT_EQ(sa.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(sa.error_message(), "job cancelled");
  const grpc::Status sb = b.Ended();
  EXPECT_EQ(sb.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(sb.error_message(), "job cancelled");
  EXPECT_EQ(hub_->metrics().connected, 0);

  // The job no longer takes environments: the explainer answers.
  Env late(stub_.get());
  EXPECT_EQ(CodeOf(late.Ask(Open("late"))), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(late.Close().ok());
}

TEST_F(EnvironmentServiceTest, AJobThatCompletesEndsItsStreamsOk) {
  Env a(stub_.get());
  a.Join("a");
  a.Act(0);
  registry_.Remove(kJob, absl::OkStatus());
  EXPECT_TRUE(a.Ended().ok());
}

class EnvironmentServiceAuthTest : public EnvironmentServiceTest {
 protected:
  void SetUp() override { StartServer(kToken); }
};

TEST_F(EnvironmentServiceAuthTest, StreamsNeedTheToken) {
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    Env env(stub_.get(), token);
    env.Send(Open("r"));  // may fail: the server ends the stream at once
    const grpc::Status s = env.Ended();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << token;
    EXPECT_EQ(s.error_message().find(kToken), std::string::npos);
  }
  EXPECT_EQ(hub_->metrics().connected, 0);
  Env env(stub_.get(), kToken);
  env.Join("r");
  env.Act(0);
  EXPECT_TRUE(env.Close().ok());
}

// The registry on its own.
TEST(EnvironmentRegistryTest, FindsAddsRemovesAndExplains) {
  EnvironmentRegistry registry;
  absl::Status s = registry.Find("job-000001").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "job job-000001 does not accept environments now");

  EnvironmentHubOptions o = SmallHub();
  o.job_id = "job-000001";
  std::shared_ptr<EnvironmentHub> first = *EnvironmentHub::Create(o);
  std::shared_ptr<EnvironmentHub> second = *EnvironmentHub::Create(o);
  registry.Add("job-000001", first);
  EXPECT_EQ(*registry.Find("job-000001"), first);
  // Replacing closes the old hub.
  registry.Add("job-000001", second);
  EXPECT_EQ(*registry.Find("job-000001"), second);
  EXPECT_TRUE(first->closed());
  EXPECT_FALSE(second->closed());
  EXPECT_EQ(registry.size(), 1);

  registry.Remove("job-000001", absl::CancelledError("job cancelled"));
  EXPECT_TRUE(second->closed());
  EXPECT_EQ(registry.size(), 0);
  registry.Remove("job-000001", absl::CancelledError("again"));  // no-op

  // An explainer's OK means "no explanation": the default error.
  registry.SetExplainer([](const std::string& id) {
    return id == "job-000007" ? absl::NotFoundError("no job job-000007")
                              : absl::OkStatus();
  });
  EXPECT_EQ(registry.Find("job-000007").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(registry.Find("job-000001").status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace eprop::server
