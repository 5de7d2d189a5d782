#include "core/sim/simulate.h"

#include <cstdint>
#include <vector>

#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/sim/network_step.h"
#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

using ::testing::ElementsAre;

constexpr int kSteps = 25;
constexpr int kBatch = 70;  // shards [0, 32), [32, 64), [64, 70)

NetworkConfig Config() {
  NetworkConfig config;
  config.n_in = 8;
  config.n_lif = 6;
  config.n_alif = 6;
  config.n_out = 3;
  config.v_th = 0.3;
  config.beta_alif = 0.5;
  config.n_ref = 2;
  config.readout_bias = true;
  return config;
}

NetworkModel<double> Model(const NetworkConfig& config, uint64_t seed) {
  Weights<double> w = InitWeights(config, seed);
  for (int k = 0; k < w.b_out.size(); ++k) w.b_out[k] = 0.1 * (k + 1);
  return NetworkModel<double>::Prepare(MakeNeuronConstants(config), w);
}

// Random 0/1 inputs with a per-sample rate, so samples differ.
MatD Inputs(int steps, int batch, int n_in, uint64_t seed) {
  Rng rng(seed);
  MatD x(static_cast<int64_t>(steps) * batch, n_in);
  for (int t = 0; t < steps; ++t) {
    for (int b = 0; b < batch; ++b) {
      const double p = 0.1 + 0.4 * (b % 5) / 4.0;
      for (int i = 0; i < n_in; ++i) {
        x(t * batch + b, i) = rng.Bernoulli(p) ? 1.0 : 0.0;
      }
    }
  }
  return x;
}

// What Simulate must produce, stepping one state of the whole batch.
struct Manual {
  MatD psi, y, z, v, threshold;
};
Manual StepManually(const NetworkModel<double>& model,
                    const SparseRows<double>& inputs, int steps, int batch) {
  Manual m;
  const int64_t rows = static_cast<int64_t>(steps) * batch;
  m.psi.resize(rows, model.n_rec);
  m.y.resize(rows, model.n_out);
  m.z.resize(rows, model.n_rec);
  m.v.resize(rows, model.n_rec);
  m.threshold.resize(rows, model.n_rec);
  NetworkState<double> state;
  state.Reset(model, batch);
  for (int t = 0; t < steps; ++t) {
    const int64_t row = static_cast<int64_t>(t) * batch;
    Step(model, inputs, row, &state);
    m.psi.middleRows(row, batch) = state.psi;
    m.z.middleRows(row, batch) = state.z;
    m.v.middleRows(row, batch) = state.v;
    m.threshold.middleRows(row, batch) = state.threshold;
    m.y.middleRows(row, batch) =
        state.readout_filtered.rowwise() + model.b_out.transpose();
  }
  return m;
}

TEST(MakeShardsTest, ShardsOf32Samples) {
  const std::vector<Shard> shards = MakeShards(kBatch);
  ASSERT_EQ(shards.size(), 3u);
  EXPECT_EQ(shards[0].begin, 0);
  EXPECT_EQ(shards[0].end, 32);
  EXPECT_EQ(shards[1].begin, 32);
  EXPECT_EQ(shards[1].end, 64);
  EXPECT_EQ(shards[2].begin, 64);
  EXPECT_EQ(shards[2].end, 70);
  EXPECT_EQ(shards[2].size(), 6);
  ASSERT_EQ(MakeShards(1).size(), 1u);
  EXPECT_EQ(MakeShards(1)[0].size(), 1);
  EXPECT_EQ(MakeShards(32).size(), 1u);
  EXPECT_EQ(MakeShards(33).size(), 2u);
}

