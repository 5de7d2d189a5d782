// Tests of the in-process Breakout training loop
// (core/rl/breakout_training.h): bookkeeping of frames, episodes and
// reports, option errors, and a short run in which reward-based e-prop
// clearly beats the random policy.
#include "core/rl/breakout_training.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "core/env/breakout.h"
#include "core/util/parallel.h"
#include "core/util/random.h"

namespace eprop {
namespace {

TEST(BreakoutTrainingTest, BadOptionsAreRejected) {
  BreakoutTrainingOptions o;
  o.num_envs = 0;
  absl::StatusOr<BreakoutTrainingMetrics> r = TrainBreakout(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("num_envs"), std::string::npos);
  o = BreakoutTrainingOptions();
  o.frames = 1000;
  o.agent.unroll_decisions = 0;
  r = TrainBreakout(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unroll_decisions"), std::string::npos);
}

TEST(BreakoutTrainingTest, ReportsCountFramesAndEpisodes) {
  BreakoutTrainingOptions o;
  o.frames = 4000;
  o.num_envs = 8;
  o.report_every_frames = 1000;
  o.agent.unroll_decisions = 10;
  std::vector<BreakoutTrainingMetrics> reports;
  const absl::StatusOr<BreakoutTrainingMetrics> r = TrainBreakout(
      o, [&](const BreakoutTrainingMetrics& m) { reports.push_back(m); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->frames, 4000);  // 500 decisions of 8 games
  EXPECT_TRUE(r->final);
  EXPECT_GT(r->episodes, 50);  // random-ish play loses within ~10 frames
  EXPECT_EQ(r->updates, 49);   // after every 10 decisions but the last
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_EQ(reports[0].frames, 1000);
  EXPECT_FALSE(reports[0].final);
  EXPECT_TRUE(reports.back().final);
  EXPECT_EQ(reports.back().frames, 4000);
  EXPECT_GT(r->rate_hz, 0.0);
  EXPECT_GT(r->entropy, 0.5);
}

// The mean return of uniformly random play over `episodes` episodes.
double RandomPolicyReturn(int episodes, uint64_t seed) {
  env::Breakout game(seed);
  Rng rng(seed + 1);
  double total = 0.0;
  for (int e = 0; e < episodes; ++e) {
    for (;;) {
      const env::Breakout::StepResult s =
          game.Step(static_cast<int>(rng.UniformInt(3)));
      total += s.reward;
      if (s.terminated || s.truncated) break;
    }
    game.Reset();
  }
  return total / episodes;
}

TEST(BreakoutTrainingTest, ShortRunBeatsTheRandomPolicyClearly) {
  FlushDenormalsScope flush;
  const double random_return = RandomPolicyReturn(5000, 9);
  BreakoutTrainingOptions o;  // the defaults: 32 games, AgentConfig()
  o.frames = 800000;
  o.env_seed = 1;
  o.agent.seed = 1;
  o.report_every_frames = 200000;
  const absl::StatusOr<BreakoutTrainingMetrics> r =
      TrainBreakout(o, [](const BreakoutTrainingMetrics& m) {
        std::printf(
            "frames %lld episodes %lld avg return (last 100) %.2f "
            "%.0f frames/s entropy %.3f rate %.1f Hz\n",
            static_cast<long long>(m.frames),
            static_cast<long long>(m.episodes), m.avg_return_last100,
            m.frames_per_s, m.entropy, m.rate_hz);
      });
  ASSERT_TRUE(r.ok()) << r.status();
  std::printf("random policy: %.3f per episode; trained: %.2f\n", random_return,
              r->avg_return_last100);
  // Measured (Release, 2 shared cores, ~12 s): random play 0.40 on this
  // seed (~0.38 in general); the agent's average return of the last 100
  // episodes was 0.76, 1.64, 2.15, 3.11 after 200k, 400k, 600k, 800k
  // frames (other seeds, via eprop-rl-bench: 2.66 and 2.76 at 800k). The
  // threshold keeps a wide margin above random play.
  EXPECT_NEAR(random_return, 0.38, 0.05);
  EXPECT_GT(r->avg_return_last100, 1.2);
}

}  // namespace
}  // namespace eprop
