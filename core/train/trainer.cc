#include "core/train/trainer.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/learn/firing_rate.h"
#include "core/learn/loss.h"
#include "core/learn/online_learner.h"

namespace eprop {
namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

GradientMethod MethodOf(Algorithm a) {
  return a == Algorithm::kBptt ? GradientMethod::kBptt
                               : GradientMethod::kEpropOffline;
}

FeedbackMode FeedbackOf(Algorithm a) {
  switch (a) {
    case Algorithm::kEpropRandom:
      return FeedbackMode::kRandom;
    case Algorithm::kEpropAdaptive:
      return FeedbackMode::kAdaptive;
    default:
      return FeedbackMode::kSymmetric;  // BPTT ignores it
  }
}

// Fraction of samples whose decision, the argmax of the readout averaged
// over the masked steps, differs from the label.
double ClassificationError(const TaskBatch& batch, const Mat<float>& y) {
  int wrong = 0;
  for (int b = 0; b < batch.batch; ++b) {
    Eigen::VectorXd mean = Eigen::VectorXd::Zero(y.cols());
    for (int t = 0; t < batch.steps; ++t) {
      const int64_t row = int64_t{t} * batch.batch + b;
      if (batch.mask[row]) mean += y.row(row).cast<double>().transpose();
    }
    Eigen::Index decision = 0;
    mean.maxCoeff(&decision);
    wrong += decision != batch.sample_labels[b];
  }
  return static_cast<double>(wrong) / batch.batch;
}

std::vector<PopulationRates> PopulationStats(const NetworkConfig& network,
                                             const VecD& rates_hz) {
  std::vector<PopulationRates> out;
  auto add = [&](const char* name, int begin, int size) {
    if (size == 0) return;
    const auto r = rates_hz.segment(begin, size);
    out.push_back({name, r.mean(), r.minCoeff(), r.maxCoeff()});
  };
  add("LIF", 0, network.n_lif);
  add("ALIF", network.n_lif, network.n_alif);
  return out;
}

}  // namespace

absl::StatusOr<Algorithm> ParseAlgorithm(const std::string& name) {
  for (Algorithm a : {Algorithm::kBptt, Algorithm::kEpropSymmetric,
                      Algorithm::kEpropRandom, Algorithm::kEpropAdaptive}) {
    if (name == AlgorithmName(a)) return a;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown algorithm '", name,
      "'; known: bptt, eprop_symmetric, eprop_random, eprop_adaptive"));
}

const char* AlgorithmName(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kBptt:
      return "bptt";
    case Algorithm::kEpropSymmetric:
      return "eprop_symmetric";
    case Algorithm::kEpropRandom:
      return "eprop_random";
    case Algorithm::kEpropAdaptive:
      return "eprop_adaptive";
  }
  return "?";
}

absl::Status TrainerConfig::Validate() const {
  if (batch < 0 || batch > 100000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch must be in [1, 100000] (or 0 for the task default), got ",
        batch));
  }
  if (max_iterations < 0 || max_iterations > 100000000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_iterations must be in [0, 1e8], got ", max_iterations));
  }
  if (validate_every < 1 || validate_every > 100000000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "validate_every must be in [1, 1e8], got ", validate_every));
  }
  if (!std::isfinite(stop_criterion) || stop_criterion > 1e6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stop_criterion must be finite (negative: task default, 0: off), "
        "got ",
        stop_criterion));
  }
  if (early_stop_batches < 1 || early_stop_batches > 10000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "early_stop_batches must be in [1, 10000], got ", early_stop_batches));
  }
  if (lr_decay_every < 0 || !std::isfinite(lr_decay) || lr_decay <= 0 ||
      lr_decay > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("lr_decay must be in (0, 1] and lr_decay_every >= 0, got ",
                     lr_decay, " every ", lr_decay_every));
  }
  if (max_trajectory_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_trajectory_bytes must be >= 1, got ", max_trajectory_bytes));
  }
  if (checkpoint_every < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint_every must be >= 0 (0 = never), got ", checkpoint_every));
  }
  if (online_eprop && algorithm == Algorithm::kBptt) {
    return absl::InvalidArgumentError(
        "online_eprop needs an e-prop algorithm, not bptt");
  }
  if (threads < 1 || threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be in [1, 256], got ", threads));
  }
  return absl::OkStatus();
}

