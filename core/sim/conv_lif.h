// Spiking convolutional front end for Atari frames (paper Figs. 4-5; the
// reference's spiking CNN): LIF convolutional layers without recurrence,
// trained by e-prop with broadcast-alignment learning signals.
//
// Layout. Every image is HWC, row-major: element (y, x, c) of an
// [h x w x c] image has index (y * w + x) * c + c'. A layer's input is
// [in_h x in_w x in_c]; its output neurons are [out_h x out_w x filters],
// out = (in - kernel) / stride + 1 (valid padding, floored). Kernel weights
// are one matrix W [kernel * kernel * in_c x filters], row
// p = (ky * kernel + kx) * in_c + c: output neuron j = (oy, ox, f) reads
// input i = (oy * stride + ky, ox * stride + kx, c) through W(p, f).
//
// Dynamics per network step t (eprop-math.md section 1 with beta = 0 and no
// W_rec), for every output neuron j, with its layer's input x(t) (the frame
// for layer 0, the spikes z(t) of the previous layer, same step, otherwise):
//   I_j(t)   = sum_p W(p, f_j) x_{i(j, p)}(t)
//   v_j(t)   = alpha v_j(t-1) + c_in I_j(t) - v_th z_j(t-1)
//   z_j(t)   = H((v_j(t) - v_th) / v_th), 0 while refractory
//   r_j(t)   = clip(r_j(t-1) + n_ref z_j(t) - 1, 0, n_ref)   (refractory at
//              t iff r_j(t-1) > 0)
//   psi_j(t) = gamma / v_th max(0, 1 - |v_j(t) - v_th| / v_th), 0 while
//              refractory
// alpha = exp(-dt / tau_m) and c_in (1 or 1 - alpha) are shared by all conv
// neurons.
//
// Learning (broadcast alignment, eprop-math.md sections 3, 4 and 6). Given
// the network's readout errors dE/dy [T*B x n_out], conv neuron j gets
//   L_j(t) = sum_k B_jk dE/dy_k(t)
// through a fixed random B per layer, and
//   dE/dW(p, f) = sum_{j = (pos, f)} sum_t L_j(t) ebar_{j i(j,p)}(t),
//   e_ji(t) = psi_j(t) zbar_i(t),  zbar_i(t) = alpha zbar_i(t-1) + c_in x_i(t),
//   ebar_ji(t) = kappa ebar_ji(t-1) + (1 - kappa) e_ji(t),
// traces starting at zero at the start of each recorded unroll (the state is
// carried; the gradient treats it as a constant, as the LSNN does). The fast
// path uses the offline form: with
//   Lf_j(s)    = (1 - kappa) sum_{t>=s} kappa^(t-s) L_j(t),
//   delta_j(s) = psi_j(s) Lf_j(s) + alpha delta_j(s+1)  (backward alpha filter)
// the gradient is dE/dW(p, f) = c_in sum_s sum_pos delta_(pos,f)(s) x_i(s),
// since sum_s G(s) zbar(s) = c_in sum_s Gbar(s) x(s) for G = psi Lf. Only
// the inputs x and psi are recorded: frames once per frame (a frame is
// constant while it is held, so layer 0 correlates sum_s delta(s) with the
// frame once per frame) and the previous layer's spikes as events. A sample
// reset (ResetSample) inside an unroll cuts both backward filters, exactly as
// if its traces restarted at zero.
#ifndef EPROP_CORE_SIM_CONV_LIF_H_
#define EPROP_CORE_SIM_CONV_LIF_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/network_config.h"
#include "core/sim/sparse_rows.h"
#include "core/util/eigen_types.h"

namespace eprop {

// Shape of one convolutional layer.
struct ConvGeometry {
  int in_h = 0, in_w = 0, in_c = 0;
  int filters = 0, kernel = 0, stride = 1;

  int out_h() const { return (in_h - kernel) / stride + 1; }
  int out_w() const { return (in_w - kernel) / stride + 1; }
  int in_size() const { return in_h * in_w * in_c; }
  int out_size() const { return out_h() * out_w() * filters; }
  int patch_size() const { return kernel * kernel * in_c; }

  // OK if every size is positive and the kernel fits the input.
  absl::Status Validate() const;
};

struct ConvLayerSpec {
  int filters = 16;
  int kernel = 8;
  int stride = 4;
};

// Parameters of the front end. Defaults are the paper's Atari network:
// 84x84x1 frames -> 16 filters 8x8 stride 4 (20x20x16 = 6400 LIF) -> 8
// filters 4x4 stride 1 (17x17x8 = 2312 LIF, the LSNN's inputs).
struct ConvFrontEndConfig {
  int frame_height = 84;
  int frame_width = 84;
  int frame_channels = 1;
  std::vector<ConvLayerSpec> layers = {{16, 8, 4}, {8, 4, 1}};

