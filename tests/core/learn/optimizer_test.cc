#include "core/learn/optimizer.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/model/weights.h"
#include "core/util/eigen_types.h"
#include "core/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eprop {
namespace {

using ::testing::HasSubstr;

template <typename S>
double Tolerance();
template <>
double Tolerance<double>() { return 1e-12; }
template <>
double Tolerance<float>() { return 1e-6; }

// Shapes of a network with 1 input, 2 recurrent neurons and 1 output; every
// entry is `value` except W_rec's diagonal, which is zero.
template <typename S>
Weights<S> Filled(double value) {
  Weights<S> w{Mat<S>::Constant(2, 1, S(value)),
               Mat<S>::Constant(2, 2, S(value)),
               Mat<S>::Constant(1, 2, S(value)), Vec<S>::Constant(1, S(value))};
  w.w_rec.diagonal().setZero();
  return w;
}

template <typename S>
Weights<S> RandomWeights(Rng& rng) {
  Weights<S> w = Filled<S>(0);
  auto fill = [&rng](auto& x) {
    for (int i = 0; i < x.size(); ++i) x.data()[i] = S(rng.Normal());
  };
  fill(w.w_in);
  fill(w.w_rec);
  fill(w.w_out);
  fill(w.b_out);
  w.w_rec.diagonal().setZero();
  return w;
}

// Expects every entry of w (except W_rec's diagonal, which must be exactly
// zero) to be within tol of `value`.
template <typename S>
void ExpectAllNear(const Weights<S>& w, double value, double tol) {
  auto check = [&](const auto& x, bool is_w_rec) {
    for (int r = 0; r < x.rows(); ++r) {
      for (int c = 0; c < x.cols(); ++c) {
        if (is_w_rec && r == c) {
          EXPECT_EQ(x(r, c), S(0));
        } else {
          EXPECT_NEAR(x(r, c), value, tol) << "entry " << r << "," << c;
        }
      }
    }
  };
  check(w.w_in, false);
  check(w.w_rec, true);
  check(w.w_out, false);
  check(w.b_out, false);
}

template <typename S>
void ExpectBitEqual(const Weights<S>& a, const Weights<S>& b) {
  EXPECT_EQ(a.w_in, b.w_in);
  EXPECT_EQ(a.w_rec, b.w_rec);
  EXPECT_EQ(a.w_out, b.w_out);
  EXPECT_EQ(a.b_out, b.b_out);
}

OptimizerConfig Config(OptimizerConfig::Kind kind, double learning_rate) {
  OptimizerConfig config;
  config.kind = kind;
  config.learning_rate = learning_rate;
  return config;
}

// ----------------------------------------------------------------- config

TEST(OptimizerConfigTest, DefaultsAreValid) {
  EXPECT_TRUE(OptimizerConfig().Validate().ok());
}

TEST(OptimizerConfigTest, RejectsEachBadField) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    std::function<void(OptimizerConfig&)> set;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& c) { c.learning_rate = -1; },
       "learning_rate must be finite and > 0, got -1"},
      {[](auto& c) { c.learning_rate = 0; }, "learning_rate"},
      {[&](auto& c) { c.learning_rate = nan; }, "learning_rate"},
      {[&](auto& c) { c.learning_rate = inf; }, "learning_rate"},
      {[](auto& c) { c.beta1 = -0.1; }, "beta1 must be finite and in [0, 1)"},
      {[](auto& c) { c.beta1 = 1; }, "beta1"},
      {[&](auto& c) { c.beta1 = nan; }, "beta1"},
      {[](auto& c) { c.beta2 = 1; }, "beta2 must be finite and in [0, 1)"},
      {[](auto& c) { c.beta2 = -1e-9; }, "beta2"},
      {[&](auto& c) { c.beta2 = inf; }, "beta2"},
      {[](auto& c) { c.epsilon = 0; }, "epsilon must be finite and > 0, got 0"},
      {[](auto& c) { c.epsilon = -1e-8; }, "epsilon"},
      {[&](auto& c) { c.epsilon = nan; }, "epsilon"},
      {[](auto& c) { c.clip_global_norm = -1; },
       "clip_global_norm must be finite and >= 0"},
      {[&](auto& c) { c.clip_global_norm = inf; }, "clip_global_norm"},
      {[&](auto& c) { c.clip_global_norm = nan; }, "clip_global_norm"},
      {[](auto& c) { c.kind = static_cast<OptimizerConfig::Kind>(7); },
       "kind"},
  };
  for (const Case& test_case : cases) {
    OptimizerConfig config;
    test_case.set(config);
    const absl::Status status = config.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << test_case.message;
    EXPECT_THAT(std::string(status.message()), HasSubstr(test_case.message));
  }
}

