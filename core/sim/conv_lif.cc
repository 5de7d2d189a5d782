#include "core/sim/conv_lif.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/sim/simulate.h"
#include "core/util/parallel.h"
#include "core/util/random.h"

namespace eprop {
namespace {

constexpr int kMaxImageSide = 4096;
constexpr int kMaxChannels = 4096;
constexpr int kMaxLayers = 8;
constexpr int kMaxBatch = 100000;

absl::Status CheckRange(const std::string& name, double value, double lo,
                        double hi) {
  if (!(value >= lo && value <= hi)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be in [", lo, ", ", hi, "], got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckPositive(const std::string& name, double value) {
  if (!(value > 0) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be finite and > 0, got ", value));
  }
  return absl::OkStatus();
}

// (y, x, c) of input index i of a layer.
struct Pixel {
  int y, x, c;
};
inline Pixel Decode(const ConvGeometry& g, int32_t i) {
  const int row = g.in_w * g.in_c;
  const int rem = i % row;
  return {i / row, rem / g.in_c, rem % g.in_c};
}

// Kernel offsets k along one axis by which input coordinate `in` reaches a
// valid output o = (in - k) / stride: k in [lo, hi], (in - k) % stride == 0.
inline void KernelRange(int in, int out_n, const ConvGeometry& g, int* lo,
                        int* hi) {
  *lo = std::max(0, in - (out_n - 1) * g.stride);
  *hi = std::min(g.kernel - 1, in);
}

// Calls tap(value, output, weight_row) for every (output position, kernel
// offset) that each input event k (index idx[k], value values[k], or 1 when
// values is null) reaches: output is the position's first neuron index
// ((oy * out_w + ox) * filters) and weight_row the first element of the
// kernel weights' row for that offset and the event's channel.
template <typename S, typename Tap>
void ForEachEventTap(const ConvGeometry& g, const int32_t* idx,
                     const S* values, int64_t n, Tap&& tap) {
  const int nf = g.filters, k = g.kernel, st = g.stride;
  const int oh = g.out_h(), ow = g.out_w();
  for (int64_t e = 0; e < n; ++e) {
    const Pixel p = Decode(g, idx[e]);
    const S val = values ? values[e] : S(1);
    int ky0, ky1, kx0, kx1;
    KernelRange(p.y, oh, g, &ky0, &ky1);
    KernelRange(p.x, ow, g, &kx0, &kx1);
    for (int ky = ky0; ky <= ky1; ++ky) {
      if ((p.y - ky) % st != 0) continue;
      const int oy = (p.y - ky) / st;
      for (int kx = kx0; kx <= kx1; ++kx) {
        if ((p.x - kx) % st != 0) continue;
        const int ox = (p.x - kx) / st;
        tap(val, (static_cast<int64_t>(oy) * ow + ox) * nf,
            (static_cast<int64_t>(ky * k + kx) * g.in_c + p.c) * nf);
      }
    }
  }
}

// The LIF update of section 1 (beta = 0) for n neurons, as selects over
// restrict pointers so that the compiler vectorises it.
template <typename S>
void UpdateLif(const ConvLifConstants& c, int n, const S* __restrict current,
               S* __restrict v, S* __restrict r, S* __restrict z,
               S* __restrict psi) {
  const S alpha = static_cast<S>(c.alpha);
  const S c_in = static_cast<S>(c.c_in);
  const S v_th = static_cast<S>(c.v_th);
  const S inv_v_th = S(1) / v_th;
  const S psi_scale = static_cast<S>(c.gamma) * inv_v_th;
  const S n_ref = static_cast<S>(c.n_ref);
  for (int j = 0; j < n; ++j) {
    v[j] = alpha * v[j] + c_in * current[j] - v_th * z[j];
    const S u = (v[j] - v_th) * inv_v_th;
    const S active = r[j] > S(0) ? S(0) : S(1);
    const S spike = u > S(0) ? active : S(0);
    psi[j] = active * psi_scale * std::max(S(0), S(1) - std::abs(u));
    z[j] = spike;
    r[j] = std::min(std::max(r[j] + n_ref * spike - S(1), S(0)), n_ref);
  }
}

template <typename S>
void CollectSpikes(const S* z, int n, std::vector<int32_t>* spikes) {
  spikes->clear();
  for (int j = 0; j < n; ++j) {
    if (z[j] != S(0)) spikes->push_back(j);
  }
}

template <typename S>
Mat<S> NormalMatrix(Rng& rng, int rows, int cols, double stddev) {
  Mat<S> m(rows, cols);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      m(i, j) = static_cast<S>(stddev * rng.Normal());
    }
  }
  return m;
}

}  // namespace

absl::Status ConvGeometry::Validate() const {
  for (auto [name, value] :
       {std::pair<const char*, int>{"in_h", in_h}, {"in_w", in_w}}) {
    if (absl::Status s = CheckRange(name, value, 1, kMaxImageSide); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckRange("in_c", in_c, 1, kMaxChannels); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("filters", filters, 1, kMaxChannels);
      !s.ok()) {
    return s;
  }
  if (kernel < 1 || kernel > std::min(in_h, in_w)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kernel must be in [1, min(in_h, in_w) = ", std::min(in_h, in_w),
        "] for a ", in_h, "x", in_w, "x", in_c, " input, got ", kernel));
  }
  if (absl::Status s = CheckRange("stride", stride, 1, kernel); !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

std::vector<ConvGeometry> ConvFrontEndConfig::Geometries() const {
  std::vector<ConvGeometry> out;
  int h = frame_height, w = frame_width, c = frame_channels;
  for (const ConvLayerSpec& spec : layers) {
    ConvGeometry g{h, w, c, spec.filters, spec.kernel, spec.stride};
    out.push_back(g);
    h = g.out_h();
    w = g.out_w();
    c = g.filters;
  }
  return out;
}

absl::Status ConvFrontEndConfig::Validate() const {
  if (absl::Status s =
          CheckRange("frame_height", frame_height, 1, kMaxImageSide);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("frame_width", frame_width, 1, kMaxImageSide);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckRange("frame_channels", frame_channels, 1, kMaxChannels);
      !s.ok()) {
    return s;
  }
  if (layers.empty() || static_cast<int>(layers.size()) > kMaxLayers) {
    return absl::InvalidArgumentError(
        absl::StrCat("layers must hold 1 to ", kMaxLayers, " conv layers, got ",
                     layers.size()));
  }
  int h = frame_height, w = frame_width, c = frame_channels;
  for (size_t l = 0; l < layers.size(); ++l) {
    const ConvLayerSpec& spec = layers[l];
    ConvGeometry g{h, w, c, spec.filters, spec.kernel, spec.stride};
    if (absl::Status s = g.Validate(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("layers[", l, "]: ", s.message()));
    }
    h = g.out_h();
    w = g.out_w();
    c = g.filters;
  }
  for (auto [name, value] : {std::pair<const char*, double>{"dt_ms", dt_ms},
                             {"tau_m_ms", tau_m_ms},
                             {"v_th", v_th},
                             {"gamma", gamma},
                             {"init_gain", init_gain},
                             {"feedback_stddev", feedback_stddev}}) {
    if (absl::Status s = CheckPositive(name, value); !s.ok()) return s;
  }
  if (absl::Status s = CheckRange("n_ref", n_ref, 0, 10000); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("tau_out_ms", tau_out_ms, 0, 1e9); !s.ok()) {
    return s;
  }
  if (input_scaling != InputScaling::kOne &&
      input_scaling != InputScaling::kOneMinusAlpha) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_scaling must be kOne or kOneMinusAlpha, got ",
                     static_cast<int>(input_scaling)));
  }
  if (absl::Status s =
          CheckRange("steps_per_frame", steps_per_frame, 1, 100000);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("n_out", n_out, 1, 100000); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("threads", threads, 1, 256); !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

ConvLifConstants MakeConvLifConstants(const ConvFrontEndConfig& config) {
  ConvLifConstants c;
  c.alpha = std::exp(-config.dt_ms / config.tau_m_ms);
  c.c_in = config.input_scaling == InputScaling::kOne ? 1.0 : 1.0 - c.alpha;
  c.v_th = config.v_th;
  c.gamma = config.gamma;
  c.n_ref = config.n_ref;
  c.kappa =
      config.tau_out_ms > 0 ? std::exp(-config.dt_ms / config.tau_out_ms) : 0.0;
  return c;
}

// ---------------------------------------------------------------------------
// Kernels. Filters are the innermost (contiguous) index of both the kernel
// rows and the outputs, so every inner loop is an axpy over filters.

template <typename S>
void ConvAccumulateDense(const ConvGeometry& g, const Mat<S>& w, const S* x,
                         S* current) {
  const int nf = g.filters, k = g.kernel, st = g.stride;
  const int seg = k * g.in_c;  // one kernel row: contiguous in HWC input
  const int oh = g.out_h(), ow = g.out_w();
  const S* wdata = w.data();
  for (int oy = 0; oy < oh; ++oy) {
    for (int ox = 0; ox < ow; ++ox) {
      S* __restrict out = current + (static_cast<int64_t>(oy) * ow + ox) * nf;
      for (int ky = 0; ky < k; ++ky) {
        const S* xs =
            x +
            (static_cast<int64_t>(oy * st + ky) * g.in_w + ox * st) * g.in_c;
        const S* wrow = wdata + static_cast<int64_t>(ky) * seg * nf;
        for (int q = 0; q < seg; ++q) {
          const S xv = xs[q];
          if (xv == S(0)) continue;
          const S* __restrict wq = wrow + static_cast<int64_t>(q) * nf;
          for (int f = 0; f < nf; ++f) out[f] += xv * wq[f];
        }
      }
    }
  }
}

template <typename S>
void ConvAccumulateEvents(const ConvGeometry& g, const Mat<S>& w,
                          const int32_t* idx, const S* values, int64_t n,
                          S* current) {
  const int nf = g.filters;
  ForEachEventTap(g, idx, values, n,
                  [&](S val, int64_t output, int64_t weight_row) {
                    S* __restrict out = current + output;
                    const S* __restrict wq = w.data() + weight_row;
                    for (int f = 0; f < nf; ++f) out[f] += val * wq[f];
                  });
}

template <typename S>
void ConvCorrelateDense(const ConvGeometry& g, const S* delta, const S* x,
                        Mat<S>* dw) {
  const int nf = g.filters, k = g.kernel, st = g.stride;
  const int seg = k * g.in_c;
  const int oh = g.out_h(), ow = g.out_w();
  S* dwdata = dw->data();
  for (int oy = 0; oy < oh; ++oy) {
    for (int ox = 0; ox < ow; ++ox) {
      const S* __restrict d = delta + (static_cast<int64_t>(oy) * ow + ox) * nf;
      for (int ky = 0; ky < k; ++ky) {
        const S* xs =
            x +
            (static_cast<int64_t>(oy * st + ky) * g.in_w + ox * st) * g.in_c;
        S* wrow = dwdata + static_cast<int64_t>(ky) * seg * nf;
        for (int q = 0; q < seg; ++q) {
          const S xv = xs[q];
          if (xv == S(0)) continue;
          S* __restrict wq = wrow + static_cast<int64_t>(q) * nf;
          for (int f = 0; f < nf; ++f) wq[f] += xv * d[f];
        }
      }
    }
  }
}

template <typename S>
void ConvCorrelateEvents(const ConvGeometry& g, const S* delta,
                         const int32_t* idx, const S* values, int64_t n,
                         Mat<S>* dw) {
  const int nf = g.filters;
  ForEachEventTap(g, idx, values, n,
                  [&](S val, int64_t output, int64_t weight_row) {
                    const S* __restrict d = delta + output;
                    S* __restrict wq = dw->data() + weight_row;
                    for (int f = 0; f < nf; ++f) wq[f] += val * d[f];
                  });
}

// ---------------------------------------------------------------------------
// ConvFrontEnd.

template <typename S>
absl::StatusOr<ConvFrontEnd<S>> ConvFrontEnd<S>::Create(
    const ConvFrontEndConfig& config, int batch, uint64_t seed) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  if (absl::Status s = CheckRange("batch", batch, 1, kMaxBatch); !s.ok()) {
    return s;
  }
  ConvFrontEnd f;
  f.config_ = config;
  f.constants_ = MakeConvLifConstants(config);
  f.geometry_ = config.Geometries();
  f.batch_ = batch;
  Rng rng(seed);
  const int layers = f.num_layers();
  for (const ConvGeometry& g : f.geometry_) {
    f.weights_.push_back(NormalMatrix<S>(
        rng, g.patch_size(), g.filters,
        config.init_gain / std::sqrt(static_cast<double>(g.patch_size()))));
  }
  for (const ConvGeometry& g : f.geometry_) {
    f.feedback_.push_back(NormalMatrix<S>(rng, g.out_size(), config.n_out,
                                          config.feedback_stddev));
  }
  for (std::vector<Mat<S>>* m : {&f.v_, &f.r_, &f.z_, &f.psi_, &f.current_}) {
    m->resize(layers);
    for (int l = 0; l < layers; ++l) {
      (*m)[l].setZero(batch, f.geometry_[l].out_size());
    }
  }
  f.frames_.setZero(batch, f.frame_size());
  f.frame_current_.setZero(batch, f.geometry_[0].out_size());
  f.spikes_.assign(layers, std::vector<std::vector<int32_t>>(batch));
  f.pending_reset_.assign(batch, 0);
  f.record_.psi.resize(layers);
  f.record_.events.resize(layers);
  return f;
}

template <typename S>
absl::Status ConvFrontEnd<S>::SetWeights(int l, const Mat<S>& w) {
  if (l < 0 || l >= num_layers()) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer must be in [0, ", num_layers() - 1, "], got ", l));
  }
  if (w.rows() != weights_[l].rows() || w.cols() != weights_[l].cols()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weights of layer ", l, " must be [", weights_[l].rows(), " x ",
        weights_[l].cols(), "], got [", w.rows(), " x ", w.cols(), "]"));
  }
  weights_[l] = w;
  if (l == 0) {
    // The held frames' current depends on the kernels.
    frame_current_.setZero();
    ParallelFor(batch_, config_.threads, [&](int b) {
      ConvAccumulateDense(geometry_[0], weights_[0], frames_.row(b).data(),
                          frame_current_.row(b).data());
    });
  }
  return absl::OkStatus();
}

