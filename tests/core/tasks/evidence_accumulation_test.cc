#include "core/tasks/evidence_accumulation.h"

#include <gtest/gtest.h>

#include "core/tasks/poisson.h"

namespace eprop {
namespace {

// Spike counts of one input group of one sample within [t0, t1).
int64_t GroupSpikes(const TaskBatch& batch, int group, int b, int t0, int t1) {
  int64_t count = 0;
  for (int t = t0; t < t1; ++t) {
    const int64_t row = int64_t{t} * batch.batch + b;
    for (int64_t k = batch.inputs.begin(row); k < batch.inputs.end(row); ++k) {
      count += batch.inputs.cols[k] / 10 == group;
    }
  }
  return count;
}

TEST(EvidenceAccumulationTest, LayoutLabelsAndMask) {
  const EvidenceAccumulationConfig config;
  ASSERT_EQ(config.steps(), 2250);
  Rng rng(1);
  const TaskBatch batch = MakeEvidenceBatch(config, 64, rng);
  EXPECT_TRUE(batch.classification);
  ASSERT_EQ(batch.inputs.rows(), 2250 * 64);
  ASSERT_EQ(batch.sample_labels.size(), 64u);
  int left_labels = 0;
  for (int b = 0; b < 64; ++b) {
    // The majority side fired in more cue windows.
    int left_cues = 0, right_cues = 0;
    for (int k = 0; k < 7; ++k) {
      const int64_t l = GroupSpikes(batch, 0, b, k * 150, k * 150 + 100);
      const int64_t r = GroupSpikes(batch, 1, b, k * 150, k * 150 + 100);
      left_cues += l > r;
      right_cues += r > l;
    }
    if (left_cues >= 6) {
      EXPECT_EQ(batch.sample_labels[b], 0) << b;
    }
    if (right_cues >= 6) {
      EXPECT_EQ(batch.sample_labels[b], 1) << b;
    }
    left_labels += batch.sample_labels[b] == 0;
    // Cue groups are silent between cues and after the cue phase.
    EXPECT_EQ(GroupSpikes(batch, 0, b, 1050, 2250), 0);
    EXPECT_EQ(GroupSpikes(batch, 1, b, 100, 150), 0);
    // The recall group fires only in the last 150 ms.
    EXPECT_EQ(GroupSpikes(batch, 2, b, 0, 2100), 0);
    for (int t = 0; t < 2250; ++t) {
      const int64_t row = int64_t{t} * 64 + b;
      EXPECT_EQ(batch.mask[row], t >= 2100 ? 1 : 0);
      if (batch.mask[row]) {
        EXPECT_EQ(batch.labels[row], batch.sample_labels[b]);
      }
    }
  }
  EXPECT_GT(left_labels, 16);
  EXPECT_LT(left_labels, 48);
}

TEST(EvidenceAccumulationTest, RatesMatchTheSpecification) {
  const EvidenceAccumulationConfig config;
  Rng rng(2);
  const TaskBatch batch = MakeEvidenceBatch(config, 256, rng);
  int64_t background = 0, recall = 0;
  for (int b = 0; b < 256; ++b) {
    background += GroupSpikes(batch, 3, b, 0, 2250);
    recall += GroupSpikes(batch, 2, b, 2100, 2250);
  }
  // Expected: 10 Hz * 2.25 s * 10 inputs and 40 Hz * 0.15 s * 10 inputs.
  EXPECT_NEAR(background / 256.0, 225.0, 5.0);
  EXPECT_NEAR(recall / 256.0, 60.0, 2.0);
}

TEST(EvidenceAccumulationTest, ReproducibleFromTheRngState) {
  const EvidenceAccumulationConfig config;
  Rng a(3), b(3);
  const TaskBatch x = MakeEvidenceBatch(config, 4, a);
  const TaskBatch y = MakeEvidenceBatch(config, 4, b);
  EXPECT_EQ(x.inputs.cols, y.inputs.cols);
  EXPECT_EQ(x.inputs.offsets, y.inputs.offsets);
  EXPECT_EQ(x.sample_labels, y.sample_labels);
  const TaskBatch z = MakeEvidenceBatch(config, 4, a);
  EXPECT_NE(x.inputs.cols, z.inputs.cols);
}

TEST(EvidenceAccumulationTest, ValidateRejectsBadFields) {
  EvidenceAccumulationConfig config;
  EXPECT_TRUE(config.Validate().ok());
  config.cue_rate_hz = -1;
  EXPECT_FALSE(config.Validate().ok());
  config = {};
  config.p_majority = 0.2;
  EXPECT_FALSE(config.Validate().ok());
  config = {};
  config.recall_ms = 5000;
  EXPECT_FALSE(config.Validate().ok());
}

TEST(SpikeCollectorTest, GeometricGapsGiveBernoulliCounts) {
  Rng rng(4);
  SpikeCollector collector(100000, 1);
  collector.AddPoisson(rng, 0, 0, 0, 100000, 0.02);
  collector.AddPoisson(rng, 0, 1, 10, 20, 1.0);
  collector.AddPoisson(rng, 0, 2, 0, 100000, 0.0);
  const SparseRows<float> rows = collector.Build();
  int64_t zero = 0, one = 0, two = 0;
  for (int32_t c : rows.cols) (c == 0 ? zero : c == 1 ? one : two)++;
  EXPECT_NEAR(zero, 2000, 150);  // 4 standard deviations
  EXPECT_EQ(one, 10);
  EXPECT_EQ(two, 0);
  for (int t = 10; t < 20; ++t) EXPECT_GT(rows.end(t) - rows.begin(t), 0);
}

}  // namespace
}  // namespace eprop