TEST(OptimizerConfigTest, AcceptsBoundaryValues) {
  OptimizerConfig config;
  config.beta1 = 0;
  config.beta2 = 0;
  config.clip_global_norm = 0;
  EXPECT_TRUE(config.Validate().ok());
}

TEST(OptimizerTest, CreateRejectsInvalidConfig) {
  OptimizerConfig config;
  config.learning_rate = -1;
  EXPECT_FALSE(Optimizer<double>::Create(config, Filled<double>(0)).ok());
  EXPECT_TRUE(
      Optimizer<double>::Create(OptimizerConfig(), Filled<double>(0)).ok());
}

// ----------------------------------------------------- norm and clipping

// Entries 1, 2, 2, 4 spread over all four blocks: norm sqrt(25) = 5.
template <typename S>
Weights<S> NormFive() {
  Weights<S> g = Filled<S>(0);
  g.w_in(1, 0) = 1;
  g.w_rec(0, 1) = 2;
  g.w_out(0, 1) = 2;
  g.b_out(0) = 4;
  return g;
}

TEST(GlobalNormTest, SumsSquaresOfAllBlocks) {
  EXPECT_DOUBLE_EQ(GlobalNorm(NormFive<double>()), 5.0);
  EXPECT_DOUBLE_EQ(GlobalNorm(NormFive<float>()), 5.0);
  EXPECT_EQ(GlobalNorm(Filled<double>(0)), 0.0);
}

TEST(ClipByGlobalNormTest, ScalesEveryEntryToTheLimit) {
  Weights<double> g = NormFive<double>();
  ClipByGlobalNorm(1.0, &g);
  EXPECT_DOUBLE_EQ(g.w_in(1, 0), 0.2);
  EXPECT_DOUBLE_EQ(g.w_rec(0, 1), 0.4);
  EXPECT_DOUBLE_EQ(g.w_out(0, 1), 0.4);
  EXPECT_DOUBLE_EQ(g.b_out(0), 0.8);
  EXPECT_EQ(g.w_in(0, 0), 0.0);
  EXPECT_NEAR(GlobalNorm(g), 1.0, 1e-15);
}

TEST(ClipByGlobalNormTest, LeavesNormsAtOrBelowTheLimitUnchanged) {
  const Weights<double> original = NormFive<double>();
  Weights<double> g = original;
  ClipByGlobalNorm(5.0, &g);
  ExpectBitEqual(g, original);
  ClipByGlobalNorm(100.0, &g);
  ExpectBitEqual(g, original);
}

TEST(ClipByGlobalNormTest, NonFiniteNormGivesNaN) {
  Weights<float> g = NormFive<float>();
  g.w_in(0, 0) = std::numeric_limits<float>::infinity();
  ClipByGlobalNorm(1.0, &g);
  EXPECT_TRUE(std::isnan(g.b_out(0)));
  EXPECT_TRUE(std::isnan(g.w_out(0, 1)));
}

// ------------------------------------------------- hand-computed steps

template <typename S>
class OptimizerStepTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(OptimizerStepTest, Scalars);

// w0 = 0.5, g1 = 0.2, g2 = -0.1, lr = 0.01:
//   w1 = 0.5 - 0.01 * 0.2 = 0.498,  w2 = 0.498 + 0.01 * 0.1 = 0.499.
TYPED_TEST(OptimizerStepTest, SgdTwoSteps) {
  using S = TypeParam;
  Optimizer<S> opt(Config(OptimizerConfig::Kind::kSgd, 0.01), Filled<S>(0));
  Weights<S> w = Filled<S>(0.5);
  opt.Apply(Filled<S>(0.2), &w);
  ExpectAllNear(w, 0.498, Tolerance<S>());
  opt.Apply(Filled<S>(-0.1), &w);
  ExpectAllNear(w, 0.499, Tolerance<S>());
  EXPECT_EQ(opt.step(), 2);
}

