#include "core/verify/verify.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/learn/eprop_online.h"
#include "core/learn/gradient.h"
#include "core/learn/loss.h"
#include "core/model/weights.h"
#include "core/reference/reference.h"
#include "core/sim/simulate.h"
#include "core/util/random.h"

namespace eprop {
namespace {

constexpr double kExactThreshold = 1e-12;
constexpr double kFiniteDiffThreshold = 1e-6;
constexpr double kFloatThreshold = 1e-4;

// Everything one case needs, fixed before any gradient is computed.
struct CaseData {
  VerifyCase spec;
  MatD x;                      // [T*B x n_in]
  MatD target;                 // [T*B x n_out] (MSE)
  std::vector<int32_t> labels; // [T*B] (cross-entropy)
  std::vector<uint8_t> mask;   // [T*B] (cross-entropy)
  Weights<double> weights;
  MatD random_feedback;        // [n_rec x n_out]
};

template <typename S>
LossGradient<S> TaskLoss(const CaseData& data, const Mat<S>& y) {
  if (data.spec.loss == VerifyLoss::kMeanSquaredError) {
    return MeanSquaredError<S>(y, data.target.cast<S>(), data.spec.batch);
  }
  return SoftmaxCrossEntropy<S>(y, data.labels, data.mask);
}

template <typename S>
struct FastRun {
  Trajectory<S> traj;
  SparseRows<S> inputs;
  NetworkModel<S> model;
  LossGradient<S> loss;
  SpikeLossGradient<S> direct;
};

template <typename S>
FastRun<S> SimulateFast(const CaseData& data) {
  const VerifyCase& c = data.spec;
  FastRun<S> run;
  run.model = NetworkModel<S>::Prepare(MakeNeuronConstants(c.config),
                                       data.weights.Cast<S>());
  run.inputs = ToSparseRows<S>(data.x.cast<S>());
  run.traj = Simulate(run.model, run.inputs, c.steps, c.batch, {});
  run.loss = TaskLoss<S>(data, run.traj.y);
  run.direct = RateRegularization(c.regularizer, run.traj, c.config.dt_ms);
  return run;
}

template <typename S>
Weights<double> FastGradient(const CaseData& data, const FastRun<S>& run,
                             GradientMethod method, const MatD& feedback) {
  GradientInputs options;
  options.readout_bias = data.spec.config.readout_bias;
  return ComputeGradient(method, run.model, Mat<S>(feedback.cast<S>()),
                         run.inputs, run.traj, run.loss.dE_dy, run.direct,
                         options)
      .template Cast<double>();
}

// Online e-prop driven with the exact per-step signals of the whole batch.
Weights<double> OnlineGradient(const CaseData& data, const FastRun<double>& run,
                               const MatD& feedback) {
  const int batch = data.spec.batch;
  OnlineEprop<double> online(&run.model, batch);
  MatD direct_step;
  for (int t = 0; t < data.spec.steps; ++t) {
    const int64_t row = static_cast<int64_t>(t) * batch;
    online.Step(run.inputs, row);
    direct_step.setZero(batch, run.model.n_rec);
    if (run.direct.per_neuron.size() > 0) {
      direct_step.rowwise() += run.direct.per_neuron.transpose();
    }
    if (run.direct.per_step.size() > 0) {
      direct_step += run.direct.per_step.middleRows(row, batch);
    }
    online.Accumulate(run.loss.dE_dy.middleRows(row, batch), direct_step,
                      feedback);
  }
  Weights<double> g = online.Gradient();
  if (!data.spec.config.readout_bias) g.b_out.setZero();
  return g;
}

// The reference applied sample by sample, with losses on the whole batch.
struct ReferenceRun {
  std::vector<reference::SampleTrajectory> samples;
  MatD dE_dy;      // [T*B x n_out]
  MatD direct;     // [T*B x n_rec]
  double loss = 0;
};

ReferenceRun SimulateReference(const CaseData& data, const Weights<double>& w,
                               reference::SpikeFunction spike) {
  const VerifyCase& c = data.spec;
  ReferenceRun run;
  MatD y(static_cast<int64_t>(c.steps) * c.batch, c.config.n_out);
  MatD z(y.rows(), c.config.n_rec());
  for (int b = 0; b < c.batch; ++b) {
    run.samples.push_back(reference::Forward(
        c.config, w, SampleRows(data.x, c.steps, c.batch, b), spike));
    for (int t = 0; t < c.steps; ++t) {
      y.row(t * c.batch + b) = run.samples[b].y.row(t);
      z.row(t * c.batch + b) = run.samples[b].z.row(t);
    }
  }
  const LossGradient<double> loss = TaskLoss<double>(data, y);
  const SpikeLossGradient<double> reg = RateRegularizationOfDense(
      c.regularizer, z, c.steps, c.batch, c.config.dt_ms);
  run.loss = loss.loss + reg.loss;
  run.dE_dy = loss.dE_dy;
  run.direct = MatD::Zero(z.rows(), z.cols());
  if (reg.per_neuron.size() > 0) run.direct.rowwise() += reg.per_neuron.transpose();
  if (reg.per_step.size() > 0) run.direct += reg.per_step;
  return run;
}

using SampleGradient = std::function<Weights<double>(
    const reference::SampleTrajectory&, const MatD& x, const MatD& dE_dy,
    const MatD& direct)>;

Weights<double> SumOverSamples(const CaseData& data, const ReferenceRun& run,
                               const SampleGradient& gradient) {
  const VerifyCase& c = data.spec;
  Weights<double> total;
  for (int b = 0; b < c.batch; ++b) {
    Weights<double> g = gradient(run.samples[b],
                                 SampleRows(data.x, c.steps, c.batch, b),
                                 SampleRows(run.dE_dy, c.steps, c.batch, b),
                                 SampleRows(run.direct, c.steps, c.batch, b));
    if (b == 0) {
      total = g;
    } else {
      total.Add(g);
    }
  }
  return total;
}

Weights<double> ReferenceBptt(const CaseData& data, const ReferenceRun& run,
                              const Weights<double>& w, bool stop_gradient) {
  return SumOverSamples(data, run, [&](const auto& traj, const MatD& x,
                                       const MatD& dE_dy, const MatD& direct) {
    return reference::Bptt(data.spec.config, w, x, traj, dE_dy, direct,
                           stop_gradient)
        .grad;
  });
}

// All parameters as one [1 x n] vector.
MatD Flatten(const Weights<double>& w) {
  MatD flat(1, w.w_in.size() + w.w_rec.size() + w.w_out.size() +
                   w.b_out.size());
  flat << w.w_in.reshaped<Eigen::RowMajor>().transpose(),
      w.w_rec.reshaped<Eigen::RowMajor>().transpose(),
      w.w_out.reshaped<Eigen::RowMajor>().transpose(), w.b_out.transpose();
  return flat;
}

double InRecDifference(const Weights<double>& a, const Weights<double>& b) {
  return std::max(MaxRelativeDifference(a.w_in, b.w_in),
                  MaxRelativeDifference(a.w_rec, b.w_rec));
}

// The hard-spike refractory pattern of a smooth-surrogate run: the loss is
// differentiable only where it stays the same.
std::vector<MatD> RefractoryPattern(const ReferenceRun& run) {
  std::vector<MatD> pattern;
  for (const auto& sample : run.samples) pattern.push_back(sample.r);
  return pattern;
}

// Central finite differences of the smooth-surrogate loss for every weight
// (W_rec off the diagonal; b only with a readout bias), with a fourth-order
// stencil. The best step depends on the curvature, which is large in very
// active networks: estimates are taken for h = 1e-2 .. 1e-5 and the one
// that agrees best with its neighbour (the flat part of the error curve
// between truncation and rounding) is kept. Steps whose perturbation changes
// the refractory pattern (a hard threshold crossing, where the loss is not
// differentiable) are skipped; returns false if fewer than two remain.
bool FiniteDifferences(const CaseData& data, Weights<double>* grad) {
  Weights<double> w = data.weights;
  *grad = Weights<double>::ZerosLike(w);
  const std::vector<MatD> pattern = RefractoryPattern(
      SimulateReference(data, w, reference::SpikeFunction::kSigmoid));
  auto estimate = [&](double& entry, double h, double* out) {
    const double saved = entry;
    const double offsets[4] = {-2, -1, 1, 2};
    double f[4];
    bool differentiable = true;
    for (int k = 0; k < 4 && differentiable; ++k) {
      entry = saved + offsets[k] * h;
      const ReferenceRun run =
          SimulateReference(data, w, reference::SpikeFunction::kSigmoid);
      f[k] = run.loss;
      differentiable = RefractoryPattern(run) == pattern;
    }
    entry = saved;
    *out = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
    return differentiable;
  };
  auto probe = [&](double& entry, double& out) {
    std::vector<double> estimates;
    for (double h = 1e-2; h >= 1e-5; h /= 10) {
      double value;
      if (estimate(entry, h, &value)) estimates.push_back(value);
    }
    if (estimates.size() < 2) return false;
    double best_gap = INFINITY;
    for (size_t k = 0; k + 1 < estimates.size(); ++k) {
      const double gap = std::abs(estimates[k + 1] - estimates[k]);
      if (gap < best_gap) {
        best_gap = gap;
        out = estimates[k + 1];
      }
    }
    return true;
  };
  bool ok = true;
  for (int64_t k = 0; k < w.w_in.size(); ++k) {
    ok &= probe(w.w_in.data()[k], grad->w_in.data()[k]);
  }
  for (int j = 0; j < w.w_rec.rows(); ++j) {
    for (int i = 0; i < w.w_rec.cols(); ++i) {
      if (i != j) ok &= probe(w.w_rec(j, i), grad->w_rec(j, i));
    }
  }
  for (int64_t k = 0; k < w.w_out.size(); ++k) {
    ok &= probe(w.w_out.data()[k], grad->w_out.data()[k]);
  }
  if (data.spec.config.readout_bias) {
    for (int64_t k = 0; k < w.b_out.size(); ++k) {
      ok &= probe(w.b_out[k], grad->b_out[k]);
    }
  }
  return ok;
}

// Whether the network is active enough for a meaningful check: at least 3
// spikes and a 1 % rate overall, and at least 2 ALIF spikes when there are
// ALIF neurons. Cases must never pass vacuously.
bool Spikes(const CaseData& data, int64_t* total, int64_t* alif) {
  const FastRun<double> run = SimulateFast<double>(data);
  const VecD counts = run.traj.SpikeCountPerNeuron();
  *total = static_cast<int64_t>(counts.sum());
  *alif = static_cast<int64_t>(counts.tail(data.spec.config.n_alif).sum());
  const double slots = static_cast<double>(data.spec.steps) * data.spec.batch *
                       data.spec.config.n_rec();
  return *total >= std::max(3.0, 0.01 * slots) &&
         (data.spec.config.n_alif == 0 || *alif >= 2);
}

CaseData MakeCaseData(const VerifyCase& c) {
  CaseData data;
  data.spec = c;
  Rng rng(c.seed);
  const int64_t rows = static_cast<int64_t>(c.steps) * c.batch;
  const double p_input = c.input_rate_hz * c.config.dt_ms / 1000.0;
  data.x.resize(rows, c.config.n_in);
  for (int64_t k = 0; k < data.x.size(); ++k) {
    data.x.data()[k] = rng.Bernoulli(p_input) ? 1.0 : 0.0;
  }
  data.target.resize(rows, c.config.n_out);
  for (int64_t k = 0; k < data.target.size(); ++k) {
    data.target.data()[k] = rng.Normal();
  }
  for (int64_t r = 0; r < rows; ++r) {
    data.labels.push_back(static_cast<int32_t>(rng.UniformInt(c.config.n_out)));
    data.mask.push_back((r / c.batch) >= c.steps / 3 ? 1 : 0);
  }
  const Weights<double> initial = InitWeights(c.config, c.seed + 1);
  data.random_feedback = InitRandomFeedback(c.config, 1.0, c.seed + 2);
  double scale = 1.0;
  // Scale W_in up from 1 until the network is active enough.
  for (int attempt = 0; attempt < 16; ++attempt, scale *= 1.5) {
    data.weights = initial;
    // Excitatory inputs: a neuron whose inputs are all inhibitory would stay
    // silent at any scale.
    data.weights.w_in = scale * initial.w_in.cwiseAbs();
    data.weights.w_rec = c.recurrent_scale * initial.w_rec;
    if (c.config.readout_bias) {
      for (int k = 0; k < c.config.n_out; ++k) {
        data.weights.b_out[k] = 0.1 * (k + 1);
      }
    }
    int64_t total = 0, alif = 0;
    if (Spikes(data, &total, &alif)) break;
  }
  return data;
}

class Checks {
 public:
  Checks() {
    Add("factorization_vs_bptt",
        "sum_t dE/dz(t) e(t) vs BPTT (reference, eq. 1)", kExactThreshold);
    Add("eprop_vs_stopgrad_bptt",
        "symmetric e-prop (traces and fast offline) vs stop-gradient BPTT",
        kExactThreshold);
    Add("online_vs_offline", "online e-prop vs offline e-prop (random B)",
        kExactThreshold);
    Add("fast_vs_reference",
        "fast BPTT and fast e-prop (double) vs scalar reference",
        kExactThreshold);
    Add("smooth_bptt_vs_finite_diff",
        "BPTT vs central differences, smooth sigmoid spikes",
        kFiniteDiffThreshold);
    Add("float_vs_double",
        "fast float32 BPTT and e-prop vs double reference", kFloatThreshold);
  }

