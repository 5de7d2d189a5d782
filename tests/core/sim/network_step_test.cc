#include "core/sim/network_step.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

using ::testing::ElementsAre;

constexpr double kTol = 1e-13;

NetworkConfig OneNeuron(bool alif) {
  NetworkConfig config;
  config.n_in = 1;
  config.n_lif = alif ? 0 : 1;
  config.n_alif = alif ? 1 : 0;
  config.n_out = 1;
  config.n_ref = 0;
  return config;
}

Weights<double> MakeWeights(const MatD& w_in, const MatD& w_rec,
                            const MatD& w_out, const VecD& b_out) {
  Weights<double> w;
  w.w_in = w_in;
  w.w_rec = w_rec;
  w.w_out = w_out;
  w.b_out = b_out;
  return w;
}

NetworkModel<double> Model(const NetworkConfig& config,
                           const Weights<double>& weights) {
  EXPECT_TRUE(config.Validate().ok());
  return NetworkModel<double>::Prepare(MakeNeuronConstants(config), weights);
}

// A one-neuron model with input weight w_in and readout weight w_out.
NetworkModel<double> OneNeuronModel(const NetworkConfig& config, double w_in,
                                    double w_out = 1.0) {
  return Model(config, MakeWeights(MatD::Constant(1, 1, w_in), MatD::Zero(1, 1),
                                   MatD::Constant(1, 1, w_out), VecD::Zero(1)));
}

// Column vector of per-step scalar inputs as [T x 1] sparse rows.
SparseRows<double> ScalarInputs(const std::vector<double>& x) {
  MatD dense(static_cast<int>(x.size()), 1);
  for (size_t t = 0; t < x.size(); ++t) dense(t, 0) = x[t];
  return ToSparseRows(dense);
}

// Runs the single-sample network for all rows of `inputs`, recording
// v, z, psi, threshold and readout of neuron 0 / output 0.
struct Record {
  std::vector<double> v, z, psi, threshold, readout;
};
Record RunOne(const NetworkModel<double>& model,
              const SparseRows<double>& inputs) {
  NetworkState<double> state;
  state.Reset(model, 1);
  Record rec;
  for (int64_t t = 0; t < inputs.rows(); ++t) {
    Step(model, inputs, t, &state);
    rec.v.push_back(state.v(0, 0));
    rec.z.push_back(state.z(0, 0));
    rec.psi.push_back(state.psi(0, 0));
    rec.threshold.push_back(state.threshold(0, 0));
    rec.readout.push_back(state.readout_filtered(0, 0));
  }
  return rec;
}

// ------------------------------------------------------------------ Reset

TEST(NetworkStateTest, ResetGivesZeroStateAndRestingThreshold) {
  NetworkConfig config;  // 4 LIF + 4 ALIF, 3 inputs, 1 output
  config.n_out = 2;
  const NetworkModel<double> model = Model(config, InitWeights(config, 1));
  EXPECT_EQ(model.n_in, 3);
  EXPECT_EQ(model.n_rec, 8);
  EXPECT_EQ(model.n_out, 2);
  NetworkState<double> state;
  state.Reset(model, 5);
  EXPECT_EQ(state.batch(), 5);
  for (const MatD* m :
       {&state.v, &state.a, &state.refractory, &state.z, &state.psi}) {
    EXPECT_EQ(m->rows(), 5);
    EXPECT_EQ(m->cols(), 8);
    EXPECT_TRUE(m->isZero(0.0));
  }
  EXPECT_EQ(state.threshold.rows(), 5);
  EXPECT_TRUE((state.threshold.array() == 0.62).all());
  EXPECT_EQ(state.readout_filtered.rows(), 5);
  EXPECT_EQ(state.readout_filtered.cols(), 2);
  EXPECT_TRUE(state.readout_filtered.isZero(0.0));
  EXPECT_TRUE(state.spikes.empty());
}

// ------------------------------------------------------ single LIF neuron

