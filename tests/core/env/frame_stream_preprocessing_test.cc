#include "core/env/frame_stream_preprocessing.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/env/atari_preprocessing.h"
#include "core/env/pong.h"
#include "core/util/random.h"

namespace eprop::env {
namespace {

using Outcome = FrameStreamPreprocessing::Outcome;
using FrameAnswer = FrameStreamPreprocessing::FrameAnswer;

// Passes every call to `inner` and records the raw actions executed.
class RecordingEnv final : public FrameEnvironment {
 public:
  explicit RecordingEnv(FrameEnvironment* inner) : inner_(inner) {}
  void Reset() override { inner_->Reset(); }
  StepResult Step(int action) override {
    actions.push_back(action);
    return inner_->Step(action);
  }
  const std::vector<uint8_t>& frame() const override { return inner_->frame(); }
  int height() const override { return inner_->height(); }
  int width() const override { return inner_->width(); }
  int num_actions() const override { return inner_->num_actions(); }

  std::vector<int> actions;

 private:
  FrameEnvironment* inner_;
};

// What an agent sees, decision by decision, and the raw actions executed.
struct Trace {
  std::vector<std::vector<uint8_t>> observations;
  std::vector<float> rewards;  // of the previous decision (0 for the first)
  std::vector<int> terminated;
  std::vector<int> truncated;
  std::vector<int> raw_actions;
  int episodes = 0;
  int early_ends = 0;  // episodes that ended inside a frame-skip window
};

struct Scenario {
  uint64_t game_seed = 1;
  PongOptions pong;
  uint64_t seed = 2;  // of the preprocessing
  PreprocessingOptions options;
  uint64_t policy_seed = 3;
};

// The reference: AtariPreprocessing over a local game, for `episodes`
// episodes (Reset after each), agent actions from a seeded policy.
Trace RunAtari(const Scenario& s, int episodes) {
  Pong pong(s.game_seed, s.pong);
  PongFrameEnvironment game(&pong);
  RecordingEnv env(&game);
  AtariPreprocessing pre(&env, s.seed, s.options);
  Rng policy(s.policy_seed);
  Trace trace;
  trace.observations.push_back(pre.Reset());
  trace.rewards.push_back(0.0f);
  trace.terminated.push_back(0);
  trace.truncated.push_back(0);
  while (trace.episodes < episodes) {
    const int action = static_cast<int>(policy.UniformInt(3));
    const size_t before = env.actions.size();
    const AtariPreprocessing::StepResult r = pre.Step(action);
    if (r.terminated || r.truncated) {
      ++trace.episodes;
      if (env.actions.size() - before <
          static_cast<size_t>(s.options.frame_skip)) {
        ++trace.early_ends;
      }
      trace.observations.push_back(pre.Reset());
    } else {
      trace.observations.push_back(pre.observation());
    }
    trace.rewards.push_back(r.reward);
    trace.terminated.push_back(r.terminated);
    trace.truncated.push_back(r.truncated);
  }
  trace.raw_actions = env.actions;
  return trace;
}

// The same game streamed frame by frame, as a remote environment does: it
// is reset before the first frame and whenever a raw action ends the
// episode; every frame carries the outcome of the previous raw action.
// Runs until `decisions` decisions.
Trace RunStream(const Scenario& s, size_t decisions) {
  Pong pong(s.game_seed, s.pong);
  PongFrameEnvironment env(&pong);
  FrameStreamPreprocessing pre(Pong::kHeight, Pong::kWidth, s.seed, s.options);
  Rng policy(s.policy_seed);
  Trace trace;
  env.Reset();
  Outcome outcome;
  while (true) {
    const FrameAnswer answer = pre.OnFrame(env.frame().data(), outcome);
    int raw;
    if (answer.decide) {
      EXPECT_TRUE(pre.decision_due());
      trace.observations.push_back(pre.observation());
      trace.rewards.push_back(answer.reward);
      trace.terminated.push_back(answer.terminated);
      trace.truncated.push_back(answer.truncated);
      if (answer.terminated || answer.truncated) ++trace.episodes;
      if (!s.options.clip_rewards) {
        EXPECT_EQ(answer.reward, answer.unclipped_reward);
      }
      if (trace.observations.size() == decisions) break;
      raw = pre.Act(static_cast<int>(policy.UniformInt(3)));
    } else {
      EXPECT_FALSE(pre.decision_due());
      raw = answer.raw_action;
    }
    trace.raw_actions.push_back(raw);
    outcome = env.Step(raw);
    if (outcome.terminated || outcome.truncated) env.Reset();
  }
  return trace;
}

void ExpectSameTraces(const Scenario& s, int episodes) {
  const Trace atari = RunAtari(s, episodes);
  const Trace stream = RunStream(s, atari.observations.size());
  ASSERT_EQ(stream.observations.size(), atari.observations.size());
  for (size_t d = 0; d < atari.observations.size(); ++d) {
    ASSERT_EQ(stream.observations[d], atari.observations[d])
        << "decision " << d;
    ASSERT_EQ(stream.rewards[d], atari.rewards[d]) << "decision " << d;
    ASSERT_EQ(stream.terminated[d], atari.terminated[d]) << "decision " << d;
    ASSERT_EQ(stream.truncated[d], atari.truncated[d]) << "decision " << d;
  }
  EXPECT_EQ(stream.raw_actions, atari.raw_actions);
  EXPECT_EQ(stream.episodes, episodes);
  // The comparison covers episodes that end inside a window.
  if (s.options.frame_skip > 1) {
    EXPECT_GT(atari.early_ends, 0);
  }
}

Scenario AleScenario(bool clip) {
  Scenario s;
  s.pong.points_to_win = 2;  // short episodes
  s.options.frame_skip = 4;
  s.options.noop_max = 30;
  s.options.sticky_action_probability = 0.25;
  s.options.clip_rewards = clip;
  return s;
}

TEST(FrameStreamPreprocessingTest, MatchesAtariPreprocessingOnPong) {
  for (bool clip : {true, false}) {
    for (uint64_t seed : {1, 7}) {
      SCOPED_TRACE(testing::Message() << "clip " << clip << " seed " << seed);
      Scenario s = AleScenario(clip);
      s.game_seed = seed;
      s.seed = seed + 100;
      s.policy_seed = seed + 200;
      ExpectSameTraces(s, /*episodes=*/6);
    }
  }
}

TEST(FrameStreamPreprocessingTest, MatchesAtariPreprocessingWithTruncation) {
  Scenario s = AleScenario(true);
  s.pong.points_to_win = 21;
  s.pong.max_frames = 150;  // every episode is truncated
  const Trace atari = RunAtari(s, 5);
  int truncated = 0;
  for (int t : atari.truncated) truncated += t;
  EXPECT_EQ(truncated, 5);
  ExpectSameTraces(s, 5);
}

TEST(FrameStreamPreprocessingTest, MatchesAtariPreprocessingOtherOptions) {
  Scenario s = AleScenario(false);
  for (int frame_skip : {1, 2, 3}) {
    SCOPED_TRACE(frame_skip);
    s.options.frame_skip = frame_skip;
    s.options.noop_max = frame_skip == 2 ? 0 : 5;
    s.options.sticky_action_probability = frame_skip == 3 ? 0.0 : 0.5;
    s.options.screen_size = 42;
    ExpectSameTraces(s, 3);
  }
}

// A scripted 8 x 8 frame source: frame k (k = frames since Reset) has every
// pixel at gray 10 k; raw frame k's reward is rewards[(k - 1) % size];
// terminated at frame terminal_at, truncated at frame truncate_at (0:
// never).
class ScriptedEnv final : public FrameEnvironment {
 public:
  ScriptedEnv() : frame_(kSide * kSide * 3, 0) {}
  void Reset() override {
    ++resets;
    count = 0;
    Paint();
  }
  StepResult Step(int action) override {
    actions.push_back(action);
    ++count;
    Paint();
    StepResult r;
    r.reward = rewards.empty() ? 0.0f : rewards[(count - 1) % rewards.size()];
    r.terminated = terminal_at > 0 && count >= terminal_at;
    r.truncated = truncate_at > 0 && count >= truncate_at;
    return r;
  }
  const std::vector<uint8_t>& frame() const override { return frame_; }
  int height() const override { return kSide; }
  int width() const override { return kSide; }
  int num_actions() const override { return 3; }