  double dt_ms = 1.0;
  double tau_m_ms = 15.0;  // membrane time constant of every conv neuron
  double v_th = 1.0;       // threshold (also the reset amount)
  int n_ref = 5;           // refractory steps (0: none)
  double gamma = 0.3;      // pseudo-derivative dampening factor
  InputScaling input_scaling = InputScaling::kOne;
  // The readout's filter time constant: ebar is filtered with its kappa
  // (paper Atari: tau_out 2 ms). 0 means no filtering.
  double tau_out_ms = 2.0;
  // A frame is held for this many network steps (paper: 5). The front end
  // does not enforce it: the caller's loop calls SetFrames, then Step() this
  // many times; recorded as documentation of the setup.
  int steps_per_frame = 5;

  // Size of dE/dy, the network's readout errors (policy logits + value).
  int n_out = 1;
  // Initial kernels: W(p, f) ~ N(0, (init_gain / sqrt(kernel^2 in_c))^2).
  double init_gain = 1.0;
  // Broadcast-alignment matrices B [out_size x n_out] per layer:
  // N(0, feedback_stddev^2), drawn once. 1 matches random e-prop's default
  // for classification-like losses (eprop-math.md section 4), so every conv
  // neuron's L_j has the variance of sum_k (dE/dy_k)^2.
  double feedback_stddev = 1.0;
  int threads = 1;  // samples are split over up to this many threads

  // The geometries of the layers, layer 0 first.
  std::vector<ConvGeometry> Geometries() const;
  // OK if every field is in range and every layer fits its input; the error
  // names the field, what is allowed and the offending value.
  absl::Status Validate() const;
};

// Constants shared by every conv neuron, computed once from a config.
struct ConvLifConstants {
  double alpha = 0;  // exp(-dt / tau_m)
  double c_in = 1;   // 1 or 1 - alpha
  double v_th = 1;
  double gamma = 0.3;
  int n_ref = 0;
  double kappa = 0;  // exp(-dt / tau_out), 0 for tau_out = 0
};
// Requires config.Validate().ok().
ConvLifConstants MakeConvLifConstants(const ConvFrontEndConfig& config);

// ---------------------------------------------------------------------------
// Kernels of one layer for one sample (fast path). `w` is [patch x filters].

// current[out_size] += W * x for a dense input x[in_size].
template <typename S>
void ConvAccumulateDense(const ConvGeometry& g, const Mat<S>& w, const S* x,
                         S* current);
// current[out_size] += W * x for the input events (index idx[k], value
// values ? values[k] : 1), k < n.
template <typename S>
void ConvAccumulateEvents(const ConvGeometry& g, const Mat<S>& w,
                          const int32_t* idx, const S* values, int64_t n,
                          S* current);
// dw(p, f) += sum_pos delta[(pos, f)] x[i(pos, p)] for a dense x.
template <typename S>
void ConvCorrelateDense(const ConvGeometry& g, const S* delta, const S* x,
                        Mat<S>* dw);
// The same for input events (as ConvAccumulateEvents).
template <typename S>
void ConvCorrelateEvents(const ConvGeometry& g, const S* delta,
                         const int32_t* idx, const S* values, int64_t n,
                         Mat<S>* dw);

// What the backward pass needs over one unroll. Row t * batch + b of every
// per-step matrix belongs to step t, sample b.
// Memory per sample and step, paper sizes, S = float: psi of both layers
// (6400 + 2312) * 4 B = 34.8 KB, the frame 84*84*4 B / steps_per_frame
// = 5.6 KB, layer-0 spikes 4 B per spike + 8 B per row (~0.9 KB at 3 %):
// ~41 KB, i.e. ~660 MB for an unroll of 100 frames x 5 steps x 32 samples.
// (Checkpointing the state once per frame and recomputing psi in the
// backward pass would cut this to ~11 KB; not implemented.)
template <typename S>
struct ConvRecord {
  int steps = 0;
  int batch = 0;
  // psi[l]: [steps*batch x out_size of layer l], stored as a flat buffer
  // (capacity survives Clear, so a training loop allocates once).
  std::vector<std::vector<S>> psi;
  // Frames held during the unroll: rows f * batch + b, [frames*batch x
  // frame size]; frame_of_step[t] is the frame index used at step t.
  std::vector<S> frames;
  std::vector<int> frame_of_step;
  // events[l] for l >= 1: spikes of layer l-1 at step t (the input of layer
  // l), rows t * batch + b, columns neuron indices of layer l-1.
  std::vector<SparseRows<S>> events;
  // reset_before[t * batch + b] != 0: sample b was reset before step t.
  std::vector<uint8_t> reset_before;

