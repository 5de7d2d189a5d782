#include "core/learn/firing_rate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/sim/network_step.h"
#include "core/sim/simulate.h"
#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

using ::testing::HasSubstr;

constexpr double kTol = 1e-14;

RateRegularizerConfig Config(double c_reg, double f_target_hz,
                             RateAverage average) {
  RateRegularizerConfig config;
  config.c_reg = c_reg;
  config.f_target_hz = f_target_hz;
  config.average = average;
  return config;
}

// Continuous "spikes" in [0, 1].
MatD RandomZ(int rows, int cols, uint64_t seed) {
  Rng rng(seed);
  MatD z(rows, cols);
  for (int i = 0; i < z.size(); ++i) z.data()[i] = rng.Uniform();
  return z;
}

// A simulated trajectory with spikes in several shards (batch 40).
Trajectory<double> SimulatedTrajectory(int steps, int batch) {
  NetworkConfig network;
  network.n_in = 5;
  network.n_lif = 4;
  network.n_alif = 4;
  network.v_th = 0.3;
  const NetworkModel<double> model = NetworkModel<double>::Prepare(
      MakeNeuronConstants(network), InitWeights(network, 3));
  Rng rng(4);
  MatD x(steps * batch, network.n_in);
  for (int i = 0; i < x.size(); ++i) {
    x.data()[i] = rng.Bernoulli(0.3) ? 1.0 : 0.0;
  }
  return Simulate(model, ToSparseRows(x), steps, batch, SimulateOptions());
}

// --------------------------------------------------------------- Validate

TEST(RateRegularizerConfigTest, Validate) {
  EXPECT_TRUE(RateRegularizerConfig().Validate().ok());
  EXPECT_TRUE(Config(0.0, 0.0, RateAverage::kBatch).Validate().ok());
  EXPECT_TRUE(Config(300.0, 1e4, RateAverage::kRunning).Validate().ok());
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double c_reg : {-1e-9, -1.0, nan, inf}) {
    const absl::Status s = Config(c_reg, 10.0, RateAverage::kBatch).Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c_reg;
    EXPECT_THAT(std::string(s.message()), HasSubstr("c_reg")) << c_reg;
  }
  for (double f : {-1.0, nan, inf, 1e4 + 1.0}) {
    const absl::Status s = Config(1.0, f, RateAverage::kBatch).Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << f;
    EXPECT_THAT(std::string(s.message()), HasSubstr("f_target_hz")) << f;
  }
}

// ------------------------------------------------------- c_reg = 0: empty

TEST(RateRegularizationTest, ZeroCoefficientReturnsEmpty) {
  const Trajectory<double> traj = SimulatedTrajectory(10, 3);
  ASSERT_GT(traj.SpikeCountPerNeuron().sum(), 0.0);
  for (RateAverage average : {RateAverage::kBatch, RateAverage::kRunning}) {
    const RateRegularizerConfig config = Config(0.0, 10.0, average);
    const SpikeLossGradient<double> g = RateRegularization(config, traj, 1.0);
    EXPECT_EQ(g.loss, 0.0);
    EXPECT_EQ(g.per_neuron.size(), 0);
    EXPECT_EQ(g.per_step.size(), 0);
    const SpikeLossGradient<double> d = RateRegularizationOfDense(
        config, traj.DenseSpikes(), traj.steps, traj.batch, 1.0);
    EXPECT_EQ(d.loss, 0.0);
    EXPECT_EQ(d.per_neuron.size(), 0);
    EXPECT_EQ(d.per_step.size(), 0);
  }
}

// ---------------------------------------------------------------- kBatch