TEST(NetworkStepTest, LifLeakInputSpikeResetAndPseudoDerivative) {
  NetworkConfig config = OneNeuron(/*alif=*/false);
  config.tau_m_ms = 10.0;
  config.v_th = 0.5;
  config.gamma = 0.3;
  const NetworkModel<double> model = OneNeuronModel(config, /*w_in=*/2.0);
  const Record rec = RunOne(model, ScalarInputs({0.1, 0.2, 0.0, -0.3, 0.0}));

  const double alpha = std::exp(-0.1);
  const double v_th = 0.5;
  const double scale = 0.3 / v_th;
  auto psi_of = [&](double v) {
    return scale * std::max(0.0, 1.0 - std::abs(v - v_th) / v_th);
  };
  // t=1: v = 2 * 0.1 below threshold.
  const double v1 = 0.2;
  // t=2: leak plus input crosses the threshold: spike.
  const double v2 = alpha * v1 + 2.0 * 0.2;
  // t=3: no input, reset by subtraction of v_th.
  const double v3 = alpha * v2 - v_th;
  // t=4: negative input, far below threshold: psi clipped to 0.
  const double v4 = alpha * v3 + 2.0 * -0.3;
  const double v5 = alpha * v4;
  ASSERT_GT(v2, v_th);
  ASSERT_LT(v4 - v_th, -v_th);

  EXPECT_THAT(rec.z, ElementsAre(0.0, 1.0, 0.0, 0.0, 0.0));
  const std::vector<double> v = {v1, v2, v3, v4, v5};
  for (int t = 0; t < 5; ++t) {
    SCOPED_TRACE(t + 1);
    EXPECT_NEAR(rec.v[t], v[t], kTol);
    EXPECT_NEAR(rec.psi[t], psi_of(v[t]), kTol);
    EXPECT_EQ(rec.threshold[t], v_th);  // LIF: constant threshold
  }
  EXPECT_NEAR(rec.psi[0], 0.6 * 0.4, kTol);
  EXPECT_GT(rec.psi[1], 0.0);
  EXPECT_EQ(rec.psi[3], 0.0);
}

TEST(NetworkStepTest, SpikesOnlyStrictlyAboveThreshold) {
  NetworkConfig config = OneNeuron(/*alif=*/false);
  config.v_th = 0.5;
  const NetworkModel<double> model = OneNeuronModel(config, 1.0);
  // v = 0.5 exactly: u = 0, no spike, maximal psi = gamma / v_th.
  Record rec = RunOne(model, ScalarInputs({0.5}));
  EXPECT_EQ(rec.v[0], 0.5);
  EXPECT_EQ(rec.z[0], 0.0);
  EXPECT_NEAR(rec.psi[0], 0.3 / 0.5, kTol);
  // Just above: spike.
  rec = RunOne(model, ScalarInputs({0.5000001}));
  EXPECT_EQ(rec.z[0], 1.0);
  EXPECT_NEAR(rec.psi[0], 0.3 / 0.5 * (1.0 - 0.0000001 / 0.5), 1e-12);
}