TEST(SimulateTest, MatchesManualStepping) {
  const NetworkConfig config = Config();
  const NetworkModel<double> model = Model(config, 5);
  const SparseRows<double> inputs =
      ToSparseRows(Inputs(kSteps, kBatch, config.n_in, 6));
  SimulateOptions options;
  options.record_state = true;
  const Trajectory<double> traj =
      Simulate(model, inputs, kSteps, kBatch, options);
  const Manual manual = StepManually(model, inputs, kSteps, kBatch);

  EXPECT_EQ(traj.steps, kSteps);
  EXPECT_EQ(traj.batch, kBatch);
  EXPECT_EQ(traj.n_rec, 12);
  ASSERT_EQ(traj.shards.size(), 3u);
  ASSERT_EQ(traj.spikes.size(), 3u);
  ASSERT_EQ(traj.psi.rows(), kSteps * kBatch);
  ASSERT_EQ(traj.y.cols(), 3);
  // Shards start from the zero state just like one whole-batch state, so
  // the results agree exactly.
  EXPECT_EQ(traj.psi, manual.psi);
  EXPECT_EQ(traj.y, manual.y);
  EXPECT_EQ(traj.DenseSpikes(), manual.z);
  EXPECT_EQ(traj.v, manual.v);
  EXPECT_EQ(traj.threshold, manual.threshold);

  // Not vacuous: spikes in every shard, for LIF and ALIF neurons, and the
  // adaptive thresholds moved.
  for (const Shard& shard : traj.shards) {
    double shard_spikes = 0.0;
    for (int t = 0; t < kSteps; ++t) {
      shard_spikes +=
          manual.z.middleRows(t * kBatch + shard.begin, shard.size()).sum();
    }
    EXPECT_GT(shard_spikes, 0.0) << shard.begin;
  }
  EXPECT_GT(manual.z.leftCols(6).sum(), 0.0);
  EXPECT_GT(manual.z.rightCols(6).sum(), 0.0);
  EXPECT_GT(manual.threshold.maxCoeff(), config.v_th);
  EXPECT_GT(manual.psi.maxCoeff(), 0.0);
}

TEST(SimulateTest, SpikesAreStoredPerShardInLocalRows) {
  const NetworkConfig config = Config();
  const NetworkModel<double> model = Model(config, 5);
  const SparseRows<double> inputs =
      ToSparseRows(Inputs(kSteps, kBatch, config.n_in, 6));
  const Trajectory<double> traj =
      Simulate(model, inputs, kSteps, kBatch, SimulateOptions());
  const Manual manual = StepManually(model, inputs, kSteps, kBatch);
  for (size_t s = 0; s < traj.shards.size(); ++s) {
    const Shard& shard = traj.shards[s];
    const SparseRows<double>& spikes = traj.spikes[s];
    ASSERT_EQ(spikes.rows(), static_cast<int64_t>(kSteps) * shard.size());
    for (int t = 0; t < kSteps; ++t) {
      for (int b = 0; b < shard.size(); ++b) {
        const int64_t local = static_cast<int64_t>(t) * shard.size() + b;
        std::vector<int32_t> expected;
        for (int j = 0; j < 12; ++j) {
          if (manual.z(t * kBatch + shard.begin + b, j) != 0.0) {
            expected.push_back(j);
          }
        }
        const std::vector<int32_t> got(
            spikes.cols.begin() + spikes.begin(local),
            spikes.cols.begin() + spikes.end(local));
        EXPECT_EQ(got, expected) << s << " " << t << " " << b;
        for (int64_t k = spikes.begin(local); k < spikes.end(local); ++k) {
          EXPECT_EQ(spikes.value(k), 1.0);
        }
      }
    }
  }
}

TEST(SimulateTest, BitwiseIdenticalForAnyThreadCount) {
  const NetworkConfig config = Config();
  const NetworkModel<double> model = Model(config, 8);
  const SparseRows<double> inputs =
      ToSparseRows(Inputs(kSteps, kBatch, config.n_in, 9));
  SimulateOptions one;
  one.record_state = true;
  SimulateOptions two = one;
  two.threads = 2;
  SimulateOptions many = one;
  many.threads = 8;
  const Trajectory<double> a = Simulate(model, inputs, kSteps, kBatch, one);
  const Trajectory<double> b = Simulate(model, inputs, kSteps, kBatch, two);
  const Trajectory<double> c = Simulate(model, inputs, kSteps, kBatch, many);
  for (const Trajectory<double>* other : {&b, &c}) {
    EXPECT_EQ(other->psi, a.psi);
    EXPECT_EQ(other->y, a.y);
    EXPECT_EQ(other->v, a.v);
    EXPECT_EQ(other->threshold, a.threshold);
    ASSERT_EQ(other->spikes.size(), a.spikes.size());
    for (size_t s = 0; s < a.spikes.size(); ++s) {
      EXPECT_EQ(other->spikes[s].offsets, a.spikes[s].offsets);
      EXPECT_EQ(other->spikes[s].cols, a.spikes[s].cols);
    }
  }
  EXPECT_GT(a.SpikeCountPerNeuron().sum(), 0.0);
}

