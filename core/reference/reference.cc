#include "core/reference/reference.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace eprop::reference {
namespace {

// Aborts with a message when a matrix argument has the wrong shape: out of
// range reads would otherwise go unnoticed in an optimised build.
template <typename Derived>
void RequireShape(const Eigen::EigenBase<Derived>& m, int rows, int cols,
                  const char* name) {
  if (m.rows() != rows || m.cols() != cols) {
    std::fprintf(stderr,
                 "eprop::reference: %s is [%td x %td], expected [%d x %d]\n",
                 name, static_cast<std::ptrdiff_t>(m.rows()),
                 static_cast<std::ptrdiff_t>(m.cols()), rows, cols);
    std::abort();
  }
}

void RequireWeightShapes(const NetworkConfig& config,
                         const Weights<double>& w) {
  const int n_rec = config.n_rec();
  RequireShape(w.w_in, n_rec, config.n_in, "w_in");
  RequireShape(w.w_rec, n_rec, n_rec, "w_rec");
  RequireShape(w.w_out, config.n_out, n_rec, "w_out");
  RequireShape(w.b_out, config.n_out, 1, "b_out");
}

void RequireTrajectoryShapes(const NetworkConfig& config, const MatD& x,
                             const SampleTrajectory& trajectory) {
  const int steps = static_cast<int>(x.rows());
  RequireShape(x, steps, config.n_in, "x");
  RequireShape(trajectory.z, steps, config.n_rec(), "trajectory.z");
  RequireShape(trajectory.psi, steps, config.n_rec(), "trajectory.psi");
  RequireShape(trajectory.zf, steps, config.n_rec(), "trajectory.zf");
  if (trajectory.initial.z.size() != 0) {
    RequireShape(trajectory.initial.z, config.n_rec(), 1,
                 "trajectory.initial.z");
  }
}

double Sigmoid(double s) { return 1.0 / (1.0 + std::exp(-s)); }

// Row t of a [T x n] matrix as a vector; zeros for t outside 0..T-1, which
// is how "z(-1) = 0" and "psi(-1) = 0" enter the equations.
VecD RowOrZero(const MatD& m, int t) {
  if (t < 0 || t >= m.rows()) return VecD::Zero(m.cols());
  return m.row(t).transpose();
}

// z(t-1) as a vector: row t-1 of trajectory.z, or for t = 0 the spikes of
// the initial state (zero when that was left empty).
VecD PreviousSpikes(const SampleTrajectory& trajectory, int t) {
  if (t > 0) return trajectory.z.row(t - 1).transpose();
  if (trajectory.initial.z.size() == 0) return VecD::Zero(trajectory.z.cols());
  return trajectory.initial.z;
}

// Adds the exact readout gradient of step t:
//   dE/dW_out_kj += dE/dy_k(t) zf_j(t),   dE/db_k += dE/dy_k(t) (with bias).
void AddReadoutGradient(const NetworkConfig& config,
                        const SampleTrajectory& trajectory, const MatD& dE_dy,
                        int t, Weights<double>* grad) {
  for (int k = 0; k < config.n_out; ++k) {
    for (int j = 0; j < config.n_rec(); ++j) {
      grad->w_out(k, j) += dE_dy(t, k) * trajectory.zf(t, j);
    }
    if (config.readout_bias) grad->b_out(k) += dE_dy(t, k);
  }
}

// The eligibility traces (eq. 25) of every synapse from one presynaptic
// population (the inputs, or the recurrent neurons) onto the n_post recurrent
// neurons. State is per synapse because alpha, rho, beta and c_in are per
// postsynaptic neuron.
class EligibilityTraces {
 public:
  EligibilityTraces(int n_post, int n_pre)
      : zbar_(MatD::Zero(n_post, n_pre)),
        eps_a_(MatD::Zero(n_post, n_pre)),
        e_(MatD::Zero(n_post, n_pre)) {}

