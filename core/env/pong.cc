#include "core/env/pong.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace eprop::env {
namespace {

constexpr float kFieldTopF = Pong::kFieldTop;
constexpr float kPaddleMaxY = Pong::kFieldBottom - Pong::kPaddleHeight;
constexpr float kBallMaxY = Pong::kFieldBottom - Pong::kBallHeight;

// 3x5 digit glyphs, one bit per cell, row-major from the top-left (bit 14).
constexpr uint16_t kDigits[10] = {
    0b111101101101111, 0b010110010010111, 0b111001111100111, 0b111001111001111,
    0b101101111001001, 0b111100111001111, 0b111100111101111, 0b111001001001001,
    0b111101111101111, 0b111101111001111};
constexpr int kGlyphScale = 4;
constexpr int kGlyphTop = 2;
constexpr int kOpponentScoreRight = 48;  // right edge of the score text
constexpr int kAgentScoreRight = 128;

float Clamp(float v, float lo, float hi) {
  return std::min(std::max(v, lo), hi);
}

}  // namespace

absl::Status PongOptions::Validate() const {
  if (points_to_win < 1 || points_to_win > 99) {
    return absl::InvalidArgumentError(
        absl::StrCat("points_to_win must be in [1, 99], got ", points_to_win));
  }
  if (max_frames < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_frames must be >= 0 (0 = no limit), got ", max_frames));
  }
  if (!(paddle_speed > 0 && opponent_speed >= 0 && ball_speed_x > 0 &&
        ball_speed_x < Pong::kPaddleWidth && max_ball_vy >= 0 &&
        serve_max_vy >= 0 && bounce_jitter >= 0)) {
    return absl::InvalidArgumentError(
        "speeds must be >= 0, paddle_speed > 0 and ball_speed_x in (0, 4)");
  }
  return absl::OkStatus();
}

Pong::Pong(uint64_t seed, PongOptions options)
    : rng_(seed),
      options_(options),
      background_(kHeight * kWidth * kChannels),
      frame_(kHeight * kWidth * kChannels) {
  assert(options_.Validate().ok());
  frame_.swap(background_);
  FillRect(0, 0, kWidth, kHeight, kBackground);
  FillRect(0, kScoreBottom, kWidth, kFieldTop - kScoreBottom, kWall);
  FillRect(0, kFieldBottom, kWidth, kHeight - kFieldBottom, kWall);
  frame_.swap(background_);
  Reset();
}

void Pong::Reset() {
  state_ = PongState();
  state_.agent_y = state_.opponent_y = (kFieldTop + kPaddleMaxY) / 2;
  frames_ = 0;
  done_ = truncated_ = false;
  Serve();
  Render();
}

void Pong::set_state(const PongState& state) {
  state_ = state;
  Render();
}

void Pong::Serve() {
  state_.ball_x = (kWidth - kBallWidth) / 2.0f;
  state_.ball_y = (kFieldTop + kBallMaxY) / 2.0f;
  const bool to_agent = rng_.UniformInt(2) == 1;
  state_.ball_vx = to_agent ? options_.ball_speed_x : -options_.ball_speed_x;
  state_.ball_vy = static_cast<float>(
      rng_.Uniform(-options_.serve_max_vy, options_.serve_max_vy));
}

Pong::StepResult Pong::Step(int action) {
  assert(action >= 0 && action < kNumActions);
  if (done_ || truncated_) return {0.0f, done_, truncated_};
  if (action == kUp) state_.agent_y -= options_.paddle_speed;
  if (action == kDown) state_.agent_y += options_.paddle_speed;
  state_.agent_y = Clamp(state_.agent_y, kFieldTopF, kPaddleMaxY);
  MoveOpponent();
  StepResult result;
  const int point = MoveBall();
  if (point != 0) {
    result.reward = static_cast<float>(point);
    (point > 0 ? state_.agent_score : state_.opponent_score) += 1;
    done_ = state_.agent_score >= options_.points_to_win ||
            state_.opponent_score >= options_.points_to_win;
    if (!done_) Serve();
  }
  ++frames_;
  truncated_ =
      !done_ && options_.max_frames > 0 && frames_ >= options_.max_frames;
  result.terminated = done_;
  result.truncated = truncated_;
  Render();
  return result;
}

