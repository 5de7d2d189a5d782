// Online e-prop (eprop-math.md section 6, "online"): the network and the
// eligibility traces of eq. 25 advance together, one step at a time, and the
// gradient is accumulated every step. Memory is constant in the sequence
// length; the cost is O(n_rec * (n_in + n_rec)) per step and sample.
//
// Per synapse ji (presynaptic i over inputs then recurrent units):
//   eps_a(t) = (rho_j - beta_j psi_j(t-1)) eps_a(t-1) + psi_j(t-1) zbar(t-1)
//   zbar(t)  = alpha_j zbar(t-1) + c_in_j zpre_i(t)
//   e(t)     = psi_j(t) (zbar(t) - beta_j eps_a(t))
//   ebar(t)  = kappa ebar(t-1) + (1 - kappa) e(t)
//   grad    += L_j(t) ebar(t) + dE/dz_direct_j(t) e(t)
// with zpre = x(t) for inputs and z(t-1) for recurrent synapses.
#ifndef EPROP_CORE_LEARN_EPROP_ONLINE_H_
#define EPROP_CORE_LEARN_EPROP_ONLINE_H_

#include <vector>

#include "core/model/weights.h"
#include "core/sim/network_step.h"
#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"

namespace eprop {

template <typename S>
class OnlineEprop {
 public:
  // `model` must outlive this object; rebuild it (and call set_model) after
  // a weight update.
  OnlineEprop(const NetworkModel<S>* model, int batch);

  // Advances network and traces by one step; this step's input of sample b
  // is row first_input_row + b of `inputs`.
  void Step(const SparseRows<S>& inputs, int64_t first_input_row);

  // Readout y(t) of the last step, [batch x n_out].
  Mat<S> Output() const;
  const NetworkState<S>& state() const { return state_; }
  // ebar_ji(t) of the last step for sample b; i counts inputs first, then
  // recurrent units.
  S FilteredTrace(int b, int j, int i) const {
    return ebar_(static_cast<int64_t>(b) * model_->n_rec + j, i);
  }

  // Adds this step's gradient. dE_dy: [batch x n_out] for the last step;
  // dE_dz_direct: [batch x n_rec] or empty; feedback: B [n_rec x n_out].
  void Accumulate(const Mat<S>& dE_dy, const Mat<S>& dE_dz_direct,
                  const Mat<S>& feedback);

  // Adds sum_b e_b(t) of the last step to trace_sum(). A per-neuron dE/dz
  // that is the same at every step of a sequence (the batch-average rate
  // regulariser) contributes dE/dz_j * trace_sum().row(j) to the gradient,
  // which is known only when the sequence ends.
  void AccumulateTraceSum();
  // [n_rec x (n_in + n_rec)], since the last ResetGradient().
  const Mat<S>& trace_sum() const { return trace_sum_; }

  // Accumulated gradient (W_in, W_rec with zero diagonal, W_out, b).
  Weights<S> Gradient() const;
  void ResetGradient();
  // Zero network state and traces (start of a new sequence).
  void ResetState();
  void set_model(const NetworkModel<S>* model) { model_ = model; }

 private:
  int presynaptic() const { return model_->n_in + model_->n_rec; }

  const NetworkModel<S>* model_;
  int batch_;
  NetworkState<S> state_;
  // Per sample b, [n_rec x (n_in + n_rec)] row-major blocks, stacked.
  Mat<S> zbar_, eps_a_, e_, ebar_, grad_in_rec_, trace_sum_;
  Mat<S> psi_prev_;  // [batch x n_rec]
  Mat<S> zf_;        // [batch x n_rec] filtered spikes for the W_out gradient
  Mat<S> grad_out_;  // [n_out x n_rec]
  Vec<S> grad_bias_;
  std::vector<S> zpre_;
};

}  // namespace eprop

#endif  // EPROP_CORE_LEARN_EPROP_ONLINE_H_
