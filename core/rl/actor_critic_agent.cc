#include "core/rl/actor_critic_agent.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/learn/gradient.h"

namespace eprop {
namespace {

// One simulated sample of an update: environment `env` from decision
// `begin` to `end` (exclusive) of the unroll, an episode segment.
struct Segment {
  int env = 0;
  int begin = 0;
  int end = 0;
};

absl::Status CheckFinite(double value, const char* name) {
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be finite, got ", value));
  }
  return absl::OkStatus();
}

}  // namespace

NetworkConfig AgentConfig::DefaultNetwork() {
  NetworkConfig n;
  n.n_in = 400;
  n.n_lif = 96;
  n.n_alif = 64;
  n.n_out = 4;
  n.tau_m_ms = 15.0;
  n.tau_a_ms = 70.0;
  n.beta_alif = 0.1;
  n.v_th = 0.6;
  n.n_ref = 2;
  n.gamma = 0.3;
  n.tau_out_ms = 2.0;
  n.readout_bias = true;
  return n;
}

OptimizerConfig AgentConfig::DefaultOptimizer() {
  OptimizerConfig o;
  o.kind = OptimizerConfig::Kind::kAdam;
  o.learning_rate = 1e-3;
  o.clip_global_norm = 0.0;
  return o;
}

absl::Status AgentConfig::Validate() const {
  if (num_envs < 1 || num_envs > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_envs must be in [1, 100000], got ", num_envs));
  }
  if (n_actions < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_actions must be >= 1, got ", n_actions));
  }
  if (absl::Status s = network.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("network: ", s.message()));
  }
  if (network.n_out != n_actions + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("network.n_out must be n_actions + 1 = ", n_actions + 1,
                     " (policy logits and the value), got ", network.n_out));
  }
  if (input_encoding != InputEncoding::kEveryStep &&
      input_encoding != InputEncoding::kFirstStep) {
    return absl::InvalidArgumentError("input_encoding is not a known value");
  }
  const std::pair<double, const char*> scales[] = {
      {input_weight_scale, "input_weight_scale"},
      {recurrent_weight_scale, "recurrent_weight_scale"},
      {output_weight_scale, "output_weight_scale"}};
  for (const auto& [value, name] : scales) {
    if (!(std::isfinite(value) && value >= 0.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be finite and >= 0, got ", value));
    }
  }
  if (steps_per_action < 1 || steps_per_action > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "steps_per_action must be in [1, 1000], got ", steps_per_action));
  }
  if (unroll_decisions < 1 || unroll_decisions > 100000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unroll_decisions must be in [1, 100000], got ", unroll_decisions));
  }
  ActorCriticOptions ac;
  ac.discount = discount;
  ac.value_cost = value_cost;
  ac.entropy_cost = entropy_cost;
  ac.steps_per_action = steps_per_action;
  if (absl::Status s = ac.Validate(); !s.ok()) return s;
  if (!std::isfinite(reward_scale)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward_scale must be finite, got ", reward_scale));
  }
  if (absl::Status s = feedback.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("feedback: ", s.message()));
  }
  if (absl::Status s = optimizer.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer: ", s.message()));
  }
  if (absl::Status s = rate.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("rate: ", s.message()));
  }
  if (rate.average != RateAverage::kBatch) {
    return absl::InvalidArgumentError(
        "rate.average must be kBatch (rates over the unroll's real steps)");
  }
  if (threads < 1 || threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be in [1, 256], got ", threads));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ActorCriticAgent>> ActorCriticAgent::Create(
    const AgentConfig& config) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  Weights<double> w = InitWeights(config.network, config.seed);
  w.w_in *= config.input_weight_scale;
  w.w_rec *= config.recurrent_weight_scale;
  w.w_out *= config.output_weight_scale;
  absl::StatusOr<Feedback<float>> feedback =
      Feedback<float>::Create(config.feedback, config.network, config.seed + 1);
  if (!feedback.ok()) return feedback.status();
  Weights<float> weights = w.Cast<float>();
  absl::StatusOr<Optimizer<float>> optimizer =
      Optimizer<float>::Create(config.optimizer, weights);
  if (!optimizer.ok()) return optimizer.status();
  return std::unique_ptr<ActorCriticAgent>(new ActorCriticAgent(
      config, std::move(weights), std::move(*feedback), std::move(*optimizer)));
}

