#include "core/tasks/pattern_generation.h"

#include <gtest/gtest.h>

#include <cmath>


namespace eprop {
namespace {

TEST(PatternGenerationTest, TargetFollowsTheReferenceRecipe) {
  PatternGenerationConfig config;
  config.seed = 3;
  const PatternGenerationData data = MakePatternGeneration(config);
  ASSERT_EQ(data.target.rows(), 1000);
  EXPECT_EQ(data.target(0, 0), 0.0f);                      // starts at 0
  EXPECT_NEAR(data.target.cwiseAbs().maxCoeff(), 1.0f, 1e-6);  // max |y| = 1
  EXPECT_GT(data.target_variance, 0.01);
  // Frozen 50 Hz Poisson input: about 50 spikes per input over 1 s.
  const double mean_count = data.inputs_dense.sum() / config.n_inputs;
  EXPECT_NEAR(mean_count, 50.0, 5.0);
  EXPECT_EQ(data.inputs.nonzeros(),
            static_cast<int64_t>(data.inputs_dense.sum()));
}

TEST(PatternGenerationTest, SeedsAreReproducibleAndDistinct) {
  PatternGenerationConfig a, b;
  a.seed = b.seed = 4;
  EXPECT_EQ(MakePatternGeneration(a).target, MakePatternGeneration(b).target);
  b.seed = 5;
  EXPECT_NE(MakePatternGeneration(a).target, MakePatternGeneration(b).target);
}

TEST(PatternGenerationTest, ValidateRejectsBadFields) {
  PatternGenerationConfig config;
  EXPECT_TRUE(config.Validate().ok());
  config.steps = 0;
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
  config = {};
  config.input_rate_hz = NAN;
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace eprop