void Pong::MoveOpponent() {
  const float target =
      state_.ball_y + (kBallHeight - kPaddleHeight) / 2.0f;  // centre on ball
  const float delta = Clamp(target - state_.opponent_y,
                            -options_.opponent_speed, options_.opponent_speed);
  state_.opponent_y = Clamp(state_.opponent_y + delta, kFieldTopF, kPaddleMaxY);
}

int Pong::MoveBall() {
  PongState& s = state_;
  const float old_x = s.ball_x;
  s.ball_x += s.ball_vx;
  s.ball_y += s.ball_vy;
  if (s.ball_y < kFieldTopF) {
    s.ball_y = 2 * kFieldTopF - s.ball_y;
    s.ball_vy = -s.ball_vy;
  } else if (s.ball_y > kBallMaxY) {
    s.ball_y = 2 * kBallMaxY - s.ball_y;
    s.ball_vy = -s.ball_vy;
  }
  // A paddle face is crossed when the ball's leading edge passes it.
  const float agent_face = kAgentX - kBallWidth;
  const float opponent_face = kOpponentX + kPaddleWidth;
  if (s.ball_vx > 0 && old_x <= agent_face && s.ball_x > agent_face &&
      s.ball_y + kBallHeight > s.agent_y &&
      s.ball_y < s.agent_y + kPaddleHeight) {
    s.ball_x = 2 * agent_face - s.ball_x;
    BounceOffPaddle(s.agent_y);
  } else if (s.ball_vx < 0 && old_x >= opponent_face &&
             s.ball_x < opponent_face &&
             s.ball_y + kBallHeight > s.opponent_y &&
             s.ball_y < s.opponent_y + kPaddleHeight) {
    s.ball_x = 2 * opponent_face - s.ball_x;
    BounceOffPaddle(s.opponent_y);
  }
  if (s.ball_x + kBallWidth < 0) return 1;
  if (s.ball_x > kWidth) return -1;
  return 0;
}

void Pong::BounceOffPaddle(float paddle_y) {
  const float half_span = (kPaddleHeight + kBallHeight) / 2.0f;
  const float offset =
      (state_.ball_y + kBallHeight / 2.0f) - (paddle_y + kPaddleHeight / 2.0f);
  const float jitter = static_cast<float>(
      rng_.Uniform(-options_.bounce_jitter, options_.bounce_jitter));
  state_.ball_vx = -state_.ball_vx;
  state_.ball_vy =
      options_.max_ball_vy * Clamp(offset / half_span, -1.0f, 1.0f) + jitter;
}

void Pong::FillRect(int x, int y, int w, int h, Rgb color) {
  const int x0 = std::max(x, 0), x1 = std::min(x + w, kWidth);
  const int y0 = std::max(y, 0), y1 = std::min(y + h, kHeight);
  for (int row = y0; row < y1; ++row) {
    uint8_t* p = &frame_[(row * kWidth + x0) * kChannels];
    for (int col = x0; col < x1; ++col, p += kChannels) {
      p[0] = color.r;
      p[1] = color.g;
      p[2] = color.b;
    }
  }
}

void Pong::DrawNumber(int value, int right_x, Rgb color) {
  const int glyph_w = 3 * kGlyphScale, gap = kGlyphScale;
  int x = right_x - glyph_w;
  do {
    const uint16_t glyph = kDigits[value % 10];
    for (int bit = 0; bit < 15; ++bit) {
      if ((glyph >> (14 - bit)) & 1) {
        FillRect(x + (bit % 3) * kGlyphScale,
                 kGlyphTop + (bit / 3) * kGlyphScale, kGlyphScale, kGlyphScale,
                 color);
      }
    }
    value /= 10;
    x -= glyph_w + gap;
  } while (value > 0);
}

void Pong::Render() {
  std::copy(background_.begin(), background_.end(), frame_.begin());
  DrawNumber(state_.opponent_score, kOpponentScoreRight, kOpponentColor);
  DrawNumber(state_.agent_score, kAgentScoreRight, kAgentColor);
  auto px = [](float v) { return static_cast<int>(std::floor(v)); };
  FillRect(kOpponentX, px(state_.opponent_y), kPaddleWidth, kPaddleHeight,
           kOpponentColor);
  FillRect(kAgentX, px(state_.agent_y), kPaddleWidth, kPaddleHeight,
           kAgentColor);
  FillRect(px(state_.ball_x), px(state_.ball_y), kBallWidth, kBallHeight,
           kBall);
}

}  // namespace eprop::env
