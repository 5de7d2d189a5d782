#include "server/job_spec.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/env/atari_preprocessing.h"
#include "core/env/breakout.h"
#include "core/train/task.h"

namespace eprop::server {
namespace {

using v1::JobSpec;

constexpr int64_t kMaxObservationValues = int64_t{1} << 20;

absl::Status OutOfRange(const std::string& field, const std::string& allowed,
                        double got) {
  return absl::InvalidArgumentError(absl::StrCat(
      field, " must be ", allowed, ", got ", absl::StrFormat("%.17g", got)));
}

// A field's allowed interval: [lo, hi], or (lo, hi] when open_lo.
struct RangeCheck {
  const char* field;
  double value;
  double lo;
  double hi;
  bool open_lo = false;
};

// The first violated check (NaN and infinity violate every check).
absl::Status CheckRanges(std::initializer_list<RangeCheck> checks) {
  for (const RangeCheck& c : checks) {
    const bool ok = std::isfinite(c.value) &&
                    (c.open_lo ? c.value > c.lo : c.value >= c.lo) &&
                    c.value <= c.hi;
    if (!ok) {
      return OutOfRange(
          c.field,
          absl::StrFormat("%s%g, %g]", c.open_lo ? "in (" : "in [", c.lo, c.hi),
          c.value);
    }
  }
  return absl::OkStatus();
}

absl::Status ResolveNetwork(const NetworkConfig& task, const JobLimits& limits,
                            v1::NetworkSpec* n) {
  if (!n->has_n_lif()) n->set_n_lif(task.n_lif);
  if (!n->has_n_alif()) n->set_n_alif(task.n_alif);
  if (!n->has_tau_m_ms()) n->set_tau_m_ms(task.tau_m_ms);
  if (!n->has_tau_a_ms()) n->set_tau_a_ms(task.tau_a_ms);
  if (!n->has_beta_alif()) n->set_beta_alif(task.beta_alif);
  if (!n->has_v_th()) n->set_v_th(task.v_th);
  if (!n->has_n_ref_steps()) n->set_n_ref_steps(task.n_ref);
  if (!n->has_gamma()) n->set_gamma(task.gamma);
  if (!n->has_tau_out_ms()) n->set_tau_out_ms(task.tau_out_ms);
  if (!n->has_readout_bias()) n->set_readout_bias(task.readout_bias);
  const double max_n = limits.max_neurons;
  if (absl::Status s = CheckRanges({
          {"network.n_lif", double(n->n_lif()), 0, max_n},
          {"network.n_alif", double(n->n_alif()), 0, max_n},
          {"network.tau_m_ms", n->tau_m_ms(), 0, 1e6, true},
          {"network.tau_a_ms", n->tau_a_ms(), 0, 1e7, true},
          {"network.beta_alif", n->beta_alif(), 0, 1e3},
          {"network.v_th", n->v_th(), 0, 1e3, true},
          {"network.n_ref_steps", double(n->n_ref_steps()), 0, 1e4},
          {"network.gamma", n->gamma(), 0, 1e3, true},
          {"network.tau_out_ms", n->tau_out_ms(), 0, 1e6},
      });
      !s.ok()) {
    return s;
  }
  const int64_t n_rec = int64_t{n->n_lif()} + n->n_alif();
  if (n_rec < 1 || n_rec > limits.max_neurons) {
    return OutOfRange(
        "network.n_lif + network.n_alif",
        absl::StrCat("in [1, ", limits.max_neurons, "] (--max_neurons)"),
        static_cast<double>(n_rec));
  }
  return absl::OkStatus();
}

absl::Status ResolveOptimizer(const OptimizerConfig& task,
                              v1::OptimizerSpec* o) {
  if (o->kind() == v1::OPTIMIZER_KIND_UNSPECIFIED) {
    o->set_kind(task.kind == OptimizerConfig::Kind::kAdam
                    ? v1::OPTIMIZER_KIND_ADAM
                    : v1::OPTIMIZER_KIND_SGD);
  } else if (!v1::OptimizerKind_IsValid(o->kind())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "optimizer.kind must be OPTIMIZER_KIND_SGD or OPTIMIZER_KIND_ADAM, "
        "got ",
        o->kind()));
  }
  if (!o->has_learning_rate()) o->set_learning_rate(task.learning_rate);
  if (!o->has_adam_beta1()) o->set_adam_beta1(task.beta1);
  if (!o->has_adam_beta2()) o->set_adam_beta2(task.beta2);
  if (!o->has_adam_epsilon()) o->set_adam_epsilon(task.epsilon);
  if (!o->has_clip_global_norm()) {
    o->set_clip_global_norm(task.clip_global_norm);
  }
  const double below_one = std::nextafter(1.0, 0.0);
  return CheckRanges({
      {"optimizer.learning_rate", o->learning_rate(), 0, 10, true},
      {"optimizer.adam_beta1", o->adam_beta1(), 0, below_one},
      {"optimizer.adam_beta2", o->adam_beta2(), 0, below_one},
      {"optimizer.adam_epsilon", o->adam_epsilon(), 0, 1, true},
      {"optimizer.clip_global_norm", o->clip_global_norm(), 0, 1e9},
  });
}