ActorCriticAgent::ActorCriticAgent(const AgentConfig& config,
                                   Weights<float> weights,
                                   Feedback<float> feedback,
                                   Optimizer<float> optimizer)
    : config_(config),
      constants_(MakeNeuronConstants(config.network)),
      weights_(std::move(weights)),
      feedback_(std::move(feedback)),
      optimizer_(std::move(optimizer)),
      rng_(config.seed + 2) {
  model_ = NetworkModel<float>::Prepare(constants_, weights_);
  state_ = CarriedState<float>::Zero(model_.n_rec, config_.num_envs);
  unroll_start_ = state_;
  last_readout_.setZero(config_.num_envs, model_.n_out);
  unroll_offsets_.assign(1, 0);
  active_.assign(config_.num_envs, 1);
  prev_active_.assign(config_.num_envs, 1);
}

void ActorCriticAgent::ResetSlot(int b) {
  for (Mat<float>* m :
       {&state_.v, &state_.a, &state_.refractory, &state_.z, &state_.zf}) {
    m->row(b).setZero();
  }
}

absl::Status ActorCriticAgent::Act(const float* observations,
                                   int32_t* actions) {
  return Act(observations, actions, nullptr);
}

absl::Status ActorCriticAgent::Act(const float* observations, int32_t* actions,
                                   const uint8_t* active) {
  if (awaiting_reward_) {
    return absl::FailedPreconditionError(
        "Act called twice without Reward: report the outcome of the last "
        "actions first");
  }
  const int n = config_.num_envs;
  const int n_in = model_.n_in;
  obs_offsets_.assign(1, 0);
  obs_cols_.clear();
  obs_values_.clear();
  for (int b = 0; b < n; ++b) {
    if (active != nullptr && active[b] == 0) {  // not read: zero input
      obs_offsets_.push_back(static_cast<int64_t>(obs_cols_.size()));
      continue;
    }
    const float* row = observations + static_cast<int64_t>(b) * n_in;
    for (int i = 0; i < n_in; ++i) {
      if (!std::isfinite(row[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "observation ", i, " of environment ", b, " is not finite"));
      }
      if (row[i] != 0.0f) {
        obs_cols_.push_back(i);
        obs_values_.push_back(row[i]);
      }
    }
    obs_offsets_.push_back(static_cast<int64_t>(obs_cols_.size()));
  }
  for (int b = 0; b < n; ++b) {
    active_[b] = active == nullptr || active[b] != 0 ? 1 : 0;
  }

  if (decision_ == config_.unroll_decisions) {
    // The unroll is complete: V_boot from this observation with the
    // unroll's weights, then the update, then the decision with the new
    // weights from the same carried state. Without an active decision
    // there is nothing to learn: no update.
    if (active_in_unroll_ > 0) {
      const CarriedState<float> saved = state_;
      Forward();
      const VecD bootstrap =
          last_readout_.col(config_.n_actions).cast<double>();
      Update(bootstrap);
      state_ = saved;
    } else {
      ++metrics_.skipped_updates;
    }
    decision_ = 0;
  }
  // A change of a slot's flag starts a new episode in it.
  for (int b = 0; b < n; ++b) {
    if (active_[b] != prev_active_[b]) ResetSlot(b);
    prev_active_[b] = active_[b];
  }
  if (decision_ == 0) {
    unroll_start_ = state_;
    unroll_offsets_.assign(1, 0);
    unroll_cols_.clear();
    unroll_values_.clear();
    episodes_ = ActorCriticEpisodes();
    unroll_active_.clear();
    active_in_unroll_ = 0;
  }
  for (int b = 0; b < n; ++b) {
    for (int64_t k = obs_offsets_[b]; k < obs_offsets_[b + 1]; ++k) {
      unroll_cols_.push_back(obs_cols_[k]);
      unroll_values_.push_back(obs_values_[k]);
    }
    unroll_offsets_.push_back(static_cast<int64_t>(unroll_cols_.size()));
    unroll_active_.push_back(active_[b]);
    active_in_unroll_ += active_[b];
  }

  Forward();
  for (int b = 0; b < n; ++b) {
    if (active_[b] != 0) {
      const VecD logits = last_readout_.row(b)
                              .head(config_.n_actions)
                              .transpose()
                              .cast<double>();
      actions[b] = SampleAction(logits, &rng_);
    } else {
      actions[b] = 0;  // no draw: the hub ignores it
    }
    episodes_.actions.push_back(actions[b]);
  }
  awaiting_reward_ = true;
  return absl::OkStatus();
}