double TrajectoryBytes(const NetworkConfig& network, int steps, int batch) {
  // Per step and sample: psi and recorded v and threshold (float, per
  // neuron), the readout, and spike events.
  const double bytes_per_row =
      4.0 * (3 * network.n_rec() + network.n_out) + 16.0;
  return bytes_per_row * steps * batch;
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const std::string& task_name, const TrainerConfig& config) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<Task>> task = MakeTask(task_name, config.seed);
  if (!task.ok()) return task.status();
  const int batch = config.batch > 0 ? config.batch : (*task)->default_batch();
  const NetworkConfig network = config.network.value_or((*task)->network());
  if (config.network.has_value()) {
    const NetworkConfig task_network = (*task)->network();
    if (network.n_in != task_network.n_in ||
        network.n_out != task_network.n_out ||
        network.dt_ms != task_network.dt_ms) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "task %s needs n_in = %d, n_out = %d and dt_ms = %g", task_name,
          task_network.n_in, task_network.n_out, task_network.dt_ms));
    }
    if (absl::Status s = network.Validate(); !s.ok()) return s;
  }
  const OptimizerConfig optimizer =
      config.optimizer.value_or((*task)->optimizer());
  if (absl::Status s = optimizer.Validate(); !s.ok()) return s;
  if (config.online_eprop &&
      (*task)->regularizer().average != RateAverage::kBatch &&
      (*task)->regularizer().c_reg != 0) {
    return absl::InvalidArgumentError(
        "online_eprop needs the batch-average rate regulariser");
  }
  const double bytes = TrajectoryBytes(network, (*task)->steps(), batch);
  if (bytes > static_cast<double>(config.max_trajectory_bytes)) {
    const int64_t max_batch =
        static_cast<int64_t>(config.max_trajectory_bytes /
                             TrajectoryBytes(network, (*task)->steps(), 1));
    return absl::ResourceExhaustedError(absl::StrFormat(
        "batch %d x %d steps x %d neurons needs about %.1f GiB of trajectory "
        "memory; the limit is %.1f GiB, so the batch may be at most %d",
        batch, (*task)->steps(), network.n_rec(), bytes / (1 << 30),
        static_cast<double>(config.max_trajectory_bytes) / (1 << 30),
        max_batch));
  }
  return std::unique_ptr<Trainer>(
      new Trainer(std::move(*task), config, network, optimizer));
}

Trainer::Trainer(std::unique_ptr<Task> task, const TrainerConfig& config,
                 const NetworkConfig& network, const OptimizerConfig& optimizer)
    : task_(std::move(task)),
      config_(config),
      network_(network),
      constants_(MakeNeuronConstants(network_)),
      batch_(config.batch > 0 ? config.batch : task_->default_batch()),
      method_(MethodOf(config.algorithm)),
      regularizer_(task_->regularizer()),
      weights_(InitWeights(network_, config.seed).Cast<float>()),
      feedback_(task_->feedback(FeedbackOf(config.algorithm)), network_,
                config.seed + 1),
      optimizer_(optimizer, weights_),
      optimizer_config_(optimizer),
      rng_(config.seed + 2) {}

double Trainer::stop_criterion() const {
  return config_.stop_criterion < 0 ? task_->default_stop_criterion()
                                    : config_.stop_criterion;
}

double Trainer::ValidationError(const IterationMetrics& m) const {
  return std::isnan(m.error) ? m.nmse : m.error;
}

double Trainer::LearningRateAt(int64_t iteration) const {
  if (config_.lr_decay_every == 0) return optimizer_config_.learning_rate;
  return optimizer_config_.learning_rate *
         std::pow(config_.lr_decay,
                  static_cast<double>(iteration / config_.lr_decay_every));
}

