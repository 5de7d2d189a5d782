#include "core/env/atari_preprocessing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/env/pong.h"
#include "core/util/random.h"

namespace eprop::env {
namespace {

// A scripted frame source: frame k (k = frames since Reset) has every
// pixel set to gray `frame_value(k)` unless `painter` is given; reward of
// the frame k step is `reward_of(k)`; terminates at frame `terminal_at`.
class FakeEnv final : public FrameEnvironment {
 public:
  FakeEnv(int h, int w) : h_(h), w_(w), frame_(h * w * 3, 0) {}

  void Reset() override {
    ++resets;
    count = 0;
    Paint();
  }
  StepResult Step(int action) override {
    actions.push_back(action);
    ++count;
    Paint();
    StepResult r;
    r.reward = rewards.empty() ? 0.0f : rewards[(count - 1) % rewards.size()];
    r.terminated = terminal_at > 0 && count >= terminal_at;
    return r;
  }
  const std::vector<uint8_t>& frame() const override { return frame_; }
  int height() const override { return h_; }
  int width() const override { return w_; }
  int num_actions() const override { return 3; }

  // Frame k is white at pixel (y, x) iff (x + k) is even; otherwise 0.
  bool checker = false;
  std::vector<float> rewards;
  int terminal_at = 0;
  int count = 0;
  int resets = 0;
  std::vector<int> actions;

