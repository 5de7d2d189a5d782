// The task-agnostic trainer: iterations over fresh batches, validation every
// k iterations, the reference early-stopping rule, learning-rate schedule,
// metrics, cooperative cancellation.
//
// Loop, for k = 0, 1, ...: if k % validate_every == 0, evaluate a fresh
// batch (no update) and record its metrics; if k > 0 and its error is below
// the stop criterion, evaluate early_stop_batches more fresh batches and
// stop when their mean error is below it too (the reference's rule). Then,
// unless k == max_iterations, train on a fresh batch: forward pass, gradient
// (BPTT or offline e-prop), optimizer step, feedback update.
#ifndef EPROP_CORE_TRAIN_TRAINER_H_
#define EPROP_CORE_TRAIN_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/learn/feedback.h"
#include "core/learn/gradient.h"
#include "core/learn/optimizer.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/sim/simulate.h"
#include "core/train/checkpoint.h"
#include "core/train/metrics.h"
#include "core/train/task.h"
#include "core/util/random.h"

namespace eprop {

enum class Algorithm { kBptt, kEpropSymmetric, kEpropRandom, kEpropAdaptive };

// "bptt", "eprop_symmetric", "eprop_random", "eprop_adaptive".
absl::StatusOr<Algorithm> ParseAlgorithm(const std::string& name);
const char* AlgorithmName(Algorithm algorithm);

struct TrainerConfig {
  Algorithm algorithm = Algorithm::kEpropRandom;
  uint64_t seed = 1;
  int batch = 0;  // 0: the task's default
  int64_t max_iterations = 2000;
  int validate_every = 10;
  // Stop criterion on the validation error / normalised MSE; negative: the
  // task's default; 0: never stop early.
  double stop_criterion = -1;
  int early_stop_batches = 8;
  // Step schedule: the learning rate is multiplied by lr_decay every
  // lr_decay_every iterations (0 = constant).
  int64_t lr_decay_every = 0;
  double lr_decay = 1.0;
  int threads = 2;
  // Run() hands a checkpoint to its callback every this many iterations
  // (0 = never).
  int64_t checkpoint_every = 0;
  // Upper bound on the memory of one batch's recorded trajectory
  // (pseudo-derivatives, spikes, readout), checked when the trainer is
  // created.
  int64_t max_trajectory_bytes = int64_t{8} << 30;
  // Replacements of the task's network and optimizer (unset: the task's).
  // A replacement network must keep the task's n_in, n_out and dt_ms.
  std::optional<NetworkConfig> network;
  std::optional<OptimizerConfig> optimizer;
  // E-prop gradients from forward eligibility traces, step by step, as
  // streaming sessions compute them (core/learn/online_learner.h), instead
  // of the offline backward recursion: the same gradient up to rounding,
  // much slower, and bit-identical to a session fed the same batches.
  bool online_eprop = false;

  absl::Status Validate() const;
};

// Bytes of one batch's recorded trajectory (pseudo-derivatives, voltages,
// thresholds, readout, spike events), which dominates a run's memory.
double TrajectoryBytes(const NetworkConfig& network, int steps, int batch);

struct TrainResult {
  int64_t iterations = 0;  // training iterations completed
  bool reached_criterion = false;
  bool cancelled = false;
  IterationMetrics last;  // the last validation
  double wall_s = 0;
};

class Trainer {
 public:
  using MetricsCallback = std::function<void(const IterationMetrics&)>;
  using CheckpointCallback = std::function<void(const TrainingCheckpoint&)>;

  // Fails if the config is invalid, the task unknown, or a batch would need
  // more than config.max_trajectory_bytes (RESOURCE_EXHAUSTED).
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const std::string& task_name, const TrainerConfig& config);

  // Runs until the stop criterion, max_iterations or *cancel. Cancellation
  // is checked before each iteration, ahead of any validation, so a state
  // saved after a cancelled Run() resumes exactly like an uninterrupted run.
  // on_validation is called after every recorded validation; on_checkpoint
  // every config.checkpoint_every iterations, at an iteration boundary, so
  // the checkpoint resumes bit for bit.
  TrainResult Run(const MetricsCallback& on_validation,
                  const std::atomic<bool>* cancel = nullptr,
                  const CheckpointCallback& on_checkpoint = nullptr);

  // Everything that evolves during a run (weights, feedback, optimizer and
  // RNG state, iteration, history); with the task and config it determines
  // the rest of the run bit for bit.
  TrainingCheckpoint SaveState() const;
  // Restores a state saved by a trainer of the same task and run
  // description (RunDescription(); max_iterations and threads may differ).
  // A state that does not fit changes nothing.
  absl::Status RestoreState(const TrainingCheckpoint& state);
  // The settings that make a run what it is, as text.
  std::string RunDescription() const;

  // A fresh batch of the run's size drawn from `rng` (not the run's own
  // generator, so the run is not disturbed).
  TaskBatch SampleBatch(Rng& rng) { return task_->NextBatch(batch_, rng); }

  // Metrics of the current weights on `batch` (no update).
  IterationMetrics Evaluate(const TaskBatch& batch);

  // One update from a gradient computed elsewhere (a streaming session):
  // the optimizer step at the scheduled learning rate of the current
  // iteration and the feedback update, exactly as a training iteration
  // applies its gradient; then the iteration count advances.
  void ApplyGradient(const Weights<float>& gradient);
  int64_t iteration() const { return iteration_; }

  const Task& task() const { return *task_; }
  const NetworkConfig& network() const { return network_; }
  const TrainerConfig& config() const { return config_; }
  const Weights<float>& weights() const { return weights_; }
  // B as the learning rule uses it (W_out^T for BPTT and symmetric e-prop).
  MatF FeedbackMatrix() const { return feedback_.Matrix(weights_); }
  const std::vector<IterationMetrics>& history() const { return history_; }
  Rng& rng() { return rng_; }
  double stop_criterion() const;
  // The scheduled learning rate of training iteration `iteration`.
  double LearningRateAt(int64_t iteration) const;

 private:
  Trainer(std::unique_ptr<Task> task, const TrainerConfig& config,
          const NetworkConfig& network, const OptimizerConfig& optimizer);
  void TrainStep();
  void UpdateWeights(const Weights<float>& gradient);
  // Records a validation on a fresh batch; true when the early-stop rule
  // ends the run.
  bool ValidateAndCheckStop(const MetricsCallback& on_validation,
                            double wall_s);
  double ValidationError(const IterationMetrics& m) const;

  std::unique_ptr<Task> task_;
  TrainerConfig config_;
  NetworkConfig network_;
  NeuronConstants constants_;
  int batch_;
  GradientMethod method_;
  RateRegularizerConfig regularizer_;
  Weights<float> weights_;
  Feedback<float> feedback_;
  Optimizer<float> optimizer_;
  OptimizerConfig optimizer_config_;
  Rng rng_;
  int64_t iteration_ = 0;
  std::vector<IterationMetrics> history_;
  Trajectory<float> traj_;  // reused across iterations
  double train_ms_since_validation_ = 0;
  int64_t trained_since_validation_ = 0;
};

}  // namespace eprop

#endif  // EPROP_CORE_TRAIN_TRAINER_H_