  void Record(const std::string& key, const std::string& case_name,
              double value) {
    for (CheckResult& check : checks_) {
      if (check.key != key) continue;
      ++check.cases;
      if (std::isnan(check.worst)) return;  // a NaN stays the worst value
      if (std::isnan(value) || value > check.worst) {
        check.worst = value;
        check.worst_case = case_name;
      }
    }
  }

  std::vector<CheckResult> Take() { return std::move(checks_); }

 private:
  void Add(const char* key, const char* description, double threshold) {
    CheckResult check;
    check.key = key;
    check.description = description;
    check.threshold = threshold;
    checks_.push_back(check);
  }
  std::vector<CheckResult> checks_;
};

CaseSummary RunCase(const VerifyCase& spec, Checks* checks) {
  const CaseData data = MakeCaseData(spec);
  CaseSummary summary;
  summary.name = spec.name;
  summary.spikes_ok = Spikes(data, &summary.spikes, &summary.alif_spikes);

  const FastRun<double> fast = SimulateFast<double>(data);
  const ReferenceRun ref = SimulateReference(
      data, data.weights, reference::SpikeFunction::kHeaviside);
  const MatD fast_z = fast.traj.DenseSpikes();
  bool same_spikes = true;
  for (int b = 0; b < spec.batch; ++b) {
    same_spikes &= SampleRows(fast_z, spec.steps, spec.batch, b) ==
                   ref.samples[b].z;
  }
  summary.forward_matches_reference = same_spikes;

  const Weights<double>& w = data.weights;
  const MatD symmetric = w.w_out.transpose();
  const Weights<double> bptt = ReferenceBptt(data, ref, w, false);
  const Weights<double> stop = ReferenceBptt(data, ref, w, true);

  const Weights<double> factorized = SumOverSamples(
      data, ref, [&](const auto& traj, const MatD& x, const MatD& dE_dy,
                     const MatD& direct) {
        const reference::BpttResult full = reference::Bptt(
            spec.config, w, x, traj, dE_dy, direct, false);
        return reference::FactorizedGradient(spec.config, w, x, traj,
                                             full.dE_dz);
      });
  checks->Record("factorization_vs_bptt", spec.name,
                 InRecDifference(factorized, bptt));

  auto traces = [&](const MatD& feedback) {
    return SumOverSamples(data, ref, [&](const auto& traj, const MatD& x,
                                         const MatD& dE_dy,
                                         const MatD& direct) {
      return reference::EpropGradient(spec.config, w, x, traj, dE_dy, direct,
                                      feedback);
    });
  };
  const Weights<double> fast_symmetric =
      FastGradient(data, fast, GradientMethod::kEpropOffline, symmetric);
  checks->Record("eprop_vs_stopgrad_bptt", spec.name,
                 std::max(MaxRelativeDifference(traces(symmetric), stop),
                          MaxRelativeDifference(fast_symmetric, stop)));

  const Weights<double> fast_random = FastGradient(
      data, fast, GradientMethod::kEpropOffline, data.random_feedback);
  checks->Record(
      "online_vs_offline", spec.name,
      MaxRelativeDifference(OnlineGradient(data, fast, data.random_feedback),
                            fast_random));

  const Weights<double> ref_random = traces(data.random_feedback);
  const Weights<double> fast_bptt =
      FastGradient(data, fast, GradientMethod::kBptt, symmetric);
  checks->Record("fast_vs_reference", spec.name,
                 std::max(MaxRelativeDifference(fast_bptt, bptt),
                          MaxRelativeDifference(fast_random, ref_random)));

  // Over the gradient as one vector: finite differences carry an absolute
  // rounding error of about 1e-16 |E| / h, which would dominate a small
  // parameter group measured on its own.
  Weights<double> finite_diff;
  summary.finite_diff_valid = FiniteDifferences(data, &finite_diff);
  if (summary.finite_diff_valid) {
    const ReferenceRun smooth =
        SimulateReference(data, w, reference::SpikeFunction::kSigmoid);
    checks->Record("smooth_bptt_vs_finite_diff", spec.name,
                   MaxRelativeDifference(
                       Flatten(finite_diff),
                       Flatten(ReferenceBptt(data, smooth, w, false))));
  }

  // Float rounding may flip a threshold crossing; the spike trains then
  // differ and the gradients are not comparable.
  const FastRun<float> single = SimulateFast<float>(data);
  summary.float_spikes_match =
      single.traj.DenseSpikes().template cast<double>() == fast_z;
  if (summary.float_spikes_match) {
    checks->Record(
        "float_vs_double", spec.name,
        std::max(
            MaxRelativeDifference(
                FastGradient(data, single, GradientMethod::kBptt, symmetric),
                bptt),
            MaxRelativeDifference(
                FastGradient(data, single, GradientMethod::kEpropOffline,
                             data.random_feedback),
                ref_random)));
  }
  return summary;
}

}  // namespace

std::vector<VerifyCase> VerificationCases(const VerifyOptions& options) {
  std::vector<VerifyCase> cases;
  // Section 5a: 3 inputs, 4 LIF + 4 ALIF, T = 50, MSE (config defaults).
  VerifyCase a;
  a.name = "reference_T50";
  a.steps = 50;
  a.seed = options.seed;
  cases.push_back(a);
  // Section 5b: the same with T = 10 and n_ref = 3.
  VerifyCase b = a;
  b.name = "reference_T10_nref3";
  b.steps = 10;
  b.config.n_ref = 3;
  b.seed = options.seed + 1;
  cases.push_back(b);

  Rng rng(options.seed);
  for (int i = 0; i < options.random_cases; ++i) {
    VerifyCase c;
    const int kind = i % 3;  // mixed, LIF only, ALIF only
    c.config.n_in = 2 + static_cast<int>(rng.UniformInt(7));
    c.config.n_lif = kind == 2 ? 0 : 2 + static_cast<int>(rng.UniformInt(9));
    c.config.n_alif = kind == 1 ? 0 : 2 + static_cast<int>(rng.UniformInt(9));
    c.loss = i % 2 == 0 ? VerifyLoss::kMeanSquaredError
                        : VerifyLoss::kCrossEntropy;
    c.config.n_out = (c.loss == VerifyLoss::kCrossEntropy ? 2 : 1) +
                     static_cast<int>(rng.UniformInt(2));
    c.config.n_ref = 1 + i % 5;
    c.config.input_scaling = (i / 3) % 2 == 0 ? InputScaling::kOne
                                               : InputScaling::kOneMinusAlpha;
    c.config.tau_out_ms = i % 4 == 3 ? 0.0 : rng.Uniform(5.0, 30.0);
    c.config.tau_m_ms = rng.Uniform(10.0, 30.0);
    c.config.tau_a_ms = rng.Uniform(50.0, 600.0);
    c.config.beta_alif = rng.Uniform(0.05, 0.5);
    c.config.v_th = rng.Uniform(0.3, 1.0);
    c.config.readout_bias = i % 2 == 1;
    if (i % 5 == 4) {
      for (int j = 0; j < c.config.n_rec(); ++j) {
        c.config.tau_m_per_neuron_ms.push_back(rng.Uniform(5.0, 40.0));
      }
    }
    c.regularizer.c_reg = i % 3 == 0 ? 0.0 : rng.Uniform(0.1, 10.0);
    c.regularizer.f_target_hz = rng.Uniform(5.0, 50.0);
    c.regularizer.average = i % 6 < 3 ? RateAverage::kBatch
                                      : RateAverage::kRunning;
    c.steps = 20 + static_cast<int>(rng.UniformInt(41));
    c.batch = 1 + static_cast<int>(rng.UniformInt(3));
    c.input_rate_hz = rng.Uniform(50.0, 200.0);
    // Recurrent loop gain ~ |W_rec| / (sigmoid width * v_th) stays moderate,
    // so the smooth network is not chaotic and finite differences stay
    // accurate.
    c.recurrent_scale = c.config.v_th;
    c.seed = options.seed + 100 + i;
    c.name = absl::StrFormat(
        "random_%02d(%s,in=%d,lif=%d,alif=%d,out=%d,nref=%d,T=%d,B=%d,%s%s%s%s)",
        i, kind == 0 ? "mixed" : kind == 1 ? "lif" : "alif", c.config.n_in,
        c.config.n_lif, c.config.n_alif, c.config.n_out, c.config.n_ref,
        c.steps, c.batch, c.loss == VerifyLoss::kCrossEntropy ? "ce" : "mse",
        c.config.input_scaling == InputScaling::kOne ? "" : ",cin=1-alpha",
        c.config.tau_out_ms == 0 ? ",unfiltered" : "",
        c.regularizer.c_reg == 0 ? ""
        : c.regularizer.average == RateAverage::kBatch ? ",reg"
                                                       : ",reg_running");
    cases.push_back(c);
  }
  return cases;
}

VerifyReport RunVerification(const std::vector<VerifyCase>& cases) {
  Checks checks;
  VerifyReport report;
  for (const VerifyCase& c : cases) report.cases.push_back(RunCase(c, &checks));
  report.checks = checks.Take();
  report.passed = !cases.empty();
  for (const CheckResult& check : report.checks) {
    report.passed &= check.passed();
  }
  for (const CaseSummary& c : report.cases) {
    report.passed &= c.spikes_ok && c.forward_matches_reference;
  }
  // Cases may be left out of a check (see CaseSummary), but a check that
  // covers fewer than half of them proves too little.
  for (const CheckResult& check : report.checks) {
    report.passed &= 2 * check.cases >= static_cast<int>(cases.size());
  }
  return report;
}

std::string FormatReport(const VerifyReport& report) {
  std::string out = "e-prop numerical verification\n";
  absl::StrAppend(&out, "\nCases (", report.cases.size(), "):\n");
  for (const CaseSummary& c : report.cases) {
    absl::StrAppendFormat(
        &out, "  %-70s spikes %5d (ALIF %4d)%s%s%s%s\n", c.name, c.spikes,
        c.alif_spikes, c.spikes_ok ? "" : "  TOO FEW SPIKES",
        c.forward_matches_reference ? "" : "  FORWARD DIFFERS FROM REFERENCE",
        c.finite_diff_valid ? "" : "  [finite diff: threshold crossing, left out]",
        c.float_spikes_match ? "" : "  [float32 spikes differ, left out]");
  }
  absl::StrAppend(&out, "\nChecks (max |g1 - g2| / max |g2| over cases):\n");
  for (const CheckResult& check : report.checks) {
    absl::StrAppendFormat(&out, "  %-28s %9.2e  (threshold %.0e, %d/%d cases)  %s\n",
                          check.key, check.worst, check.threshold, check.cases,
                          report.cases.size(), check.passed() ? "PASS" : "FAIL");
    absl::StrAppendFormat(&out, "      %s; worst: %s\n", check.description,
                          check.worst_case);
  }
  absl::StrAppend(&out, "\n", report.passed ? "ALL CHECKS PASSED" : "FAILED",
                  "\n");
  return out;
}

std::string FormatJson(const VerifyReport& report) {
  std::string out = "{";
  std::string thresholds;
  for (const CheckResult& check : report.checks) {
    if (std::isnan(check.worst)) {
      absl::StrAppendFormat(&out, "\"%s\":null,", check.key);
    } else {
      absl::StrAppendFormat(&out, "\"%s\":%.6e,", check.key, check.worst);
    }
    absl::StrAppendFormat(&thresholds, "%s\"%s\":%.0e",
                          thresholds.empty() ? "" : ",", check.key,
                          check.threshold);
  }
  absl::StrAppendFormat(&out, "\"cases\":%d,\"thresholds\":{%s},\"passed\":%s}",
                        report.cases.size(), thresholds,
                        report.passed ? "true" : "false");
  return out;
}

}  // namespace eprop