TEST(NetworkStepTest, RefractoryPeriodSilencesSpikesAndPseudoDerivative) {
  NetworkConfig config = OneNeuron(/*alif=*/false);
  config.v_th = 1.0;
  config.n_ref = 3;
  const NetworkModel<double> model = OneNeuronModel(config, 1.0);
  NetworkState<double> state;
  state.Reset(model, 1);
  // Chosen so that v stays in (v_th, 2 v_th) at every step: the neuron would
  // spike with a nonzero psi whenever it is not refractory.
  const std::vector<double> x = {1.2, 1.3, 0.0, 0.0, 1.0, 0.0, 0.0};
  const SparseRows<double> inputs = ScalarInputs(x);
  const double alpha = std::exp(-1.0 / 20.0);
  std::vector<double> z, psi, r;
  double v = 0.0, z_prev = 0.0;
  for (int t = 0; t < 7; ++t) {
    Step(model, inputs, t, &state);
    v = alpha * v + x[t] - 1.0 * z_prev;
    // The membrane keeps integrating (and resetting) while refractory.
    EXPECT_NEAR(state.v(0, 0), v, kTol) << t;
    ASSERT_GT(v, 1.0) << t;
    ASSERT_LT(v, 2.0) << t;
    z.push_back(state.z(0, 0));
    psi.push_back(state.psi(0, 0));
    r.push_back(state.refractory(0, 0));
    z_prev = z.back();
  }
  // r(t) = clip(r(t-1) + n_ref z(t) - 1, 0, n_ref): a spike at t makes the
  // neuron refractory at t+1 .. t+n_ref-1 (the spike step counts as one of
  // the n_ref steps, as in the reference).
  EXPECT_THAT(z, ElementsAre(1, 0, 0, 1, 0, 0, 1));
  EXPECT_THAT(r, ElementsAre(2, 1, 0, 2, 1, 0, 2));
  for (int t : {1, 2, 4, 5}) EXPECT_EQ(psi[t], 0.0) << t;
  EXPECT_NEAR(psi[0], 0.3 * (1.0 - 0.2), kTol);
  for (int t : {3, 6}) EXPECT_GT(psi[t], 0.0) << t;

  // Without refractoriness the same drive spikes whenever v > v_th.
  config.n_ref = 0;
  const Record free = RunOne(OneNeuronModel(config, 1.0), inputs);
  int free_spikes = 0;
  for (int t = 0; t < 7; ++t) {
    EXPECT_EQ(free.z[t], free.v[t] > 1.0 ? 1.0 : 0.0) << t;
    EXPECT_NEAR(free.psi[t],
                0.3 * std::max(0.0, 1.0 - std::abs(free.v[t] - 1.0)), kTol);
    free_spikes += static_cast<int>(free.z[t]);
  }
  // Step 2 (v = 1.44) spikes when nothing is refractory.
  EXPECT_EQ(free.z[1], 1.0);
  EXPECT_GE(free_spikes, 3);
}

TEST(NetworkStepTest, AlifAdaptiveThreshold) {
  NetworkConfig config = OneNeuron(/*alif=*/true);
  config.tau_m_ms = 20.0;
  config.tau_a_ms = 10.0;
  config.beta_alif = 0.5;
  config.v_th = 1.0;
  config.gamma = 0.3;
  const NetworkModel<double> model = OneNeuronModel(config, 1.0);
  const Record rec = RunOne(model, ScalarInputs({1.5, 0.3, 0.7, 0.2, 0.0}));

  const double alpha = std::exp(-1.0 / 20.0);
  const double rho = std::exp(-1.0 / 10.0);
  const double beta = 0.5, v_th = 1.0;
  auto psi_of = [&](double v, double thr) {
    return 0.3 / v_th * std::max(0.0, 1.0 - std::abs(v - thr) / v_th);
  };
  // t=1: a = 0, A = v_th, spike.
  const double a1 = 0.0, v1 = 1.5;
  // t=2: a = rho a + z_prev = 1, reset.
  const double a2 = rho * a1 + 1.0, v2 = alpha * v1 + 0.3 - v_th;
  // t=3: v above v_th but below the adapted threshold: no spike.
  const double a3 = rho * a2, v3 = alpha * v2 + 0.7;
  // t=4: adaptation decayed enough: spike.
  const double a4 = rho * a3, v4 = alpha * v3 + 0.2;
  const double a5 = rho * a4 + 1.0, v5 = alpha * v4 - v_th;
  const std::vector<double> a = {a1, a2, a3, a4, a5};
  const std::vector<double> v = {v1, v2, v3, v4, v5};
  ASSERT_GT(v3, v_th);
  ASSERT_LT(v3, v_th + beta * a3);
  ASSERT_GT(v4, v_th + beta * a4);

  EXPECT_THAT(rec.z, ElementsAre(1.0, 0.0, 0.0, 1.0, 0.0));
  for (int t = 0; t < 5; ++t) {
    SCOPED_TRACE(t + 1);
    const double thr = v_th + beta * a[t];
    EXPECT_NEAR(rec.threshold[t], thr, kTol);
    EXPECT_NEAR(rec.v[t], v[t], kTol);
    EXPECT_NEAR(rec.psi[t], psi_of(v[t], thr), kTol);
  }
  // A LIF neuron with the same drive spikes at t=3 (v3 > v_th).
  NetworkConfig lif = config;
  lif.beta_alif = 0.0;
  EXPECT_EQ(
      RunOne(OneNeuronModel(lif, 1.0), ScalarInputs({1.5, 0.3, 0.7, 0.2, 0.0}))
          .z[2],
      1.0);
}

