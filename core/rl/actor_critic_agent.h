// A reward-based e-prop agent (eprop-math.md section 7, paper Figs. 4-5):
// one LSNN acting in a batch of `num_envs` environments that step in
// lockstep, trained with the actor-critic loss of core/learn/actor_critic.h
// and the offline e-prop gradient (ComputeGradient, kEpropOffline) over
// unrolls of U = unroll_decisions decisions, with the network state carried
// from one unroll to the next.
//
// Readouts: y = [policy logits (n_actions), value V], n_out = n_actions + 1.
//
// Input encoding. Each environment supplies n_in float features per decision
// (MinAtar: 400 binary values). They are fed to the network for K =
// steps_per_action network steps, as the input row x(t) of every one of the K
// steps (kEveryStep; binary features are input spikes, other values act as
// input currents c_in W_in x) or only of the first of the K steps
// (kFirstStep). Zero features are no input events. The decision reads the
// readout at the last of the K steps (DecisionStep).
//
// Protocol, per decision: Act(observations) -> actions, then
// Reward(rewards, terminated). Act simulates K steps from the carried state
// and samples one action per environment from softmax(logits). Reward
// records the outcome; an environment whose transition terminated its
// episode gets its network state (v, a, refractory, z, zf) reset to zero, so
// its next episode starts from fresh networks exactly as the first one did.
//
// Updates and bootstrap. After U decisions the unroll is complete. The next
// Act first simulates its K steps from the carried state with the unroll's
// weights and reads V_boot (the value of the state after the unroll, a
// constant) from them; then it computes and applies the update; then it
// simulates the same K steps again with the new weights to choose the
// actions. So every decision of an unroll is taken with the weights the
// unroll's gradient is computed for (exactly on-policy), the bootstrap value
// is that of the unroll's own weights, and the extra cost is K steps per
// unroll.
//
// The update re-simulates the unroll (SimulateFrom from the carried initial
// state, on the recorded observations) to record the pseudo-derivatives and
// spikes, evaluates ActorCriticLoss, adds the firing-rate regulariser
// (BatchRateRegularization, rates over all real steps) through dE/dz_direct,
// and computes ComputeGradient(kEpropOffline) with the feedback B of the
// configured mode. The loss is a mean over the unroll's active decisions
// (see below): dE/dy is divided by their number, U * num_envs when every
// slot is active.
//
// Episode boundaries inside an unroll are handled exactly. An environment
// whose episode ended inside the unroll contributes one simulated sample per
// episode segment: the first segment starts from the carried state, later
// ones from the zero state. Every sample spans the whole unroll: a segment
// that starts later is preceded by zero input from the zero state, which
// keeps the network exactly at rest (no spikes, psi = 0), and after a
// segment's terminal decision the sample's pseudo-derivatives are set to 0
// and its dE/dy is 0, so nothing flows back across the boundary. The
// gradient is thus the sum of the gradients of the segments simulated on
// their own, and the carried state of the next episode is not credited for
// the previous one (the reset is a constant).
//
// Active mask. Act may be given one flag per slot (environment); a slot
// whose flag is 0 is inactive for that decision (a slot without a connected
// environment). An inactive decision is excluded from learning exactly, as
// if the slot did not exist at that decision:
//  - its observation is not read (the slot's network is fed zeros, and the
//    values need not be finite), its reward is not read (recorded as 0),
//    its terminated flag only resets the slot's state, and its action is 0
//    (no action is sampled: the random stream of the active slots is that
//    of an agent with only those slots, and depends on the masks given);
//  - it belongs to no episode segment, so it is not re-simulated: its
//    actor-critic terms (policy, value, entropy) and dE/dy are absent, its
//    steps are not part of the firing-rate regulariser's average (the
//    rates are over the K steps of every active decision, K * A
//    sample-steps; the regulariser's dE/dz, applied at every step of the
//    padded batch, adds nothing outside a segment: psi = 0 there, with
//    dE/dy = 0 after it and no input or spike before it), and it is not
//    counted in the loss and metrics averages;
//  - the mean loss is divided by A, the number of active decisions (slot
//    and decision pairs) in the unroll, not by U * num_envs: the effective
//    learning rate does not shrink when few slots are active. With every
//    slot active A = U * num_envs and the results are those of the
//    unmasked agent bit for bit.
// A slot whose flag differs from its flag at the previous decision starts
// a new episode: its network state is reset to zero before the decision,
// as after a terminal transition, and no return crosses the change (an
// active run that ends without a terminal flag is cut there: R = r at its
// last decision, also when the change falls on the first decision of the
// next unroll, whose bootstrap value is then not used). Callers such as the
// environment hub end every active run with a terminal transition and
// every inactive run that precedes a real environment with one (a
// precondition that this rule makes unnecessary for exactness; with it the
// reset changes nothing, the state is zero already). An unroll without any
// active decision has nothing to learn from: its update is skipped (no
// optimizer step; metrics() unchanged but for decisions and
// skipped_updates, which counts it; last_unroll() is not replaced).
#ifndef EPROP_CORE_RL_ACTOR_CRITIC_AGENT_H_
#define EPROP_CORE_RL_ACTOR_CRITIC_AGENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/learn/actor_critic.h"
#include "core/learn/feedback.h"
#include "core/learn/firing_rate.h"
#include "core/learn/optimizer.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/sim/network_step.h"
#include "core/sim/simulate.h"
#include "core/sim/sparse_rows.h"
#include "core/train/checkpoint.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"

