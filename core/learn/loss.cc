#include "core/learn/loss.h"

#include <algorithm>
#include <cmath>

namespace eprop {

template <typename S>
LossGradient<S> MeanSquaredError(const Mat<S>& y, const Mat<S>& target,
                                 int batch) {
  LossGradient<S> out;
  out.dE_dy = (y - target) / static_cast<S>(batch);
  out.loss = 0.5 * (y - target).template cast<double>().squaredNorm() / batch;
  return out;
}

template <typename S>
LossGradient<S> SoftmaxCrossEntropy(const Mat<S>& y,
                                    const std::vector<int32_t>& labels,
                                    const std::vector<uint8_t>& mask) {
  LossGradient<S> out;
  out.dE_dy = Mat<S>::Zero(y.rows(), y.cols());
  const int64_t masked = std::count_if(mask.begin(), mask.end(),
                                       [](uint8_t m) { return m != 0; });
  if (masked == 0) return out;
  const double scale = 1.0 / static_cast<double>(masked);
  double total = 0.0;
  Eigen::VectorXd pi(y.cols());
  for (Eigen::Index r = 0; r < y.rows(); ++r) {
    if (mask[r] == 0) continue;
    // Softmax in double, shifted by the maximum for stability.
    const Eigen::VectorXd logits = y.row(r).template cast<double>().transpose();
    const double max_logit = logits.maxCoeff();
    pi = (logits.array() - max_logit).exp();
    const double sum = pi.sum();
    pi /= sum;
    total += -(logits[labels[r]] - max_logit - std::log(sum));
    pi[labels[r]] -= 1.0;
    out.dE_dy.row(r) = (pi * scale).template cast<S>().transpose();
  }
  out.loss = total * scale;
  return out;
}

template LossGradient<float> MeanSquaredError(const Mat<float>&,
                                              const Mat<float>&, int);
template LossGradient<double> MeanSquaredError(const Mat<double>&,
                                               const Mat<double>&, int);
template LossGradient<float> SoftmaxCrossEntropy(
    const Mat<float>&, const std::vector<int32_t>&,
    const std::vector<uint8_t>&);
template LossGradient<double> SoftmaxCrossEntropy(
    const Mat<double>&, const std::vector<int32_t>&,
    const std::vector<uint8_t>&);

}  // namespace eprop
