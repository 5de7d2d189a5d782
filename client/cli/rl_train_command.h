// `eprop train --local --task breakout`: reward-based e-prop (actor-critic)
// on MinAtar Breakout in this process (core/rl/breakout_training.h), with
// live progress and, in --out, metrics.csv, metrics.jsonl, a learning-curve
// figure and the agent's final checkpoint. train_command.cc parses the
// command line with TrainFlags() plus RlTrainFlags() and dispatches here.
#ifndef EPROP_CLIENT_CLI_RL_TRAIN_COMMAND_H_
#define EPROP_CLIENT_CLI_RL_TRAIN_COMMAND_H_

#include <string>
#include <vector>

#include "client/cli/args.h"

namespace eprop::cli {

// True for the tasks trained with reward-based e-prop ("breakout").
bool IsRlTask(const std::string& task);

// The flags only the reinforcement-learning tasks take: --frames, --envs,
// --report-every-frames.
const std::vector<FlagSpec>& RlTrainFlags();

// The help paragraph on --task breakout, shown before RlTrainFlags().
std::string RlTrainUsage();

// Runs the training given the parsed flags (the task is an RL task and no
// supervised-only flag is set). Returns the process exit code: 0 done, 1
// failure, 2 usage error, 130 interrupted (like the supervised path).
int RunRlTrainCommand(const Args& args);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_RL_TRAIN_COMMAND_H_
