#include "core/learn/online_learner.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace eprop {

OnlineLearner::OnlineLearner(const NeuronConstants& constants,
                             const RateRegularizerConfig& regularizer,
                             double dt_ms, bool readout_bias, int batch,
                             const Weights<float>& weights)
    : constants_(constants),
      regularizer_(regularizer),
      dt_ms_(dt_ms),
      readout_bias_(readout_bias),
      batch_(batch),
      model_(std::make_unique<NetworkModel<float>>(
          NetworkModel<float>::Prepare(constants, weights))),
      eprop_(std::make_unique<OnlineEprop<float>>(model_.get(), batch)),
      spike_counts_(VecD::Zero(constants.alpha.size())) {}

void OnlineLearner::SetWeights(const Weights<float>& weights) {
  auto model = std::make_unique<NetworkModel<float>>(
      NetworkModel<float>::Prepare(constants_, weights));
  eprop_->set_model(model.get());
  model_ = std::move(model);
}

void OnlineLearner::Step(const SparseRows<float>& inputs, int64_t first_row) {
  eprop_->Step(inputs, first_row);
}

absl::Status OnlineLearner::UseKind(ErrorKind kind) {
  if (kind_ != ErrorKind::kNone && kind_ != kind) {
    return absl::FailedPreconditionError(
        "one update period takes one kind of target (regression, "
        "classification or output error); apply an update before switching");
  }
  kind_ = kind;
  return absl::OkStatus();
}

void OnlineLearner::Accumulate(const Mat<float>& dE_dy,
                               const Mat<float>& feedback, Mat<float>* signal) {
  eprop_->Accumulate(dE_dy, Mat<float>(), feedback);
  if (signal != nullptr) *signal = dE_dy * feedback.transpose();
}

void OnlineLearner::CountStep() {
  rows_ += batch_;
  if (regularizer_.c_reg == 0.0) return;
  spike_counts_ += eprop_->state().z.cast<double>().colwise().sum().transpose();
  eprop_->AccumulateTraceSum();
}

absl::StatusOr<double> OnlineLearner::AddRegression(const Mat<float>& target,
                                                    const Mat<float>& feedback,
                                                    Mat<float>* signal) {
  if (absl::Status s = UseKind(ErrorKind::kRegression); !s.ok()) return s;
  const Mat<float> error = Output() - target;
  Accumulate(error, feedback, signal);
  return 0.5 * error.cast<double>().squaredNorm();
}

absl::StatusOr<double> OnlineLearner::AddClassification(
    const std::vector<int32_t>& labels, const std::vector<uint8_t>& mask,
    const Mat<float>& feedback, Mat<float>* signal) {
  if (absl::Status s = UseKind(ErrorKind::kClassification); !s.ok()) return s;
  const Mat<float> y = Output();
  Mat<float> error = Mat<float>::Zero(y.rows(), y.cols());
  double loss = 0.0;
  Eigen::VectorXd pi(y.cols());
  for (int b = 0; b < batch_; ++b) {
    if (mask[b] == 0) continue;
    ++masked_rows_;
    // Softmax in double, shifted by the maximum, as SoftmaxCrossEntropy.
    const Eigen::VectorXd logits = y.row(b).cast<double>().transpose();
    const double max_logit = logits.maxCoeff();
    pi = (logits.array() - max_logit).exp();
    const double sum = pi.sum();
    pi /= sum;
    loss += -(logits[labels[b]] - max_logit - std::log(sum));
    pi[labels[b]] -= 1.0;
    error.row(b) = pi.cast<float>().transpose();
  }
  Accumulate(error, feedback, signal);
  return loss;
}

absl::Status OnlineLearner::AddOutputError(const Mat<float>& dE_dy,
                                           const Mat<float>& feedback,
                                           Mat<float>* signal) {
  if (absl::Status s = UseKind(ErrorKind::kOutputError); !s.ok()) return s;
  Accumulate(dE_dy, feedback, signal);
  return absl::OkStatus();
}

Weights<float> OnlineLearner::TakeGradient() {
  Weights<float> grad = eprop_->Gradient();
  float scale = 1.0f;
  if (kind_ == ErrorKind::kRegression) {
    scale = 1.0f / static_cast<float>(batch_);
  } else if (kind_ == ErrorKind::kClassification) {
    scale = masked_rows_ > 0 ? static_cast<float>(1.0 / masked_rows_) : 0.0f;
  }
  if (scale != 1.0f) {
    grad.w_in *= scale;
    grad.w_rec *= scale;
    grad.w_out *= scale;
    grad.b_out *= scale;
  }
  if (regularizer_.c_reg != 0.0 && rows_ > 0) {
    const SpikeLossGradient<float> reg = BatchRateRegularization<float>(
        regularizer_, spike_counts_, static_cast<double>(rows_), dt_ms_);
    const int n_in = static_cast<int>(grad.w_in.cols());
    const Mat<float>& traces = eprop_->trace_sum();
    for (int j = 0; j < grad.w_rec.rows(); ++j) {
      grad.w_in.row(j) += reg.per_neuron[j] * traces.row(j).head(n_in);
      grad.w_rec.row(j) +=
          reg.per_neuron[j] * traces.row(j).tail(grad.w_rec.cols());
    }
    grad.w_rec.diagonal().setZero();
  }
  if (!readout_bias_) grad.b_out.setZero();
  eprop_->ResetGradient();
  kind_ = ErrorKind::kNone;
  rows_ = 0;
  masked_rows_ = 0;
  spike_counts_.setZero();
  return grad;
}

Weights<float> OnlineBatchGradient(const TaskBatch& batch,
                                   const Mat<float>& feedback,
                                   OnlineLearner* learner) {
  std::vector<int32_t> labels(batch.batch);
  std::vector<uint8_t> mask(batch.batch);
  for (int t = 0; t < batch.steps; ++t) {
    const int64_t row = int64_t{t} * batch.batch;
    learner->Step(batch.inputs, row);
    learner->CountStep();
    if (batch.classification) {
      std::copy_n(batch.labels.begin() + row, batch.batch, labels.begin());
      std::copy_n(batch.mask.begin() + row, batch.batch, mask.begin());
      learner->AddClassification(labels, mask, feedback, nullptr).IgnoreError();
    } else {
      learner
          ->AddRegression(batch.target.middleRows(row, batch.batch), feedback,
                          nullptr)
          .IgnoreError();
    }
  }
  return learner->TakeGradient();
}

}  // namespace eprop