TEST(RateRegularizationTest, BatchAverageByHand) {
  // steps 3, batch 2, 2 neurons, dt 2 ms, c_reg 0.5, target 100 Hz
  // (0.1 spikes per ms).
  MatD z(6, 2);
  z << 1, 0,  //
      0, 1,   //
      1, 1,   //
      0, 0,   //
      1, 0,   //
      0, 0;
  const RateRegularizerConfig config = Config(0.5, 100.0, RateAverage::kBatch);
  const SpikeLossGradient<double> g =
      RateRegularizationOfDense(config, z, 3, 2, 2.0);
  // fbar = counts / (6 rows * 2 ms) = (3/12, 2/12) per ms.
  const double e0 = 3.0 / 12.0 - 0.1;
  const double e1 = 2.0 / 12.0 - 0.1;
  EXPECT_NEAR(g.loss, 0.5 * (e0 * e0 + e1 * e1), kTol);
  ASSERT_EQ(g.per_neuron.size(), 2);
  EXPECT_EQ(g.per_step.size(), 0);
  // dE/dz(t, b, j) = 2 c_reg e_j / (rows * dt), the same for every step.
  EXPECT_NEAR(g.per_neuron[0], 2.0 * 0.5 * e0 / 12.0, kTol);
  EXPECT_NEAR(g.per_neuron[1], 2.0 * 0.5 * e1 / 12.0, kTol);

  // With a target of 250 Hz, neuron 0 fires exactly at the target (zero
  // gradient) and neuron 1 too little (negative gradient).
  const SpikeLossGradient<double> at_target = RateRegularizationOfDense(
      Config(0.5, 250.0, RateAverage::kBatch), z, 3, 2, 2.0);
  EXPECT_NEAR(at_target.per_neuron[0], 0.0, kTol);
  EXPECT_NEAR(at_target.per_neuron[1], (2.0 / 12.0 - 0.25) / 12.0, kTol);
  EXPECT_NEAR(at_target.loss, 0.5 * std::pow(2.0 / 12.0 - 0.25, 2), kTol);
}

TEST(RateRegularizationTest, BatchGradientMatchesFiniteDifferences) {
  constexpr int kSteps = 5, kBatch = 3, kNeurons = 4;
  const MatD z = RandomZ(kSteps * kBatch, kNeurons, 1);
  const RateRegularizerConfig config = Config(2.0, 300.0, RateAverage::kBatch);
  const double dt = 0.5;
  const SpikeLossGradient<double> g =
      RateRegularizationOfDense(config, z, kSteps, kBatch, dt);
  ASSERT_EQ(g.per_neuron.size(), kNeurons);
  EXPECT_GT(g.loss, 0.0);
  const double h = 1e-6;
  for (int r = 0; r < z.rows(); ++r) {
    for (int j = 0; j < kNeurons; ++j) {
      MatD plus = z, minus = z;
      plus(r, j) += h;
      minus(r, j) -= h;
      const double fd =
          (RateRegularizationOfDense(config, plus, kSteps, kBatch, dt).loss -
           RateRegularizationOfDense(config, minus, kSteps, kBatch, dt).loss) /
          (2 * h);
      EXPECT_NEAR(g.per_neuron[j], fd, 1e-8) << r << "," << j;
    }
  }
}

// -------------------------------------------------------------- kRunning

TEST(RateRegularizationTest, RunningAverageByHand) {
  // steps 2, batch 2, 1 neuron, dt 1 ms, target 0, c_reg 1. Rows t*2+b:
  // (t0,b0)=1, (t0,b1)=1, (t1,b0)=0, (t1,b1)=0. The stream is sample 0's
  // steps then sample 1's: 1, 0, 1, 0, with running averages
  // 1, 1/2, 2/3, 1/2.
  MatD z(4, 1);
  z << 1, 1, 0, 0;
  const SpikeLossGradient<double> g = RateRegularizationOfDense(
      Config(1.0, 0.0, RateAverage::kRunning), z, 2, 2, 1.0);
  const double f[] = {1.0, 0.5, 2.0 / 3.0, 0.5};
  // E = c_reg sum_b mean_t fbar^2 = (sum of squares) / steps.
  EXPECT_NEAR(g.loss,
              (f[0] * f[0] + f[1] * f[1] + f[2] * f[2] + f[3] * f[3]) / 2.0,
              kTol);
  EXPECT_EQ(g.per_neuron.size(), 0);
  ASSERT_EQ(g.per_step.rows(), 4);
  ASSERT_EQ(g.per_step.cols(), 1);
  // dE/dz at stream position k' = sum_{k >= k'} (2 / steps) fbar(k) / (k+1).
  const double d[] = {f[0] / 1.0, f[1] / 2.0, f[2] / 3.0, f[3] / 4.0};
  const double stream_grad[] = {d[0] + d[1] + d[2] + d[3], d[1] + d[2] + d[3],
                                d[2] + d[3], d[3]};
  // Stream position k = b * steps + t sits at row t * batch + b.
  EXPECT_NEAR(g.per_step(0, 0), stream_grad[0], kTol);  // t0 b0
  EXPECT_NEAR(g.per_step(2, 0), stream_grad[1], kTol);  // t1 b0
  EXPECT_NEAR(g.per_step(1, 0), stream_grad[2], kTol);  // t0 b1
  EXPECT_NEAR(g.per_step(3, 0), stream_grad[3], kTol);  // t1 b1
}

