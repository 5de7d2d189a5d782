#include "core/learn/feedback.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace eprop {

absl::Status FeedbackConfig::Validate() const {
  if (mode != FeedbackMode::kSymmetric && mode != FeedbackMode::kRandom &&
      mode != FeedbackMode::kAdaptive) {
    return absl::InvalidArgumentError(
        absl::StrCat("mode must be kSymmetric, kRandom or kAdaptive, got ",
                     static_cast<int>(mode)));
  }
  if (!std::isfinite(random_stddev) || random_stddev <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "random_stddev must be finite and > 0, got ", random_stddev));
  }
  if (!std::isfinite(adaptive_decay) || adaptive_decay < 0 ||
      adaptive_decay >= 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "adaptive_decay must be finite and in [0, 1), got ", adaptive_decay));
  }
  return absl::OkStatus();
}

template <typename S>
absl::StatusOr<Feedback<S>> Feedback<S>::Create(const FeedbackConfig& config,
                                                const NetworkConfig& network,
                                                uint64_t seed) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  if (absl::Status s = network.Validate(); !s.ok()) return s;
  return Feedback(config, network, seed);
}

template <typename S>
Feedback<S>::Feedback(const FeedbackConfig& config,
                      const NetworkConfig& network, uint64_t seed)
    : config_(config) {
  if (config.mode == FeedbackMode::kSymmetric) return;
  b_ = InitRandomFeedback(network, config.random_stddev, seed)
           .template cast<S>();
}

template <typename S>
Mat<S> Feedback<S>::Matrix(const Weights<S>& w) const {
  if (config_.mode == FeedbackMode::kSymmetric) return w.w_out.transpose();
  return b_;
}

template <typename S>
void Feedback<S>::AfterUpdate(const Mat<S>& applied_w_out_update,
                              Weights<S>* w) {
  if (config_.mode != FeedbackMode::kAdaptive) return;
  b_ += applied_w_out_update.transpose();
  if (config_.adaptive_decay == 0) return;
  const S keep = static_cast<S>(1.0 - config_.adaptive_decay);
  b_ *= keep;
  w->w_out *= keep;
}

template <typename S>
absl::Status Feedback<S>::SetStoredMatrix(Mat<S> b) {
  if (config_.mode == FeedbackMode::kSymmetric) {
    return absl::FailedPreconditionError(
        "symmetric feedback stores no matrix (B is W_out^T)");
  }
  if (b.rows() != b_.rows() || b.cols() != b_.cols()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "feedback matrix must be ", b_.rows(), " x ", b_.cols(), ", got ",
        b.rows(), " x ", b.cols()));
  }
  if (!b.allFinite()) {
    return absl::InvalidArgumentError("feedback matrix must be finite");
  }
  b_ = std::move(b);
  return absl::OkStatus();
}

template class Feedback<float>;
template class Feedback<double>;

}  // namespace eprop
