// Task losses on the readout y and their partial derivatives dE/dy
// (eprop-math.md section 2). Rows are t * batch + b.
#ifndef EPROP_CORE_LEARN_LOSS_H_
#define EPROP_CORE_LEARN_LOSS_H_

#include <cstdint>
#include <vector>

#include "core/util/eigen_types.h"

namespace eprop {

template <typename S>
struct LossGradient {
  double loss = 0.0;
  Mat<S> dE_dy;  // same shape as y
};

// E = 1/2 sum_{t,k} (y_k(t) - y*_k(t))^2, averaged over the batch.
template <typename S>
LossGradient<S> MeanSquaredError(const Mat<S>& y, const Mat<S>& target,
                                 int batch);

// E = mean over rows with mask != 0 of cross-entropy(softmax(y), label);
// dE/dy = (pi - onehot(label)) / (number of masked rows) on masked rows,
// 0 elsewhere. Labels of unmasked rows are ignored. Requires labels and mask
// to have y.rows() entries and masked labels in [0, y.cols()).
template <typename S>
LossGradient<S> SoftmaxCrossEntropy(const Mat<S>& y,
                                    const std::vector<int32_t>& labels,
                                    const std::vector<uint8_t>& mask);

}  // namespace eprop

#endif  // EPROP_CORE_LEARN_LOSS_H_
