#include "core/verify/verify.h"

#include <gtest/gtest.h>

namespace eprop {
namespace {

TEST(VerifyTest, DefaultVerificationPassesWithEveryRequiredKey) {
  const std::vector<VerifyCase> cases = VerificationCases({});
  ASSERT_GE(cases.size(), 22u);  // 2 reference cases + at least 20 random
  const VerifyReport report = RunVerification(cases);
  EXPECT_TRUE(report.passed) << FormatReport(report);
  for (const CaseSummary& c : report.cases) {
    EXPECT_TRUE(c.spikes_ok) << c.name;
    EXPECT_TRUE(c.forward_matches_reference) << c.name;
  }
  const std::string json = FormatJson(report);
  for (const char* key :
       {"\"factorization_vs_bptt\":", "\"eprop_vs_stopgrad_bptt\":",
        "\"online_vs_offline\":", "\"smooth_bptt_vs_finite_diff\":",
        "\"float_vs_double\":", "\"passed\":true"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
  }
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

TEST(VerifyTest, ReferenceCasesUseTheSection5Setting) {
  const std::vector<VerifyCase> cases = VerificationCases({});
  EXPECT_EQ(cases[0].config.n_in, 3);
  EXPECT_EQ(cases[0].config.n_lif, 4);
  EXPECT_EQ(cases[0].config.n_alif, 4);
  EXPECT_EQ(cases[0].steps, 50);
  EXPECT_EQ(cases[1].steps, 10);
  EXPECT_EQ(cases[1].config.n_ref, 3);
}

TEST(VerifyTest, SilentNetworkFailsInsteadOfPassingVacuously) {
  VerifyCase silent;
  silent.name = "silent";
  silent.input_rate_hz = 0.0;  // no input, so no spikes at any weight scale
  const VerifyReport report = RunVerification({silent});
  EXPECT_FALSE(report.cases[0].spikes_ok);
  EXPECT_FALSE(report.passed);
  EXPECT_NE(FormatJson(report).find("\"passed\":false"), std::string::npos);
}

TEST(VerifyTest, NoCasesIsAFailure) {
  EXPECT_FALSE(RunVerification({}).passed);
}

}  // namespace
}  // namespace eprop