template <typename S>
absl::Status ConvFrontEnd<S>::SetFrames(const Mat<S>& frames) {
  if (frames.rows() != batch_ || frames.cols() != frame_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "frames must be [batch x frame size] = [", batch_, " x ", frame_size(),
        "], got [", frames.rows(), " x ", frames.cols(), "]"));
  }
  frames_ = frames;
  ++frame_id_;
  frame_current_.setZero();
  ParallelFor(batch_, config_.threads, [&](int b) {
    ConvAccumulateDense(geometry_[0], weights_[0], frames_.row(b).data(),
                        frame_current_.row(b).data());
  });
  return absl::OkStatus();
}

template <typename S>
void ConvFrontEnd<S>::StepSample(int b, int64_t record_row) {
  for (int l = 0; l < num_layers(); ++l) {
    const ConvGeometry& g = geometry_[l];
    const int n = g.out_size();
    const S* current;
    if (l == 0) {
      current = frame_current_.row(b).data();
    } else {
      S* cur = current_[l].row(b).data();
      std::fill(cur, cur + n, S(0));
      const std::vector<int32_t>& in = spikes_[l - 1][b];
      ConvAccumulateEvents(g, weights_[l], in.data(), static_cast<S*>(nullptr),
                           static_cast<int64_t>(in.size()), cur);
      current = cur;
    }
    S* psi = psi_[l].row(b).data();
    UpdateLif(constants_, n, current, v_[l].row(b).data(), r_[l].row(b).data(),
              z_[l].row(b).data(), psi);
    CollectSpikes(z_[l].row(b).data(), n, &spikes_[l][b]);
    if (record_row >= 0) {
      std::copy(psi, psi + n, record_.psi[l].data() + record_row * n);
    }
  }
}