  // Advances the traces from step t-1 to step t. zpre is z^pre(t), psi_prev
  // is psi(t-1) (zero at t = 0) and psi is psi(t).
  void Advance(const NeuronConstants& k, const VecD& zpre, const VecD& psi_prev,
               const VecD& psi) {
    for (int j = 0; j < zbar_.rows(); ++j) {
      for (int i = 0; i < zbar_.cols(); ++i) {
        // eps^a_ji(t) = (rho_j - beta_j psi_j(t-1)) eps^a_ji(t-1)
        //               + psi_j(t-1) zbar_ji(t-1)
        eps_a_(j, i) = (k.rho[j] - k.beta[j] * psi_prev[j]) * eps_a_(j, i) +
                       psi_prev[j] * zbar_(j, i);
        // zbar_ji(t) = alpha_j zbar_ji(t-1) + c_in_j z^pre_i(t)
        zbar_(j, i) = k.alpha[j] * zbar_(j, i) + k.c_in[j] * zpre[i];
        // e_ji(t) = psi_j(t) (zbar_ji(t) - beta_j eps^a_ji(t))
        e_(j, i) = psi[j] * (zbar_(j, i) - k.beta[j] * eps_a_(j, i));
      }
    }
  }

  // e(t) after Advance for step t, [n_post x n_pre].
  const MatD& e() const { return e_; }

 private:
  MatD zbar_;   // zbar_ji = eps^v_ji
  MatD eps_a_;  // eps^a_ji
  MatD e_;      // e_ji
};

// Runs the input and recurrent eligibility traces over the sample and calls
// visit(t, e_in, e_rec) after each step t, with e_in = e(t) of the input
// synapses [n_rec x n_in] and e_rec = e(t) of the recurrent synapses
// [n_rec x n_rec]. The diagonal of e_rec belongs to no synapse; callers skip
// it. z^pre is x(t) for inputs and z(t-1) (z(-1) = 0) for recurrent synapses.
template <typename Visit>
void ForEachStepTraces(const NetworkConfig& config, const MatD& x,
                       const SampleTrajectory& trajectory, Visit&& visit) {
  const NeuronConstants k = MakeNeuronConstants(config);
  const int n_rec = config.n_rec();
  EligibilityTraces input(n_rec, config.n_in);
  EligibilityTraces recurrent(n_rec, n_rec);
  for (int t = 0; t < trajectory.steps(); ++t) {
    const VecD psi_prev = RowOrZero(trajectory.psi, t - 1);
    const VecD psi = RowOrZero(trajectory.psi, t);
    input.Advance(k, RowOrZero(x, t), psi_prev, psi);
    // The traces start at zero also after a given initial state (a
    // constant), so psi(-1) = 0 is right there too; only z^pre(0) = z(-1)
    // of the recurrent synapses comes from it.
    recurrent.Advance(k, PreviousSpikes(trajectory, t), psi_prev, psi);
    visit(t, input.e(), recurrent.e());
  }
}

}  // namespace

SampleState SampleState::Zero(int n_rec) {
  SampleState s;
  for (VecD* m : {&s.v, &s.a, &s.r, &s.z, &s.zf}) m->setZero(n_rec);
  return s;
}

SampleState FinalState(const SampleTrajectory& trajectory) {
  const int last = trajectory.steps() - 1;
  if (last < 0) {
    std::fprintf(stderr,
                 "eprop::reference: FinalState of an empty trajectory\n");
    std::abort();
  }
  SampleState s;
  s.v = trajectory.v.row(last).transpose();
  s.a = trajectory.a.row(last).transpose();
  s.r = trajectory.r.row(last).transpose();
  s.z = trajectory.z.row(last).transpose();
  s.zf = trajectory.zf.row(last).transpose();
  return s;
}

SampleTrajectory Forward(const NetworkConfig& config, const Weights<double>& w,
                         const MatD& x, SpikeFunction spike) {
  return Forward(config, w, x, SampleState::Zero(config.n_rec()), spike);
}

