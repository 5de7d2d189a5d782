// The feedback matrix B that turns readout errors into learning signals,
// L_j(t) = sum_k B_jk dE/dy_k(t) (eprop-math.md section 4), for symmetric,
// random and adaptive (Kolen-Pollack) e-prop.
#ifndef EPROP_CORE_LEARN_FEEDBACK_H_
#define EPROP_CORE_LEARN_FEEDBACK_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/util/eigen_types.h"

namespace eprop {

enum class FeedbackMode {
  kSymmetric,  // B = W_out^T, read at the current step
  kRandom,     // B fixed, drawn once
  kAdaptive,   // Kolen-Pollack: B^T gets W_out's updates, both decay
};

struct FeedbackConfig {
  FeedbackMode mode = FeedbackMode::kRandom;
  // Standard deviation of the entries of the initial random B (random and
  // adaptive). Reference: 1 for classification, 1/sqrt(n_rec) for
  // regression.
  double random_stddev = 1;
  // lambda of Kolen-Pollack (adaptive only): B and W_out are multiplied by
  // (1 - lambda) after every update.
  double adaptive_decay = 0;

  // OK if mode is a known value, random_stddev is finite and > 0 and
  // adaptive_decay is finite and in [0, 1); otherwise the error names the
  // field, what is allowed and the offending value.
  absl::Status Validate() const;
};

template <typename S>
class Feedback {
 public:
  // Returns an error if config or network fails Validate().
  static absl::StatusOr<Feedback> Create(const FeedbackConfig& config,
                                         const NetworkConfig& network,
                                         uint64_t seed);

  // Requires config.Validate().ok() and network.Validate().ok(). Random and
  // adaptive modes draw B [n_rec x n_out] as
  // InitRandomFeedback(network, config.random_stddev, seed), cast to S;
  // symmetric mode stores no matrix.
  Feedback(const FeedbackConfig& config, const NetworkConfig& network,
           uint64_t seed);

  // B [n_rec x n_out]: w.w_out^T in symmetric mode, else the stored matrix
  // (w is then not read).
  Mat<S> Matrix(const Weights<S>& w) const;

  // Call after every optimizer step with the change the step made to W_out
  // ([n_out x n_rec], Optimizer::Apply's applied_update.w_out). Adaptive:
  // B += applied_w_out_update^T, then B and w->w_out are both multiplied by
  // (1 - adaptive_decay). Symmetric and random: does nothing.
  void AfterUpdate(const Mat<S>& applied_w_out_update, Weights<S>* w);

  const FeedbackConfig& config() const { return config_; }

  // The stored B (for checkpoints); empty in symmetric mode.
  const Mat<S>& stored_matrix() const { return b_; }
  // Replaces the stored B (restoring a checkpoint). Errors, leaving B
  // unchanged, in symmetric mode or unless b is finite and [n_rec x n_out].
  absl::Status SetStoredMatrix(Mat<S> b);

 private:
  FeedbackConfig config_;
  Mat<S> b_;  // [n_rec x n_out]; empty (0 x 0) in symmetric mode
};

}  // namespace eprop

#endif  // EPROP_CORE_LEARN_FEEDBACK_H_
