#include "core/learn/actor_critic.h"

#include <cmath>
#include <cstddef>

#include "absl/strings/str_cat.h"

namespace eprop {

absl::Status ActorCriticOptions::Validate() const {
  if (!(discount >= 0.0 && discount <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("discount must be in [0, 1], got ", discount));
  }
  if (!(value_cost >= 0.0 && std::isfinite(value_cost))) {
    return absl::InvalidArgumentError(
        absl::StrCat("value_cost must be finite and >= 0, got ", value_cost));
  }
  if (!(entropy_cost >= 0.0 && std::isfinite(entropy_cost))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entropy_cost must be finite and >= 0, got ", entropy_cost));
  }
  if (steps_per_action < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("steps_per_action must be >= 1, got ", steps_per_action));
  }
  return absl::OkStatus();
}

namespace {

absl::Status CheckInputs(int64_t rows, int64_t n_out, int batch,
                         const ActorCriticEpisodes& episodes,
                         const ActorCriticOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch must be >= 1, got ", batch));
  }
  if (n_out < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("y needs n_actions >= 1 logits and a value column, has ",
                     n_out, " columns"));
  }
  const int64_t frame_rows =
      static_cast<int64_t>(options.steps_per_action) * batch;
  if (rows == 0 || rows % frame_rows != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "y has ", rows, " rows, not a positive multiple of steps_per_action (",
        options.steps_per_action, ") * batch (", batch, ")"));
  }
  const size_t entries = static_cast<size_t>(rows / options.steps_per_action);
  if (episodes.actions.size() != entries ||
      episodes.rewards.size() != entries ||
      episodes.terminal.size() != entries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "actions, rewards and terminal need decisions * batch = ", entries,
        " entries, have ", episodes.actions.size(), ", ",
        episodes.rewards.size(), ", ", episodes.terminal.size()));
  }
  if (episodes.bootstrap_value.size() != static_cast<size_t>(batch)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap_value needs batch = ", batch, " entries, has ",
                     episodes.bootstrap_value.size()));
  }
  for (size_t i = 0; i < entries; ++i) {
    if (episodes.actions[i] < 0 || episodes.actions[i] >= n_out - 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("action ", i, " is ", episodes.actions[i],
                       ", not in [0, ", n_out - 1, ")"));
    }
    if (!std::isfinite(episodes.rewards[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("reward ", i, " is not finite"));
    }
  }
  for (int b = 0; b < batch; ++b) {
    if (!std::isfinite(episodes.bootstrap_value[b])) {
      return absl::InvalidArgumentError(
          absl::StrCat("bootstrap_value ", b, " is not finite"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

template <typename S>
absl::StatusOr<ActorCriticResult<S>> ActorCriticLoss(
    const Mat<S>& y, int batch, const ActorCriticEpisodes& episodes,
    const ActorCriticOptions& options) {
  const int64_t n_out = y.cols();
  if (absl::Status s = CheckInputs(y.rows(), n_out, batch, episodes, options);
      !s.ok()) {
    return s;
  }
  const int n_actions = static_cast<int>(n_out) - 1;
  const int k_steps = options.steps_per_action;
  const int decisions = static_cast<int>(y.rows() / (int64_t{k_steps} * batch));
  const size_t entries = static_cast<size_t>(decisions) * batch;

  ActorCriticResult<S> out;
  out.dE_dy = Mat<S>::Zero(y.rows(), n_out);
  out.returns.assign(entries, 0.0);
  out.advantages.assign(entries, 0.0);
  out.entropy.assign(entries, 0.0);
  out.values.assign(entries, 0.0);

  // R(d) = r(d) + gamma (terminal(d) ? 0 : R(d+1)), R(D) = V_boot.
  for (int b = 0; b < batch; ++b) {
    double next_return = episodes.bootstrap_value[b];
    for (int d = decisions - 1; d >= 0; --d) {
      const size_t i = static_cast<size_t>(d) * batch + b;
      const double bootstrap =
          episodes.terminal[i] != 0 ? 0.0 : options.discount * next_return;
      out.returns[i] = episodes.rewards[i] + bootstrap;
      next_return = out.returns[i];
    }
  }

  VecD log_pi(n_actions);
  VecD pi(n_actions);
  for (int d = 0; d < decisions; ++d) {
    const int64_t step = DecisionStep(d, k_steps);
    for (int b = 0; b < batch; ++b) {
      const size_t i = static_cast<size_t>(d) * batch + b;
      const int64_t row = step * batch + b;
      // log pi = logits - logsumexp(logits), in double, shifted by the max.
      const VecD logits =
          y.row(row).head(n_actions).template cast<double>().transpose();
      const double max_logit = logits.maxCoeff();
      const double log_sum = std::log((logits.array() - max_logit).exp().sum());
      log_pi = logits.array() - max_logit - log_sum;
      pi = log_pi.array().exp();
      // H = -sum_k pi_k log pi_k
      const double entropy = -(pi.array() * log_pi.array()).sum();
      const double value = static_cast<double>(y(row, n_actions));
      const double ret = out.returns[i];
      const double advantage = ret - value;  // a constant from here on
      const int32_t action = episodes.actions[i];

      out.values[i] = value;
      out.advantages[i] = advantage;
      out.entropy[i] = entropy;
      out.policy_loss += -log_pi[action] * advantage;
      out.value_loss +=
          0.5 * options.value_cost * (ret - value) * (ret - value);
      out.entropy_sum += entropy;

      // dE/dlogit_k = (pi_k - [k = a]) A + c_H pi_k (log pi_k + H)
      for (int k = 0; k < n_actions; ++k) {
        const double onehot = k == action ? 1.0 : 0.0;
        const double g = (pi[k] - onehot) * advantage +
                         options.entropy_cost * pi[k] * (log_pi[k] + entropy);
        out.dE_dy(row, k) = static_cast<S>(g);
      }
      // dE/dV = -c_V (R - V)
      out.dE_dy(row, n_actions) =
          static_cast<S>(-options.value_cost * (ret - value));
    }
  }
  out.loss =
      out.policy_loss + out.value_loss - options.entropy_cost * out.entropy_sum;
  return out;
}

int32_t SampleAction(const VecD& logits, Rng* rng) {
  const double max_logit = logits.maxCoeff();
  const VecD weights = (logits.array() - max_logit).exp();
  const double u = rng->Uniform() * weights.sum();
  double cumulative = 0.0;
  for (int k = 0; k < logits.size(); ++k) {
    cumulative += weights[k];
    if (u < cumulative) return k;
  }
  // Rounding can leave u at the very top: the last action with mass.
  for (int k = static_cast<int>(logits.size()) - 1; k > 0; --k) {
    if (weights[k] > 0.0) return k;
  }
  return 0;
}

template absl::StatusOr<ActorCriticResult<float>> ActorCriticLoss(
    const Mat<float>&, int, const ActorCriticEpisodes&,
    const ActorCriticOptions&);
template absl::StatusOr<ActorCriticResult<double>> ActorCriticLoss(
    const Mat<double>&, int, const ActorCriticEpisodes&,
    const ActorCriticOptions&);

}  // namespace eprop