SampleTrajectory Forward(const NetworkConfig& config, const Weights<double>& w,
                         const MatD& x, const SampleState& initial,
                         SpikeFunction spike) {
  RequireWeightShapes(config, w);
  const int steps = static_cast<int>(x.rows());
  RequireShape(x, steps, config.n_in, "x");
  const NeuronConstants k = MakeNeuronConstants(config);
  const int n_in = config.n_in;
  const int n_rec = config.n_rec();
  const int n_out = config.n_out;

  SampleTrajectory out;
  for (MatD* m :
       {&out.v, &out.a, &out.threshold, &out.z, &out.psi, &out.r, &out.zf}) {
    m->setZero(steps, n_rec);
  }
  out.y.setZero(steps, n_out);
  RequireShape(initial.v, n_rec, 1, "initial.v");
  RequireShape(initial.a, n_rec, 1, "initial.a");
  RequireShape(initial.r, n_rec, 1, "initial.r");
  RequireShape(initial.z, n_rec, 1, "initial.z");
  RequireShape(initial.zf, n_rec, 1, "initial.zf");
  out.initial = initial;

  // State after the previous step; `initial` before the first one.
  VecD v = initial.v;
  VecD a = initial.a;
  VecD r = initial.r;
  VecD z_prev = initial.z;
  VecD zf = initial.zf;
  VecD z = VecD::Zero(n_rec);

  for (int t = 0; t < steps; ++t) {
    for (int j = 0; j < n_rec; ++j) {
      // I_j(t) = sum_i W_in_ji x_i(t) + sum_i W_rec_ji z_i(t-1)
      double synaptic_input = 0.0;
      for (int i = 0; i < n_in; ++i) synaptic_input += w.w_in(j, i) * x(t, i);
      for (int i = 0; i < n_rec; ++i) {
        synaptic_input += w.w_rec(j, i) * z_prev[i];
      }
      // a_j(t) = rho_j a_j(t-1) + z_j(t-1)
      a[j] = k.rho[j] * a[j] + z_prev[j];
      // A_j(t) = v_th + beta_j a_j(t)
      const double threshold = k.v_th + k.beta[j] * a[j];
      // v_j(t) = alpha_j v_j(t-1) + c_in_j I_j(t) - v_th z_j(t-1)
      v[j] =
          k.alpha[j] * v[j] + k.c_in[j] * synaptic_input - k.v_th * z_prev[j];
      // u_j(t) = (v_j(t) - A_j(t)) / v_th
      const double u = (v[j] - threshold) / k.v_th;
      // Refractory at t iff r_j(t-1) > 0.
      const bool refractory = r[j] > 0.0;
      // The hard spike H(u) (zero while refractory) drives r in both modes.
      const double hard_spike = (!refractory && u > 0.0) ? 1.0 : 0.0;
      double psi = 0.0;
      if (spike == SpikeFunction::kHeaviside) {
        z[j] = hard_spike;
        // psi_j(t) = gamma / v_th max(0, 1 - |u_j(t)|)
        psi = refractory ? 0.0
                         : k.gamma / k.v_th * std::max(0.0, 1.0 - std::abs(u));
      } else {
        // z_j(t) = sigmoid(u_j(t) / w), w = kSigmoidWidth, and
        // psi_j(t) = dz_j(t)/dv_j(t) = sigmoid'(u_j(t) / w) / (w v_th)
        const double s = Sigmoid(u / kSigmoidWidth);
        z[j] = refractory ? 0.0 : s;
        psi = refractory ? 0.0 : s * (1.0 - s) / (kSigmoidWidth * k.v_th);
      }
      // r_j(t) = clip(r_j(t-1) + n_ref H - 1, 0, n_ref)
      r[j] = std::clamp(r[j] + k.n_ref * hard_spike - 1.0, 0.0,
                        static_cast<double>(k.n_ref));

      out.v(t, j) = v[j];
      out.a(t, j) = a[j];
      out.threshold(t, j) = threshold;
      out.z(t, j) = z[j];
      out.psi(t, j) = psi;
      out.r(t, j) = r[j];
    }
    for (int j = 0; j < n_rec; ++j) {
      // zf_j(t) = kappa zf_j(t-1) + (1 - kappa) z_j(t)
      zf[j] = k.kappa * zf[j] + (1.0 - k.kappa) * z[j];
      out.zf(t, j) = zf[j];
    }
    for (int o = 0; o < n_out; ++o) {
      // y_k(t) = sum_j W_out_kj zf_j(t) + b_k
      double y = w.b_out(o);
      for (int j = 0; j < n_rec; ++j) y += w.w_out(o, j) * zf[j];
      out.y(t, o) = y;
    }
    z_prev = z;
  }
  return out;
}