absl::Status ResolveSchedule(const Task& task, const JobLimits& limits,
                             v1::ScheduleSpec* s) {
  if (!s->has_max_iterations()) {
    s->set_max_iterations(std::min<int64_t>(2000, limits.max_iterations));
  }
  if (!s->has_batch_size()) s->set_batch_size(task.default_batch());
  if (!s->has_validate_every_iterations()) s->set_validate_every_iterations(10);
  if (!s->has_lr_decay_every_iterations()) {
    s->set_lr_decay_every_iterations(0);
  }
  if (!s->has_lr_decay_factor()) s->set_lr_decay_factor(1.0);
  return CheckRanges({
      {"schedule.max_iterations", double(s->max_iterations()), 1,
       double(limits.max_iterations)},
      {"schedule.batch_size", double(s->batch_size()), 1, 100000},
      {"schedule.validate_every_iterations",
       double(s->validate_every_iterations()), 1, 1e8},
      {"schedule.lr_decay_every_iterations",
       double(s->lr_decay_every_iterations()), 0, 1e8},
      {"schedule.lr_decay_factor", s->lr_decay_factor(), 0, 1, true},
  });
}

NetworkConfig ApplyNetwork(NetworkConfig n, const v1::NetworkSpec& s) {
  n.n_lif = s.n_lif();
  n.n_alif = s.n_alif();
  n.tau_m_ms = s.tau_m_ms();
  n.tau_a_ms = s.tau_a_ms();
  n.beta_alif = s.beta_alif();
  n.v_th = s.v_th();
  n.n_ref = s.n_ref_steps();
  n.gamma = s.gamma();
  n.tau_out_ms = s.tau_out_ms();
  n.readout_bias = s.readout_bias();
  return n;
}

bool SameNetwork(const NetworkConfig& a, const NetworkConfig& b) {
  return a.n_lif == b.n_lif && a.n_alif == b.n_alif &&
         a.tau_m_ms == b.tau_m_ms && a.tau_a_ms == b.tau_a_ms &&
         a.beta_alif == b.beta_alif && a.v_th == b.v_th && a.n_ref == b.n_ref &&
         a.gamma == b.gamma && a.tau_out_ms == b.tau_out_ms &&
         a.readout_bias == b.readout_bias;
}

OptimizerConfig ApplyOptimizer(OptimizerConfig o, const v1::OptimizerSpec& s) {
  o.kind = s.kind() == v1::OPTIMIZER_KIND_SGD ? OptimizerConfig::Kind::kSgd
                                              : OptimizerConfig::Kind::kAdam;
  o.learning_rate = s.learning_rate();
  o.beta1 = s.adam_beta1();
  o.beta2 = s.adam_beta2();
  o.epsilon = s.adam_epsilon();
  o.clip_global_norm = s.clip_global_norm();
  return o;
}