  const S* psi_row(int layer, int t, int b, int out_size) const {
    return psi[layer].data() + (static_cast<int64_t>(t) * batch + b) * out_size;
  }
};

// A stack of LIF conv layers stepping `batch` samples one network step at a
// time. Not thread-safe; uses up to config.threads threads inside calls.
template <typename S>
class ConvFrontEnd {
 public:
  // Draws the kernels and the feedback matrices from `seed`. Errors: the
  // config fails Validate(), or batch is outside [1, 100000].
  static absl::StatusOr<ConvFrontEnd> Create(const ConvFrontEndConfig& config,
                                             int batch, uint64_t seed);

  const ConvFrontEndConfig& config() const { return config_; }
  const ConvLifConstants& constants() const { return constants_; }
  const std::vector<ConvGeometry>& geometries() const { return geometry_; }
  int batch() const { return batch_; }
  int num_layers() const { return static_cast<int>(geometry_.size()); }
  int frame_size() const { return geometry_[0].in_size(); }
  int output_size() const { return geometry_.back().out_size(); }

  // Kernels W [patch x filters] and feedback B [out_size x n_out] of layer l.
  const Mat<S>& weights(int l) const { return weights_[l]; }
  const Mat<S>& feedback(int l) const { return feedback_[l]; }
  // Replaces the kernels of layer l (e.g. after an optimizer step). Error if
  // the shape differs.
  absl::Status SetWeights(int l, const Mat<S>& w);

  // Holds new frames, [batch x frame_size] (HWC per row, analog values,
  // e.g. pixels / 255), for the following steps. Computes layer 0's
  // synaptic current once per frame. Error if the shape is wrong.
  absl::Status SetFrames(const Mat<S>& frames);
  // Advances every sample by one network step with the held frames (all
  // zero before the first SetFrames). Afterwards output() and
  // output_spikes() hold the last layer's spikes of this step.
  void Step();

  // The last layer's spikes z(t): dense 0/1 [batch x output_size] and as
  // sparse rows (row b = sample b), the LSNN's inputs for this step.
  const Mat<S>& output() const { return z_.back(); }
  const SparseRows<S>& output_spikes() const { return output_spikes_; }
  // State of layer l: [batch x out_size] membrane potential, refractory
  // counter, spikes and pseudo-derivative of the last step.
  const Mat<S>& v(int l) const { return v_[l]; }
  const Mat<S>& refractory(int l) const { return r_[l]; }
  const Mat<S>& z(int l) const { return z_[l]; }
  const Mat<S>& psi(int l) const { return psi_[l]; }

  // Zeroes sample b's state (a new episode). Inside a recorded unroll the
  // gradient treats it as a fresh start of b's traces.
  void ResetSample(int b);
  // Zeroes every sample's state.
  void ResetAll();
  // Overwrites the state of layer l (for tests and checkpoints); shapes
  // [batch x out_size] with 0/1 spikes.
  absl::Status SetState(int l, const Mat<S>& v, const Mat<S>& refractory,
                        const Mat<S>& z);

  // Starts recording a new unroll: clears the record (keeping its
  // buffers); the following Step() calls are recorded until StopRecording.
  // Traces start at zero here.
  void BeginUnroll();
  void StopRecording() { recording_ = false; }
  const ConvRecord<S>& record() const { return record_; }

  // Offline e-prop gradients dE/dW [patch x filters] of every layer over the
  // recorded unroll, from the network's readout errors dE/dy
  // [steps*batch x n_out] (rows t * batch + b). Error if the shape is wrong.
  absl::StatusOr<std::vector<Mat<S>>> Gradient(const Mat<S>& dE_dy) const;

 private:
  ConvFrontEnd() = default;
  void StepSample(int b, int64_t record_row);

  ConvFrontEndConfig config_;
  ConvLifConstants constants_;
  std::vector<ConvGeometry> geometry_;
  int batch_ = 0;
  std::vector<Mat<S>> weights_, feedback_;
  std::vector<Mat<S>> v_, r_, z_, psi_, current_;
  Mat<S> frames_;         // [batch x frame_size]
  Mat<S> frame_current_;  // [batch x out_size of layer 0], W x per frame
  bool has_frames_ = false;
  int64_t frame_id_ = 0;
  int64_t recorded_frame_id_ = -1;
  // spikes_[l][b]: neuron indices of layer l that fired in sample b's last
  // step, ascending.
  std::vector<std::vector<std::vector<int32_t>>> spikes_;
  SparseRows<S> output_spikes_;
  std::vector<uint8_t> pending_reset_;
  bool recording_ = false;
  ConvRecord<S> record_;
};

}  // namespace eprop

#endif  // EPROP_CORE_SIM_CONV_LIF_H_