  static constexpr int kSide = 8;
  std::vector<float> rewards;
  int terminal_at = 0;
  int truncate_at = 0;
  int count = 0;
  int resets = 0;
  std::vector<int> actions;

 private:
  void Paint() {
    for (uint8_t& v : frame_) v = static_cast<uint8_t>(count * 10);
  }
  std::vector<uint8_t> frame_;
};

PreprocessingOptions Plain() {
  PreprocessingOptions options;
  options.screen_size = ScriptedEnv::kSide;  // the resize is the identity
  options.noop_max = 0;
  options.sticky_action_probability = 0.0;
  return options;
}

// Drives a ScriptedEnv through a FrameStreamPreprocessing, as a remote
// environment would.
struct Driver {
  explicit Driver(PreprocessingOptions options, uint64_t seed = 1)
      : pre(ScriptedEnv::kSide, ScriptedEnv::kSide, seed, options) {
    env.Reset();
  }
  // Sends the current frame with the last outcome.
  FrameAnswer Send() { return pre.OnFrame(env.frame().data(), outcome); }
  // Executes a raw action.
  void Execute(int raw) {
    outcome = env.Step(raw);
    if (outcome.terminated || outcome.truncated) env.Reset();
  }
  // Sends frames, executing their answers, until a decision is due.
  FrameAnswer UntilDecision(int* answered = nullptr) {
    FrameAnswer a = Send();
    while (!a.decide) {
      if (answered != nullptr) ++*answered;
      Execute(a.raw_action);
      a = Send();
    }
    return a;
  }

