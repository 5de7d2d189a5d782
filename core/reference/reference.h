// Scalar double-precision reference implementation of the network and of its
// gradients (docs eprop-math.md sections 1-5): the forward pass, exact
// backpropagation through time, e-prop with explicit per-synapse eligibility
// traces, and the factorised gradient of paper eq. 1.
//
// Everything here is written as plain loops over one sample at a time, in
// double precision, with one equation per line and the paper's symbols. It is
// the independent yardstick the fast paths (core/sim, core/learn) are tested
// against, so it favours clarity and exactness over speed: cost is
// O(T * n_rec * (n_in + n_rec)) per sample and nothing is vectorised.
//
// Conventions (the same as core/sim/network_step.cc):
//   - row t = 0..T-1 of every [T x .] matrix is the paper's step t = 1..T;
//   - all state (v, a, r, z, zf, traces) is zero before the first step,
//     unless Forward is given an initial SampleState (an unroll that
//     continues a previous one). The initial state is a constant: no
//     gradient flows into it, the eligibility traces start at zero, its
//     spikes z enter the gradient as the presynaptic z(-1) of the recurrent
//     synapses at the first step, and its zf decays on in the recorded zf,
//     which dE/dW_out reads;
//   - neurons 0..n_lif-1 are LIF, n_lif..n_rec-1 are ALIF;
//   - u_j(t) = (v_j(t) - A_j(t)) / v_th, a spike needs u > 0 strictly;
//   - neuron j is refractory at step t iff r_j(t-1) > 0, and then z_j(t) = 0
//     and psi_j(t) = 0;
//   - readout: zf(t) = kappa zf(t-1) + (1 - kappa) z(t),
//     y(t) = W_out zf(t) + b.
#ifndef EPROP_CORE_REFERENCE_REFERENCE_H_
#define EPROP_CORE_REFERENCE_REFERENCE_H_

#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/util/eigen_types.h"

namespace eprop::reference {

// Width of the smooth spike function, in units of u = (v - A) / v_th.
inline constexpr double kSigmoidWidth = 0.25;

enum class SpikeFunction {
  // z = H(u) and psi = gamma / v_th * max(0, 1 - |u|), the pseudo-derivative
  // of the paper. This is the network every learning rule trains.
  kHeaviside,
  // z = sigmoid(u / kSigmoidWidth) and psi = dz/dv, its exact derivative, so
  // that BPTT is the exact gradient of the loss and finite differences can
  // check it. The refractory counter is still driven by the hard spike H(u)
  // (piecewise constant in the weights, so it never carries gradient); while
  // refractory z = 0 and psi = 0.
  kSigmoid,
};

// The state of one sample's network between two steps: everything the next
// step reads. Every vector is [n_rec].
struct SampleState {
  VecD v;   // membrane potential
  VecD a;   // adaptation variable
  VecD r;   // refractory counter
  VecD z;   // spikes of the last step (smooth values for kSigmoid)
  VecD zf;  // filtered spikes of the readout

  // The state before the first step of a fresh sample: all zero.
  static SampleState Zero(int n_rec);
};

// The recorded forward pass of one sample. Rows are time steps.
struct SampleTrajectory {
  MatD v;          // [T x n_rec] membrane potential v(t)
  MatD a;          // [T x n_rec] adaptation variable a(t)
  MatD threshold;  // [T x n_rec] adaptive threshold A(t) = v_th + beta a(t)
  MatD z;          // [T x n_rec] spikes z(t) (smooth values for kSigmoid)
  MatD psi;        // [T x n_rec] dz/dv used by every learning rule
  MatD r;          // [T x n_rec] refractory counter r(t), driven by H(u)
  MatD zf;         // [T x n_rec] filtered spikes zf(t)
  MatD y;          // [T x n_out] readout y(t)
  // The state before the first step (Forward sets it; the zero state unless
  // one was given). Vectors left empty count as zero, so trajectories built
  // by hand need not set it.
  SampleState initial;

