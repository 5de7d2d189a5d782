#include "core/sim/network_step.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace eprop {

template <typename S>
NetworkModel<S> NetworkModel<S>::Prepare(const NeuronConstants& constants,
                                         const Weights<S>& weights) {
  NetworkModel m;
  m.n_in = static_cast<int>(weights.w_in.cols());
  m.n_rec = static_cast<int>(weights.w_rec.rows());
  m.n_out = static_cast<int>(weights.w_out.rows());
  m.alpha = constants.alpha.cast<S>();
  m.rho = constants.rho.cast<S>();
  m.beta = constants.beta.cast<S>();
  m.c_in = constants.c_in.cast<S>();
  m.kappa = static_cast<S>(constants.kappa);
  m.v_th = static_cast<S>(constants.v_th);
  m.gamma = static_cast<S>(constants.gamma);
  m.n_ref = constants.n_ref;
  m.in_to_rec = (m.c_in.asDiagonal() * weights.w_in).transpose();
  m.rec_to_rec = (m.c_in.asDiagonal() * weights.w_rec).transpose();
  m.rec_to_out = ((S(1) - m.kappa) * weights.w_out).transpose();
  m.b_out = weights.b_out;
  return m;
}

template <typename S>
void NetworkState<S>::Reset(const NetworkModel<S>& model, int batch) {
  for (Mat<S>* m : {&v, &a, &refractory, &z, &psi, &threshold, &current}) {
    m->setZero(batch, model.n_rec);
  }
  threshold.setConstant(model.v_th);
  readout_filtered.setZero(batch, model.n_out);
  spikes.clear();
}

namespace {

// The neuron equations for one sample, written as selects over restrict
// pointers so that the compiler vectorises them (with -fno-trapping-math,
// see CMakeLists.txt). `current` holds the synaptic input
// c_in (W_in x(t) + W_rec z(t-1)) and is left zero; z holds the previous
// spikes on entry.
template <typename S>
void UpdateNeurons(const NetworkModel<S>& model, S* __restrict v,
                   S* __restrict a, S* __restrict r, S* __restrict z,
                   S* __restrict current, S* __restrict psi,
                   S* __restrict thr) {
  const S* __restrict alpha = model.alpha.data();
  const S* __restrict rho = model.rho.data();
  const S* __restrict beta = model.beta.data();
  const S v_th = model.v_th;
  const S inv_v_th = S(1) / v_th;
  const S psi_scale = model.gamma * inv_v_th;
  const S n_ref = static_cast<S>(model.n_ref);
  const int n = model.n_rec;
  for (int j = 0; j < n; ++j) {
    const S z_prev = z[j];
    a[j] = rho[j] * a[j] + z_prev;
    v[j] = alpha[j] * v[j] + current[j] - v_th * z_prev;
    current[j] = S(0);
    thr[j] = v_th + beta[j] * a[j];
    const S u = (v[j] - thr[j]) * inv_v_th;
    const S active = r[j] > S(0) ? S(0) : S(1);  // not refractory
    const S spike = u > S(0) ? active : S(0);
    psi[j] = active * psi_scale * std::max(S(0), S(1) - std::abs(u));
    z[j] = spike;
    r[j] = std::min(std::max(r[j] + n_ref * spike - S(1), S(0)), n_ref);
  }
}

// Indices of the nonzero entries of z (0/1 values). Spikes are rare, so
// blocks of 8 entries are tested at once through their bit patterns (+0.0
// is all zero bits; z never holds -0.0).
template <typename S>
void CollectSpikes(const S* z, int64_t count, std::vector<int32_t>* spikes) {
  spikes->clear();
  constexpr int kBlock = 8;
  int64_t k = 0;
  for (; k + kBlock <= count; k += kBlock) {
    uint64_t bits[kBlock * sizeof(S) / sizeof(uint64_t)];
    std::memcpy(bits, z + k, sizeof(bits));
    uint64_t any = 0;
    for (uint64_t word : bits) any |= word;
    if (any == 0) continue;
    for (int i = 0; i < kBlock; ++i) {
      if (z[k + i] != S(0)) spikes->push_back(static_cast<int32_t>(k + i));
    }
  }
  for (; k < count; ++k) {
    if (z[k] != S(0)) spikes->push_back(static_cast<int32_t>(k));
  }
}

}  // namespace

template <typename S>
void Step(const NetworkModel<S>& model, const SparseRows<S>& inputs,
          int64_t first_input_row, NetworkState<S>* state) {
  const int n = model.n_rec;
  const int batch = state->batch();
  Mat<S>& current = state->current;
  for (int b = 0; b < batch; ++b) {
    const int64_t row = first_input_row + b;
    for (int64_t k = inputs.begin(row); k < inputs.end(row); ++k) {
      current.row(b) += inputs.value(k) * model.in_to_rec.row(inputs.cols[k]);
    }
  }
  for (int32_t code : state->spikes) {
    current.row(code / n) += model.rec_to_rec.row(code % n);
  }

  S* psi = state->psi.data();
  for (int b = 0; b < batch; ++b) {
    UpdateNeurons(model, state->v.row(b).data(), state->a.row(b).data(),
                  state->refractory.row(b).data(), state->z.row(b).data(),
                  current.row(b).data(), psi + static_cast<int64_t>(b) * n,
                  state->threshold.row(b).data());
  }

  CollectSpikes(state->z.data(), static_cast<int64_t>(batch) * n,
                &state->spikes);
  state->readout_filtered *= model.kappa;
  for (int32_t code : state->spikes) {
    state->readout_filtered.row(code / n) += model.rec_to_out.row(code % n);
  }
}

template struct NetworkModel<float>;
template struct NetworkModel<double>;
template struct NetworkState<float>;
template struct NetworkState<double>;
template void Step(const NetworkModel<float>&, const SparseRows<float>&,
                   int64_t, NetworkState<float>*);
template void Step(const NetworkModel<double>&, const SparseRows<double>&,
                   int64_t, NetworkState<double>*);

}  // namespace eprop