template <typename S>
void ConvFrontEnd<S>::Step() {
  int64_t first_row = -1;
  if (recording_) {
    const int t = record_.steps;
    first_row = static_cast<int64_t>(t) * batch_;
    for (int l = 0; l < num_layers(); ++l) {
      record_.psi[l].resize(static_cast<size_t>(first_row + batch_) *
                            geometry_[l].out_size());
    }
    if (recorded_frame_id_ != frame_id_) {
      record_.frames.insert(record_.frames.end(), frames_.data(),
                            frames_.data() + frames_.size());
      recorded_frame_id_ = frame_id_;
    }
    record_.frame_of_step.push_back(
        static_cast<int>(record_.frames.size() / frames_.size()) - 1);
    record_.reset_before.insert(record_.reset_before.end(),
                                pending_reset_.begin(), pending_reset_.end());
  }
  std::fill(pending_reset_.begin(), pending_reset_.end(), 0);

  const std::vector<Shard> shards = MakeShards(batch_);
  ParallelFor(static_cast<int>(shards.size()), config_.threads, [&](int s) {
    for (int b = shards[s].begin; b < shards[s].end; ++b) {
      StepSample(b, first_row < 0 ? -1 : first_row + b);
    }
  });

  if (recording_) {
    for (int l = 1; l < num_layers(); ++l) {
      SparseRows<S>& ev = record_.events[l];
      for (int b = 0; b < batch_; ++b) {
        const std::vector<int32_t>& sp = spikes_[l - 1][b];
        ev.cols.insert(ev.cols.end(), sp.begin(), sp.end());
        ev.offsets.push_back(static_cast<int64_t>(ev.cols.size()));
      }
    }
    ++record_.steps;
  }
  output_spikes_.offsets.assign(1, 0);
  output_spikes_.cols.clear();
  for (int b = 0; b < batch_; ++b) {
    const std::vector<int32_t>& sp = spikes_.back()[b];
    output_spikes_.cols.insert(output_spikes_.cols.end(), sp.begin(), sp.end());
    output_spikes_.offsets.push_back(
        static_cast<int64_t>(output_spikes_.cols.size()));
  }
}

