// eprop: the command-line client. Until the service exists its commands run
// locally.
#include <iostream>
#include <string>
#include <vector>

#include "client/cli/train_command.h"
#include "client/cli/verify_command.h"

namespace {

constexpr char kUsage[] =
    "usage: eprop COMMAND [flags]\n\n"
    "Commands:\n"
    "  verify    check the gradient identities numerically (local)\n"
    "  train     train a network on a task of the paper (--local)\n"
    "  help      show this help\n\n"
    "Run 'eprop COMMAND --help' for a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "verify") return eprop::cli::RunVerifyCommand(args);
  if (command == "train") return eprop::cli::RunTrainCommand(args);
  std::cerr << "eprop: unknown command '" << command << "'\n\n" << kUsage;
  return 2;
}
