// `eprop submit`: a job from flags and/or a JobSpec file, optionally
// followed to its end.
#ifndef EPROP_CLIENT_CLI_SUBMIT_COMMAND_H_
#define EPROP_CLIENT_CLI_SUBMIT_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli/args.h"
#include "client/cli/connection.h"
#include "eprop/v1/jobs.pb.h"

namespace eprop::cli {

// The spec described by --job-file (if given) with the task flags given on
// the command line laid over it. Only fields the file or a flag sets are
// set, so the server's defaults apply to the rest. INVALID_ARGUMENT for a
// malformed value or file (the message names it); other codes when the file
// cannot be read.
absl::StatusOr<v1::JobSpec> SpecFromArgs(const Args& args);

int RunSubmitCommand(const GlobalOptions& options,
                     const std::vector<std::string>& argv);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_SUBMIT_COMMAND_H_
