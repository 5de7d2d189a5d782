// Runs a reinforcement-learning job (JobSpec.reinforcement, issue 6): an
// ActorCriticAgent learns with reward-based e-prop from
//   - built-in MinAtar Breakout games stepped in process
//     (core/rl/breakout_training.h), or
//   - remote environments that connect through EnvironmentService while the
//     job runs: the job's EnvironmentHub is registered under its id for as
//     long as the job runs, and removed (ending every environment's stream)
//     when it stops.
// Every report_every_frames frames it hands out a checkpoint and then a
// metrics entry (in that order, so that a metrics entry never refers to
// frames later than the newest checkpoint), and both again at the end.
//
// Resuming: the agent restarts from the checkpoint (weights, optimizer,
// update count); the frame and episode counts continue from the last
// metrics entry recorded up to that checkpoint. Environments start afresh.
#ifndef EPROP_SERVER_REINFORCEMENT_JOB_H_
#define EPROP_SERVER_REINFORCEMENT_JOB_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/train/checkpoint.h"
#include "eprop/v1/jobs.pb.h"
#include "server/environment_registry.h"

namespace eprop::server {

struct ReinforcementJobHooks {
  std::function<void(const TrainingCheckpoint&)> on_checkpoint;
  // iteration = the agent's weight updates; frames, episodes and
  // avg_return_last100 describe the whole job, including before a resume.
  std::function<void(const v1::IterationMetrics&)> on_metrics;
  // Why the job stops when *stop became true (e.g. CANCELLED for a cancel,
  // UNAVAILABLE for a server shutdown); remote environments receive it as
  // their stream's status. A job that reaches max_frames ends their
  // streams with OK.
  std::function<absl::Status()> stop_reason;
};

struct ReinforcementResume {
  const TrainingCheckpoint* checkpoint = nullptr;  // null: a fresh start
  // The last metrics entry recorded up to the checkpoint (frames, episodes,
  // wall time so far); null if none.
  const v1::IterationMetrics* metrics = nullptr;
};

struct ReinforcementJobResult {
  int64_t updates = 0;
  int64_t frames = 0;
  bool stopped = false;  // *stop ended it before max_frames
};

// `resolved` must come from ResolveJobSpec with a reinforcement task.
// Remote jobs need `registry`. Returns an error if the agent cannot be
// built or the checkpoint does not fit.
absl::StatusOr<ReinforcementJobResult> RunReinforcementJob(
    const std::string& job_id, const v1::JobSpec& resolved,
    const ReinforcementResume& resume, EnvironmentRegistry* registry,
    const std::atomic<bool>* stop, const ReinforcementJobHooks& hooks);

}  // namespace eprop::server

#endif  // EPROP_SERVER_REINFORCEMENT_JOB_H_