TEST(NetworkStepTest, AlifStateVariableFollowsAdaptationEquation) {
  NetworkConfig config = OneNeuron(/*alif=*/true);
  config.tau_a_ms = 7.0;
  config.beta_alif = 0.2;
  config.v_th = 0.4;
  config.n_ref = 1;  // r = clip(0 + 1 - 1) = 0: never refractory
  const NetworkModel<double> model = OneNeuronModel(config, 1.0);
  NetworkState<double> state;
  state.Reset(model, 1);
  const SparseRows<double> inputs = ScalarInputs({1.0, 1.0, 1.0, 1.0, 1.0});
  const double rho = std::exp(-1.0 / 7.0);
  double a = 0.0, z_prev = 0.0;
  int spikes = 0;
  for (int t = 0; t < 5; ++t) {
    Step(model, inputs, t, &state);
    a = rho * a + z_prev;
    EXPECT_NEAR(state.a(0, 0), a, kTol) << t;
    EXPECT_NEAR(state.threshold(0, 0), 0.4 + 0.2 * a, kTol) << t;
    EXPECT_EQ(state.refractory(0, 0), 0.0);
    z_prev = state.z(0, 0);
    spikes += static_cast<int>(z_prev);
  }
  EXPECT_GE(spikes, 3);
}

// ---------------------------------------------------------------- readout

TEST(NetworkStepTest, ReadoutIsFilteredWeightedSpikes) {
  NetworkConfig config = OneNeuron(/*alif=*/false);
  config.n_out = 2;
  config.v_th = 1.0;
  config.tau_out_ms = 5.0;
  config.readout_bias = true;
  MatD w_out(2, 1);
  w_out << 1.5, -0.5;
  VecD b(2);
  b << 0.25, -1.0;
  const NetworkModel<double> model =
      Model(config,
            MakeWeights(MatD::Constant(1, 1, 1.0), MatD::Zero(1, 1), w_out, b));
  EXPECT_EQ(model.b_out, b);
  NetworkState<double> state;
  state.Reset(model, 1);
  const SparseRows<double> inputs = ScalarInputs({1.2, 0.0, 0.0, 1.5, 0.0});
  const double kappa = std::exp(-1.0 / 5.0);
  double zf = 0.0;
  int spikes = 0;
  for (int t = 0; t < 5; ++t) {
    Step(model, inputs, t, &state);
    const double z = state.z(0, 0);
    spikes += static_cast<int>(z);
    zf = kappa * zf + (1.0 - kappa) * z;
    // readout_filtered holds y - b = W_out zf.
    EXPECT_NEAR(state.readout_filtered(0, 0), 1.5 * zf, kTol) << t;
    EXPECT_NEAR(state.readout_filtered(0, 1), -0.5 * zf, kTol) << t;
  }
  EXPECT_EQ(spikes, 2);
  EXPECT_GT(zf, 0.0);
}

TEST(NetworkStepTest, ZeroReadoutTimeConstantPassesSpikesThrough) {
  NetworkConfig config = OneNeuron(/*alif=*/false);
  config.v_th = 1.0;
  config.tau_out_ms = 0.0;
  const NetworkModel<double> model = OneNeuronModel(config, 1.0, 3.0);
  const Record rec = RunOne(model, ScalarInputs({1.2, 0.0, 0.0}));
  EXPECT_THAT(rec.z, ElementsAre(1.0, 0.0, 0.0));
  EXPECT_THAT(rec.readout, ElementsAre(3.0, 0.0, 0.0));
}

