#include "core/learn/firing_rate.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace eprop {

template <typename S>
SpikeLossGradient<S> BatchRateRegularization(
    const RateRegularizerConfig& config, const VecD& counts, double samples,
    double dt_ms) {
  const VecD rate = counts / (samples * dt_ms);
  const VecD excess = rate.array() - config.f_target_hz / 1000.0;
  SpikeLossGradient<S> out;
  out.loss = config.c_reg * excess.squaredNorm();
  out.per_neuron = (2.0 * config.c_reg / (samples * dt_ms) * excess).cast<S>();
  return out;
}

namespace {

template <typename S>
SpikeLossGradient<S> RunningAverage(const RateRegularizerConfig& config,
                                    const Mat<S>& z, int steps, int batch,
                                    double dt_ms) {
  const double f0 = config.f_target_hz / 1000.0;
  SpikeLossGradient<S> out;
  out.per_step.setZero(z.rows(), z.cols());
  auto row_of = [&](int64_t k) {  // stream position -> trajectory row
    return (k % steps) * batch + k / steps;
  };
  const int64_t length = static_cast<int64_t>(steps) * batch;
  for (int j = 0; j < z.cols(); ++j) {
    // Forward: running averages. Backward: dE/dz(k') is the sum over
    // k >= k' of dE/dfbar(k) / ((k + 1) dt).
    std::vector<double> dE_dcount(length);
    double count = 0.0;
    for (int64_t k = 0; k < length; ++k) {
      count += z(row_of(k), j);
      const double excess = count / ((k + 1) * dt_ms) - f0;
      out.loss += config.c_reg / steps * excess * excess;
      dE_dcount[k] = 2.0 * config.c_reg / steps * excess / ((k + 1) * dt_ms);
    }
    double suffix = 0.0;
    for (int64_t k = length - 1; k >= 0; --k) {
      suffix += dE_dcount[k];
      out.per_step(row_of(k), j) = static_cast<S>(suffix);
    }
  }
  return out;
}

}  // namespace

absl::Status RateRegularizerConfig::Validate() const {
  if (!std::isfinite(c_reg) || c_reg < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("c_reg must be finite and >= 0, got ", c_reg));
  }
  if (!std::isfinite(f_target_hz) || f_target_hz < 0 || f_target_hz > 1e4) {
    return absl::InvalidArgumentError(
        absl::StrCat("f_target_hz must be in [0, 10000], got ", f_target_hz));
  }
  return absl::OkStatus();
}

template <typename S>
SpikeLossGradient<S> RateRegularization(const RateRegularizerConfig& config,
                                        const Trajectory<S>& traj,
                                        double dt_ms) {
  if (config.c_reg == 0.0) return {};
  if (config.average == RateAverage::kBatch) {
    return BatchRateRegularization<S>(
        config, traj.SpikeCountPerNeuron(),
        static_cast<double>(traj.steps) * traj.batch, dt_ms);
  }
  return RunningAverage(config, traj.DenseSpikes(), traj.steps, traj.batch,
                        dt_ms);
}

template <typename S>
SpikeLossGradient<S> RateRegularizationOfDense(
    const RateRegularizerConfig& config, const Mat<S>& z, int steps, int batch,
    double dt_ms) {
  if (config.c_reg == 0.0) return {};
  if (config.average == RateAverage::kBatch) {
    return BatchRateRegularization<S>(
        config, z.template cast<double>().colwise().sum().transpose(),
        static_cast<double>(steps) * batch, dt_ms);
  }
  return RunningAverage(config, z, steps, batch, dt_ms);
}

template <typename S>
VecD FiringRatesHz(const Trajectory<S>& traj, double dt_ms) {
  const double seconds = traj.steps * dt_ms / 1000.0;
  return traj.SpikeCountPerNeuron() / (seconds * traj.batch);
}

template SpikeLossGradient<float> RateRegularization(
    const RateRegularizerConfig&, const Trajectory<float>&, double);
template SpikeLossGradient<double> RateRegularization(
    const RateRegularizerConfig&, const Trajectory<double>&, double);
template SpikeLossGradient<float> RateRegularizationOfDense(
    const RateRegularizerConfig&, const Mat<float>&, int, int, double);
template SpikeLossGradient<double> RateRegularizationOfDense(
    const RateRegularizerConfig&, const Mat<double>&, int, int, double);
template SpikeLossGradient<float> BatchRateRegularization(
    const RateRegularizerConfig&, const VecD&, double, double);
template SpikeLossGradient<double> BatchRateRegularization(
    const RateRegularizerConfig&, const VecD&, double, double);
template VecD FiringRatesHz(const Trajectory<float>&, double);
template VecD FiringRatesHz(const Trajectory<double>&, double);

}  // namespace eprop