bool SameOptimizer(const OptimizerConfig& a, const OptimizerConfig& b) {
  return a.kind == b.kind && a.learning_rate == b.learning_rate &&
         a.beta1 == b.beta1 && a.beta2 == b.beta2 && a.epsilon == b.epsilon &&
         a.clip_global_norm == b.clip_global_norm;
}

// Weights, gradient, Adam moments and feedback: five float copies.
double ParameterBytes(const NetworkConfig& n) {
  return 5.0 * 4.0 * n.n_rec() *
         (static_cast<double>(n.n_rec()) + n.n_in + n.n_out);
}

absl::Status CheckMemory(const Task& task, const NetworkConfig& network,
                         int batch, const JobLimits& limits) {
  const double fixed = ParameterBytes(network);
  const double per_sample = TrajectoryBytes(network, task.steps(), 1);
  const double limit = static_cast<double>(limits.max_job_memory_bytes);
  if (fixed + per_sample * batch <= limit) return absl::OkStatus();
  const int64_t max_batch =
      fixed >= limit ? 0 : static_cast<int64_t>((limit - fixed) / per_sample);
  return absl::ResourceExhaustedError(absl::StrFormat(
      "this job needs about %.2f GiB (batch %d x %d steps x %d neurons); the "
      "server allows %.2f GiB per job (--max_job_memory_mb), so with this "
      "network the batch may be at most %d",
      (fixed + per_sample * batch) / (1 << 30), batch, task.steps(),
      network.n_rec(), limit / (1 << 30), max_batch));
}

int64_t ObservationSize(const v1::ObservationSpec& spec) {
  int64_t size = 1;
  for (int32_t d : spec.shape()) size *= d;
  return size;
}

absl::Status CheckObservationSpec(const v1::ObservationSpec& spec) {
  const char* field = "reinforcement.observation_spec";
  if (spec.kind() != v1::OBSERVATION_KIND_FEATURES &&
      spec.kind() != v1::OBSERVATION_KIND_RGB_FRAME &&
      spec.kind() != v1::OBSERVATION_KIND_SPIKES) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".kind must be OBSERVATION_KIND_FEATURES, _RGB_FRAME or "
        "_SPIKES, got ", spec.kind()));
  }
  if (spec.kind() == v1::OBSERVATION_KIND_RGB_FRAME) {
    // Preprocessed to screen_size^2 values (ResolveFramePreprocessing
    // checks height and width against screen_size).
    if (spec.shape_size() != 3 || spec.shape(2) != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".shape of OBSERVATION_KIND_RGB_FRAME must be ",
          "[height, width, 3], got [", absl::StrJoin(spec.shape(), ", "), "]"));
    }
    return absl::OkStatus();
  }
  if (spec.shape_size() < 1 || spec.shape_size() > 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".shape must have 1 to 8 dimensions, got ", spec.shape_size()));
  }
  int64_t size = 1;
  for (int32_t d : spec.shape()) {
    if (d < 1) {
      return OutOfRange(absl::StrCat(field, ".shape[i]"), ">= 1", d);
    }
    size *= d;
    if (size > kMaxObservationValues) {
      return OutOfRange(absl::StrCat(field, " size"),
                        absl::StrCat("at most ", kMaxObservationValues),
                        static_cast<double>(size));
    }
  }
  return absl::OkStatus();
}

