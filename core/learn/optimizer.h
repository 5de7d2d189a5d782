// Gradient-descent optimizers (plain SGD and Adam with the conventions of
// TensorFlow 1's tf.train.AdamOptimizer) and global-norm gradient clipping
// (tf.clip_by_global_norm), acting on all trainable weights at once.
#ifndef EPROP_CORE_LEARN_OPTIMIZER_H_
#define EPROP_CORE_LEARN_OPTIMIZER_H_

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/weights.h"

namespace eprop {

struct OptimizerConfig {
  enum class Kind { kSgd, kAdam };
  Kind kind = Kind::kAdam;
  double learning_rate = 5e-3;
  // Adam only (validated for both kinds).
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  // Clip the gradient to this global norm before each step; 0 = no clipping.
  double clip_global_norm = 0;

  // OK if every field is finite, learning_rate > 0, beta1 and beta2 are in
  // [0, 1), epsilon > 0 and clip_global_norm >= 0; otherwise the error names
  // the field, what is allowed and the offending value.
  absl::Status Validate() const;
};

// sqrt of the sum of squares of every entry of w_in, w_rec, w_out and b_out,
// accumulated in double.
template <typename S>
double GlobalNorm(const Weights<S>& g);

// tf.clip_by_global_norm: scales every entry by
// max_norm / max(GlobalNorm(g), max_norm), so g is unchanged (bit for bit)
// when its norm is at most max_norm. If the global norm is not finite every
// entry becomes NaN, as in TensorFlow. Requires max_norm > 0 and finite.
template <typename S>
void ClipByGlobalNorm(double max_norm, Weights<S>* g);

// Everything an optimizer carries from one step to the next, exposed so a
// checkpoint can save and restore it bit for bit. m and v have the shapes of
// the weights; for SGD they stay zero.
template <typename S>
struct OptimizerState {
  int64_t step = 0;  // number of Apply() calls so far
  Weights<S> m;      // Adam first-moment estimate
  Weights<S> v;      // Adam second-moment estimate
};

template <typename S>
class Optimizer {
 public:
  // Returns an error if config.Validate() fails.
  static absl::StatusOr<Optimizer> Create(const OptimizerConfig& config,
                                          const Weights<S>& shapes);

  // Requires config.Validate().ok(). `shapes` gives the shapes of the
  // weights this optimizer will update (its values are not used). The state
  // starts at step 0 with zero moments.
  Optimizer(const OptimizerConfig& config, const Weights<S>& shapes);

  // One optimisation step. grad and *weights must have the shapes given at
  // construction. The gradient on W_rec's diagonal is ignored and the
  // diagonal of weights->w_rec is set to exactly zero. With clipping
  // configured, a copy of grad is clipped (grad itself is never modified).
  //   SGD:  w -= lr g
  //   Adam: t += 1; lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t);
  //         m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
  //         w -= lr_t m / (sqrt(v) + epsilon)
  // The step count t is incremented for SGD too. Scalar factors are computed
  // in double, then rounded to S. If applied_update is not null it receives
  // (new weights) - (old weights), computed after the step.
  void Apply(const Weights<S>& grad, Weights<S>* weights,
             Weights<S>* applied_update = nullptr);

  // Changes the learning rate used by subsequent steps (for schedules).
  // Requires a finite value > 0.
  void SetLearningRate(double learning_rate) {
    config_.learning_rate = learning_rate;
  }
  double learning_rate() const { return config_.learning_rate; }
  const OptimizerConfig& config() const { return config_; }

  int64_t step() const { return state_.step; }
  const Weights<S>& first_moment() const { return state_.m; }
  const Weights<S>& second_moment() const { return state_.v; }

  const OptimizerState<S>& state() const { return state_; }
  // Requires CheckState(state).ok(); afterwards the optimizer continues
  // exactly as the one whose state() was saved.
  void set_state(OptimizerState<S> state) { state_ = std::move(state); }
  // OK if state can be passed to set_state: step >= 0, m and v have this
  // optimizer's shapes, m is finite and v is finite and >= 0.
  absl::Status CheckState(const OptimizerState<S>& state) const;

 private:
  void ApplySgd(const Weights<S>& grad, Weights<S>* weights) const;
  void ApplyAdam(const Weights<S>& grad, Weights<S>* weights);

  OptimizerConfig config_;
  OptimizerState<S> state_;
};

}  // namespace eprop

#endif  // EPROP_CORE_LEARN_OPTIMIZER_H_
