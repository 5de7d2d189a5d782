#include "core/model/weights.h"

#include <cmath>
#include <limits>

#include "core/model/network_config.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

NetworkConfig Network(int n_in, int n_lif, int n_alif, int n_out) {
  NetworkConfig config;
  config.n_in = n_in;
  config.n_lif = n_lif;
  config.n_alif = n_alif;
  config.n_out = n_out;
  return config;
}

// Empirical standard deviation (about 0) of the given entries.
double RootMeanSquare(const MatD& m) {
  return std::sqrt(m.squaredNorm() / static_cast<double>(m.size()));
}

// Root mean square of the off-diagonal entries of a square matrix.
double OffDiagonalRootMeanSquare(const MatD& m) {
  const double off = m.squaredNorm() - m.diagonal().squaredNorm();
  return std::sqrt(off / static_cast<double>(m.size() - m.rows()));
}

// ------------------------------------------------------------ InitWeights

TEST(InitWeightsTest, Shapes) {
  const Weights<double> w = InitWeights(Network(5, 3, 4, 2), 1);
  EXPECT_EQ(w.w_in.rows(), 7);
  EXPECT_EQ(w.w_in.cols(), 5);
  EXPECT_EQ(w.w_rec.rows(), 7);
  EXPECT_EQ(w.w_rec.cols(), 7);
  EXPECT_EQ(w.w_out.rows(), 2);
  EXPECT_EQ(w.w_out.cols(), 7);
  EXPECT_EQ(w.b_out.size(), 2);
}

TEST(InitWeightsTest, RecurrentDiagonalIsZeroAndBiasIsZero) {
  NetworkConfig config = Network(4, 6, 6, 3);
  config.readout_bias = true;  // the bias still starts at zero
  const Weights<double> w = InitWeights(config, 7);
  for (int j = 0; j < 12; ++j) EXPECT_EQ(w.w_rec(j, j), 0.0) << j;
  EXPECT_TRUE(w.b_out.isZero(0.0));
  // The rest is drawn, not zero.
  EXPECT_GT(OffDiagonalRootMeanSquare(w.w_rec), 0.0);
  for (int i = 0; i < 12; ++i) {
    for (int j = 0; j < 12; ++j) {
      if (i != j) {
        EXPECT_NE(w.w_rec(i, j), 0.0) << i << "," << j;
      }
    }
  }
  EXPECT_NE(w.w_in.cwiseAbs().minCoeff(), 0.0);
  EXPECT_NE(w.w_out.cwiseAbs().minCoeff(), 0.0);
}

TEST(InitWeightsTest, ReproducibleForASeedAndDifferentForAnother) {
  const NetworkConfig config = Network(3, 4, 4, 2);
  const Weights<double> a = InitWeights(config, 42);
  const Weights<double> b = InitWeights(config, 42);
  const Weights<double> c = InitWeights(config, 43);
  EXPECT_EQ(a.w_in, b.w_in);
  EXPECT_EQ(a.w_rec, b.w_rec);
  EXPECT_EQ(a.w_out, b.w_out);
  EXPECT_EQ(a.b_out, b.b_out);
  EXPECT_EQ(MaxRelativeDifference(a, b), 0.0);
  EXPECT_NE(a.w_in, c.w_in);
  EXPECT_NE(a.w_rec, c.w_rec);
  EXPECT_NE(a.w_out, c.w_out);
  EXPECT_GT(MaxRelativeDifference(a, c), 0.1);
}

TEST(InitWeightsTest, DrawsInDocumentedOrderFromRng) {
  // Entries are stddev * Rng(seed).Normal(), row by row, w_in then w_rec
  // (diagonal draws discarded) then w_out.
  const NetworkConfig config = Network(2, 2, 1, 2);
  const Weights<double> w = InitWeights(config, 5);
  Rng rng(5);
  const double s_in = 1.0 / std::sqrt(2.0);
  const double s_rec = 1.0 / std::sqrt(3.0);
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 2; ++c) {
      EXPECT_DOUBLE_EQ(w.w_in(r, c), s_in * rng.Normal()) << r << "," << c;
    }
  }
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      const double draw = s_rec * rng.Normal();
      EXPECT_DOUBLE_EQ(w.w_rec(r, c), r == c ? 0.0 : draw) << r << "," << c;
    }
  }
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) {
      EXPECT_DOUBLE_EQ(w.w_out(r, c), s_rec * rng.Normal()) << r << "," << c;
    }
  }
}

