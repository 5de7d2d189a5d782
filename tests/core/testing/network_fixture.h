// Shared set-up for tests of the fast gradient paths: a reference-setting
// network (eprop-math.md section 5) with Poisson inputs that spike, and the
// exact losses of a batch.
#ifndef EPROP_TESTS_CORE_TESTING_NETWORK_FIXTURE_H_
#define EPROP_TESTS_CORE_TESTING_NETWORK_FIXTURE_H_

#include <cstdint>

#include "core/learn/firing_rate.h"
#include "core/learn/loss.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/sim/network_step.h"
#include "core/sim/simulate.h"
#include "core/sim/sparse_rows.h"
#include "core/util/random.h"

namespace eprop::testing {

struct Problem {
  NetworkConfig config;
  int steps = 0;
  int batch = 0;
  Weights<double> weights;
  MatD x;       // [T*B x n_in] Poisson spikes
  MatD target;  // [T*B x n_out] regression target
  MatD feedback;
  RateRegularizerConfig regularizer;
};

// 3 inputs, 4 LIF + 4 ALIF, MSE; inputs at 100 Hz, W_in scaled by 3 so that
// every sample spikes.
inline Problem ReferenceProblem(int steps, int batch, uint64_t seed) {
  Problem p;
  p.config.readout_bias = true;
  p.steps = steps;
  p.batch = batch;
  p.weights = InitWeights(p.config, seed);
  p.weights.w_in *= 3.0;
  p.weights.b_out.setConstant(0.1);
  Rng rng(seed + 1);
  p.x.resize(static_cast<int64_t>(steps) * batch, p.config.n_in);
  for (int64_t k = 0; k < p.x.size(); ++k) {
    p.x.data()[k] = rng.Bernoulli(0.1) ? 1.0 : 0.0;
  }
  p.target.resize(p.x.rows(), p.config.n_out);
  for (int64_t k = 0; k < p.target.size(); ++k) {
    p.target.data()[k] = rng.Normal();
  }
  p.feedback = InitRandomFeedback(p.config, 1.0, seed + 2);
  p.regularizer.c_reg = 0.5;
  p.regularizer.f_target_hz = 20.0;
  return p;
}

// Simulation and loss derivatives of a problem on the fast path.
template <typename S>
struct FastPass {
  NetworkModel<S> model;
  SparseRows<S> inputs;
  Trajectory<S> traj;
  LossGradient<S> loss;
  SpikeLossGradient<S> direct;
};

template <typename S>
FastPass<S> RunFastPass(const Problem& p, int threads = 1) {
  FastPass<S> pass;
  pass.model = NetworkModel<S>::Prepare(MakeNeuronConstants(p.config),
                                        p.weights.Cast<S>());
  pass.inputs = ToSparseRows<S>(p.x.cast<S>());
  SimulateOptions options;
  options.threads = threads;
  pass.traj = Simulate(pass.model, pass.inputs, p.steps, p.batch, options);
  pass.loss = MeanSquaredError<S>(pass.traj.y, p.target.cast<S>(), p.batch);
  pass.direct = RateRegularization(p.regularizer, pass.traj, p.config.dt_ms);
  return pass;
}

}  // namespace eprop::testing

#endif  // EPROP_TESTS_CORE_TESTING_NETWORK_FIXTURE_H_
