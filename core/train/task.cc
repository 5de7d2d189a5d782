#include "core/train/task.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/tasks/evidence_accumulation.h"
#include "core/tasks/pattern_generation.h"

namespace eprop {
namespace {

class EvidenceAccumulationTask : public Task {
 public:
  std::string name() const override { return "evidence_accumulation"; }
  NetworkConfig network() const override { return EvidenceNetwork(config_); }
  OptimizerConfig optimizer() const override { return EvidenceOptimizer(); }
  RateRegularizerConfig regularizer() const override {
    return EvidenceRegularizer();
  }
  FeedbackConfig feedback(FeedbackMode mode) const override {
    return EvidenceFeedback(mode);
  }
  int default_batch() const override { return 64; }
  int steps() const override { return config_.steps(); }
  double default_stop_criterion() const override { return 0.07; }
  TaskBatch NextBatch(int batch, Rng& rng) override {
    return MakeEvidenceBatch(config_, batch, rng);
  }

 private:
  EvidenceAccumulationConfig config_;
};

// The same frozen input and target at every iteration; `batch` copies.
class PatternGenerationTask : public Task {
 public:
  explicit PatternGenerationTask(uint64_t seed) {
    config_.seed = seed;
    data_ = MakePatternGeneration(config_);
  }
  std::string name() const override { return "pattern_generation"; }
  NetworkConfig network() const override {
    return PatternGenerationNetwork(config_);
  }
  OptimizerConfig optimizer() const override {
    return PatternGenerationOptimizer();
  }
  RateRegularizerConfig regularizer() const override {
    return PatternGenerationRegularizer();
  }
  FeedbackConfig feedback(FeedbackMode mode) const override {
    FeedbackConfig f;
    f.mode = mode;
    f.random_stddev = 1.0 / std::sqrt(network().n_rec());
    return f;
  }
  int default_batch() const override { return 1; }
  int steps() const override { return config_.steps; }
  double default_stop_criterion() const override { return 0.0; }
  TaskBatch NextBatch(int batch, Rng&) override {
    TaskBatch out;
    out.steps = config_.steps;
    out.batch = batch;
    out.classification = false;
    out.target_variance = data_.target_variance;
    const int64_t rows = static_cast<int64_t>(out.steps) * batch;
    MatF x(rows, config_.n_inputs);
    out.target.resize(rows, config_.n_outputs);
    for (int t = 0; t < out.steps; ++t) {
      for (int b = 0; b < batch; ++b) {
        x.row(int64_t{t} * batch + b) = data_.inputs_dense.row(t);
        out.target.row(int64_t{t} * batch + b) = data_.target.row(t);
      }
    }
    out.inputs = ToSparseRows(x);
    return out;
  }

 private:
  PatternGenerationConfig config_;
  PatternGenerationData data_;
};

}  // namespace

LossGradient<float> TaskLoss(const TaskBatch& batch, const MatF& y) {
  return batch.classification
             ? SoftmaxCrossEntropy(y, batch.labels, batch.mask)
             : MeanSquaredError(y, batch.target, batch.batch);
}

absl::StatusOr<std::unique_ptr<Task>> MakeTask(const std::string& name,
                                               uint64_t seed) {
  if (name == "evidence_accumulation") {
    return std::make_unique<EvidenceAccumulationTask>();
  }
  if (name == "pattern_generation") {
    return std::make_unique<PatternGenerationTask>(seed);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown task '", name,
      "'; known tasks: evidence_accumulation, pattern_generation"));
}

}  // namespace eprop
