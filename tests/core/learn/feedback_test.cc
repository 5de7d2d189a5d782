#include "core/learn/feedback.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "core/learn/optimizer.h"
#include "core/model/network_config.h"
#include "core/model/weights.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

using ::testing::HasSubstr;

NetworkConfig SmallNetwork() {
  NetworkConfig network;
  network.n_in = 3;
  network.n_lif = 4;
  network.n_alif = 4;
  network.n_out = 2;
  return network;
}

FeedbackConfig Config(FeedbackMode mode, double stddev = 1.0,
                      double decay = 0.0) {
  FeedbackConfig config;
  config.mode = mode;
  config.random_stddev = stddev;
  config.adaptive_decay = decay;
  return config;
}

MatD RandomMatrix(Rng& rng, int rows, int cols) {
  MatD m(rows, cols);
  for (int i = 0; i < m.size(); ++i) m.data()[i] = rng.Normal();
  return m;
}

// ----------------------------------------------------------------- config

TEST(FeedbackConfigTest, DefaultsAreValid) {
  const FeedbackConfig config;
  EXPECT_EQ(config.mode, FeedbackMode::kRandom);
  EXPECT_TRUE(config.Validate().ok());
  EXPECT_TRUE(Config(FeedbackMode::kAdaptive, 0.1, 0.5).Validate().ok());
}

TEST(FeedbackConfigTest, RejectsBadValues) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double stddev : {0.0, -1.0, inf, nan}) {
    const absl::Status s =
        Config(FeedbackMode::kRandom, stddev).Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << stddev;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr("random_stddev must be finite and > 0"));
  }
  for (double decay : {-0.1, 1.0, 2.0, inf, nan}) {
    const absl::Status s =
        Config(FeedbackMode::kAdaptive, 1.0, decay).Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << decay;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr("adaptive_decay must be finite and in [0, 1)"));
  }
  FeedbackConfig bad_mode;
  bad_mode.mode = static_cast<FeedbackMode>(9);
  EXPECT_THAT(std::string(bad_mode.Validate().message()), HasSubstr("mode"));
}

TEST(FeedbackTest, CreateRejectsInvalidConfigs) {
  EXPECT_FALSE(Feedback<double>::Create(Config(FeedbackMode::kRandom, -1),
                                        SmallNetwork(), 1)
                   .ok());
  NetworkConfig bad_network = SmallNetwork();
  bad_network.n_out = 0;
  EXPECT_FALSE(
      Feedback<double>::Create(FeedbackConfig(), bad_network, 1).ok());
  EXPECT_TRUE(
      Feedback<double>::Create(FeedbackConfig(), SmallNetwork(), 1).ok());
}

// -------------------------------------------------------------- symmetric

TEST(FeedbackTest, SymmetricIsTransposedReadoutAtTheCurrentStep) {
  const NetworkConfig network = SmallNetwork();
  Feedback<double> feedback(Config(FeedbackMode::kSymmetric), network, 1);
  Weights<double> w = InitWeights(network, 5);
  EXPECT_EQ(feedback.Matrix(w), MatD(w.w_out.transpose()));

  const Weights<double> before = w;
  const MatD update = MatD::Constant(2, 8, 0.25);
  w.w_out += update;
  feedback.AfterUpdate(update, &w);  // no-op
  EXPECT_EQ(w.w_out, MatD(before.w_out + update));
  EXPECT_EQ(feedback.Matrix(w), MatD(w.w_out.transpose()));
  EXPECT_EQ(feedback.stored_matrix().size(), 0);
  EXPECT_EQ(feedback.SetStoredMatrix(MatD::Zero(8, 2)).code(),
            absl::StatusCode::kFailedPrecondition);
}

// ----------------------------------------------------------------- random

TEST(FeedbackTest, RandomIsReproducibleForASeed) {
  const NetworkConfig network = SmallNetwork();
  const FeedbackConfig config = Config(FeedbackMode::kRandom, 0.5);
  const Weights<double> w = InitWeights(network, 5);
  const MatD b = Feedback<double>(config, network, 11).Matrix(w);
  EXPECT_EQ(b.rows(), network.n_rec());
  EXPECT_EQ(b.cols(), network.n_out);
  EXPECT_EQ(b, Feedback<double>(config, network, 11).Matrix(w));
  EXPECT_EQ(b, InitRandomFeedback(network, 0.5, 11));
  EXPECT_NE(b, Feedback<double>(config, network, 12).Matrix(w));

  const Weights<float> w_float = w.Cast<float>();
  EXPECT_EQ(Feedback<float>(config, network, 11).Matrix(w_float),
            MatF(b.cast<float>()));
}