// The environment of a reinforcement task: its observation spec and number
// of actions, fixed by the task or given by the spec.
absl::Status ResolveEnvironment(v1::Task task, v1::ReinforcementSpec* rl) {
  if (task == v1::TASK_BREAKOUT) {
    if (rl->source() == v1::ENVIRONMENT_SOURCE_UNSPECIFIED) {
      rl->set_source(v1::ENVIRONMENT_SOURCE_BUILTIN);
    }
    v1::ObservationSpec breakout;
    breakout.set_kind(v1::OBSERVATION_KIND_SPIKES);
    for (int d : {env::Breakout::kGridSize, env::Breakout::kGridSize,
                  env::Breakout::kObservationSize /
                      (env::Breakout::kGridSize * env::Breakout::kGridSize)}) {
      breakout.add_shape(d);
    }
    if (rl->has_observation_spec() &&
        rl->observation_spec().SerializeAsString() !=
            breakout.SerializeAsString()) {
      return absl::InvalidArgumentError(
          "reinforcement.observation_spec of TASK_BREAKOUT must be unset or "
          "SPIKES [10, 10, 4]");
    }
    if (rl->has_num_actions() &&
        rl->num_actions() != env::Breakout::kNumActions) {
      return OutOfRange("reinforcement.num_actions of TASK_BREAKOUT",
                        "unset or 3", rl->num_actions());
    }
    *rl->mutable_observation_spec() = breakout;
    rl->set_num_actions(env::Breakout::kNumActions);
    return absl::OkStatus();
  }
  if (rl->source() == v1::ENVIRONMENT_SOURCE_UNSPECIFIED) {
    rl->set_source(v1::ENVIRONMENT_SOURCE_REMOTE);
  }
  if (rl->source() != v1::ENVIRONMENT_SOURCE_REMOTE) {
    return absl::InvalidArgumentError(
        "reinforcement.source of TASK_REMOTE_ENVIRONMENT must be "
        "ENVIRONMENT_SOURCE_REMOTE");
  }
  if (!rl->has_observation_spec()) {
    return absl::InvalidArgumentError(
        "reinforcement.observation_spec is required for "
        "TASK_REMOTE_ENVIRONMENT");
  }
  if (absl::Status s = CheckObservationSpec(rl->observation_spec()); !s.ok()) {
    return s;
  }
  if (!rl->has_num_actions()) {
    return absl::InvalidArgumentError(
        "reinforcement.num_actions is required for TASK_REMOTE_ENVIRONMENT");
  }
  return CheckRanges(
      {{"reinforcement.num_actions", double(rl->num_actions()), 2, 1024}});
}

bool HasFrames(const v1::ReinforcementSpec& rl) {
  return rl.observation_spec().kind() == v1::OBSERVATION_KIND_RGB_FRAME;
}

// The frame preprocessing fields: defaults and ranges for RGB_FRAME
// observations, refused for other kinds.
absl::Status ResolveFramePreprocessing(v1::ReinforcementSpec* rl) {
  if (!HasFrames(*rl)) {
    if (rl->has_frame_skip() || rl->has_noop_max() ||
        rl->has_sticky_action_probability() || rl->has_clip_rewards() ||
        rl->has_screen_size()) {
      return absl::InvalidArgumentError(
          "reinforcement.frame_skip, noop_max, sticky_action_probability, "
          "clip_rewards and screen_size are only for "
          "OBSERVATION_KIND_RGB_FRAME observations");
    }
    return absl::OkStatus();
  }
  const env::PreprocessingOptions ale;
  if (!rl->has_frame_skip()) rl->set_frame_skip(ale.frame_skip);
  if (!rl->has_noop_max()) rl->set_noop_max(ale.noop_max);
  if (!rl->has_sticky_action_probability()) {
    rl->set_sticky_action_probability(0.25);  // ALE v5
  }
  if (!rl->has_clip_rewards()) rl->set_clip_rewards(true);
  if (!rl->has_screen_size()) rl->set_screen_size(ale.screen_size);
  if (absl::Status s = CheckRanges({
          {"reinforcement.frame_skip", double(rl->frame_skip()), 1, 64},
          {"reinforcement.noop_max", double(rl->noop_max()), 0, 1000},
          {"reinforcement.sticky_action_probability",
           rl->sticky_action_probability(), 0, 1},
          {"reinforcement.screen_size", double(rl->screen_size()), 1, 1024},
      });
      !s.ok()) {
    return s;
  }
  const double screen = rl->screen_size();
  return CheckRanges({
      {"reinforcement.observation_spec.shape[0] (height of an RGB_FRAME)",
       double(rl->observation_spec().shape(0)), screen, 1024},
      {"reinforcement.observation_spec.shape[1] (width of an RGB_FRAME)",
       double(rl->observation_spec().shape(1)), screen, 1024},
  });
}

