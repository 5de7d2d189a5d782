#include "core/model/network_config.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// Expects `config` to be rejected with INVALID_ARGUMENT naming `field`.
void ExpectRejected(const NetworkConfig& config, const std::string& field) {
  const absl::Status status = config.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
      << field << ": " << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(field));
}

// A config that differs from the defaults by one mutation.
NetworkConfig With(const std::function<void(NetworkConfig&)>& mutate) {
  NetworkConfig config;
  mutate(config);
  return config;
}

// ------------------------------------------------------------- Validate()

TEST(NetworkConfigValidateTest, AcceptsDefaults) {
  const NetworkConfig config;
  EXPECT_TRUE(config.Validate().ok()) << config.Validate();
  EXPECT_EQ(config.n_rec(), 8);
}

TEST(NetworkConfigValidateTest, AcceptsEdgeValues) {
  // Only-LIF and only-ALIF networks, no refractoriness, no readout filter,
  // zero adaptation, zero per-neuron beta (a LIF-like neuron).
  EXPECT_TRUE(With([](NetworkConfig& c) { c.n_alif = 0; }).Validate().ok());
  EXPECT_TRUE(With([](NetworkConfig& c) { c.n_lif = 0; }).Validate().ok());
  EXPECT_TRUE(With([](NetworkConfig& c) { c.n_ref = 0; }).Validate().ok());
  EXPECT_TRUE(With([](NetworkConfig& c) { c.tau_out_ms = 0; }).Validate().ok());
  EXPECT_TRUE(With([](NetworkConfig& c) { c.beta_alif = 0; }).Validate().ok());
  EXPECT_TRUE(With([](NetworkConfig& c) {
                c.tau_m_per_neuron_ms.assign(c.n_rec(), 10.0);
                c.tau_a_per_neuron_ms.assign(c.n_rec(), 200.0);
                c.beta_per_neuron.assign(c.n_rec(), 0.0);
              })
                  .Validate()
                  .ok());
}

TEST(NetworkConfigValidateTest, RejectsBadSizes) {
  ExpectRejected(With([](NetworkConfig& c) { c.n_in = 0; }), "n_in");
  ExpectRejected(With([](NetworkConfig& c) { c.n_in = -3; }), "n_in");
  ExpectRejected(With([](NetworkConfig& c) { c.n_lif = -1; }), "n_lif");
  ExpectRejected(With([](NetworkConfig& c) { c.n_alif = -1; }), "n_alif");
  ExpectRejected(With([](NetworkConfig& c) {
                   c.n_lif = 0;
                   c.n_alif = 0;
                 }),
                 "n_lif + n_alif");
  ExpectRejected(With([](NetworkConfig& c) { c.n_out = 0; }), "n_out");
  ExpectRejected(With([](NetworkConfig& c) { c.n_out = -1; }), "n_out");
}

TEST(NetworkConfigValidateTest,
     RejectsNonPositiveOrNonFiniteTimesAndThreshold) {
  struct Field {
    std::string name;
    double NetworkConfig::*member;
  };
  const std::vector<Field> fields = {{"dt_ms", &NetworkConfig::dt_ms},
                                     {"tau_m_ms", &NetworkConfig::tau_m_ms},
                                     {"tau_a_ms", &NetworkConfig::tau_a_ms},
                                     {"v_th", &NetworkConfig::v_th}};
  for (const Field& field : fields) {
    for (double bad : {0.0, -1.0, kInf, -kInf, kNan}) {
      SCOPED_TRACE(field.name + " = " + std::to_string(bad));
      NetworkConfig config;
      config.*field.member = bad;
      ExpectRejected(config, field.name);
    }
  }
}

