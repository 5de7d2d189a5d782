// `eprop submit`: a job from flags and/or a JobSpec file, optionally
// followed to its end.
#ifndef EPROP_CLIENT_CLI_SUBMIT_COMMAND_H_
#define EPROP_CLIENT_CLI_SUBMIT_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli/args.h"
#include "client/cli/connection.h"
#include "eprop/v1/environments.pb.h"
#include "eprop/v1/jobs.pb.h"

namespace eprop::cli {

// The spec described by --job-file (if given) with the task flags given on
// the command line laid over it. Only fields the file or a flag sets are
// set, so the server's defaults apply to the rest. INVALID_ARGUMENT for a
// malformed value or file, a missing task, or a flag of the supervised
// tasks given for a reinforcement-learning task or vice versa (the message
// names the flag); other codes when the file cannot be read. Value ranges
// are left to the server.
absl::StatusOr<v1::JobSpec> SpecFromArgs(const Args& args);

// The value of --observation, KIND:SHAPE: KIND features, spikes or rgb
// (OBSERVATION_KIND_RGB_FRAME, shape HxWx3), SHAPE dimensions >= 1 joined
// by 'x' ("features:8", "spikes:10x10x4"). INVALID_ARGUMENT naming
// --observation otherwise.
absl::StatusOr<v1::ObservationSpec> ParseObservationFlag(
    const std::string& text);

// Every flag of `eprop submit` (without --output and --help).
const std::vector<FlagSpec>& SubmitFlags();

int RunSubmitCommand(const GlobalOptions& options,
                     const std::vector<std::string>& argv);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_SUBMIT_COMMAND_H_
