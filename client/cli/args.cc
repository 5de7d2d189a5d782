#include "client/cli/args.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace eprop::cli {

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv,
                                 const std::vector<FlagSpec>& specs) {
  Args args;
  std::map<std::string, const FlagSpec*> known;
  for (const FlagSpec& spec : specs) {
    known[spec.name] = &spec;
    if (!spec.default_value.empty())
      args.defaults_[spec.name] = spec.default_value;
  }
  for (size_t k = 0; k < argv.size(); ++k) {
    const std::string& arg = argv[k];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      args.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    const bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = known.find(name);
    if (it == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (it->second->boolean) {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value (or =true/=false)"));
      }
      args.values_[name] = has_value ? value : "true";
      continue;
    }
    if (!has_value) {
      if (k + 1 >= argv.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value"));
      }
      value = argv[++k];
    }
    args.values_[name] = value;
  }
  return args;
}

std::string Args::GetString(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  auto def = defaults_.find(name);
  return def == defaults_.end() ? "" : def->second;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& name, int64_t lo,
                                     int64_t hi) const {
  const std::string text = GetString(name);
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be an integer in [", lo, ", ", hi,
                     "], got '", text, "'"));
  }
  return value;
}

absl::StatusOr<double> Args::GetDouble(const std::string& name, double lo,
                                       double hi) const {
  const std::string text = GetString(name);
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value) || value < lo ||
      value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a number in [", lo, ", ", hi,
                     "], got '", text, "'"));
  }
  return value;
}

absl::StatusOr<std::string> Args::GetChoice(
    const std::string& name, const std::vector<std::string>& choices) const {
  const std::string value = GetString(name);
  for (const std::string& choice : choices) {
    if (value == choice) return value;
  }
  const std::string last = choices.empty() ? "" : choices.back();
  const std::string list =
      choices.size() < 2 ? last
                         : absl::StrCat(absl::StrJoin(choices.begin(),
                                                      choices.end() - 1, ", "),
                                        " or ", last);
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, " must be ", list, ", got '", value, "'"));
}

std::string FlagHelp(const std::vector<FlagSpec>& specs) {
  std::string out;
  for (const FlagSpec& spec : specs) {
    const std::string left = spec.boolean
                                 ? absl::StrCat("--", spec.name)
                                 : absl::StrCat("--", spec.name, "=VALUE");
    absl::StrAppendFormat(&out, "  %-26s %s", left, spec.help);
    if (!spec.default_value.empty()) {
      absl::StrAppend(&out, " (default: ", spec.default_value, ")");
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace eprop::cli
