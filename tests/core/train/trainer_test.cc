#include "core/train/trainer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>

#include "core/train/trial.h"

namespace eprop {
namespace {

std::unique_ptr<Trainer> MakeTrainer(const std::string& task,
                                     const TrainerConfig& config) {
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(task, config);
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  return std::move(*trainer);
}

// Short learning run in CI: random e-prop on evidence accumulation with the
// reference constants. Chance is 50 % error; after 100 iterations the mean
// error of the last three validations must be below 30 % and the
// cross-entropy must have fallen by at least 0.1 nats.
TEST(TrainerLearningTest, EvidenceAccumulationErrorFallsBelowChance) {
  TrainerConfig config;
  config.algorithm = Algorithm::kEpropRandom;
  config.max_iterations = 100;
  config.stop_criterion = 0;
  const std::unique_ptr<Trainer> trainer =
      MakeTrainer("evidence_accumulation", config);
  const TrainResult result = trainer->Run(nullptr);
  const std::vector<IterationMetrics>& h = trainer->history();
  ASSERT_EQ(h.size(), 11u);
  const double late_error = (h[8].error + h[9].error + h[10].error) / 3;
  const double late_loss = (h[8].loss + h[9].loss + h[10].loss) / 3;
  EXPECT_NEAR(h[0].loss, std::log(2.0), 0.05);
  EXPECT_LT(late_error, 0.30);
  EXPECT_LT(late_loss, h[0].loss - 0.1);
  EXPECT_EQ(result.iterations, 100);
  EXPECT_GT(h.back().rate_hz, 1.0);
  ASSERT_EQ(h.back().populations.size(), 2u);
  EXPECT_EQ(h.back().populations[1].name, "ALIF");
}

// Pattern generation with random e-prop: the normalised MSE must fall by a
// factor 3 within 400 iterations (measured: 1.40 -> 0.39).
TEST(TrainerLearningTest, PatternGenerationNmseFalls) {
  TrainerConfig config;
  config.algorithm = Algorithm::kEpropRandom;
  config.max_iterations = 400;
  config.validate_every = 50;
  const std::unique_ptr<Trainer> trainer =
      MakeTrainer("pattern_generation", config);
  trainer->Run(nullptr);
  const std::vector<IterationMetrics>& h = trainer->history();
  ASSERT_GE(h.size(), 2u);
  EXPECT_TRUE(std::isnan(h.back().error));
  EXPECT_LT(h.back().nmse, h.front().nmse / 3);
}

// Equal except for wall-clock fields.
void ExpectSameHistory(const std::vector<IterationMetrics>& a,
                       const std::vector<IterationMetrics>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].iteration, b[k].iteration);
    EXPECT_EQ(a[k].loss, b[k].loss);
    EXPECT_EQ(a[k].error, b[k].error);
    EXPECT_EQ(a[k].rate_hz, b[k].rate_hz);
  }
}

TEST(TrainerResumeTest, ResumedRunContinuesBitForBit) {
  for (Algorithm algorithm : {Algorithm::kEpropAdaptive, Algorithm::kBptt}) {
    TrainerConfig config;
    config.algorithm = algorithm;
    config.batch = 8;
    config.max_iterations = 25;
    config.stop_criterion = 0;
    config.threads = 1;
    const std::unique_ptr<Trainer> whole =
        MakeTrainer("evidence_accumulation", config);
    whole->Run(nullptr);

    // Interrupt after the validation at iteration 10, then resume in a
    // fresh trainer from the saved state.
    const std::unique_ptr<Trainer> first =
        MakeTrainer("evidence_accumulation", config);
    std::atomic<bool> cancel{false};
    const TrainResult part = first->Run(
        [&](const IterationMetrics& m) { cancel = m.iteration >= 10; },
        &cancel);
    ASSERT_TRUE(part.cancelled);
    ASSERT_EQ(part.iterations, 11);
    const TrainingCheckpoint saved = first->SaveState();
    const std::unique_ptr<Trainer> second =
        MakeTrainer("evidence_accumulation", config);
    ASSERT_TRUE(second->RestoreState(saved).ok());
    const TrainResult rest = second->Run(nullptr);
    EXPECT_EQ(rest.iterations, 25);

    EXPECT_EQ(second->weights().w_in, whole->weights().w_in);
    EXPECT_EQ(second->weights().w_rec, whole->weights().w_rec);
    EXPECT_EQ(second->weights().w_out, whole->weights().w_out);
    ExpectSameHistory(second->history(), whole->history());
    const TrainingCheckpoint a = second->SaveState(), b = whole->SaveState();
    EXPECT_EQ(a.rng_state, b.rng_state);
    EXPECT_EQ(a.feedback, b.feedback);
    EXPECT_EQ(a.optimizer.m.w_rec, b.optimizer.m.w_rec);
  }
}