TEST(InitWeightsTest, StandardDeviationsScaleWithFanIn) {
  // n_in = 100 and n_rec = 400: 40k entries in w_in, 160k in w_rec,
  // 4k in w_out, so the relative error of the RMS is about 1/sqrt(2 N).
  const NetworkConfig config = Network(100, 200, 200, 10);
  const Weights<double> w = InitWeights(config, 123);
  EXPECT_NEAR(RootMeanSquare(w.w_in), 1.0 / std::sqrt(100.0), 0.02 * 0.1);
  EXPECT_NEAR(OffDiagonalRootMeanSquare(w.w_rec), 1.0 / std::sqrt(400.0),
              0.02 * 0.05);
  EXPECT_NEAR(RootMeanSquare(w.w_out), 1.0 / std::sqrt(400.0), 0.05 * 0.05);
  // Centred.
  EXPECT_NEAR(w.w_in.mean(), 0.0, 0.01 * 0.1);
  EXPECT_NEAR(w.w_rec.mean(), 0.0, 0.01 * 0.05);
  EXPECT_NEAR(w.w_out.mean(), 0.0, 0.05 * 0.05);
}

// ----------------------------------------------------- InitRandomFeedback

TEST(InitRandomFeedbackTest, ShapeStddevAndReproducibility) {
  const NetworkConfig config = Network(3, 150, 50, 20);
  const MatD b = InitRandomFeedback(config, 2.5, 9);
  ASSERT_EQ(b.rows(), 200);
  ASSERT_EQ(b.cols(), 20);
  EXPECT_NEAR(RootMeanSquare(b), 2.5, 2.5 * 0.03);
  EXPECT_NEAR(b.mean(), 0.0, 2.5 * 0.03);
  EXPECT_EQ(b, InitRandomFeedback(config, 2.5, 9));
  EXPECT_NE(b, InitRandomFeedback(config, 2.5, 10));
  // The stddev is a pure scale of the same draws.
  EXPECT_TRUE(InitRandomFeedback(config, 1.0, 9).isApprox(b / 2.5, 1e-15));
}

// ----------------------------------------------------------- Cast, zeros

TEST(WeightsTest, CastRoundTrip) {
  const Weights<double> w = InitWeights(Network(3, 2, 2, 2), 3);
  const Weights<float> f = w.Cast<float>();
  ASSERT_EQ(f.w_in.rows(), 4);
  ASSERT_EQ(f.w_in.cols(), 3);
  ASSERT_EQ(f.w_rec.rows(), 4);
  ASSERT_EQ(f.w_out.rows(), 2);
  ASSERT_EQ(f.b_out.size(), 2);
  for (int i = 0; i < w.w_in.size(); ++i) {
    EXPECT_EQ(f.w_in.data()[i], static_cast<float>(w.w_in.data()[i]));
  }
  const Weights<double> back = f.Cast<double>();
  // float keeps 24 bits: relative error below 2^-24.
  EXPECT_LT(MaxRelativeDifference(back, w), 1e-7);
  EXPECT_GT(MaxRelativeDifference(back, w), 0.0);
  // double -> double is exact; float -> double -> float is exact.
  EXPECT_EQ(MaxRelativeDifference(w.Cast<double>(), w), 0.0);
  const Weights<float> again = back.Cast<float>();
  EXPECT_EQ(again.w_in, f.w_in);
  EXPECT_EQ(again.w_rec, f.w_rec);
  EXPECT_EQ(again.w_out, f.w_out);
  EXPECT_EQ(again.b_out, f.b_out);
}

