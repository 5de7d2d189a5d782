#include "core/model/network_config.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"

namespace eprop {
namespace {

constexpr int kMaxNeurons = 100000;
constexpr int kMaxInputs = 1000000;
constexpr int kMaxOutputs = 10000;

absl::Status CheckRange(const char* name, double value, double lo, double hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must be in [", lo, ", ", hi, "], got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckPositive(const char* name, double value) {
  if (!std::isfinite(value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be finite and > 0, got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckPerNeuron(const char* name, const std::vector<double>& v,
                            int n_rec, double lo, bool lo_exclusive) {
  if (v.empty()) return absl::OkStatus();
  if (static_cast<int>(v.size()) != n_rec) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must be empty or have n_rec = ", n_rec, " entries, got ",
        v.size()));
  }
  for (size_t j = 0; j < v.size(); ++j) {
    const bool bad = !std::isfinite(v[j]) || v[j] < lo ||
                     (lo_exclusive && v[j] == lo);
    if (bad) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, "[", j, "] must be finite and ", lo_exclusive ? "> " : ">= ",
          lo, ", got ", v[j]));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status NetworkConfig::Validate() const {
  if (absl::Status s = CheckRange("n_in", n_in, 1, kMaxInputs); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("n_lif", n_lif, 0, kMaxNeurons); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("n_alif", n_alif, 0, kMaxNeurons); !s.ok()) {
    return s;
  }
  if (n_rec() < 1 || n_rec() > kMaxNeurons) {
    return absl::InvalidArgumentError(absl::StrCat(
        "n_lif + n_alif must be in [1, ", kMaxNeurons, "], got ", n_rec()));
  }
  if (absl::Status s = CheckRange("n_out", n_out, 1, kMaxOutputs); !s.ok()) {
    return s;
  }
  for (auto [name, value] : {std::pair{"dt_ms", dt_ms},
                             std::pair{"tau_m_ms", tau_m_ms},
                             std::pair{"tau_a_ms", tau_a_ms},
                             std::pair{"v_th", v_th}}) {
    if (absl::Status s = CheckPositive(name, value); !s.ok()) return s;
  }
  if (absl::Status s = CheckRange("beta_alif", beta_alif, 0, 1e6); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("n_ref", n_ref, 0, 10000); !s.ok()) return s;
  if (absl::Status s = CheckRange("gamma", gamma, 0, 1e6); !s.ok()) return s;
  if (absl::Status s = CheckRange("tau_out_ms", tau_out_ms, 0, 1e9); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPerNeuron("tau_m_per_neuron_ms",
                                      tau_m_per_neuron_ms, n_rec(), 0, true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPerNeuron("tau_a_per_neuron_ms",
                                      tau_a_per_neuron_ms, n_rec(), 0, true);
      !s.ok()) {
    return s;
  }
  return CheckPerNeuron("beta_per_neuron", beta_per_neuron, n_rec(), 0, false);
}

NeuronConstants MakeNeuronConstants(const NetworkConfig& config) {
  const int n = config.n_rec();
  NeuronConstants c;
  c.alpha.resize(n);
  c.rho.resize(n);
  c.beta.resize(n);
  c.c_in.resize(n);
  for (int j = 0; j < n; ++j) {
    const double tau_m = config.tau_m_per_neuron_ms.empty()
                             ? config.tau_m_ms
                             : config.tau_m_per_neuron_ms[j];
    const double tau_a = config.tau_a_per_neuron_ms.empty()
                             ? config.tau_a_ms
                             : config.tau_a_per_neuron_ms[j];
    double beta = j < config.n_lif ? 0.0 : config.beta_alif;
    if (!config.beta_per_neuron.empty()) beta = config.beta_per_neuron[j];
    c.alpha[j] = std::exp(-config.dt_ms / tau_m);
    c.beta[j] = beta;
    c.rho[j] = std::exp(-config.dt_ms / tau_a);
    c.c_in[j] = config.input_scaling == InputScaling::kOne ? 1.0
                                                           : 1.0 - c.alpha[j];
  }
  c.kappa = config.tau_out_ms == 0 ? 0.0
                                   : std::exp(-config.dt_ms / config.tau_out_ms);
  c.v_th = config.v_th;
  c.gamma = config.gamma;
  c.n_ref = config.n_ref;
  return c;
}

}  // namespace eprop
