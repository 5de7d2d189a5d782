#include "server/reinforcement_job.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/rl/breakout_training.h"
#include "server/environment_hub.h"
#include "server/job_spec.h"

namespace eprop::server {
namespace {

// How often a remote job looks at its hub's counters.
constexpr absl::Duration kRemotePollInterval = absl::Milliseconds(50);

// The counters a job continues from after a resume.
struct Baseline {
  int64_t frames = 0;
  int64_t episodes = 0;
  double wall_s = 0.0;
};

Baseline BaselineOf(const ReinforcementResume& resume) {
  Baseline b;
  if (resume.metrics != nullptr) {
    b.frames = resume.metrics->frames();
    b.episodes = resume.metrics->episodes();
    b.wall_s = resume.metrics->wall_s();
  }
  return b;
}

// The fields every reinforcement metrics entry has; elapsed_s is this
// run's (since the resume) wall time, run_frames its frames.
v1::IterationMetrics MakeMetrics(const Baseline& base, int64_t updates,
                                 int64_t run_frames, int64_t run_episodes,
                                 double elapsed_s) {
  v1::IterationMetrics m;
  m.set_iteration(updates);
  m.set_frames(base.frames + run_frames);
  m.set_episodes(base.episodes + run_episodes);
  m.set_wall_s(base.wall_s + elapsed_s);
  m.set_frames_per_s(elapsed_s > 0 ? run_frames / elapsed_s : 0.0);
  return m;
}

absl::StatusOr<ReinforcementJobResult> RunBuiltin(
    const v1::JobSpec& spec, const ReinforcementResume& resume,
    const std::atomic<bool>* stop, const ReinforcementJobHooks& hooks) {
  const v1::ReinforcementSpec& rl = spec.reinforcement();
  const Baseline base = BaselineOf(resume);
  BreakoutTrainingOptions options;
  options.frames = rl.max_frames();
  options.num_envs = rl.num_envs();
  options.env_seed = spec.seed();
  options.agent = ToAgentConfig(spec);
  options.report_every_frames = rl.report_every_frames();
  options.resume_from = resume.checkpoint;
  options.resume_frames = std::min(base.frames, rl.max_frames());
  options.on_checkpoint = hooks.on_checkpoint;
  const auto on_report = [&](const BreakoutTrainingMetrics& r) {
    v1::IterationMetrics m =
        MakeMetrics(base, r.updates, r.frames - options.resume_frames,
                    r.episodes, r.elapsed_s);
    m.set_loss(r.loss);
    m.set_rate_hz(r.rate_hz);
    m.set_entropy_nats(r.entropy);
    m.set_avg_return_last100(r.avg_return_last100);
    hooks.on_metrics(m);
  };
  TrainingCheckpoint final_state;
  absl::StatusOr<BreakoutTrainingMetrics> result =
      TrainBreakout(options, on_report, stop, &final_state);
  if (!result.ok()) return result.status();
  // The final report precedes the final state; both hold the same update
  // count, so a resume from this state keeps that report.
  hooks.on_checkpoint(final_state);
  ReinforcementJobResult out;
  out.updates = result->updates;
  out.frames = result->frames;
  out.stopped = result->frames < rl.max_frames();
  return out;
}

absl::StatusOr<ReinforcementJobResult> RunRemote(
    const std::string& job_id, const v1::JobSpec& spec,
    const ReinforcementResume& resume, EnvironmentRegistry* registry,
    const std::atomic<bool>* stop, const ReinforcementJobHooks& hooks) {
  const v1::ReinforcementSpec& rl = spec.reinforcement();
  const Baseline base = BaselineOf(resume);
  EnvironmentHubOptions options;
  options.job_id = job_id;
  options.agent = ToAgentConfig(spec);
  options.observation_spec = rl.observation_spec();
  options.max_queueing_delay = absl::Milliseconds(rl.max_queueing_delay_ms());
  // RGB frames: the ALE preprocessing; its random draws are seeded apart
  // from the agent's (seed, seed + 1, seed + 2).
  options.frame_preprocessing = ToFramePreprocessing(rl);
  options.frame_seed = spec.seed() + 1000;
  absl::StatusOr<std::unique_ptr<EnvironmentHub>> created =
      EnvironmentHub::Create(options);
  if (!created.ok()) return created.status();
  std::shared_ptr<EnvironmentHub> hub = *std::move(created);
  if (resume.checkpoint != nullptr) {
    if (absl::Status s = hub->RestoreAgentState(*resume.checkpoint); !s.ok()) {
      return s;
    }
  }
  hub->Start();
  registry->Add(job_id, hub);

  const absl::Time start = absl::Now();
  const int64_t budget = std::max<int64_t>(rl.max_frames() - base.frames, 0);
  auto report = [&](const EnvironmentHubMetrics& h) {
    hooks.on_checkpoint(hub->SaveAgentState());
    v1::IterationMetrics m =
        MakeMetrics(base, h.updates, h.frames, h.episodes,
                    absl::ToDoubleSeconds(absl::Now() - start));
    m.set_loss(h.loss);
    m.set_rate_hz(h.rate_hz);
    m.set_entropy_nats(h.entropy);
    m.set_avg_return_last100(h.avg_return_last100);
    m.set_connected_environments(h.connected);
    hooks.on_metrics(m);
  };
  int64_t next_report = rl.report_every_frames();
  EnvironmentHubMetrics h = hub->metrics();
  while (h.frames < budget && !stop->load()) {
    absl::SleepFor(kRemotePollInterval);
    h = hub->metrics();
    if (h.frames >= next_report && h.frames < budget) {
      report(h);
      next_report = (h.frames / rl.report_every_frames() + 1) *
                    rl.report_every_frames();
    }
  }
  const bool stopped = h.frames < budget;
  registry->Remove(job_id, stopped ? hooks.stop_reason() : absl::OkStatus());
  h = hub->metrics();
  report(h);
  ReinforcementJobResult out;
  out.updates = h.updates;
  out.frames = base.frames + h.frames;
  out.stopped = stopped;
  return out;
}

}  // namespace

absl::StatusOr<ReinforcementJobResult> RunReinforcementJob(
    const std::string& job_id, const v1::JobSpec& resolved,
    const ReinforcementResume& resume, EnvironmentRegistry* registry,
    const std::atomic<bool>* stop, const ReinforcementJobHooks& hooks) {
  if (resolved.reinforcement().source() == v1::ENVIRONMENT_SOURCE_BUILTIN) {
    return RunBuiltin(resolved, resume, stop, hooks);
  }
  if (registry == nullptr) {
    return absl::FailedPreconditionError(
        "this server does not accept remote environments");
  }
  return RunRemote(job_id, resolved, resume, registry, stop, hooks);
}

}  // namespace eprop::server
