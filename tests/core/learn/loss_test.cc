#include "core/learn/loss.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

constexpr double kTol = 1e-14;

// ------------------------------------------------------- MeanSquaredError

TEST(MeanSquaredErrorTest, ValueAndGradientByHand) {
  // Two steps, batch 2, two outputs: rows t * batch + b.
  MatD y(4, 2), target(4, 2);
  y << 1.0, 2.0,  //
      0.5, -1.0,  //
      0.0, 0.0,   //
      3.0, 1.0;
  target << 0.0, 2.0,  //
      1.5, 1.0,        //
      -2.0, 0.5,       //
      3.0, 0.0;
  // Residuals: 1, 0, -1, -2, 2, -0.5, 0, 1; squares sum to 11.25.
  const LossGradient<double> out = MeanSquaredError(y, target, /*batch=*/2);
  EXPECT_NEAR(out.loss, 0.5 * 11.25 / 2.0, kTol);
  MatD expected(4, 2);
  expected << 0.5, 0.0,  //
      -0.5, -1.0,        //
      1.0, -0.25,        //
      0.0, 0.5;
  ASSERT_EQ(out.dE_dy.rows(), 4);
  ASSERT_EQ(out.dE_dy.cols(), 2);
  EXPECT_TRUE(out.dE_dy.isApprox(expected, kTol));
}

TEST(MeanSquaredErrorTest, BatchAveraging) {
  // The same per-sample error with batch 1 and with two identical samples
  // gives the same loss; the gradient per entry halves.
  MatD y(3, 1), target(3, 1);
  y << 1.0, 2.0, 3.0;
  target << 0.0, 0.0, 1.0;
  const LossGradient<double> one = MeanSquaredError(y, target, 1);
  EXPECT_NEAR(one.loss, 0.5 * (1.0 + 4.0 + 4.0), kTol);
  MatD y2(6, 1), target2(6, 1);
  for (int t = 0; t < 3; ++t) {
    y2(2 * t, 0) = y2(2 * t + 1, 0) = y(t, 0);
    target2(2 * t, 0) = target2(2 * t + 1, 0) = target(t, 0);
  }
  const LossGradient<double> two = MeanSquaredError(y2, target2, 2);
  EXPECT_NEAR(two.loss, one.loss, kTol);
  for (int t = 0; t < 3; ++t) {
    EXPECT_NEAR(two.dE_dy(2 * t, 0), one.dE_dy(t, 0) / 2.0, kTol);
  }
  EXPECT_EQ(MeanSquaredError(y, y, 1).loss, 0.0);
  EXPECT_TRUE(MeanSquaredError(y, y, 1).dE_dy.isZero(0.0));
}

TEST(MeanSquaredErrorTest, GradientMatchesFiniteDifferences) {
  Rng rng(1);
  MatD y(6, 3), target(6, 3);
  for (int i = 0; i < y.size(); ++i) {
    y.data()[i] = rng.Normal();
    target.data()[i] = rng.Normal();
  }
  const LossGradient<double> out = MeanSquaredError(y, target, 3);
  const double h = 1e-6;
  for (int i = 0; i < y.size(); ++i) {
    MatD plus = y, minus = y;
    plus.data()[i] += h;
    minus.data()[i] -= h;
    const double fd = (MeanSquaredError(plus, target, 3).loss -
                       MeanSquaredError(minus, target, 3).loss) /
                      (2 * h);
    EXPECT_NEAR(out.dE_dy.data()[i], fd, 1e-8) << i;
  }
}

TEST(MeanSquaredErrorTest, FloatAgreesWithDouble) {
  MatD y(2, 2), target(2, 2);
  y << 1.0, 2.0, 3.0, 4.0;
  target << 0.5, 2.5, 2.0, 5.0;
  const LossGradient<double> d = MeanSquaredError(y, target, 2);
  const LossGradient<float> f =
      MeanSquaredError(MatF(y.cast<float>()), MatF(target.cast<float>()), 2);
  EXPECT_NEAR(f.loss, d.loss, 1e-6);
  EXPECT_TRUE(f.dE_dy.cast<double>().isApprox(d.dE_dy, 1e-6));
}

// ---------------------------------------------------- SoftmaxCrossEntropy

TEST(SoftmaxCrossEntropyTest, TwoRowsByHand) {
  MatD y(2, 3);
  y << 0.0, std::log(2.0), std::log(5.0),  // softmax = (1, 2, 5) / 8
      1.0, 1.0, 1.0;                       // uniform
  const std::vector<int32_t> labels = {1, 2};
  const std::vector<uint8_t> mask = {1, 1};
  const LossGradient<double> out = SoftmaxCrossEntropy(y, labels, mask);
  // Mean over the two masked rows of -log pi_label.
  EXPECT_NEAR(out.loss, (-std::log(2.0 / 8.0) - std::log(1.0 / 3.0)) / 2.0,
              kTol);
  MatD expected(2, 3);
  expected << 1.0 / 8.0, 2.0 / 8.0 - 1.0, 5.0 / 8.0,  //
      1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0 - 1.0;
  expected /= 2.0;
  ASSERT_EQ(out.dE_dy.rows(), 2);
  ASSERT_EQ(out.dE_dy.cols(), 3);
  EXPECT_TRUE(out.dE_dy.isApprox(expected, kTol)) << out.dE_dy;
  // Each masked row's gradient sums to zero.
  EXPECT_NEAR(out.dE_dy.row(0).sum(), 0.0, kTol);
  EXPECT_NEAR(out.dE_dy.row(1).sum(), 0.0, kTol);
}

