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
  // [B x n_rec] spikes z(-1) and filtered spikes zf(-1) of the step before
  // the first, when the simulation started from a given state
  // (SimulateFrom); empty (0 x 0) for the zero state. Constants for the
  // gradient passes: z(-1) is the presynaptic input of the recurrent
  // synapses at t = 0, and W_out also multiplies the decaying kappa^(t+1)
  // zf(-1) in y(t).
  Mat<S> initial_z;
  Mat<S> initial_zf;

  // Spike counts per neuron, summed over batch and time.
  VecD SpikeCountPerNeuron() const;
  // z as a dense [T*B x n_rec] matrix of 0/1.
  Mat<S> DenseSpikes() const;
};

// The state of `batch` networks between two steps, carried from the end of
// one simulated segment (an unroll) to the start of the next. Row b belongs
// to sample b; every matrix is [batch x n_rec]. zf is the filtered spike
// trace of the readout, zf(t) = kappa zf(t-1) + (1 - kappa) z(t), so that
// y = W_out zf + b holds with whatever W_out the next segment uses.
template <typename S>
struct CarriedState {
  Mat<S> v, a, refractory, z, zf;

  // The state of fresh networks: all zero.
  static CarriedState Zero(int n_rec, int batch);
  int batch() const { return static_cast<int>(v.rows()); }
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

// The same, starting from `initial` (nullptr: the zero state; otherwise of
// shape [batch x model.n_rec], with 0/1 spikes z) instead of the zero state,
// and writing the state after the last step into *final_state unless it is
// nullptr (it may be the same object as `initial`). Simulating T1 steps and
// then T2 steps from the carried state reproduces one simulation of T1 + T2
// steps (y to rounding: the carried readout is rebuilt from zf). The initial
// state is a constant for ComputeGradient: traces start at zero and only
// initial->z and initial->zf enter, through traj->initial_z and
// traj->initial_zf.
template <typename S>
void SimulateFrom(const NetworkModel<S>& model, const SparseRows<S>& inputs,
                  int steps, int batch, const SimulateOptions& options,
                  const CarriedState<S>* initial, Trajectory<S>* traj,
                  CarriedState<S>* final_state);

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