// The network's inputs: screen_size^2 for preprocessed RGB frames, else the
// observation's values.
int NetworkInputs(const v1::ReinforcementSpec& rl) {
  if (HasFrames(rl)) return rl.screen_size() * rl.screen_size();
  return static_cast<int>(ObservationSize(rl.observation_spec()));
}

absl::Status ResolveReinforcement(const JobLimits& limits, JobSpec* r) {
  v1::ReinforcementSpec* rl = r->mutable_reinforcement();
  if (!v1::EnvironmentSource_IsValid(rl->source())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reinforcement.source must be ENVIRONMENT_SOURCE_BUILTIN or "
        "ENVIRONMENT_SOURCE_REMOTE, got ",
        rl->source()));
  }
  if (absl::Status s = ResolveEnvironment(r->task(), rl); !s.ok()) return s;
  if (absl::Status s = ResolveFramePreprocessing(rl); !s.ok()) return s;
  const AgentConfig agent;
  if (!rl->has_max_frames()) rl->set_max_frames(5000000);
  if (!rl->has_num_envs()) rl->set_num_envs(agent.num_envs);
  if (!rl->has_max_queueing_delay_ms()) rl->set_max_queueing_delay_ms(20);
  if (!rl->has_steps_per_action()) {
    rl->set_steps_per_action(agent.steps_per_action);
  }
  if (!rl->has_unroll_decisions()) {
    rl->set_unroll_decisions(agent.unroll_decisions);
  }
  if (!rl->has_discount()) rl->set_discount(agent.discount);
  if (!rl->has_entropy_cost()) rl->set_entropy_cost(agent.entropy_cost);
  if (!rl->has_value_cost()) rl->set_value_cost(agent.value_cost);
  if (!rl->has_report_every_frames()) rl->set_report_every_frames(100000);
  if (absl::Status s = CheckRanges({
          {"reinforcement.max_frames", double(rl->max_frames()), 1, 1e12},
          {"reinforcement.num_envs", double(rl->num_envs()), 1, 256},
          {"reinforcement.max_queueing_delay_ms",
           double(rl->max_queueing_delay_ms()), 1, 10000},
          {"reinforcement.steps_per_action", double(rl->steps_per_action()),
           1, 100},
          {"reinforcement.unroll_decisions", double(rl->unroll_decisions()),
           1, 1000},
          {"reinforcement.discount", rl->discount(), 0, 1},
          {"reinforcement.entropy_cost", rl->entropy_cost(), 0, 1e3},
          {"reinforcement.value_cost", rl->value_cost(), 0, 1e3},
          {"reinforcement.report_every_frames",
           double(rl->report_every_frames()), 1, 1e12},
      });
      !s.ok()) {
    return s;
  }
  if (r->algorithm() == v1::ALGORITHM_BPTT) {
    return absl::InvalidArgumentError(
        "reinforcement tasks learn with e-prop: algorithm must be "
        "ALGORITHM_EPROP_SYMMETRIC, _RANDOM or _ADAPTIVE, not ALGORITHM_BPTT");
  }
  if (r->online_eprop()) {
    return absl::InvalidArgumentError(
        "online_eprop is for supervised tasks; reinforcement tasks use "
        "offline e-prop over unrolls");
  }
  if (r->has_schedule() || r->has_stop_criterion() ||
      r->has_checkpoint_every_iterations()) {
    return absl::InvalidArgumentError(
        "schedule, stop_criterion and checkpoint_every_iterations are for "
        "supervised tasks; reinforcement tasks use reinforcement.max_frames "
        "and reinforcement.report_every_frames");
  }
  NetworkConfig task_network = AgentConfig::DefaultNetwork();
  task_network.n_in = NetworkInputs(*rl);
  task_network.n_out = rl->num_actions() + 1;
  if (absl::Status s = ResolveNetwork(task_network, limits, r->mutable_network());
      !s.ok()) {
    return s;
  }
  const NetworkConfig network = ApplyNetwork(task_network, r->network());
  if (absl::Status s = network.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("network: ", s.message()));
  }
  if (absl::Status s = ResolveOptimizer(AgentConfig::DefaultOptimizer(),
                                        r->mutable_optimizer());
      !s.ok()) {
    return s;
  }
  const int steps = rl->steps_per_action() * rl->unroll_decisions();
  const double bytes = ParameterBytes(network) +
                       TrajectoryBytes(network, steps, rl->num_envs());
  if (bytes > static_cast<double>(limits.max_job_memory_bytes)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "this job needs about %.2f GiB (%d environments x %d steps x %d "
        "neurons); the server allows %.2f GiB per job (--max_job_memory_mb)",
        bytes / (1 << 30), rl->num_envs(), steps, network.n_rec(),
        static_cast<double>(limits.max_job_memory_bytes) / (1 << 30)));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsReinforcementTask(v1::Task task) {
  return task == v1::TASK_BREAKOUT || task == v1::TASK_REMOTE_ENVIRONMENT;
}