template <typename S>
void ConvFrontEnd<S>::ResetSample(int b) {
  for (int l = 0; l < num_layers(); ++l) {
    v_[l].row(b).setZero();
    r_[l].row(b).setZero();
    z_[l].row(b).setZero();
    psi_[l].row(b).setZero();
    spikes_[l][b].clear();
  }
  pending_reset_[b] = 1;
}

template <typename S>
void ConvFrontEnd<S>::ResetAll() {
  for (int b = 0; b < batch_; ++b) ResetSample(b);
}

template <typename S>
absl::Status ConvFrontEnd<S>::SetState(int l, const Mat<S>& v,
                                       const Mat<S>& refractory,
                                       const Mat<S>& z) {
  if (l < 0 || l >= num_layers()) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer must be in [0, ", num_layers() - 1, "], got ", l));
  }
  const int n = geometry_[l].out_size();
  for (const Mat<S>* m : {&v, &refractory, &z}) {
    if (m->rows() != batch_ || m->cols() != n) {
      return absl::InvalidArgumentError(
          absl::StrCat("state of layer ", l, " must be [", batch_, " x ", n,
                       "], got [", m->rows(), " x ", m->cols(), "]"));
    }
  }
  v_[l] = v;
  r_[l] = refractory;
  z_[l] = z;
  for (int b = 0; b < batch_; ++b) {
    CollectSpikes(z_[l].row(b).data(), n, &spikes_[l][b]);
  }
  return absl::OkStatus();
}

