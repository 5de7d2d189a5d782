#include "client/cli/command_line.h"

#include <iostream>

#include "absl/strings/str_cat.h"

namespace eprop::cli {

ParsedCommand ParseCommand(const CommandSpec& spec,
                           const GlobalOptions& options,
                           const std::vector<std::string>& argv) {
  std::vector<FlagSpec> flags = spec.flags;
  flags.push_back({"output", false,
                   "table or json (JSON lines); overrides the global --output",
                   ""});
  flags.push_back({"help", true, "show this help", ""});
  ParsedCommand parsed;
  absl::StatusOr<Args> args = Args::Parse(argv, flags);
  if (!args.ok()) {
    parsed.exit_code =
        UsageError(spec.name, std::string(args.status().message()));
    return parsed;
  }
  if (args->Has("help")) {
    std::cout << spec.usage << "\nFlags:\n" << FlagHelp(flags);
    return parsed;
  }
  const std::vector<std::string>& positional = args->positional();
  if (positional.size() < spec.positional.size()) {
    parsed.exit_code = UsageError(
        spec.name,
        absl::StrCat("missing ", spec.positional[positional.size()]));
    return parsed;
  }
  if (positional.size() > spec.positional.size()) {
    parsed.exit_code = UsageError(
        spec.name, absl::StrCat("unexpected argument '",
                                positional[spec.positional.size()], "'"));
    return parsed;
  }
  parsed.json = options.json;
  if (args->Has("output")) {
    absl::StatusOr<std::string> output =
        args->GetChoice("output", {"table", "json"});
    if (!output.ok()) {
      parsed.exit_code =
          UsageError(spec.name, std::string(output.status().message()));
      return parsed;
    }
    parsed.json = *output == "json";
  }
  parsed.args = std::move(*args);
  return parsed;
}

int UsageError(const std::string& command, const std::string& message) {
  std::cerr << "eprop " << command << ": " << message << " (see eprop "
            << command << " --help)\n";
  return kExitUsage;
}

int Failure(const std::string& command, const absl::Status& status) {
  std::cerr << "eprop " << command << ": " << status.message() << "\n";
  return kExitFailure;
}

std::unique_ptr<Connection> ConnectOrReport(const std::string& command,
                                            const GlobalOptions& options) {
  absl::StatusOr<std::unique_ptr<Connection>> connection =
      Connection::Open(options);
  if (!connection.ok()) {
    Failure(command, connection.status());
    return nullptr;
  }
  return std::move(*connection);
}

}  // namespace eprop::cli