std::optional<env::PreprocessingOptions> ToFramePreprocessing(
    const v1::ReinforcementSpec& rl) {
  if (!HasFrames(rl)) return std::nullopt;
  env::PreprocessingOptions options;
  options.frame_skip = rl.frame_skip();
  options.noop_max = rl.noop_max();
  options.screen_size = rl.screen_size();
  options.sticky_action_probability = rl.sticky_action_probability();
  options.clip_rewards = rl.clip_rewards();
  return options;
}

AgentConfig ToAgentConfig(const JobSpec& r) {
  const v1::ReinforcementSpec& rl = r.reinforcement();
  AgentConfig a;
  a.num_envs = rl.num_envs();
  a.n_actions = rl.num_actions();
  NetworkConfig task_network = AgentConfig::DefaultNetwork();
  task_network.n_in = NetworkInputs(rl);
  task_network.n_out = rl.num_actions() + 1;
  a.network = ApplyNetwork(task_network, r.network());
  a.steps_per_action = rl.steps_per_action();
  a.unroll_decisions = rl.unroll_decisions();
  a.discount = rl.discount();
  a.entropy_cost = rl.entropy_cost();
  a.value_cost = rl.value_cost();
  a.feedback.mode = r.algorithm() == v1::ALGORITHM_EPROP_RANDOM
                        ? FeedbackMode::kRandom
                    : r.algorithm() == v1::ALGORITHM_EPROP_ADAPTIVE
                        ? FeedbackMode::kAdaptive
                        : FeedbackMode::kSymmetric;
  a.optimizer = ApplyOptimizer(AgentConfig::DefaultOptimizer(), r.optimizer());
  a.seed = r.seed();
  a.threads = r.threads();
  return a;
}

