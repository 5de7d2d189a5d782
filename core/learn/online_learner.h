// Online e-prop for sequences that arrive a step at a time: streaming
// sessions, and jobs trained with the online form. The network and its
// eligibility traces advance one step at a time (OnlineEprop); each step's
// output error is turned into a learning signal and accumulated; the
// gradient is handed out whenever the caller applies an update. Sessions
// and the trainer's online form run this same code, so on the same data
// they produce bit-identical weights.
//
// Normalisation: per-step output errors are accumulated unnormalised and
// TakeGradient() scales them, over the rows (steps x samples) accumulated
// since the previous update, as the whole-sequence losses of loss.h do:
//   regression   E = 1/2 sum (y - y*)^2 / batch        -> scale 1 / batch
//   classification  mean cross-entropy over masked rows -> 1 / masked rows
//   output error    dE/dy given by the caller           -> scale 1
// One update period uses one kind. The batch-average rate regulariser then
// adds dE/dz_j * sum_{t,b} e_ji(t) with dE/dz_j from the rates over the
// same rows.
#ifndef EPROP_CORE_LEARN_ONLINE_LEARNER_H_
#define EPROP_CORE_LEARN_ONLINE_LEARNER_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/learn/eprop_online.h"
#include "core/learn/firing_rate.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/sim/network_step.h"
#include "core/sim/sparse_rows.h"
#include "core/tasks/task_batch.h"

namespace eprop {

enum class ErrorKind { kNone, kRegression, kClassification, kOutputError };

class OnlineLearner {
 public:
  // Requires the batch-average regulariser (or c_reg = 0): the running
  // average's gradient depends on the future of the sequence.
  OnlineLearner(const NeuronConstants& constants,
                const RateRegularizerConfig& regularizer, double dt_ms,
                bool readout_bias, int batch, const Weights<float>& weights);

  // New weights after an update; state and traces carry on.
  void SetWeights(const Weights<float>& weights);
  // Zero network state and traces: a new sequence.
  void ResetState() { eprop_->ResetState(); }

  // Advances the network and traces one step; sample b's input is row
  // first_row + b of `inputs`.
  void Step(const SparseRows<float>& inputs, int64_t first_row);
  // Readout y of the last step, [batch x n_out].
  Mat<float> Output() const { return eprop_->Output(); }
  // Spikes z of the last step, [batch x n_rec].
  const Mat<float>& spikes() const { return eprop_->state().z; }

  // The last step's error, accumulated with learning signals B dE/dy. Each
  // returns that step's unnormalised loss (sum over its rows) and, when
  // `signal` is not null, stores the learning signals [batch x n_rec].
  // FAILED_PRECONDITION if another kind was used since the last update.
  absl::StatusOr<double> AddRegression(const Mat<float>& target,
                                       const Mat<float>& feedback,
                                       Mat<float>* signal);
  // labels[b] in [0, n_out) where mask[b] != 0.
  absl::StatusOr<double> AddClassification(const std::vector<int32_t>& labels,
                                           const std::vector<uint8_t>& mask,
                                           const Mat<float>& feedback,
                                           Mat<float>* signal);
  absl::Status AddOutputError(const Mat<float>& dE_dy,
                              const Mat<float>& feedback, Mat<float>* signal);
  // Counts the last step's spikes for the regulariser (call once per step
  // while learning, with or without an error).
  void CountStep();

  // The normalised gradient since the last TakeGradient() (see above);
  // clears the accumulators, not the network state.
  Weights<float> TakeGradient();
  // The kind of error accumulated since the last update (kNone: none yet).
  ErrorKind kind() const { return kind_; }

 private:
  absl::Status UseKind(ErrorKind kind);
  void Accumulate(const Mat<float>& dE_dy, const Mat<float>& feedback,
                  Mat<float>* signal);

  NeuronConstants constants_;
  RateRegularizerConfig regularizer_;
  double dt_ms_;
  bool readout_bias_;
  int batch_;
  std::unique_ptr<NetworkModel<float>> model_;
  std::unique_ptr<OnlineEprop<float>> eprop_;
  ErrorKind kind_ = ErrorKind::kNone;
  int64_t rows_ = 0;
  int64_t masked_rows_ = 0;
  VecD spike_counts_;
};

// The gradient of one whole task batch by `learner` (fresh state, batch
// size batch.batch): every step in order, with the batch's targets, one
// update period.
Weights<float> OnlineBatchGradient(const TaskBatch& batch,
                                   const Mat<float>& feedback,
                                   OnlineLearner* learner);

}  // namespace eprop

#endif  // EPROP_CORE_LEARN_ONLINE_LEARNER_H_