IterationMetrics Trainer::Evaluate(const TaskBatch& batch) {
  const NetworkModel<float> model =
      NetworkModel<float>::Prepare(constants_, weights_);
  SimulateOptions options;
  options.threads = config_.threads;
  Simulate(model, batch.inputs, batch.steps, batch.batch, options, &traj_);
  IterationMetrics m;
  m.iteration = iteration_;
  m.loss = TaskLoss(batch, traj_.y).loss;
  m.reg_loss = RateRegularization(regularizer_, traj_, network_.dt_ms).loss;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (batch.classification) {
    m.error = ClassificationError(batch, traj_.y);
    m.nmse = nan;
  } else {
    const double mse = 2.0 * m.loss / (batch.steps * network_.n_out);
    m.nmse = mse / batch.target_variance;
    m.error = nan;
  }
  const VecD rates = FiringRatesHz(traj_, network_.dt_ms);
  m.rate_hz = rates.mean();
  m.populations = PopulationStats(network_, rates);
  return m;
}

void Trainer::UpdateWeights(const Weights<float>& gradient) {
  optimizer_.SetLearningRate(LearningRateAt(iteration_));
  Weights<float> applied;
  optimizer_.Apply(gradient, &weights_, &applied);
  feedback_.AfterUpdate(applied.w_out, &weights_);
}

void Trainer::ApplyGradient(const Weights<float>& gradient) {
  UpdateWeights(gradient);
  ++iteration_;
}

void Trainer::TrainStep() {
  const TaskBatch batch = task_->NextBatch(batch_, rng_);
  Weights<float> grad;
  if (config_.online_eprop) {
    OnlineLearner learner(constants_, regularizer_, network_.dt_ms,
                          network_.readout_bias, batch.batch, weights_);
    grad = OnlineBatchGradient(batch, feedback_.Matrix(weights_), &learner);
  } else {
    const NetworkModel<float> model =
        NetworkModel<float>::Prepare(constants_, weights_);
    SimulateOptions sim;
    sim.threads = config_.threads;
    Simulate(model, batch.inputs, batch.steps, batch.batch, sim, &traj_);
    const LossGradient<float> loss = TaskLoss(batch, traj_.y);
    const SpikeLossGradient<float> reg =
        RateRegularization(regularizer_, traj_, network_.dt_ms);
    GradientInputs options;
    options.threads = config_.threads;
    options.readout_bias = network_.readout_bias;
    grad = ComputeGradient(method_, model, feedback_.Matrix(weights_),
                           batch.inputs, traj_, loss.dE_dy, reg, options);
  }
  UpdateWeights(grad);
}

bool Trainer::ValidateAndCheckStop(const MetricsCallback& on_validation,
                                   double wall_s) {
  IterationMetrics m = Evaluate(task_->NextBatch(batch_, rng_));
  m.ms_per_iter = trained_since_validation_ > 0
                      ? train_ms_since_validation_ / trained_since_validation_
                      : 0.0;
  m.wall_s = wall_s;
  train_ms_since_validation_ = 0;
  trained_since_validation_ = 0;
  history_.push_back(m);
  if (on_validation) on_validation(m);
  const double criterion = stop_criterion();
  if (criterion <= 0 || iteration_ == 0 || ValidationError(m) >= criterion) {
    return false;
  }
  double sum = 0;
  for (int k = 0; k < config_.early_stop_batches; ++k) {
    sum += ValidationError(Evaluate(task_->NextBatch(batch_, rng_)));
  }
  return sum / config_.early_stop_batches < criterion;
}

TrainResult Trainer::Run(const MetricsCallback& on_validation,
                         const std::atomic<bool>* cancel,
                         const CheckpointCallback& on_checkpoint) {
  const Clock::time_point start = Clock::now();
  const int64_t first_iteration = iteration_;
  TrainResult result;
  for (;; ++iteration_) {
    if (on_checkpoint && config_.checkpoint_every > 0 &&
        iteration_ > first_iteration &&
        iteration_ % config_.checkpoint_every == 0) {
      on_checkpoint(SaveState());
    }
    if (cancel != nullptr && cancel->load()) {
      result.cancelled = true;
      break;
    }
    const bool last = iteration_ >= config_.max_iterations;
    // A restored run may already have validated this iteration.
    const bool validated =
        !history_.empty() && history_.back().iteration == iteration_;
    if ((iteration_ % config_.validate_every == 0 || last) && !validated &&
        ValidateAndCheckStop(on_validation, MillisecondsSince(start) / 1000)) {
      result.reached_criterion = true;
      break;
    }
    if (last) break;
    const Clock::time_point step_start = Clock::now();
    TrainStep();
    train_ms_since_validation_ += MillisecondsSince(step_start);
    ++trained_since_validation_;
  }
  result.iterations = iteration_;
  if (!history_.empty()) result.last = history_.back();
  result.wall_s = MillisecondsSince(start) / 1000.0;
  return result;
}

