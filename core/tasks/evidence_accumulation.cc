#include "core/tasks/evidence_accumulation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/tasks/poisson.h"

namespace eprop {
namespace {

enum Group { kLeft = 0, kRight = 1, kRecall = 2, kBackground = 3 };

absl::Status CheckInt(const char* name, int value, int lo, int hi) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must be in [", lo, ", ", hi, "], got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckRate(const char* name, double value) {
  if (!std::isfinite(value) || value < 0 || value > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be in [0, 1000] Hz, got ", value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EvidenceAccumulationConfig::Validate() const {
  for (const absl::Status& s :
       {CheckInt("n_cues", n_cues, 1, 1000),
        CheckInt("cue_ms", cue_ms, 1, 100000),
        CheckInt("cue_spacing_ms", cue_spacing_ms, cue_ms, 100000),
        CheckInt("after_cues_ms", after_cues_ms, recall_ms, 1000000),
        CheckInt("recall_ms", recall_ms, 1, 100000),
        CheckInt("inputs_per_group", inputs_per_group, 1, 10000),
        CheckRate("cue_rate_hz", cue_rate_hz),
        CheckRate("recall_rate_hz", recall_rate_hz),
        CheckRate("background_rate_hz", background_rate_hz)}) {
    if (!s.ok()) return s;
  }
  if (!std::isfinite(p_majority) || p_majority < 0.5 || p_majority > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("p_majority must be in [0.5, 1], got ", p_majority));
  }
  return absl::OkStatus();
}

TaskBatch MakeEvidenceBatch(const EvidenceAccumulationConfig& c, int batch,
                            Rng& rng) {
  const int steps = c.steps();
  const int group = c.inputs_per_group;
  TaskBatch out;
  out.steps = steps;
  out.batch = batch;
  out.classification = true;
  const int64_t rows = static_cast<int64_t>(steps) * batch;
  out.labels.assign(rows, 0);
  out.mask.assign(rows, 0);
  SpikeCollector spikes(steps, batch);
  auto fire = [&](int b, Group g, int t0, int t1, double rate_hz) {
    for (int i = 0; i < group; ++i) {
      spikes.AddPoisson(rng, b, g * group + i, t0, t1, rate_hz / 1000.0);
    }
  };
  for (int b = 0; b < batch; ++b) {
    const double p_left = rng.Bernoulli(0.5) ? c.p_majority : 1 - c.p_majority;
    int left = 0;
    for (int k = 0; k < c.n_cues; ++k) {
      const bool is_left = rng.Bernoulli(p_left);
      left += is_left;
      const int t0 = k * c.cue_spacing_ms;
      fire(b, is_left ? kLeft : kRight, t0, t0 + c.cue_ms, c.cue_rate_hz);
    }
    // With an even number of cues a tie counts as right.
    const int label = 2 * left > c.n_cues ? 0 : 1;
    out.sample_labels.push_back(label);
    fire(b, kRecall, steps - c.recall_ms, steps, c.recall_rate_hz);
    fire(b, kBackground, 0, steps, c.background_rate_hz);
    for (int t = steps - c.recall_ms; t < steps; ++t) {
      const int64_t row = static_cast<int64_t>(t) * batch + b;
      out.labels[row] = label;
      out.mask[row] = 1;
    }
  }
  out.inputs = spikes.Build();
  return out;
}

NetworkConfig EvidenceNetwork(const EvidenceAccumulationConfig& c) {
  NetworkConfig n;
  n.n_in = c.n_inputs();
  n.n_lif = 50;
  n.n_alif = 50;
  n.n_out = 2;
  n.tau_m_ms = 20.0;
  n.tau_a_ms = 2000.0;
  n.v_th = 0.6;
  n.n_ref = 5;
  const double alpha = std::exp(-n.dt_ms / n.tau_m_ms);
  const double rho = std::exp(-n.dt_ms / n.tau_a_ms);
  n.beta_alif = 1.7 * (1 - rho) / (1 - alpha);
  n.tau_out_ms = 20.0;
  return n;
}

OptimizerConfig EvidenceOptimizer() {
  OptimizerConfig o;
  o.kind = OptimizerConfig::Kind::kAdam;
  o.learning_rate = 5e-3;
  return o;
}

RateRegularizerConfig EvidenceRegularizer() {
  RateRegularizerConfig r;
  r.c_reg = 1.0;
  r.f_target_hz = 10.0;
  return r;
}

FeedbackConfig EvidenceFeedback(FeedbackMode mode) {
  FeedbackConfig f;
  f.mode = mode;
  f.random_stddev = 1.0;
  return f;
}

}  // namespace eprop
