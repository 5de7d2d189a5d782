#include "core/env/pong.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/util/random.h"

namespace eprop::env {
namespace {

Pong::Rgb PixelAt(const Pong& pong, int x, int y) {
  const uint8_t* p = &pong.frame()[(y * Pong::kWidth + x) * 3];
  return {p[0], p[1], p[2]};
}

bool Same(Pong::Rgb a, Pong::Rgb b) {
  return a.r == b.r && a.g == b.g && a.b == b.b;
}

TEST(PongTest, FrameSizeAndLayout) {
  Pong pong(1);
  ASSERT_EQ(pong.frame().size(), 210u * 160u * 3u);
  EXPECT_EQ(pong.num_actions(), 3);
  EXPECT_TRUE(Same(PixelAt(pong, 80, 28), Pong::kWall));
  EXPECT_TRUE(Same(PixelAt(pong, 80, 200), Pong::kWall));
  EXPECT_TRUE(Same(PixelAt(pong, 2, 100), Pong::kBackground));
  EXPECT_TRUE(Same(PixelAt(pong, 2, 10), Pong::kBackground));
}

TEST(PongTest, ObjectsAppearWhereTheStateSays) {
  Pong pong(2);
  PongState s = pong.state();
  s.ball_x = 70.5f;
  s.ball_y = 101.2f;
  s.agent_y = 50.0f;
  s.opponent_y = 150.7f;
  pong.set_state(s);
  for (int dy = 0; dy < Pong::kBallHeight; ++dy) {
    for (int dx = 0; dx < Pong::kBallWidth; ++dx) {
      EXPECT_TRUE(Same(PixelAt(pong, 70 + dx, 101 + dy), Pong::kBall));
    }
  }
  EXPECT_TRUE(Same(PixelAt(pong, 72, 101), Pong::kBackground));
  EXPECT_TRUE(Same(PixelAt(pong, 70, 105), Pong::kBackground));
  for (int dy = 0; dy < Pong::kPaddleHeight; ++dy) {
    EXPECT_TRUE(Same(PixelAt(pong, Pong::kAgentX, 50 + dy), Pong::kAgentColor));
    EXPECT_TRUE(Same(PixelAt(pong, Pong::kOpponentX + 3, 150 + dy),
                     Pong::kOpponentColor));
  }
  EXPECT_TRUE(Same(PixelAt(pong, Pong::kAgentX, 49), Pong::kBackground));
  EXPECT_TRUE(Same(PixelAt(pong, Pong::kAgentX, 66), Pong::kBackground));
  EXPECT_TRUE(Same(PixelAt(pong, Pong::kAgentX + 4, 55), Pong::kBackground));
}

TEST(PongTest, ActionsMovePaddleWithinField) {
  Pong pong(3);
  const float y0 = pong.state().agent_y;
  pong.Step(Pong::kUp);
  EXPECT_FLOAT_EQ(pong.state().agent_y, y0 - 4.0f);
  pong.Step(Pong::kDown);
  pong.Step(Pong::kDown);
  EXPECT_FLOAT_EQ(pong.state().agent_y, y0 + 4.0f);
  for (int i = 0; i < 100; ++i) pong.Step(Pong::kUp);
  EXPECT_FLOAT_EQ(pong.state().agent_y, Pong::kFieldTop);
}

TEST(PongTest, ScoreSignsAndServeFromCentre) {
  Pong pong(4);
  PongState s = pong.state();
  s.ball_x = 1.0f;  // about to leave on the left, opponent far away
  s.ball_y = 40.0f;
  s.ball_vx = -2.0f;
  s.ball_vy = 0.0f;
  s.opponent_y = 170.0f;
  pong.set_state(s);
  Pong::StepResult r{};
  for (int i = 0; i < 5 && r.reward == 0.0f; ++i) r = pong.Step(Pong::kNoop);
  EXPECT_EQ(r.reward, 1.0f);
  EXPECT_EQ(pong.state().agent_score, 1);
  EXPECT_FLOAT_EQ(pong.state().ball_x, 79.0f);
  EXPECT_FALSE(r.terminated);

  s = pong.state();
  s.ball_x = 150.0f;  // passes the agent, whose paddle is at the top
  s.ball_y = 180.0f;
  s.ball_vx = 2.0f;
  s.ball_vy = 0.0f;
  s.agent_y = Pong::kFieldTop;
  pong.set_state(s);
  r = {};
  for (int i = 0; i < 10 && r.reward == 0.0f; ++i) r = pong.Step(Pong::kNoop);
  EXPECT_EQ(r.reward, -1.0f);
  EXPECT_EQ(pong.state().opponent_score, 1);
  EXPECT_FLOAT_EQ(pong.state().ball_x, 79.0f);
}

TEST(PongTest, TerminatesAtPointsToWin) {
  PongOptions options;
  options.points_to_win = 2;
  Pong pong(5, options);
  int steps = 0;
  Pong::StepResult r{};
  float total = 0.0f;
  while (!r.terminated && steps < 100000) {
    r = pong.Step(Pong::kNoop);
    total += r.reward;
    ++steps;
  }
  ASSERT_TRUE(r.terminated);
  EXPECT_TRUE(pong.state().agent_score == 2 ||
              pong.state().opponent_score == 2);
  EXPECT_EQ(total, pong.state().agent_score - pong.state().opponent_score);
  const Pong::StepResult after = pong.Step(Pong::kUp);
  EXPECT_TRUE(after.terminated);
  EXPECT_EQ(after.reward, 0.0f);
}

TEST(PongTest, WallBounceReflectsVertically) {
  Pong pong(6);
  PongState s = pong.state();
  s.ball_x = 80.0f;
  s.ball_y = Pong::kFieldTop + 1.0f;
  s.ball_vx = 2.0f;
  s.ball_vy = -3.0f;
  pong.set_state(s);
  pong.Step(Pong::kNoop);
  EXPECT_FLOAT_EQ(pong.state().ball_y, Pong::kFieldTop + 2.0f);
  EXPECT_FLOAT_EQ(pong.state().ball_vy, 3.0f);
}

TEST(PongTest, AgentPaddleReturnsBallWithAngleFromHitPoint) {
  PongOptions options;
  options.bounce_jitter = 0.0f;
  Pong pong(7, options);
  PongState s = pong.state();
  s.ball_x = 137.0f;  // crosses the face at x = 138 next frame
  s.ball_vx = 2.0f;
  s.ball_vy = 0.0f;
  s.agent_y = 100.0f;
  s.ball_y = 106.0f;  // centred: offset 0
  pong.set_state(s);
  pong.Step(Pong::kNoop);
  EXPECT_FLOAT_EQ(pong.state().ball_vx, -2.0f);
  EXPECT_FLOAT_EQ(pong.state().ball_vy, 0.0f);
  EXPECT_LE(pong.state().ball_x, 138.0f);

  s.ball_y = 113.0f;  // near the bottom edge: steep downward return
  pong.set_state(s);
  pong.Step(Pong::kNoop);
  EXPECT_FLOAT_EQ(pong.state().ball_vx, -2.0f);
  EXPECT_GT(pong.state().ball_vy, 2.0f);
}

TEST(PongTest, OpponentReturnsReachableBall) {
  Pong pong(8);
  PongState s = pong.state();
  s.ball_x = 60.0f;
  s.ball_y = 100.0f;
  s.ball_vx = -2.0f;
  s.ball_vy = 0.5f;
  s.opponent_y = 95.0f;  // already close to the ball's path
  pong.set_state(s);
  for (int i = 0; i < 40; ++i) {
    const Pong::StepResult r = pong.Step(Pong::kNoop);
    ASSERT_EQ(r.reward, 0.0f) << "frame " << i;
  }
  EXPECT_GT(pong.state().ball_vx, 0.0f);
  EXPECT_EQ(pong.state().opponent_score, 0);
  EXPECT_EQ(pong.state().agent_score, 0);
}

TEST(PongTest, OpponentMissesUnreachableBall) {
  Pong pong(9);
  PongState s = pong.state();
  s.ball_x = 30.0f;
  s.ball_y = 40.0f;
  s.ball_vx = -2.0f;
  s.ball_vy = 0.0f;
  s.opponent_y = 170.0f;  // 130 px away, moving at most 1.5 px / frame
  pong.set_state(s);
  float total = 0.0f;
  for (int i = 0; i < 20; ++i) total += pong.Step(Pong::kNoop).reward;
  EXPECT_EQ(total, 1.0f);
}

// Average return over `episodes` short games for a policy.
template <typename Policy>
double MeanReturn(uint64_t seed, int episodes, Policy policy) {
  PongOptions options;
  options.points_to_win = 3;
  options.max_frames = 4000;
  Pong pong(seed, options);
  double total = 0.0;
  for (int e = 0; e < episodes; ++e) {
    pong.Reset();
    for (;;) {
      const Pong::StepResult r = pong.Step(policy(pong.state()));
      total += r.reward;
      if (r.terminated || r.truncated) break;
    }
  }
  return total / episodes;
}

int TrackBall(const PongState& s) {
  const float paddle_centre = s.agent_y + Pong::kPaddleHeight / 2.0f;
  const float ball_centre = s.ball_y + Pong::kBallHeight / 2.0f;
  if (ball_centre < paddle_centre - 2.0f) return Pong::kUp;
  if (ball_centre > paddle_centre + 2.0f) return Pong::kDown;
  return Pong::kNoop;
}

TEST(PongTest, TrackingPolicyBeatsRandomPolicy) {
  Rng rng(99);
  const double random_return = MeanReturn(10, 5, [&](const PongState&) {
    return static_cast<int>(rng.UniformInt(3));
  });
  const double tracking_return = MeanReturn(10, 5, TrackBall);
  RecordProperty("random_return", std::to_string(random_return));
  RecordProperty("tracking_return", std::to_string(tracking_return));
  EXPECT_GT(tracking_return, random_return + 1.0);
}

std::vector<uint8_t> Rollout(uint64_t seed) {
  Pong pong(seed);
  Rng policy(1);
  for (int i = 0; i < 500; ++i) {
    pong.Step(static_cast<int>(policy.UniformInt(3)));
  }
  return pong.frame();
}

TEST(PongTest, DeterministicPerSeed) {
  EXPECT_EQ(Rollout(3), Rollout(3));
  EXPECT_NE(Rollout(3), Rollout(4));
}

TEST(PongTest, TruncatesAtMaxFrames) {
  PongOptions options;
  options.max_frames = 10;
  Pong pong(11, options);
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(pong.Step(Pong::kNoop).truncated);
  EXPECT_TRUE(pong.Step(Pong::kNoop).truncated);
  EXPECT_EQ(pong.frame_count(), 10);
}

TEST(PongTest, OptionsValidate) {
  EXPECT_TRUE(PongOptions().Validate().ok());
  PongOptions bad;
  bad.points_to_win = 0;
  EXPECT_FALSE(bad.Validate().ok());
  bad = PongOptions();
  bad.ball_speed_x = 0.0f;
  EXPECT_FALSE(bad.Validate().ok());
}

}  // namespace
}  // namespace eprop::env
