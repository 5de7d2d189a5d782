#include "core/tasks/pattern_generation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/util/random.h"

namespace eprop {

absl::Status PatternGenerationConfig::Validate() const {
  if (n_inputs < 1 || n_inputs > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_inputs must be in [1, 100000], got ", n_inputs));
  }
  if (steps < 1 || steps > 1000000) {
    return absl::InvalidArgumentError(
        absl::StrCat("steps must be in [1, 1000000], got ", steps));
  }
  if (!std::isfinite(input_rate_hz) || input_rate_hz < 0 ||
      input_rate_hz > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input_rate_hz must be in [0, 1000], got ", input_rate_hz));
  }
  if (n_outputs < 1 || n_outputs > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_outputs must be in [1, 1000], got ", n_outputs));
  }
  return absl::OkStatus();
}

PatternGenerationData MakePatternGeneration(const PatternGenerationConfig& c) {
  Rng rng(c.seed);
  PatternGenerationData data;
  const double p_spike = c.input_rate_hz / 1000.0;
  data.inputs_dense.resize(c.steps, c.n_inputs);
  for (int64_t k = 0; k < data.inputs_dense.size(); ++k) {
    data.inputs_dense.data()[k] = rng.Bernoulli(p_spike) ? 1.0f : 0.0f;
  }
  data.inputs = ToSparseRows(data.inputs_dense);

  constexpr double kPeriodsMs[] = {1000.0, 500.0, 333.0, 200.0};
  data.target.resize(c.steps, c.n_outputs);
  for (int k = 0; k < c.n_outputs; ++k) {
    VecD pattern = VecD::Zero(c.steps);
    for (double period : kPeriodsMs) {
      const double amplitude = rng.Uniform(0.5, 2.0);
      const double phase = rng.Uniform(0.0, 2.0 * M_PI);
      for (int t = 0; t < c.steps; ++t) {
        pattern[t] += amplitude * std::sin(2.0 * M_PI * t / period + phase);
      }
    }
    pattern.array() -= pattern[0];
    const double peak = pattern.cwiseAbs().maxCoeff();
    if (peak > 0) pattern /= peak;
    data.target.col(k) = pattern.cast<float>();
  }
  const Eigen::ArrayXd all =
      data.target.cast<double>().reshaped().array();
  data.target_variance = (all - all.mean()).square().mean();
  return data;
}

NetworkConfig PatternGenerationNetwork(const PatternGenerationConfig& c) {
  NetworkConfig n;
  n.n_in = c.n_inputs;
  n.n_lif = 100;
  n.n_alif = 0;
  n.n_out = c.n_outputs;
  n.tau_m_ms = 30.0;
  n.tau_out_ms = 30.0;
  n.v_th = 0.03;
  n.n_ref = 0;  // the reference has no refractory period in this task
  n.input_scaling = InputScaling::kOneMinusAlpha;
  return n;
}

OptimizerConfig PatternGenerationOptimizer() {
  OptimizerConfig o;
  o.kind = OptimizerConfig::Kind::kSgd;
  o.learning_rate = 1e-4;
  return o;
}

RateRegularizerConfig PatternGenerationRegularizer() {
  RateRegularizerConfig r;
  r.c_reg = 150.0;  // 300 * 1/2
  r.f_target_hz = 10.0;
  r.average = RateAverage::kBatch;
  return r;
}

}  // namespace eprop