// Adam, lr = 0.01, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, w0 = 0.5:
//  t = 1, g = 0.2:  m = 0.1 * 0.2 = 0.02,  v = 0.001 * 0.04 = 4e-5,
//    lr_1 = 0.01 sqrt(0.001) / 0.1,
//    w1 = 0.5 - lr_1 * 0.02 / (sqrt(4e-5) + 1e-8)  (= 0.49000000158...)
//  t = 2, g = -0.1: m = 0.9 * 0.02 - 0.1 * 0.1 = 0.008,
//    v = 0.999 * 4e-5 + 0.001 * 0.01 = 4.996e-5,
//    lr_2 = 0.01 sqrt(1 - 0.999^2) / (1 - 0.9^2) = 0.01 sqrt(0.001999) / 0.19,
//    w2 = w1 - lr_2 * 0.008 / (sqrt(4.996e-5) + 1e-8)  (= 0.48733664918...)
TYPED_TEST(OptimizerStepTest, AdamTwoSteps) {
  using S = TypeParam;
  const double w1 = 0.5 - 0.01 * std::sqrt(0.001) / 0.1 * 0.02 /
                              (std::sqrt(4e-5) + 1e-8);
  const double w2 = w1 - 0.01 * std::sqrt(0.001999) / 0.19 * 0.008 /
                             (std::sqrt(4.996e-5) + 1e-8);
  EXPECT_NEAR(w1, 0.4900000158113633, 1e-15);
  EXPECT_NEAR(w2, 0.48733664918283603, 1e-15);

  Optimizer<S> opt(Config(OptimizerConfig::Kind::kAdam, 0.01), Filled<S>(0));
  Weights<S> w = Filled<S>(0.5);
  opt.Apply(Filled<S>(0.2), &w);
  ExpectAllNear(w, w1, Tolerance<S>());
  ExpectAllNear(opt.first_moment(), 0.02, Tolerance<S>());
  ExpectAllNear(opt.second_moment(), 4e-5, Tolerance<S>());
  opt.Apply(Filled<S>(-0.1), &w);
  ExpectAllNear(w, w2, Tolerance<S>());
  ExpectAllNear(opt.first_moment(), 0.008, Tolerance<S>());
  ExpectAllNear(opt.second_moment(), 4.996e-5, Tolerance<S>());
  EXPECT_EQ(opt.step(), 2);
}

TYPED_TEST(OptimizerStepTest, SetLearningRateAffectsLaterSteps) {
  using S = TypeParam;
  Optimizer<S> opt(Config(OptimizerConfig::Kind::kSgd, 0.01), Filled<S>(0));
  Weights<S> w = Filled<S>(1);
  opt.Apply(Filled<S>(1), &w);  // 1 - 0.01
  opt.SetLearningRate(0.5);
  EXPECT_EQ(opt.learning_rate(), 0.5);
  opt.Apply(Filled<S>(0.1), &w);  // 0.99 - 0.05
  ExpectAllNear(w, 0.94, Tolerance<S>());
}

TYPED_TEST(OptimizerStepTest, ClipsACopyOfTheGradient) {
  using S = TypeParam;
  OptimizerConfig config = Config(OptimizerConfig::Kind::kSgd, 1.0);
  config.clip_global_norm = 1.0;
  Optimizer<S> opt(config, Filled<S>(0));
  const Weights<S> grad = NormFive<S>();
  Weights<S> w = Filled<S>(0);
  opt.Apply(grad, &w);
  EXPECT_NEAR(w.w_in(1, 0), -0.2, Tolerance<S>());
  EXPECT_NEAR(w.w_rec(0, 1), -0.4, Tolerance<S>());
  EXPECT_NEAR(w.w_out(0, 1), -0.4, Tolerance<S>());
  EXPECT_NEAR(w.b_out(0), -0.8, Tolerance<S>());
  ExpectBitEqual(grad, NormFive<S>());
}

// --------------------------------------------------- invariants and state

