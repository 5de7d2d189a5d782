#include "core/learn/optimizer.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace eprop {
namespace {

absl::Status CheckFinite(const char* name, double value,
                         const char* allowed, bool ok) {
  if (!std::isfinite(value) || !ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must be finite and ", allowed, ", got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckBeta(const char* name, double value) {
  return CheckFinite(name, value, "in [0, 1)", value >= 0 && value < 1);
}

template <typename M>
double SquaredNorm(const M& x) {
  return x.template cast<double>().squaredNorm();
}

// Calls f(block_of_a, block_of_b) for w_in, w_rec, w_out and b_out.
template <typename A, typename B, typename F>
void ForEachBlock(A& a, B& b, F f) {
  f(a.w_in, b.w_in);
  f(a.w_rec, b.w_rec);
  f(a.w_out, b.w_out);
  f(a.b_out, b.b_out);
}

template <typename S>
bool SameShapes(const Weights<S>& a, const Weights<S>& b) {
  bool same = true;
  ForEachBlock(a, b, [&same](const auto& x, const auto& y) {
    same = same && x.rows() == y.rows() && x.cols() == y.cols();
  });
  return same;
}

template <typename S>
bool AllFinite(const Weights<S>& w) {
  bool finite = true;
  ForEachBlock(w, w, [&finite](const auto& x, const auto&) {
    finite = finite && x.allFinite();
  });
  return finite;
}

template <typename S>
bool AllNonNegative(const Weights<S>& w) {
  bool non_negative = true;
  ForEachBlock(w, w, [&non_negative](const auto& x, const auto&) {
    non_negative = non_negative && (x.array() >= S(0)).all();
  });
  return non_negative;
}

// The gradient actually used by a step: W_rec's diagonal zeroed, clipped if
// configured.
template <typename S>
Weights<S> EffectiveGradient(const OptimizerConfig& config,
                             const Weights<S>& grad) {
  Weights<S> g = grad;
  g.w_rec.diagonal().setZero();
  if (config.clip_global_norm > 0) {
    ClipByGlobalNorm(config.clip_global_norm, &g);
  }
  return g;
}

}  // namespace

absl::Status OptimizerConfig::Validate() const {
  if (kind != Kind::kSgd && kind != Kind::kAdam) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kind must be kSgd or kAdam, got ", static_cast<int>(kind)));
  }
  if (absl::Status s = CheckFinite("learning_rate", learning_rate, "> 0",
                                   learning_rate > 0);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckBeta("beta1", beta1); !s.ok()) return s;
  if (absl::Status s = CheckBeta("beta2", beta2); !s.ok()) return s;
  if (absl::Status s = CheckFinite("epsilon", epsilon, "> 0", epsilon > 0);
      !s.ok()) {
    return s;
  }
  return CheckFinite("clip_global_norm", clip_global_norm,
                     ">= 0 (0 disables clipping)", clip_global_norm >= 0);
}

template <typename S>
double GlobalNorm(const Weights<S>& g) {
  return std::sqrt(SquaredNorm(g.w_in) + SquaredNorm(g.w_rec) +
                   SquaredNorm(g.w_out) + SquaredNorm(g.b_out));
}

template <typename S>
void ClipByGlobalNorm(double max_norm, Weights<S>* g) {
  const double norm = GlobalNorm(*g);
  if (norm <= max_norm) return;  // scale would be exactly 1
  const S scale = std::isfinite(norm)
                      ? static_cast<S>(max_norm / norm)
                      : std::numeric_limits<S>::quiet_NaN();
  ForEachBlock(*g, *g, [scale](auto& x, auto&) { x *= scale; });
}

template <typename S>
absl::StatusOr<Optimizer<S>> Optimizer<S>::Create(
    const OptimizerConfig& config, const Weights<S>& shapes) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return Optimizer(config, shapes);
}

template <typename S>
Optimizer<S>::Optimizer(const OptimizerConfig& config,
                        const Weights<S>& shapes)
    : config_(config),
      state_{0, Weights<S>::ZerosLike(shapes), Weights<S>::ZerosLike(shapes)} {
}

template <typename S>
void Optimizer<S>::Apply(const Weights<S>& grad, Weights<S>* weights,
                         Weights<S>* applied_update) {
  const Weights<S> g = EffectiveGradient(config_, grad);
  Weights<S> old;
  if (applied_update != nullptr) old = *weights;
  ++state_.step;
  if (config_.kind == OptimizerConfig::Kind::kSgd) {
    ApplySgd(g, weights);
  } else {
    ApplyAdam(g, weights);
  }
  weights->w_rec.diagonal().setZero();
  if (applied_update == nullptr) return;
  *applied_update = {weights->w_in - old.w_in, weights->w_rec - old.w_rec,
                     weights->w_out - old.w_out, weights->b_out - old.b_out};
}

template <typename S>
void Optimizer<S>::ApplySgd(const Weights<S>& grad, Weights<S>* weights) const {
  const S lr = static_cast<S>(config_.learning_rate);
  ForEachBlock(*weights, grad, [lr](auto& w, const auto& g) { w -= lr * g; });
}

template <typename S>
void Optimizer<S>::ApplyAdam(const Weights<S>& grad, Weights<S>* weights) {
  const double t = static_cast<double>(state_.step);
  const double b1 = config_.beta1;
  const double b2 = config_.beta2;
  const S lr_t = static_cast<S>(config_.learning_rate *
                                std::sqrt(1.0 - std::pow(b2, t)) /
                                (1.0 - std::pow(b1, t)));
  const S beta1 = static_cast<S>(b1), one_minus_beta1 = static_cast<S>(1 - b1);
  const S beta2 = static_cast<S>(b2), one_minus_beta2 = static_cast<S>(1 - b2);
  const S epsilon = static_cast<S>(config_.epsilon);
  auto step = [&](const auto& g, auto& m, auto& v, auto& w) {
    m = beta1 * m + one_minus_beta1 * g;
    v = beta2 * v + one_minus_beta2 * g.cwiseAbs2();
    w.array() -= lr_t * m.array() / (v.array().sqrt() + epsilon);
  };
  step(grad.w_in, state_.m.w_in, state_.v.w_in, weights->w_in);
  step(grad.w_rec, state_.m.w_rec, state_.v.w_rec, weights->w_rec);
  step(grad.w_out, state_.m.w_out, state_.v.w_out, weights->w_out);
  step(grad.b_out, state_.m.b_out, state_.v.b_out, weights->b_out);
}

template <typename S>
absl::Status Optimizer<S>::CheckState(const OptimizerState<S>& state) const {
  if (state.step < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer step must be >= 0, got ", state.step));
  }
  if (!SameShapes(state.m, state_.m) || !SameShapes(state.v, state_.v)) {
    return absl::InvalidArgumentError(
        "optimizer moments must have the shapes of the weights");
  }
  if (!AllFinite(state.m) || !AllFinite(state.v) || !AllNonNegative(state.v)) {
    return absl::InvalidArgumentError(
        "optimizer moments must be finite and the second moment >= 0");
  }
  return absl::OkStatus();
}

template double GlobalNorm(const Weights<float>&);
template double GlobalNorm(const Weights<double>&);
template void ClipByGlobalNorm(double, Weights<float>*);
template void ClipByGlobalNorm(double, Weights<double>*);
template struct OptimizerState<float>;
template struct OptimizerState<double>;
template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace eprop
