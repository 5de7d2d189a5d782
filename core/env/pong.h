// A Pong-like game rendered as 210 x 160 RGB frames in the visual style of
// Atari 2600 Pong, for pixel-based reward learning (paper Figs. 4-5). It is
// not an emulator: the dynamics are a simple model chosen so that a
// scripted opponent can be beaten.
//
// Screen layout (rows y from the top, columns x from the left, pixels):
//   [0, 24)    score area: opponent's score (left, orange), agent's (right,
//              green), drawn with a 3x5 font scaled 4x
//   [24, 34)   top wall;  [194, 210) bottom wall
//   [34, 194)  playing field
//   opponent paddle x in [16, 20), agent paddle x in [140, 144); both 16
//   tall. Ball 2 wide, 4 tall.
//
// One frame (Step):
//   1. The agent's paddle moves by paddle_speed (0 no-op, 1 up, 2 down),
//      clamped to the field.
//   2. The opponent's paddle moves toward the ball's height by at most
//      opponent_speed, so steep shots can beat it.
//   3. The ball moves by its velocity; it reflects off the walls. A ball
//      crossing a paddle's face while overlapping it vertically bounces:
//      vx flips, vy = max_ball_vy * (offset of the ball's centre from the
//      paddle's centre, in [-1, 1]) plus a small uniform jitter.
//   4. A ball leaving the screen on the left scores for the agent (+1), on
//      the right for the opponent (-1). The ball is then served again from
//      the centre in a random direction. The episode terminates when a side
//      reaches points_to_win; it is truncated after max_frames (0 = never).
#ifndef EPROP_CORE_ENV_PONG_H_
#define EPROP_CORE_ENV_PONG_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "core/util/random.h"

namespace eprop::env {

struct PongOptions {
  int points_to_win = 21;
  int max_frames = 0;           // truncation; 0 means no limit
  float paddle_speed = 4.0f;    // agent [px / frame]
  float opponent_speed = 1.5f;  // scripted opponent [px / frame]
  float ball_speed_x = 2.0f;    // |vx| [px / frame], constant
  float max_ball_vy = 3.0f;     // |vy| after an edge hit [px / frame]
  float serve_max_vy = 1.5f;    // serve vy uniform in [-this, this]
  float bounce_jitter = 0.25f;  // uniform vy noise on paddle hits

  absl::Status Validate() const;
};

// Positions are the top-left corner of each object in pixels; the frame
// draws an object at floor() of its position.
struct PongState {
  float ball_x = 0.0f;
  float ball_y = 0.0f;
  float ball_vx = 0.0f;
  float ball_vy = 0.0f;
  float agent_y = 0.0f;
  float opponent_y = 0.0f;
  int agent_score = 0;
  int opponent_score = 0;
};

class Pong {
 public:
  enum Action { kNoop = 0, kUp = 1, kDown = 2 };
  static constexpr int kHeight = 210;
  static constexpr int kWidth = 160;
  static constexpr int kChannels = 3;
  static constexpr int kNumActions = 3;
  static constexpr int kScoreBottom = 24;
  static constexpr int kFieldTop = 34;
  static constexpr int kFieldBottom = 194;
  static constexpr int kPaddleWidth = 4;
  static constexpr int kPaddleHeight = 16;
  static constexpr int kOpponentX = 16;
  static constexpr int kAgentX = 140;
  static constexpr int kBallWidth = 2;
  static constexpr int kBallHeight = 4;

  struct Rgb {
    uint8_t r, g, b;
  };
  static constexpr Rgb kBackground = {144, 72, 17};
  static constexpr Rgb kWall = {236, 236, 236};
  static constexpr Rgb kBall = {236, 236, 236};
  static constexpr Rgb kAgentColor = {92, 186, 92};
  static constexpr Rgb kOpponentColor = {213, 130, 74};

  struct StepResult {
    float reward = 0.0f;  // +1 agent scored, -1 opponent scored, else 0
    bool terminated = false;
    bool truncated = false;
  };

  // Starts the first episode. `options` must be valid (see Validate()).
  explicit Pong(uint64_t seed, PongOptions options = {});

  // New episode: scores 0, paddles centred, ball served at random.
  void Reset();

  // Advances one frame. `action` must be in [0, kNumActions). After the
  // episode has ended this changes nothing and returns zero reward.
  StepResult Step(int action);

  // The current frame, kHeight x kWidth x 3, row-major, RGB.
  const std::vector<uint8_t>& frame() const { return frame_; }
  int num_actions() const { return kNumActions; }
  int frame_count() const { return frames_; }

  const PongState& state() const { return state_; }
  // Replaces the state (tests, scenarios) and re-renders the frame.
  void set_state(const PongState& state);

 private:
  void Serve();
  void MoveOpponent();
  // Moves the ball one frame; returns +1 / -1 on a point, else 0.
  int MoveBall();
  void BounceOffPaddle(float paddle_y);
  void Render();
  void FillRect(int x, int y, int w, int h, Rgb color);
  void DrawNumber(int value, int right_x, Rgb color);

  Rng rng_;
  PongOptions options_;
  PongState state_;
  int frames_ = 0;
  bool done_ = false;
  bool truncated_ = false;
  std::vector<uint8_t> background_;  // walls and background, prerendered
  std::vector<uint8_t> frame_;
};

}  // namespace eprop::env

#endif  // EPROP_CORE_ENV_PONG_H_
