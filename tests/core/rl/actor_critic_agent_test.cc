// Tests of the reward-based e-prop agent (core/rl/actor_critic_agent.h):
// configuration errors, call order, determinism, the reset of a terminated
// environment's network, the applied gradient against an independent
// SimulateFrom + ActorCriticLoss + ComputeGradient computation on the same
// recorded unroll (with and without episode boundaries inside it), and a
// contextual bandit that the agent must learn.
#include "core/rl/actor_critic_agent.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/learn/actor_critic.h"
#include "core/learn/firing_rate.h"
#include "core/learn/gradient.h"
#include "core/model/weights.h"
#include "core/sim/network_step.h"
#include "core/sim/simulate.h"
#include "core/sim/sparse_rows.h"
#include "core/train/checkpoint.h"
#include "core/util/random.h"

namespace eprop {
namespace {

constexpr int kEnvs = 5;
constexpr int kInputs = 20;

AgentConfig SmallConfig() {
  AgentConfig c;
  c.num_envs = kEnvs;
  c.n_actions = 3;
  c.network.n_in = kInputs;
  c.network.n_lif = 10;
  c.network.n_alif = 10;
  c.network.n_out = 4;
  c.network.tau_out_ms = 3.0;
  c.input_weight_scale = 3.0;
  c.steps_per_action = 3;
  c.unroll_decisions = 6;
  c.discount = 0.9;
  c.entropy_cost = 0.05;
  c.rate = {0.5, 20.0, RateAverage::kBatch};
  c.seed = 7;
  c.threads = 2;
  return c;
}

std::unique_ptr<ActorCriticAgent> MakeAgent(const AgentConfig& config) {
  absl::StatusOr<std::unique_ptr<ActorCriticAgent>> agent =
      ActorCriticAgent::Create(config);
  EXPECT_TRUE(agent.ok()) << agent.status();
  return agent.ok() ? std::move(*agent) : nullptr;
}

// Random binary observations, rewards and (with probability p_terminal)
// terminations.
struct RandomWorld {
  explicit RandomWorld(uint64_t seed) : rng(seed) {}
  std::vector<float> Observe(int envs) {
    std::vector<float> obs(static_cast<size_t>(envs) * kInputs);
    for (float& x : obs) x = rng.Bernoulli(0.25) ? 1.0f : 0.0f;
    return obs;
  }
  Rng rng;
};

// Runs `decisions` decisions of random data; returns all actions.
std::vector<int32_t> RunAgent(ActorCriticAgent* agent, int decisions,
                              double p_terminal, uint64_t seed) {
  RandomWorld world(seed);
  std::vector<int32_t> all;
  const int n = agent->config().num_envs;
  for (int d = 0; d < decisions; ++d) {
    const std::vector<float> obs = world.Observe(n);
    const std::vector<int32_t> actions = agent->Act(obs.data());
    all.insert(all.end(), actions.begin(), actions.end());
    std::vector<float> rewards(n);
    std::vector<uint8_t> terminated(n);
    for (int b = 0; b < n; ++b) {
      rewards[b] = static_cast<float>(world.rng.Normal());
      terminated[b] = world.rng.Bernoulli(p_terminal) ? 1 : 0;
    }
    EXPECT_TRUE(agent->Reward(rewards.data(), terminated.data()).ok());
  }
  return all;
}

TEST(AgentConfigTest, BadConfigsAreRejectedWithTheFieldNamed) {
  EXPECT_TRUE(SmallConfig().Validate().ok());
  EXPECT_TRUE(AgentConfig().Validate().ok());
  const auto message = [](const AgentConfig& c) {
    const absl::StatusOr<std::unique_ptr<ActorCriticAgent>> agent =
        ActorCriticAgent::Create(c);
    EXPECT_FALSE(agent.ok());
    return std::string(agent.status().message());
  };
  AgentConfig c = SmallConfig();
  c.network.n_out = 3;
  EXPECT_NE(message(c).find("n_out must be n_actions + 1 = 4"),
            std::string::npos)
      << message(c);
  c = SmallConfig();
  c.num_envs = 0;
  EXPECT_NE(message(c).find("num_envs"), std::string::npos);
  c = SmallConfig();
  c.unroll_decisions = 0;
  EXPECT_NE(message(c).find("unroll_decisions"), std::string::npos);
  c = SmallConfig();
  c.steps_per_action = 0;
  EXPECT_NE(message(c).find("steps_per_action"), std::string::npos);
  c = SmallConfig();
  c.discount = 1.5;
  EXPECT_NE(message(c).find("discount"), std::string::npos);
  c = SmallConfig();
  c.optimizer.learning_rate = -1;
  EXPECT_NE(message(c).find("optimizer: learning_rate"), std::string::npos)
      << message(c);
  c = SmallConfig();
  c.network.n_lif = -2;
  EXPECT_NE(message(c).find("network:"), std::string::npos);
  c = SmallConfig();
  c.rate.average = RateAverage::kRunning;
  EXPECT_NE(message(c).find("rate.average"), std::string::npos);
  c = SmallConfig();
  c.input_weight_scale = -1;
  EXPECT_NE(message(c).find("input_weight_scale"), std::string::npos);
}

TEST(ActorCriticAgentTest, CallsMustAlternate) {
  std::unique_ptr<ActorCriticAgent> agent = MakeAgent(SmallConfig());
  std::vector<float> rewards(kEnvs, 0.0f);
  std::vector<uint8_t> terminated(kEnvs, 0);
  EXPECT_EQ(agent->Reward(rewards.data(), terminated.data()).code(),
            absl::StatusCode::kFailedPrecondition);
  RandomWorld world(1);
  const std::vector<float> obs = world.Observe(kEnvs);
  std::vector<int32_t> actions(kEnvs);
  EXPECT_TRUE(agent->Act(obs.data(), actions.data()).ok());
  EXPECT_EQ(agent->Act(obs.data(), actions.data()).code(),
            absl::StatusCode::kFailedPrecondition);
  rewards[2] = NAN;
  EXPECT_EQ(agent->Reward(rewards.data(), terminated.data()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ActorCriticAgentTest, ShapesAndDeterminismPerSeed) {
  const AgentConfig config = SmallConfig();
  std::unique_ptr<ActorCriticAgent> a = MakeAgent(config);
  std::unique_ptr<ActorCriticAgent> b = MakeAgent(config);
  const std::vector<int32_t> actions_a = RunAgent(a.get(), 40, 0.1, 3);
  const std::vector<int32_t> actions_b = RunAgent(b.get(), 40, 0.1, 3);
  ASSERT_EQ(actions_a.size(), size_t{40 * kEnvs});
  for (int32_t action : actions_a) {
    EXPECT_GE(action, 0);
    EXPECT_LT(action, 3);
  }
  EXPECT_EQ(actions_a, actions_b);
  // 40 decisions of 6: the update runs at the start of decisions 7, 13, ...
  EXPECT_EQ(a->metrics().updates, 6);
  EXPECT_EQ(a->metrics().decisions, 40);
  EXPECT_EQ(a->weights().w_rec, b->weights().w_rec);
  EXPECT_EQ(a->weights().w_in, b->weights().w_in);
  EXPECT_EQ(a->weights().w_out, b->weights().w_out);
  EXPECT_EQ(a->last_readout().rows(), kEnvs);
  EXPECT_EQ(a->last_readout().cols(), 4);
  EXPECT_GT(a->metrics().rate_hz, 0.0);
  EXPECT_GT(a->metrics().entropy, 0.0);

  AgentConfig other = config;
  other.seed = 8;
  std::unique_ptr<ActorCriticAgent> c = MakeAgent(other);
  EXPECT_NE(RunAgent(c.get(), 40, 0.1, 3), actions_a);
}

TEST(ActorCriticAgentTest, TerminationResetsThatEnvironmentsState) {
  std::unique_ptr<ActorCriticAgent> agent = MakeAgent(SmallConfig());
  RunAgent(agent.get(), 4, 0.0, 5);  // build up some state
  RandomWorld world(6);
  const std::vector<float> obs = world.Observe(kEnvs);
  agent->Act(obs.data());
  const CarriedState<float> before = agent->state();
  for (int b = 0; b < kEnvs; ++b) {
    ASSERT_GT(before.v.row(b).cwiseAbs().sum() + before.a.row(b).sum(), 0.0);
  }
  const std::vector<float> rewards(kEnvs, 0.0f);
  const std::vector<uint8_t> terminated = {0, 1, 0, 0, 1};
  ASSERT_TRUE(agent->Reward(rewards.data(), terminated.data()).ok());
  const CarriedState<float>& after = agent->state();
  for (int b = 0; b < kEnvs; ++b) {
    for (const auto& [m_after, m_before] :
         {std::pair{&after.v, &before.v}, std::pair{&after.a, &before.a},
          std::pair{&after.refractory, &before.refractory},
          std::pair{&after.z, &before.z}, std::pair{&after.zf, &before.zf}}) {
      if (terminated[b]) {
        EXPECT_EQ(m_after->row(b).cwiseAbs().sum(), 0.0f) << b;
      } else {
        EXPECT_EQ(m_after->row(b), m_before->row(b)) << b;
      }
    }
  }
}

TEST(ActorCriticAgentTest, SavedStateRestoresAndContinuesIdentically) {
  AgentConfig config = SmallConfig();
  config.feedback.mode = FeedbackMode::kRandom;
  std::unique_ptr<ActorCriticAgent> a = MakeAgent(config);
  RunAgent(a.get(), 3 * config.unroll_decisions, 0.1, 21);
  const TrainingCheckpoint saved = a->SaveState();
  EXPECT_EQ(saved.iteration, 2);

  // Through a file, into a fresh agent of the same run; the original is
  // restored too, so both continue from fresh networks.
  const std::string path =
      ::testing::TempDir() + "/actor_critic_agent_test.ckpt";
  ASSERT_TRUE(WriteCheckpoint(path, saved).ok());
  const absl::StatusOr<TrainingCheckpoint> read = ReadCheckpoint(path);
  ASSERT_TRUE(read.ok()) << read.status();
  std::unique_ptr<ActorCriticAgent> b = MakeAgent(config);
  ASSERT_TRUE(b->RestoreState(*read).ok());
  ASSERT_TRUE(a->RestoreState(saved).ok());
  EXPECT_EQ(b->weights().w_rec, a->weights().w_rec);
  EXPECT_EQ(b->metrics().updates, 2);
  EXPECT_EQ(RunAgent(a.get(), 20, 0.1, 22), RunAgent(b.get(), 20, 0.1, 22));
  EXPECT_EQ(a->weights().w_in, b->weights().w_in);
  EXPECT_EQ(a->metrics().updates, 5);

  // Another run's state is refused and changes nothing.
  AgentConfig other = config;
  other.network.n_lif = 11;
  std::unique_ptr<ActorCriticAgent> c = MakeAgent(other);
  const Weights<float> before = c->weights();
  const absl::Status status = c->RestoreState(saved);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("another run"), std::string::npos);
  EXPECT_EQ(c->weights().w_in, before.w_in);
}

// The independent computation of one unroll's gradient from the recorded
// data. Every environment's unroll is split into its episode segments; each
// is simulated on its own (batch 1) from the carried state (the first) or
// the zero state (later ones), with its own ActorCriticLoss; the firing-rate
// regulariser uses the spike counts of all segments together.
Weights<float> IndependentGradient(const AgentConfig& config,
                                   const UnrollRecord& r, int* segments_out,
                                   double* loss_out) {
  const int n = config.num_envs;
  const int u = config.unroll_decisions;
  const int k = config.steps_per_action;
  const NetworkModel<float> model = NetworkModel<float>::Prepare(
      MakeNeuronConstants(config.network), r.weights);
  struct Piece {
    int env, begin, end;
  };
  std::vector<Piece> pieces;
  for (int b = 0; b < n; ++b) {
    int begin = 0;
    for (int d = 0; d < u; ++d) {
      if (r.episodes.terminal[d * n + b] || d == u - 1) {
        pieces.push_back({b, begin, d + 1});
        begin = d + 1;
      }
    }
  }
  *segments_out = static_cast<int>(pieces.size());
  ActorCriticOptions ac;
  ac.discount = config.discount;
  ac.value_cost = config.value_cost;
  ac.entropy_cost = config.entropy_cost;
  ac.steps_per_action = k;
  const float scale = 1.0f / (u * n);
  std::vector<Trajectory<float>> trajs(pieces.size());
  std::vector<SparseRows<float>> inputs(pieces.size());
  std::vector<MatF> dE_dy(pieces.size());
  VecD counts = VecD::Zero(model.n_rec);
  double rows = 0.0;
  *loss_out = 0.0;
  for (size_t p = 0; p < pieces.size(); ++p) {
    const Piece& piece = pieces[p];
    const int decisions = piece.end - piece.begin;
    MatF x = MatF::Zero(int64_t{decisions} * k, config.network.n_in);
    ActorCriticEpisodes e;
    for (int d = piece.begin; d < piece.end; ++d) {
      for (int s = 0; s < k; ++s) {
        if (s == 0 || config.input_encoding == InputEncoding::kEveryStep) {
          x.row((d - piece.begin) * k + s) =
              r.observations.row(d * n + piece.env);
        }
      }
      e.actions.push_back(r.episodes.actions[d * n + piece.env]);
      e.rewards.push_back(r.episodes.rewards[d * n + piece.env]);
      e.terminal.push_back(r.episodes.terminal[d * n + piece.env]);
    }
    e.bootstrap_value = {r.episodes.bootstrap_value[piece.env]};
    inputs[p] = ToSparseRows(x);
    CarriedState<float> initial = CarriedState<float>::Zero(model.n_rec, 1);
    if (piece.begin == 0) {
      initial.v = r.initial_state.v.row(piece.env);
      initial.a = r.initial_state.a.row(piece.env);
      initial.refractory = r.initial_state.refractory.row(piece.env);
      initial.z = r.initial_state.z.row(piece.env);
      initial.zf = r.initial_state.zf.row(piece.env);
    }
    SimulateFrom<float>(model, inputs[p], decisions * k, 1, SimulateOptions(),
                        &initial, &trajs[p], nullptr);
    const absl::StatusOr<ActorCriticResult<float>> loss =
        ActorCriticLoss(trajs[p].y, 1, e, ac);
    EXPECT_TRUE(loss.ok()) << loss.status();
    dE_dy[p] = loss->dE_dy * scale;
    *loss_out += loss->loss * scale;
    counts += trajs[p].SpikeCountPerNeuron();
    rows += decisions * k;
  }
  const SpikeLossGradient<float> direct = BatchRateRegularization<float>(
      config.rate, counts, rows, config.network.dt_ms);
  GradientInputs options;
  options.readout_bias = config.network.readout_bias;
  Weights<float> total = Weights<float>::ZerosLike(r.weights);
  for (size_t p = 0; p < pieces.size(); ++p) {
    total.Add(ComputeGradient(GradientMethod::kEpropOffline, model, r.feedback,
                              inputs[p], trajs[p], dE_dy[p], direct, options));
  }
  return total;
}

class AgentGradientTest : public ::testing::TestWithParam<FeedbackMode> {};

TEST_P(AgentGradientTest, AppliedGradientEqualsIndependentComputation) {
  AgentConfig config = SmallConfig();
  config.keep_last_unroll = true;
  config.feedback.mode = GetParam();
  std::unique_ptr<ActorCriticAgent> agent = MakeAgent(config);
  // Two unrolls and the first decision of the third: the second update
  // starts from a carried state.
  RunAgent(agent.get(), 2 * config.unroll_decisions + 1, 0.0, 11);
  ASSERT_EQ(agent->metrics().updates, 2);
  const UnrollRecord& r = agent->last_unroll();
  ASSERT_GT(r.initial_state.z.sum() + r.initial_state.v.cwiseAbs().sum(), 0);
  EXPECT_EQ(r.samples, kEnvs);

  // The plainest form: one SimulateFrom of the whole batch.
  const int n = config.num_envs, u = config.unroll_decisions,
            k = config.steps_per_action;
  const NetworkModel<float> model = NetworkModel<float>::Prepare(
      MakeNeuronConstants(config.network), r.weights);
  MatF x(int64_t{u} * k * n, kInputs);
  for (int t = 0; t < u * k; ++t) {
    x.middleRows(int64_t{t} * n, n) =
        r.observations.middleRows(int64_t{t / k} * n, n);
  }
  const SparseRows<float> inputs = ToSparseRows(x);
  Trajectory<float> traj;
  SimulateFrom<float>(model, inputs, u * k, n, SimulateOptions(),
                      &r.initial_state, &traj, nullptr);
  ActorCriticOptions ac;
  ac.discount = config.discount;
  ac.value_cost = config.value_cost;
  ac.entropy_cost = config.entropy_cost;
  ac.steps_per_action = k;
  absl::StatusOr<ActorCriticResult<float>> loss =
      ActorCriticLoss(traj.y, n, r.episodes, ac);
  ASSERT_TRUE(loss.ok()) << loss.status();
  const MatF dE_dy = loss->dE_dy / static_cast<float>(u * n);
  const SpikeLossGradient<float> direct =
      RateRegularization(config.rate, traj, config.network.dt_ms);
  GradientInputs options;
  options.readout_bias = true;
  const Weights<float> expected =
      ComputeGradient(GradientMethod::kEpropOffline, model, r.feedback, inputs,
                      traj, dE_dy, direct, options);
  const double difference =
      MaxRelativeDifference(r.gradient.Cast<double>(), expected.Cast<double>());
  std::printf("agent gradient vs independent computation: %.3g\n", difference);
  EXPECT_LE(difference, 1e-6);
  EXPECT_GT(expected.w_in.cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_GT(expected.w_rec.cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_NEAR(r.loss, loss->loss / (u * n), 1e-5 * std::abs(r.loss) + 1e-7);
  EXPECT_NEAR(r.rate_loss, direct.loss, 1e-9 + 1e-6 * direct.loss);

  int segments = 0;
  double segment_loss = 0.0;
  const Weights<float> by_segments =
      IndependentGradient(config, r, &segments, &segment_loss);
  EXPECT_EQ(segments, kEnvs);
  EXPECT_LE(MaxRelativeDifference(r.gradient.Cast<double>(),
                                  by_segments.Cast<double>()),
            1e-5);
}

TEST_P(AgentGradientTest, EpisodeBoundariesInsideTheUnrollAreExact) {
  AgentConfig config = SmallConfig();
  config.keep_last_unroll = true;
  config.unroll_decisions = 10;
  config.feedback.mode = GetParam();
  std::unique_ptr<ActorCriticAgent> agent = MakeAgent(config);
  RunAgent(agent.get(), 2 * config.unroll_decisions + 1, 0.2, 12);
  ASSERT_EQ(agent->metrics().updates, 2);
  const UnrollRecord& r = agent->last_unroll();
  int segments = 0;
  double loss = 0.0;
  const Weights<float> expected =
      IndependentGradient(config, r, &segments, &loss);
  EXPECT_GT(segments, kEnvs + 3) << "the test needs several boundaries";
  EXPECT_EQ(r.samples, segments);
  const double difference =
      MaxRelativeDifference(r.gradient.Cast<double>(), expected.Cast<double>());
  std::printf("agent gradient vs %d independent segments: %.3g\n", segments,
              difference);
  EXPECT_LE(difference, 1e-5);
  EXPECT_NEAR(r.loss, loss, 1e-5 * std::abs(loss) + 1e-7);
}

INSTANTIATE_TEST_SUITE_P(
    Feedback, AgentGradientTest,
    ::testing::Values(FeedbackMode::kSymmetric, FeedbackMode::kRandom),
    [](const ::testing::TestParamInfo<FeedbackMode>& param_info) {
      return param_info.param == FeedbackMode::kSymmetric ? "Symmetric"
                                                          : "Random";
    });

// A contextual bandit: each decision shows one of 3 cues (a group of 10
// input spikes); reward 1 if the action equals the cue. Discount 0 and no
// terminations: the return is the immediate reward.
TEST(ActorCriticAgentTest, LearnsAContextualBandit) {
  constexpr int kActions = 3;
  constexpr int kGroup = 10;
  constexpr int kEnvsBandit = 32;
  AgentConfig config;
  config.num_envs = kEnvsBandit;
  config.n_actions = kActions;
  config.network.n_in = kActions * kGroup;
  config.network.n_lif = 30;
  config.network.n_alif = 10;
  config.network.n_out = kActions + 1;
  config.input_weight_scale = 2.0;
  // K = 4: the cue needs a few steps to drive the readout past the
  // previous cue's residual activity (K = 2 reached only ~0.7).
  config.steps_per_action = 4;
  config.unroll_decisions = 10;
  config.discount = 0.0;
  config.entropy_cost = 0.01;
  config.optimizer.learning_rate = 3e-3;
  config.seed = 3;
  std::unique_ptr<ActorCriticAgent> agent = MakeAgent(config);
  Rng rng(4);
  std::vector<float> obs(kEnvsBandit * kActions * kGroup);
  std::vector<int> cue(kEnvsBandit);
  std::vector<float> rewards(kEnvsBandit);
  const std::vector<uint8_t> terminated(kEnvsBandit, 0);
  constexpr int kUpdates = 300;
  constexpr int kWindow = 20 * 10;  // decisions of 20 updates
  double first = 0.0, last = 0.0;
  for (int d = 0; d < kUpdates * config.unroll_decisions; ++d) {
    std::fill(obs.begin(), obs.end(), 0.0f);
    for (int b = 0; b < kEnvsBandit; ++b) {
      cue[b] = static_cast<int>(rng.UniformInt(kActions));
      for (int i = 0; i < kGroup; ++i) {
        obs[b * kActions * kGroup + cue[b] * kGroup + i] = 1.0f;
      }
    }
    const std::vector<int32_t> actions = agent->Act(obs.data());
    double sum = 0.0;
    for (int b = 0; b < kEnvsBandit; ++b) {
      rewards[b] = actions[b] == cue[b] ? 1.0f : 0.0f;
      sum += rewards[b];
    }
    ASSERT_TRUE(agent->Reward(rewards.data(), terminated.data()).ok());
    if (d < kWindow) first += sum / kEnvsBandit / kWindow;
    if (d >= kUpdates * config.unroll_decisions - kWindow) {
      last += sum / kEnvsBandit / kWindow;
    }
  }
  std::printf(
      "bandit: mean reward %.3f in the first 20 updates, %.3f in the "
      "last 20 (chance 0.333), entropy %.3f\n",
      first, last, agent->metrics().entropy);
  // Measured: 0.341 -> 0.919 (agent seeds 1-6: 0.93-0.955 at the end),
  // about 0.5 s in Release.
  EXPECT_LT(first, 0.45);
  EXPECT_GT(last, 0.75);
}

}  // namespace
}  // namespace eprop