BpttResult Bptt(const NetworkConfig& config, const Weights<double>& w,
                const MatD& x, const SampleTrajectory& trajectory,
                const MatD& dE_dy, const MatD& dE_dz_direct,
                bool stop_gradient) {
  RequireWeightShapes(config, w);
  RequireTrajectoryShapes(config, x, trajectory);
  const int steps = static_cast<int>(x.rows());
  const int n_in = config.n_in;
  const int n_rec = config.n_rec();
  const int n_out = config.n_out;
  RequireShape(dE_dy, steps, n_out, "dE_dy");
  RequireShape(dE_dz_direct, steps, n_rec, "dE_dz_direct");
  const NeuronConstants k = MakeNeuronConstants(config);
  const MatD& psi = trajectory.psi;

  BpttResult result;
  result.grad = Weights<double>::ZerosLike(w);
  result.dE_dz = MatD::Zero(steps, n_rec);

  // Adjoints (total derivatives of E) of the state of step t+1, carried
  // backwards; zero after the last step.
  VecD dE_dv_next = VecD::Zero(n_rec);   // dE/dv(t+1)
  VecD dE_da_next = VecD::Zero(n_rec);   // dE/da(t+1)
  VecD dE_dzf_next = VecD::Zero(n_rec);  // dE/dzf(t+1)
  VecD dE_dv = VecD::Zero(n_rec);
  VecD dE_da = VecD::Zero(n_rec);
  VecD dE_dzf = VecD::Zero(n_rec);

  for (int t = steps - 1; t >= 0; --t) {
    // y(t) = W_out zf(t) + b.
    AddReadoutGradient(config, trajectory, dE_dy, t, &result.grad);
    for (int j = 0; j < n_rec; ++j) {
      // zf(t) feeds y(t) and zf(t+1) = kappa zf(t) + (1 - kappa) z(t+1):
      //   dE/dzf_j(t) = sum_k W_out_kj dE/dy_k(t) + kappa dE/dzf_j(t+1)
      double from_readout = 0.0;
      for (int o = 0; o < n_out; ++o) {
        from_readout += w.w_out(o, j) * dE_dy(t, o);
      }
      dE_dzf[j] = from_readout + k.kappa * dE_dzf_next[j];
    }
    for (int j = 0; j < n_rec; ++j) {
      // z_j(t) feeds zf_j(t), the loss directly and, unless the gradient is
      // stopped, v(t+1) through
      //   v_l(t+1) = ... + c_in_l W_rec_lj z_j(t) - v_th z_j(t) [l = j]:
      //   dE/dz_j(t) = (1 - kappa) dE/dzf_j(t) + dE_dz_direct_j(t)
      //              + sum_l dE/dv_l(t+1) c_in_l W_rec_lj - v_th dE/dv_j(t+1)
      double dE_dz = (1.0 - k.kappa) * dE_dzf[j] + dE_dz_direct(t, j);
      if (!stop_gradient) {
        for (int l = 0; l < n_rec; ++l) {
          dE_dz += dE_dv_next[l] * k.c_in[l] * w.w_rec(l, j);
        }
        dE_dz -= k.v_th * dE_dv_next[j];
      }
      result.dE_dz(t, j) = dE_dz;
      // z_local_j(t), the copy of z_j(t) that feeds a_j(t+1) = rho_j a_j(t)
      // + z_local_j(t) only, is never cut:
      //   dE/dz_local_j(t) = dE/da_j(t+1)
      const double dE_dz_local = dE_da_next[j];
      // Both copies equal z_j(t) = f(v_j(t), a_j(t)) with dz/dv = psi and
      // dz/da = -beta psi; v(t) and a(t) also feed v(t+1) and a(t+1):
      //   dE/dv_j(t) = (dE/dz_j(t) + dE/dz_local_j(t)) psi_j(t)
      //              + alpha_j dE/dv_j(t+1)
      //   dE/da_j(t) = -(dE/dz_j(t) + dE/dz_local_j(t)) beta_j psi_j(t)
      //              + rho_j dE/da_j(t+1)
      const double dE_dz_total = dE_dz + dE_dz_local;
      dE_dv[j] = dE_dz_total * psi(t, j) + k.alpha[j] * dE_dv_next[j];
      dE_da[j] =
          -dE_dz_total * k.beta[j] * psi(t, j) + k.rho[j] * dE_da_next[j];
    }
    // v_j(t) = ... + c_in_j (sum_i W_in_ji x_i(t) + sum_i W_rec_ji z_i(t-1)):
    //   dE/dW_in_ji += dE/dv_j(t) c_in_j x_i(t)
    //   dE/dW_rec_ji += dE/dv_j(t) c_in_j z_i(t-1)   (i != j; z(-1) is the
    //   initial state's spikes, a constant, zero by default)
    const VecD z_prev = PreviousSpikes(trajectory, t);
    for (int j = 0; j < n_rec; ++j) {
      for (int i = 0; i < n_in; ++i) {
        result.grad.w_in(j, i) += dE_dv[j] * k.c_in[j] * x(t, i);
      }
      for (int i = 0; i < n_rec; ++i) {
        if (i == j) continue;
        result.grad.w_rec(j, i) += dE_dv[j] * k.c_in[j] * z_prev[i];
      }
    }
    std::swap(dE_dv, dE_dv_next);
    std::swap(dE_da, dE_da_next);
    std::swap(dE_dzf, dE_dzf_next);
  }
  return result;
}

