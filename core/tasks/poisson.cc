#include "core/tasks/poisson.h"

#include <cmath>

namespace eprop {

void SpikeCollector::AddPoisson(Rng& rng, int b, int input, int t_begin,
                                int t_end, double p) {
  if (p <= 0.0 || t_begin >= t_end) return;
  if (p >= 1.0) {
    for (int t = t_begin; t < t_end; ++t) {
      rows_.push_back(static_cast<int64_t>(t) * batch_ + b);
      cols_.push_back(input);
    }
    return;
  }
  // P(gap = k) = (1 - p)^k p: the number of silent steps before a spike.
  const double log_q = std::log1p(-p);
  double t = t_begin;
  while (true) {
    t += std::floor(std::log(1.0 - rng.Uniform()) / log_q);
    if (t >= t_end) return;
    rows_.push_back(static_cast<int64_t>(t) * batch_ + b);
    cols_.push_back(input);
    t += 1;
  }
}

SparseRows<float> SpikeCollector::Build() const {
  // Counting sort by row; within a row, inputs in the order added.
  const int64_t rows = static_cast<int64_t>(steps_) * batch_;
  SparseRows<float> out;
  out.offsets.assign(rows + 1, 0);
  for (int64_t r : rows_) ++out.offsets[r + 1];
  for (int64_t r = 0; r < rows; ++r) out.offsets[r + 1] += out.offsets[r];
  out.cols.resize(cols_.size());
  std::vector<int64_t> next(out.offsets.begin(), out.offsets.end() - 1);
  for (size_t k = 0; k < rows_.size(); ++k) out.cols[next[rows_[k]]++] = cols_[k];
  return out;
}

}  // namespace eprop