TEST(NetworkConfigValidateTest, RejectsBadScalars) {
  ExpectRejected(With([](NetworkConfig& c) { c.beta_alif = kNan; }),
                 "beta_alif");
  ExpectRejected(With([](NetworkConfig& c) { c.beta_alif = -0.1; }),
                 "beta_alif");
  ExpectRejected(With([](NetworkConfig& c) { c.beta_alif = kInf; }),
                 "beta_alif");
  ExpectRejected(With([](NetworkConfig& c) { c.n_ref = -1; }), "n_ref");
  ExpectRejected(With([](NetworkConfig& c) { c.gamma = kNan; }), "gamma");
  ExpectRejected(With([](NetworkConfig& c) { c.gamma = -0.3; }), "gamma");
  ExpectRejected(With([](NetworkConfig& c) { c.tau_out_ms = -1; }),
                 "tau_out_ms");
  ExpectRejected(With([](NetworkConfig& c) { c.tau_out_ms = kNan; }),
                 "tau_out_ms");
}

TEST(NetworkConfigValidateTest, RejectsPerNeuronVectorsOfWrongSize) {
  const int n_rec = NetworkConfig().n_rec();
  for (int size : {1, n_rec - 1, n_rec + 1}) {
    SCOPED_TRACE(size);
    ExpectRejected(With([&](NetworkConfig& c) {
                     c.tau_m_per_neuron_ms.assign(size, 20.0);
                   }),
                   "tau_m_per_neuron_ms");
    ExpectRejected(With([&](NetworkConfig& c) {
                     c.tau_a_per_neuron_ms.assign(size, 500.0);
                   }),
                   "tau_a_per_neuron_ms");
    ExpectRejected(
        With([&](NetworkConfig& c) { c.beta_per_neuron.assign(size, 0.1); }),
        "beta_per_neuron");
  }
}

TEST(NetworkConfigValidateTest, RejectsBadPerNeuronEntries) {
  const int n_rec = NetworkConfig().n_rec();
  // Time constants must be finite and > 0.
  for (double bad : {0.0, -5.0, kNan, kInf}) {
    SCOPED_TRACE(bad);
    ExpectRejected(With([&](NetworkConfig& c) {
                     c.tau_m_per_neuron_ms.assign(n_rec, 20.0);
                     c.tau_m_per_neuron_ms[3] = bad;
                   }),
                   "tau_m_per_neuron_ms[3]");
    ExpectRejected(With([&](NetworkConfig& c) {
                     c.tau_a_per_neuron_ms.assign(n_rec, 500.0);
                     c.tau_a_per_neuron_ms[n_rec - 1] = bad;
                   }),
                   "tau_a_per_neuron_ms[" + std::to_string(n_rec - 1) + "]");
  }
  // beta may be 0 (LIF-like) but not negative or non-finite.
  for (double bad : {-0.01, kNan, kInf}) {
    SCOPED_TRACE(bad);
    ExpectRejected(With([&](NetworkConfig& c) {
                     c.beta_per_neuron.assign(n_rec, 0.07);
                     c.beta_per_neuron[0] = bad;
                   }),
                   "beta_per_neuron[0]");
  }
}

// ---------------------------------------------------- MakeNeuronConstants

TEST(MakeNeuronConstantsTest, DerivesDecaysFromScalars) {
  NetworkConfig config;
  config.n_lif = 2;
  config.n_alif = 3;
  config.dt_ms = 0.5;
  config.tau_m_ms = 20.0;
  config.tau_a_ms = 700.0;
  config.beta_alif = 1.8;
  config.v_th = 0.03;
  config.gamma = 0.25;
  config.n_ref = 5;
  config.tau_out_ms = 30.0;
  ASSERT_TRUE(config.Validate().ok());

  const NeuronConstants c = MakeNeuronConstants(config);
  ASSERT_EQ(c.alpha.size(), 5);
  ASSERT_EQ(c.rho.size(), 5);
  ASSERT_EQ(c.beta.size(), 5);
  ASSERT_EQ(c.c_in.size(), 5);
  for (int j = 0; j < 5; ++j) {
    SCOPED_TRACE(j);
    EXPECT_DOUBLE_EQ(c.alpha[j], std::exp(-0.5 / 20.0));
    EXPECT_DOUBLE_EQ(c.rho[j], std::exp(-0.5 / 700.0));
    EXPECT_EQ(c.beta[j], j < 2 ? 0.0 : 1.8);  // first n_lif neurons are LIF
    EXPECT_EQ(c.c_in[j], 1.0);                // kOne is the default
  }
  EXPECT_DOUBLE_EQ(c.kappa, std::exp(-0.5 / 30.0));
  EXPECT_EQ(c.v_th, 0.03);
  EXPECT_EQ(c.gamma, 0.25);
  EXPECT_EQ(c.n_ref, 5);
}

