#ifndef EPROP_CLIENT_CLI_DEMO_COMMAND_H_
#define EPROP_CLIENT_CLI_DEMO_COMMAND_H_

#include <string>
#include <vector>

namespace eprop::cli {

// `eprop demo`: a short local training run (pattern generation, paper
// Fig. S7) with live progress. Returns the process exit code.
int RunDemoCommand(const std::vector<std::string>& args);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_DEMO_COMMAND_H_