std::vector<int32_t> ActorCriticAgent::Act(const float* observations) {
  std::vector<int32_t> actions(config_.num_envs);
  if (absl::Status s = Act(observations, actions.data()); !s.ok()) {
    std::fprintf(stderr, "ActorCriticAgent::Act: %s\n",
                 std::string(s.message()).c_str());
    std::abort();
  }
  return actions;
}

absl::Status ActorCriticAgent::Reward(const float* rewards,
                                      const uint8_t* terminated) {
  if (!awaiting_reward_) {
    return absl::FailedPreconditionError(
        "Reward called without a preceding Act");
  }
  const int n = config_.num_envs;
  for (int b = 0; b < n; ++b) {
    if (active_[b] == 0) continue;  // not read
    if (absl::Status s = CheckFinite(rewards[b], "reward"); !s.ok()) return s;
  }
  for (int b = 0; b < n; ++b) {
    episodes_.rewards.push_back(
        active_[b] != 0 ? config_.reward_scale * rewards[b] : 0.0);
    episodes_.terminal.push_back(terminated[b] != 0 ? 1 : 0);
    // A fresh network for the next episode of this environment.
    if (terminated[b] != 0) ResetSlot(b);
  }
  awaiting_reward_ = false;
  ++decision_;
  ++metrics_.decisions;
  return absl::OkStatus();
}

std::string ActorCriticAgent::RunDescription() const {
  const AgentConfig& c = config_;
  const NetworkConfig& n = c.network;
  return absl::StrCat(
      "actor_critic_agent num_envs=", c.num_envs, " n_actions=", c.n_actions,
      " n_in=", n.n_in, " n_lif=", n.n_lif, " n_alif=", n.n_alif,
      " n_out=", n.n_out, " tau_m=", n.tau_m_ms, " tau_a=", n.tau_a_ms,
      " beta=", n.beta_alif, " v_th=", n.v_th, " n_ref=", n.n_ref,
      " tau_out=", n.tau_out_ms, " K=", c.steps_per_action,
      " U=", c.unroll_decisions, " discount=", c.discount,
      " feedback=", static_cast<int>(c.feedback.mode), " seed=", c.seed);
}

TrainingCheckpoint ActorCriticAgent::SaveState() const {
  TrainingCheckpoint s;
  s.run_config = RunDescription();
  s.iteration = metrics_.updates;
  s.weights = weights_;
  s.feedback = feedback_.stored_matrix();
  s.optimizer = optimizer_.state();
  s.rng_state = rng_.SaveState();
  return s;
}

