// The numerical verification behind `eprop verify`: the gradient identities
// of eprop-math.md sections 5-6 checked on the reference setting and on
// random seeds and shapes, each as max|g1 - g2| / max|g2| over all
// parameters (W_in, W_rec, W_out, b), maximised over cases.
#ifndef EPROP_CORE_VERIFY_VERIFY_H_
#define EPROP_CORE_VERIFY_VERIFY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/learn/firing_rate.h"
#include "core/model/network_config.h"

namespace eprop {

enum class VerifyLoss { kMeanSquaredError, kCrossEntropy };

struct VerifyCase {
  std::string name;
  NetworkConfig config;
  int steps = 50;
  int batch = 1;
  VerifyLoss loss = VerifyLoss::kMeanSquaredError;
  RateRegularizerConfig regularizer;
  double input_rate_hz = 100.0;
  double recurrent_scale = 1.0;  // multiplies the initial W_rec
  uint64_t seed = 1;
};

struct CheckResult {
  std::string key;          // JSON key, e.g. "factorization_vs_bptt"
  std::string description;  // what is compared, for the readable report
  double threshold = 0.0;
  double worst = 0.0;       // maximum over cases
  std::string worst_case;
  int cases = 0;
  bool passed() const { return cases > 0 && worst <= threshold; }
};

struct CaseSummary {
  std::string name;
  int64_t spikes = 0;       // total spikes of the fast double simulation
  int64_t alif_spikes = 0;  // of which ALIF neurons
  bool spikes_ok = false;   // spikes occurred (in ALIF neurons too, if any)
  bool forward_matches_reference = false;  // identical spike trains
  // The finite-difference probes kept the hard refractory pattern (else the
  // case is left out of smooth_bptt_vs_finite_diff).
  bool finite_diff_valid = false;
  // float32 produced the same spike trains as double (else the case is left
  // out of float_vs_double).
  bool float_spikes_match = false;
};

struct VerifyReport {
  std::vector<CheckResult> checks;
  std::vector<CaseSummary> cases;
  bool passed = false;
};

struct VerifyOptions {
  int random_cases = 24;
  uint64_t seed = 2020;
};

// The two reference-setting cases of section 5 followed by
// options.random_cases random ones.
std::vector<VerifyCase> VerificationCases(const VerifyOptions& options);

VerifyReport RunVerification(const std::vector<VerifyCase>& cases);

// A readable multi-line report, and a single-line JSON object with one key
// per check (its worst value) plus "passed", "cases" and "thresholds".
std::string FormatReport(const VerifyReport& report);
std::string FormatJson(const VerifyReport& report);

}  // namespace eprop

#endif  // EPROP_CORE_VERIFY_VERIFY_H_
