// Whole-sequence simulation of a batch, recording what the gradient passes
// need: pseudo-derivatives, spikes (as events) and readout outputs.
#ifndef EPROP_CORE_SIM_SIMULATE_H_
#define EPROP_CORE_SIM_SIMULATE_H_

#include <vector>

#include "core/sim/network_step.h"
#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"

namespace eprop {

// A contiguous range of samples [begin, end) simulated by one thread. Shards
// depend only on the batch size, never on the thread count, so results are
// identical for any number of threads.
struct Shard {
  int begin = 0;
  int end = 0;
  int size() const { return end - begin; }
};
std::vector<Shard> MakeShards(int batch);

// Row t * batch + b of every [T*B x .] matrix belongs to step t, sample b.
template <typename S>
struct Trajectory {
  int steps = 0;
  int batch = 0;
  int n_rec = 0;
  std::vector<Shard> shards;
  Mat<S> psi;  // [T*B x n_rec] pseudo-derivative
  Mat<S> y;    // [T*B x n_out] readout
  // Spikes of shard s, over local rows t * shards[s].size() + (b - begin).
  std::vector<SparseRows<S>> spikes;
  // Recorded only when SimulateOptions::record_state is set.
  Mat<S> v;          // [T*B x n_rec] membrane potential
  Mat<S> threshold;  // [T*B x n_rec] adaptive threshold A

  // Spike counts per neuron, summed over batch and time.
  VecD SpikeCountPerNeuron() const;
  // z as a dense [T*B x n_rec] matrix of 0/1.
  Mat<S> DenseSpikes() const;
};

struct SimulateOptions {
  bool record_state = false;
  int threads = 1;
};

// Simulates `batch` sequences of `steps` steps from the zero state. inputs
// is [steps*batch x n_in] with row t * batch + b. Writes into *traj, reusing
// its buffers when the shapes repeat (a training loop should keep one
// trajectory alive: fresh 50 MB buffers cost more in page faults than the
// simulation itself).
template <typename S>
void Simulate(const NetworkModel<S>& model, const SparseRows<S>& inputs,
              int steps, int batch, const SimulateOptions& options,
              Trajectory<S>* traj);

// Convenience form returning a new trajectory.
template <typename S>
Trajectory<S> Simulate(const NetworkModel<S>& model,
                       const SparseRows<S>& inputs, int steps, int batch,
                       const SimulateOptions& options) {
  Trajectory<S> traj;
  Simulate(model, inputs, steps, batch, options, &traj);
  return traj;
}

// Rows t * batch + b of a batch-major [steps*batch x cols] matrix for one
// sample b, as [steps x cols].
template <typename S>
Mat<S> SampleRows(const Mat<S>& m, int steps, int batch, int b) {
  Mat<S> out(steps, m.cols());
  for (int t = 0; t < steps; ++t) out.row(t) = m.row(int64_t{t} * batch + b);
  return out;
}

}  // namespace eprop

#endif  // EPROP_CORE_SIM_SIMULATE_H_
