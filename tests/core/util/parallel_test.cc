#include "core/util/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <vector>

namespace eprop {
namespace {

TEST(ParallelForTest, RunsEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 7}) {
    std::vector<std::atomic<int>> calls(50);
    ParallelFor(50, threads, [&](int i) { ++calls[i]; });
    for (int i = 0; i < 50; ++i) EXPECT_EQ(calls[i], 1) << i << " " << threads;
  }
}

TEST(ParallelForTest, ZeroItemsIsANoOp) {
  int calls = 0;
  ParallelFor(0, 4, [&](int) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(FlushDenormalsScopeTest, FlushesOnlyInsideTheScope) {
  volatile float tiny = std::numeric_limits<float>::min();  // smallest normal
  volatile float half = 0.5f;
  {
    FlushDenormalsScope flush;
    EXPECT_EQ(tiny * half, 0.0f);
  }
  EXPECT_GT(tiny * half, 0.0f);
}

}  // namespace
}  // namespace eprop