TEST(WeightsTest, ZerosLikeAndSetZero) {
  Weights<double> w = InitWeights(Network(3, 2, 3, 4), 3);
  w.b_out.setConstant(1.5);
  const Weights<double> z = Weights<double>::ZerosLike(w);
  EXPECT_EQ(z.w_in.rows(), 5);
  EXPECT_EQ(z.w_in.cols(), 3);
  EXPECT_EQ(z.w_rec.rows(), 5);
  EXPECT_EQ(z.w_rec.cols(), 5);
  EXPECT_EQ(z.w_out.rows(), 4);
  EXPECT_EQ(z.w_out.cols(), 5);
  EXPECT_EQ(z.b_out.size(), 4);
  EXPECT_TRUE(z.w_in.isZero(0.0));
  EXPECT_TRUE(z.w_rec.isZero(0.0));
  EXPECT_TRUE(z.w_out.isZero(0.0));
  EXPECT_TRUE(z.b_out.isZero(0.0));
  // `like` is untouched.
  EXPECT_EQ(w.b_out[0], 1.5);

  w.SetZero();
  EXPECT_EQ(w.w_in.rows(), 5);
  EXPECT_EQ(w.w_out.rows(), 4);
  EXPECT_TRUE(w.w_in.isZero(0.0));
  EXPECT_TRUE(w.w_rec.isZero(0.0));
  EXPECT_TRUE(w.w_out.isZero(0.0));
  EXPECT_TRUE(w.b_out.isZero(0.0));

  const Weights<float> zf = Weights<float>::ZerosLike(w.Cast<float>());
  EXPECT_EQ(zf.w_rec.rows(), 5);
  EXPECT_TRUE(zf.w_rec.isZero(0.0f));
}

// -------------------------------------------------- MaxRelativeDifference

TEST(MaxRelativeDifferenceTest, HandMadeMatrices) {
  MatD a(2, 2), b(2, 2);
  a << 1.0, 2.0, 3.0, 4.0;
  b << 1.0, 2.5, 3.0, -8.0;
  // max |a - b| = 12, max |b| = 8.
  EXPECT_DOUBLE_EQ(MaxRelativeDifference(a, b), 12.0 / 8.0);
  // Not symmetric: the scale is |b|.
  EXPECT_DOUBLE_EQ(MaxRelativeDifference(b, a), 12.0 / 4.0);
  EXPECT_EQ(MaxRelativeDifference(a, a), 0.0);

  MatD c(1, 3), d(1, 3);
  c << 1e-3, 0.0, -2.0;
  d << 0.0, 0.0, -2.0;
  EXPECT_DOUBLE_EQ(MaxRelativeDifference(c, d), 1e-3 / 2.0);
}

TEST(MaxRelativeDifferenceTest, BothZeroIsZero) {
  const MatD zero = MatD::Zero(3, 2);
  EXPECT_EQ(MaxRelativeDifference(zero, zero), 0.0);
  EXPECT_FALSE(std::isnan(MaxRelativeDifference(zero, zero)));
  // Zero reference, nonzero candidate: must report a difference.
  MatD a = MatD::Zero(3, 2);
  a(2, 1) = 0.25;
  EXPECT_GT(MaxRelativeDifference(a, zero), 0.0);
  EXPECT_TRUE(std::isfinite(MaxRelativeDifference(a, zero)));
}

TEST(MaxRelativeDifferenceTest, WeightsTakesTheMaximumOverParts) {
  const Weights<double> w = InitWeights(Network(3, 2, 2, 2), 11);
  Weights<double> v = w;
  EXPECT_EQ(MaxRelativeDifference(v, w), 0.0);
  v.b_out[1] = 0.5;  // w.b_out is zero: the difference is absolute.
  EXPECT_DOUBLE_EQ(MaxRelativeDifference(v, w), 0.5);
  v = w;
  const double scale = w.w_out.cwiseAbs().maxCoeff();
  v.w_out(1, 3) += 0.1 * scale;
  EXPECT_NEAR(MaxRelativeDifference(v, w), 0.1, 1e-12);
  v = w;
  const double rec_scale = w.w_rec.cwiseAbs().maxCoeff();
  v.w_rec(0, 1) += 2.0 * rec_scale;
  v.w_in(0, 0) += 0.01 * w.w_in.cwiseAbs().maxCoeff();
  EXPECT_NEAR(MaxRelativeDifference(v, w), 2.0, 1e-12);
  EXPECT_EQ(MaxRelativeDifference(Weights<double>::ZerosLike(w),
                                  Weights<double>::ZerosLike(w)),
            0.0);
}

}  // namespace
}  // namespace eprop
