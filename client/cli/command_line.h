// Parsing, help and error reporting shared by the job commands (the
// commands that talk to eprop-server). Exit codes: 0 success, 1 failure
// (RPC error, I/O error, a job that did not succeed), 2 usage error.
#ifndef EPROP_CLIENT_CLI_COMMAND_LINE_H_
#define EPROP_CLIENT_CLI_COMMAND_LINE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/cli/args.h"
#include "client/cli/connection.h"

namespace eprop::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A command's flags and help.
struct CommandSpec {
  std::string name;             // "status"
  std::string usage;            // the --help text before the flag list
  std::vector<FlagSpec> flags;  // --output and --help are added
  // Names of the required positional arguments ("JOB").
  std::vector<std::string> positional;
};

// A parsed command line, or the exit code to return right away (after
// --help, or a usage error already reported).
struct ParsedCommand {
  std::optional<Args> args;
  int exit_code = kExitOk;
  bool json = false;  // --output json after the command, else the global one
  std::string Positional(size_t k) const { return args->positional()[k]; }
};

ParsedCommand ParseCommand(const CommandSpec& spec,
                           const GlobalOptions& options,
                           const std::vector<std::string>& argv);

// Prints "eprop CMD: MESSAGE (see eprop CMD --help)" and returns 2.
int UsageError(const std::string& command, const std::string& message);

// Prints "eprop CMD: MESSAGE" (for RPC failures the message already holds
// the code: see Connection::RpcError) and returns 1.
int Failure(const std::string& command, const absl::Status& status);

// Connection::Open, reporting failure via Failure(); nullptr then.
std::unique_ptr<Connection> ConnectOrReport(const std::string& command,
                                            const GlobalOptions& options);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_COMMAND_LINE_H_