absl::Status ActorCriticAgent::RestoreState(const TrainingCheckpoint& state) {
  if (awaiting_reward_) {
    return absl::FailedPreconditionError(
        "RestoreState between Act and Reward; report the outcome first");
  }
  if (state.run_config != RunDescription()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the state belongs to another run: \"", state.run_config,
                     "\", this agent is \"", RunDescription(), "\""));
  }
  const auto same_shape = [](const auto& a, const auto& b) {
    return a.rows() == b.rows() && a.cols() == b.cols();
  };
  const Weights<float>& w = state.weights;
  if (!same_shape(w.w_in, weights_.w_in) ||
      !same_shape(w.w_rec, weights_.w_rec) ||
      !same_shape(w.w_out, weights_.w_out) ||
      !same_shape(w.b_out, weights_.b_out)) {
    return absl::InvalidArgumentError("the state's weights have other shapes");
  }
  if (absl::Status s = optimizer_.CheckState(state.optimizer); !s.ok()) {
    return s;
  }
  Feedback<float> feedback = feedback_;
  if (config_.feedback.mode != FeedbackMode::kSymmetric) {
    if (absl::Status s = feedback.SetStoredMatrix(state.feedback); !s.ok()) {
      return s;
    }
  } else if (state.feedback.size() != 0) {
    return absl::InvalidArgumentError(
        "the state has a feedback matrix, but this agent's feedback is "
        "symmetric");
  }
  Rng rng = rng_;
  if (!rng.RestoreState(state.rng_state)) {
    return absl::InvalidArgumentError("the state's rng_state is not valid");
  }
  weights_ = w;
  feedback_ = std::move(feedback);
  optimizer_.set_state(state.optimizer);
  rng_ = rng;
  metrics_ = AgentMetrics();
  metrics_.updates = state.iteration;
  model_ = NetworkModel<float>::Prepare(constants_, weights_);
  state_ = CarriedState<float>::Zero(model_.n_rec, config_.num_envs);
  decision_ = 0;
  prev_active_.assign(config_.num_envs, 1);
  return absl::OkStatus();
}

void ActorCriticAgent::Forward() {
  const int n = config_.num_envs;
  const int k_steps = config_.steps_per_action;
  step_inputs_.offsets.assign(1, 0);
  step_inputs_.cols.clear();
  step_inputs_.values.clear();
  for (int t = 0; t < k_steps; ++t) {
    const bool feed =
        t == 0 || config_.input_encoding == InputEncoding::kEveryStep;
    for (int b = 0; b < n; ++b) {
      if (feed) {
        for (int64_t k = obs_offsets_[b]; k < obs_offsets_[b + 1]; ++k) {
          step_inputs_.cols.push_back(obs_cols_[k]);
          step_inputs_.values.push_back(obs_values_[k]);
        }
      }
      step_inputs_.offsets.push_back(
          static_cast<int64_t>(step_inputs_.cols.size()));
    }
  }
  SimulateOptions options;
  options.threads = config_.threads;
  SimulateFrom<float>(model_, step_inputs_, k_steps, n, options, &state_,
                      &act_traj_, &state_);
  last_readout_ = act_traj_.y.middleRows(int64_t{k_steps - 1} * n, n);
}