TEST(SoftmaxCrossEntropyTest, UnmaskedRowsGetZeroGradientAndNoLoss) {
  MatD y(4, 2);
  y << 2.0, -1.0,  //
      0.3, 0.7,    //
      -5.0, 5.0,   //
      1.0, 0.0;
  // Labels of unmasked rows are ignored, even when out of range.
  const std::vector<int32_t> labels = {-7, 0, 99, 1};
  const std::vector<uint8_t> mask = {0, 1, 0, 1};
  const LossGradient<double> out = SoftmaxCrossEntropy(y, labels, mask);
  EXPECT_TRUE(out.dE_dy.row(0).isZero(0.0));
  EXPECT_TRUE(out.dE_dy.row(2).isZero(0.0));
  EXPECT_FALSE(out.dE_dy.row(1).isZero(0.0));
  EXPECT_FALSE(out.dE_dy.row(3).isZero(0.0));
  // Loss and gradient of rows 1 and 3 alone, averaged over the 2 masked rows.
  auto log_softmax = [](double a, double b, int k) {
    const double lse = std::log(std::exp(a) + std::exp(b));
    return (k == 0 ? a : b) - lse;
  };
  EXPECT_NEAR(out.loss,
              -(log_softmax(0.3, 0.7, 0) + log_softmax(1.0, 0.0, 1)) / 2.0,
              kTol);
  const double p0 = std::exp(log_softmax(0.3, 0.7, 0));
  EXPECT_NEAR(out.dE_dy(1, 0), (p0 - 1.0) / 2.0, kTol);
  EXPECT_NEAR(out.dE_dy(1, 1), (1.0 - p0) / 2.0, kTol);
  // A nonzero mask value other than 1 also counts as masked.
  const LossGradient<double> any_nonzero =
      SoftmaxCrossEntropy(y, labels, {0, 7, 0, 255});
  EXPECT_EQ(any_nonzero.loss, out.loss);
  EXPECT_EQ(any_nonzero.dE_dy, out.dE_dy);
}

TEST(SoftmaxCrossEntropyTest, GradientMatchesFiniteDifferences) {
  Rng rng(2);
  constexpr int kRows = 6, kClasses = 4;
  MatD y(kRows, kClasses);
  for (int i = 0; i < y.size(); ++i) y.data()[i] = 2.0 * rng.Normal();
  const std::vector<int32_t> labels = {0, 3, 1, 2, 2, 0};
  const std::vector<uint8_t> mask = {1, 0, 1, 1, 0, 1};
  const LossGradient<double> out = SoftmaxCrossEntropy(y, labels, mask);
  EXPECT_GT(out.loss, 0.0);
  const double h = 1e-6;
  for (int i = 0; i < y.size(); ++i) {
    MatD plus = y, minus = y;
    plus.data()[i] += h;
    minus.data()[i] -= h;
    const double fd = (SoftmaxCrossEntropy(plus, labels, mask).loss -
                       SoftmaxCrossEntropy(minus, labels, mask).loss) /
                      (2 * h);
    EXPECT_NEAR(out.dE_dy.data()[i], fd, 1e-8) << i;
  }
}

TEST(SoftmaxCrossEntropyTest, StableForLargeLogits) {
  MatD y(2, 3);
  y << 1000.0, 999.0, 998.0,  //
      -1000.0, 1000.0, 0.0;
  const LossGradient<double> out = SoftmaxCrossEntropy(y, {2, 0}, {1, 1});
  ASSERT_TRUE(std::isfinite(out.loss));
  ASSERT_TRUE(out.dE_dy.allFinite());
  // Row 0 is softmax of (2, 1, 0); row 1 has -log pi_0 = 2000.
  const double z = std::exp(2.0) + std::exp(1.0) + 1.0;
  EXPECT_NEAR(out.loss, (-(0.0 - std::log(z)) + 2000.0) / 2.0, 1e-10);
  EXPECT_NEAR(out.dE_dy(0, 0), std::exp(2.0) / z / 2.0, 1e-14);
  EXPECT_NEAR(out.dE_dy(0, 2), (1.0 / z - 1.0) / 2.0, 1e-14);
  EXPECT_NEAR(out.dE_dy(1, 0), -0.5, 1e-14);
  EXPECT_NEAR(out.dE_dy(1, 1), 0.5, 1e-14);

  // float logits of 1000 are stable too (softmax is computed in double).
  const LossGradient<float> f =
      SoftmaxCrossEntropy(MatF(y.cast<float>()), {2, 0}, {1, 1});
  EXPECT_TRUE(std::isfinite(f.loss));
  EXPECT_TRUE(f.dE_dy.allFinite());
  EXPECT_NEAR(f.loss, out.loss, 1e-3);
}

TEST(SoftmaxCrossEntropyTest, AllMaskedOutGivesZero) {
  MatD y(3, 2);
  y << 1.0, 2.0, 3.0, 4.0, 5.0, 6.0;
  const LossGradient<double> out = SoftmaxCrossEntropy(y, {0, 1, 0}, {0, 0, 0});
  EXPECT_EQ(out.loss, 0.0);
  ASSERT_EQ(out.dE_dy.rows(), 3);
  ASSERT_EQ(out.dE_dy.cols(), 2);
  EXPECT_TRUE(out.dE_dy.isZero(0.0));
}

TEST(SoftmaxCrossEntropyTest, PerfectPredictionHasSmallLoss) {
  MatD y(1, 3);
  y << -50.0, 50.0, -50.0;
  const LossGradient<double> out = SoftmaxCrossEntropy(y, {1}, {1});
  EXPECT_GE(out.loss, 0.0);
  EXPECT_LT(out.loss, 1e-40);
  const LossGradient<double> wrong = SoftmaxCrossEntropy(y, {0}, {1});
  EXPECT_NEAR(wrong.loss, 100.0, 1e-10);
}

}  // namespace
}  // namespace eprop
