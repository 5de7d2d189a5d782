// eprop-bench: milliseconds per training iteration (forward + gradient +
// Adam step) on evidence-accumulation batches (eprop-math.md section 8),
// for BPTT, offline e-prop and online e-prop, at 100, 400 and 1600
// recurrent neurons. With --json, one JSON line per case.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "core/learn/eprop_online.h"
#include "core/learn/firing_rate.h"
#include "core/learn/gradient.h"
#include "core/learn/loss.h"
#include "core/learn/optimizer.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/sim/simulate.h"
#include "core/tasks/evidence_accumulation.h"
#include "core/util/parallel.h"
#include "core/util/random.h"

ABSL_FLAG(bool, json, false, "print one JSON line per case");
ABSL_FLAG(int, iterations, 5, "timed iterations per case (after one warm-up)");
ABSL_FLAG(std::string, filter, "", "run only cases whose name contains this");
ABSL_FLAG(int, threads, 2, "worker threads");

namespace eprop {
namespace {

constexpr int kBatch = 64;

// The evidence-accumulation network of the paper with n_rec neurons, half
// LIF and half ALIF.
NetworkConfig EvidenceConfig(int n_rec) {
  NetworkConfig c = EvidenceNetwork(EvidenceAccumulationConfig{});
  c.n_lif = n_rec / 2;
  c.n_alif = n_rec - n_rec / 2;
  return c;
}

enum class Algorithm { kBptt, kEpropOffline, kEpropOnline };

// One training run's state: weights, feedback, Adam.
class Bench {
 public:
  Bench(int n_rec, Algorithm algorithm, int threads)
      : config_(EvidenceConfig(n_rec)),
        constants_(MakeNeuronConstants(config_)),
        algorithm_(algorithm),
        threads_(threads),
        weights_(InitWeights(config_, 1).Cast<float>()),
        feedback_(InitRandomFeedback(config_, 1.0, 2).cast<float>()),
        optimizer_(EvidenceOptimizer(), weights_),
        rng_(3) {
    // Inputs are generated up front: the benchmark times training, not the
    // task generator.
    for (int k = 0; k < 2; ++k) {
      batches_.push_back(MakeEvidenceBatch(task_, kBatch, rng_));
    }
  }

  // One iteration on a fresh batch; returns the batch's firing rate in Hz.
  double Iterate() {
    const TaskBatch& batch = batches_[iteration_++ % batches_.size()];
    const NetworkModel<float> model =
        NetworkModel<float>::Prepare(constants_, weights_);
    Weights<float> grad = algorithm_ == Algorithm::kEpropOnline
                              ? OnlineGradient(model, batch)
                              : OfflineGradient(model, batch);
    // The Adam step is timed, but applied to a copy: every timed iteration
    // then runs the same network at the same firing rate, so cases and
    // repeated runs compare like with like.
    Weights<float> updated = weights_;
    optimizer_.Apply(grad, &updated);
    return rate_hz_;
  }

 private:
  Weights<float> OfflineGradient(const NetworkModel<float>& model,
                                 const TaskBatch& batch) {
    SimulateOptions sim;
    sim.threads = threads_;
    Simulate(model, batch.inputs, batch.steps, kBatch, sim, &traj_);
    const Trajectory<float>& traj = traj_;
    const LossGradient<float> loss =
        SoftmaxCrossEntropy(traj.y, batch.labels, batch.mask);
    const SpikeLossGradient<float> direct =
        RateRegularization(EvidenceRegularizer(), traj, config_.dt_ms);
    rate_hz_ = FiringRatesHz(traj, config_.dt_ms).mean();
    GradientInputs options;
    options.threads = threads_;
    return ComputeGradient(algorithm_ == Algorithm::kBptt
                               ? GradientMethod::kBptt
                               : GradientMethod::kEpropOffline,
                           model, feedback_, batch.inputs, traj, loss.dE_dy,
                           direct, options);
  }

