#include "core/learn/eprop_online.h"

namespace eprop {

namespace {

template <typename S>
struct RowCoefficients {
  S eps_decay;  // rho_j - beta_j psi_j(t-1)
  S psi_prev;   // psi_j(t-1)
  S alpha, c_in, psi, beta, kappa;
};

// Eq. 25 for the synapses of one postsynaptic neuron (one row), over
// restrict pointers so that the loop vectorises.
template <typename S>
void UpdateTraces(const RowCoefficients<S>& k, const S* __restrict zpre,
                  int n_pre, S* __restrict zbar, S* __restrict eps_a,
                  S* __restrict e, S* __restrict ebar) {
  for (int i = 0; i < n_pre; ++i) {
    eps_a[i] = k.eps_decay * eps_a[i] + k.psi_prev * zbar[i];
    zbar[i] = k.alpha * zbar[i] + k.c_in * zpre[i];
    e[i] = k.psi * (zbar[i] - k.beta * eps_a[i]);
    ebar[i] = k.kappa * ebar[i] + (S(1) - k.kappa) * e[i];
  }
}

}  // namespace

template <typename S>
OnlineEprop<S>::OnlineEprop(const NetworkModel<S>* model, int batch)
    : model_(model), batch_(batch) {
  ResetState();
  ResetGradient();
}

template <typename S>
void OnlineEprop<S>::ResetState() {
  const int n = model_->n_rec;
  state_.Reset(*model_, batch_);
  for (Mat<S>* m : {&zbar_, &eps_a_, &e_, &ebar_}) {
    m->setZero(static_cast<int64_t>(batch_) * n, presynaptic());
  }
  psi_prev_.setZero(batch_, n);
  zf_.setZero(batch_, n);
}

template <typename S>
void OnlineEprop<S>::ResetGradient() {
  grad_in_rec_.setZero(model_->n_rec, presynaptic());
  trace_sum_.setZero(model_->n_rec, presynaptic());
  grad_out_.setZero(model_->n_out, model_->n_rec);
  grad_bias_.setZero(model_->n_out);
}

template <typename S>
void OnlineEprop<S>::Step(const SparseRows<S>& inputs,
                          int64_t first_input_row) {
  const NetworkModel<S>& m = *model_;
  const int n = m.n_rec;
  const int p = presynaptic();
  const Mat<S> z_prev = state_.z;
  eprop::Step(m, inputs, first_input_row, &state_);
  zf_ = m.kappa * zf_ + (S(1) - m.kappa) * state_.z;

  zpre_.resize(p);
  for (int b = 0; b < batch_; ++b) {
    std::fill(zpre_.begin(), zpre_.end(), S(0));
    const int64_t row = first_input_row + b;
    for (int64_t k = inputs.begin(row); k < inputs.end(row); ++k) {
      zpre_[inputs.cols[k]] += inputs.value(k);
    }
    for (int i = 0; i < n; ++i) zpre_[m.n_in + i] = z_prev(b, i);

    for (int j = 0; j < n; ++j) {
      const int64_t r = static_cast<int64_t>(b) * n + j;
      const S psi_prev = psi_prev_(b, j);
      const RowCoefficients<S> k{m.rho[j] - m.beta[j] * psi_prev,
                                 psi_prev,
                                 m.alpha[j],
                                 m.c_in[j],
                                 state_.psi(b, j),
                                 m.beta[j],
                                 m.kappa};
      UpdateTraces(k, zpre_.data(), p, zbar_.row(r).data(),
                   eps_a_.row(r).data(), e_.row(r).data(), ebar_.row(r).data());
    }
  }
  psi_prev_ = state_.psi;
}

template <typename S>
Mat<S> OnlineEprop<S>::Output() const {
  return state_.readout_filtered.rowwise() + model_->b_out.transpose();
}

template <typename S>
void OnlineEprop<S>::Accumulate(const Mat<S>& dE_dy, const Mat<S>& dE_dz_direct,
                                const Mat<S>& feedback) {
  const int n = model_->n_rec;
  const Mat<S> signal = dE_dy * feedback.transpose();  // L(t), [batch x n]
  const bool has_direct = dE_dz_direct.size() > 0;
  for (int b = 0; b < batch_; ++b) {
    const int64_t o = static_cast<int64_t>(b) * n;
    for (int j = 0; j < n; ++j) {
      // Learning signals are often exactly zero (unmasked steps): skip.
      if (signal(b, j) != S(0)) {
        grad_in_rec_.row(j) += signal(b, j) * ebar_.row(o + j);
      }
      if (has_direct && dE_dz_direct(b, j) != S(0)) {
        grad_in_rec_.row(j) += dE_dz_direct(b, j) * e_.row(o + j);
      }
    }
  }
  grad_out_.noalias() += dE_dy.transpose() * zf_;
  grad_bias_ += dE_dy.colwise().sum().transpose();
}

template <typename S>
void OnlineEprop<S>::AccumulateTraceSum() {
  const int n = model_->n_rec;
  for (int b = 0; b < batch_; ++b) {
    trace_sum_ += e_.middleRows(static_cast<int64_t>(b) * n, n);
  }
}

template <typename S>
Weights<S> OnlineEprop<S>::Gradient() const {
  Weights<S> g;
  g.w_in = grad_in_rec_.leftCols(model_->n_in);
  g.w_rec = grad_in_rec_.rightCols(model_->n_rec);
  g.w_rec.diagonal().setZero();
  g.w_out = grad_out_;
  g.b_out = grad_bias_;
  return g;
}

template class OnlineEprop<float>;
template class OnlineEprop<double>;

}  // namespace eprop
