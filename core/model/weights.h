// Trainable parameters of the network and their seeded initialisation.
#ifndef EPROP_CORE_MODEL_WEIGHTS_H_
#define EPROP_CORE_MODEL_WEIGHTS_H_

#include <cstdint>

#include "core/model/network_config.h"
#include "core/util/eigen_types.h"

namespace eprop {

// Also used as the container of gradients (same shapes).
template <typename S>
struct Weights {
  Mat<S> w_in;   // [n_rec x n_in]
  Mat<S> w_rec;  // [n_rec x n_rec], zero diagonal (no autapses)
  Mat<S> w_out;  // [n_out x n_rec]
  Vec<S> b_out;  // [n_out]; stays zero when the config has no readout bias

  template <typename T>
  Weights<T> Cast() const {
    return {w_in.template cast<T>(), w_rec.template cast<T>(),
            w_out.template cast<T>(), b_out.template cast<T>()};
  }
  void SetZero();
  // Adds other entry by entry (same shapes), e.g. to sum gradients.
  void Add(const Weights& other);
  // Weights of zeros with the shapes of `like`.
  static Weights ZerosLike(const Weights& like);
};

// Draws weights as the reference does: W_in ~ N(0, 1/n_in),
// W_rec ~ N(0, 1/n_rec) with a zero diagonal, W_out ~ N(0, 1/n_rec), b = 0.
// Entries are drawn row by row, in the order w_in, w_rec, w_out, from
// Rng(seed); see core/util/random.h for the bit-exact definition.
Weights<double> InitWeights(const NetworkConfig& config, uint64_t seed);

// A fixed random feedback matrix B [n_rec x n_out] with entries
// N(0, stddev^2) (the reference uses 1 for classification and
// 1/sqrt(n_rec) for regression).
MatD InitRandomFeedback(const NetworkConfig& config, double stddev,
                        uint64_t seed);

// The maximum over entries of |a - b| divided by the maximum of |b| (0 when
// both are zero): the measure every exactness check uses.
double MaxRelativeDifference(const MatD& a, const MatD& b);
double MaxRelativeDifference(const Weights<double>& a,
                             const Weights<double>& b);

}  // namespace eprop

#endif  // EPROP_CORE_MODEL_WEIGHTS_H_
