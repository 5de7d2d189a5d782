// Command-line arguments of the eprop CLI: `eprop [global flags] COMMAND
// [flags]`, flags written --name=value, --name value or --name (booleans).
// Names use hyphens (--max-iterations); every flag must be known to the
// command, so typos fail loudly instead of being ignored.
#ifndef EPROP_CLIENT_CLI_ARGS_H_
#define EPROP_CLIENT_CLI_ARGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace eprop::cli {

struct FlagSpec {
  std::string name;      // without the leading "--"
  bool boolean = false;  // takes no value
  std::string help;
  std::string default_value;
};

class Args {
 public:
  // Parses argv[first..]. Unknown flags and missing values are errors.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv,
                                    const std::vector<FlagSpec>& specs);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string GetString(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t lo,
                                 int64_t hi) const;
  absl::StatusOr<double> GetDouble(const std::string& name, double lo,
                                   double hi) const;
  // The value of `name` if it is one of `choices`; else INVALID_ARGUMENT
  // "--name must be a or b, got 'x'".
  absl::StatusOr<std::string> GetChoice(
      const std::string& name, const std::vector<std::string>& choices) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> defaults_;
  std::vector<std::string> positional_;
};

// "  --name=VALUE   help (default: x)" lines for a command's help text.
std::string FlagHelp(const std::vector<FlagSpec>& specs);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_ARGS_H_
