// Translation between the job contract (proto/eprop/v1/jobs.proto) and the
// core trainer: validation of a submitted JobSpec against the server's
// limits, the defaults that fill it in, and metric conversion. Shared by the
// server (submit, run) and the CLI (flags to spec, plots of a job).
#ifndef EPROP_SERVER_JOB_SPEC_H_
#define EPROP_SERVER_JOB_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/env/atari_preprocessing.h"
#include "core/rl/actor_critic_agent.h"
#include "core/train/metrics.h"
#include "core/train/trainer.h"
#include "eprop/v1/jobs.pb.h"

namespace eprop::server {

// Limits a server enforces on every job (flags of eprop-server).
struct JobLimits {
  int64_t max_iterations = 1000000;
  int max_neurons = 20000;
  int64_t max_job_memory_bytes = int64_t{4} << 30;
  int max_threads = 2;
  int default_threads = 1;
};

inline constexpr int64_t kDefaultCheckpointEvery = 50;
inline constexpr size_t kMaxDisplayNameBytes = 200;

// Validates `spec` against `limits` and returns it with every default
// filled in (task network and optimizer values included), or
// INVALID_ARGUMENT naming the field and the allowed values, or
// RESOURCE_EXHAUSTED for a job that needs more memory than allowed. Cheap:
// allocates no network.
absl::StatusOr<v1::JobSpec> ResolveJobSpec(const v1::JobSpec& spec,
                                           const JobLimits& limits);

// Every task a job may name, in the order `eprop server-info` lists them.
inline constexpr v1::Task kJobTasks[] = {
    v1::TASK_EVIDENCE_ACCUMULATION, v1::TASK_PATTERN_GENERATION,
    v1::TASK_BREAKOUT, v1::TASK_REMOTE_ENVIRONMENT};

// Reward-based e-prop tasks: an ActorCriticAgent learns from environments
// (JobSpec.reinforcement) instead of a Trainer from a task's data.
bool IsReinforcementTask(v1::Task task);
// The agent of a resolved reinforcement spec (n_in = screen_size^2 for
// RGB_FRAME observations).
AgentConfig ToAgentConfig(const v1::JobSpec& resolved);
// The frame preprocessing of a resolved reinforcement spec: set for
// RGB_FRAME observations only.
std::optional<env::PreprocessingOptions> ToFramePreprocessing(
    const v1::ReinforcementSpec& resolved);

// The trainer inputs of a resolved supervised spec.
struct TrainerInputs {
  std::string task;
  TrainerConfig config;
};
TrainerInputs ToTrainerInputs(const v1::JobSpec& resolved);

// Snake-case names ("evidence_accumulation", "eprop_random") and back.
std::string TaskName(v1::Task task);
absl::StatusOr<v1::Task> ParseTask(const std::string& name);
v1::Algorithm ToProto(Algorithm algorithm);
std::string AlgorithmNameOf(v1::Algorithm algorithm);
std::string JobStateName(v1::JobState state);  // "queued", "running", ...
bool IsFinal(v1::JobState state);

v1::IterationMetrics ToProto(const IterationMetrics& m);
IterationMetrics FromProto(const v1::IterationMetrics& m);

}  // namespace eprop::server

#endif  // EPROP_SERVER_JOB_SPEC_H_
