#include "core/learn/online_learner.h"

#include <gtest/gtest.h>

#include "core/learn/gradient.h"
#include "core/learn/loss.h"
#include "core/model/weights.h"
#include "core/sim/simulate.h"
#include "core/train/task.h"
#include "core/train/trainer.h"
#include "core/util/random.h"

namespace eprop {
namespace {

// A task batch, its network and weights, and the offline e-prop gradient
// of the same loss and regulariser, as the trainer computes it.
struct Case {
  std::unique_ptr<Task> task;
  NetworkConfig network;
  Weights<float> weights;
  MatF feedback;
  TaskBatch batch;
  Weights<float> offline;
};

Case MakeCase(const std::string& task_name, int batch, uint64_t seed) {
  Case c;
  c.task = *MakeTask(task_name, seed);
  c.network = c.task->network();
  c.weights = InitWeights(c.network, seed).Cast<float>();
  Rng rng(seed + 7);
  c.feedback = InitRandomFeedback(c.network, 1.0, seed + 1).cast<float>();
  c.batch = c.task->NextBatch(batch, rng);
  const NetworkModel<float> model =
      NetworkModel<float>::Prepare(MakeNeuronConstants(c.network), c.weights);
  Trajectory<float> traj;
  Simulate(model, c.batch.inputs, c.batch.steps, c.batch.batch,
           SimulateOptions(), &traj);
  const LossGradient<float> loss = TaskLoss(c.batch, traj.y);
  const SpikeLossGradient<float> reg =
      RateRegularization(c.task->regularizer(), traj, c.network.dt_ms);
  GradientInputs options;
  options.readout_bias = c.network.readout_bias;
  c.offline = ComputeGradient(GradientMethod::kEpropOffline, model, c.feedback,
                              c.batch.inputs, traj, loss.dE_dy, reg, options);
  return c;
}

Weights<float> Online(const Case& c) {
  OnlineLearner learner(MakeNeuronConstants(c.network), c.task->regularizer(),
                        c.network.dt_ms, c.network.readout_bias, c.batch.batch,
                        c.weights);
  return OnlineBatchGradient(c.batch, c.feedback, &learner);
}

// The online form computes the offline gradient in another order: equal up
// to float32 rounding (eprop verify shows 3e-15 in double).
TEST(OnlineLearnerTest, ClassificationGradientEqualsOfflineEprop) {
  const Case c = MakeCase("evidence_accumulation", 3, 11);
  EXPECT_LT(
      MaxRelativeDifference(Online(c).Cast<double>(), c.offline.Cast<double>()),
      1e-4);
}

TEST(OnlineLearnerTest, RegressionGradientEqualsOfflineEprop) {
  const Case c = MakeCase("pattern_generation", 1, 5);
  EXPECT_LT(
      MaxRelativeDifference(Online(c).Cast<double>(), c.offline.Cast<double>()),
      1e-4);
}

TEST(OnlineLearnerTest, OneKindOfTargetPerUpdatePeriod) {
  const Case c = MakeCase("pattern_generation", 1, 5);
  OnlineLearner learner(MakeNeuronConstants(c.network), c.task->regularizer(),
                        c.network.dt_ms, false, 1, c.weights);
  learner.Step(c.batch.inputs, 0);
  ASSERT_TRUE(
      learner.AddRegression(c.batch.target.topRows(1), c.feedback, nullptr)
          .ok());
  EXPECT_EQ(
      learner
          .AddOutputError(MatF::Zero(1, c.network.n_out), c.feedback, nullptr)
          .code(),
      absl::StatusCode::kFailedPrecondition);
  learner.TakeGradient();
  EXPECT_TRUE(
      learner
          .AddOutputError(MatF::Zero(1, c.network.n_out), c.feedback, nullptr)
          .ok());
}

TEST(OnlineLearnerTest, TrainerOnlineFormLearnsLikeTheOfflineForm) {
  TrainerConfig config;
  config.max_iterations = 3;
  config.validate_every = 1000;
  config.threads = 1;
  config.online_eprop = true;
  std::unique_ptr<Trainer> online =
      *Trainer::Create("pattern_generation", config);
  config.online_eprop = false;
  std::unique_ptr<Trainer> offline =
      *Trainer::Create("pattern_generation", config);
  online->Run(nullptr);
  offline->Run(nullptr);
  // SGD on pattern generation: the weights follow the gradients closely.
  EXPECT_LT(MaxRelativeDifference(online->weights().Cast<double>(),
                                  offline->weights().Cast<double>()),
            1e-4);
  EXPECT_NE(online->RunDescription(), offline->RunDescription());
  config.algorithm = Algorithm::kBptt;
  config.online_eprop = true;
  EXPECT_FALSE(config.Validate().ok());
}

}  // namespace
}  // namespace eprop