TEST(SimulateTest, RecordStateOnlyWhenAsked) {
  const NetworkConfig config = Config();
  const NetworkModel<double> model = Model(config, 5);
  const SparseRows<double> inputs =
      ToSparseRows(Inputs(kSteps, 4, config.n_in, 6));
  Trajectory<double> traj =
      Simulate(model, inputs, kSteps, 4, SimulateOptions());
  EXPECT_EQ(traj.v.size(), 0);
  EXPECT_EQ(traj.threshold.size(), 0);

  SimulateOptions record;
  record.record_state = true;
  Simulate(model, inputs, kSteps, 4, record, &traj);
  ASSERT_EQ(traj.v.rows(), kSteps * 4);
  ASSERT_EQ(traj.v.cols(), 12);
  ASSERT_EQ(traj.threshold.rows(), kSteps * 4);
  ASSERT_EQ(traj.threshold.cols(), 12);
  const Manual manual = StepManually(model, inputs, kSteps, 4);
  EXPECT_EQ(traj.v, manual.v);
  EXPECT_EQ(traj.threshold, manual.threshold);
  EXPECT_GT(traj.v.cwiseAbs().maxCoeff(), 0.0);
  // LIF thresholds stay at v_th; ALIF thresholds rise after spikes.
  EXPECT_TRUE((traj.threshold.leftCols(6).array() == config.v_th).all());
  EXPECT_GT(traj.threshold.rightCols(6).maxCoeff(), config.v_th);

  // Turning recording off again drops the buffers.
  Simulate(model, inputs, kSteps, 4, SimulateOptions(), &traj);
  EXPECT_EQ(traj.v.size(), 0);
  EXPECT_EQ(traj.threshold.size(), 0);
}

TEST(SimulateTest, DenseSpikesAndSpikeCountsAgree) {
  const NetworkConfig config = Config();
  const NetworkModel<double> model = Model(config, 5);
  const SparseRows<double> inputs =
      ToSparseRows(Inputs(kSteps, kBatch, config.n_in, 6));
  const Trajectory<double> traj =
      Simulate(model, inputs, kSteps, kBatch, SimulateOptions());
  const MatD z = traj.DenseSpikes();
  ASSERT_EQ(z.rows(), kSteps * kBatch);
  ASSERT_EQ(z.cols(), 12);
  EXPECT_TRUE(((z.array() == 0.0) || (z.array() == 1.0)).all());
  const VecD counts = traj.SpikeCountPerNeuron();
  ASSERT_EQ(counts.size(), 12);
  EXPECT_EQ(counts, VecD(z.colwise().sum().transpose()));
  int64_t total = 0;
  for (const SparseRows<double>& s : traj.spikes) total += s.nonzeros();
  EXPECT_EQ(counts.sum(), static_cast<double>(total));
  EXPECT_GT(total, 0);
  EXPECT_GT((counts.array() > 0).count(), 6);
}

TEST(SimulateTest, ReusedTrajectoryMatchesFreshOnes) {
  const NetworkConfig config = Config();
  const NetworkModel<double> model = Model(config, 12);
  NetworkConfig small = Config();
  small.n_lif = 3;
  small.n_alif = 2;
  small.n_out = 2;
  const NetworkModel<double> small_model = Model(small, 13);
  const SparseRows<double> big_inputs =
      ToSparseRows(Inputs(kSteps, kBatch, config.n_in, 1));
  const SparseRows<double> small_inputs =
      ToSparseRows(Inputs(11, 5, small.n_in, 2));
  SimulateOptions record;
  record.record_state = true;

  auto expect_same = [](const Trajectory<double>& got,
                        const Trajectory<double>& want) {
    EXPECT_EQ(got.steps, want.steps);
    EXPECT_EQ(got.batch, want.batch);
    EXPECT_EQ(got.n_rec, want.n_rec);
    EXPECT_EQ(got.shards.size(), want.shards.size());
    EXPECT_EQ(got.psi, want.psi);
    EXPECT_EQ(got.y, want.y);
    EXPECT_EQ(got.v, want.v);
    EXPECT_EQ(got.threshold, want.threshold);
    EXPECT_EQ(got.DenseSpikes(), want.DenseSpikes());
    EXPECT_EQ(got.SpikeCountPerNeuron(), want.SpikeCountPerNeuron());
  };

  Trajectory<double> reused;
  // Large, then small (fewer shards, neurons, outputs, steps), then large.
  Simulate(model, big_inputs, kSteps, kBatch, record, &reused);
  Simulate(small_model, small_inputs, 11, 5, record, &reused);
  const Trajectory<double> fresh_small =
      Simulate(small_model, small_inputs, 11, 5, record);
  expect_same(reused, fresh_small);
  EXPECT_GT(fresh_small.SpikeCountPerNeuron().sum(), 0.0);

  Simulate(model, big_inputs, kSteps, kBatch, SimulateOptions(), &reused);
  const Trajectory<double> fresh_big =
      Simulate(model, big_inputs, kSteps, kBatch, SimulateOptions());
  expect_same(reused, fresh_big);
  EXPECT_GT(fresh_big.SpikeCountPerNeuron().sum(), 0.0);
}

