// eprop-bench: milliseconds per training iteration (forward + gradient +
// Adam step) in the evidence-accumulation shape of eprop-math.md section 8,
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
#include "core/util/parallel.h"
#include "core/util/random.h"

ABSL_FLAG(bool, json, false, "print one JSON line per case");
ABSL_FLAG(int, iterations, 5, "timed iterations per case (after one warm-up)");
ABSL_FLAG(std::string, filter, "", "run only cases whose name contains this");
ABSL_FLAG(int, threads, 2, "worker threads");

namespace eprop {
namespace {

constexpr int kBatch = 64;
constexpr int kInputs = 40;
constexpr int kCues = 7;
constexpr int kCueMs = 100;
constexpr int kCueSpacingMs = 150;
constexpr int kSteps = kCueSpacingMs * kCues + 1200;  // 2250
constexpr int kRecallMs = 150;

NetworkConfig EvidenceConfig(int n_rec) {
  NetworkConfig c;
  c.n_in = kInputs;
  c.n_lif = n_rec / 2;
  c.n_alif = n_rec - n_rec / 2;
  c.n_out = 2;
  c.tau_m_ms = 20;
  c.tau_a_ms = 2000;
  c.v_th = 0.6;
  c.n_ref = 5;
  const double alpha = std::exp(-1.0 / 20), rho = std::exp(-1.0 / 2000);
  c.beta_alif = 1.7 * (1 - rho) / (1 - alpha);
  c.tau_out_ms = 20;
  return c;
}

// Poisson inputs of the evidence-accumulation task: cue groups at 40 Hz
// during their cues, recall group at 40 Hz at the end, background 10 Hz.
struct Batch {
  SparseRows<float> inputs;
  std::vector<int32_t> labels;
  std::vector<uint8_t> mask;
};

Batch MakeBatch(Rng& rng) {
  Mat<float> x = Mat<float>::Zero(static_cast<int64_t>(kSteps) * kBatch, kInputs);
  Batch batch;
  batch.labels.assign(x.rows(), 0);
  batch.mask.assign(x.rows(), 0);
  for (int b = 0; b < kBatch; ++b) {
    const double p_left = rng.Bernoulli(0.5) ? 0.7 : 0.3;
    std::vector<int> side(kCues);
    int left = 0;
    for (int& s : side) left += (s = rng.Bernoulli(p_left) ? 0 : 1) == 0;
    const int label = left > kCues / 2 ? 0 : 1;
    for (int t = 0; t < kSteps; ++t) {
      const int64_t row = static_cast<int64_t>(t) * kBatch + b;
      const int cue = t / kCueSpacingMs;
      const bool in_cue = cue < kCues && t % kCueSpacingMs < kCueMs;
      const bool recall = t >= kSteps - kRecallMs;
      for (int i = 0; i < kInputs; ++i) {
        const int group = i / 10;  // 0 left, 1 right, 2 recall, 3 background
        double rate_hz = 0;
        if (group == 3) rate_hz = 10;
        if (group < 2 && in_cue && side[cue] == group) rate_hz = 40;
        if (group == 2 && recall) rate_hz = 40;
        if (rng.Bernoulli(rate_hz / 1000.0)) x(row, i) = 1;
      }
      batch.labels[row] = label;
      batch.mask[row] = recall ? 1 : 0;
    }
  }
  batch.inputs = ToSparseRows(x);
  return batch;
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
        optimizer_(OptimizerConfig{}, weights_),
        rng_(3) {
    // Inputs are generated up front: the benchmark times training, not the
    // task generator.
    for (int k = 0; k < 2; ++k) batches_.push_back(MakeBatch(rng_));
  }

  // One iteration on a fresh batch; returns the batch's firing rate in Hz.
  double Iterate() {
    const Batch& batch = batches_[iteration_++ % batches_.size()];
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
                                 const Batch& batch) {
    SimulateOptions sim;
    sim.threads = threads_;
    Simulate(model, batch.inputs, kSteps, kBatch, sim, &traj_);
    const Trajectory<float>& traj = traj_;
    const LossGradient<float> loss =
        SoftmaxCrossEntropy(traj.y, batch.labels, batch.mask);
    RateRegularizerConfig reg;
    reg.c_reg = 1.0;
    const SpikeLossGradient<float> direct =
        RateRegularization(reg, traj, config_.dt_ms);
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
                                const Batch& batch) {
    const std::vector<Shard> shards = MakeShards(kBatch);
    std::vector<Weights<float>> grads(shards.size());
    std::vector<int64_t> spike_counts(shards.size(), 0);
    const int64_t masked = kRecallMs * kBatch;
    ParallelFor(static_cast<int>(shards.size()), threads_, [&](int s) {
      const Shard& shard = shards[s];
      OnlineEprop<float> online(&model, shard.size());
      const Mat<float> no_direct;
      Mat<float> dE_dy(shard.size(), config_.n_out);
      for (int t = 0; t < kSteps; ++t) {
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
    rate_hz_ = 1000.0 * spikes / (static_cast<double>(kSteps) * kBatch *
                                  config_.n_rec());
    return total;
  }

  NetworkConfig config_;
  NeuronConstants constants_;
  Algorithm algorithm_;
  int threads_;
  Weights<float> weights_;
  Mat<float> feedback_;
  Optimizer<float> optimizer_;
  Rng rng_;
  std::vector<Batch> batches_;
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
                     name, ms, threads, n_rec, kBatch, kSteps, iterations,
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
