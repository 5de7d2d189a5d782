#include "core/train/trial.h"

#include <algorithm>
#include <vector>

#include "core/learn/eprop_online.h"
#include "core/sim/simulate.h"

namespace eprop {
namespace {

// Row-wise softmax of [T x K] logits.
MatD Softmax(const MatD& logits) {
  MatD p(logits.rows(), logits.cols());
  for (Eigen::Index t = 0; t < logits.rows(); ++t) {
    const Eigen::RowVectorXd e =
        (logits.row(t).array() - logits.row(t).maxCoeff()).exp();
    p.row(t) = e / e.sum();
  }
  return p;
}

// ebar_ji(t) of sample 0 for the synapses from input `input` onto `posts`,
// from online e-prop run on that sample alone.
MatD EligibilityTraces(const NetworkModel<float>& model, const TaskBatch& batch,
                       const std::vector<int>& posts, int input) {
  OnlineEprop<float> online(&model, 1);
  MatD ebar(batch.steps, posts.size());
  for (int t = 0; t < batch.steps; ++t) {
    online.Step(batch.inputs, int64_t{t} * batch.batch);
    for (size_t n = 0; n < posts.size(); ++n) {
      ebar(t, n) = online.FilteredTrace(0, posts[n], input);
    }
  }
  return ebar;
}

}  // namespace

plot::TrialData RecordTrial(Trainer& trainer, const TaskBatch& batch) {
  const NetworkConfig& network = trainer.network();
  const NeuronConstants constants = MakeNeuronConstants(network);
  const NetworkModel<float> model =
      NetworkModel<float>::Prepare(constants, trainer.weights());
  SimulateOptions options;
  options.record_state = true;
  options.threads = trainer.config().threads;
  const Trajectory<float> traj =
      Simulate(model, batch.inputs, batch.steps, batch.batch, options);
  const int steps = batch.steps, b = batch.batch;
  auto sample = [&](const MatF& m) {
    return SampleRows(m, steps, b, 0).cast<double>().eval();
  };

  plot::TrialData d;
  d.title = trainer.task().name() + " (" +
            AlgorithmName(trainer.config().algorithm) + "), one trial";
  d.dt_ms = network.dt_ms;
  MatF x = MatF::Zero(static_cast<int64_t>(steps) * b, network.n_in);
  for (int64_t r = 0; r < x.rows(); ++r) {
    for (int64_t k = batch.inputs.begin(r); k < batch.inputs.end(r); ++k) {
      x(r, batch.inputs.cols[k]) += batch.inputs.value(k);
    }
  }
  d.inputs = sample(x);
  if (batch.classification && network.n_in % 4 == 0) {
    d.input_group_names = {"left", "right", "recall", "background"};
    for (int i = 0; i < network.n_in; ++i) {
      d.input_group.push_back(i / (network.n_in / 4));
    }
    d.output_names = {"left", "right"};
  }
  const MatD z = sample(traj.DenseSpikes());
  d.lif_spikes = z.leftCols(network.n_lif);
  d.alif_spikes = z.rightCols(network.n_alif);
  d.alif_thresholds =
      sample(traj.threshold).middleCols(network.n_lif, std::min(4, network.n_alif));
  d.v_th = network.v_th;

  d.classification = batch.classification;
  const MatD y = sample(traj.y);
  const LossGradient<float> loss = TaskLoss(batch, traj.y);
  if (batch.classification) {
    d.output = Softmax(y);
    d.target = MatD::Zero(steps, network.n_out);
    for (int t = 0; t < steps; ++t) {
      const int64_t row = int64_t{t} * b;
      if (batch.mask[row]) d.target(t, batch.labels[row]) = 1;
    }
  } else {
    d.output = y;
    d.target = sample(batch.target);
  }

  // Neurons shown: the first LIF and the first two ALIF (or what exists).
  std::vector<int> posts;
  for (int j : {0, network.n_lif, network.n_lif + 1, 1, 2}) {
    if (j < network.n_rec() && posts.size() < 3 &&
        std::find(posts.begin(), posts.end(), j) == posts.end()) {
      posts.push_back(j);
    }
  }
  const MatD signals = sample(loss.dE_dy) *
                       trainer.FeedbackMatrix().cast<double>().transpose();
  d.learning_signals.resize(steps, posts.size());
  for (size_t n = 0; n < posts.size(); ++n) {
    d.learning_signals.col(n) = signals.col(posts[n]);
  }
  Eigen::Index busiest = 0;
  d.inputs.colwise().sum().maxCoeff(&busiest);
  d.eligibility_traces = EligibilityTraces(model, batch, posts,
                                           static_cast<int>(busiest));
  return d;
}

}  // namespace eprop