Weights<double> EpropGradient(const NetworkConfig& config,
                              const Weights<double>& w, const MatD& x,
                              const SampleTrajectory& trajectory,
                              const MatD& dE_dy, const MatD& dE_dz_direct,
                              const MatD& feedback) {
  RequireWeightShapes(config, w);
  RequireTrajectoryShapes(config, x, trajectory);
  const int steps = static_cast<int>(x.rows());
  const int n_in = config.n_in;
  const int n_rec = config.n_rec();
  const int n_out = config.n_out;
  RequireShape(dE_dy, steps, n_out, "dE_dy");
  RequireShape(dE_dz_direct, steps, n_rec, "dE_dz_direct");
  RequireShape(feedback, n_rec, n_out, "feedback");
  const double kappa = MakeNeuronConstants(config).kappa;

  Weights<double> grad = Weights<double>::ZerosLike(w);
  MatD ebar_in = MatD::Zero(n_rec, n_in);
  MatD ebar_rec = MatD::Zero(n_rec, n_rec);
  VecD learning_signal(n_rec);
  ForEachStepTraces(
      config, x, trajectory, [&](int t, const MatD& e_in, const MatD& e_rec) {
        for (int j = 0; j < n_rec; ++j) {
          // L_j(t) = sum_k B_jk dE/dy_k(t)
          learning_signal[j] = 0.0;
          for (int o = 0; o < n_out; ++o) {
            learning_signal[j] += feedback(j, o) * dE_dy(t, o);
          }
        }
        for (int j = 0; j < n_rec; ++j) {
          // ebar_ji(t) = kappa ebar_ji(t-1) + (1 - kappa) e_ji(t)
          // dE/dW_ji += L_j(t) ebar_ji(t) + dE_dz_direct_j(t) e_ji(t)
          for (int i = 0; i < n_in; ++i) {
            ebar_in(j, i) = kappa * ebar_in(j, i) + (1.0 - kappa) * e_in(j, i);
            grad.w_in(j, i) += learning_signal[j] * ebar_in(j, i) +
                               dE_dz_direct(t, j) * e_in(j, i);
          }
          for (int i = 0; i < n_rec; ++i) {
            if (i == j) continue;
            ebar_rec(j, i) =
                kappa * ebar_rec(j, i) + (1.0 - kappa) * e_rec(j, i);
            grad.w_rec(j, i) += learning_signal[j] * ebar_rec(j, i) +
                                dE_dz_direct(t, j) * e_rec(j, i);
          }
        }
      });
  for (int t = 0; t < steps; ++t) {
    AddReadoutGradient(config, trajectory, dE_dy, t, &grad);
  }
  return grad;
}

Weights<double> FactorizedGradient(const NetworkConfig& config,
                                   const Weights<double>& w, const MatD& x,
                                   const SampleTrajectory& trajectory,
                                   const MatD& dE_dz) {
  RequireWeightShapes(config, w);
  RequireTrajectoryShapes(config, x, trajectory);
  const int n_in = config.n_in;
  const int n_rec = config.n_rec();
  RequireShape(dE_dz, static_cast<int>(x.rows()), n_rec, "dE_dz");

  Weights<double> grad = Weights<double>::ZerosLike(w);
  ForEachStepTraces(config, x, trajectory,
                    [&](int t, const MatD& e_in, const MatD& e_rec) {
                      // dE/dW_ji += dE/dz_j(t) e_ji(t)
                      for (int j = 0; j < n_rec; ++j) {
                        for (int i = 0; i < n_in; ++i) {
                          grad.w_in(j, i) += dE_dz(t, j) * e_in(j, i);
                        }
                        for (int i = 0; i < n_rec; ++i) {
                          if (i == j) continue;
                          grad.w_rec(j, i) += dE_dz(t, j) * e_rec(j, i);
                        }
                      }
                    });
  return grad;
}

}  // namespace eprop::reference