absl::StatusOr<JobSpec> ResolveJobSpec(const JobSpec& spec,
                                       const JobLimits& limits) {
  JobSpec r = spec;
  if (r.task() == v1::TASK_UNSPECIFIED || !v1::Task_IsValid(r.task())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task is required and must be TASK_EVIDENCE_ACCUMULATION, "
        "TASK_PATTERN_GENERATION, TASK_BREAKOUT or TASK_REMOTE_ENVIRONMENT, "
        "got ",
        v1::Task_Name(r.task()).empty() ? std::to_string(r.task())
                                        : v1::Task_Name(r.task())));
  }
  if (r.algorithm() == v1::ALGORITHM_UNSPECIFIED) {
    r.set_algorithm(IsReinforcementTask(r.task())
                        ? v1::ALGORITHM_EPROP_SYMMETRIC
                        : v1::ALGORITHM_EPROP_RANDOM);
  } else if (!v1::Algorithm_IsValid(r.algorithm())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "algorithm must be ALGORITHM_BPTT, ALGORITHM_EPROP_SYMMETRIC, "
        "ALGORITHM_EPROP_RANDOM or ALGORITHM_EPROP_ADAPTIVE, got ",
        r.algorithm()));
  }
  if (!r.has_seed()) r.set_seed(1);
  if (!r.has_threads()) r.set_threads(limits.default_threads);
  if (r.display_name().size() > kMaxDisplayNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("display_name must be at most ", kMaxDisplayNameBytes,
                     " bytes, got ", r.display_name().size()));
  }
  if (absl::Status s = CheckRanges(
          {{"threads", double(r.threads()), 1, double(limits.max_threads)}});
      !s.ok()) {
    return s;
  }
  if (IsReinforcementTask(r.task())) {
    if (absl::Status s = ResolveReinforcement(limits, &r); !s.ok()) return s;
    return r;
  }
  if (r.has_reinforcement()) {
    return absl::InvalidArgumentError(
        "reinforcement is only for TASK_BREAKOUT and TASK_REMOTE_ENVIRONMENT");
  }
  const std::unique_ptr<Task> task = *MakeTask(TaskName(r.task()), r.seed());
  if (absl::Status s =
          ResolveNetwork(task->network(), limits, r.mutable_network());
      !s.ok()) {
    return s;
  }
  const NetworkConfig network = ApplyNetwork(task->network(), r.network());
  if (absl::Status s = network.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("network: ", s.message()));
  }
  if (absl::Status s =
          ResolveOptimizer(task->optimizer(), r.mutable_optimizer());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ResolveSchedule(*task, limits, r.mutable_schedule());
      !s.ok()) {
    return s;
  }
  if (!r.has_stop_criterion()) {
    r.set_stop_criterion(task->default_stop_criterion());
  }
  if (!r.has_checkpoint_every_iterations()) {
    r.set_checkpoint_every_iterations(kDefaultCheckpointEvery);
  }
  if (!r.has_online_eprop()) r.set_online_eprop(false);
  if (r.online_eprop() && r.algorithm() == v1::ALGORITHM_BPTT) {
    return absl::InvalidArgumentError(
        "online_eprop needs an e-prop algorithm, not ALGORITHM_BPTT");
  }
  if (absl::Status s = CheckRanges({
          {"stop_criterion", r.stop_criterion(), 0, 1e6},
          {"checkpoint_every_iterations",
           double(r.checkpoint_every_iterations()), 1, 1e8},
      });
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckMemory(*task, network, r.schedule().batch_size(), limits);
      !s.ok()) {
    return s;
  }
  return r;
}

TrainerInputs ToTrainerInputs(const JobSpec& r) {
  TrainerInputs out;
  out.task = TaskName(r.task());
  const std::unique_ptr<Task> task = *MakeTask(out.task, r.seed());
  TrainerConfig& c = out.config;
  c.algorithm = *ParseAlgorithm(AlgorithmNameOf(r.algorithm()));
  c.seed = r.seed();
  c.batch = r.schedule().batch_size();
  c.max_iterations = r.schedule().max_iterations();
  c.validate_every = r.schedule().validate_every_iterations();
  c.lr_decay_every = r.schedule().lr_decay_every_iterations();
  c.lr_decay = r.schedule().lr_decay_factor();
  c.stop_criterion = r.stop_criterion();
  c.checkpoint_every = r.checkpoint_every_iterations();
  c.threads = r.threads();
  c.max_trajectory_bytes = INT64_MAX;  // checked by ResolveJobSpec
  c.online_eprop = r.online_eprop();
  // Replacements only where the spec differs from the task, so that a job
  // with the paper's constants is the same run as `eprop train --local`.
  const NetworkConfig network = ApplyNetwork(task->network(), r.network());
  if (!SameNetwork(network, task->network())) c.network = network;
  const OptimizerConfig optimizer =
      ApplyOptimizer(task->optimizer(), r.optimizer());
  if (!SameOptimizer(optimizer, task->optimizer())) c.optimizer = optimizer;
  return out;
}