namespace eprop {

enum class InputEncoding {
  kEveryStep,  // the features are x(t) at each of the K steps of a decision
  kFirstStep,  // the features are x(t) at the first of the K steps only
};

// Defaults: the MinAtar Breakout setup tuned on this project's 2-core
// machine (see the report in tests/bench/breakout_training_bench.cc): 400
// inputs, 96 LIF + 64 ALIF (tau_m 15, tau_a 70, beta 0.1, v_th 0.6, n_ref
// 2), tau_out 2, K = 2 steps per decision with the observation at both, U =
// 20 decisions per update, discount 0.99, c_V 0.5, c_H 0.01, symmetric
// feedback, Adam lr 1e-3, rate regulariser 0.1 toward 10 Hz. The paper's
// Atari constants (K = 5, U = 100, c_H 0.0025, 400 neurons) fit raw
// frames; MinAtar's symbolic observations need fewer steps, and shorter
// unrolls give more updates per frame.
struct AgentConfig {
  int num_envs = 32;
  int n_actions = 3;
  // The LSNN. n_out must be n_actions + 1; n_in is the number of
  // observation features.
  NetworkConfig network = DefaultNetwork();
  InputEncoding input_encoding = InputEncoding::kEveryStep;
  // Multipliers of the reference initialisation (InitWeights).
  double input_weight_scale = 1.0;
  double recurrent_weight_scale = 1.0;
  double output_weight_scale = 1.0;

  int steps_per_action = 2;   // K network steps per decision
  int unroll_decisions = 20;  // U decisions per update
  double discount = 0.99;
  double value_cost = 0.5;
  double entropy_cost = 0.01;
  double reward_scale = 1.0;  // rewards are multiplied by this

  FeedbackConfig feedback = {FeedbackMode::kSymmetric, 1.0, 0.0};
  OptimizerConfig optimizer = DefaultOptimizer();
  RateRegularizerConfig rate = {0.1, 10.0, RateAverage::kBatch};

  // Weights from InitWeights(network, seed), random B from seed + 1, the
  // action sampler from seed + 2.
  uint64_t seed = 1;
  int threads = 2;
  // Keep a copy of the last update's inputs and results (last_unroll()),
  // for tests; costs a dense copy of the observations.
  bool keep_last_unroll = false;

  static NetworkConfig DefaultNetwork();
  static OptimizerConfig DefaultOptimizer();

  // OK if every field is in its allowed range; otherwise the error names
  // the field, what is allowed and the offending value.
  absl::Status Validate() const;
};

// What one update used and produced (kept when keep_last_unroll is set).
struct UnrollRecord {
  Weights<float> weights;  // before the update
  MatF feedback;           // B [n_rec x n_out] used for the learning signals
  CarriedState<float> initial_state;  // [num_envs x n_rec]
  // [U * num_envs x n_in], row d * num_envs + b; zero for inactive
  // decisions.
  MatF observations;
  // Rewards after reward_scale. Inactive decisions have action 0, reward 0
  // and the terminal flag as reported. bootstrap_value is the value used:
  // V_boot, or 0 for a slot that is inactive at the decision after the
  // unroll.
  ActorCriticEpisodes episodes;
  std::vector<uint8_t> active;  // [U * num_envs] 1: an active decision
  int active_decisions = 0;     // A, the number of active decisions
  Weights<float> gradient;      // the gradient given to the optimizer
  double loss = 0.0;            // mean actor-critic loss per active decision
  double rate_loss = 0.0;       // firing-rate regulariser
  int samples = 0;              // simulated samples (episode segments)
};

struct AgentMetrics {
  int64_t updates = 0;
  int64_t skipped_updates = 0;  // unrolls without an active decision
  int64_t decisions = 0;        // per environment
  // Last update, averages over its active decisions (steps for rate_hz).
  double loss = 0.0;  // mean actor-critic loss per decision
  double policy_loss = 0.0;
  double value_loss = 0.0;
  double entropy = 0.0;    // last update: mean policy entropy [nats]
  double rate_loss = 0.0;  // last update
  double rate_hz = 0.0;    // last update: mean firing rate over real steps
  double grad_norm = 0.0;  // last update, before clipping
};

class ActorCriticAgent {
 public:
  static absl::StatusOr<std::unique_ptr<ActorCriticAgent>> Create(
      const AgentConfig& config);

