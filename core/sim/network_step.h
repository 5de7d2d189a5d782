// One time step of the batched LIF/ALIF network (equations in
// core/model/network_config.h). The same step serves whole-sequence
// simulation (BPTT, offline e-prop, inference) and streaming (online e-prop).
#ifndef EPROP_CORE_SIM_NETWORK_STEP_H_
#define EPROP_CORE_SIM_NETWORK_STEP_H_

#include <cstdint>
#include <vector>

#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"

namespace eprop {

// Weights and constants laid out for event-driven propagation. Rebuild after
// every weight update.
template <typename S>
struct NetworkModel {
  int n_in = 0, n_rec = 0, n_out = 0;
  Vec<S> alpha, rho, beta, c_in;
  S kappa = 0, v_th = 0, gamma = 0;
  int n_ref = 0;
  Mat<S> in_to_rec;   // [n_in x n_rec]: row i = c_in * W_in[:, i]
  Mat<S> rec_to_rec;  // [n_rec x n_rec]: row i = c_in * W_rec[:, i]
  Mat<S> rec_to_out;  // [n_rec x n_out]: row j = (1 - kappa) W_out[:, j]
  Vec<S> b_out;

  static NetworkModel Prepare(const NeuronConstants& constants,
                              const Weights<S>& weights);
};

// State of `batch` independent networks. Matrices are [batch x n_rec] except
// readout_filtered, which is [batch x n_out] and holds y - b.
template <typename S>
struct NetworkState {
  Mat<S> v, a, refractory, z, psi, threshold;
  Mat<S> current;  // synaptic input buffer, all zero between steps
  Mat<S> readout_filtered;
  // Spikes of the last step, encoded b * n_rec + j, ascending.
  std::vector<int32_t> spikes;

  // Zero state for `batch` networks of the model's shape.
  void Reset(const NetworkModel<S>& model, int batch);
  int batch() const { return static_cast<int>(v.rows()); }
};

// Advances every network in `state` by one step. This step's input of
// sample b is row first_input_row + b of `inputs` (sparse [rows x n_in]).
// Afterwards state->z, psi, threshold, spikes and readout_filtered describe
// the new step.
template <typename S>
void Step(const NetworkModel<S>& model, const SparseRows<S>& inputs,
          int64_t first_input_row, NetworkState<S>* state);

}  // namespace eprop

#endif  // EPROP_CORE_SIM_NETWORK_STEP_H_