TEST(OptimizerTest, KeepsRecurrentDiagonalExactlyZero) {
  for (auto kind :
       {OptimizerConfig::Kind::kSgd, OptimizerConfig::Kind::kAdam}) {
    Optimizer<double> opt(Config(kind, 0.1), Filled<double>(0));
    Weights<double> w = Filled<double>(0.3);
    w.w_rec.diagonal().setConstant(0.7);  // a caller bug, repaired
    Weights<double> grad = Filled<double>(0.2);
    grad.w_rec.diagonal().setConstant(5.0);  // ignored
    for (int i = 0; i < 3; ++i) {
      opt.Apply(grad, &w);
      EXPECT_TRUE((w.w_rec.diagonal().array() == 0.0).all());
      EXPECT_TRUE((opt.first_moment().w_rec.diagonal().array() == 0.0).all());
      EXPECT_TRUE((opt.second_moment().w_rec.diagonal().array() == 0.0).all());
    }
    EXPECT_NE(w.w_rec(0, 1), 0.3);
  }
}

TEST(OptimizerTest, AppliedUpdateIsNewMinusOld) {
  Rng rng(42);
  Optimizer<double> opt(OptimizerConfig(), Filled<double>(0));
  Weights<double> w = RandomWeights<double>(rng);
  for (int i = 0; i < 4; ++i) {
    const Weights<double> old = w;
    Weights<double> applied;
    opt.Apply(RandomWeights<double>(rng), &w, &applied);
    ExpectBitEqual(applied,
                   Weights<double>{w.w_in - old.w_in, w.w_rec - old.w_rec,
                                   w.w_out - old.w_out, w.b_out - old.b_out});
    EXPECT_GT(applied.w_out.cwiseAbs().maxCoeff(), 0.0);
  }
}

TEST(OptimizerTest, AppliedUpdateDoesNotChangeTheStep) {
  // Passing applied_update must not change the step itself.
  Rng rng(3);
  const Weights<float> w0 = RandomWeights<float>(rng);
  const Weights<float> grad = RandomWeights<float>(rng);
  Optimizer<float> a(OptimizerConfig(), w0);
  Optimizer<float> b(OptimizerConfig(), w0);
  Weights<float> wa = w0, wb = w0, applied;
  a.Apply(grad, &wa);
  b.Apply(grad, &wb, &applied);
  ExpectBitEqual(wa, wb);
}

TEST(OptimizerTest, StateRoundTripContinuesBitForBit) {
  Rng rng(7);
  OptimizerConfig config;
  config.clip_global_norm = 2.0;
  Optimizer<float> original(config, Filled<float>(0));
  Weights<float> w = RandomWeights<float>(rng);
  for (int i = 0; i < 3; ++i) original.Apply(RandomWeights<float>(rng), &w);

  Optimizer<float> restored(config, Filled<float>(0));
  ASSERT_TRUE(restored.CheckState(original.state()).ok());
  restored.set_state(original.state());
  EXPECT_EQ(restored.step(), 3);

  Weights<float> w_restored = w;
  for (int i = 0; i < 3; ++i) {
    const Weights<float> grad = RandomWeights<float>(rng);
    original.Apply(grad, &w);
    restored.Apply(grad, &w_restored);
  }
  ExpectBitEqual(w_restored, w);
  ExpectBitEqual(restored.state().m, original.state().m);
  ExpectBitEqual(restored.state().v, original.state().v);
}

TEST(OptimizerTest, CheckStateRejectsBadStates) {
  Optimizer<double> opt(OptimizerConfig(), Filled<double>(0));
  OptimizerState<double> state = opt.state();
  EXPECT_TRUE(opt.CheckState(state).ok());

  OptimizerState<double> bad = state;
  bad.step = -1;
  EXPECT_FALSE(opt.CheckState(bad).ok());
  bad = state;
  bad.m.w_out = MatD::Zero(2, 2);
  EXPECT_FALSE(opt.CheckState(bad).ok());
  bad = state;
  bad.v.b_out(0) = -1;
  EXPECT_FALSE(opt.CheckState(bad).ok());
  bad = state;
  bad.m.w_in(0, 0) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(opt.CheckState(bad).ok());
}

}  // namespace
}  // namespace eprop
