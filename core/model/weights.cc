#include "core/model/weights.h"

#include <algorithm>
#include <cmath>

#include "core/util/random.h"

namespace eprop {
namespace {

MatD NormalMatrix(Rng& rng, int rows, int cols, double stddev) {
  MatD m(rows, cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) m(r, c) = stddev * rng.Normal();
  }
  return m;
}

}  // namespace

template <typename S>
void Weights<S>::SetZero() {
  w_in.setZero();
  w_rec.setZero();
  w_out.setZero();
  b_out.setZero();
}

template <typename S>
void Weights<S>::Add(const Weights& other) {
  w_in += other.w_in;
  w_rec += other.w_rec;
  w_out += other.w_out;
  b_out += other.b_out;
}

template <typename S>
Weights<S> Weights<S>::ZerosLike(const Weights& like) {
  Weights w{Mat<S>::Zero(like.w_in.rows(), like.w_in.cols()),
            Mat<S>::Zero(like.w_rec.rows(), like.w_rec.cols()),
            Mat<S>::Zero(like.w_out.rows(), like.w_out.cols()),
            Vec<S>::Zero(like.b_out.size())};
  return w;
}

template struct Weights<float>;
template struct Weights<double>;

Weights<double> InitWeights(const NetworkConfig& config, uint64_t seed) {
  Rng rng(seed);
  const int n_rec = config.n_rec();
  Weights<double> w;
  w.w_in = NormalMatrix(rng, n_rec, config.n_in, 1.0 / std::sqrt(config.n_in));
  w.w_rec = NormalMatrix(rng, n_rec, n_rec, 1.0 / std::sqrt(n_rec));
  w.w_rec.diagonal().setZero();
  w.w_out = NormalMatrix(rng, config.n_out, n_rec, 1.0 / std::sqrt(n_rec));
  w.b_out = VecD::Zero(config.n_out);
  return w;
}

MatD InitRandomFeedback(const NetworkConfig& config, double stddev,
                        uint64_t seed) {
  Rng rng(seed);
  return NormalMatrix(rng, config.n_rec(), config.n_out, stddev);
}

double MaxRelativeDifference(const MatD& a, const MatD& b) {
  const double scale = b.size() == 0 ? 0.0 : b.cwiseAbs().maxCoeff();
  const double diff = a.size() == 0 ? 0.0 : (a - b).cwiseAbs().maxCoeff();
  if (scale == 0.0) return diff;
  return diff / scale;
}

double MaxRelativeDifference(const Weights<double>& a,
                             const Weights<double>& b) {
  return std::max({MaxRelativeDifference(a.w_in, b.w_in),
                   MaxRelativeDifference(a.w_rec, b.w_rec),
                   MaxRelativeDifference(a.w_out, b.w_out),
                   MaxRelativeDifference(MatD(a.b_out.transpose()),
                                         MatD(b.b_out.transpose()))});
}

}  // namespace eprop
