#include "client/cli/args.h"

#include <gtest/gtest.h>

namespace eprop::cli {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"json", true, "json output", ""},
    {"seed", false, "seed", "7"},
    {"rate", false, "rate", "1.5"},
};

TEST(ArgsTest, ParsesAllSpellingsAndDefaults) {
  auto args = Args::Parse({"--json", "--seed=3", "pos", "--rate", "2.5"}, kSpecs);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_TRUE(args->Has("json"));
  EXPECT_EQ(*args->GetInt("seed", 0, 10), 3);
  EXPECT_EQ(*args->GetDouble("rate", 0, 10), 2.5);
  EXPECT_EQ(args->positional(), std::vector<std::string>{"pos"});
  auto defaults = Args::Parse({}, kSpecs);
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->Has("json"));
  EXPECT_EQ(*defaults->GetInt("seed", 0, 10), 7);
}

TEST(ArgsTest, RejectsUnknownFlagsAndMissingValues) {
  EXPECT_FALSE(Args::Parse({"--sed=3"}, kSpecs).ok());
  EXPECT_FALSE(Args::Parse({"--seed"}, kSpecs).ok());
  EXPECT_FALSE(Args::Parse({"--json=maybe"}, kSpecs).ok());
}

TEST(ArgsTest, RangeAndFormatErrorsNameTheFlag) {
  auto args = Args::Parse({"--seed=11", "--rate=nan"}, kSpecs);
  ASSERT_TRUE(args.ok());
  const absl::Status seed = args->GetInt("seed", 0, 10).status();
  EXPECT_EQ(seed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(seed.message().find("--seed"), std::string::npos);
  EXPECT_FALSE(args->GetDouble("rate", 0, 10).ok());
  auto text = Args::Parse({"--seed=abc"}, kSpecs);
  ASSERT_TRUE(text.ok());
  EXPECT_FALSE(text->GetInt("seed", 0, 10).ok());
}

}  // namespace
}  // namespace eprop::cli
