// Whole-sequence gradients of the fast path: exact BPTT and offline e-prop.
//
// Both run one backward recursion per shard (t = T-1 .. 0), with
// gyf(t) = dE/dy(t) + kappa gyf(t+1) the backward-filtered readout error and
//   L(t)     = (1 - kappa) gyf(t) B^T + dE/dz_direct(t)   (learning signal)
//   gz(t)    = L(t) + q(t+1) [+ (c_in W_rec)^T delta(t+1) - v_th delta(t+1)]
//   delta(t) = psi(t) gz(t) + alpha delta(t+1)           (= dE/dv(t))
//   q(t)     = -beta psi(t) gz(t) + rho q(t+1)           (= dE/da(t))
//   dE/dW_in  = c_in sum_t delta(t) x(t)^T,  dE/dW_rec = c_in sum_t
//   delta(t) z(t-1)^T,  dE/dW_out = sum_t gyf(t) (1 - kappa) z(t)^T.
// z(-1) is zero, or trajectory.initial_z when the simulation started from a
// carried state (SimulateFrom), which is a constant: nothing flows into it;
// dE/dW_out then also gets kappa gyf(0) zf(-1)^T from the carried readout
// trace trajectory.initial_zf (y(t) = W_out zf(t) and zf(t) holds
// kappa^(t+1) zf(-1)).
// The bracketed recurrent/reset term is present for BPTT (with B = W_out^T)
// and absent for e-prop: that is eprop-math.md section 6's offline form
// (q and delta), which equals stop-gradient BPTT. Presynaptic terms are
// accumulated once per input event or spike, so the cost of the weight
// gradients scales with the number of spikes, not with T * n_pre * n_post.
#ifndef EPROP_CORE_LEARN_GRADIENT_H_
#define EPROP_CORE_LEARN_GRADIENT_H_

#include "core/learn/firing_rate.h"
#include "core/model/weights.h"
#include "core/sim/network_step.h"
#include "core/sim/simulate.h"
#include "core/sim/sparse_rows.h"

namespace eprop {

enum class GradientMethod {
  kBptt,          // exact; the feedback argument is ignored (W_out^T)
  kEpropOffline,  // e-prop with learning signals through `feedback`
};

struct GradientInputs {
  int threads = 1;
  bool readout_bias = false;  // if false, the bias gradient is zero
};

// Gradient of E = task loss + regulariser for one batch. `inputs`,
// `trajectory` and `dE_dy` are those of the same Simulate() call;
// `feedback` is B [n_rec x n_out] for e-prop.
template <typename S>
Weights<S> ComputeGradient(GradientMethod method, const NetworkModel<S>& model,
                           const Mat<S>& feedback, const SparseRows<S>& inputs,
                           const Trajectory<S>& trajectory, const Mat<S>& dE_dy,
                           const SpikeLossGradient<S>& dE_dz_direct,
                           const GradientInputs& options);

}  // namespace eprop

#endif  // EPROP_CORE_LEARN_GRADIENT_H_