TEST(MakeNeuronConstantsTest, PerNeuronOverridesReplaceScalars) {
  NetworkConfig config;
  config.n_lif = 2;
  config.n_alif = 2;
  config.tau_m_per_neuron_ms = {10.0, 20.0, 30.0, 40.0};
  config.tau_a_per_neuron_ms = {100.0, 200.0, 300.0, 400.0};
  // Overrides apply to LIF neurons as well, and 0 makes an ALIF LIF-like.
  config.beta_per_neuron = {0.5, 0.0, 0.0, 2.0};
  ASSERT_TRUE(config.Validate().ok());

  const NeuronConstants c = MakeNeuronConstants(config);
  ASSERT_EQ(c.alpha.size(), 4);
  for (int j = 0; j < 4; ++j) {
    SCOPED_TRACE(j);
    EXPECT_DOUBLE_EQ(c.alpha[j], std::exp(-1.0 / (10.0 * (j + 1))));
    EXPECT_DOUBLE_EQ(c.rho[j], std::exp(-1.0 / (100.0 * (j + 1))));
    EXPECT_EQ(c.beta[j], config.beta_per_neuron[j]);
  }
}

TEST(MakeNeuronConstantsTest, InputScalingOneMinusAlpha) {
  NetworkConfig config;
  config.input_scaling = InputScaling::kOneMinusAlpha;
  config.tau_m_per_neuron_ms = {5, 10, 15, 20, 25, 30, 35, 40};
  ASSERT_TRUE(config.Validate().ok());
  const NeuronConstants c = MakeNeuronConstants(config);
  ASSERT_EQ(c.c_in.size(), 8);
  for (int j = 0; j < 8; ++j) {
    SCOPED_TRACE(j);
    EXPECT_DOUBLE_EQ(c.c_in[j], 1.0 - std::exp(-1.0 / (5.0 * (j + 1))));
    EXPECT_EQ(c.c_in[j], 1.0 - c.alpha[j]);
  }
}

TEST(MakeNeuronConstantsTest, ZeroReadoutTimeConstantMeansNoFiltering) {
  NetworkConfig config;
  config.tau_out_ms = 0.0;
  EXPECT_EQ(MakeNeuronConstants(config).kappa, 0.0);
  config.tau_out_ms = 3.0;
  config.dt_ms = 1.0;
  EXPECT_DOUBLE_EQ(MakeNeuronConstants(config).kappa, std::exp(-1.0 / 3.0));
}

TEST(MakeNeuronConstantsTest, DefaultsGiveReferenceConstants) {
  const NeuronConstants c = MakeNeuronConstants(NetworkConfig());
  ASSERT_EQ(c.alpha.size(), 8);
  EXPECT_NEAR(c.alpha[0], 0.951229424500714, 1e-15);  // exp(-1/20)
  EXPECT_NEAR(c.rho[7], 0.998001998667333, 1e-15);    // exp(-1/500)
  EXPECT_NEAR(c.kappa, 0.951229424500714, 1e-15);
  EXPECT_EQ(c.beta.head(4).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_EQ(c.beta.tail(4).minCoeff(), 0.07);
  EXPECT_EQ(c.beta.tail(4).maxCoeff(), 0.07);
  EXPECT_EQ(c.v_th, 0.62);
  EXPECT_EQ(c.gamma, 0.3);
  EXPECT_EQ(c.n_ref, 2);
}

}  // namespace
}  // namespace eprop
