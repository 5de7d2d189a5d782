// The environment hub (server/environment_hub.h) driven directly by fake
// environments, no gRPC: batching, per-message errors, slots, cuts.
#include "server/environment_hub.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/env/atari_preprocessing.h"
#include "core/env/frame_stream_preprocessing.h"
#include "core/env/pong.h"

namespace eprop::server {
namespace {

constexpr int kObs = 16;
constexpr int kActions = 3;
constexpr char kJob[] = "job-000001";

EnvironmentHubOptions SmallHub(int slots) {
  EnvironmentHubOptions o;
  o.job_id = kJob;
  o.observation_spec.set_kind(v1::OBSERVATION_KIND_FEATURES);
  o.observation_spec.add_shape(kObs);
  o.agent.num_envs = slots;
  o.agent.n_actions = kActions;
  o.agent.network.n_in = kObs;
  o.agent.network.n_lif = 12;
  o.agent.network.n_alif = 4;
  o.agent.network.n_out = kActions + 1;
  o.agent.unroll_decisions = 4;
  o.agent.threads = 1;
  o.max_queueing_delay = absl::Milliseconds(20);
  return o;
}

v1::EnvironmentOpen Open(const std::string& run_id) {
  v1::EnvironmentOpen open;
  open.set_job_id(kJob);
  open.set_name("fake");
  open.set_run_id(run_id);
  open.mutable_observation_spec()->set_kind(v1::OBSERVATION_KIND_FEATURES);
  open.mutable_observation_spec()->add_shape(kObs);
  open.set_num_actions(kActions);
  return open;
}

v1::EnvironmentStep Step(int64_t seq, float fill = 1.0f, float reward = 0.0f,
                         bool terminated = false) {
  v1::EnvironmentStep step;
  step.set_sequence_number(seq);
  for (int i = 0; i < kObs; ++i) step.add_features(i % 3 == 0 ? fill : 0.0f);
  step.set_reward(reward);
  step.set_terminated(terminated);
  return step;
}

// A fake environment's end of the hub: collects what its callbacks receive.
class FakeEnv {
 public:
  EnvironmentCallbacks Sink() {
    EnvironmentCallbacks callbacks;
    callbacks.on_message = [this](const v1::AgentMessage& m) {
      absl::MutexLock lock(&mu_);
      messages_.push_back(m);
    };
    callbacks.on_closed = [this](const absl::Status& status) {
      absl::MutexLock lock(&mu_);
      closes_.push_back(status);
    };
    return callbacks;
  }
  std::vector<absl::Status> closes() const {
    absl::MutexLock lock(&mu_);
    return closes_;
  }
  std::vector<v1::AgentMessage> messages() const {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  size_t count() const {
    absl::MutexLock lock(&mu_);
    return messages_.size();
  }
  // Waits (real time) until `n` messages arrived.
  bool WaitFor(size_t n, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() { return messages_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::AgentMessage> messages_;
  std::vector<absl::Status> closes_;
};

// A hub on a fake clock, polled by the test.
struct FakeClockHub {
  explicit FakeClockHub(int slots) {
    EnvironmentHubOptions o = SmallHub(slots);
    o.clock = [this] { return now; };
    absl::StatusOr<std::unique_ptr<EnvironmentHub>> h =
        EnvironmentHub::Create(o);
    EXPECT_TRUE(h.ok()) << h.status();
    hub = *std::move(h);
  }
  absl::Time now = absl::UnixEpoch();
  std::unique_ptr<EnvironmentHub> hub;
};

TEST(EnvironmentHubTest, ValidatesOptions) {
  EnvironmentHubOptions o = SmallHub(2);
  o.agent.network.n_in = kObs + 1;
  EXPECT_EQ(EnvironmentHub::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = SmallHub(2);
  o.observation_spec.set_kind(v1::OBSERVATION_KIND_UNSPECIFIED);
  EXPECT_EQ(EnvironmentHub::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EnvironmentHubTest, ActionsComeBackInOrderAndTheAgentLearns) {
  FakeClockHub h(2);
  FakeEnv a, b;
  absl::StatusOr<SlotHandle> ha = h.hub->Join(Open("a"), a.Sink());
  absl::StatusOr<SlotHandle> hb = h.hub->Join(Open("b"), b.Sink());
  ASSERT_TRUE(ha.ok() && hb.ok());
  EXPECT_NE(ha->slot, hb->slot);
  EXPECT_EQ(h.hub->metrics().connected, 2);

  constexpr int kSteps = 10;  // more than two unrolls of 4 decisions
  for (int t = 0; t < kSteps; ++t) {
    ASSERT_TRUE(h.hub->Step(*ha, Step(100 + t, 1.0f, 1.0f)).ok());
    // Not due: b took part in the last decision and has not stepped yet
    // (the first decision waits for nobody that took part before).
    if (t > 0) {
      EXPECT_FALSE(h.hub->Poll());
    }
    ASSERT_TRUE(h.hub->Step(*hb, Step(t, 0.5f, 0.0f, t == 5)).ok());
    ASSERT_TRUE(h.hub->Poll());
    if (t == 0) {
      ASSERT_FALSE(h.hub->Poll());  // both answered in one batch
    }
  }
  const std::vector<v1::AgentMessage> ma = a.messages();
  const std::vector<v1::AgentMessage> mb = b.messages();
  ASSERT_EQ(ma.size(), kSteps);
  ASSERT_EQ(mb.size(), kSteps);
  for (int t = 0; t < kSteps; ++t) {
    EXPECT_EQ(ma[t].status_code(), 0);
    ASSERT_TRUE(ma[t].has_action());
    EXPECT_EQ(ma[t].action().sequence_number(), 100 + t);
    EXPECT_GE(ma[t].action().action(), 0);
    EXPECT_LT(ma[t].action().action(), kActions);
    EXPECT_EQ(mb[t].action().sequence_number(), t);
  }
  const EnvironmentHubMetrics m = h.hub->metrics();
  EXPECT_EQ(m.frames, 2 * kSteps);
  EXPECT_EQ(m.episodes, 1);  // b's step 5
  EXPECT_EQ(m.cuts, 0);
  EXPECT_EQ(m.updates, 2);  // decisions 4 and 8 completed unrolls
  // b's terminated step reached the agent as a terminal transition.
  // (The last decision's record holds the rewards of step kSteps - 1.)
  const HubDecisionRecord r = h.hub->last_decision();
  EXPECT_EQ(r.real, (std::vector<uint8_t>{1, 1}));
  EXPECT_EQ(r.rewards[ha->slot], 1.0f);
  EXPECT_EQ(r.terminated, (std::vector<uint8_t>{0, 0}));
}

TEST(EnvironmentHubTest, MalformedStepsAreRefusedAndOthersGoOn) {
  FakeClockHub h(2);
  FakeEnv a, b;
  const SlotHandle ha = *h.hub->Join(Open("a"), a.Sink());
  const SlotHandle hb = *h.hub->Join(Open("b"), b.Sink());

  v1::EnvironmentStep short_step = Step(0);
  short_step.mutable_features()->RemoveLast();
  EXPECT_EQ(h.hub->Step(ha, short_step).code(),
            absl::StatusCode::kInvalidArgument);
  v1::EnvironmentStep nan_step = Step(0);
  nan_step.set_features(3, std::numeric_limits<float>::quiet_NaN());
  const absl::Status nan_status = h.hub->Step(ha, nan_step);
  EXPECT_EQ(nan_status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(nan_status.message().find("features[3]"), std::string::npos)
      << nan_status;
  v1::EnvironmentStep bad_reward = Step(0);
  bad_reward.set_reward(std::numeric_limits<float>::infinity());
  EXPECT_EQ(h.hub->Step(ha, bad_reward).code(),
            absl::StatusCode::kInvalidArgument);
  v1::EnvironmentStep wrong_field = Step(0);
  wrong_field.set_observation("xx");
  EXPECT_EQ(h.hub->Step(ha, wrong_field).code(),
            absl::StatusCode::kInvalidArgument);

  // Nothing was queued for a: b's step is decided alone, at once.
  ASSERT_TRUE(h.hub->Step(hb, Step(0)).ok());
  EXPECT_TRUE(h.hub->Poll());
  EXPECT_EQ(b.count(), 1u);
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(h.hub->last_decision().real[ha.slot], 0);

  // A second step before the action, a stale sequence number.
  ASSERT_TRUE(h.hub->Step(ha, Step(7)).ok());
  EXPECT_EQ(h.hub->Step(ha, Step(8)).code(),
            absl::StatusCode::kFailedPrecondition);
  h.now += absl::Milliseconds(25);  // b took part before: wait for it
  EXPECT_TRUE(h.hub->Poll());
  ASSERT_EQ(a.count(), 1u);
  EXPECT_EQ(a.messages()[0].action().sequence_number(), 7);
  EXPECT_EQ(h.hub->Step(ha, Step(7)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(h.hub->Step(ha, Step(8)).ok());
}

TEST(EnvironmentHubTest, OpenChecksTheJobSpecAndSlots) {
  FakeClockHub h(1);
  FakeEnv a, b;
  v1::EnvironmentOpen open = Open("a");
  open.set_job_id("job-000002");
  EXPECT_EQ(h.hub->Join(open, a.Sink()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  open = Open("a");
  open.set_num_actions(kActions + 1);
  EXPECT_EQ(h.hub->Join(open, a.Sink()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  open = Open("a");
  open.mutable_observation_spec()->set_shape(0, kObs + 1);
  EXPECT_EQ(h.hub->Join(open, a.Sink()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  open = Open("");
  EXPECT_EQ(h.hub->Join(open, a.Sink()).status().code(),
            absl::StatusCode::kInvalidArgument);
  open = Open("a");
  open.mutable_observation_spec()->set_kind(v1::OBSERVATION_KIND_RGB_FRAME);
  EXPECT_EQ(h.hub->Join(open, a.Sink()).status().code(),
            absl::StatusCode::kInvalidArgument);  // shape is not [h, w, 3]

  const SlotHandle ha = *h.hub->Join(Open("a"), a.Sink());
  EXPECT_EQ(h.hub->Join(Open("b"), b.Sink()).status().code(),
            absl::StatusCode::kResourceExhausted);
  h.hub->Leave(ha);
  EXPECT_EQ(h.hub->metrics().connected, 0);
  EXPECT_EQ(h.hub->Step(ha, Step(0)).code(),
            absl::StatusCode::kFailedPrecondition);  // stale handle
  EXPECT_TRUE(h.hub->Join(Open("b"), b.Sink()).ok());
}

TEST(EnvironmentHubTest, NewRunIdOrRejoinResetsTheNetworkState) {
  FakeClockHub h(2);
  FakeEnv a, b;
  SlotHandle ha = *h.hub->Join(Open("a1"), a.Sink());
  const SlotHandle hb = *h.hub->Join(Open("b"), b.Sink());
  int64_t seq = 0;
  auto both = [&](SlotHandle first) {
    ASSERT_TRUE(h.hub->Step(first, Step(seq, 1.0f, 0.5f)).ok());
    ASSERT_TRUE(h.hub->Step(hb, Step(seq, 1.0f, 0.5f)).ok());
    ++seq;
    ASSERT_TRUE(h.hub->Poll());
  };
  both(ha);
  both(ha);
  EXPECT_EQ(h.hub->last_decision().terminated, (std::vector<uint8_t>{0, 0}));

  // The same run id again changes nothing.
  ASSERT_TRUE(h.hub->Reopen(ha, Open("a1")).ok());
  both(ha);
  EXPECT_EQ(h.hub->last_decision().terminated, (std::vector<uint8_t>{0, 0}));

  // A new run id: the previous participation ends with a terminal
  // transition of reward 0 (the agent resets that slot's state); b goes on.
  ASSERT_TRUE(h.hub->Reopen(ha, Open("a2")).ok());
  both(ha);
  HubDecisionRecord r = h.hub->last_decision();
  EXPECT_EQ(r.terminated[ha.slot], 1);
  EXPECT_EQ(r.rewards[ha.slot], 0.0f);
  EXPECT_EQ(r.terminated[hb.slot], 0);
  EXPECT_EQ(r.rewards[hb.slot], 0.5f);

  // Leave and join again (e.g. a crashed environment restarted).
  h.hub->Leave(ha);
  ha = *h.hub->Join(Open("a3"), a.Sink());
  both(ha);
  r = h.hub->last_decision();
  EXPECT_EQ(r.terminated[ha.slot], 1);
  EXPECT_EQ(r.terminated[hb.slot], 0);
  EXPECT_EQ(a.count(), 5u);
  EXPECT_EQ(b.count(), 5u);
  EXPECT_EQ(h.hub->metrics().cuts, 0);  // re-opens are not stalls
}

TEST(EnvironmentHubTest, StalledEnvironmentDelaysOthersOnlyUpToTheDelay) {
  FakeClockHub h(2);
  FakeEnv a, b;
  const SlotHandle ha = *h.hub->Join(Open("a"), a.Sink());
  const SlotHandle hb = *h.hub->Join(Open("b"), b.Sink());
  ASSERT_TRUE(h.hub->Step(ha, Step(0)).ok());
  ASSERT_TRUE(h.hub->Step(hb, Step(0)).ok());
  ASSERT_TRUE(h.hub->Poll());

  // a stalls: b waits at most max_queueing_delay (20 ms).
  ASSERT_TRUE(h.hub->Step(hb, Step(1, 1.0f, 2.0f)).ok());
  h.now += absl::Milliseconds(19);
  EXPECT_FALSE(h.hub->Poll());
  h.now += absl::Milliseconds(1);
  EXPECT_TRUE(h.hub->Poll());
  EXPECT_EQ(b.count(), 2u);
  HubDecisionRecord r = h.hub->last_decision();
  EXPECT_EQ(r.real[ha.slot], 0);        // fed as zeros
  EXPECT_EQ(r.terminated[ha.slot], 1);  // cut
  EXPECT_EQ(r.terminated[hb.slot], 0);
  EXPECT_EQ(r.rewards[hb.slot], 2.0f);
  EXPECT_EQ(h.hub->metrics().cuts, 1);

  // b is no longer held up by a at all.
  ASSERT_TRUE(h.hub->Step(hb, Step(2)).ok());
  EXPECT_TRUE(h.hub->Poll());
  EXPECT_EQ(b.count(), 3u);

  // a's late step is a fresh start: answered, its reward not learned from.
  ASSERT_TRUE(h.hub->Step(ha, Step(1, 1.0f, 5.0f)).ok());
  ASSERT_TRUE(h.hub->Step(hb, Step(3)).ok());
  EXPECT_TRUE(h.hub->Poll());
  ASSERT_EQ(a.count(), 2u);
  EXPECT_EQ(a.messages()[1].action().sequence_number(), 1);
  r = h.hub->last_decision();
  EXPECT_EQ(r.real[ha.slot], 1);
  EXPECT_EQ(r.rewards[ha.slot], 0.0f);
  EXPECT_EQ(r.terminated[ha.slot], 1);  // filler before a real start
}

TEST(EnvironmentHubTest, LeaveDropsTheQueuedStepAndFreesTheBatch) {
  FakeClockHub h(2);
  FakeEnv a, b;
  const SlotHandle ha = *h.hub->Join(Open("a"), a.Sink());
  const SlotHandle hb = *h.hub->Join(Open("b"), b.Sink());
  ASSERT_TRUE(h.hub->Step(ha, Step(0)).ok());
  ASSERT_TRUE(h.hub->Step(hb, Step(0)).ok());
  ASSERT_TRUE(h.hub->Poll());
  ASSERT_TRUE(h.hub->Step(ha, Step(1)).ok());
  h.hub->Leave(ha);
  // b's step does not wait for the departed a.
  ASSERT_TRUE(h.hub->Step(hb, Step(1)).ok());
  EXPECT_TRUE(h.hub->Poll());
  EXPECT_EQ(a.count(), 1u);
  EXPECT_EQ(b.count(), 2u);
  const HubDecisionRecord r = h.hub->last_decision();
  EXPECT_EQ(r.real[ha.slot], 0);
  EXPECT_EQ(r.terminated[ha.slot], 1);
  EXPECT_EQ(h.hub->metrics().cuts, 0);
}

TEST(EnvironmentHubTest, DecodesSpikesAndFrames) {
  for (v1::ObservationKind kind :
       {v1::OBSERVATION_KIND_SPIKES, v1::OBSERVATION_KIND_RGB_FRAME}) {
    EnvironmentHubOptions o = SmallHub(1);
    o.observation_spec.set_kind(kind);
    o.observation_spec.clear_shape();
    if (kind == v1::OBSERVATION_KIND_RGB_FRAME) {
      for (int d : {2, 3, 3}) o.observation_spec.add_shape(d);
      o.agent.network.n_in = 18;
    } else {
      o.observation_spec.add_shape(11);
      o.agent.network.n_in = 11;
    }
    std::unique_ptr<EnvironmentHub> hub = *EnvironmentHub::Create(o);
    v1::EnvironmentOpen open = Open("a");
    *open.mutable_observation_spec() = o.observation_spec;
    FakeEnv a;
    const SlotHandle ha = *hub->Join(open, a.Sink());
    v1::EnvironmentStep step;
    step.set_sequence_number(0);
    step.add_features(1.0f);  // wrong field
    EXPECT_EQ(hub->Step(ha, step).code(), absl::StatusCode::kInvalidArgument);
    step.clear_features();
    const size_t good =
        kind == v1::OBSERVATION_KIND_SPIKES ? 2 : 18;  // 11 bits: 2 bytes
    step.set_observation(std::string(good + 1, '\x01'));
    EXPECT_EQ(hub->Step(ha, step).code(), absl::StatusCode::kInvalidArgument);
    step.set_observation(std::string(good, '\xff'));
    EXPECT_TRUE(hub->Step(ha, step).ok());
    EXPECT_TRUE(hub->Poll());
    EXPECT_EQ(a.count(), 1u);
  }
}

TEST(EnvironmentHubTest, ThreadServesEnvironmentsInRealTime) {
  EnvironmentHubOptions o = SmallHub(3);
  o.max_queueing_delay = absl::Milliseconds(200);
  std::unique_ptr<EnvironmentHub> hub = *EnvironmentHub::Create(o);
  hub->Start();
  FakeEnv a, b, stalled;
  const SlotHandle ha = *hub->Join(Open("a"), a.Sink());
  const SlotHandle hb = *hub->Join(Open("b"), b.Sink());
  const SlotHandle hs = *hub->Join(Open("s"), stalled.Sink());
  ASSERT_TRUE(hub->Step(hs, Step(0)).ok());
  ASSERT_TRUE(stalled.WaitFor(1, absl::Seconds(10)));
  // `stalled` never steps again; a and b each run 20 steps on threads.
  auto run = [&hub](SlotHandle h, FakeEnv* env) {
    for (int t = 0; t < 20; ++t) {
      ASSERT_TRUE(hub->Step(h, Step(t)).ok());
      ASSERT_TRUE(env->WaitFor(t + 1, absl::Seconds(10)));
    }
  };
  const absl::Time start = absl::Now();
  std::thread ta(run, ha, &a);
  std::thread tb(run, hb, &b);
  ta.join();
  tb.join();
  // The stall is cut (after 200 ms); afterwards a and b are served without
  // waiting for it. (More cuts only if a thread sleeps over 200 ms.)
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_GE(hub->metrics().cuts, 1);
  EXPECT_EQ(hub->metrics().frames, 41);
  EXPECT_EQ(hub->metrics().connected, 3);
}

TEST(EnvironmentHubTest, CloseEndsEveryEnvironmentOnce) {
  EnvironmentHubOptions o = SmallHub(3);
  o.max_queueing_delay = absl::Milliseconds(5);
  std::unique_ptr<EnvironmentHub> hub = *EnvironmentHub::Create(o);
  hub->Start();
  FakeEnv a, b, left;
  const SlotHandle ha = *hub->Join(Open("a"), a.Sink());
  const SlotHandle hb = *hub->Join(Open("b"), b.Sink());
  const SlotHandle hl = *hub->Join(Open("l"), left.Sink());
  ASSERT_TRUE(hub->Step(ha, Step(0)).ok());
  ASSERT_TRUE(a.WaitFor(1, absl::Seconds(10)));
  hub->Leave(hl);
  // b's step may or may not be decided before the close; either way its
  // action, if any, comes before the close.
  ASSERT_TRUE(hub->Step(hb, Step(0)).ok());

  const absl::Status why = absl::CancelledError("job job-000001 was cancelled");
  hub->Close(why);
  EXPECT_TRUE(hub->closed());
  EXPECT_EQ(a.closes(), std::vector<absl::Status>{why});
  EXPECT_EQ(b.closes(), std::vector<absl::Status>{why});
  EXPECT_TRUE(left.closes().empty());  // it had left
  EXPECT_EQ(a.count(), 1u);
  const size_t b_actions = b.count();
  EXPECT_LE(b_actions, 1u);
  EXPECT_EQ(hub->metrics().connected, 0);

  EXPECT_EQ(hub->Join(Open("c"), left.Sink()).status(), why);
  EXPECT_EQ(hub->Step(ha, Step(1)), why);
  EXPECT_EQ(hub->Reopen(ha, Open("a2")), why);
  EXPECT_FALSE(hub->Poll());
  hub->Leave(ha);                            // a stale handle now: a no-op
  hub->Close(absl::InternalError("again"));  // idempotent
  EXPECT_EQ(a.closes().size(), 1u);
  EXPECT_EQ(b.closes().size(), 1u);
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(b.count(), b_actions);  // the thread stopped
}

TEST(EnvironmentHubTest, CloseWithOkMeansTheJobCompleted) {
  FakeClockHub h(1);
  FakeEnv a;
  ASSERT_TRUE(h.hub->Join(Open("a"), a.Sink()).ok());
  h.hub->Close(absl::OkStatus());
  EXPECT_EQ(a.closes(), std::vector<absl::Status>{absl::OkStatus()});
  const absl::Status join = h.hub->Join(Open("b"), a.Sink()).status();
  EXPECT_EQ(join.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(join.message(), "job job-000001 has ended");
}

TEST(EnvironmentHubTest, ConcurrentCloseAndLeaveNeverCallBackAfterLeave) {
  for (int round = 0; round < 20; ++round) {
    EnvironmentHubOptions o = SmallHub(2);
    o.max_queueing_delay = absl::Milliseconds(1);
    std::unique_ptr<EnvironmentHub> hub = *EnvironmentHub::Create(o);
    hub->Start();
    // The environment's state is freed right after Leave returns: a late
    // callback would touch freed memory (ASan).
    auto env = std::make_unique<FakeEnv>();
    const SlotHandle h = *hub->Join(Open("a"), env->Sink());
    ASSERT_TRUE(hub->Step(h, Step(0)).ok());
    std::thread closer(
        [&hub] { hub->Close(absl::CancelledError("job cancelled")); });
    hub->Leave(h);
    env.reset();
    closer.join();
  }
}

TEST(EnvironmentHubTest, SavesAndRestoresTheAgentBeforeTheFirstDecision) {
  FakeClockHub trained(1);
  FakeEnv a;
  const SlotHandle ha = *trained.hub->Join(Open("a"), a.Sink());
  for (int t = 0; t < 9; ++t) {  // two updates of 4 decisions
    ASSERT_TRUE(
        trained.hub->Step(ha, Step(t, 1.0f, t % 2 ? 1.0f : -1.0f)).ok());
    ASSERT_TRUE(trained.hub->Poll());
  }
  const EnvironmentHubMetrics m = trained.hub->metrics();
  EXPECT_EQ(m.updates, 2);
  EXPECT_GT(m.entropy, 0.0);
  EXPECT_LE(m.entropy, std::log(static_cast<double>(kActions)) + 1e-6);
  EXPECT_GE(m.rate_hz, 0.0);
  const TrainingCheckpoint saved = trained.hub->SaveAgentState();
  EXPECT_EQ(saved.iteration, 2);
  // Restoring needs a hub that has not decided yet.
  EXPECT_EQ(trained.hub->RestoreAgentState(saved).code(),
            absl::StatusCode::kFailedPrecondition);

  FakeClockHub fresh(1);
  EXPECT_FALSE(fresh.hub->SaveAgentState().weights.w_rec ==
               saved.weights.w_rec);
  ASSERT_TRUE(fresh.hub->RestoreAgentState(saved).ok());
  const TrainingCheckpoint restored = fresh.hub->SaveAgentState();
  EXPECT_EQ(restored.iteration, 2);
  EXPECT_TRUE(restored.weights.w_rec == saved.weights.w_rec);
  EXPECT_TRUE(restored.weights.w_out == saved.weights.w_out);

  // A state of another configuration does not fit: nothing changes.
  EnvironmentHubOptions other = SmallHub(1);
  other.agent.network.n_lif = 20;
  std::unique_ptr<EnvironmentHub> different = *EnvironmentHub::Create(other);
  EXPECT_EQ(different->RestoreAgentState(saved).code(),
            absl::StatusCode::kInvalidArgument);
}

// RGB frames with the ALE preprocessing (frame_preprocessing): raw Pong
// frames, one step each.
constexpr int kScreen = 84;

EnvironmentHubOptions FrameHub(int slots) {
  EnvironmentHubOptions o = SmallHub(slots);
  o.observation_spec.set_kind(v1::OBSERVATION_KIND_RGB_FRAME);
  o.observation_spec.clear_shape();
  for (int d : {env::Pong::kHeight, env::Pong::kWidth, 3}) {
    o.observation_spec.add_shape(d);
  }
  env::PreprocessingOptions p;  // frame_skip 4, noop_max 30, screen 84
  p.sticky_action_probability = 0.25;
  p.clip_rewards = true;
  o.frame_preprocessing = p;
  o.frame_seed = 77;
  o.agent.network.n_in = kScreen * kScreen;
  return o;
}

v1::EnvironmentOpen FrameOpen(const std::string& run_id) {
  v1::EnvironmentOpen open = Open(run_id);
  *open.mutable_observation_spec() = FrameHub(1).observation_spec;
  return open;
}

// A remote Pong as the runner of client/lib/environment_client.h drives
// it (reset before the first frame and after every episode end), with a
// reference FrameStreamPreprocessing fed the same frames.
struct RemotePong {
  RemotePong(uint64_t game_seed, uint64_t frame_seed,
             const env::PreprocessingOptions& options)
      : game(game_seed, ShortGames()),
        reference(env::Pong::kHeight, env::Pong::kWidth, frame_seed, options) {
    game.Reset();
  }
  static env::PongOptions ShortGames() {
    env::PongOptions options;
    options.points_to_win = 1;
    return options;
  }
  // The current frame with the outcome of the last raw action.
  v1::EnvironmentStep NextStep() {
    v1::EnvironmentStep step;
    step.set_sequence_number(seq++);
    step.set_observation(std::string(game.frame().begin(), game.frame().end()));
    step.set_reward(outcome.reward);
    step.set_terminated(outcome.terminated);
    step.set_truncated(outcome.truncated);
    return step;
  }
  void Execute(int raw_action) {
    const env::Pong::StepResult r = game.Step(raw_action);
    outcome = {r.reward, r.terminated, r.truncated};
    episode_return += r.reward;
    if (r.terminated || r.truncated) {
      returns.push_back(episode_return);
      episode_return = 0.0;
      game.Reset();
    }
  }

  env::Pong game;
  env::FrameStreamPreprocessing reference;
  env::FrameStreamPreprocessing::Outcome outcome;
  int64_t seq = 0;
  double episode_return = 0.0;
  std::vector<double> returns;
  FakeEnv sink;
  SlotHandle handle;
  env::FrameStreamPreprocessing::FrameAnswer due;  // the pending decision
};

TEST(EnvironmentHubTest, FramesAreAnsweredInWindowsAndDecidedPreprocessed) {
  EnvironmentHubOptions o = FrameHub(2);
  absl::Time now = absl::UnixEpoch();
  o.clock = [&now] { return now; };
  std::unique_ptr<EnvironmentHub> hub = *EnvironmentHub::Create(o);
  const int n_in = o.agent.network.n_in;
  std::vector<std::unique_ptr<RemotePong>> envs;
  for (int i = 0; i < 2; ++i) {
    envs.push_back(std::make_unique<RemotePong>(
        10 + i, o.frame_seed + static_cast<uint64_t>(i),
        *o.frame_preprocessing));
    RemotePong& e = *envs.back();
    e.handle = *hub->Join(FrameOpen(absl::StrCat("pong", i)), e.sink.Sink());
    ASSERT_EQ(e.handle.slot, i);
  }
  int64_t raw_frames = 0, immediate = 0;
  constexpr int kDecisions = 150;
  for (int d = 0; d < kDecisions; ++d) {
    // Each environment streams frames until one waits for a decision; the
    // others are answered at once, without a decision (no Poll).
    for (auto& e : envs) {
      while (true) {
        const size_t before = e->sink.count();
        const v1::EnvironmentStep step = e->NextStep();
        const env::FrameStreamPreprocessing::FrameAnswer expected =
            e->reference.OnFrame(
                reinterpret_cast<const uint8_t*>(step.observation().data()),
                e->outcome);
        ASSERT_TRUE(hub->Step(e->handle, step).ok());
        if (expected.decide) {
          EXPECT_EQ(e->sink.count(), before);  // queued for the batch
          e->due = expected;
          break;
        }
        ASSERT_EQ(e->sink.count(), before + 1);
        const v1::AgentMessage answer = e->sink.messages().back();
        EXPECT_EQ(answer.action().sequence_number(), step.sequence_number());
        EXPECT_EQ(answer.action().action(), expected.raw_action);
        ++immediate;
        ++raw_frames;
        e->Execute(answer.action().action());
      }
    }
    ASSERT_TRUE(hub->Poll()) << d;  // both are there: due at once
    const HubDecisionRecord r = hub->last_decision();
    ASSERT_EQ(r.observations.size(), 2u * n_in);
    for (auto& e : envs) {
      const int b = e->handle.slot;
      EXPECT_EQ(r.real[b], 1);
      std::vector<float> observation(n_in);
      e->reference.ObserveFloat(observation.data());
      ASSERT_TRUE(std::equal(observation.begin(), observation.end(),
                             r.observations.begin() + b * n_in))
          << "decision " << d << " slot " << b;
      if (d > 0) {  // the outcome of the previous decision
        EXPECT_EQ(r.rewards[b], e->due.reward);
        EXPECT_EQ(r.terminated[b], e->due.terminated || e->due.truncated);
      }
      const v1::AgentMessage answer = e->sink.messages().back();
      EXPECT_EQ(answer.action().sequence_number(), e->seq - 1);
      EXPECT_EQ(answer.action().action(), e->reference.Act(r.actions[b]));
      ++raw_frames;
      e->Execute(answer.action().action());
    }
  }
  // 84 x 84 grayscale of Pong: the background's luma, 87 / 255.
  const HubDecisionRecord r = hub->last_decision();
  EXPECT_FLOAT_EQ(r.observations[60 * kScreen + 42],
                  env::Luma601(144, 72, 17) / 255.0f);
  const EnvironmentHubMetrics m = hub->metrics();
  EXPECT_EQ(m.decisions, kDecisions);
  EXPECT_EQ(m.frames, raw_frames);  // every raw frame answered
  EXPECT_GE(immediate, 2 * 3 * (kDecisions - 10));
  EXPECT_EQ(m.cuts, 0);
  std::vector<double> returns;
  for (auto& e : envs) {
    returns.insert(returns.end(), e->returns.begin(), e->returns.end());
  }
  ASSERT_GT(returns.size(), 0u);
  EXPECT_EQ(m.episodes, static_cast<int64_t>(returns.size()));
  double sum = 0.0;
  for (double x : returns) sum += x;
  EXPECT_DOUBLE_EQ(m.avg_return_last100, sum / returns.size());
}

TEST(EnvironmentHubTest, FrameStepsAndOptionsAreChecked) {
  EnvironmentHubOptions o = FrameHub(1);
  o.agent.network.n_in = env::Pong::kHeight * env::Pong::kWidth * 3;
  EXPECT_EQ(EnvironmentHub::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);  // must be 84 * 84
  o = FrameHub(1);
  o.frame_preprocessing->frame_skip = 0;
  EXPECT_EQ(EnvironmentHub::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = SmallHub(1);
  o.frame_preprocessing = env::PreprocessingOptions();
  o.agent.network.n_in = kScreen * kScreen;
  EXPECT_EQ(EnvironmentHub::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);  // FEATURES

  std::unique_ptr<EnvironmentHub> hub = *EnvironmentHub::Create(FrameHub(1));
  RemotePong pong(1, 77, *FrameHub(1).frame_preprocessing);
  const SlotHandle h = *hub->Join(FrameOpen("a"), pong.sink.Sink());
  v1::EnvironmentStep step = pong.NextStep();
  step.add_features(1.0f);
  EXPECT_EQ(hub->Step(h, step).code(), absl::StatusCode::kInvalidArgument);
  step = pong.NextStep();
  step.mutable_observation()->pop_back();
  EXPECT_EQ(hub->Step(h, step).code(), absl::StatusCode::kInvalidArgument);
  step = pong.NextStep();
  step.set_reward(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(hub->Step(h, step).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pong.sink.count(), 0u);
  EXPECT_EQ(hub->metrics().frames, 0);
  step = pong.NextStep();
  ASSERT_TRUE(hub->Step(h, step).ok());  // a no-op start: answered at once
  ASSERT_EQ(pong.sink.count(), 1u);
  EXPECT_EQ(pong.sink.messages()[0].action().action(), 0);
  EXPECT_EQ(hub->Step(h, step).code(),
            absl::StatusCode::kInvalidArgument);  // the same sequence number
  EXPECT_EQ(hub->metrics().frames, 1);
  EXPECT_EQ(hub->metrics().decisions, 0);
  EXPECT_FALSE(hub->Poll());
  hub->Leave(h);
  EXPECT_EQ(hub->Step(h, pong.NextStep()).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(EnvironmentHubTest, NewRunIdRestartsTheFramePreprocessing) {
  EnvironmentHubOptions o = FrameHub(1);
  o.frame_preprocessing->noop_max = 0;  // every episode start is decided
  absl::Time now = absl::UnixEpoch();
  o.clock = [&now] { return now; };
  std::unique_ptr<EnvironmentHub> hub = *EnvironmentHub::Create(o);
  RemotePong pong(3, 77, *o.frame_preprocessing);
  const SlotHandle h = *hub->Join(FrameOpen("a"), pong.sink.Sink());
  ASSERT_TRUE(hub->Step(h, pong.NextStep()).ok());  // decision due
  ASSERT_TRUE(hub->Poll());
  ASSERT_EQ(pong.sink.count(), 1u);
  pong.Execute(pong.sink.messages()[0].action().action());
  ASSERT_TRUE(hub->Step(h, pong.NextStep()).ok());  // inside the window
  ASSERT_EQ(pong.sink.count(), 2u);
  pong.Execute(pong.sink.messages()[1].action().action());
  // A new run (the environment restarted): its first frame, whatever the
  // outcome it carries, starts an episode and is decided at once.
  ASSERT_TRUE(hub->Reopen(h, FrameOpen("a2")).ok());
  pong.outcome = {1.0f, true, false};
  ASSERT_TRUE(hub->Step(h, pong.NextStep()).ok());
  EXPECT_EQ(pong.sink.count(), 2u);
  ASSERT_TRUE(hub->Poll());
  EXPECT_EQ(pong.sink.count(), 3u);
  EXPECT_EQ(hub->last_decision().rewards[0], 0.0f);
  EXPECT_EQ(hub->last_decision().terminated[0], 1);  // the cut
  EXPECT_EQ(hub->metrics().episodes, 0);             // the first step's outcome
}

TEST(EnvironmentHubTest, FrameEnvironmentsInRealTime) {
  EnvironmentHubOptions o = FrameHub(2);
  o.max_queueing_delay = absl::Milliseconds(200);
  std::unique_ptr<EnvironmentHub> hub = *EnvironmentHub::Create(o);
  hub->Start();
  constexpr int kFrames = 300;
  auto run = [&hub](int i) {
    RemotePong pong(20 + i, 0, env::PreprocessingOptions());
    const SlotHandle h =
        *hub->Join(FrameOpen(absl::StrCat("p", i)), pong.sink.Sink());
    for (int t = 0; t < kFrames; ++t) {
      ASSERT_TRUE(hub->Step(h, pong.NextStep()).ok());
      ASSERT_TRUE(pong.sink.WaitFor(t + 1, absl::Seconds(10)));
      const v1::AgentMessage m = pong.sink.messages().back();
      ASSERT_EQ(m.status_code(), 0);
      ASSERT_EQ(m.action().sequence_number(), t);
      pong.Execute(m.action().action());
    }
    hub->Leave(h);
  };
  std::thread a(run, 0);
  std::thread b(run, 1);
  a.join();
  b.join();
  const EnvironmentHubMetrics m = hub->metrics();
  EXPECT_EQ(m.frames, 2 * kFrames);
  EXPECT_GT(m.decisions, 0);
  EXPECT_LT(m.decisions, 2 * kFrames / 4 + 2);
  hub->Close(absl::OkStatus());
}

}  // namespace
}  // namespace eprop::server
