// Tests of the reward-based e-prop agent (core/rl/actor_critic_agent.h):
// configuration errors, call order, determinism, the reset of a terminated
// environment's network, the applied gradient against an independent
// SimulateFrom + ActorCriticLoss + ComputeGradient computation on the same
// recorded unroll (with and without episode boundaries inside it), the
// per-slot active mask (inactive decisions are excluded from learning
// exactly), and a contextual bandit that the agent must learn.
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

// One decision with an active mask: Act, then Reward; returns the actions.
std::vector<int32_t> Decide(ActorCriticAgent* agent,
                            const std::vector<float>& obs,
                            const std::vector<uint8_t>& active,
                            const std::vector<float>& rewards,
                            const std::vector<uint8_t>& terminated) {
  std::vector<int32_t> actions(agent->config().num_envs, -1);
  EXPECT_TRUE(agent->Act(obs.data(), actions.data(), active.data()).ok());
  EXPECT_TRUE(agent->Reward(rewards.data(), terminated.data()).ok());
  return actions;
}

void ExpectSameWeights(const Weights<float>& a, const Weights<float>& b) {
  EXPECT_EQ(a.w_in, b.w_in);
  EXPECT_EQ(a.w_rec, b.w_rec);
  EXPECT_EQ(a.w_out, b.w_out);
  EXPECT_EQ(a.b_out, b.b_out);
}

void ExpectSameOptimizerState(const Optimizer<float>& a,
                              const Optimizer<float>& b) {
  EXPECT_EQ(a.step(), b.step());
  ExpectSameWeights(a.first_moment(), b.first_moment());
  ExpectSameWeights(a.second_moment(), b.second_moment());
}

void ExpectSameMetrics(const AgentMetrics& a, const AgentMetrics& b) {
  EXPECT_EQ(a.updates, b.updates);
  EXPECT_EQ(a.skipped_updates, b.skipped_updates);
  EXPECT_EQ(a.decisions, b.decisions);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.policy_loss, b.policy_loss);
  EXPECT_EQ(a.value_loss, b.value_loss);
  EXPECT_EQ(a.entropy, b.entropy);
  EXPECT_EQ(a.rate_loss, b.rate_loss);
  EXPECT_EQ(a.rate_hz, b.rate_hz);
  EXPECT_EQ(a.grad_norm, b.grad_norm);
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
// data. Every environment's unroll is split into its episode segments (the
// runs of active decisions, split after terminal transitions); each is
// simulated on its own (batch 1) from the carried state (if it starts at
// decision 0) or the zero state (later ones), with its own ActorCriticLoss
// (no bootstrap unless it reaches the end of the unroll); the loss is the
// mean over the active decisions; the firing-rate regulariser uses the
// spike counts of all segments together.
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
  int active = 0;
  for (int b = 0; b < n; ++b) {
    int begin = -1;
    for (int d = 0; d < u; ++d) {
      if (!r.active.empty() && r.active[d * n + b] == 0) {
        if (begin >= 0) pieces.push_back({b, begin, d});
        begin = -1;
        continue;
      }
      ++active;
      if (begin < 0) begin = d;
      if (r.episodes.terminal[d * n + b] || d == u - 1) {
        pieces.push_back({b, begin, d + 1});
        begin = -1;
      }
    }
  }
  *segments_out = static_cast<int>(pieces.size());
  ActorCriticOptions ac;
  ac.discount = config.discount;
  ac.value_cost = config.value_cost;
  ac.entropy_cost = config.entropy_cost;
  ac.steps_per_action = k;
  const float scale = 1.0f / active;
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
    e.bootstrap_value = {piece.end == u ? r.episodes.bootstrap_value[piece.env]
                                        : 0.0};
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