  // observations: [num_envs x n_in], row-major. Writes num_envs actions in
  // [0, n_actions). `active`: num_envs flags (nonzero: active), or nullptr
  // for all active; an inactive slot's observation is not read and its
  // action is 0 (see "Active mask" above). FailedPrecondition if the
  // previous Act was not followed by Reward; InvalidArgument on non-finite
  // observations of active slots.
  absl::Status Act(const float* observations, int32_t* actions,
                   const uint8_t* active);
  // All slots active.
  absl::Status Act(const float* observations, int32_t* actions);
  std::vector<int32_t> Act(const float* observations);  // aborts on error

  // The outcome of the last Act: num_envs rewards and terminated flags
  // (nonzero: the episode ended; its network state is reset to zero).
  // Rewards of the slots that were inactive at that Act are not read.
  // FailedPrecondition unless it follows an Act; InvalidArgument on
  // non-finite rewards of active slots.
  absl::Status Reward(const float* rewards, const uint8_t* terminated);

  // Weights, feedback B, optimizer state, the action sampler's generator
  // and the update count (as `iteration`), with RunDescription() as
  // run_config. The carried network state and a partial unroll are not
  // part of it.
  TrainingCheckpoint SaveState() const;
  // Restores a state saved by an agent with the same RunDescription();
  // afterwards the agent starts a new unroll from fresh (zero) networks, as
  // after a termination of every environment. FailedPrecondition between
  // Act and Reward; InvalidArgument (nothing changed) if the state does
  // not fit.
  absl::Status RestoreState(const TrainingCheckpoint& state);
  // The settings that fix the shapes and the learning problem, as text.
  std::string RunDescription() const;

  const AgentConfig& config() const { return config_; }
  const AgentMetrics& metrics() const { return metrics_; }
  const Weights<float>& weights() const { return weights_; }
  const CarriedState<float>& state() const { return state_; }
  // The readout y of every environment at the last Act's decision step,
  // [num_envs x n_out].
  const MatF& last_readout() const { return last_readout_; }
  const UnrollRecord& last_unroll() const { return last_unroll_; }
  const Optimizer<float>& optimizer() const { return optimizer_; }
  int decisions_in_unroll() const { return decision_; }

 private:
  ActorCriticAgent(const AgentConfig& config, Weights<float> weights,
                   Feedback<float> feedback, Optimizer<float> optimizer);

  // Simulates the K steps of one decision from state_ (updating it) on the
  // current observations; leaves the decision step's readout in
  // last_readout_.
  void Forward();
  // The update of the complete unroll, with active_ holding the flags of
  // the decision after it. Requires an active decision in the unroll.
  void Update(const VecD& bootstrap_value);
  // Zeroes slot b's network state (a new episode).
  void ResetSlot(int b);

  AgentConfig config_;
  NeuronConstants constants_;
  Weights<float> weights_;
  NetworkModel<float> model_;
  Feedback<float> feedback_;
  Optimizer<float> optimizer_;
  Rng rng_;
  AgentMetrics metrics_;

  CarriedState<float> state_;         // [num_envs x n_rec], between steps
  CarriedState<float> unroll_start_;  // state at the start of the unroll
  bool awaiting_reward_ = false;
  int decision_ = 0;             // decisions recorded in the current unroll
  std::vector<uint8_t> active_;  // [num_envs] flags of the last Act
  std::vector<uint8_t> prev_active_;  // [num_envs] those of the one before

  // The current decision's observations, sparse per env.
  SparseRows<float> step_inputs_;  // K * num_envs rows
  std::vector<int32_t> obs_cols_;  // current observation, sparse
  std::vector<float> obs_values_;
  std::vector<int64_t> obs_offsets_;  // num_envs + 1
  Trajectory<float> act_traj_;
  MatF last_readout_;

  // The unroll: per decision and env (d * num_envs + b) the sparse features.
  std::vector<int64_t> unroll_offsets_;
  std::vector<int32_t> unroll_cols_;
  std::vector<float> unroll_values_;
  ActorCriticEpisodes episodes_;
  std::vector<uint8_t> unroll_active_;  // per decision and env: 1 active
  int64_t active_in_unroll_ = 0;        // active decisions in the unroll

  Trajectory<float> traj_;
  UnrollRecord last_unroll_;
};

}  // namespace eprop

#endif  // EPROP_CORE_RL_ACTOR_CRITIC_AGENT_H_
