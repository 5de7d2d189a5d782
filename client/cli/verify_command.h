#ifndef EPROP_CLIENT_CLI_VERIFY_COMMAND_H_
#define EPROP_CLIENT_CLI_VERIFY_COMMAND_H_

#include <string>
#include <vector>

namespace eprop::cli {

// `eprop verify`: runs the numerical verification locally. Returns the exit
// code: 0 all checks passed, 1 a check failed, 2 usage error.
int RunVerifyCommand(const std::vector<std::string>& args);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_VERIFY_COMMAND_H_
