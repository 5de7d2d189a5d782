// Parameters of a recurrent LIF/ALIF network with a leaky readout, and the
// constants derived from them (eprop-math.md sections 1-2).
//
// Neurons 0 .. n_lif-1 are LIF (beta = 0); neurons n_lif .. n_rec-1 are ALIF.
// Per step (dt), for t = 1..T, with inputs x(t) and previous spikes z(t-1):
//   a_j(t) = rho_j a_j(t-1) + z_j(t-1)
//   A_j(t) = v_th + beta_j a_j(t)
//   v_j(t) = alpha_j v_j(t-1) + c_in_j (W_in x(t) + W_rec z(t-1))_j
//            - v_th z_j(t-1)
//   z_j(t) = H((v_j(t) - A_j(t)) / v_th), 0 while refractory
//   r_j(t) = clip(r_j(t-1) + n_ref z_j(t) - 1, 0, n_ref)
//   psi_j(t) = gamma / v_th max(0, 1 - |v_j(t) - A_j(t)| / v_th), 0 while
//              refractory (j is refractory at t iff r_j(t-1) > 0)
//   zf(t) = kappa zf(t-1) + (1 - kappa) z(t),  y(t) = W_out zf(t) + b
// All state starts at zero.
#ifndef EPROP_CORE_MODEL_NETWORK_CONFIG_H_
#define EPROP_CORE_MODEL_NETWORK_CONFIG_H_

#include <vector>

#include "absl/status/status.h"
#include "core/util/eigen_types.h"

namespace eprop {

// The input scaling c_in of the membrane equation.
enum class InputScaling {
  kOne,             // c_in = 1 (evidence accumulation, TIMIT, Atari)
  kOneMinusAlpha,   // c_in = 1 - alpha_j (pattern generation)
};

struct NetworkConfig {
  int n_in = 3;
  int n_lif = 4;
  int n_alif = 4;
  int n_out = 1;

  double dt_ms = 1.0;
  double tau_m_ms = 20.0;    // membrane time constant, all neurons
  double tau_a_ms = 500.0;   // adaptation time constant, ALIF neurons
  double beta_alif = 0.07;   // adaptation strength of ALIF neurons
  // Optional per-neuron overrides (size n_rec, or empty for the scalars
  // above). A per-neuron beta of 0 makes that neuron LIF-like.
  std::vector<double> tau_m_per_neuron_ms;
  std::vector<double> tau_a_per_neuron_ms;
  std::vector<double> beta_per_neuron;

  double v_th = 0.62;        // threshold (also the reset amount)
  int n_ref = 2;             // refractory period in steps (0: none)
  double gamma = 0.3;        // pseudo-derivative dampening factor
  InputScaling input_scaling = InputScaling::kOne;

  double tau_out_ms = 20.0;  // readout filter; 0 means no filtering
  bool readout_bias = false;

  int n_rec() const { return n_lif + n_alif; }

  // OK if every field is in its allowed range; otherwise says which field is
  // wrong and what is allowed.
  absl::Status Validate() const;
};

// Per-neuron decay factors and gains computed once from a config.
struct NeuronConstants {
  VecD alpha;  // exp(-dt / tau_m)
  VecD rho;    // exp(-dt / tau_a)
  VecD beta;
  VecD c_in;   // 1 or 1 - alpha
  double kappa = 0.0;  // exp(-dt / tau_out), 0 for tau_out = 0
  double v_th = 0.0;
  double gamma = 0.0;
  int n_ref = 0;
};

// Requires config.Validate().ok().
NeuronConstants MakeNeuronConstants(const NetworkConfig& config);

}  // namespace eprop

#endif  // EPROP_CORE_MODEL_NETWORK_CONFIG_H_
