// eprop: the command-line client. `verify` and `train --local` run in this
// process; the job commands talk to eprop-server over gRPC.
#include <iostream>
#include <string>
#include <vector>

#include "client/cli/connection.h"
#include "client/cli/env_command.h"
#include "client/cli/job_commands.h"
#include "client/cli/train_command.h"
#include "client/cli/verify_command.h"

namespace {

std::string Usage() {
  return "usage: eprop [global flags] COMMAND [flags]\n\n"
         "Local commands:\n"
         "  verify       check the gradient identities numerically\n"
         "  train        train a network on a task of the paper (--local)\n\n"
         "Commands on eprop-server:\n" +
         eprop::cli::JobCommandSummaries() + eprop::cli::EnvCommandSummary() +
         "\n  help         show this help\n\n"
         "Global flags (before the command):\n" +
         eprop::cli::GlobalFlagHelp() +
         "\nRun 'eprop COMMAND --help' for a command's flags. Exit codes: 0\n"
         "success, 1 failure (or a job that did not succeed), 2 usage error.\n";
}

// The local commands' own flag for `eprop --output json COMMAND`: train's
// --output=json and verify's --json, unless the command line sets it.
std::vector<std::string> WithGlobalJson(const std::string& command,
                                        std::vector<std::string> args) {
  const std::string name = command == "train" ? "--output" : "--json";
  for (const std::string& arg : args) {
    if (arg == name || arg.rfind(name + "=", 0) == 0) return args;
  }
  args.push_back(command == "train" ? "--output=json" : "--json");
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> argv_list(argv + 1, argv + argc);
  absl::StatusOr<eprop::cli::Invocation> invocation =
      eprop::cli::ParseInvocation(argv_list);
  if (!invocation.ok()) {
    std::cerr << "eprop: " << invocation.status().message()
              << " (see eprop --help)\n";
    return 2;
  }
  const std::string& command = invocation->command;
  if (invocation->help || command == "help" || command == "-h") {
    std::cout << Usage();
    return 0;
  }
  if (command.empty()) {
    std::cerr << Usage();
    return 2;
  }
  const std::vector<std::string>& args = invocation->args;
  if (command == "verify" || command == "train") {
    const std::vector<std::string> local =
        invocation->options.json ? WithGlobalJson(command, args) : args;
    return command == "verify" ? eprop::cli::RunVerifyCommand(local)
                               : eprop::cli::RunTrainCommand(local);
  }
  if (command == "env") {
    return eprop::cli::RunEnvCommand(invocation->options, args);
  }
  if (eprop::cli::IsJobCommand(command)) {
    return eprop::cli::RunJobCommand(command, invocation->options, args);
  }
  std::cerr << "eprop: unknown command '" << command << "'\n\n" << Usage();
  return 2;
}
