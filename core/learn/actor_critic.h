// The actor-critic loss of reward-based e-prop (eprop-math.md section 7,
// paper Figs. 4-5) over one unroll of a batch of episodes, and its partial
// derivative dE/dy, which becomes learning signals L = B dE/dy exactly as a
// supervised loss does (ComputeGradient with GradientMethod::kEpropOffline).
//
// Readouts: y(t) = [policy logits (n_actions), value V], n_out = n_actions + 1;
// the value is the LAST column. pi(t) = softmax(logits(t)).
//
// Frames. The agent acts once per `steps_per_action` = K network steps (an
// environment frame lasts K steps; K = 5 in the paper's Atari setup). The
// unroll has U = D K network steps and D decisions; decision d (d = 0..D-1)
// uses the readout at the LAST network step of its frame, network step
// s(d) = (d + 1) K - 1, i.e. after the network has integrated the whole
// frame. dE/dy is zero at the other K - 1 steps of every frame (the loss
// does not read them; they still carry gradient through the readout filter
// and the network).
//
// Per decision d and sample b, with reward r(d) received after action a(d)
// and terminal(d) set when that transition ended the episode:
//   R(d) = r(d) + gamma (terminal(d) ? 0 : R(d+1)),   R(D) = V_boot
// (n-step bootstrapped returns; V_boot is the value of the state after the
// unroll, a constant, and a terminal transition never bootstraps across the
// episode boundary: the next state's value is 0).
//   A(d) = R(d) - V(d)                     advantage, treated as a constant
//   H(d) = -sum_k pi_k log pi_k            entropy of the policy
//   E = sum_{d,b} [ -log pi_a(d) A(d) + c_V / 2 (R(d) - V(d))^2 - c_H H(d) ]
// (a plain sum over decisions and samples; scale dE/dy to average). Its
// partial derivatives at network step s(d), with advantages and returns
// constant:
//   dE/dlogit_k = (pi_k - [k = a]) A + c_H pi_k (log pi_k + H)
//   dE/dV       = -c_V (R - V)
// Defaults: gamma 0.99 and c_H 0.0025 as in the paper's Atari setup;
// c_V = 0.5, the baseline cost of IMPALA-style agents (with the 1/2 in
// the value term, 0.25 (R - V)^2 per decision).
//
// Firing-rate regularisation is not part of this loss: add its dE/dz
// (RateRegularization in core/learn/firing_rate.h) as ComputeGradient's
// dE_dz_direct argument, as for the supervised tasks.
//
// Layout: rows of y and dE/dy are t * batch + b (t = network step), as in
// core/sim/simulate.h; per-decision vectors (actions, rewards, terminal,
// returns, advantages, entropy) have entries d * batch + b.
#ifndef EPROP_CORE_LEARN_ACTOR_CRITIC_H_
#define EPROP_CORE_LEARN_ACTOR_CRITIC_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"

namespace eprop {

struct ActorCriticOptions {
  double discount = 0.99;        // gamma of the returns, in [0, 1]
  double value_cost = 0.5;       // c_V >= 0
  double entropy_cost = 0.0025;  // c_H >= 0
  int steps_per_action = 1;      // K >= 1 network steps per decision

  // OK if every field is in its allowed range; otherwise names the field,
  // what is allowed and the offending value.
  absl::Status Validate() const;
};

// The network step (row block) whose readout decision d uses: (d + 1) K - 1.
inline int DecisionStep(int decision, int steps_per_action) {
  return (decision + 1) * steps_per_action - 1;
}

// The rewards of one unroll. Vectors have D * batch entries, d * batch + b.
struct ActorCriticEpisodes {
  std::vector<int32_t> actions;  // a(d), in [0, n_actions)
  std::vector<double> rewards;   // r(d), received after a(d)
  // Nonzero if the transition after a(d) ended the episode (no bootstrap
  // across it); the next decision then belongs to a new episode.
  std::vector<uint8_t> terminal;
  // [batch] V of the state after the unroll (used unless the last
  // transition was terminal); a constant.
  std::vector<double> bootstrap_value;
};

template <typename S>
struct ActorCriticResult {
  double loss = 0.0;               // E = policy_loss + value_loss - c_H entropy
  double policy_loss = 0.0;        // sum of -log pi_a A
  double value_loss = 0.0;         // sum of c_V / 2 (R - V)^2
  double entropy_sum = 0.0;        // sum of H (the loss has -c_H entropy_sum)
  Mat<S> dE_dy;                    // [U*B x n_out], zero off the decision steps
  std::vector<double> returns;     // R(d), D * batch entries
  std::vector<double> advantages;  // A(d) = R(d) - V(d)
  std::vector<double> entropy;     // H(d)
  std::vector<double> values;      // V(d), as read from y
};

// The loss and dE/dy of one unroll. y is the readout [U*B x n_out] of
// `batch` samples over U network steps (U a multiple of steps_per_action,
// n_out >= 2). Errors (InvalidArgument) on invalid options, shapes that do
// not fit, actions out of range or non-finite rewards or bootstrap values.
template <typename S>
absl::StatusOr<ActorCriticResult<S>> ActorCriticLoss(
    const Mat<S>& y, int batch, const ActorCriticEpisodes& episodes,
    const ActorCriticOptions& options);

// Draws an action from softmax(logits) (the first n_actions readouts) with
// one rng->Uniform() draw, by inverting the cumulative distribution.
int32_t SampleAction(const VecD& logits, Rng* rng);

}  // namespace eprop

#endif  // EPROP_CORE_LEARN_ACTOR_CRITIC_H_