TEST(RateRegularizationTest, RunningGradientMatchesFiniteDifferences) {
  constexpr int kSteps = 6, kBatch = 3, kNeurons = 3;
  const MatD z = RandomZ(kSteps * kBatch, kNeurons, 2);
  const RateRegularizerConfig config =
      Config(1.5, 200.0, RateAverage::kRunning);
  const double dt = 2.0;
  const SpikeLossGradient<double> g =
      RateRegularizationOfDense(config, z, kSteps, kBatch, dt);
  ASSERT_EQ(g.per_step.rows(), z.rows());
  ASSERT_EQ(g.per_step.cols(), kNeurons);
  EXPECT_GT(g.loss, 0.0);
  const double h = 1e-6;
  double max_abs_grad = 0.0;
  for (int r = 0; r < z.rows(); ++r) {
    for (int j = 0; j < kNeurons; ++j) {
      MatD plus = z, minus = z;
      plus(r, j) += h;
      minus(r, j) -= h;
      const double fd =
          (RateRegularizationOfDense(config, plus, kSteps, kBatch, dt).loss -
           RateRegularizationOfDense(config, minus, kSteps, kBatch, dt).loss) /
          (2 * h);
      EXPECT_NEAR(g.per_step(r, j), fd, 1e-8) << r << "," << j;
      max_abs_grad = std::max(max_abs_grad, std::abs(fd));
    }
  }
  EXPECT_GT(max_abs_grad, 1e-3);
}

TEST(RateRegularizationTest, RunningEqualsBatchForConstantRate) {
  // With a constant z the running average equals the batch average at
  // every stream position, so the two losses agree.
  const MatD z = MatD::Constant(8, 2, 0.25);
  const SpikeLossGradient<double> running = RateRegularizationOfDense(
      Config(1.0, 100.0, RateAverage::kRunning), z, 8, 1, 1.0);
  const SpikeLossGradient<double> batch = RateRegularizationOfDense(
      Config(1.0, 100.0, RateAverage::kBatch), z, 8, 1, 1.0);
  EXPECT_NEAR(running.loss, batch.loss, kTol);
  EXPECT_NEAR(batch.loss, 2.0 * (0.25 - 0.1) * (0.25 - 0.1), kTol);
  // With batch 2 the running loss sums over samples (E = c_reg
  // sum_{b,j} mean_t ...), so it doubles while the batch loss does not.
  const MatD z2 = MatD::Constant(16, 2, 0.25);
  EXPECT_NEAR(RateRegularizationOfDense(
                  Config(1.0, 100.0, RateAverage::kRunning), z2, 8, 2, 1.0)
                  .loss,
              2.0 * running.loss, kTol);
  EXPECT_NEAR(RateRegularizationOfDense(Config(1.0, 100.0, RateAverage::kBatch),
                                        z2, 8, 2, 1.0)
                  .loss,
              batch.loss, kTol);
}

// ------------------------------------------- trajectory == dense version

