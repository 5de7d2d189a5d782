#include "core/util/random.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace eprop {
namespace {

constexpr int kDraws = 100000;

// The first draws for seed 42. These are a reproducibility contract
// (experiments are re-run from their seeds): they must never change.
constexpr double kUniformSeed42[] = {0.75515553295453897, 0.63903139385469743,
                                     0.7521452007480266, 0.13627268363243705};
constexpr double kNormalSeed42[] = {-1.0771745442782885, -1.2860634502166481,
                                    1.0945198485006107, 1.2616856516484893};

TEST(RngTest, GoldenUniformValues) {
  Rng rng(42);
  for (double expected : kUniformSeed42) {
    EXPECT_NEAR(rng.Uniform(), expected, 1e-15);
  }
}

TEST(RngTest, GoldenNormalValues) {
  Rng rng(42);
  for (double expected : kNormalSeed42) {
    EXPECT_NEAR(rng.Normal(), expected, 1e-15);
  }
}

TEST(RngTest, UniformIsTopBitsOfMt19937_64) {
  // The documented definition: the top 53 bits of one engine draw.
  std::mt19937_64 engine(12345);
  Rng rng(12345);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(rng.Uniform(), static_cast<double>(engine() >> 11) * 0x1.0p-53);
  }
}

TEST(RngTest, NormalIsBoxMullerOfTwoUniforms) {
  Rng uniforms(7);
  Rng normals(7);
  for (int i = 0; i < 50; ++i) {
    const double u1 = uniforms.Uniform();
    const double u2 = uniforms.Uniform();
    const double radius = std::sqrt(-2.0 * std::log(1.0 - u1));
    EXPECT_NEAR(normals.Normal(), radius * std::cos(2.0 * M_PI * u2), 1e-12);
    EXPECT_NEAR(normals.Normal(), radius * std::sin(2.0 * M_PI * u2), 1e-12);
  }
}

TEST(RngTest, SameSeedSameSequenceOtherSeedOtherSequence) {
  Rng a(3), b(3), c(4);
  int equal_to_c = 0;
  for (int i = 0; i < 100; ++i) {
    const double x = a.Normal();
    EXPECT_EQ(x, b.Normal());
    if (x == c.Normal()) ++equal_to_c;
  }
  EXPECT_EQ(equal_to_c, 0);
}

TEST(RngTest, UniformMomentsAndRange) {
  Rng rng(1);
  double sum = 0.0, sum_sq = 0.0;
  double lo = 1.0, hi = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_sq += u * u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  const double mean = sum / kDraws;
  const double variance = sum_sq / kDraws - mean * mean;
  // Standard errors: 0.29 / sqrt(1e5) ~ 9e-4 for the mean, ~3e-4 for the
  // variance; tolerances are about 5 standard errors.
  EXPECT_NEAR(mean, 0.5, 5e-3);
  EXPECT_NEAR(variance, 1.0 / 12.0, 1.5e-3);
  EXPECT_LT(lo, 1e-3);
  EXPECT_GT(hi, 1.0 - 1e-3);
}

TEST(RngTest, UniformOnInterval) {
  Rng rng(2);
  double sum = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double u = rng.Uniform(-3.0, 5.0);
    ASSERT_GE(u, -3.0);
    ASSERT_LT(u, 5.0);
    sum += u;
  }
  EXPECT_NEAR(sum / kDraws, 1.0, 0.05);
  // Same underlying draw as the unit interval.
  Rng a(9), b(9);
  EXPECT_DOUBLE_EQ(a.Uniform(2.0, 4.0), 2.0 + 2.0 * b.Uniform());
}

TEST(RngTest, NormalMoments) {
  Rng rng(3);
  double sum = 0.0, sum_sq = 0.0, sum_4 = 0.0;
  int beyond_two_sigma = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double x = rng.Normal();
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
    sum_sq += x * x;
    sum_4 += x * x * x * x;
    if (std::abs(x) > 2.0) ++beyond_two_sigma;
  }
  const double mean = sum / kDraws;
  const double variance = sum_sq / kDraws - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.016);           // 5 standard errors
  EXPECT_NEAR(variance, 1.0, 0.025);       // sqrt(2 / 1e5) = 0.0045
  EXPECT_NEAR(sum_4 / kDraws, 3.0, 0.15);  // Gaussian kurtosis
  // P(|x| > 2) = 0.0455.
  EXPECT_NEAR(static_cast<double>(beyond_two_sigma) / kDraws, 0.0455, 0.004);
}

