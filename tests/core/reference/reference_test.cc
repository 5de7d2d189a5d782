// Checks of the scalar reference (core/reference/reference.h) against the
// identities of eprop-math.md section 5 and against finite differences.
//
// Every test asserts that neurons actually spiked (and that ALIF neurons
// spiked when there are any), so that no identity holds vacuously.
#include "core/reference/reference.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gtest/gtest.h"

namespace eprop::reference {
namespace {

// The reference setting of eprop-math.md section 5.
NetworkConfig ReferenceConfig() {
  NetworkConfig config;
  config.n_in = 3;
  config.n_lif = 4;
  config.n_alif = 4;
  config.n_out = 1;
  config.tau_m_ms = 20.0;
  config.tau_a_ms = 500.0;
  config.v_th = 0.62;
  config.beta_alif = 0.07;
  config.n_ref = 2;
  config.gamma = 0.3;
  config.tau_out_ms = 20.0;
  return config;
}

struct Setting {
  std::string name;
  NetworkConfig config = ReferenceConfig();
  int steps = 50;
  // InitWeights draws W_in ~ N(0, 1/n_in), too weak to make the neurons fire
  // much within T steps; these factors scale the drawn weights up.
  double w_in_scale = 3.0;
  double w_rec_scale = 1.0;
  uint64_t seed = 1;
};

// Keeps failure messages readable (gtest would dump the bytes).
void PrintTo(const Setting& setting, std::ostream* os) { *os << setting.name; }

Setting Named(std::string name) {
  Setting s;
  s.name = std::move(name);
  return s;
}

// One sample: network, inputs and the loss
//   E = 1/2 sum_{t,k} (y_k(t) - y*_k(t))^2 + sum_{t,j} c_j z_j(t)^2.
struct Problem {
  NetworkConfig config;
  Weights<double> w;
  MatD x;       // [T x n_in] 100 Hz Poisson spikes
  MatD target;  // [T x n_out] y*
  VecD c;       // [n_rec] coefficients of the spike penalty (zero: none)
};

Problem MakeProblem(const Setting& setting, bool spike_penalty) {
  Problem p;
  p.config = setting.config;
  EXPECT_TRUE(p.config.Validate().ok()) << p.config.Validate();
  p.w = InitWeights(p.config, setting.seed);
  p.w.w_in *= setting.w_in_scale;
  p.w.w_rec *= setting.w_rec_scale;
  Rng rng(setting.seed + 1000);
  if (p.config.readout_bias) {
    for (int k = 0; k < p.config.n_out; ++k) p.w.b_out(k) = 0.1 * rng.Normal();
  }
  p.x = MatD::Zero(setting.steps, p.config.n_in);
  for (int t = 0; t < setting.steps; ++t) {
    // x_i(t) = 1 with probability 0.1: 100 Hz at dt = 1 ms.
    for (int i = 0; i < p.config.n_in; ++i) p.x(t, i) = rng.Bernoulli(0.1);
  }
  p.target = MatD::Zero(setting.steps, p.config.n_out);
  for (int t = 0; t < setting.steps; ++t) {
    for (int k = 0; k < p.config.n_out; ++k) p.target(t, k) = rng.Normal();
  }
  p.c = VecD::Zero(p.config.n_rec());
  if (spike_penalty) {
    for (int j = 0; j < p.config.n_rec(); ++j) p.c(j) = 0.05 * rng.Normal();
  }
  return p;
}

struct Loss {
  double value = 0.0;
  MatD dE_dy;         // y - y*
  MatD dE_dz_direct;  // 2 c_j z_j(t)
};

Loss EvaluateLoss(const Problem& p, const SampleTrajectory& trajectory) {
  Loss loss;
  loss.dE_dy = trajectory.y - p.target;
  loss.value = 0.5 * loss.dE_dy.squaredNorm();
  loss.dE_dz_direct = MatD::Zero(trajectory.z.rows(), trajectory.z.cols());
  for (int t = 0; t < trajectory.z.rows(); ++t) {
    for (int j = 0; j < trajectory.z.cols(); ++j) {
      const double z = trajectory.z(t, j);
      loss.value += p.c(j) * z * z;
      loss.dE_dz_direct(t, j) = 2.0 * p.c(j) * z;
    }
  }
  return loss;
}

// E(plus) - E(minus), summed term by term as
//   1/2 (d+ - d-)(d+ + d-) with d = y - y*,   and   c_j (z+ - z-)(z+ + z-),
// which is algebraically the same but avoids cancelling the much larger
// totals against each other.
double LossDifference(const Problem& p, const SampleTrajectory& plus,
                      const SampleTrajectory& minus) {
  double difference = 0.0;
  for (int t = 0; t < plus.y.rows(); ++t) {
    for (int k = 0; k < plus.y.cols(); ++k) {
      const double d_plus = plus.y(t, k) - p.target(t, k);
      const double d_minus = minus.y(t, k) - p.target(t, k);
      difference += 0.5 * (d_plus - d_minus) * (d_plus + d_minus);
    }
    for (int j = 0; j < plus.z.cols(); ++j) {
      difference += p.c(j) * (plus.z(t, j) - minus.z(t, j)) *
                    (plus.z(t, j) + minus.z(t, j));
    }
  }
  return difference;
}

// Number of spikes of neurons [begin, end). A spike is z > 1/2, which for
// kSigmoid is exactly the hard spike H(u) outside the refractory period.
int SpikeCount(const SampleTrajectory& trajectory, int begin, int end) {
  int count = 0;
  for (int t = 0; t < trajectory.z.rows(); ++t) {
    for (int j = begin; j < end; ++j) count += trajectory.z(t, j) > 0.5;
  }
  return count;
}

// Succeeds iff every population present (LIF, ALIF) spiked.
::testing::AssertionResult PopulationsSpiked(
    const NetworkConfig& config, const SampleTrajectory& trajectory) {
  const int lif = SpikeCount(trajectory, 0, config.n_lif);
  const int alif = SpikeCount(trajectory, config.n_lif, config.n_rec());
  if ((config.n_lif > 0 && lif == 0) || (config.n_alif > 0 && alif == 0)) {
    return ::testing::AssertionFailure()
           << "LIF spikes " << lif << ", ALIF spikes " << alif;
  }
  return ::testing::AssertionSuccess()
         << "LIF spikes " << lif << ", ALIF spikes " << alif;
}

double MaxAbs(const MatD& m) { return m.cwiseAbs().maxCoeff(); }

// ---------------------------------------------------------------------------
// Identities (a) and (b) of section 5 over variants of the setting.

std::vector<Setting> IdentitySettings() {
  std::vector<Setting> settings;
  settings.push_back(Named("Reference"));
  {
    Setting s = Named("Section5bShortRefractory3");
    s.steps = 10;
    s.w_in_scale = 4.0;
    s.config.n_ref = 3;
    settings.push_back(s);
  }
  {
    Setting s = Named("InputScalingOneMinusAlpha");
    s.config.input_scaling = InputScaling::kOneMinusAlpha;
    // c_in = 1 - alpha ~ 0.049 scales every synapse down; compensate (with a
    // slightly different input gain, so the dynamics differ from Reference).
    const double c_in = 1.0 - std::exp(-1.0 / 20.0);
    s.w_in_scale = 3.5 / c_in;
    s.w_rec_scale /= c_in;
    settings.push_back(s);
  }
  {
    Setting s = Named("NoReadoutFilter");
    s.config.tau_out_ms = 0.0;
    settings.push_back(s);
  }
  {
    Setting s = Named("LifOnly");
    s.config.n_lif = 8;
    s.config.n_alif = 0;
    settings.push_back(s);
  }
  {
    Setting s = Named("AlifOnly");
    s.config.n_lif = 0;
    s.config.n_alif = 8;
    settings.push_back(s);
  }
  for (int n_ref = 0; n_ref <= 5; ++n_ref) {
    Setting s = Named("Refractory" + std::to_string(n_ref));
    s.config.n_ref = n_ref;
    settings.push_back(s);
  }
  {
    Setting s = Named("ThreeOutputsWithBiasStrongAdaptation");
    s.seed = 7;
    s.config.n_out = 3;
    s.config.readout_bias = true;
    s.config.beta_alif = 0.5;
    s.w_rec_scale = 2.0;
    settings.push_back(s);
  }
  return settings;
}

class IdentityTest : public ::testing::TestWithParam<Setting> {};

TEST_P(IdentityTest, FactorisationAndEpropEqualBptt) {
  const Setting& setting = GetParam();
  const Problem p = MakeProblem(setting, /*spike_penalty=*/true);
  const SampleTrajectory trajectory = Forward(p.config, p.w, p.x);
  ASSERT_TRUE(PopulationsSpiked(p.config, trajectory));
  const Loss loss = EvaluateLoss(p, trajectory);

  const BpttResult full = Bptt(p.config, p.w, p.x, trajectory, loss.dE_dy,
                               loss.dE_dz_direct, /*stop_gradient=*/false);
  const BpttResult stopped = Bptt(p.config, p.w, p.x, trajectory, loss.dE_dy,
                                  loss.dE_dz_direct, /*stop_gradient=*/true);
  ASSERT_GT(MaxAbs(full.grad.w_in), 0.0);
  ASSERT_GT(MaxAbs(full.grad.w_rec), 0.0);
  ASSERT_GT(MaxAbs(stopped.grad.w_in), 0.0);
  ASSERT_GT(MaxAbs(stopped.grad.w_rec), 0.0);
  EXPECT_EQ(full.grad.w_rec.diagonal().cwiseAbs().maxCoeff(), 0.0);

  // (a) sum_t dE/dz_j(t) e_ji(t) = BPTT gradient.
  const Weights<double> factorized =
      FactorizedGradient(p.config, p.w, p.x, trajectory, full.dE_dz);
  const double diff_in_a =
      MaxRelativeDifference(factorized.w_in, full.grad.w_in);
  const double diff_rec_a =
      MaxRelativeDifference(factorized.w_rec, full.grad.w_rec);
  EXPECT_LE(diff_in_a, 1e-12);
  EXPECT_LE(diff_rec_a, 1e-12);

  // (b) symmetric e-prop = BPTT with the gradient stopped from v(t) into
  // z(t-1).
  const MatD feedback = p.w.w_out.transpose();
  const Weights<double> eprop = EpropGradient(
      p.config, p.w, p.x, trajectory, loss.dE_dy, loss.dE_dz_direct, feedback);
  const double diff_b = MaxRelativeDifference(eprop, stopped.grad);
  EXPECT_LE(diff_b, 1e-12);

  std::printf(
      "%-40s spikes %4d  (a) W_in %.2e W_rec %.2e  (b) all %.2e  "
      "|stop - full|/|full| %.2e\n",
      setting.name.c_str(), SpikeCount(trajectory, 0, p.config.n_rec()),
      diff_in_a, diff_rec_a, diff_b,
      MaxRelativeDifference(stopped.grad, full.grad));
}

INSTANTIATE_TEST_SUITE_P(
    Variants, IdentityTest, ::testing::ValuesIn(IdentitySettings()),
    [](const ::testing::TestParamInfo<Setting>& param_info) {
      return param_info.param.name;
    });

// The two identities check different things only if cutting the recurrent
// and reset paths changes the gradient, and the a-path only matters if it is
// exercised.
TEST(ReferenceTest, StopGradientAndAdaptationPathsMatter) {
  const Problem p = MakeProblem(Named("Reference"), false);
  const SampleTrajectory trajectory = Forward(p.config, p.w, p.x);
  ASSERT_TRUE(PopulationsSpiked(p.config, trajectory));
  const Loss loss = EvaluateLoss(p, trajectory);
  const BpttResult full = Bptt(p.config, p.w, p.x, trajectory, loss.dE_dy,
                               loss.dE_dz_direct, false);
  const BpttResult stopped =
      Bptt(p.config, p.w, p.x, trajectory, loss.dE_dy, loss.dE_dz_direct, true);
  EXPECT_GT(MaxRelativeDifference(stopped.grad.w_rec, full.grad.w_rec), 1e-3);
  EXPECT_GT(MaxRelativeDifference(stopped.grad.w_in, full.grad.w_in), 1e-3);

  // Removing eps^a (beta = 0 in the traces only) must change the ALIF rows of
  // the e-prop gradient; the LIF rows are unaffected.
  NetworkConfig no_adaptation_in_traces = p.config;
  no_adaptation_in_traces.beta_alif = 0.0;
  const MatD feedback = p.w.w_out.transpose();
  const Weights<double> with_a = EpropGradient(
      p.config, p.w, p.x, trajectory, loss.dE_dy, loss.dE_dz_direct, feedback);
  const Weights<double> without_a =
      EpropGradient(no_adaptation_in_traces, p.w, p.x, trajectory, loss.dE_dy,
                    loss.dE_dz_direct, feedback);
  const int n_lif = p.config.n_lif;
  EXPECT_EQ(MaxAbs(with_a.w_in.topRows(n_lif) - without_a.w_in.topRows(n_lif)),
            0.0);
  EXPECT_GT(MaxAbs(with_a.w_in.bottomRows(p.config.n_alif) -
                   without_a.w_in.bottomRows(p.config.n_alif)),
            0.0);
}

// ---------------------------------------------------------------------------
// Exact gradient against central finite differences (smooth spikes).

// Entry `index` of a parameter group, counted row-major; group 0..3 is W_in,
// W_rec, W_out, b.
double& Entry(Weights<double>& w, int group, int index) {
  switch (group) {
    case 0:
      return w.w_in.data()[index];
    case 1:
      return w.w_rec.data()[index];
    case 2:
      return w.w_out.data()[index];
    default:
      return w.b_out.data()[index];
  }
}

struct FiniteDifferenceCase {
  std::string name;
  Setting setting;
  bool spike_penalty = false;
};

void PrintTo(const FiniteDifferenceCase& c, std::ostream* os) { *os << c.name; }

class FiniteDifferenceTest
    : public ::testing::TestWithParam<FiniteDifferenceCase> {};

TEST_P(FiniteDifferenceTest, SigmoidBpttMatchesCentralDifferences) {
  const FiniteDifferenceCase& c = GetParam();
  const Problem p = MakeProblem(c.setting, c.spike_penalty);
  ASSERT_TRUE(p.config.readout_bias);
  const SampleTrajectory trajectory =
      Forward(p.config, p.w, p.x, SpikeFunction::kSigmoid);
  ASSERT_TRUE(PopulationsSpiked(p.config, trajectory));
  const Loss loss = EvaluateLoss(p, trajectory);
  if (c.spike_penalty) {
    ASSERT_GT(MaxAbs(loss.dE_dz_direct), 0.0);
  }
  const BpttResult bptt = Bptt(p.config, p.w, p.x, trajectory, loss.dE_dy,
                               loss.dE_dz_direct, /*stop_gradient=*/false);

  constexpr double kStep = 1e-6;
  Weights<double> numeric = Weights<double>::ZerosLike(p.w);
  Weights<double> analytic = bptt.grad;
  const int n_rec = p.config.n_rec();
  for (int group = 0; group < 4; ++group) {
    Weights<double> probe = p.w;
    const int size = static_cast<int>(group == 0   ? probe.w_in.size()
                                      : group == 1 ? probe.w_rec.size()
                                      : group == 2 ? probe.w_out.size()
                                                   : probe.b_out.size());
    for (int index = 0; index < size; ++index) {
      if (group == 1 && index / n_rec == index % n_rec) continue;  // diagonal
      double& entry = Entry(probe, group, index);
      const double original = entry;
      SampleTrajectory perturbed[2];
      for (int side = 0; side < 2; ++side) {
        entry = original + (side == 0 ? kStep : -kStep);
        perturbed[side] =
            Forward(p.config, probe, p.x, SpikeFunction::kSigmoid);
        // The refractory counter is piecewise constant; the difference
        // quotient is meaningful only if no hard spike flipped.
        ASSERT_EQ(perturbed[side].r, trajectory.r)
            << "a hard spike flipped; group " << group << " entry " << index;
      }
      entry = original;
      const double difference = LossDifference(p, perturbed[0], perturbed[1]);
      // Same as the naive difference of the two losses, up to its rounding.
      ASSERT_NEAR(difference,
                  EvaluateLoss(p, perturbed[0]).value -
                      EvaluateLoss(p, perturbed[1]).value,
                  1e-12 * loss.value);
      Entry(numeric, group, index) = difference / (2 * kStep);
    }
  }
  const MatD b_numeric = numeric.b_out.transpose();
  const MatD b_analytic = analytic.b_out.transpose();
  const double diffs[4] = {MaxRelativeDifference(analytic.w_in, numeric.w_in),
                           MaxRelativeDifference(analytic.w_rec, numeric.w_rec),
                           MaxRelativeDifference(analytic.w_out, numeric.w_out),
                           MaxRelativeDifference(b_analytic, b_numeric)};
  for (double diff : diffs) EXPECT_LE(diff, 1e-6);
  ASSERT_GT(MaxAbs(numeric.w_in), 0.0);
  ASSERT_GT(MaxAbs(numeric.w_rec), 0.0);
  ASSERT_GT(MaxAbs(numeric.w_out), 0.0);
  ASSERT_GT(MaxAbs(b_numeric), 0.0);
  std::printf("%-40s spikes %4d  W_in %.2e W_rec %.2e W_out %.2e b %.2e\n",
              c.name.c_str(), SpikeCount(trajectory, 0, n_rec), diffs[0],
              diffs[1], diffs[2], diffs[3]);
}

std::vector<FiniteDifferenceCase> FiniteDifferenceCases() {
  std::vector<FiniteDifferenceCase> cases;
  Setting reference = Named("Reference");
  reference.config.readout_bias = true;
  cases.push_back({"MseOnly", reference, false});
  cases.push_back({"MseAndSpikePenalty", reference, true});
  Setting variant = reference;
  variant.config.input_scaling = InputScaling::kOneMinusAlpha;
  variant.config.tau_out_ms = 0.0;
  variant.config.n_out = 2;
  variant.config.beta_alif = 0.5;
  const double c_in = 1.0 - std::exp(-1.0 / 20.0);
  variant.w_in_scale /= c_in;
  variant.w_rec_scale /= c_in;
  cases.push_back({"OneMinusAlphaUnfilteredTwoOutputs", variant, true});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FiniteDifferenceTest, ::testing::ValuesIn(FiniteDifferenceCases()),
    [](const ::testing::TestParamInfo<FiniteDifferenceCase>& param_info) {
      return param_info.param.name;
    });

// ---------------------------------------------------------------------------
// Hand-checkable conventions of the forward pass on a single neuron.

// One neuron driven by one input that is on at every step.
NetworkConfig SingleNeuronConfig(bool alif, int n_ref) {
  NetworkConfig config = ReferenceConfig();
  config.n_in = 1;
  config.n_lif = alif ? 0 : 1;
  config.n_alif = alif ? 1 : 0;
  config.n_ref = n_ref;
  return config;
}

Weights<double> SingleNeuronWeights(double w_in) {
  Weights<double> w;
  w.w_in = MatD::Constant(1, 1, w_in);
  w.w_rec = MatD::Zero(1, 1);
  w.w_out = MatD::Constant(1, 1, 1.0);
  w.b_out = VecD::Zero(1);
  return w;
}

TEST(ReferenceTest, SpikeNeedsStrictlyPositiveU) {
  const NetworkConfig config = SingleNeuronConfig(/*alif=*/false, 2);
  const MatD x = MatD::Ones(1, 1);
  // v(0) = W_in = v_th = A(0): u = 0 exactly, no spike, psi at its peak.
  const SampleTrajectory at_threshold =
      Forward(config, SingleNeuronWeights(config.v_th), x);
  EXPECT_EQ(at_threshold.v(0, 0), at_threshold.threshold(0, 0));
  EXPECT_EQ(at_threshold.z(0, 0), 0.0);
  EXPECT_EQ(at_threshold.psi(0, 0), config.gamma / config.v_th);
  // One ulp above: a spike.
  const SampleTrajectory above =
      Forward(config, SingleNeuronWeights(std::nextafter(config.v_th, 1.0)), x);
  EXPECT_EQ(above.z(0, 0), 1.0);
}

TEST(ReferenceTest, RefractoryPeriodAndAdaptation) {
  constexpr int kSteps = 13;
  const MatD x = MatD::Ones(kSteps, 1);
  for (bool alif : {false, true}) {
    for (int n_ref = 0; n_ref <= 4; ++n_ref) {
      SCOPED_TRACE(::testing::Message()
                   << "alif " << alif << " n_ref " << n_ref);
      const NetworkConfig config = SingleNeuronConfig(alif, n_ref);
      const double rho = std::exp(-1.0 / config.tau_a_ms);
      const double beta = alif ? config.beta_alif : 0.0;
      // Driven far above threshold, the neuron fires whenever it is not
      // refractory: a spike at t makes it refractory for n_ref - 1 steps.
      const int period = std::max(n_ref, 1);
      for (SpikeFunction spike :
           {SpikeFunction::kHeaviside, SpikeFunction::kSigmoid}) {
        const SampleTrajectory trajectory =
            Forward(config, SingleNeuronWeights(100.0), x, spike);
        double a = 0.0;
        double r = 0.0;
        double z_prev = 0.0;
        for (int t = 0; t < kSteps; ++t) {
          const bool fires = t % period == 0;
          // r(t) = n_ref - 1 after a spike, then counts down to 0.
          r = fires ? std::max(n_ref - 1.0, 0.0) : std::max(r - 1.0, 0.0);
          a = rho * a + z_prev;
          EXPECT_NEAR(trajectory.z(t, 0), fires ? 1.0 : 0.0, 1e-12) << t;
          if (!fires) {
            EXPECT_EQ(trajectory.psi(t, 0), 0.0) << t;
          }
          EXPECT_EQ(trajectory.r(t, 0), r) << t;
          EXPECT_NEAR(trajectory.a(t, 0), a, 1e-12) << t;
          EXPECT_NEAR(trajectory.threshold(t, 0), config.v_th + beta * a, 1e-12)
              << t;
          z_prev = trajectory.z(t, 0);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Golden values: catch any change of the forward semantics.

TEST(ReferenceTest, GoldenForward) {
  const Problem p = MakeProblem(Named("Reference"), false);
  const SampleTrajectory trajectory = Forward(p.config, p.w, p.x);
  ASSERT_TRUE(PopulationsSpiked(p.config, trajectory));
  const int steps = trajectory.steps();
  const int spikes = SpikeCount(trajectory, 0, p.config.n_rec());
  const int alif_spikes =
      SpikeCount(trajectory, p.config.n_lif, p.config.n_rec());
  const double y_last = trajectory.y(steps - 1, 0);
  const double psi_sum = trajectory.psi.sum();
  const double v_last_alif = trajectory.v(steps - 1, p.config.n_rec() - 1);
  std::printf(
      "golden: spikes %d, ALIF spikes %d, y(T-1) %.17g, sum psi %.17g, "
      "v_last_alif %.17g\n",
      spikes, alif_spikes, y_last, psi_sum, v_last_alif);
  EXPECT_EQ(spikes, 64);
  EXPECT_EQ(alif_spikes, 35);
  EXPECT_NEAR(y_last, 0.11233954171857784, 1e-12);
  EXPECT_NEAR(psi_sum, 19.715067739744676, 1e-12);
  EXPECT_NEAR(v_last_alif, -0.88196984220788743, 1e-12);
}

}  // namespace
}  // namespace eprop::reference