TEST(TrainerResumeTest, PeriodicCheckpointResumesBitForBit) {
  TrainerConfig config;
  config.batch = 8;
  config.max_iterations = 14;
  config.stop_criterion = 0;
  config.validate_every = 5;
  config.checkpoint_every = 7;
  const std::unique_ptr<Trainer> whole =
      MakeTrainer("evidence_accumulation", config);
  std::vector<TrainingCheckpoint> checkpoints;
  whole->Run(nullptr, nullptr,
             [&](const TrainingCheckpoint& c) { checkpoints.push_back(c); });
  ASSERT_EQ(checkpoints.size(), 2u);  // at iterations 7 and 14
  EXPECT_EQ(checkpoints[0].iteration, 7);
  const std::unique_ptr<Trainer> resumed =
      MakeTrainer("evidence_accumulation", config);
  ASSERT_TRUE(resumed->RestoreState(checkpoints[0]).ok());
  resumed->Run(nullptr);
  EXPECT_EQ(resumed->weights().w_rec, whole->weights().w_rec);
  ExpectSameHistory(resumed->history(), whole->history());
}

TEST(TrainerResumeTest, RestoreRejectsAForeignStateAndChangesNothing) {
  TrainerConfig config;
  config.max_iterations = 2;
  const std::unique_ptr<Trainer> pattern =
      MakeTrainer("pattern_generation", config);
  const std::unique_ptr<Trainer> evidence =
      MakeTrainer("evidence_accumulation", config);
  const Weights<float> before = evidence->weights();
  EXPECT_EQ(evidence->RestoreState(pattern->SaveState()).code(),
            absl::StatusCode::kFailedPrecondition);
  TrainingCheckpoint corrupt = evidence->SaveState();
  corrupt.rng_state = "garbage";
  EXPECT_EQ(evidence->RestoreState(corrupt).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(evidence->weights().w_rec, before.w_rec);
  TrainerConfig other_seed = config;
  other_seed.seed = 99;
  EXPECT_EQ(MakeTrainer("evidence_accumulation", other_seed)
                ->RestoreState(evidence->SaveState())
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(TrainerTest, StopsEarlyWhenTheCriterionIsMet) {
  TrainerConfig config;
  config.batch = 4;
  config.max_iterations = 100;
  config.stop_criterion = 10.0;  // any error is below it
  config.early_stop_batches = 2;
  const std::unique_ptr<Trainer> trainer =
      MakeTrainer("evidence_accumulation", config);
  const TrainResult result = trainer->Run(nullptr);
  EXPECT_TRUE(result.reached_criterion);
  EXPECT_EQ(result.iterations, 10);  // the first validation after iteration 0
}

TEST(TrainerTest, CancelledBeforeStartDoesNothing) {
  TrainerConfig config;
  const std::unique_ptr<Trainer> trainer =
      MakeTrainer("evidence_accumulation", config);
  std::atomic<bool> cancel{true};
  const TrainResult result = trainer->Run(nullptr, &cancel);
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(result.iterations, 0);
  EXPECT_TRUE(trainer->history().empty());
}

TEST(TrainerTest, LearningRateSchedule) {
  TrainerConfig config;
  config.lr_decay_every = 100;
  config.lr_decay = 0.5;
  const std::unique_ptr<Trainer> trainer =
      MakeTrainer("evidence_accumulation", config);
  EXPECT_DOUBLE_EQ(trainer->LearningRateAt(0), 5e-3);
  EXPECT_DOUBLE_EQ(trainer->LearningRateAt(99), 5e-3);
  EXPECT_DOUBLE_EQ(trainer->LearningRateAt(100), 2.5e-3);
  EXPECT_DOUBLE_EQ(trainer->LearningRateAt(250), 1.25e-3);
}

TEST(TrialTest, RecordsTheFigureOfOneTrial) {
  TrainerConfig config;
  config.batch = 2;
  const std::unique_ptr<Trainer> trainer =
      MakeTrainer("evidence_accumulation", config);
  Rng rng(7);
  const plot::TrialData d = RecordTrial(*trainer, trainer->SampleBatch(rng));
  ASSERT_EQ(d.inputs.rows(), 2250);
  EXPECT_EQ(d.lif_spikes.cols(), 50);
  EXPECT_EQ(d.alif_spikes.cols(), 50);
  EXPECT_GT(d.lif_spikes.sum() + d.alif_spikes.sum(), 0);
  EXPECT_EQ(d.alif_thresholds.cols(), 4);
  // Probabilities sum to one; the target is one-hot on the recall steps.
  EXPECT_NEAR(d.output.row(100).sum(), 1.0, 1e-6);
  EXPECT_EQ(d.target.sum(), 150);
  // Learning signals only where the loss is (the recall window), and
  // eligibility traces of the busiest input synapse are not all zero.
  ASSERT_EQ(d.learning_signals.cols(), 3);
  EXPECT_EQ(d.learning_signals.topRows(2100).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_GT(d.learning_signals.bottomRows(150).cwiseAbs().maxCoeff(), 0.0);
  ASSERT_EQ(d.eligibility_traces.cols(), 3);
  EXPECT_GT(d.eligibility_traces.cwiseAbs().maxCoeff(), 0.0);
}

TEST(TrainerTest, RefusesBatchesBeyondTheMemoryLimit) {
  TrainerConfig config;
  config.batch = 100000;  // 2250 steps x 100 neurons: about 270 GB
  const absl::Status status =
      Trainer::Create("evidence_accumulation", config).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("at most"), std::string::npos) << status;
  config.batch = 64;
  EXPECT_TRUE(Trainer::Create("evidence_accumulation", config).ok());
}

TEST(TrainerTest, RejectsBadConfigAndUnknownNames) {
  TrainerConfig config;
  config.validate_every = 0;
  EXPECT_EQ(Trainer::Create("evidence_accumulation", config).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Trainer::Create("atari", TrainerConfig{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseAlgorithm("eprop").ok());
  for (Algorithm a : {Algorithm::kBptt, Algorithm::kEpropSymmetric,
                      Algorithm::kEpropRandom, Algorithm::kEpropAdaptive}) {
    EXPECT_EQ(*ParseAlgorithm(AlgorithmName(a)), a);
  }
  config = {};
  config.lr_decay = 0;
  EXPECT_FALSE(config.Validate().ok());
  config = {};
  config.stop_criterion = NAN;
  EXPECT_FALSE(config.Validate().ok());
}

TEST(TrainerTest, ReplacesTheTasksNetworkAndOptimizer) {
  TrainerConfig config;
  config.max_iterations = 1;
  const std::unique_ptr<Trainer> defaults =
      MakeTrainer("evidence_accumulation", config);
  NetworkConfig network = defaults->network();
  network.n_lif = 30;
  network.n_alif = 10;
  config.network = network;
  OptimizerConfig optimizer;
  optimizer.kind = OptimizerConfig::Kind::kSgd;
  optimizer.learning_rate = 0.5;
  config.optimizer = optimizer;
  const std::unique_ptr<Trainer> replaced =
      MakeTrainer("evidence_accumulation", config);
  EXPECT_EQ(replaced->weights().w_rec.rows(), 40);
  EXPECT_EQ(replaced->LearningRateAt(0), 0.5);
  // Same task and seed, different network: not the same run.
  EXPECT_EQ(replaced->RestoreState(defaults->SaveState()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(replaced->RestoreState(replaced->SaveState()).ok());

  network.n_in = 5;  // the task's inputs are fixed
  config.network = network;
  EXPECT_EQ(Trainer::Create("evidence_accumulation", config).status().code(),
            absl::StatusCode::kInvalidArgument);
  config.network.reset();
  optimizer.learning_rate = -1;
  config.optimizer = optimizer;
  EXPECT_EQ(Trainer::Create("evidence_accumulation", config).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace eprop