TEST(FeedbackTest, RandomHasTheRequestedStddev) {
  NetworkConfig network = SmallNetwork();
  network.n_lif = 500;
  network.n_alif = 500;
  network.n_out = 100;  // 1e5 entries: std error of the stddev ~ 0.2 %
  const double stddev = 1.0 / std::sqrt(1000.0);
  const Feedback<double> feedback(Config(FeedbackMode::kRandom, stddev),
                                  network, 3);
  const MatD& b = feedback.stored_matrix();
  const double n = static_cast<double>(b.size());
  const double mean = b.sum() / n;
  const double sample_stddev =
      std::sqrt((b.array() - mean).square().sum() / (n - 1));
  EXPECT_NEAR(mean, 0.0, 5 * stddev / std::sqrt(n));
  EXPECT_NEAR(sample_stddev / stddev, 1.0, 0.015);
}

TEST(FeedbackTest, RandomNeverChanges) {
  const NetworkConfig network = SmallNetwork();
  Feedback<double> feedback(Config(FeedbackMode::kRandom), network, 2);
  Weights<double> w = InitWeights(network, 5);
  const MatD b0 = feedback.Matrix(w);
  Rng rng(9);
  for (int i = 0; i < 5; ++i) {
    const MatD update = RandomMatrix(rng, 2, 8);
    w.w_out += update;
    const MatD w_out = w.w_out;
    feedback.AfterUpdate(update, &w);
    EXPECT_EQ(w.w_out, w_out);
    EXPECT_EQ(feedback.Matrix(w), b0);
  }
}

// --------------------------------------------------------------- adaptive

TEST(FeedbackTest, AdaptiveFollowsTheReadoutUpdateAndDecays) {
  const NetworkConfig network = SmallNetwork();
  const double lambda = 0.1;
  Feedback<double> feedback(Config(FeedbackMode::kAdaptive, 1.0, lambda),
                            network, 4);
  Weights<double> w = InitWeights(network, 5);
  const MatD b0 = feedback.Matrix(w);
  EXPECT_EQ(b0, InitRandomFeedback(network, 1.0, 4));
  const MatD w0 = w.w_out;
  Rng rng(1);
  const MatD update = RandomMatrix(rng, 2, 8);
  w.w_out += update;
  feedback.AfterUpdate(update, &w);
  EXPECT_LT((feedback.Matrix(w) - (1 - lambda) * (b0 + update.transpose()))
                .cwiseAbs()
                .maxCoeff(),
            1e-15);
  EXPECT_LT((w.w_out - (1 - lambda) * (w0 + update)).cwiseAbs().maxCoeff(),
            1e-15);
}

// Kolen-Pollack: B^T and W_out receive identical updates, so their difference
// only decays: ||B_k - W_k^T|| = (1 - lambda)^k ||B_0 - W_0^T||.
TEST(FeedbackTest, AdaptiveConvergesLikeKolenPollack) {
  const NetworkConfig network = SmallNetwork();
  for (double lambda : {0.0, 0.05, 0.3}) {
    Feedback<double> feedback(Config(FeedbackMode::kAdaptive, 1.0, lambda),
                              network, 4);
    Weights<double> w = InitWeights(network, 5);
    Optimizer<double> optimizer(OptimizerConfig(), w);
    const double d0 = (feedback.Matrix(w) - w.w_out.transpose()).norm();
    ASSERT_GT(d0, 0.1);
    Rng rng(17);
    Weights<double> grad = Weights<double>::ZerosLike(w);
    Weights<double> applied;
    for (int k = 1; k <= 10; ++k) {
      grad.w_out = RandomMatrix(rng, 2, 8);
      optimizer.Apply(grad, &w, &applied);
      feedback.AfterUpdate(applied.w_out, &w);
      const double d = (feedback.Matrix(w) - w.w_out.transpose()).norm();
      EXPECT_NEAR(d / d0, std::pow(1 - lambda, k), 1e-12)
          << "lambda " << lambda << " step " << k;
    }
  }
}

TEST(FeedbackTest, StoredMatrixRoundTrip) {
  const NetworkConfig network = SmallNetwork();
  Feedback<float> saved(Config(FeedbackMode::kAdaptive, 1.0, 0.1), network, 4);
  Feedback<float> restored(Config(FeedbackMode::kAdaptive, 1.0, 0.1), network,
                           99);
  ASSERT_TRUE(restored.SetStoredMatrix(saved.stored_matrix()).ok());
  EXPECT_EQ(restored.stored_matrix(), saved.stored_matrix());

  EXPECT_EQ(restored.SetStoredMatrix(MatF::Zero(2, 8)).code(),
            absl::StatusCode::kInvalidArgument);
  MatF not_finite = MatF::Zero(8, 2);
  not_finite(1, 1) = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(restored.SetStoredMatrix(not_finite).ok());
  EXPECT_EQ(restored.stored_matrix(), saved.stored_matrix());
}

}  // namespace
}  // namespace eprop
