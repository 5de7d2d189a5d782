// Commands about the server itself: `eprop health` and `eprop server-info`.
#ifndef EPROP_CLIENT_CLI_SERVER_COMMANDS_H_
#define EPROP_CLIENT_CLI_SERVER_COMMANDS_H_

#include <string>
#include <vector>

#include "client/cli/connection.h"

namespace eprop::cli {

// Exit 0 when the server reports SERVING, 1 otherwise (or when unreachable).
int RunHealthCommand(const GlobalOptions& options,
                     const std::vector<std::string>& argv);
int RunServerInfoCommand(const GlobalOptions& options,
                         const std::vector<std::string>& argv);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_SERVER_COMMANDS_H_