std::string Trainer::RunDescription() const {
  std::string out = absl::StrFormat(
      "task=%s algorithm=%s seed=%d batch=%d validate_every=%d "
      "stop_criterion=%.17g early_stop_batches=%d lr_decay_every=%d "
      "lr_decay=%.17g",
      task_->name(), AlgorithmName(config_.algorithm), config_.seed, batch_,
      config_.validate_every, stop_criterion(), config_.early_stop_batches,
      config_.lr_decay_every, config_.lr_decay);
  // Replacements only, so that runs with the task's defaults keep the
  // description (and checkpoints) of earlier versions.
  if (config_.network.has_value()) {
    const NetworkConfig& n = network_;
    absl::StrAppendFormat(
        &out,
        " network=n_lif:%d,n_alif:%d,tau_m_ms:%.17g,tau_a_ms:%.17g,"
        "beta:%.17g,v_th:%.17g,n_ref:%d,gamma:%.17g,tau_out_ms:%.17g,"
        "bias:%d",
        n.n_lif, n.n_alif, n.tau_m_ms, n.tau_a_ms, n.beta_alif, n.v_th, n.n_ref,
        n.gamma, n.tau_out_ms, n.readout_bias);
  }
  if (config_.online_eprop) out += " form=online";
  if (config_.optimizer.has_value()) {
    const OptimizerConfig& o = optimizer_config_;
    absl::StrAppendFormat(
        &out,
        " optimizer=%s,lr:%.17g,beta1:%.17g,beta2:%.17g,eps:%.17g,"
        "clip:%.17g",
        o.kind == OptimizerConfig::Kind::kAdam ? "adam" : "sgd",
        o.learning_rate, o.beta1, o.beta2, o.epsilon, o.clip_global_norm);
  }
  return out;
}

TrainingCheckpoint Trainer::SaveState() const {
  TrainingCheckpoint s;
  s.run_config = RunDescription();
  s.iteration = iteration_;
  s.weights = weights_;
  s.feedback = feedback_.stored_matrix();
  s.optimizer = optimizer_.state();
  s.rng_state = rng_.SaveState();
  s.history = history_;
  return s;
}

absl::Status Trainer::RestoreState(const TrainingCheckpoint& state) {
  // Validate everything, then commit: a bad state changes nothing.
  if (state.run_config != RunDescription()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the checkpoint belongs to a different run (",
                     state.run_config, "); this run is ", RunDescription()));
  }
  if (state.weights.w_in.rows() != weights_.w_in.rows() ||
      state.weights.w_in.cols() != weights_.w_in.cols() ||
      state.weights.w_rec.cols() != weights_.w_rec.cols() ||
      state.weights.w_out.rows() != weights_.w_out.rows() ||
      state.weights.b_out.size() != weights_.b_out.size()) {
    return absl::FailedPreconditionError(
        "the saved weights do not fit this task's network");
  }
  if (absl::Status s = optimizer_.CheckState(state.optimizer); !s.ok()) {
    return s;
  }
  if ((state.feedback.size() == 0) != (feedback_.stored_matrix().size() == 0)) {
    return absl::FailedPreconditionError(
        "the saved feedback matrix does not match this algorithm");
  }
  Feedback<float> feedback = feedback_;
  if (state.feedback.size() > 0) {
    if (absl::Status s = feedback.SetStoredMatrix(state.feedback); !s.ok()) {
      return s;
    }
  }
  Rng rng(0);
  if (!rng.RestoreState(state.rng_state)) {
    return absl::DataLossError("the saved random-number state is corrupt");
  }
  if (state.iteration < 0) {
    return absl::DataLossError("the saved iteration is negative");
  }
  iteration_ = state.iteration;
  weights_ = state.weights;
  feedback_ = std::move(feedback);
  optimizer_.set_state(state.optimizer);
  rng_ = rng;
  history_ = state.history;
  return absl::OkStatus();
}

}  // namespace eprop