 private:
  void Paint() {
    for (int y = 0; y < h_; ++y) {
      for (int x = 0; x < w_; ++x) {
        const uint8_t v =
            checker ? ((x + count) % 2 == 0 ? 255 : 0) : uint8_t(count * 10);
        for (int c = 0; c < 3; ++c) frame_[(y * w_ + x) * 3 + c] = v;
      }
    }
  }
  int h_, w_;
  std::vector<uint8_t> frame_;
};

PreprocessingOptions NoRandomness() {
  PreprocessingOptions options;
  options.noop_max = 0;
  options.sticky_action_probability = 0.0;
  return options;
}

TEST(AtariPreprocessingTest, GrayscaleOfKnownColors) {
  EXPECT_EQ(Luma601(0, 0, 0), 0);
  EXPECT_EQ(Luma601(255, 255, 255), 255);
  EXPECT_EQ(Luma601(255, 0, 0), 76);     // 76.245
  EXPECT_EQ(Luma601(0, 255, 0), 150);    // 149.685
  EXPECT_EQ(Luma601(0, 0, 255), 29);     // 29.07
  EXPECT_EQ(Luma601(144, 72, 17), 87);   // Pong background, 87.258
  EXPECT_EQ(Luma601(92, 186, 92), 147);  // agent paddle, 147.174
  EXPECT_EQ(Luma601(1, 0, 1), 0);        // 0.413
  EXPECT_EQ(Luma601(0, 1, 0), 1);        // 0.587
  const uint8_t rgb[6] = {236, 236, 236, 213, 130, 74};
  uint8_t gray[2];
  RgbToGray(rgb, 2, gray);
  EXPECT_EQ(gray[0], 236);
  EXPECT_EQ(gray[1], 148);  // 63.687 + 76.31 + 8.436 = 148.433
}

TEST(AtariPreprocessingTest, AreaResizeOfConstantIsConstant) {
  AreaResizer resizer(210, 160, 84, 84);
  std::vector<uint8_t> in(210 * 160, 173), out(84 * 84);
  resizer.Resize(in.data(), out.data());
  for (uint8_t v : out) ASSERT_EQ(v, 173);
}

TEST(AtariPreprocessingTest, AreaResizeHandComputedPixels) {
  // src(y, x) = 50 * (y % 3) + 40 * (x % 3). Rows: scale 2.5, so output
  // row 0 weights rows 0,1,2 by .4,.4,.2 and output row 1 weights rows
  // 2,3,4 by .2,.4,.4: both give 50 * 0.8 = 40. Columns: scale 160/84, so
  // output col 0 weights cols 0,1 by .525,.475 (-> 40 * .475 = 19) and
  // output col 1 weights cols 1,2,3 by .05,.525,.425 (-> 40 * 1.1 = 44).
  AreaResizer resizer(210, 160, 84, 84);
  std::vector<uint8_t> in(210 * 160), out(84 * 84);
  for (int y = 0; y < 210; ++y) {
    for (int x = 0; x < 160; ++x) in[y * 160 + x] = 50 * (y % 3) + 40 * (x % 3);
  }
  resizer.Resize(in.data(), out.data());
  EXPECT_EQ(out[0 * 84 + 0], 59);
  EXPECT_EQ(out[1 * 84 + 1], 84);
  EXPECT_EQ(out[0 * 84 + 1], 84);
  EXPECT_EQ(out[1 * 84 + 0], 59);
}

// Brute-force 2D reference: overlap area of each input pixel with the
// output pixel's rectangle.
double ReferenceArea(const std::vector<uint8_t>& in, int ih, int iw, int oh,
                     int ow, int oy, int ox) {
  const double sy = double(ih) / oh, sx = double(iw) / ow;
  double sum = 0.0;
  for (int y = 0; y < ih; ++y) {
    const double wy = std::max(
        0.0, std::min((oy + 1) * sy, y + 1.0) - std::max(oy * sy, double(y)));
    if (wy == 0.0) continue;
    for (int x = 0; x < iw; ++x) {
      const double wx = std::max(
          0.0, std::min((ox + 1) * sx, x + 1.0) - std::max(ox * sx, double(x)));
      sum += wy * wx * in[y * iw + x];
    }
  }
  return sum / (sy * sx);
}

TEST(AtariPreprocessingTest, AreaResizeMatchesBruteForceReference) {
  Rng rng(5);
  std::vector<uint8_t> in(210 * 160), out(84 * 84);
  for (auto& v : in) v = static_cast<uint8_t>(rng.UniformInt(256));
  AreaResizer resizer(210, 160, 84, 84);
  resizer.Resize(in.data(), out.data());
  for (int oy = 0; oy < 84; oy += 7) {
    for (int ox = 0; ox < 84; ox += 5) {
      const double ref = ReferenceArea(in, 210, 160, 84, 84, oy, ox);
      EXPECT_NEAR(out[oy * 84 + ox], ref, 0.5 + 1e-6) << oy << "," << ox;
    }
  }
}

TEST(AtariPreprocessingTest, IntegerFactorIsBlockAverage) {
  Rng rng(6);
  std::vector<uint8_t> in(168 * 168), out(84 * 84);
  for (auto& v : in) v = static_cast<uint8_t>(rng.UniformInt(256));
  AreaResizer resizer(168, 168, 84, 84);
  resizer.Resize(in.data(), out.data());
  for (int y = 0; y < 84; ++y) {
    for (int x = 0; x < 84; ++x) {
      const int sum = in[2 * y * 168 + 2 * x] + in[2 * y * 168 + 2 * x + 1] +
                      in[(2 * y + 1) * 168 + 2 * x] +
                      in[(2 * y + 1) * 168 + 2 * x + 1];
      ASSERT_EQ(out[y * 84 + x], (sum + 2) / 4) << y << "," << x;
    }
  }
}

TEST(AtariPreprocessingTest, ObservationIsMaxOfLastTwoFrames) {
  FakeEnv env(84, 84);  // 84 -> 84: the resize is the identity
  env.checker = true;
  AtariPreprocessing pre(&env, 1, NoRandomness());
  const std::vector<uint8_t>& first = pre.Reset();
  EXPECT_EQ(first[0], 255);  // frame 0: even columns white
  EXPECT_EQ(first[1], 0);
  pre.Step(0);  // frames 1..4; frames 3 and 4 are complementary
  for (uint8_t v : pre.observation()) ASSERT_EQ(v, 255);

  env.checker = false;  // frame k has value 10 k: max of last two = last
  pre.Reset();
  EXPECT_EQ(pre.observation()[0], 0);
  pre.Step(0);
  EXPECT_EQ(pre.observation()[100], 40);
  pre.Step(0);
  EXPECT_EQ(pre.observation()[100], 80);
}

TEST(AtariPreprocessingTest, FrameSkipSumsRewardsAndStopsOnTerminal) {
  FakeEnv env(84, 84);
  env.rewards = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  env.terminal_at = 6;
  AtariPreprocessing pre(&env, 2, NoRandomness());
  pre.Reset();
  AtariPreprocessing::StepResult r = pre.Step(1);
  EXPECT_EQ(r.reward, 10.0f);
  EXPECT_FALSE(r.terminated);
  EXPECT_EQ(env.count, 4);
  r = pre.Step(2);
  EXPECT_EQ(r.reward, 11.0f);  // frames 5 and 6 only
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(env.count, 6);
  EXPECT_EQ(pre.observation()[0], 60);  // the terminal frame is included
  EXPECT_EQ(env.actions, (std::vector<int>{1, 1, 1, 1, 2, 2}));
}

TEST(AtariPreprocessingTest, RewardClippingToSign) {
  FakeEnv env(84, 84);
  env.rewards = {5.0f, -3.0f, 0.0f, 0.0f};  // per window: 2, then -3 + ...
  PreprocessingOptions options = NoRandomness();
  options.clip_rewards = true;
  options.frame_skip = 1;
  AtariPreprocessing pre(&env, 3, options);
  pre.Reset();
  EXPECT_EQ(pre.Step(0).reward, 1.0f);
  EXPECT_EQ(pre.Step(0).reward, -1.0f);
  EXPECT_EQ(pre.Step(0).reward, 0.0f);
  options.clip_rewards = false;
  AtariPreprocessing raw(&env, 3, options);
  raw.Reset();
  EXPECT_EQ(raw.Step(0).reward, 5.0f);
}

TEST(AtariPreprocessingTest, StickyActionProbability) {
  FakeEnv env(8, 8);  // small frames keep the test fast
  PreprocessingOptions options = NoRandomness();
  options.frame_skip = 1;
  options.screen_size = 8;
  options.sticky_action_probability = 0.25;
  AtariPreprocessing pre(&env, 4, options);
  pre.Reset();
  const int n = 20000;
  int sticky = 0;
  int previous = 0;
  for (int i = 0; i < n; ++i) {
    const int want = (previous + 1) % 3;  // always differs from previous
    pre.Step(want);
    previous = env.actions.back();
    sticky += previous != want;
  }
  // Binomial standard deviation: sqrt(.25 * .75 / 20000) = 0.003.
  EXPECT_NEAR(static_cast<double>(sticky) / n, 0.25, 0.015);
}

TEST(AtariPreprocessingTest, NoopStartsCountInRange) {
  FakeEnv env(8, 8);
  PreprocessingOptions options;  // noop_max 30
  options.screen_size = 8;
  AtariPreprocessing pre(&env, 5, options);
  int lo = 100, hi = -1;
  for (int i = 0; i < 300; ++i) {
    env.actions.clear();
    pre.Reset();
    const int k = pre.last_noop_count();
    EXPECT_EQ(static_cast<int>(env.actions.size()), k);
    for (int a : env.actions) EXPECT_EQ(a, 0);
    lo = std::min(lo, k);
    hi = std::max(hi, k);
  }
  EXPECT_GE(lo, 0);
  EXPECT_LE(hi, 30);
  EXPECT_LE(lo, 3);  // the range is used, not a constant
  EXPECT_GE(hi, 27);
}

TEST(AtariPreprocessingTest, NoopStartResetsWhenEpisodeEnds) {
  FakeEnv env(84, 84);
  env.terminal_at = 1;  // every frame ends the episode
  AtariPreprocessing pre(&env, 6, PreprocessingOptions());
  pre.Reset();
  EXPECT_EQ(env.resets, 1 + pre.last_noop_count());
}

TEST(AtariPreprocessingTest, WrapsPong) {
  Pong pong(7);
  PongFrameEnvironment env(&pong);
  AtariPreprocessing pre(&env, 8, PreprocessingOptions());
  const std::vector<uint8_t>& obs = pre.Reset();
  ASSERT_EQ(obs.size(), 84u * 84u);
  EXPECT_EQ(pre.num_actions(), 3);
  // A pixel in the middle of the field's background: Pong's luma, 87.
  EXPECT_EQ(obs[60 * 84 + 42], Luma601(144, 72, 17));
  int steps = 0;
  for (; steps < 100; ++steps) {
    const auto r = pre.Step(steps % 3);
    EXPECT_TRUE(r.reward == 0.0f || std::abs(r.reward) == 1.0f);
  }
  std::vector<float> features(pre.observation_size());
  pre.ObserveFloat(features.data());
  for (float f : features) {
    ASSERT_GE(f, 0.0f);
    ASSERT_LE(f, 1.0f);
  }
}

TEST(AtariPreprocessingTest, DeterministicPerSeed) {
  auto run = [](uint64_t seed) {
    Pong pong(1);
    PongFrameEnvironment env(&pong);
    PreprocessingOptions options;
    options.sticky_action_probability = 0.25;
    AtariPreprocessing pre(&env, seed, options);
    pre.Reset();
    for (int i = 0; i < 200; ++i) pre.Step(i % 3);
    return pre.observation();
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3), run(4));
}

TEST(AtariPreprocessingTest, OptionsValidate) {
  EXPECT_TRUE(PreprocessingOptions().Validate().ok());
  PreprocessingOptions bad;
  bad.frame_skip = 0;
  EXPECT_FALSE(bad.Validate().ok());
  bad = PreprocessingOptions();
  bad.sticky_action_probability = -0.1;
  EXPECT_FALSE(bad.Validate().ok());
}

}  // namespace
}  // namespace eprop::env
