#include "core/env/breakout.h"

#include <algorithm>
#include <cassert>

#include "absl/strings/str_cat.h"

namespace eprop::env {
namespace {

constexpr int kLast = BreakoutState::kSize - 1;  // index of the last row/col
constexpr int kFirstBrickRow = 1;
constexpr int kLastBrickRow = 3;

// Direction tables, indexed by the current direction.
constexpr int kReverseX[4] = {1, 0, 3, 2};
constexpr int kReverseY[4] = {3, 2, 1, 0};
constexpr int kReverseBoth[4] = {2, 3, 0, 1};
constexpr int kDx[4] = {-1, 1, 1, -1};
constexpr int kDy[4] = {-1, -1, 1, 1};

void FillBrickRows(BreakoutState* s) {
  for (int y = kFirstBrickRow; y <= kLastBrickRow; ++y) {
    for (int x = 0; x <= kLast; ++x) s->set_brick(x, y, 1);
  }
}

}  // namespace

absl::Status BreakoutOptions::Validate() const {
  if (!(sticky_action_probability >= 0.0 && sticky_action_probability <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sticky_action_probability must be in [0, 1], got ",
                     sticky_action_probability));
  }
  if (max_episode_steps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_episode_steps must be >= 0 (0 = no limit), got ",
                     max_episode_steps));
  }
  return absl::OkStatus();
}

int BreakoutState::brick_count() const {
  int n = 0;
  for (uint8_t b : bricks) n += b;
  return n;
}

Breakout::Breakout(uint64_t seed, BreakoutOptions options)
    : rng_(seed), options_(options) {
  assert(options_.Validate().ok());
  Reset();
}

void Breakout::Reset() {
  state_ = BreakoutState();
  const bool start_right = rng_.UniformInt(2) == 1;
  state_.ball_x = start_right ? kLast : 0;
  state_.ball_dir = start_right ? 3 : 2;
  state_.ball_y = 3;
  state_.last_x = state_.ball_x;
  state_.last_y = state_.ball_y;
  FillBrickRows(&state_);
  // last_action_ is deliberately kept: MinAtar's sticky-action wrapper only
  // sets it in its constructor, so stickiness spans episode boundaries.
  episode_steps_ = 0;
  truncated_ = false;
}

Breakout::StepResult Breakout::Step(int action) {
  assert(action >= 0 && action < kNumActions);
  if (state_.terminal || truncated_) {
    return {0.0f, state_.terminal, truncated_};
  }
  if (action < 0 || action >= kNumActions) action = kNoop;
  // One draw per step, as MinAtar, whatever the probability.
  if (rng_.Uniform() < options_.sticky_action_probability) {
    action = last_action_;
  }
  last_action_ = action;
  StepResult result;
  result.reward = Advance(action);
  ++episode_steps_;
  result.terminated = state_.terminal;
  truncated_ = !state_.terminal && options_.max_episode_steps > 0 &&
               episode_steps_ >= options_.max_episode_steps;
  result.truncated = truncated_;
  return result;
}

float Breakout::Advance(int action) {
  BreakoutState& s = state_;
  if (action == kLeft) s.paddle_x = std::max(0, s.paddle_x - 1);
  if (action == kRight) s.paddle_x = std::min(kLast, s.paddle_x + 1);

  s.last_x = s.ball_x;
  s.last_y = s.ball_y;
  int new_x = s.ball_x + kDx[s.ball_dir];
  int new_y = s.ball_y + kDy[s.ball_dir];

  float reward = 0.0f;
  bool strike_now = false;
  if (new_x < 0 || new_x > kLast) {
    new_x = std::clamp(new_x, 0, kLast);
    s.ball_dir = kReverseX[s.ball_dir];
  }
  if (new_y < 0) {
    new_y = 0;
    s.ball_dir = kReverseY[s.ball_dir];
  } else if (s.brick(new_x, new_y) == 1) {
    strike_now = true;
    if (!s.strike) {
      reward = 1.0f;
      s.strike = true;
      s.set_brick(new_x, new_y, 0);
      new_y = s.last_y;
      s.ball_dir = kReverseY[s.ball_dir];
    }
  } else if (new_y == kLast) {
    HitBottomRow(new_x, &new_y);
  }
  if (!strike_now) s.strike = false;
  s.ball_x = new_x;
  s.ball_y = new_y;
  return reward;
}

void Breakout::HitBottomRow(int new_x, int* new_y) {
  BreakoutState& s = state_;
  if (s.brick_count() == 0) FillBrickRows(&s);
  if (s.ball_x == s.paddle_x) {
    s.ball_dir = kReverseY[s.ball_dir];
    *new_y = s.last_y;
  } else if (new_x == s.paddle_x) {
    s.ball_dir = kReverseBoth[s.ball_dir];
    *new_y = s.last_y;
  } else {
    s.terminal = true;
  }
}

void Breakout::Observe(uint8_t* out) const {
  std::fill(out, out + kObservationSize, uint8_t{0});
  auto at = [](int x, int y, int c) {
    return (y * kGridSize + x) * kNumChannels + c;
  };
  out[at(state_.ball_x, state_.ball_y, kBall)] = 1;
  out[at(state_.paddle_x, kLast, kPaddle)] = 1;
  out[at(state_.last_x, state_.last_y, kTrail)] = 1;
  for (int y = 0; y < kGridSize; ++y) {
    for (int x = 0; x < kGridSize; ++x) {
      out[at(x, y, kBrick)] = state_.brick(x, y);
    }
  }
}

void Breakout::Observe(float* out) const {
  std::array<uint8_t, kObservationSize> bits;
  Observe(bits.data());
  for (int i = 0; i < kObservationSize; ++i) out[i] = bits[i];
}

}  // namespace eprop::env