std::string TaskName(v1::Task task) {
  switch (task) {
    case v1::TASK_EVIDENCE_ACCUMULATION:
      return "evidence_accumulation";
    case v1::TASK_PATTERN_GENERATION:
      return "pattern_generation";
    case v1::TASK_BREAKOUT:
      return "breakout";
    case v1::TASK_REMOTE_ENVIRONMENT:
      return "remote_environment";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::Task> ParseTask(const std::string& name) {
  for (v1::Task t : kJobTasks) {
    if (TaskName(t) == name) return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown task '", name,
                   "'; known tasks: evidence_accumulation, pattern_generation, "
                   "breakout, remote_environment"));
}

v1::Algorithm ToProto(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kBptt:
      return v1::ALGORITHM_BPTT;
    case Algorithm::kEpropSymmetric:
      return v1::ALGORITHM_EPROP_SYMMETRIC;
    case Algorithm::kEpropRandom:
      return v1::ALGORITHM_EPROP_RANDOM;
    case Algorithm::kEpropAdaptive:
      return v1::ALGORITHM_EPROP_ADAPTIVE;
  }
  return v1::ALGORITHM_UNSPECIFIED;
}

std::string AlgorithmNameOf(v1::Algorithm algorithm) {
  switch (algorithm) {
    case v1::ALGORITHM_BPTT:
      return AlgorithmName(Algorithm::kBptt);
    case v1::ALGORITHM_EPROP_SYMMETRIC:
      return AlgorithmName(Algorithm::kEpropSymmetric);
    case v1::ALGORITHM_EPROP_ADAPTIVE:
      return AlgorithmName(Algorithm::kEpropAdaptive);
    default:
      return AlgorithmName(Algorithm::kEpropRandom);
  }
}

std::string JobStateName(v1::JobState state) {
  switch (state) {
    case v1::JOB_STATE_QUEUED:
      return "queued";
    case v1::JOB_STATE_RUNNING:
      return "running";
    case v1::JOB_STATE_SUCCEEDED:
      return "succeeded";
    case v1::JOB_STATE_FAILED:
      return "failed";
    case v1::JOB_STATE_CANCELLED:
      return "cancelled";
    default:
      return "unspecified";
  }
}

bool IsFinal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED;
}

v1::IterationMetrics ToProto(const IterationMetrics& m) {
  v1::IterationMetrics p;
  p.set_iteration(m.iteration);
  p.set_loss(m.loss);
  p.set_reg_loss(m.reg_loss);
  if (!std::isnan(m.error)) p.set_error(m.error);
  if (!std::isnan(m.nmse)) p.set_nmse(m.nmse);
  p.set_rate_hz(m.rate_hz);
  for (const PopulationRates& r : m.populations) {
    v1::PopulationRates* out = p.add_populations();
    out->set_population(r.name);
    out->set_mean_rate_hz(r.mean_hz);
    out->set_min_rate_hz(r.min_hz);
    out->set_max_rate_hz(r.max_hz);
  }
  p.set_ms_per_iteration(m.ms_per_iter);
  p.set_wall_s(m.wall_s);
  return p;
}

IterationMetrics FromProto(const v1::IterationMetrics& p) {
  IterationMetrics m;
  m.iteration = p.iteration();
  m.loss = p.loss();
  m.reg_loss = p.reg_loss();
  m.error = p.has_error() ? p.error() : NAN;
  m.nmse = p.has_nmse() ? p.nmse() : NAN;
  m.rate_hz = p.rate_hz();
  for (const v1::PopulationRates& r : p.populations()) {
    m.populations.push_back(
        {r.population(), r.mean_rate_hz(), r.min_rate_hz(), r.max_rate_hz()});
  }
  m.ms_per_iter = p.ms_per_iteration();
  m.wall_s = p.wall_s();
  return m;
}

}  // namespace eprop::server