// -------------------------------------------------- recurrence and batch

TEST(NetworkStepTest, RecurrentSpikesReachOthersButNotThemselves) {
  NetworkConfig config;
  config.n_in = 1;
  config.n_lif = 2;
  config.n_alif = 0;
  config.n_ref = 0;
  config.v_th = 1.0;
  config.input_scaling = InputScaling::kOneMinusAlpha;
  MatD w_in(2, 1);
  w_in << 50.0, 0.0;  // only neuron 0 receives input
  MatD w_rec(2, 2);
  w_rec << 0.0, 0.3,  // zero diagonal: no autapses
      0.7, 0.0;
  const NetworkModel<double> model =
      Model(config, MakeWeights(w_in, w_rec, MatD::Ones(1, 2), VecD::Zero(1)));
  const double alpha = std::exp(-1.0 / 20.0);
  const double c_in = 1.0 - alpha;

  MatD x(2, 1);
  x << 1.0, 0.0;
  const SparseRows<double> inputs = ToSparseRows(x);
  NetworkState<double> state;
  state.Reset(model, 1);
  Step(model, inputs, 0, &state);
  EXPECT_NEAR(state.v(0, 0), c_in * 50.0, kTol);
  EXPECT_EQ(state.v(0, 1), 0.0);
  ASSERT_EQ(state.z(0, 0), 1.0);
  ASSERT_EQ(state.z(0, 1), 0.0);
  EXPECT_THAT(state.spikes, ElementsAre(0));

  Step(model, inputs, 1, &state);
  // Neuron 0's own spike acts on it only through the reset.
  EXPECT_NEAR(state.v(0, 0), alpha * c_in * 50.0 - 1.0, kTol);
  // Neuron 1 receives c_in * W_rec(1, 0).
  EXPECT_NEAR(state.v(0, 1), c_in * 0.7, kTol);
}

TEST(NetworkStepTest, InputWeightsSumOverSparseInputs) {
  NetworkConfig config;
  config.n_in = 4;
  config.n_lif = 2;
  config.n_alif = 0;
  config.v_th = 100.0;  // no spikes: v is the weighted input sum
  MatD w_in(2, 4);
  w_in << 1.0, 2.0, 3.0, 4.0,  //
      -1.0, 0.5, 0.0, 2.0;
  const NetworkModel<double> model = Model(
      config,
      MakeWeights(w_in, MatD::Zero(2, 2), MatD::Ones(1, 2), VecD::Zero(1)));
  MatD x(3, 4);
  x << 9.0, 9.0, 9.0, 9.0,  // row 0 is not used
      1.0, 0.0, 0.5, -2.0,  //
      0.0, 3.0, 0.0, 0.0;
  const SparseRows<double> inputs = ToSparseRows(x);
  NetworkState<double> state;
  state.Reset(model, 2);
  Step(model, inputs, /*first_input_row=*/1, &state);
  EXPECT_NEAR(state.v(0, 0), 1.0 + 1.5 - 8.0, kTol);
  EXPECT_NEAR(state.v(0, 1), -1.0 + 0.0 - 4.0, kTol);
  EXPECT_NEAR(state.v(1, 0), 6.0, kTol);
  EXPECT_NEAR(state.v(1, 1), 1.5, kTol);
}

// A small random network and Poisson-like inputs that make it spike.
struct Scenario {
  NetworkConfig config;
  NetworkModel<double> model;
};
Scenario RandomScenario() {
  Scenario s;
  s.config.n_in = 6;
  s.config.n_lif = 5;
  s.config.n_alif = 5;
  s.config.n_out = 2;
  s.config.v_th = 0.3;
  s.config.beta_alif = 0.5;
  s.model = Model(s.config, InitWeights(s.config, 17));
  return s;
}
MatD RandomSpikes(Rng& rng, int rows, int cols, double p) {
  MatD m(rows, cols);
  for (int i = 0; i < m.size(); ++i) {
    m.data()[i] = rng.Bernoulli(p) ? 1.0 : 0.0;
  }
  return m;
}