  ScriptedEnv env;
  FrameStreamPreprocessing pre;
  Outcome outcome;
};

TEST(FrameStreamPreprocessingTest, WindowIsAnsweredThenDecided) {
  Driver d(Plain());
  d.env.rewards = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f};
  FrameAnswer a = d.Send();
  ASSERT_TRUE(a.decide);  // no no-ops: the first frame is decided
  EXPECT_EQ(a.reward, 0.0f);
  EXPECT_FALSE(a.terminated || a.truncated);
  EXPECT_EQ(d.pre.observation()[0], 0);
  d.Execute(d.pre.Act(2));
  for (int t = 1; t < 4; ++t) {  // frames 1..3 are answered at once
    a = d.Send();
    ASSERT_FALSE(a.decide) << t;
    EXPECT_EQ(a.raw_action, 2);
    d.Execute(a.raw_action);
  }
  a = d.Send();  // frame 4 ends the window
  ASSERT_TRUE(a.decide);
  EXPECT_EQ(a.reward, 10.0f);
  EXPECT_EQ(d.pre.observation()[0], 40);  // max(30, 40)
  std::vector<float> floats(d.pre.observation_size());
  d.pre.ObserveFloat(floats.data());
  EXPECT_FLOAT_EQ(floats[5], 40.0f / 255.0f);
  EXPECT_EQ(d.env.actions, (std::vector<int>{2, 2, 2, 2}));
}

TEST(FrameStreamPreprocessingTest, EpisodeEndingInsideAWindow) {
  Driver d(Plain());
  d.env.rewards = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  d.env.terminal_at = 6;
  ASSERT_TRUE(d.Send().decide);
  d.Execute(d.pre.Act(1));
  FrameAnswer a = d.UntilDecision();
  EXPECT_EQ(a.reward, 10.0f);
  EXPECT_FALSE(a.terminated);
  d.Execute(d.pre.Act(2));
  int answered = 0;
  a = d.UntilDecision(&answered);
  EXPECT_EQ(answered, 1);  // frame 5; frame 6 ended the episode
  EXPECT_EQ(a.reward, 11.0f);
  EXPECT_TRUE(a.terminated);
  EXPECT_FALSE(a.truncated);
  EXPECT_EQ(d.env.resets, 2);
  // The observation is the next episode's first frame, not the terminal.
  EXPECT_EQ(d.pre.observation()[0], 0);
  EXPECT_EQ(d.env.actions, (std::vector<int>{1, 1, 1, 1, 2, 2}));
  // The next decision reports nothing of the ended episode.
  d.Execute(d.pre.Act(0));
  a = d.UntilDecision();
  EXPECT_FALSE(a.terminated);
  EXPECT_EQ(a.reward, 10.0f);
}

TEST(FrameStreamPreprocessingTest, EpisodeEndReportedAfterTheNoops) {
  PreprocessingOptions options = Plain();
  options.noop_max = 5;
  options.clip_rewards = true;
  Driver d(options, 9);
  d.env.rewards = {-3.0f};
  d.env.terminal_at = 2;  // two raw frames per episode
  int answered = 0;
  FrameAnswer a = d.UntilDecision(&answered);
  EXPECT_EQ(answered, d.pre.last_noop_count());
  EXPECT_GE(answered, 1);
  EXPECT_EQ(a.reward, 0.0f);   // the no-ops' rewards are dropped
  EXPECT_FALSE(a.terminated);  // and so are their episode ends
  for (int action : d.env.actions) EXPECT_EQ(action, 0);
  d.env.actions.clear();
  d.env.rewards = {-3.0f};
  d.env.terminal_at = 100;
  d.Execute(d.pre.Act(1));
  d.env.terminal_at = d.env.count + 1;  // the next raw frame ends it
  answered = 0;
  a = d.UntilDecision(&answered);
  EXPECT_TRUE(a.terminated);
  EXPECT_EQ(a.reward, -1.0f);  // clipped: -3 - 3
  EXPECT_EQ(a.unclipped_reward, -6.0f);
  // The window's second frame ended the episode; then the no-ops of the
  // next one were answered before the decision.
  EXPECT_EQ(answered, 1 + d.pre.last_noop_count());
  EXPECT_EQ(d.env.actions.front(), 1);
  EXPECT_EQ(d.env.actions.size(), 2u + d.pre.last_noop_count());
}

TEST(FrameStreamPreprocessingTest, EpisodeEndingDuringNoopsGoesOn) {
  PreprocessingOptions options = Plain();
  options.noop_max = 30;
  ScriptedEnv reference_env;
  reference_env.terminal_at = 1;  // every raw frame ends the episode
  AtariPreprocessing reference(&reference_env, 4, options);
  reference.Reset();

  Driver d(options, 4);
  d.env.terminal_at = 1;
  d.env.rewards = {1.0f};
  int answered = 0;
  const FrameAnswer a = d.UntilDecision(&answered);
  EXPECT_EQ(answered, reference.last_noop_count());
  EXPECT_EQ(d.env.resets, reference_env.resets);
  EXPECT_EQ(a.reward, 0.0f);
  EXPECT_FALSE(a.terminated || a.truncated);
}

TEST(FrameStreamPreprocessingTest, TruncationIsReportedAsSuch) {
  Driver d(Plain());
  d.env.truncate_at = 3;
  ASSERT_TRUE(d.Send().decide);
  d.Execute(d.pre.Act(1));
  const FrameAnswer a = d.UntilDecision();
  EXPECT_TRUE(a.truncated);
  EXPECT_FALSE(a.terminated);
  EXPECT_EQ(d.env.actions.size(), 3u);
}

TEST(FrameStreamPreprocessingTest, RestartIgnoresTheFirstOutcome) {
  Driver d(Plain());
  ASSERT_TRUE(d.Send().decide);
  d.pre.Restart();  // drops the due decision
  EXPECT_FALSE(d.pre.decision_due());
  d.outcome = {5.0f, true, false};
  const FrameAnswer a = d.Send();
  ASSERT_TRUE(a.decide);
  EXPECT_EQ(a.reward, 0.0f);
  EXPECT_FALSE(a.terminated);
  // Mid-window too.
  d.Execute(d.pre.Act(1));
  d.pre.Restart();
  d.outcome = {2.0f, false, false};
  const FrameAnswer b = d.Send();
  EXPECT_TRUE(b.decide);
  EXPECT_EQ(b.reward, 0.0f);
}

TEST(FrameStreamPreprocessingTest, StickyActionsCarryAcrossWindows) {
  PreprocessingOptions options = Plain();
  options.sticky_action_probability = 1.0;  // always the previous action
  Driver d(options);
  ASSERT_TRUE(d.Send().decide);
  EXPECT_EQ(d.pre.Act(2), 0);  // previous = 0 at an episode start
  EXPECT_EQ(d.pre.frame_size(), 8 * 8 * 3);
}

}  // namespace
}  // namespace eprop::env
