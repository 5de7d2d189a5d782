#include "core/learn/gradient.h"

#include "core/util/parallel.h"

namespace eprop {
namespace {

// Gradients of one shard in the layouts that make event accumulation
// contiguous: row i of in_t / rec_t is the presynaptic unit i.
template <typename S>
struct ShardGradient {
  Mat<S> in_t;   // [n_in x n_rec]
  Mat<S> rec_t;  // [n_rec x n_rec]
  Mat<S> out_t;  // [n_rec x n_out]
  Vec<S> bias;   // [n_out]
};

template <typename S>
struct BackwardContext {
  GradientMethod method;
  const NetworkModel<S>& model;
  Mat<S> readout_to_signal;  // (1 - kappa) B^T, [n_out x n_rec]
  const SparseRows<S>& inputs;
  const Trajectory<S>& traj;
  const Mat<S>& dE_dy;
  const SpikeLossGradient<S>& direct;
};

// The elementwise part of one backward step on [rows x n] blocks:
// gz = signal + q (+ recurrent), delta = psi gz + alpha delta,
// q = -beta psi gz + rho q. `signal` holds L(t) (+ recurrent term) on entry.
template <typename S>
void ElementwiseBackward(const NetworkModel<S>& m, const S* __restrict psi,
                         const S* __restrict signal, int rows,
                         S* __restrict delta, S* __restrict q) {
  const int n = m.n_rec;
  const S* __restrict alpha = m.alpha.data();
  const S* __restrict rho = m.rho.data();
  const S* __restrict beta = m.beta.data();
  for (int b = 0; b < rows; ++b) {
    const int64_t o = static_cast<int64_t>(b) * n;
    for (int j = 0; j < n; ++j) {
      const S gz = signal[o + j] + q[o + j];
      const S psi_gz = psi[o + j] * gz;
      delta[o + j] = psi_gz + alpha[j] * delta[o + j];
      q[o + j] = rho[j] * q[o + j] - beta[j] * psi_gz;
    }
  }
}

template <typename S>
ShardGradient<S> BackwardShard(const BackwardContext<S>& c, int shard_index) {
  const NetworkModel<S>& m = c.model;
  const Shard& shard = c.traj.shards[shard_index];
  const SparseRows<S>& spikes = c.traj.spikes[shard_index];
  const int rows = shard.size();
  const int batch = c.traj.batch;
  const S one_minus_kappa = S(1) - m.kappa;

  ShardGradient<S> g{Mat<S>::Zero(m.n_in, m.n_rec),
                     Mat<S>::Zero(m.n_rec, m.n_rec),
                     Mat<S>::Zero(m.n_rec, m.n_out), Vec<S>::Zero(m.n_out)};
  Mat<S> gyf = Mat<S>::Zero(rows, m.n_out);
  Mat<S> delta = Mat<S>::Zero(rows, m.n_rec);
  Mat<S> q = Mat<S>::Zero(rows, m.n_rec);
  Mat<S> signal(rows, m.n_rec);
  const bool has_per_neuron = c.direct.per_neuron.size() > 0;
  const bool has_per_step = c.direct.per_step.size() > 0;

  for (int t = c.traj.steps - 1; t >= 0; --t) {
    const int64_t row = static_cast<int64_t>(t) * batch + shard.begin;
    const auto dE_dy = c.dE_dy.middleRows(row, rows);
    gyf = m.kappa * gyf + dE_dy;
    g.bias += dE_dy.colwise().sum().transpose();
    const int64_t local = static_cast<int64_t>(t) * rows;
    for (int b = 0; b < rows; ++b) {
      for (int64_t k = spikes.begin(local + b); k < spikes.end(local + b);
           ++k) {
        g.out_t.row(spikes.cols[k]) += one_minus_kappa * gyf.row(b);
      }
    }

    // A lazy product: n_out is small, where a GEMM call costs more than the
    // arithmetic.
    signal.noalias() = gyf.lazyProduct(c.readout_to_signal);
    if (has_per_neuron) signal.rowwise() += c.direct.per_neuron.transpose();
    if (has_per_step) signal += c.direct.per_step.middleRows(row, rows);
    if (c.method == GradientMethod::kBptt) {
      // delta still holds delta(t+1): the recurrent synapses and the reset.
      signal.noalias() += delta * m.rec_to_rec.transpose();
      signal -= m.v_th * delta;
    }
    ElementwiseBackward(m, c.traj.psi.middleRows(row, rows).data(),
                        signal.data(), rows, delta.data(), q.data());

    for (int b = 0; b < rows; ++b) {
      const int64_t in_row = row + b;
      for (int64_t k = c.inputs.begin(in_row); k < c.inputs.end(in_row); ++k) {
        g.in_t.row(c.inputs.cols[k]) += c.inputs.value(k) * delta.row(b);
      }
    }
    if (t > 0) {
      const int64_t prev = local - rows;
      for (int b = 0; b < rows; ++b) {
        for (int64_t k = spikes.begin(prev + b); k < spikes.end(prev + b);
             ++k) {
          g.rec_t.row(spikes.cols[k]) += delta.row(b);
        }
      }
    } else {
      // A simulation started from a given state (a constant): z(-1) feeds
      // the recurrent synapses at t = 0, and y(t) holds W_out kappa^(t+1)
      // zf(-1), whose sum over t with dE/dy(t) is kappa gyf(0) zf(-1).
      if (c.traj.initial_z.size() > 0) {
        for (int b = 0; b < rows; ++b) {
          for (int i = 0; i < m.n_rec; ++i) {
            const S z = c.traj.initial_z(shard.begin + b, i);
            if (z != S(0)) g.rec_t.row(i) += z * delta.row(b);
          }
        }
      }
      if (c.traj.initial_zf.size() > 0) {
        g.out_t.noalias() +=
            m.kappa *
            (c.traj.initial_zf.middleRows(shard.begin, rows).transpose() * gyf);
      }
    }
  }
  return g;
}

}  // namespace

template <typename S>
Weights<S> ComputeGradient(GradientMethod method, const NetworkModel<S>& model,
                           const Mat<S>& feedback, const SparseRows<S>& inputs,
                           const Trajectory<S>& trajectory, const Mat<S>& dE_dy,
                           const SpikeLossGradient<S>& dE_dz_direct,
                           const GradientInputs& options) {
  // rec_to_out is (1 - kappa) W_out^T, so BPTT's B is available without W.
  const Mat<S> readout_to_signal =
      method == GradientMethod::kBptt
          ? Mat<S>(model.rec_to_out.transpose())
          : Mat<S>((S(1) - model.kappa) * feedback.transpose());
  const BackwardContext<S> context{method,     model, readout_to_signal, inputs,
                                   trajectory, dE_dy, dE_dz_direct};
  std::vector<ShardGradient<S>> shards(trajectory.shards.size());
  ParallelFor(static_cast<int>(shards.size()), options.threads,
              [&](int s) { shards[s] = BackwardShard(context, s); });

  ShardGradient<S> total = std::move(shards[0]);
  for (size_t s = 1; s < shards.size(); ++s) {
    total.in_t += shards[s].in_t;
    total.rec_t += shards[s].rec_t;
    total.out_t += shards[s].out_t;
    total.bias += shards[s].bias;
  }
  Weights<S> grad;
  grad.w_in = model.c_in.asDiagonal() * total.in_t.transpose();
  grad.w_rec = model.c_in.asDiagonal() * total.rec_t.transpose();
  grad.w_rec.diagonal().setZero();
  grad.w_out = total.out_t.transpose();
  grad.b_out = options.readout_bias ? total.bias : Vec<S>::Zero(model.n_out);
  return grad;
}

template Weights<float> ComputeGradient(
    GradientMethod, const NetworkModel<float>&, const Mat<float>&,
    const SparseRows<float>&, const Trajectory<float>&, const Mat<float>&,
    const SpikeLossGradient<float>&, const GradientInputs&);
template Weights<double> ComputeGradient(
    GradientMethod, const NetworkModel<double>&, const Mat<double>&,
    const SparseRows<double>&, const Trajectory<double>&, const Mat<double>&,
    const SpikeLossGradient<double>&, const GradientInputs&);

}  // namespace eprop
