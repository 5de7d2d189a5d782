#include "client/cli/demo_command.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>

#include "absl/strings/str_format.h"
#include "client/cli/args.h"
#include "core/learn/feedback.h"
#include "core/learn/gradient.h"
#include "core/learn/loss.h"
#include "core/learn/optimizer.h"
#include "core/sim/simulate.h"
#include "core/tasks/pattern_generation.h"

namespace eprop::cli {
namespace {

const std::vector<FlagSpec>& DemoFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"algorithm", false,
       "bptt, eprop_symmetric, eprop_random or eprop_adaptive",
       "eprop_random"},
      {"iterations", false, "training iterations", "1000"},
      {"seed", false, "seed of the task and the initial weights", "1"},
      {"threads", false, "worker threads", "2"},
      {"help", true, "show this help", ""},
  };
  return *flags;
}

constexpr char kDemoUsage[] =
    "usage: eprop demo [--algorithm=A] [--iterations=N] [--seed=N]\n\n"
    "Trains a network of 100 LIF neurons locally on pattern generation\n"
    "(paper Fig. S7: frozen 50 Hz Poisson input, a sum of four sines as\n"
    "target, plain SGD) and prints progress: iteration, loss, normalised\n"
    "MSE (MSE / target variance), mean firing rate, ms per iteration, ETA.\n\n";

struct Algorithm {
  GradientMethod method;
  FeedbackMode feedback;
};

bool ParseAlgorithm(const std::string& name, Algorithm* out) {
  if (name == "bptt") *out = {GradientMethod::kBptt, FeedbackMode::kSymmetric};
  else if (name == "eprop_symmetric") *out = {GradientMethod::kEpropOffline, FeedbackMode::kSymmetric};
  else if (name == "eprop_random") *out = {GradientMethod::kEpropOffline, FeedbackMode::kRandom};
  else if (name == "eprop_adaptive") *out = {GradientMethod::kEpropOffline, FeedbackMode::kAdaptive};
  else return false;
  return true;
}

int UsageError(const std::string& message) {
  std::cerr << "eprop demo: " << message << " (see eprop demo --help)\n";
  return 2;
}

}  // namespace

int RunDemoCommand(const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = Args::Parse(argv, DemoFlags());
  if (!args.ok()) return UsageError(std::string(args.status().message()));
  if (args->Has("help")) {
    std::cout << kDemoUsage << FlagHelp(DemoFlags());
    return 0;
  }
  if (!args->positional().empty()) {
    return UsageError("unexpected argument '" + args->positional()[0] + "'");
  }
  Algorithm algorithm;
  if (!ParseAlgorithm(args->GetString("algorithm"), &algorithm)) {
    return UsageError("--algorithm must be bptt, eprop_symmetric, "
                      "eprop_random or eprop_adaptive, got '" +
                      args->GetString("algorithm") + "'");
  }
  absl::StatusOr<int64_t> iterations = args->GetInt("iterations", 1, 1000000);
  absl::StatusOr<int64_t> seed = args->GetInt("seed", 0, INT64_MAX);
  absl::StatusOr<int64_t> threads = args->GetInt("threads", 1, 256);
  for (const absl::Status& s :
       {iterations.status(), seed.status(), threads.status()}) {
    if (!s.ok()) return UsageError(std::string(s.message()));
  }

  PatternGenerationConfig task;
  task.seed = static_cast<uint64_t>(*seed);
  const PatternGenerationData data = MakePatternGeneration(task);
  const NetworkConfig network = PatternGenerationNetwork(task);
  const NeuronConstants constants = MakeNeuronConstants(network);
  Weights<float> weights = InitWeights(network, task.seed + 1).Cast<float>();
  FeedbackConfig feedback_config;
  feedback_config.mode = algorithm.feedback;
  feedback_config.random_stddev = 1.0 / std::sqrt(network.n_rec());
  Feedback<float> feedback(feedback_config, network, task.seed + 2);
  Optimizer<float> optimizer(PatternGenerationOptimizer(), weights);
  const RateRegularizerConfig regularizer = PatternGenerationRegularizer();

  std::cout << absl::StrFormat(
      "pattern generation: %d LIF neurons, T = %d ms, %s, %d iterations\n",
      network.n_rec(), task.steps, args->GetString("algorithm"), *iterations);
  const bool live = isatty(STDOUT_FILENO);
  Trajectory<float> traj;
  SimulateOptions sim;
  sim.threads = static_cast<int>(*threads);
  GradientInputs grad_options;
  grad_options.threads = sim.threads;
  Weights<float> applied;
  const auto start = std::chrono::steady_clock::now();
  double first_nmse = 0, nmse = 0;
  for (int64_t it = 1; it <= *iterations; ++it) {
    const NetworkModel<float> model =
        NetworkModel<float>::Prepare(constants, weights);
    Simulate(model, data.inputs, task.steps, 1, sim, &traj);
    const LossGradient<float> loss = MeanSquaredError(traj.y, data.target, 1);
    const SpikeLossGradient<float> reg =
        RateRegularization(regularizer, traj, network.dt_ms);
    const Weights<float> grad = ComputeGradient(
        algorithm.method, model, feedback.Matrix(weights), data.inputs, traj,
        loss.dE_dy, reg, grad_options);
    optimizer.Apply(grad, &weights, &applied);
    feedback.AfterUpdate(applied.w_out, &weights);

    nmse = 2.0 * loss.loss / task.steps / data.target_variance;
    if (it == 1) first_nmse = nmse;
    if (it % 50 == 0 || it == 1 || it == *iterations) {
      const double elapsed_s = std::chrono::duration<double>(
                                   std::chrono::steady_clock::now() - start)
                                   .count();
      const double ms_per_iter = 1000.0 * elapsed_s / it;
      const double eta_s = ms_per_iter * (*iterations - it) / 1000.0;
      std::cout << absl::StrFormat(
                       "%siteration %5d/%d  loss %9.3f  nmse %6.3f  "
                       "rate %5.1f Hz  %6.2f ms/iter  ETA %5.1f s%s",
                       live ? "\r" : "", it, *iterations, loss.loss, nmse,
                       FiringRatesHz(traj, network.dt_ms).mean(), ms_per_iter,
                       eta_s, live ? "" : "\n")
                << std::flush;
    }
  }
  std::cout << absl::StrFormat(
      "%snormalised MSE: %.3f at the start, %.3f after %d iterations\n",
      live ? "\n" : "", first_nmse, nmse, *iterations);
  return std::isfinite(nmse) ? 0 : 1;
}

}  // namespace eprop::cli