// The 4-slot agent with only slots 0 and 1 active learns exactly what a
// 2-slot agent (same seed, hence the same weights, feedback and sampler)
// learns from the same data in its two slots. Inactive slots draw no
// action, so both agents draw the same random numbers for the active
// slots and take the same actions; the updates then see the same episode
// segments, so the unrolls match decision by decision and the gradients
// must agree to float rounding (the 4-slot agent's forward batch differs).
// The inactive slots get random observations and rewards, to be ignored.
TEST_P(AgentGradientTest, MaskedGradientEqualsThatOfAnAgentWithOnlyTheActive) {
  AgentConfig config = SmallConfig();
  config.keep_last_unroll = true;
  config.feedback.mode = GetParam();
  config.num_envs = 4;
  std::unique_ptr<ActorCriticAgent> masked = MakeAgent(config);
  config.num_envs = 2;
  std::unique_ptr<ActorCriticAgent> small = MakeAgent(config);
  ExpectSameWeights(masked->weights(), small->weights());
  const std::vector<uint8_t> active = {1, 1, 0, 0};
  RandomWorld world(41), junk(42);
  const int u = config.unroll_decisions;
  for (int d = 0; d < 2 * u + 1; ++d) {
    std::vector<float> obs = world.Observe(2);
    std::vector<float> rewards(2);
    std::vector<uint8_t> terminated(2);
    for (int b = 0; b < 2; ++b) {
      rewards[b] = static_cast<float>(world.rng.Normal());
      terminated[b] = world.rng.Bernoulli(0.2) ? 1 : 0;
    }
    const std::vector<int32_t> small_actions =
        Decide(small.get(), obs, {1, 1}, rewards, terminated);
    const std::vector<float> more = junk.Observe(2);
    obs.insert(obs.end(), more.begin(), more.end());
    rewards.push_back(static_cast<float>(junk.rng.Normal()));
    rewards.push_back(static_cast<float>(junk.rng.Normal()));
    terminated.push_back(junk.rng.Bernoulli(0.2) ? 1 : 0);
    terminated.push_back(0);
    const std::vector<int32_t> masked_actions =
        Decide(masked.get(), obs, active, rewards, terminated);
    ASSERT_EQ(masked_actions[0], small_actions[0]) << d;
    ASSERT_EQ(masked_actions[1], small_actions[1]) << d;
    EXPECT_EQ(masked_actions[2], 0);
    EXPECT_EQ(masked_actions[3], 0);
  }
  ASSERT_EQ(masked->metrics().updates, 2);
  ASSERT_EQ(small->metrics().updates, 2);
  const UnrollRecord& m = masked->last_unroll();
  const UnrollRecord& r = small->last_unroll();
  EXPECT_EQ(m.active_decisions, 2 * u);
  EXPECT_EQ(r.active_decisions, 2 * u);
  EXPECT_EQ(m.samples, r.samples);
  EXPECT_GT(r.samples, 2) << "the test needs an episode boundary";
  const double difference = MaxRelativeDifference(m.gradient.Cast<double>(),
                                                  r.gradient.Cast<double>());
  std::printf("masked 4-slot vs 2-slot agent gradient: %.3g\n", difference);
  EXPECT_LE(difference, 1e-6);
  EXPECT_GT(r.gradient.w_in.cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_GT(r.gradient.b_out.cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_NEAR(m.loss, r.loss, 1e-6 * std::abs(r.loss) + 1e-9);
  EXPECT_NEAR(m.rate_loss, r.rate_loss, 1e-6 * r.rate_loss + 1e-12);
  EXPECT_NEAR(masked->metrics().rate_hz, small->metrics().rate_hz,
              1e-6 * small->metrics().rate_hz);
  EXPECT_LE(MaxRelativeDifference(masked->weights().Cast<double>(),
                                  small->weights().Cast<double>()),
            1e-6);
}

// Slots switch between active and inactive at random, also without the
// terminal transition the hub puts at the end of every run: the update
// must equal the independent computation on the active runs (each cut at
// a change of the flag, later runs from the zero state), with the mean
// over the active decisions.
TEST_P(AgentGradientTest, RandomMasksEqualIndependentComputation) {
  AgentConfig config = SmallConfig();
  config.keep_last_unroll = true;
  config.unroll_decisions = 10;
  config.feedback.mode = GetParam();
  std::unique_ptr<ActorCriticAgent> agent = MakeAgent(config);
  RandomWorld world(51);
  std::vector<uint8_t> active(kEnvs, 1);
  const int u = config.unroll_decisions;
  for (int d = 0; d < 2 * u + 1; ++d) {
    for (int b = 0; b < kEnvs; ++b) {
      if (world.rng.Bernoulli(0.25)) active[b] = 1 - active[b];
    }
    const std::vector<float> obs = world.Observe(kEnvs);
    std::vector<float> rewards(kEnvs);
    std::vector<uint8_t> terminated(kEnvs);
    for (int b = 0; b < kEnvs; ++b) {
      rewards[b] = static_cast<float>(world.rng.Normal());
      terminated[b] = world.rng.Bernoulli(0.1) ? 1 : 0;
    }
    Decide(agent.get(), obs, active, rewards, terminated);
  }
  ASSERT_EQ(agent->metrics().updates, 2);
  const UnrollRecord& r = agent->last_unroll();
  // `active` holds the flags of the decision after the unroll: an active
  // run that reaches the end of the unroll is cut there if its slot is
  // inactive next.
  for (int b = 0; b < kEnvs; ++b) {
    if (active[b]) {
      EXPECT_NE(r.episodes.bootstrap_value[b], 0.0) << b;
    } else {
      EXPECT_EQ(r.episodes.bootstrap_value[b], 0.0) << b;
    }
  }
  EXPECT_GT(r.active_decisions, u * kEnvs / 4);
  EXPECT_LT(r.active_decisions, u * kEnvs * 3 / 4);
  int segments = 0;
  double loss = 0.0;
  const Weights<float> expected =
      IndependentGradient(config, r, &segments, &loss);
  EXPECT_EQ(r.samples, segments);
  const double difference =
      MaxRelativeDifference(r.gradient.Cast<double>(), expected.Cast<double>());
  std::printf("masked agent gradient vs %d independent segments: %.3g\n",
              segments, difference);
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

// With a readout bias the network at rest does not give a zero readout, so
// an inactive slot must be excluded, not merely fed zeros: the updates are
// bit-identical whether the inactive slots get zeros (rewards 0, the hub's
// terminal flags) or random observations, rewards and terminal flags.
// Slots 1 and 3 are never active; slot 4 is active for decisions 0-3
// (terminal at 3), inactive for 4-8 and active again from 9.
TEST(ActorCriticAgentTest, InactiveSlotsDataDoNotChangeTheUpdate) {
  const AgentConfig config = SmallConfig();
  ASSERT_TRUE(config.network.readout_bias);
  std::unique_ptr<ActorCriticAgent> zeros = MakeAgent(config);
  std::unique_ptr<ActorCriticAgent> noise = MakeAgent(config);
  const Weights<float> initial = zeros->weights();
  RandomWorld world(31), junk(32);
  const int u = config.unroll_decisions;
  for (int d = 0; d < 3 * u + 1; ++d) {
    std::vector<uint8_t> active = {1, 0, 1, 0,
                                   static_cast<uint8_t>(d < 4 || d >= 9)};
    const std::vector<float> obs = world.Observe(kEnvs);
    const std::vector<float> junk_obs = junk.Observe(kEnvs);
    std::vector<float> obs_zeros = obs, obs_noise = obs;
    std::vector<float> rewards_zeros(kEnvs), rewards_noise(kEnvs);
    std::vector<uint8_t> terminated_zeros(kEnvs), terminated_noise(kEnvs);
    for (int b = 0; b < kEnvs; ++b) {
      const float reward = static_cast<float>(world.rng.Normal());
      const uint8_t terminal = world.rng.Bernoulli(0.15) ? 1 : 0;
      if (active[b]) {
        rewards_zeros[b] = rewards_noise[b] = reward;
        terminated_zeros[b] = terminated_noise[b] = terminal;
        if (b == 4 && d == 3) terminated_zeros[b] = terminated_noise[b] = 1;
        continue;
      }
      for (int i = 0; i < kInputs; ++i) {
        obs_zeros[b * kInputs + i] = 0.0f;
        obs_noise[b * kInputs + i] = junk_obs[b * kInputs + i];
      }
      rewards_zeros[b] = 0.0f;
      rewards_noise[b] = static_cast<float>(10.0 * junk.rng.Normal());
      terminated_zeros[b] = b == 4 && d == 8 ? 1 : 0;
      terminated_noise[b] = junk.rng.Bernoulli(0.5) ? 1 : 0;
    }
    const std::vector<int32_t> actions_zeros =
        Decide(zeros.get(), obs_zeros, active, rewards_zeros, terminated_zeros);
    const std::vector<int32_t> actions_noise =
        Decide(noise.get(), obs_noise, active, rewards_noise, terminated_noise);
    EXPECT_EQ(actions_zeros, actions_noise) << d;
    for (int b = 0; b < kEnvs; ++b) {
      if (!active[b]) {
        EXPECT_EQ(actions_zeros[b], 0);
      }
    }
  }
  ASSERT_EQ(zeros->metrics().updates, 3);
  EXPECT_NE(zeros->weights().w_in, initial.w_in);
  EXPECT_NE(zeros->weights().b_out, initial.b_out);
  ExpectSameWeights(zeros->weights(), noise->weights());
  ExpectSameOptimizerState(zeros->optimizer(), noise->optimizer());
  ExpectSameMetrics(zeros->metrics(), noise->metrics());
}

// A change of a slot's flag starts a new episode in it even without a
// terminal transition: the network state is reset, so a slot that turns
// inactive rests at zero and one that turns active again acts as a fresh
// network (as in a new agent, whose weights are the same before the first
// update).
TEST(ActorCriticAgentTest, ChangeOfTheFlagResetsTheSlotsNetwork) {
  const AgentConfig config = SmallConfig();
  std::unique_ptr<ActorCriticAgent> agent = MakeAgent(config);
  std::unique_ptr<ActorCriticAgent> fresh = MakeAgent(config);
  RunAgent(agent.get(), 3, 0.0, 81);  // build up some state
  ASSERT_GT(agent->state().v.row(2).cwiseAbs().sum(), 0.0f);
  RandomWorld world(82);
  const std::vector<float> rewards(kEnvs, 0.5f);
  const std::vector<uint8_t> no_terminal(kEnvs, 0);
  Decide(agent.get(), world.Observe(kEnvs), {1, 1, 0, 1, 1}, rewards,
         no_terminal);
  const CarriedState<float>& state = agent->state();
  for (const Mat<float>* m :
       {&state.v, &state.a, &state.refractory, &state.z, &state.zf}) {
    EXPECT_EQ(m->row(2).cwiseAbs().sum(), 0.0f);
  }
  EXPECT_GT(state.v.row(1).cwiseAbs().sum(), 0.0f);
  const std::vector<float> obs = world.Observe(kEnvs);
  Decide(agent.get(), obs, {1, 1, 1, 1, 1}, rewards, no_terminal);
  Decide(fresh.get(), obs, {1, 1, 1, 1, 1}, rewards, no_terminal);
  ASSERT_EQ(agent->metrics().updates, 0);
  EXPECT_EQ(agent->last_readout().row(2), fresh->last_readout().row(2));
  EXPECT_NE(agent->last_readout().row(1), fresh->last_readout().row(1));
}

// An unroll without an active decision (here after one with active ones)
// has nothing to learn from: no optimizer step, weights and metrics as
// they were; the next unroll with active decisions updates again.
TEST(ActorCriticAgentTest, UnrollWithoutActiveDecisionsSkipsTheUpdate) {
  const AgentConfig config = SmallConfig();
  std::unique_ptr<ActorCriticAgent> agent = MakeAgent(config);
  const int u = config.unroll_decisions;
  RandomWorld world(61);
  const std::vector<uint8_t> none(kEnvs, 0), all(kEnvs, 1);
  const auto run = [&](int decisions, const std::vector<uint8_t>& active) {
    for (int d = 0; d < decisions; ++d) {
      std::vector<float> rewards(kEnvs);
      for (float& r : rewards) r = static_cast<float>(world.rng.Normal());
      Decide(agent.get(), world.Observe(kEnvs), active, rewards,
             std::vector<uint8_t>(kEnvs, 0));
    }
  };
  // A whole first unroll inactive, and the Act that completes it.
  const Weights<float> initial = agent->weights();
  run(u + 1, none);
  EXPECT_EQ(agent->metrics().updates, 0);
  EXPECT_EQ(agent->metrics().skipped_updates, 1);
  EXPECT_EQ(agent->optimizer().step(), 0);
  ExpectSameWeights(agent->weights(), initial);

  // That Act began the second unroll, inactive too; one active unroll
  // (updated at the first Act of the fourth), then an inactive one.
  run(u - 1, none);
  run(u, all);
  run(u, none);
  EXPECT_EQ(agent->metrics().updates, 1);
  EXPECT_EQ(agent->metrics().skipped_updates, 2);
  const Weights<float> updated = agent->weights();
  EXPECT_NE(updated.w_in, initial.w_in);
  const AgentMetrics metrics = agent->metrics();
  const OptimizerState<float> state = agent->optimizer().state();
  run(1, none);  // completes the inactive fourth unroll
  EXPECT_EQ(agent->metrics().updates, 1);
  EXPECT_EQ(agent->metrics().skipped_updates, 3);
  EXPECT_EQ(agent->optimizer().step(), state.step);
  EXPECT_EQ(agent->optimizer().state().m.w_in, state.m.w_in);
  EXPECT_EQ(agent->optimizer().state().v.w_rec, state.v.w_rec);
  ExpectSameWeights(agent->weights(), updated);
  EXPECT_EQ(agent->metrics().loss, metrics.loss);
  EXPECT_EQ(agent->metrics().rate_hz, metrics.rate_hz);
  EXPECT_EQ(agent->metrics().grad_norm, metrics.grad_norm);
  EXPECT_EQ(agent->metrics().decisions, metrics.decisions + 1);
}

// The mask overload with every slot active (nullptr, or any nonzero flags)
// runs exactly as the overload without a mask.
TEST(ActorCriticAgentTest, AllActiveMaskIsBitIdenticalToNoMask) {
  AgentConfig config = SmallConfig();
  config.keep_last_unroll = true;
  std::unique_ptr<ActorCriticAgent> plain = MakeAgent(config);
  std::unique_ptr<ActorCriticAgent> null_mask = MakeAgent(config);
  std::unique_ptr<ActorCriticAgent> ones = MakeAgent(config);
  const std::vector<uint8_t> flags = {1, 2, 255, 1, 7};
  RandomWorld world(71);
  for (int d = 0; d < 3 * config.unroll_decisions + 1; ++d) {
    const std::vector<float> obs = world.Observe(kEnvs);
    std::vector<float> rewards(kEnvs);
    std::vector<uint8_t> terminated(kEnvs);
    for (int b = 0; b < kEnvs; ++b) {
      rewards[b] = static_cast<float>(world.rng.Normal());
      terminated[b] = world.rng.Bernoulli(0.15) ? 1 : 0;
    }
    std::vector<int32_t> a(kEnvs), b(kEnvs), c(kEnvs);
    ASSERT_TRUE(plain->Act(obs.data(), a.data()).ok());
    ASSERT_TRUE(null_mask->Act(obs.data(), b.data(), nullptr).ok());
    ASSERT_TRUE(ones->Act(obs.data(), c.data(), flags.data()).ok());
    EXPECT_EQ(a, b);
    EXPECT_EQ(a, c);
    for (ActorCriticAgent* agent : {plain.get(), null_mask.get(), ones.get()}) {
      ASSERT_TRUE(agent->Reward(rewards.data(), terminated.data()).ok());
    }
  }
  ASSERT_EQ(plain->metrics().updates, 3);
  EXPECT_EQ(plain->last_unroll().active_decisions,
            config.unroll_decisions * kEnvs);
  EXPECT_GT(plain->last_unroll().samples, kEnvs);
  for (const ActorCriticAgent* other : {null_mask.get(), ones.get()}) {
    ExpectSameWeights(other->weights(), plain->weights());
    ExpectSameWeights(other->last_unroll().gradient,
                      plain->last_unroll().gradient);
    ExpectSameOptimizerState(other->optimizer(), plain->optimizer());
    ExpectSameMetrics(other->metrics(), plain->metrics());
    EXPECT_EQ(other->state().v, plain->state().v);
  }
}

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
