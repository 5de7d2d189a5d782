#include "core/tasks/pattern_generation.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/learn/feedback.h"
#include "core/learn/gradient.h"
#include "core/learn/loss.h"
#include "core/sim/simulate.h"

namespace eprop {
namespace {

TEST(PatternGenerationTest, TargetFollowsTheReferenceRecipe) {
  PatternGenerationConfig config;
  config.seed = 3;
  const PatternGenerationData data = MakePatternGeneration(config);
  ASSERT_EQ(data.target.rows(), 1000);
  EXPECT_EQ(data.target(0, 0), 0.0f);                      // starts at 0
  EXPECT_NEAR(data.target.cwiseAbs().maxCoeff(), 1.0f, 1e-6);  // max |y| = 1
  EXPECT_GT(data.target_variance, 0.01);
  // Frozen 50 Hz Poisson input: about 50 spikes per input over 1 s.
  const double mean_count = data.inputs_dense.sum() / config.n_inputs;
  EXPECT_NEAR(mean_count, 50.0, 5.0);
  EXPECT_EQ(data.inputs.nonzeros(),
            static_cast<int64_t>(data.inputs_dense.sum()));
}

TEST(PatternGenerationTest, SeedsAreReproducibleAndDistinct) {
  PatternGenerationConfig a, b;
  a.seed = b.seed = 4;
  EXPECT_EQ(MakePatternGeneration(a).target, MakePatternGeneration(b).target);
  b.seed = 5;
  EXPECT_NE(MakePatternGeneration(a).target, MakePatternGeneration(b).target);
}

TEST(PatternGenerationTest, ValidateRejectsBadFields) {
  PatternGenerationConfig config;
  EXPECT_TRUE(config.Validate().ok());
  config.steps = 0;
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
  config = {};
  config.input_rate_hz = NAN;
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
}

// Short learning run: random e-prop with the reference constants must cut
// the normalised MSE by at least a factor 3 within 300 iterations (measured:
// 2.0 -> 0.45).
TEST(PatternGenerationTest, RandomEpropLearnsThePattern) {
  PatternGenerationConfig task;
  task.seed = 1;
  const PatternGenerationData data = MakePatternGeneration(task);
  const NetworkConfig network = PatternGenerationNetwork(task);
  const NeuronConstants constants = MakeNeuronConstants(network);
  Weights<float> weights = InitWeights(network, 2).Cast<float>();
  FeedbackConfig feedback_config;
  feedback_config.random_stddev = 1.0 / std::sqrt(network.n_rec());
  Feedback<float> feedback(feedback_config, network, 3);
  Optimizer<float> optimizer(PatternGenerationOptimizer(), weights);
  Trajectory<float> traj;
  double first = 0, last = 0;
  for (int it = 0; it < 300; ++it) {
    const NetworkModel<float> model =
        NetworkModel<float>::Prepare(constants, weights);
    Simulate(model, data.inputs, task.steps, 1, {}, &traj);
    const LossGradient<float> loss = MeanSquaredError(traj.y, data.target, 1);
    const SpikeLossGradient<float> reg =
        RateRegularization(PatternGenerationRegularizer(), traj, 1.0);
    optimizer.Apply(ComputeGradient(GradientMethod::kEpropOffline, model,
                                    feedback.Matrix(weights), data.inputs,
                                    traj, loss.dE_dy, reg, {}),
                    &weights);
    const double nmse = 2 * loss.loss / task.steps / data.target_variance;
    if (it == 0) first = nmse;
    last = nmse;
  }
  EXPECT_LT(last, first / 3) << "first " << first << " last " << last;
}

}  // namespace
}  // namespace eprop
