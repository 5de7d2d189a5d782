// Reward-based e-prop on MinAtar Breakout (core/rl/breakout_training.h):
// trains for --frames frames and prints one JSON line per report
//   {"frames", "episodes", "avg_return_last100", "frames_per_s",
//    "elapsed_s", "loss", "entropy", "rate_hz", "updates", "final"}
// and a final line with "final": true. The acceptance: an average
// return >= 5 over the last 100 episodes within 5 million frames (random
// play ~0.38). Hyperparameter flags default to AgentConfig's defaults.
//
// Measured with the defaults (2 shared cores, Release; avg return of the
// last 100 episodes at 1M / 2M / 3M / 4M / 5M frames, wall time for 5M):
//   --seed 1: 2.83 / 4.73 / 5.98 / 6.87 / 7.96   73 s (68k frames/s)
//   --seed 2: 3.14 / 4.31 / 4.88 / 6.16 / 6.73   62 s (one thread)
//   --seed 3: 3.25 / 4.94 / 5.84 / 7.04 / 7.42   54 s (92k frames/s)
// Variations (seed 1, 5M frames): --unroll 40: 7.23; --n_lif 192
// --n_alif 128: 7.15 (5.37 already at 1.5M); --feedback random: 5.67;
// --k 1: 4.08; --lr 2e-3: 3.88.
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "core/rl/breakout_training.h"
#include "core/util/parallel.h"

ABSL_FLAG(int64_t, frames, 5000000, "frame budget (all games together)");
ABSL_FLAG(int, envs, 32, "games stepped in lockstep");
ABSL_FLAG(uint64_t, seed, 1, "agent seed; games use seed * 1000 + i");
ABSL_FLAG(int, threads, 2, "worker threads");
ABSL_FLAG(int64_t, report_every_frames, 100000, "frames between reports");
ABSL_FLAG(double, lr, -1, "Adam learning rate (-1: default)");
ABSL_FLAG(double, entropy_cost, -1, "entropy cost c_H (-1: default)");
ABSL_FLAG(double, discount, -1, "discount (-1: default)");
ABSL_FLAG(int, unroll, -1, "decisions per unroll (-1: default)");
ABSL_FLAG(int, k, -1, "network steps per decision (-1: default)");
ABSL_FLAG(int, n_lif, -1, "LIF neurons (-1: default)");
ABSL_FLAG(int, n_alif, -1, "ALIF neurons (-1: default)");
ABSL_FLAG(double, tau_out, -1, "readout time constant [ms] (-1: default)");
ABSL_FLAG(double, in_scale, -1, "input weight scale (-1: default)");
ABSL_FLAG(double, rec_scale, -1, "recurrent weight scale (-1: default)");
ABSL_FLAG(double, clip, -1, "global-norm clip (-1: default, 0: none)");
ABSL_FLAG(double, c_reg, -1, "firing-rate regulariser (-1: default)");
ABSL_FLAG(double, reward_scale, -1, "reward scale (-1: default)");
ABSL_FLAG(std::string, feedback, "", "symmetric | random (empty: default)");
ABSL_FLAG(bool, first_step_input, false, "input only at the first step");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  eprop::FlushDenormalsScope flush;
  eprop::BreakoutTrainingOptions o;
  o.frames = absl::GetFlag(FLAGS_frames);
  o.num_envs = absl::GetFlag(FLAGS_envs);
  o.env_seed = absl::GetFlag(FLAGS_seed) * 1000;
  o.report_every_frames = absl::GetFlag(FLAGS_report_every_frames);
  eprop::AgentConfig& a = o.agent;
  a.seed = absl::GetFlag(FLAGS_seed);
  a.threads = absl::GetFlag(FLAGS_threads);
  if (absl::GetFlag(FLAGS_lr) > 0) {
    a.optimizer.learning_rate = absl::GetFlag(FLAGS_lr);
  }
  if (absl::GetFlag(FLAGS_entropy_cost) >= 0) {
    a.entropy_cost = absl::GetFlag(FLAGS_entropy_cost);
  }
  if (absl::GetFlag(FLAGS_discount) >= 0) {
    a.discount = absl::GetFlag(FLAGS_discount);
  }
  if (absl::GetFlag(FLAGS_unroll) > 0) {
    a.unroll_decisions = absl::GetFlag(FLAGS_unroll);
  }
  if (absl::GetFlag(FLAGS_k) > 0) a.steps_per_action = absl::GetFlag(FLAGS_k);
  if (absl::GetFlag(FLAGS_n_lif) >= 0) {
    a.network.n_lif = absl::GetFlag(FLAGS_n_lif);
  }
  if (absl::GetFlag(FLAGS_n_alif) >= 0) {
    a.network.n_alif = absl::GetFlag(FLAGS_n_alif);
  }
  if (absl::GetFlag(FLAGS_tau_out) >= 0) {
    a.network.tau_out_ms = absl::GetFlag(FLAGS_tau_out);
  }
  if (absl::GetFlag(FLAGS_in_scale) >= 0) {
    a.input_weight_scale = absl::GetFlag(FLAGS_in_scale);
  }
  if (absl::GetFlag(FLAGS_rec_scale) >= 0) {
    a.recurrent_weight_scale = absl::GetFlag(FLAGS_rec_scale);
  }
  if (absl::GetFlag(FLAGS_clip) >= 0) {
    a.optimizer.clip_global_norm = absl::GetFlag(FLAGS_clip);
  }
  if (absl::GetFlag(FLAGS_c_reg) >= 0)
    a.rate.c_reg = absl::GetFlag(FLAGS_c_reg);
  if (absl::GetFlag(FLAGS_reward_scale) >= 0) {
    a.reward_scale = absl::GetFlag(FLAGS_reward_scale);
  }
  const std::string fb = absl::GetFlag(FLAGS_feedback);
  if (fb == "symmetric") {
    a.feedback.mode = eprop::FeedbackMode::kSymmetric;
  } else if (fb == "random") {
    a.feedback.mode = eprop::FeedbackMode::kRandom;
  } else if (!fb.empty()) {
    std::fprintf(stderr, "--feedback must be symmetric or random, got %s\n",
                 fb.c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_first_step_input)) {
    a.input_encoding = eprop::InputEncoding::kFirstStep;
  }

  const auto print = [](const eprop::BreakoutTrainingMetrics& m) {
    std::printf(
        "{\"frames\": %lld, \"episodes\": %lld, \"avg_return_last100\": %.4f, "
        "\"frames_per_s\": %.1f, \"elapsed_s\": %.2f, \"loss\": %.6g, "
        "\"entropy\": %.4f, \"rate_hz\": %.2f, \"updates\": %lld, "
        "\"final\": %s}\n",
        static_cast<long long>(m.frames), static_cast<long long>(m.episodes),
        m.avg_return_last100, m.frames_per_s, m.elapsed_s, m.loss, m.entropy,
        m.rate_hz, static_cast<long long>(m.updates),
        m.final ? "true" : "false");
    std::fflush(stdout);
  };
  const absl::StatusOr<eprop::BreakoutTrainingMetrics> result =
      eprop::TrainBreakout(o, print);
  if (!result.ok()) {
    std::fprintf(stderr, "eprop-rl-bench: %s\n",
                 std::string(result.status().message()).c_str());
    return 1;
  }
  return 0;
}
