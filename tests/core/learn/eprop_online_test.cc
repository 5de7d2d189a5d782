#include "core/learn/eprop_online.h"

#include <gtest/gtest.h>

#include "core/learn/gradient.h"
#include "tests/core/testing/network_fixture.h"

namespace eprop {
namespace {

using testing::FastPass;
using testing::Problem;
using testing::ReferenceProblem;
using testing::RunFastPass;

// Streams a whole batch through OnlineEprop with the exact per-step signals
// of the offline pass.
Weights<double> Stream(const FastPass<double>& f, const Problem& p,
                       const MatD& feedback, OnlineEprop<double>* online) {
  MatD direct(p.batch, p.config.n_rec());
  for (int t = 0; t < p.steps; ++t) {
    const int64_t row = static_cast<int64_t>(t) * p.batch;
    online->Step(f.inputs, row);
    EXPECT_EQ(online->Output(), f.traj.y.middleRows(row, p.batch)) << t;
    direct.setZero();
    if (f.direct.per_neuron.size() > 0) {
      direct.rowwise() += f.direct.per_neuron.transpose();
    }
    if (f.direct.per_step.size() > 0) {
      direct += f.direct.per_step.middleRows(row, p.batch);
    }
    online->Accumulate(f.loss.dE_dy.middleRows(row, p.batch), direct,
                       feedback);
  }
  return online->Gradient();
}

Weights<double> Offline(const FastPass<double>& f, const MatD& feedback) {
  GradientInputs options;
  options.readout_bias = true;
  return ComputeGradient(GradientMethod::kEpropOffline, f.model, feedback,
                         f.inputs, f.traj, f.loss.dE_dy, f.direct, options);
}

TEST(OnlineEpropTest, EqualsOfflineWithBatchRateRegulariser) {
  const Problem p = ReferenceProblem(80, 3, 11);
  const FastPass<double> f = RunFastPass<double>(p);
  ASSERT_GT(f.traj.SpikeCountPerNeuron().tail(p.config.n_alif).sum(), 5);
  OnlineEprop<double> online(&f.model, p.batch);
  EXPECT_LE(MaxRelativeDifference(Stream(f, p, p.feedback, &online),
                                  Offline(f, p.feedback)),
            1e-12);
}

TEST(OnlineEpropTest, EqualsOfflineWithRunningRateRegulariser) {
  Problem p = ReferenceProblem(60, 2, 12);
  p.regularizer.average = RateAverage::kRunning;
  const FastPass<double> f = RunFastPass<double>(p);
  ASSERT_GT(f.direct.per_step.size(), 0);
  OnlineEprop<double> online(&f.model, p.batch);
  EXPECT_LE(MaxRelativeDifference(Stream(f, p, p.feedback, &online),
                                  Offline(f, p.feedback)),
            1e-12);
}

TEST(OnlineEpropTest, ResetStateStartsANewSequenceAndGradientsAccumulate) {
  const Problem p = ReferenceProblem(40, 2, 13);
  const FastPass<double> f = RunFastPass<double>(p);
  OnlineEprop<double> online(&f.model, p.batch);
  const Weights<double> once = Stream(f, p, p.feedback, &online);
  online.ResetState();
  const Weights<double> twice = Stream(f, p, p.feedback, &online);
  EXPECT_LE(MaxRelativeDifference(twice.w_in, 2.0 * once.w_in), 1e-14);
  EXPECT_LE(MaxRelativeDifference(twice.w_rec, 2.0 * once.w_rec), 1e-14);
  online.ResetGradient();
  online.ResetState();
  EXPECT_LE(MaxRelativeDifference(Stream(f, p, p.feedback, &online), once),
            1e-15);
}

TEST(OnlineEpropTest, FloatTracksDouble) {
  const Problem p = ReferenceProblem(60, 2, 14);
  const FastPass<double> d = RunFastPass<double>(p);
  const FastPass<float> f = RunFastPass<float>(p);
  ASSERT_EQ(d.traj.DenseSpikes().cast<float>(), f.traj.DenseSpikes());
  OnlineEprop<float> online(&f.model, p.batch);
  const MatF feedback = p.feedback.cast<float>();
  const MatF no_direct;
  for (int t = 0; t < p.steps; ++t) {
    const int64_t row = static_cast<int64_t>(t) * p.batch;
    online.Step(f.inputs, row);
    online.Accumulate(f.loss.dE_dy.middleRows(row, p.batch), no_direct,
                      feedback);
  }
  SpikeLossGradient<double> none;
  GradientInputs options;
  options.readout_bias = true;
  const Weights<double> expected = ComputeGradient(
      GradientMethod::kEpropOffline, d.model, p.feedback, d.inputs, d.traj,
      d.loss.dE_dy, none, options);
  EXPECT_LE(MaxRelativeDifference(online.Gradient().Cast<double>(), expected),
            1e-4);
}

}  // namespace
}  // namespace eprop
