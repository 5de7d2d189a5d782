// MinAtar Breakout (Young & Tian 2019), with MinAtar's rules reproduced
// exactly, for reward-based e-prop agents (paper Figs. 4-5).
//
// The game is a 10x10 grid. The paddle lives on the bottom row (y = 9) and
// moves one cell per step. The ball moves one cell diagonally per step; it
// starts at row 3, in column 0 heading down-right or column 9 heading
// down-left (chosen uniformly at random). Rows 1-3 start full of bricks.
//
// One step, in MinAtar's order:
//   1. Move the paddle (clamped to [0, 9]).
//   2. Propose the ball's next cell from its direction.
//   3. Side walls: clamp x into [0, 9] and reverse the horizontal direction.
//   4. Then exactly one of:
//      - top wall (y < 0): y = 0, reverse the vertical direction;
//      - brick at the proposed cell: if the previous step did not also strike
//        a brick, reward +1, remove the brick, stay on the old row and reverse
//        the vertical direction (if it did, the ball moves into the cell and
//        the brick stays - MinAtar's "strike" rule);
//      - bottom row (y = 9): if no bricks are left, rows 1-3 are refilled.
//        If the paddle is under the ball's old column, the ball reverses
//        vertically; else if the paddle is under the new column (the ball
//        clips the paddle's corner), both directions reverse; otherwise the
//        game is over (terminal). On a bounce the ball stays on row 8.
//
// Actions: MinAtar's full set is {n, l, u, r, d, f} (6); Breakout's minimal
// set is {n, l, r}, which is what this class exposes: 0 = no-op, 1 = left,
// 2 = right.
//
// Sticky actions (MinAtar's Environment wrapper): before every step a
// uniform draw decides, with probability sticky_action_probability, to
// repeat the previously executed action instead of the requested one. The
// previous action is no-op when the object is constructed and, as in
// MinAtar (whose Environment.reset() leaves last_action alone), it carries
// over across Reset(): the first step of an episode may repeat the last
// action of the previous one.
//
// Observation: MinAtar's state tensor, 10 x 10 x 4 in row-major (y, x,
// channel) order with channels paddle, ball, trail (the ball's previous
// cell), brick; every entry is 0 or 1.
#ifndef EPROP_CORE_ENV_BREAKOUT_H_
#define EPROP_CORE_ENV_BREAKOUT_H_

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "core/util/random.h"

namespace eprop::env {

struct BreakoutOptions {
  // MinAtar's default is 0.1; use 0 for a deterministic game.
  double sticky_action_probability = 0.1;
  // Steps after which an episode is truncated; 0 means no limit.
  int max_episode_steps = 0;

  absl::Status Validate() const;
};

// The complete game state. Public so tests can build scenarios and so a
// caller can snapshot a game.
struct BreakoutState {
  static constexpr int kSize = 10;
  // Directions: 0 up-left, 1 up-right, 2 down-right, 3 down-left
  // (up means decreasing y).
  int ball_x = 0;
  int ball_y = 3;
  int ball_dir = 2;
  int last_x = 0;  // the ball's previous cell (the "trail")
  int last_y = 3;
  int paddle_x = 4;
  bool strike = false;  // the previous step struck a brick
  bool terminal = false;
  std::array<uint8_t, kSize * kSize> bricks{};  // [y * kSize + x], 0 or 1

  uint8_t brick(int x, int y) const { return bricks[y * kSize + x]; }
  void set_brick(int x, int y, uint8_t v) { bricks[y * kSize + x] = v; }
  int brick_count() const;
};

class Breakout {
 public:
  enum Action { kNoop = 0, kLeft = 1, kRight = 2 };
  enum Channel { kPaddle = 0, kBall = 1, kTrail = 2, kBrick = 3 };
  static constexpr int kGridSize = BreakoutState::kSize;
  static constexpr int kNumChannels = 4;
  static constexpr int kObservationSize =
      kGridSize * kGridSize * kNumChannels;  // 400
  static constexpr int kNumActions = 3;

  struct StepResult {
    float reward = 0.0f;
    bool terminated = false;  // the ball passed the paddle
    bool truncated = false;   // max_episode_steps reached
  };

  // Starts the first episode. `options` must be valid (see Validate()).
  explicit Breakout(uint64_t seed, BreakoutOptions options = {});

  // Starts a new episode; draws the ball's start from the generator. Keeps
  // the previously executed action for sticky actions (as MinAtar).
  void Reset();

  // Advances one step. `action` must be in [0, kNumActions). After the
  // episode has ended (terminated or truncated) this changes nothing and
  // returns zero reward with the same flags; call Reset().
  StepResult Step(int action);

  int num_actions() const { return kNumActions; }

  // Writes kObservationSize values (0 or 1), layout (y, x, channel).
  void Observe(float* out) const;
  void Observe(uint8_t* out) const;

  const BreakoutState& state() const { return state_; }
  // Replaces the game state (for tests and scenario setup); keeps the step
  // count and the previous action.
  void set_state(const BreakoutState& state) { state_ = state; }

  int episode_steps() const { return episode_steps_; }
  // The action executed in the last step (after stickiness), as 0..2;
  // not cleared by Reset().
  int last_action() const { return last_action_; }

 private:
  // MinAtar's game dynamics for one executed action; returns the reward.
  float Advance(int action);
  // Resolves the ball reaching the bottom row at column new_x.
  void HitBottomRow(int new_x, int* new_y);

  Rng rng_;
  BreakoutOptions options_;
  BreakoutState state_;
  int last_action_ = kNoop;
  int episode_steps_ = 0;
  bool truncated_ = false;
};

}  // namespace eprop::env

#endif  // EPROP_CORE_ENV_BREAKOUT_H_