void ActorCriticAgent::Update(const VecD& bootstrap_value) {
  const int n = config_.num_envs;
  const int u = config_.unroll_decisions;
  const int k_steps = config_.steps_per_action;
  const int steps = u * k_steps;
  const int n_rec = model_.n_rec;
  const int n_actions = config_.n_actions;

  // Episode segments: the maximal runs of active decisions of every
  // environment, each ended by a terminal transition, an inactive decision
  // or the end of the unroll. Those that start at decision 0 (from the
  // carried state) come first, in environment order, then the later ones
  // in environment and decision order.
  std::vector<Segment> segments;
  std::vector<Segment> later;
  int64_t active_decisions = 0;
  for (int b = 0; b < n; ++b) {
    int begin = -1;  // start of the open segment, if any
    const auto close = [&](int end) {
      (begin == 0 ? segments : later).push_back({b, begin, end});
      active_decisions += end - begin;
      begin = -1;
    };
    for (int d = 0; d < u; ++d) {
      const size_t i = static_cast<size_t>(d) * n + b;
      if (unroll_active_[i] == 0) {
        if (begin >= 0) close(d);
        continue;
      }
      if (begin < 0) begin = d;
      if (episodes_.terminal[i] != 0 || d == u - 1) close(d + 1);
    }
  }
  segments.insert(segments.end(), later.begin(), later.end());
  const int samples = static_cast<int>(segments.size());

  // Inputs [steps * samples x n_in]: each segment's observations at its own
  // decisions, nothing elsewhere.
  SparseRows<float> inputs;
  inputs.offsets.reserve(static_cast<size_t>(steps) * samples + 1);
  for (int t = 0; t < steps; ++t) {
    const int d = t / k_steps;
    const bool feed =
        t % k_steps == 0 || config_.input_encoding == InputEncoding::kEveryStep;
    for (const Segment& seg : segments) {
      if (feed && d >= seg.begin && d < seg.end) {
        const int64_t src = static_cast<int64_t>(d) * n + seg.env;
        for (int64_t k = unroll_offsets_[src]; k < unroll_offsets_[src + 1];
             ++k) {
          inputs.cols.push_back(unroll_cols_[k]);
          inputs.values.push_back(unroll_values_[k]);
        }
      }
      inputs.offsets.push_back(static_cast<int64_t>(inputs.cols.size()));
    }
  }
  CarriedState<float> initial = CarriedState<float>::Zero(n_rec, samples);
  for (int s = 0; s < samples && segments[s].begin == 0; ++s) {
    const int b = segments[s].env;
    initial.v.row(s) = unroll_start_.v.row(b);
    initial.a.row(s) = unroll_start_.a.row(b);
    initial.refractory.row(s) = unroll_start_.refractory.row(b);
    initial.z.row(s) = unroll_start_.z.row(b);
    initial.zf.row(s) = unroll_start_.zf.row(b);
  }
  SimulateOptions sim_options;
  sim_options.threads = config_.threads;
  SimulateFrom<float>(model_, inputs, steps, samples, sim_options, &initial,
                      &traj_, nullptr);

  // After a segment's terminal decision nothing may flow back: psi = 0
  // there (and dE/dy = 0 below) makes delta and q vanish. Before a later
  // segment the network rests at zero, where psi is 0 already.
  for (int s = 0; s < samples; ++s) {
    for (int t = segments[s].end * k_steps; t < steps; ++t) {
      traj_.psi.row(static_cast<int64_t>(t) * samples + s).setZero();
    }
  }

  // The loss on the padded batch; decisions outside a segment get dummy
  // entries (reward 0, terminal, so no return crosses them) and are masked
  // out. A segment that ends at the end of the unroll bootstraps from
  // V_boot unless its environment is inactive at the next decision.
  ActorCriticEpisodes padded;
  const size_t entries = static_cast<size_t>(u) * samples;
  padded.actions.assign(entries, 0);
  padded.rewards.assign(entries, 0.0);
  padded.terminal.assign(entries, 1);
  padded.bootstrap_value.assign(samples, 0.0);
  for (int s = 0; s < samples; ++s) {
    const Segment& seg = segments[s];
    for (int d = seg.begin; d < seg.end; ++d) {
      const size_t src = static_cast<size_t>(d) * n + seg.env;
      const size_t dst = static_cast<size_t>(d) * samples + s;
      padded.actions[dst] = episodes_.actions[src];
      padded.rewards[dst] = episodes_.rewards[src];
      padded.terminal[dst] = episodes_.terminal[src];
    }
    if (seg.end == u && active_[seg.env] != 0) {
      padded.bootstrap_value[s] = bootstrap_value[seg.env];
    }
  }
  ActorCriticOptions ac;
  ac.discount = config_.discount;
  ac.value_cost = config_.value_cost;
  ac.entropy_cost = config_.entropy_cost;
  ac.steps_per_action = k_steps;
  absl::StatusOr<ActorCriticResult<float>> result =
      ActorCriticLoss<float>(traj_.y, samples, padded, ac);
  if (!result.ok()) {
    // Inputs were validated on the way in; this is a bug.
    std::fprintf(stderr, "ActorCriticAgent: %s\n",
                 std::string(result.status().message()).c_str());
    std::abort();
  }
  Mat<float>& dE_dy = result->dE_dy;
  // The mean over the active decisions (U * num_envs if all are active).
  const double scale = 1.0 / static_cast<double>(active_decisions);
  double policy_loss = 0.0, value_loss = 0.0, entropy = 0.0;
  for (int d = 0; d < u; ++d) {
    const int64_t row0 = int64_t{DecisionStep(d, k_steps)} * samples;
    for (int s = 0; s < samples; ++s) {
      const size_t i = static_cast<size_t>(d) * samples + s;
      if (d < segments[s].begin || d >= segments[s].end) {
        dE_dy.row(row0 + s).setZero();
        continue;
      }
      const VecD logits =
          traj_.y.row(row0 + s).head(n_actions).transpose().cast<double>();
      const double m = logits.maxCoeff();
      const double log_z = m + std::log((logits.array() - m).exp().sum());
      const double advantage = result->advantages[i];
      policy_loss -= (logits[padded.actions[i]] - log_z) * advantage;
      value_loss += 0.5 * config_.value_cost * advantage * advantage;
      entropy += result->entropy[i];
    }
  }
  dE_dy *= static_cast<float>(scale);

  // Firing-rate regulariser over the real steps of every sample: the K
  // steps of every active decision.
  const int64_t real_rows = active_decisions * k_steps;
  VecD counts = VecD::Zero(n_rec);
  for (size_t sh = 0; sh < traj_.shards.size(); ++sh) {
    const Shard& shard = traj_.shards[sh];
    const SparseRows<float>& spikes = traj_.spikes[sh];
    for (int t = 0; t < steps; ++t) {
      for (int s = shard.begin; s < shard.end; ++s) {
        const int d = t / k_steps;
        if (d < segments[s].begin || d >= segments[s].end) continue;
        const int64_t local =
            static_cast<int64_t>(t) * shard.size() + (s - shard.begin);
        for (int64_t k = spikes.begin(local); k < spikes.end(local); ++k) {
          counts[spikes.cols[k]] += 1.0;
        }
      }
    }
  }
  SpikeLossGradient<float> direct;
  if (config_.rate.c_reg > 0.0) {
    direct = BatchRateRegularization<float>(config_.rate, counts,
                                            static_cast<double>(real_rows),
                                            config_.network.dt_ms);
  }

  const MatF feedback = feedback_.Matrix(weights_);
  GradientInputs grad_options;
  grad_options.threads = config_.threads;
  grad_options.readout_bias = config_.network.readout_bias;
  const Weights<float> grad =
      ComputeGradient(GradientMethod::kEpropOffline, model_, feedback, inputs,
                      traj_, dE_dy, direct, grad_options);

  metrics_.loss =
      (policy_loss + value_loss - config_.entropy_cost * entropy) * scale;
  metrics_.policy_loss = policy_loss * scale;
  metrics_.value_loss = value_loss * scale;
  metrics_.entropy = entropy * scale;
  metrics_.rate_loss = direct.loss;
  metrics_.rate_hz = counts.sum() / (static_cast<double>(real_rows) * n_rec) /
                     config_.network.dt_ms * 1000.0;
  metrics_.grad_norm = GlobalNorm(grad);

  if (config_.keep_last_unroll) {
    UnrollRecord& r = last_unroll_;
    r.weights = weights_;
    r.feedback = feedback;
    r.initial_state = unroll_start_;
    r.observations.setZero(static_cast<int64_t>(u) * n, model_.n_in);
    for (int64_t row = 0; row < r.observations.rows(); ++row) {
      for (int64_t k = unroll_offsets_[row]; k < unroll_offsets_[row + 1];
           ++k) {
        r.observations(row, unroll_cols_[k]) = unroll_values_[k];
      }
    }
    r.episodes = episodes_;
    r.episodes.bootstrap_value.assign(n, 0.0);
    for (int b = 0; b < n; ++b) {
      if (active_[b] != 0) r.episodes.bootstrap_value[b] = bootstrap_value[b];
    }
    r.active = unroll_active_;
    r.active_decisions = static_cast<int>(active_decisions);
    r.gradient = grad;
    r.loss = metrics_.loss;
    r.rate_loss = direct.loss;
    r.samples = samples;
  }

  Weights<float> applied;
  optimizer_.Apply(grad, &weights_, &applied);
  feedback_.AfterUpdate(applied.w_out, &weights_);
  model_ = NetworkModel<float>::Prepare(constants_, weights_);
  ++metrics_.updates;
}

}  // namespace eprop