TEST(SimulateTest, ZeroInputGivesNoSpikesAndBiasReadout) {
  const NetworkConfig config = Config();
  const NetworkModel<double> model = Model(config, 5);
  const SparseRows<double> inputs =
      ToSparseRows(MatD(MatD::Zero(10 * 3, config.n_in)));
  const Trajectory<double> traj =
      Simulate(model, inputs, 10, 3, SimulateOptions());
  EXPECT_EQ(traj.SpikeCountPerNeuron().sum(), 0.0);
  for (int r = 0; r < traj.y.rows(); ++r) {
    EXPECT_EQ(traj.y.row(r), model.b_out.transpose()) << r;
  }
  // Resting neurons (v = 0, threshold v_th) have psi = 0 (|u| = 1).
  EXPECT_TRUE(traj.psi.isZero(0.0));
}

TEST(SimulateTest, FloatTrajectoryTracksDouble) {
  const NetworkConfig config = Config();
  const Weights<double> w = InitWeights(config, 5);
  const NeuronConstants constants = MakeNeuronConstants(config);
  const NetworkModel<double> model_d =
      NetworkModel<double>::Prepare(constants, w);
  const NetworkModel<float> model_f =
      NetworkModel<float>::Prepare(constants, w.Cast<float>());
  const MatD x = Inputs(5, 40, config.n_in, 3);
  const Trajectory<double> d =
      Simulate(model_d, ToSparseRows(x), 5, 40, SimulateOptions());
  SimulateOptions two;
  two.threads = 2;
  const Trajectory<float> f =
      Simulate(model_f, ToSparseRows(MatF(x.cast<float>())), 5, 40, two);
  EXPECT_EQ(f.DenseSpikes().cast<double>(), d.DenseSpikes());
  EXPECT_TRUE(f.y.cast<double>().isApprox(d.y, 1e-5));
  EXPECT_GT(d.SpikeCountPerNeuron().sum(), 0.0);
}

// ---------------------------------------------------------- ToSparseRows

TEST(ToSparseRowsTest, RoundTrip) {
  MatD dense(4, 5);
  dense << 0, 1.5, 0, 0, -2,  //
      0, 0, 0, 0, 0,          //
      3, 0, 0, 0.25, 0,       //
      0, 0, 7, 0, 0;
  const SparseRows<double> sparse = ToSparseRows(dense);
  EXPECT_EQ(sparse.rows(), 4);
  EXPECT_EQ(sparse.nonzeros(), 5);
  EXPECT_THAT(sparse.offsets, ElementsAre(0, 2, 2, 4, 5));
  EXPECT_THAT(sparse.cols, ElementsAre(1, 4, 0, 3, 2));
  EXPECT_THAT(sparse.values, ElementsAre(1.5, -2, 3, 0.25, 7));
  EXPECT_EQ(sparse.begin(1), sparse.end(1));  // empty row

  MatD back = MatD::Zero(4, 5);
  for (int64_t r = 0; r < sparse.rows(); ++r) {
    for (int64_t k = sparse.begin(r); k < sparse.end(r); ++k) {
      back(r, sparse.cols[k]) = sparse.value(k);
    }
  }
  EXPECT_EQ(back, dense);

  const SparseRows<float> f = ToSparseRows(MatF(dense.cast<float>()));
  EXPECT_EQ(f.offsets, sparse.offsets);
  EXPECT_EQ(f.cols, sparse.cols);
  EXPECT_EQ(f.value(1), -2.0f);
}

TEST(ToSparseRowsTest, EmptyAndAllZero) {
  const SparseRows<double> none = ToSparseRows(MatD(0, 3));
  EXPECT_EQ(none.rows(), 0);
  EXPECT_EQ(none.nonzeros(), 0);
  const SparseRows<double> zeros = ToSparseRows(MatD(MatD::Zero(3, 2)));
  EXPECT_EQ(zeros.rows(), 3);
  EXPECT_EQ(zeros.nonzeros(), 0);
  EXPECT_THAT(zeros.offsets, ElementsAre(0, 0, 0, 0));
  // Entries without values read as 1 (spike rows).
  SparseRows<double> spikes;
  spikes.cols = {2};
  spikes.offsets = {0, 1};
  EXPECT_EQ(spikes.value(0), 1.0);
}

}  // namespace
}  // namespace eprop