  // Online e-prop on batch shards in parallel; the cross-entropy gradient
  // of each step is computed from that step's output as it streams.
  Weights<float> OnlineGradient(const NetworkModel<float>& model,
                                const TaskBatch& batch) {
    const std::vector<Shard> shards = MakeShards(kBatch);
    std::vector<Weights<float>> grads(shards.size());
    std::vector<int64_t> spike_counts(shards.size(), 0);
    const int64_t masked = task_.recall_ms * kBatch;
    ParallelFor(static_cast<int>(shards.size()), threads_, [&](int s) {
      const Shard& shard = shards[s];
      OnlineEprop<float> online(&model, shard.size());
      const Mat<float> no_direct;
      Mat<float> dE_dy(shard.size(), config_.n_out);
      for (int t = 0; t < batch.steps; ++t) {
        const int64_t row = static_cast<int64_t>(t) * kBatch + shard.begin;
        online.Step(batch.inputs, row);
        spike_counts[s] += static_cast<int64_t>(online.state().spikes.size());
        if (batch.mask[row] == 0) {
          dE_dy.setZero();
        } else {
          const Mat<float> y = online.Output();
          for (int b = 0; b < shard.size(); ++b) {
            const Eigen::RowVectorXf e = (y.row(b).array() - y.row(b).maxCoeff()).exp();
            dE_dy.row(b) = e / e.sum();
            dE_dy(b, batch.labels[row + b]) -= 1.0f;
          }
          dE_dy /= static_cast<float>(masked);
        }
        online.Accumulate(dE_dy, no_direct, feedback_);
      }
      grads[s] = online.Gradient();
    });
    Weights<float> total = grads[0];
    for (size_t s = 1; s < grads.size(); ++s) total.Add(grads[s]);
    total.b_out.setZero();
    int64_t spikes = 0;
    for (int64_t count : spike_counts) spikes += count;
    rate_hz_ = 1000.0 * spikes / (static_cast<double>(batch.steps) * kBatch *
                                  config_.n_rec());
    return total;
  }

  EvidenceAccumulationConfig task_;
  NetworkConfig config_;
  NeuronConstants constants_;
  Algorithm algorithm_;
  int threads_;
  Weights<float> weights_;
  Mat<float> feedback_;
  Optimizer<float> optimizer_;
  Rng rng_;
  std::vector<TaskBatch> batches_;
  size_t iteration_ = 0;
  Trajectory<float> traj_;  // reused across iterations
  double rate_hz_ = 0;
};

void RunCase(const std::string& name, int n_rec, Algorithm algorithm,
             int threads, int iterations, bool json) {
  Bench bench(n_rec, algorithm, threads);
  // Online e-prop at 1600 neurons takes minutes per iteration (4 traces per
  // synapse and sample: 2.7 GB at batch 64): one timed iteration, no
  // warm-up (its buffers are allocated per iteration anyway).
  const bool huge = algorithm == Algorithm::kEpropOnline && n_rec >= 1600;
  if (huge) {
    iterations = 1;
  } else {
    bench.Iterate();  // warm-up
  }
  double total_ms = 0, rate = 0;
  for (int k = 0; k < iterations; ++k) {
    const auto start = std::chrono::steady_clock::now();
    rate = bench.Iterate();
    total_ms += std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
  }
  const double ms = total_ms / iterations;
  if (json) {
    std::cout << absl::StrFormat(
                     "{\"name\":\"%s\",\"ms_per_iter\":%.3f,\"threads\":%d,"
                     "\"n_rec\":%d,\"batch\":%d,\"steps\":%d,"
                     "\"iterations\":%d,\"rate_hz\":%.2f}",
                     name, ms, threads, n_rec, kBatch,
                     EvidenceAccumulationConfig{}.steps(), iterations,
                     rate)
              << std::endl;
  } else {
    std::cout << absl::StrFormat("%-28s %10.2f ms/iter  (threads %d)\n", name,
                                 ms, threads)
              << std::flush;
  }
}

}  // namespace
}  // namespace eprop

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const bool json = absl::GetFlag(FLAGS_json);
  const int iterations = std::max(1, absl::GetFlag(FLAGS_iterations));
  const int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  const std::string filter = absl::GetFlag(FLAGS_filter);
  struct Case {
    const char* algorithm_name;
    eprop::Algorithm algorithm;
  };
  const Case algorithms[] = {{"bptt", eprop::Algorithm::kBptt},
                             {"eprop_offline", eprop::Algorithm::kEpropOffline},
                             {"eprop_online", eprop::Algorithm::kEpropOnline}};
  for (int n_rec : {100, 400, 1600}) {
    for (const Case& c : algorithms) {
      const std::string name =
          absl::StrFormat("evidence_%s_n%d", c.algorithm_name, n_rec);
      if (!filter.empty() && name.find(filter) == std::string::npos) continue;
      eprop::RunCase(name, n_rec, c.algorithm, threads, iterations, json);
    }
  }
  return 0;
}
