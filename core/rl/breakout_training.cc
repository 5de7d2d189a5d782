#include "core/rl/breakout_training.h"

#include <chrono>
#include <deque>
#include <memory>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"

namespace eprop {

absl::Status BreakoutTrainingOptions::Validate() const {
  if (frames < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("frames must be >= 0, got ", frames));
  }
  if (num_envs < 1 || num_envs > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_envs must be in [1, 100000], got ", num_envs));
  }
  if (resume_frames < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("resume_frames must be >= 0, got ", resume_frames));
  }
  if (report_every_frames < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "report_every_frames must be >= 1, got ", report_every_frames));
  }
  if (absl::Status s = env.Validate(); !s.ok()) return s;
  return absl::OkStatus();
}

absl::StatusOr<BreakoutTrainingMetrics> TrainBreakout(
    const BreakoutTrainingOptions& options,
    const BreakoutTrainingCallback& on_report, const std::atomic<bool>* cancel,
    TrainingCheckpoint* final_state) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  AgentConfig agent_config = options.agent;
  agent_config.num_envs = options.num_envs;
  agent_config.n_actions = env::Breakout::kNumActions;
  agent_config.network.n_in = env::Breakout::kObservationSize;
  agent_config.network.n_out = env::Breakout::kNumActions + 1;
  absl::StatusOr<std::unique_ptr<ActorCriticAgent>> agent =
      ActorCriticAgent::Create(agent_config);
  if (!agent.ok()) return agent.status();
  if (options.resume_from != nullptr) {
    if (absl::Status s = (*agent)->RestoreState(*options.resume_from);
        !s.ok()) {
      return s;
    }
  }

  const int n = options.num_envs;
  constexpr int kObs = env::Breakout::kObservationSize;
  std::vector<env::Breakout> games;
  games.reserve(n);
  for (int b = 0; b < n; ++b) {
    games.emplace_back(options.env_seed + static_cast<uint64_t>(b),
                       options.env);
  }
  std::vector<float> observations(static_cast<size_t>(n) * kObs);
  std::vector<int32_t> actions(n);
  std::vector<float> rewards(n);
  std::vector<uint8_t> terminated(n);
  std::vector<double> episode_return(n, 0.0);
  std::deque<double> last_returns;
  double last_returns_sum = 0.0;

  BreakoutTrainingMetrics m;
  m.frames = options.resume_frames;
  const auto start = std::chrono::steady_clock::now();
  auto fill = [&](bool final) {
    m.elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    m.frames_per_s = m.elapsed_s > 0
                         ? (m.frames - options.resume_frames) / m.elapsed_s
                         : 0.0;
    m.avg_return_last100 =
        last_returns.empty() ? 0.0 : last_returns_sum / last_returns.size();
    const AgentMetrics& am = (*agent)->metrics();
    m.updates = am.updates;
    m.loss = am.loss;
    m.entropy = am.entropy;
    m.rate_hz = am.rate_hz;
    m.final = final;
  };

  int64_t next_report =
      (m.frames / options.report_every_frames + 1) * options.report_every_frames;
  while (m.frames < options.frames) {
    if (cancel != nullptr && cancel->load()) break;
    for (int b = 0; b < n; ++b) {
      games[b].Observe(observations.data() + static_cast<size_t>(b) * kObs);
    }
    if (absl::Status s = (*agent)->Act(observations.data(), actions.data());
        !s.ok()) {
      return s;
    }
    for (int b = 0; b < n; ++b) {
      const env::Breakout::StepResult r = games[b].Step(actions[b]);
      rewards[b] = r.reward;
      episode_return[b] += r.reward;
      const bool done = r.terminated || r.truncated;
      terminated[b] = done ? 1 : 0;
      if (done) {
        last_returns.push_back(episode_return[b]);
        last_returns_sum += episode_return[b];
        if (last_returns.size() > 100) {
          last_returns_sum -= last_returns.front();
          last_returns.pop_front();
        }
        episode_return[b] = 0.0;
        ++m.episodes;
        games[b].Reset();
      }
    }
    if (absl::Status s = (*agent)->Reward(rewards.data(), terminated.data());
        !s.ok()) {
      return s;
    }
    m.frames += n;
    if (m.frames >= next_report) {
      while (next_report <= m.frames)
        next_report += options.report_every_frames;
      if (options.on_checkpoint && m.frames < options.frames) {
        options.on_checkpoint((*agent)->SaveState());
      }
      if (on_report && m.frames < options.frames) {
        fill(false);
        on_report(m);
      }
    }
  }
  // Recompute the exact window sum (the running sum accumulates rounding).
  last_returns_sum =
      std::accumulate(last_returns.begin(), last_returns.end(), 0.0);
  fill(true);
  if (final_state != nullptr) *final_state = (*agent)->SaveState();
  if (on_report) on_report(m);
  return m;
}

}  // namespace eprop
