// Firing-rate regularisation (eprop-math.md section 2) and its partial
// derivative with respect to the spikes z.
//
// As in the reference, rates enter the loss in spikes per millisecond
// (mean z / dt_ms), so c_reg values carry over from the reference scripts
// unchanged; f_target_hz is converted accordingly.
#ifndef EPROP_CORE_LEARN_FIRING_RATE_H_
#define EPROP_CORE_LEARN_FIRING_RATE_H_

#include "absl/status/status.h"
#include "core/sim/simulate.h"
#include "core/util/eigen_types.h"

namespace eprop {

enum class RateAverage {
  // fbar_j = mean over batch and time; E = c_reg sum_j (fbar_j - f0)^2.
  kBatch,
  // The reference's "online" variant: the batch is one long stream
  // (sample 0's steps, then sample 1's, ...); fbar_j(k) is the running
  // average up to stream position k, and
  // E = c_reg sum_{b,j} mean_t (fbar_j(b, t) - f0)^2.
  kRunning,
};

struct RateRegularizerConfig {
  double c_reg = 0.0;  // 0 disables the regulariser
  double f_target_hz = 10.0;
  RateAverage average = RateAverage::kBatch;

  absl::Status Validate() const;
};

// dE/dz that does not pass through the readout. The derivative for step t,
// sample b, neuron j is per_neuron[j] (if not empty) plus
// per_step(t * batch + b, j) (if not empty).
template <typename S>
struct SpikeLossGradient {
  double loss = 0.0;
  Vec<S> per_neuron;
  Mat<S> per_step;
};

// The batch-average regulariser from spike counts per neuron summed over
// `rows` (steps x samples) rows: loss and per-neuron dE/dz.
template <typename S>
SpikeLossGradient<S> BatchRateRegularization(
    const RateRegularizerConfig& config, const VecD& counts, double rows,
    double dt_ms);

template <typename S>
SpikeLossGradient<S> RateRegularization(const RateRegularizerConfig& config,
                                        const Trajectory<S>& traj,
                                        double dt_ms);

// The same for spikes given as a dense [steps*batch x n_rec] matrix (row
// t * batch + b); z may be continuous (smooth spike functions).
template <typename S>
SpikeLossGradient<S> RateRegularizationOfDense(
    const RateRegularizerConfig& config, const Mat<S>& z, int steps, int batch,
    double dt_ms);

// Mean firing rate in Hz of every neuron over the batch and all steps.
template <typename S>
VecD FiringRatesHz(const Trajectory<S>& traj, double dt_ms);

}  // namespace eprop

#endif  // EPROP_CORE_LEARN_FIRING_RATE_H_