  int steps() const { return static_cast<int>(z.rows()); }
};

// Simulates one sample from the zero state. Requires config.Validate().ok(),
// weights of the config's shapes with a zero diagonal in w_rec, and x of
// shape [T x n_in] (T >= 1). b_out is added as it is; it is zero unless the
// config has a readout bias.
SampleTrajectory Forward(const NetworkConfig& config, const Weights<double>& w,
                         const MatD& x,
                         SpikeFunction spike = SpikeFunction::kHeaviside);

// The same from a given state (e.g. FinalState of the previous unroll), with
// every vector of `initial` of size n_rec. Forward(config, w, x1) followed by
// Forward(config, w, x2, FinalState(...)) reproduces Forward over x1 then x2
// exactly. Bptt, EpropGradient and FactorizedGradient of the result treat
// the initial state as a constant (the stop-gradient at the boundary of an
// unroll, as in the reference Atari code).
SampleTrajectory Forward(const NetworkConfig& config, const Weights<double>& w,
                         const MatD& x, const SampleState& initial,
                         SpikeFunction spike = SpikeFunction::kHeaviside);

// The state after the last step of `trajectory` (which needs T >= 1), to
// start the next unroll from.
SampleState FinalState(const SampleTrajectory& trajectory);

struct BpttResult {
  // dE/dW_in, dE/dW_rec (zero diagonal), dE/dW_out and dE/db (zero unless
  // config.readout_bias).
  Weights<double> grad;
  // [T x n_rec] total derivative of E with respect to z_j(t) through the
  // readout, the direct term, the recurrent synapses and the reset, EXCLUDING
  // the path z_j(t) -> a_j(t+1), which lives inside the eligibility trace
  // (section 5a). With stop_gradient it is the readout and direct part only.
  MatD dE_dz;
};

// Backpropagation through time for one sample, as a literal reverse-mode pass
// over the forward graph of `trajectory` (which must be Forward(config, w, x)
// with either spike function). Uses psi as dz/dv and -beta psi as dz/da; the
// refractory counter carries no gradient.
//
// dE_dy [T x n_out] is the partial derivative of the loss with respect to
// y(t); dE_dz_direct [T x n_rec] is the partial derivative with respect to
// z(t) that does not go through y (e.g. firing-rate regularisation).
// stop_gradient = true is section 5b ("autodiff e-prop"): no gradient flows
// from v(t) into z(t-1), neither through W_rec nor through the reset, but it
// does flow from a(t) into z(t-1).
BpttResult Bptt(const NetworkConfig& config, const Weights<double>& w,
                const MatD& x, const SampleTrajectory& trajectory,
                const MatD& dE_dy, const MatD& dE_dz_direct,
                bool stop_gradient);

// E-prop (paper eq. 25) with every eligibility trace computed forward in
// time, explicitly per synapse (zbar, eps^a, e, ebar), for the input and the
// recurrent synapses. Returns
//   W_in, W_rec: sum_t L_j(t) ebar_ji(t) + sum_t dE_dz_direct_j(t) e_ji(t),
//                with L_j(t) = sum_k B_jk dE_dy_k(t) and a zero diagonal;
//   W_out:       sum_t dE_dy(t) zf(t)^T (exact);
//   b:           sum_t dE_dy(t) (exact; zero unless config.readout_bias).
// feedback is B, [n_rec x n_out]; B = W_out^T is symmetric e-prop, for which
// the result equals Bptt(..., stop_gradient = true).grad.
Weights<double> EpropGradient(const NetworkConfig& config,
                              const Weights<double>& w, const MatD& x,
                              const SampleTrajectory& trajectory,
                              const MatD& dE_dy, const MatD& dE_dz_direct,
                              const MatD& feedback);

// The factorisation of section 5a (paper eq. 1): sum_t dE_dz_j(t) e_ji(t) for
// W_in and W_rec (zero diagonal), where dE_dz [T x n_rec] is
// Bptt(..., stop_gradient = false).dE_dz. The result then equals the BPTT
// gradient of W_in and W_rec. W_out and b are left zero.
Weights<double> FactorizedGradient(const NetworkConfig& config,
                                   const Weights<double>& w, const MatD& x,
                                   const SampleTrajectory& trajectory,
                                   const MatD& dE_dz);

}  // namespace eprop::reference

#endif  // EPROP_CORE_REFERENCE_REFERENCE_H_
