// The commands that talk to eprop-server: submit, list, status, watch,
// metrics, cancel, delete, export, plot, health, server-info.
#ifndef EPROP_CLIENT_CLI_JOB_COMMANDS_H_
#define EPROP_CLIENT_CLI_JOB_COMMANDS_H_

#include <string>
#include <vector>

#include "client/cli/connection.h"

namespace eprop::cli {

// True for a command RunJobCommand runs.
bool IsJobCommand(const std::string& command);

// "  NAME   summary" lines of the job commands, for the CLI's usage text.
std::string JobCommandSummaries();

// Runs `command` with its arguments; returns the process exit code (0
// success, 1 failure, 2 usage error).
int RunJobCommand(const std::string& command, const GlobalOptions& options,
                  const std::vector<std::string>& argv);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_JOB_COMMANDS_H_
