// The interface between a task and the task-agnostic trainer.
#ifndef EPROP_CORE_TRAIN_TASK_H_
#define EPROP_CORE_TRAIN_TASK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/learn/feedback.h"
#include "core/learn/firing_rate.h"
#include "core/learn/loss.h"
#include "core/learn/optimizer.h"
#include "core/model/network_config.h"
#include "core/tasks/task_batch.h"
#include "core/util/random.h"

namespace eprop {

// A task fixes the network and learning constants of its paper figure and
// generates batches. NextBatch must draw all its randomness from `rng`, so
// that a run is reproducible from the seed and resumable from the RNG state.
class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual NetworkConfig network() const = 0;
  virtual OptimizerConfig optimizer() const = 0;
  virtual RateRegularizerConfig regularizer() const = 0;
  virtual FeedbackConfig feedback(FeedbackMode mode) const = 0;
  virtual int default_batch() const = 0;
  // Time steps of every sequence the task generates.
  virtual int steps() const = 0;
  // Stop when the validation error (classification) or normalised MSE
  // (regression) is below this; 0 = train for max_iterations.
  virtual double default_stop_criterion() const = 0;
  virtual TaskBatch NextBatch(int batch, Rng& rng) = 0;
};

// The task loss of a batch's readout y: masked softmax cross-entropy for
// classification batches, MSE otherwise.
LossGradient<float> TaskLoss(const TaskBatch& batch, const MatF& y);

// "evidence_accumulation" or "pattern_generation"; seed fixes the frozen
// pattern of pattern generation.
absl::StatusOr<std::unique_ptr<Task>> MakeTask(const std::string& name,
                                               uint64_t seed);

}  // namespace eprop

#endif  // EPROP_CORE_TRAIN_TASK_H_
