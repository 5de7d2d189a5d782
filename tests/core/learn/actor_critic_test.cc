// Tests of the actor-critic loss (core/learn/actor_critic.h), of unrolls
// that carry the network state (reference::Forward with an initial state,
// SimulateFrom), and the acceptance test of reward-based e-prop: over an
// unroll that starts from a carried state, the fast offline e-prop gradient
// of the actor-critic loss equals the reference stop-gradient BPTT and the
// reference per-synapse-trace e-prop (eprop-math.md sections 5b, 6 and 7).
#include "core/learn/actor_critic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/learn/firing_rate.h"
#include "core/learn/gradient.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/reference/reference.h"
#include "core/sim/network_step.h"
#include "core/sim/simulate.h"
#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"

namespace eprop {
namespace {

// ---------------------------------------------------------------------------
// The loss.

TEST(ActorCriticOptionsTest, DefaultsAreValidAndBadValuesAreNamed) {
  ActorCriticOptions options;
  EXPECT_TRUE(options.Validate().ok());
  EXPECT_EQ(options.discount, 0.99);
  EXPECT_EQ(options.entropy_cost, 0.0025);
  ActorCriticOptions bad = options;
  bad.discount = 1.5;
  EXPECT_NE(bad.Validate().message().find("discount"), std::string::npos);
  bad = options;
  bad.value_cost = -1;
  EXPECT_NE(bad.Validate().message().find("value_cost"), std::string::npos);
  bad = options;
  bad.entropy_cost = NAN;
  EXPECT_NE(bad.Validate().message().find("entropy_cost"), std::string::npos);
  bad = options;
  bad.steps_per_action = 0;
  EXPECT_NE(bad.Validate().message().find("steps_per_action"),
            std::string::npos);
}

TEST(ActorCriticLossTest, HandComputedReturnsWithTerminalInTheMiddle) {
  // Batch 2, K = 2 network steps per decision, D = 4 decisions, 2 actions.
  constexpr int kBatch = 2;
  constexpr int kSteps = 8;
  ActorCriticOptions options;
  options.discount = 0.9;
  options.steps_per_action = 2;
  // Entries d * batch + b. Sample 0: the episode ends after decision 1.
  // Sample 1: it ends after the last decision, so V_boot is not used.
  ActorCriticEpisodes episodes;
  episodes.actions = {0, 1, 1, 0, 0, 0, 1, 1};
  episodes.rewards = {1, 0, 2, 0, 3, 1, 4, 0};
  episodes.terminal = {0, 0, 1, 0, 0, 0, 0, 1};
  episodes.bootstrap_value = {10, 5};
  // Equal logits (H = log 2); values 0.5 d + b at the decision steps
  // 1, 3, 5, 7 and 100 elsewhere, which must not be read.
  MatD y = MatD::Zero(kSteps * kBatch, 3);
  y.col(2).setConstant(100.0);
  for (int d = 0; d < 4; ++d) {
    for (int b = 0; b < kBatch; ++b) {
      y(DecisionStep(d, 2) * kBatch + b, 2) = 0.5 * d + b;
    }
  }
  const absl::StatusOr<ActorCriticResult<double>> r =
      ActorCriticLoss(y, kBatch, episodes, options);
  ASSERT_TRUE(r.ok()) << r.status();

  // Sample 0: R(3) = 4 + 0.9 * 10 = 13, R(2) = 3 + 0.9 * 13 = 14.7,
  // R(1) = 2 (terminal: no bootstrap), R(0) = 1 + 0.9 * 2 = 2.8.
  // Sample 1: R(3) = 0 (terminal), R(2) = 1, R(1) = 0.9, R(0) = 0.81.
  const std::vector<double> expected_returns = {2.8,  0.81, 2.0,  0.9,
                                                14.7, 1.0,  13.0, 0.0};
  ASSERT_EQ(r->returns.size(), expected_returns.size());
  double expected_loss = 0.0;
  for (int d = 0; d < 4; ++d) {
    for (int b = 0; b < kBatch; ++b) {
      const size_t i = d * kBatch + b;
      const double value = 0.5 * d + b;
      EXPECT_NEAR(r->returns[i], expected_returns[i], 1e-14) << i;
      EXPECT_EQ(r->values[i], value) << i;
      EXPECT_NEAR(r->advantages[i], expected_returns[i] - value, 1e-14) << i;
      EXPECT_NEAR(r->entropy[i], std::log(2.0), 1e-15) << i;
      const double advantage = expected_returns[i] - value;
      expected_loss += std::log(2.0) * advantage +
                       0.25 * advantage * advantage - 0.0025 * std::log(2.0);
      // dE/dy at the decision step, by the closed form with pi = 1/2 (the
      // entropy term vanishes for a uniform policy: log pi + H = 0).
      const int64_t row = DecisionStep(d, 2) * kBatch + b;
      const double sign = episodes.actions[i] == 0 ? -1.0 : 1.0;
      EXPECT_NEAR(r->dE_dy(row, 0), sign * 0.5 * advantage, 1e-14);
      EXPECT_NEAR(r->dE_dy(row, 1), -sign * 0.5 * advantage, 1e-14);
      EXPECT_NEAR(r->dE_dy(row, 2), -0.5 * advantage, 1e-14);
      // Zero at the other step of the frame.
      EXPECT_EQ(r->dE_dy.row(row - kBatch).cwiseAbs().maxCoeff(), 0.0);
    }
  }
  EXPECT_NEAR(r->loss, expected_loss, 1e-12);
}

// Random readouts of an unroll with D decisions of K steps and the episodes
// of a batch, with a terminal transition in the middle of some samples.
struct RandomUnroll {
  MatD y;
  ActorCriticEpisodes episodes;
};

RandomUnroll MakeRandomUnroll(int decisions, int steps_per_action, int batch,
                              int n_actions, uint64_t seed) {
  Rng rng(seed);
  RandomUnroll u;
  u.y.resize(int64_t{decisions} * steps_per_action * batch, n_actions + 1);
  for (int64_t k = 0; k < u.y.size(); ++k) u.y.data()[k] = 2.0 * rng.Normal();
  for (int d = 0; d < decisions; ++d) {
    for (int b = 0; b < batch; ++b) {
      const int64_t row =
          int64_t{DecisionStep(d, steps_per_action)} * batch + b;
      u.episodes.actions.push_back(
          SampleAction(u.y.row(row).head(n_actions).transpose(), &rng));
      u.episodes.rewards.push_back(rng.Normal());
      u.episodes.terminal.push_back(d == decisions / 2 && b % 2 == 0 ? 1 : 0);
    }
  }
  for (int b = 0; b < batch; ++b) {
    u.episodes.bootstrap_value.push_back(rng.Normal());
  }
  return u;
}

TEST(ActorCriticLossTest, GradientMatchesCentralFiniteDifferences) {
  constexpr int kDecisions = 4;
  constexpr int kK = 3;
  constexpr int kBatch = 3;
  constexpr int kActions = 3;
  ActorCriticOptions options;
  options.steps_per_action = kK;
  options.entropy_cost = 0.2;  // large enough to matter in the check
  options.value_cost = 0.7;
  const RandomUnroll u = MakeRandomUnroll(kDecisions, kK, kBatch, kActions, 11);
  const ActorCriticResult<double> r =
      ActorCriticLoss(u.y, kBatch, u.episodes, options).value();

  // The advantages are constants of the loss (stop-gradient). They depend
  // on V only, so the logits' derivative is that of the full loss, and the
  // value's is that of the loss without the policy term, whose stop-gradient
  // derivative with respect to V is zero.
  constexpr double kH = 1e-5;
  double max_error = 0.0;
  double max_gradient = 0.0;
  for (int64_t row = 0; row < u.y.rows(); ++row) {
    for (int k = 0; k <= kActions; ++k) {
      MatD plus = u.y, minus = u.y;
      plus(row, k) += kH;
      minus(row, k) -= kH;
      const ActorCriticResult<double> rp =
          ActorCriticLoss(plus, kBatch, u.episodes, options).value();
      const ActorCriticResult<double> rm =
          ActorCriticLoss(minus, kBatch, u.episodes, options).value();
      const double lp = k < kActions ? rp.loss : rp.loss - rp.policy_loss;
      const double lm = k < kActions ? rm.loss : rm.loss - rm.policy_loss;
      const double fd = (lp - lm) / (2.0 * kH);
      max_error = std::max(max_error, std::abs(fd - r.dE_dy(row, k)));
      max_gradient = std::max(max_gradient, std::abs(r.dE_dy(row, k)));
      if ((row / kBatch) % kK != kK - 1) {
        // Off the decision steps the loss does not read y at all.
        EXPECT_EQ(r.dE_dy(row, k), 0.0);
        EXPECT_EQ(fd, 0.0);
      }
    }
  }
  EXPECT_GT(max_gradient, 0.1);
  EXPECT_LE(max_error, 1e-8 * max_gradient) << max_error;
  std::printf(
      "actor-critic dE/dy vs central differences: max |error| %.3g, "
      "max |dE/dy| %.3g\n",
      max_error, max_gradient);

  // The policy term's own derivative: (pi - onehot) A on the logits.
  options.entropy_cost = 0.0;
  const ActorCriticResult<double> no_entropy =
      ActorCriticLoss(u.y, kBatch, u.episodes, options).value();
  for (int d = 0; d < kDecisions; ++d) {
    for (int b = 0; b < kBatch; ++b) {
      const int64_t row = int64_t{DecisionStep(d, kK)} * kBatch + b;
      const size_t i = d * kBatch + b;
      VecD pi = u.y.row(row).head(kActions).transpose();
      pi = (pi.array() - pi.maxCoeff()).exp();
      pi /= pi.sum();
      pi[u.episodes.actions[i]] -= 1.0;
      for (int k = 0; k < kActions; ++k) {
        EXPECT_NEAR(no_entropy.dE_dy(row, k), pi[k] * r.advantages[i], 1e-14);
      }
    }
  }
}

TEST(ActorCriticLossTest, FloatAgreesWithDouble) {
  ActorCriticOptions options;
  options.steps_per_action = 2;
  const RandomUnroll u = MakeRandomUnroll(5, 2, 4, 3, 12);
  const ActorCriticResult<double> d =
      ActorCriticLoss(u.y, 4, u.episodes, options).value();
  const ActorCriticResult<float> f =
      ActorCriticLoss<float>(u.y.cast<float>(), 4, u.episodes, options).value();
  EXPECT_NEAR(f.loss, d.loss, 1e-5 * std::abs(d.loss) + 1e-6);
  EXPECT_LE((f.dE_dy.cast<double>() - d.dE_dy).cwiseAbs().maxCoeff(), 1e-5);
}

TEST(ActorCriticLossTest, RejectsInputsThatDoNotFit) {
  ActorCriticOptions options;
  options.steps_per_action = 2;
  const RandomUnroll u = MakeRandomUnroll(3, 2, 2, 3, 13);
  EXPECT_TRUE(ActorCriticLoss(u.y, 2, u.episodes, options).ok());
  // U = 6 steps is no multiple of K = 4.
  ActorCriticOptions bad_k = options;
  bad_k.steps_per_action = 4;
  EXPECT_FALSE(ActorCriticLoss(u.y, 2, u.episodes, bad_k).ok());
  ActorCriticEpisodes e = u.episodes;
  e.actions[0] = 3;  // only actions 0..2 exist
  EXPECT_FALSE(ActorCriticLoss(u.y, 2, e, options).ok());
  e = u.episodes;
  e.rewards.pop_back();
  EXPECT_FALSE(ActorCriticLoss(u.y, 2, e, options).ok());
  e = u.episodes;
  e.bootstrap_value = {0.0};
  EXPECT_FALSE(ActorCriticLoss(u.y, 2, e, options).ok());
  e = u.episodes;
  e.rewards[1] = NAN;
  EXPECT_FALSE(ActorCriticLoss(u.y, 2, e, options).ok());
  EXPECT_FALSE(
      ActorCriticLoss(MatD(u.y.leftCols(1)), 2, u.episodes, options).ok());
}

TEST(SampleActionTest, FrequenciesFollowTheSoftmax) {
  VecD logits(3);
  logits << 0.5, -1.0, 1.5;
  VecD pi = (logits.array() - logits.maxCoeff()).exp();
  pi /= pi.sum();
  Rng rng(3);
  constexpr int kDraws = 200000;
  VecD counts = VecD::Zero(3);
  for (int n = 0; n < kDraws; ++n) counts[SampleAction(logits, &rng)] += 1.0;
  for (int k = 0; k < 3; ++k) {
    // 5 standard deviations of a binomial frequency.
    EXPECT_NEAR(counts[k] / kDraws, pi[k],
                5.0 * std::sqrt(pi[k] * (1.0 - pi[k]) / kDraws));
  }
}

// ---------------------------------------------------------------------------
// A small actor-critic LSNN over two unrolls.

constexpr int kActions = 3;
constexpr int kBatch = 5;
constexpr int kFirstSteps = 37;  // the first unroll, from the zero state

NetworkConfig ActorCriticConfig() {
  NetworkConfig config;
  config.n_in = 6;
  config.n_lif = 4;
  config.n_alif = 4;
  config.n_out = kActions + 1;
  config.tau_m_ms = 15.0;
  config.tau_a_ms = 70.0;
  config.beta_alif = 0.2;
  config.v_th = 0.62;
  config.n_ref = 3;
  config.tau_out_ms = 4.0;
  config.readout_bias = true;
  return config;
}

struct Network {
  NetworkConfig config = ActorCriticConfig();
  Weights<double> w;
  NetworkModel<double> model;
};

Network MakeNetwork(uint64_t seed) {
  Network n;
  EXPECT_TRUE(n.config.Validate().ok());
  n.w = InitWeights(n.config, seed);
  n.w.w_in *= 3.0;
  n.w.w_rec *= 1.5;
  Rng rng(seed + 7);
  for (int k = 0; k < n.config.n_out; ++k) n.w.b_out[k] = 0.1 * rng.Normal();
  n.model = NetworkModel<double>::Prepare(MakeNeuronConstants(n.config), n.w);
  return n;
}

// [steps*batch x n_in] spikes at 10 % per step (100 Hz).
MatD InputSpikes(int steps, int n_in, uint64_t seed) {
  Rng rng(seed);
  MatD x(int64_t{steps} * kBatch, n_in);
  for (int64_t k = 0; k < x.size(); ++k) {
    x.data()[k] = rng.Bernoulli(0.1) ? 1.0 : 0.0;
  }
  return x;
}

MatD Concatenate(const MatD& top, const MatD& bottom) {
  MatD m(top.rows() + bottom.rows(), top.cols());
  m << top, bottom;
  return m;
}

reference::SampleState SampleOf(const CarriedState<double>& s, int b) {
  reference::SampleState out;
  out.v = s.v.row(b).transpose();
  out.a = s.a.row(b).transpose();
  out.r = s.refractory.row(b).transpose();
  out.z = s.z.row(b).transpose();
  out.zf = s.zf.row(b).transpose();
  return out;
}

double MaxAbsDifference(const reference::SampleState& a,
                        const reference::SampleState& b) {
  return std::max(
      {(a.v - b.v).cwiseAbs().maxCoeff(), (a.a - b.a).cwiseAbs().maxCoeff(),
       (a.r - b.r).cwiseAbs().maxCoeff(), (a.z - b.z).cwiseAbs().maxCoeff(),
       (a.zf - b.zf).cwiseAbs().maxCoeff()});
}

TEST(CarriedStateTest, ReferenceUnrollsReproduceOneRun) {
  const Network n = MakeNetwork(21);
  const MatD x1 = InputSpikes(kFirstSteps, n.config.n_in, 22);
  const MatD x2 = InputSpikes(30, n.config.n_in, 23);
  for (reference::SpikeFunction spike : {reference::SpikeFunction::kHeaviside,
                                         reference::SpikeFunction::kSigmoid}) {
    for (int b = 0; b < kBatch; ++b) {
      const MatD a = SampleRows(x1, kFirstSteps, kBatch, b);
      const MatD c = SampleRows(x2, 30, kBatch, b);
      const reference::SampleTrajectory whole =
          reference::Forward(n.config, n.w, Concatenate(a, c), spike);
      const reference::SampleTrajectory first =
          reference::Forward(n.config, n.w, a, spike);
      const reference::SampleTrajectory second = reference::Forward(
          n.config, n.w, c, reference::FinalState(first), spike);
      EXPECT_EQ(Concatenate(first.v, second.v), whole.v);
      EXPECT_EQ(Concatenate(first.a, second.a), whole.a);
      EXPECT_EQ(Concatenate(first.z, second.z), whole.z);
      EXPECT_EQ(Concatenate(first.psi, second.psi), whole.psi);
      EXPECT_EQ(Concatenate(first.r, second.r), whole.r);
      EXPECT_EQ(Concatenate(first.y, second.y), whole.y);
      EXPECT_EQ(second.initial.z, first.z.row(kFirstSteps - 1).transpose());
    }
  }
}

TEST(CarriedStateTest, FastUnrollsReproduceOneRunAndTheReference) {
  const Network n = MakeNetwork(31);
  constexpr int kSecondSteps = 30;
  const MatD x1 = InputSpikes(kFirstSteps, n.config.n_in, 32);
  const MatD x2 = InputSpikes(kSecondSteps, n.config.n_in, 33);
  SimulateOptions options;
  options.record_state = true;
  const Trajectory<double> whole =
      Simulate(n.model, ToSparseRows(Concatenate(x1, x2)),
               kFirstSteps + kSecondSteps, kBatch, options);
  EXPECT_EQ(whole.initial_z.size(), 0);

  CarriedState<double> state;
  Trajectory<double> first, second;
  SimulateFrom<double>(n.model, ToSparseRows(x1), kFirstSteps, kBatch, options,
                       nullptr, &first, &state);
  ASSERT_GT(state.z.sum(), 0.0) << "the carried state should have spikes";
  ASSERT_GT(state.refractory.sum(), 0.0);
  ASSERT_GT(state.a.rightCols(n.config.n_alif).sum(), 0.0);
  const CarriedState<double> after_first = state;
  // Carried in place: initial and final state are the same object.
  SimulateFrom<double>(n.model, ToSparseRows(x2), kSecondSteps, kBatch, options,
                       &state, &second, &state);
  EXPECT_EQ(second.initial_z, after_first.z);

  const int64_t split = int64_t{kFirstSteps} * kBatch;
  EXPECT_EQ(Concatenate(first.psi, second.psi), whole.psi);
  EXPECT_EQ(Concatenate(first.v, second.v), whole.v);
  EXPECT_EQ(Concatenate(first.threshold, second.threshold), whole.threshold);
  EXPECT_EQ(Concatenate(first.DenseSpikes(), second.DenseSpikes()),
            whole.DenseSpikes());
  // The carried readout is rebuilt from zf: equal to rounding.
  EXPECT_LE((second.y - whole.y.bottomRows(whole.y.rows() - split))
                .cwiseAbs()
                .maxCoeff(),
            1e-13);
  EXPECT_EQ(first.y, whole.y.topRows(split));

  // Both final states agree with the reference's, sample by sample.
  for (int b = 0; b < kBatch; ++b) {
    const reference::SampleTrajectory r1 = reference::Forward(
        n.config, n.w, SampleRows(x1, kFirstSteps, kBatch, b));
    const reference::SampleTrajectory r2 = reference::Forward(
        n.config, n.w, SampleRows(x2, kSecondSteps, kBatch, b),
        reference::FinalState(r1));
    EXPECT_LE(
        MaxAbsDifference(SampleOf(after_first, b), reference::FinalState(r1)),
        1e-13);
    EXPECT_LE(MaxAbsDifference(SampleOf(state, b), reference::FinalState(r2)),
              1e-13);
    EXPECT_LE((SampleRows(second.y, kSecondSteps, kBatch, b) - r2.y)
                  .cwiseAbs()
                  .maxCoeff(),
              1e-13);
  }
}

// ---------------------------------------------------------------------------
// The acceptance test: one unroll of reward-based e-prop from a carried
// state, fast offline form against the reference.

struct AcceptanceCase {
  int steps_per_action;
  int decisions;
};

class ActorCriticGradientTest
    : public ::testing::TestWithParam<AcceptanceCase> {
 protected:
  void SetUp() override {
    const AcceptanceCase c = GetParam();
    steps_ = c.steps_per_action * c.decisions;
    ac_options_.steps_per_action = c.steps_per_action;

    // Unroll 1 from the zero state, to get a non-trivial carried state.
    const MatD x1 = InputSpikes(kFirstSteps, n_.config.n_in, 42);
    CarriedState<double> carried;
    Trajectory<double> first;
    SimulateFrom<double>(n_.model, ToSparseRows(x1), kFirstSteps, kBatch,
                         SimulateOptions(), nullptr, &first, &carried);
    ASSERT_GT(carried.z.sum(), 0.0);
    ASSERT_GT(carried.refractory.sum(), 0.0);
    ASSERT_GT(carried.a.rightCols(n_.config.n_alif).sum(), 0.0);

    // Unroll 2 from the carried state.
    x_ = InputSpikes(steps_, n_.config.n_in, 43);
    inputs_ = ToSparseRows(x_);
    SimulateFrom<double>(n_.model, inputs_, steps_, kBatch, SimulateOptions(),
                         &carried, &traj_, nullptr);
    ASSERT_GT(traj_.SpikeCountPerNeuron().sum(), 30);
    ASSERT_GT(traj_.SpikeCountPerNeuron().tail(n_.config.n_alif).sum(), 10);

    // The actor-critic loss: actions sampled from the softmax with a fixed
    // seed, random rewards, a terminal transition in the middle of the
    // even samples and at the end of sample 1.
    Rng rng(44);
    const int decisions = c.decisions;
    for (int d = 0; d < decisions; ++d) {
      for (int b = 0; b < kBatch; ++b) {
        const int64_t row =
            int64_t{DecisionStep(d, c.steps_per_action)} * kBatch + b;
        episodes_.actions.push_back(
            SampleAction(traj_.y.row(row).head(kActions).transpose(), &rng));
        episodes_.rewards.push_back(rng.Normal());
        const bool terminal = (d == decisions / 2 && b % 2 == 0) ||
                              (d == decisions - 1 && b == 1);
        episodes_.terminal.push_back(terminal ? 1 : 0);
      }
    }
    for (int b = 0; b < kBatch; ++b) {
      episodes_.bootstrap_value.push_back(rng.Normal());
    }
    const absl::StatusOr<ActorCriticResult<double>> loss =
        ActorCriticLoss(traj_.y, kBatch, episodes_, ac_options_);
    ASSERT_TRUE(loss.ok()) << loss.status();
    loss_ = *loss;

    // Firing-rate regularisation of this unroll, through dE/dz_direct.
    RateRegularizerConfig reg;
    reg.c_reg = 0.3;
    reg.f_target_hz = 20.0;
    direct_ = RateRegularization(reg, traj_, n_.config.dt_ms);
    ASSERT_GT(direct_.per_neuron.cwiseAbs().maxCoeff(), 0.0);

    // The same unroll on the reference, per sample, from the reference's
    // own carried state.
    for (int b = 0; b < kBatch; ++b) {
      const reference::SampleTrajectory r1 = reference::Forward(
          n_.config, n_.w, SampleRows(x1, kFirstSteps, kBatch, b));
      const reference::SampleState initial = reference::FinalState(r1);
      EXPECT_LE(MaxAbsDifference(initial, SampleOf(carried, b)), 1e-13);
      samples_x_.push_back(SampleRows(x_, steps_, kBatch, b));
      samples_.push_back(
          reference::Forward(n_.config, n_.w, samples_x_.back(), initial));
      EXPECT_EQ(samples_.back().z,
                SampleRows(traj_.DenseSpikes(), steps_, kBatch, b));
      EXPECT_LE((samples_.back().psi - SampleRows(traj_.psi, steps_, kBatch, b))
                    .cwiseAbs()
                    .maxCoeff(),
                1e-13);
    }
  }

  Weights<double> Fast(GradientMethod method, const MatD& feedback,
                       const Trajectory<double>& traj) const {
    GradientInputs options;
    options.readout_bias = true;
    return ComputeGradient(method, n_.model, feedback, inputs_, traj,
                           loss_.dE_dy, direct_, options);
  }
  Weights<double> Fast(GradientMethod method, const MatD& feedback) const {
    return Fast(method, feedback, traj_);
  }

  enum class Reference { kBptt, kStopGradientBptt, kEprop };
  // The reference gradient summed over the batch, with the same dE/dy and
  // dE/dz_direct as the fast path.
  Weights<double> ReferenceGradient(Reference kind,
                                    const MatD& feedback) const {
    Weights<double> total = Weights<double>::ZerosLike(n_.w);
    for (int b = 0; b < kBatch; ++b) {
      const MatD dE_dy = SampleRows(loss_.dE_dy, steps_, kBatch, b);
      MatD dE_dz = MatD::Zero(steps_, n_.config.n_rec());
      dE_dz.rowwise() += direct_.per_neuron.transpose();
      switch (kind) {
        case Reference::kBptt:
        case Reference::kStopGradientBptt:
          total.Add(reference::Bptt(n_.config, n_.w, samples_x_[b], samples_[b],
                                    dE_dy, dE_dz,
                                    kind == Reference::kStopGradientBptt)
                        .grad);
          break;
        case Reference::kEprop:
          total.Add(reference::EpropGradient(n_.config, n_.w, samples_x_[b],
                                             samples_[b], dE_dy, dE_dz,
                                             feedback));
          break;
      }
    }
    return total;
  }

  static void Report(const char* what, double difference) {
    std::printf("%-58s max relative difference %.3g\n", what, difference);
  }

  Network n_ = MakeNetwork(41);
  int steps_ = 0;
  ActorCriticOptions ac_options_;
  MatD x_;
  SparseRows<double> inputs_;
  Trajectory<double> traj_;
  ActorCriticEpisodes episodes_;
  ActorCriticResult<double> loss_;
  SpikeLossGradient<double> direct_;
  std::vector<MatD> samples_x_;
  std::vector<reference::SampleTrajectory> samples_;
};

constexpr double kExact = 1e-10;

TEST_P(ActorCriticGradientTest, SymmetricEpropEqualsStopGradientBptt) {
  const MatD symmetric = n_.w.w_out.transpose();
  const Weights<double> fast = Fast(GradientMethod::kEpropOffline, symmetric);
  const double vs_bptt = MaxRelativeDifference(
      fast, ReferenceGradient(Reference::kStopGradientBptt, symmetric));
  const double vs_traces = MaxRelativeDifference(
      fast, ReferenceGradient(Reference::kEprop, symmetric));
  Report("symmetric e-prop vs reference stop-gradient BPTT:", vs_bptt);
  Report("symmetric e-prop vs reference EpropGradient(W_out^T):", vs_traces);
  EXPECT_LE(vs_bptt, kExact);
  EXPECT_LE(vs_traces, kExact);
  EXPECT_GT(fast.w_rec.cwiseAbs().maxCoeff(), 0.0);
  EXPECT_GT(fast.w_in.cwiseAbs().maxCoeff(), 0.0);
}

TEST_P(ActorCriticGradientTest, RandomEpropEqualsReferenceTraces) {
  const MatD feedback = InitRandomFeedback(n_.config, 1.0, 45);
  const Weights<double> fast = Fast(GradientMethod::kEpropOffline, feedback);
  const double difference = MaxRelativeDifference(
      fast, ReferenceGradient(Reference::kEprop, feedback));
  Report("random e-prop vs reference EpropGradient(B):", difference);
  EXPECT_LE(difference, kExact);
}

TEST_P(ActorCriticGradientTest, BpttEqualsReferenceBptt) {
  const MatD symmetric = n_.w.w_out.transpose();
  const Weights<double> fast = Fast(GradientMethod::kBptt, symmetric);
  const double difference = MaxRelativeDifference(
      fast, ReferenceGradient(Reference::kBptt, symmetric));
  Report("truncated BPTT vs reference BPTT:", difference);
  EXPECT_LE(difference, kExact);
}

TEST_P(ActorCriticGradientTest, CarriedSpikesAndRecurrentPathsMatter) {
  // The identities above would not notice a missing z(-1) or zf(-1) term
  // or a recursion that ignores the recurrent path: each changes the result.
  const MatD symmetric = n_.w.w_out.transpose();
  const Weights<double> eprop = Fast(GradientMethod::kEpropOffline, symmetric);
  Trajectory<double> without_initial_z = traj_;
  without_initial_z.initial_z.resize(0, 0);
  const Weights<double> dropped =
      Fast(GradientMethod::kEpropOffline, symmetric, without_initial_z);
  EXPECT_GT(MaxRelativeDifference(dropped.w_rec, eprop.w_rec), 1e-6);
  EXPECT_EQ(dropped.w_in, eprop.w_in);
  EXPECT_EQ(dropped.w_out, eprop.w_out);
  // Likewise the carried readout trace zf(-1), which only W_out sees.
  Trajectory<double> without_initial_zf = traj_;
  without_initial_zf.initial_zf.resize(0, 0);
  const Weights<double> no_zf =
      Fast(GradientMethod::kEpropOffline, symmetric, without_initial_zf);
  EXPECT_GT(MaxRelativeDifference(no_zf.w_out, eprop.w_out), 1e-6);
  EXPECT_EQ(no_zf.w_in, eprop.w_in);
  EXPECT_EQ(no_zf.w_rec, eprop.w_rec);
  const Weights<double> bptt = Fast(GradientMethod::kBptt, symmetric);
  EXPECT_GT(MaxRelativeDifference(eprop.w_rec, bptt.w_rec), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    FramesOfKSteps, ActorCriticGradientTest,
    ::testing::Values(AcceptanceCase{1, 40}, AcceptanceCase{5, 8}),
    [](const ::testing::TestParamInfo<AcceptanceCase>& param_info) {
      return "K" + std::to_string(param_info.param.steps_per_action);
    });

}  // namespace
}  // namespace eprop