TEST(RateRegularizationTest, TrajectoryAgreesWithDense) {
  constexpr int kSteps = 12, kBatch = 40;  // two shards
  const Trajectory<double> traj = SimulatedTrajectory(kSteps, kBatch);
  ASSERT_EQ(traj.shards.size(), 2u);
  const MatD z = traj.DenseSpikes();
  ASSERT_GT(z.sum(), 0.0);
  for (RateAverage average : {RateAverage::kBatch, RateAverage::kRunning}) {
    const RateRegularizerConfig config = Config(0.7, 20.0, average);
    const SpikeLossGradient<double> from_traj =
        RateRegularization(config, traj, 1.0);
    const SpikeLossGradient<double> from_dense =
        RateRegularizationOfDense(config, z, kSteps, kBatch, 1.0);
    EXPECT_GT(from_traj.loss, 0.0);
    EXPECT_NEAR(from_traj.loss, from_dense.loss, 1e-12 * from_dense.loss);
    ASSERT_EQ(from_traj.per_neuron.size(), from_dense.per_neuron.size());
    ASSERT_EQ(from_traj.per_step.rows(), from_dense.per_step.rows());
    ASSERT_EQ(from_traj.per_step.cols(), from_dense.per_step.cols());
    if (average == RateAverage::kBatch) {
      ASSERT_EQ(from_traj.per_neuron.size(), 8);
      EXPECT_TRUE(from_traj.per_neuron.isApprox(from_dense.per_neuron, 1e-12));
    } else {
      ASSERT_EQ(from_traj.per_step.rows(), kSteps * kBatch);
      EXPECT_TRUE(from_traj.per_step.isApprox(from_dense.per_step, 1e-12));
    }
  }
}

TEST(RateRegularizationTest, FloatAgreesWithDouble) {
  const MatD z = RandomZ(20, 3, 5);
  for (RateAverage average : {RateAverage::kBatch, RateAverage::kRunning}) {
    const RateRegularizerConfig config = Config(1.0, 50.0, average);
    const SpikeLossGradient<double> d =
        RateRegularizationOfDense(config, z, 5, 4, 1.0);
    const SpikeLossGradient<float> f =
        RateRegularizationOfDense(config, MatF(z.cast<float>()), 5, 4, 1.0);
    EXPECT_NEAR(f.loss, d.loss, 1e-5 * d.loss);
    EXPECT_TRUE(f.per_neuron.cast<double>().isApprox(d.per_neuron, 1e-5));
    EXPECT_TRUE(f.per_step.cast<double>().isApprox(d.per_step, 1e-5));
  }
}

// ---------------------------------------------------------- FiringRatesHz

TEST(FiringRatesHzTest, HandMadeTrajectory) {
  // 4 steps, batch 2, 3 neurons, one shard whose local rows are global.
  MatD z(8, 3);
  z << 1, 0, 0,  //
      0, 0, 1,   //
      1, 0, 0,   //
      0, 0, 1,   //
      1, 0, 1,   //
      0, 0, 1,   //
      0, 0, 1,   //
      0, 0, 1;
  Trajectory<double> traj;
  traj.steps = 4;
  traj.batch = 2;
  traj.n_rec = 3;
  traj.shards = MakeShards(2);
  traj.spikes = {ToSparseRows(z)};
  EXPECT_EQ(traj.DenseSpikes(), z);
  // dt 0.5 ms: 4 steps = 2 ms per sample, 4 ms over the batch.
  const VecD rates = FiringRatesHz(traj, 0.5);
  ASSERT_EQ(rates.size(), 3);
  EXPECT_NEAR(rates[0], 3.0 / 0.004, 1e-9);
  EXPECT_EQ(rates[1], 0.0);
  EXPECT_NEAR(rates[2], 6.0 / 0.004, 1e-9);

  // Consistent with the batch regulariser's rate (spikes per ms).
  const SpikeLossGradient<double> g =
      RateRegularization(Config(1.0, 0.0, RateAverage::kBatch), traj, 0.5);
  EXPECT_NEAR(g.loss, (rates / 1000.0).squaredNorm(), 1e-12);
}

TEST(FiringRatesHzTest, SimulatedTrajectory) {
  const Trajectory<double> traj = SimulatedTrajectory(15, 40);
  const VecD counts = traj.SpikeCountPerNeuron();
  ASSERT_GT(counts.sum(), 0.0);
  const VecD rates = FiringRatesHz(traj, 2.0);
  ASSERT_EQ(rates.size(), 8);
  for (int j = 0; j < 8; ++j) {
    EXPECT_NEAR(rates[j], counts[j] / (40 * 15 * 2.0 / 1000.0), 1e-9) << j;
  }
}

}  // namespace
}  // namespace eprop
