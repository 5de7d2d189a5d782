#include "client/cli/verify_command.h"

#include <cstdio>
#include <iostream>

#include "client/cli/args.h"
#include "core/verify/verify.h"

namespace eprop::cli {
namespace {

const std::vector<FlagSpec>& VerifyFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"json", true, "print one JSON object instead of the report", ""},
      {"random-cases", false, "number of random seeds and shapes", "24"},
      {"seed", false, "seed of the random cases", "2020"},
      {"help", true, "show this help", ""},
  };
  return *flags;
}

constexpr char kVerifyUsage[] =
    "usage: eprop verify [--json] [--random-cases=N] [--seed=N]\n\n"
    "Checks, in double precision and locally (no server), that\n"
    "  - the factorisation sum_t dE/dz(t) e(t) equals BPTT (paper eq. 1),\n"
    "  - e-prop equals stop-gradient BPTT (autodiff e-prop),\n"
    "  - online and offline e-prop agree,\n"
    "  - BPTT with a smooth surrogate equals finite differences,\n"
    "  - the float32 fast path matches the double reference,\n"
    "on the reference setting (3 inputs, 4 LIF + 4 ALIF, T = 50 and T = 10)\n"
    "and on random seeds and shapes. Exits 1 if any check fails.\n\n";

}  // namespace

int RunVerifyCommand(const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = Args::Parse(argv, VerifyFlags());
  if (!args.ok()) {
    std::cerr << "eprop verify: " << args.status().message()
              << " (see eprop verify --help)\n";
    return 2;
  }
  if (args->Has("help")) {
    std::cout << kVerifyUsage << FlagHelp(VerifyFlags());
    return 0;
  }
  if (!args->positional().empty()) {
    std::cerr << "eprop verify: unexpected argument '"
              << args->positional()[0] << "'\n";
    return 2;
  }
  absl::StatusOr<int64_t> random_cases = args->GetInt("random-cases", 0, 10000);
  absl::StatusOr<int64_t> seed = args->GetInt("seed", 0, INT64_MAX);
  for (const absl::Status& s : {random_cases.status(), seed.status()}) {
    if (!s.ok()) {
      std::cerr << "eprop verify: " << s.message() << "\n";
      return 2;
    }
  }
  VerifyOptions options;
  options.random_cases = static_cast<int>(*random_cases);
  options.seed = static_cast<uint64_t>(*seed);
  const VerifyReport report = RunVerification(VerificationCases(options));
  if (args->Has("json")) {
    std::cout << FormatJson(report) << std::endl;
  } else {
    std::cout << FormatReport(report) << std::flush;
  }
  return report.passed ? 0 : 1;
}

}  // namespace eprop::cli
