#ifndef EPROP_CLIENT_CLI_TRAIN_COMMAND_H_
#define EPROP_CLIENT_CLI_TRAIN_COMMAND_H_

#include <string>
#include <vector>

namespace eprop::cli {

// `eprop train --local`: a training run in this process with live progress,
// writing metrics, the final checkpoint and plots into --out. Returns the
// process exit code.
int RunTrainCommand(const std::vector<std::string>& args);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_TRAIN_COMMAND_H_