TEST(RngTest, BernoulliFrequency) {
  Rng rng(4);
  int hits = 0;
  for (int i = 0; i < kDraws; ++i) hits += rng.Bernoulli(0.3) ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(hits) / kDraws, 0.3, 0.01);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(rng.Bernoulli(0.0));
    EXPECT_TRUE(rng.Bernoulli(1.0));
  }
}

TEST(RngTest, UniformIntRangeAndRoughUniformity) {
  Rng rng(5);
  constexpr int kBins = 7;
  std::vector<int> counts(kBins, 0);
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t k = rng.UniformInt(kBins);
    ASSERT_LT(k, static_cast<uint64_t>(kBins));
    ++counts[k];
  }
  // Expected 14286 per bin, standard deviation ~111.
  for (int k = 0; k < kBins; ++k) {
    EXPECT_NEAR(counts[k], kDraws / kBins, 600) << k;
  }
  for (int i = 0; i < 100; ++i) EXPECT_EQ(rng.UniformInt(1), 0u);
  // A range that is not a power of two and close to 2^64 (rejection
  // sampling path) still stays in range.
  const uint64_t big = (UINT64_MAX / 3) * 2;
  for (int i = 0; i < 1000; ++i) EXPECT_LT(rng.UniformInt(big), big);
}

TEST(RngTest, SaveRestoreContinuesSequence) {
  Rng rng(42);
  for (int i = 0; i < 10; ++i) rng.Uniform();
  const std::string state = rng.SaveState();
  std::vector<double> expected;
  for (int i = 0; i < 20; ++i) {
    expected.push_back(i % 3 == 0 ? rng.Normal() : rng.Uniform());
  }
  Rng restored(999);
  ASSERT_TRUE(restored.RestoreState(state));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(i % 3 == 0 ? restored.Normal() : restored.Uniform(), expected[i])
        << i;
  }
  // Restoring again rewinds.
  ASSERT_TRUE(restored.RestoreState(state));
  EXPECT_EQ(restored.Normal(), expected[0]);
}

TEST(RngTest, SaveRestoreKeepsCachedNormal) {
  Rng rng(42);
  EXPECT_NEAR(rng.Normal(), kNormalSeed42[0], 1e-15);  // caches the second
  const std::string state = rng.SaveState();
  Rng restored(1);
  restored.Normal();  // a different cache, which must be overwritten
  ASSERT_TRUE(restored.RestoreState(state));
  // Bitwise: the cached value is saved exactly.
  EXPECT_EQ(restored.Normal(), rng.Normal());
  EXPECT_NEAR(restored.Normal(), kNormalSeed42[2], 1e-15);
  rng.Normal();
  EXPECT_EQ(restored.Uniform(), rng.Uniform());

  // A state saved without a cache does not replay a stale cached value.
  Rng fresh(42);
  const std::string fresh_state = fresh.SaveState();
  Rng other(8);
  other.Normal();  // leaves a cached value
  ASSERT_TRUE(other.RestoreState(fresh_state));
  EXPECT_NEAR(other.Normal(), kNormalSeed42[0], 1e-15);
}

TEST(RngTest, RestoreRejectsGarbageAndKeepsState) {
  Rng rng(42);
  const std::string state = rng.SaveState();
  Rng victim(77);
  Rng twin(77);
  for (const std::string& garbage :
       {std::string(""), std::string("garbage"), std::string("1 2 3"),
        state.substr(0, state.size() / 2), std::string("-1 x y")}) {
    EXPECT_FALSE(victim.RestoreState(garbage)) << garbage;
  }
  // State layout: "<engine> <has_cached> <cached>". Dropping fields or a
  // flag that is not a bool is rejected.
  const std::string without_cached = state.substr(0, state.rfind(' '));
  const std::string engine =
      without_cached.substr(0, without_cached.rfind(' '));
  EXPECT_FALSE(victim.RestoreState(engine));
  EXPECT_FALSE(victim.RestoreState(without_cached));
  EXPECT_FALSE(victim.RestoreState(engine + " 2 0x1p+0"));
  EXPECT_TRUE(Rng(1).RestoreState(engine + " 1 0x1p+0"));
  // Failed restores leave the generator untouched.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(victim.Uniform(), twin.Uniform());
}

// Disabled: core bug. RestoreState parses the cached normal with strtod
// without checking it, so a non-numeric token is accepted and silently
// restores a cached normal of 0 (core/util/random.cc, RestoreState).
TEST(RngTest, RestoreRejectsNonNumericCachedNormal) {
  Rng rng(42);
  const std::string state = rng.SaveState();
  const std::string without_cached = state.substr(0, state.rfind(' '));
  Rng victim(77);
  EXPECT_FALSE(victim.RestoreState(without_cached + " xyz"));
}

}  // namespace
}  // namespace eprop