template <typename S>
void ConvFrontEnd<S>::BeginUnroll() {
  record_.steps = 0;
  record_.batch = batch_;
  for (std::vector<S>& p : record_.psi) p.clear();
  record_.frames.clear();
  record_.frame_of_step.clear();
  for (SparseRows<S>& ev : record_.events) {
    ev.offsets.assign(1, 0);
    ev.cols.clear();
    ev.values.clear();
  }
  record_.reset_before.clear();
  recorded_frame_id_ = -1;
  std::fill(pending_reset_.begin(), pending_reset_.end(), 0);
  recording_ = true;
}

template <typename S>
absl::StatusOr<std::vector<Mat<S>>> ConvFrontEnd<S>::Gradient(
    const Mat<S>& dE_dy) const {
  const int steps = record_.steps;
  const int n_out = config_.n_out;
  if (dE_dy.rows() != static_cast<int64_t>(steps) * batch_ ||
      dE_dy.cols() != n_out) {
    return absl::InvalidArgumentError(
        absl::StrCat("dE_dy must be [recorded steps * batch x n_out] = [",
                     static_cast<int64_t>(steps) * batch_, " x ", n_out,
                     "], got [", dE_dy.rows(), " x ", dE_dy.cols(), "]"));
  }
  const int layers = num_layers();
  const S kappa = static_cast<S>(constants_.kappa);
  const S alpha = static_cast<S>(constants_.alpha);
  const int frame_len = frame_size();
  const std::vector<Shard> shards = MakeShards(batch_);
  // Per-shard sums, added in shard order: results do not depend on threads.
  std::vector<std::vector<Mat<S>>> partial(shards.size());
  ParallelFor(static_cast<int>(shards.size()), config_.threads, [&](int s) {
    std::vector<Mat<S>>& dw = partial[s];
    std::vector<Vec<S>> lf(layers), delta(layers);
    for (int l = 0; l < layers; ++l) {
      dw.push_back(Mat<S>::Zero(weights_[l].rows(), weights_[l].cols()));
      lf[l].resize(geometry_[l].out_size());
      delta[l].resize(geometry_[l].out_size());
    }
    Vec<S> gyf(n_out);
    Vec<S> held(geometry_[0].out_size());  // sum of delta_0 over a frame
    for (int b = shards[s].begin; b < shards[s].end; ++b) {
      gyf.setZero();
      held.setZero();
      for (int l = 0; l < layers; ++l) delta[l].setZero();
      for (int t = steps - 1; t >= 0; --t) {
        const int64_t row = static_cast<int64_t>(t) * batch_ + b;
        // A reset before step t+1 starts fresh traces: nothing after it
        // flows back into step t.
        const bool cut =
            t + 1 < steps && record_.reset_before[row + batch_] != 0;
        if (cut) {
          gyf.setZero();
          for (int l = 0; l < layers; ++l) delta[l].setZero();
        }
        gyf = dE_dy.row(row).transpose() + kappa * gyf;
        for (int l = 0; l < layers; ++l) {
          const int n = geometry_[l].out_size();
          lf[l].noalias() = feedback_[l] * gyf;
          const S* __restrict psi = record_.psi_row(l, t, b, n);
          S* __restrict lfp = lf[l].data();
          S* __restrict d = delta[l].data();
          const S one_minus_kappa = S(1) - kappa;
          for (int j = 0; j < n; ++j) {
            d[j] = psi[j] * (one_minus_kappa * lfp[j]) + alpha * d[j];
          }
          if (l == 0) {
            held += delta[0];
            const int f = record_.frame_of_step[t];
            if (t == 0 || record_.frame_of_step[t - 1] != f) {
              ConvCorrelateDense(
                  geometry_[0], held.data(),
                  record_.frames.data() +
                      (static_cast<int64_t>(f) * batch_ + b) * frame_len,
                  &dw[0]);
              held.setZero();
            }
          } else {
            const SparseRows<S>& ev = record_.events[l];
            ConvCorrelateEvents(
                geometry_[l], d, ev.cols.data() + ev.begin(row),
                ev.values.empty() ? nullptr : ev.values.data() + ev.begin(row),
                ev.end(row) - ev.begin(row), &dw[l]);
          }
        }
      }
    }
  });
  std::vector<Mat<S>> grad;
  for (int l = 0; l < layers; ++l) {
    Mat<S> g = Mat<S>::Zero(weights_[l].rows(), weights_[l].cols());
    for (const std::vector<Mat<S>>& p : partial) g += p[l];
    g *= static_cast<S>(constants_.c_in);
    grad.push_back(std::move(g));
  }
  return grad;
}

// ---------------------------------------------------------------------------
// Scalar double reference.


// ---------------------------------------------------------------------------
// Instantiations.

#define EPROP_CONV_INSTANTIATE(S)                                            \
  template void ConvAccumulateDense(const ConvGeometry&, const Mat<S>&,      \
                                    const S*, S*);                           \
  template void ConvAccumulateEvents(const ConvGeometry&, const Mat<S>&,     \
                                     const int32_t*, const S*, int64_t, S*); \
  template void ConvCorrelateDense(const ConvGeometry&, const S*, const S*,  \
                                   Mat<S>*);                                 \
  template void ConvCorrelateEvents(const ConvGeometry&, const S*,           \
                                    const int32_t*, const S*, int64_t,       \
                                    Mat<S>*);                                \
  template class ConvFrontEnd<S>;

EPROP_CONV_INSTANTIATE(float)
EPROP_CONV_INSTANTIATE(double)
#undef EPROP_CONV_INSTANTIATE

}  // namespace eprop