TEST(NetworkStepTest, BatchRowsAreIndependent) {
  const Scenario s = RandomScenario();
  constexpr int kSteps = 30;
  constexpr int kBatch = 3;
  Rng rng(3);
  const MatD x0 = RandomSpikes(rng, kSteps, 6, 0.4);
  const MatD x1 = RandomSpikes(rng, kSteps, 6, 0.4);
  // Row t * batch + b; samples 0 and 2 get the same input.
  MatD x(kSteps * kBatch, 6);
  for (int t = 0; t < kSteps; ++t) {
    x.row(t * kBatch + 0) = x0.row(t);
    x.row(t * kBatch + 1) = x1.row(t);
    x.row(t * kBatch + 2) = x0.row(t);
  }
  const SparseRows<double> batched = ToSparseRows(x);
  const SparseRows<double> single1 = ToSparseRows(x1);

  NetworkState<double> state, alone;
  state.Reset(s.model, kBatch);
  alone.Reset(s.model, 1);
  int spikes_0 = 0, spikes_1 = 0, steps_differing = 0;
  for (int t = 0; t < kSteps; ++t) {
    Step(s.model, batched, static_cast<int64_t>(t) * kBatch, &state);
    Step(s.model, single1, t, &alone);
    for (const MatD* m :
         {&state.v, &state.a, &state.z, &state.psi, &state.threshold,
          &state.refractory, &state.readout_filtered}) {
      EXPECT_EQ(m->row(0), m->row(2)) << t;
    }
    // Sample 1 evolves exactly as if simulated alone.
    EXPECT_EQ(state.v.row(1), alone.v.row(0)) << t;
    EXPECT_EQ(state.z.row(1), alone.z.row(0)) << t;
    EXPECT_EQ(state.psi.row(1), alone.psi.row(0)) << t;
    EXPECT_EQ(state.readout_filtered.row(1), alone.readout_filtered.row(0));
    if (state.v.row(0) != state.v.row(1)) ++steps_differing;
    spikes_0 += static_cast<int>(state.z.row(0).sum());
    spikes_1 += static_cast<int>(state.z.row(1).sum());

    // spikes lists b * n_rec + j for z != 0, ascending.
    std::vector<int32_t> expected;
    for (int b = 0; b < kBatch; ++b) {
      for (int j = 0; j < 10; ++j) {
        if (state.z(b, j) != 0.0) expected.push_back(b * 10 + j);
      }
    }
    EXPECT_EQ(state.spikes, expected) << t;
  }
  EXPECT_GT(spikes_0, 5);
  EXPECT_GT(spikes_1, 5);
  EXPECT_GT(steps_differing, kSteps / 2);
}

TEST(NetworkStepTest, FloatModelTracksDouble) {
  const Scenario s = RandomScenario();
  const NetworkModel<float> model_f = NetworkModel<float>::Prepare(
      MakeNeuronConstants(s.config), InitWeights(s.config, 17).Cast<float>());
  Rng rng(8);
  const MatD x = RandomSpikes(rng, 5, 6, 0.5);
  const SparseRows<double> in_d = ToSparseRows(x);
  const SparseRows<float> in_f = ToSparseRows(MatF(x.cast<float>()));
  NetworkState<double> state_d;
  NetworkState<float> state_f;
  state_d.Reset(s.model, 1);
  state_f.Reset(model_f, 1);
  int spikes = 0;
  for (int t = 0; t < 5; ++t) {
    Step(s.model, in_d, t, &state_d);
    Step(model_f, in_f, t, &state_f);
    EXPECT_TRUE(state_f.v.cast<double>().isApprox(state_d.v, 1e-5)) << t;
    EXPECT_EQ(state_f.z.cast<double>(), state_d.z) << t;
    spikes += static_cast<int>(state_d.z.sum());
  }
  EXPECT_GT(spikes, 0);
}

}  // namespace
}  // namespace eprop
