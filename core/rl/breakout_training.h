// In-process reward-based e-prop training on MinAtar Breakout: num_envs
// games (core/env/breakout.h) stepped in lockstep with one
// ActorCriticAgent. A frame is one environment step, so every decision of
// the agent advances num_envs frames. A game whose episode ends (terminated
// or truncated) has its return recorded and is reset at once; the agent
// sees the transition as terminal (its network state for that game is reset
// too).
#ifndef EPROP_CORE_RL_BREAKOUT_TRAINING_H_
#define EPROP_CORE_RL_BREAKOUT_TRAINING_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/env/breakout.h"
#include "core/rl/actor_critic_agent.h"
#include "core/train/checkpoint.h"

namespace eprop {

struct BreakoutTrainingOptions {
  int64_t frames = 5000000;  // budget, summed over all games
  int num_envs = 32;
  // Game i is seeded with env_seed + i.
  uint64_t env_seed = 1;
  env::BreakoutOptions env;
  // The agent; num_envs, network.n_in (400), n_actions (3) and network.n_out
  // (4) are set by the training loop.
  AgentConfig agent;
  // The callback runs every this many frames (rounded up to whole
  // decisions) and once at the end.
  int64_t report_every_frames = 100000;
  // Resuming an earlier run: the agent starts from this state (weights,
  // optimizer, update count; the games start afresh) and the frame count
  // from resume_frames, which the budget `frames` includes.
  const TrainingCheckpoint* resume_from = nullptr;
  int64_t resume_frames = 0;
  // If set, receives the agent's state right before every report except
  // the final one (that state goes to TrainBreakout's final_state).
  std::function<void(const TrainingCheckpoint&)> on_checkpoint;

  absl::Status Validate() const;
};

struct BreakoutTrainingMetrics {
  int64_t frames = 0;  // including BreakoutTrainingOptions::resume_frames
  int64_t episodes = 0;  // finished episodes
  // Mean return of the last min(100, episodes) finished episodes (0 before
  // the first).
  double avg_return_last100 = 0.0;
  double frames_per_s = 0.0;  // over this run (since a resume) so far
  double elapsed_s = 0.0;
  int64_t updates = 0;
  double loss = 0.0;     // the agent's last update
  double entropy = 0.0;  // mean policy entropy of the last update [nats]
  double rate_hz = 0.0;  // mean firing rate of the last update
  bool final = false;    // the last report of the run
};

using BreakoutTrainingCallback =
    std::function<void(const BreakoutTrainingMetrics&)>;

// Trains until options.frames frames are done or *cancel becomes true
// (checked every decision). Returns the final metrics, or an error if the
// options are invalid. If final_state is not null, it receives the agent's
// SaveState() at the end of the run (also when cancelled).
absl::StatusOr<BreakoutTrainingMetrics> TrainBreakout(
    const BreakoutTrainingOptions& options,
    const BreakoutTrainingCallback& on_report = nullptr,
    const std::atomic<bool>* cancel = nullptr,
    TrainingCheckpoint* final_state = nullptr);

}  // namespace eprop

#endif  // EPROP_CORE_RL_BREAKOUT_TRAINING_H_
