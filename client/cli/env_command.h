// `eprop env run`: game environments (MinAtar Breakout, the Pong-like
// game) connected to a reinforcement-learning job on eprop-server with the
// environment runner of client/lib/environment_client.h, one thread and one
// stream per environment, with progress lines and a final summary.
#ifndef EPROP_CLIENT_CLI_ENV_COMMAND_H_
#define EPROP_CLIENT_CLI_ENV_COMMAND_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/cli/connection.h"
#include "client/lib/environment_client.h"
#include "core/env/breakout.h"
#include "core/env/pong.h"

namespace eprop::cli {

// MinAtar Breakout: OBSERVATION_KIND_SPIKES of shape [10, 10, 4], the 400
// binary values of Breakout::Observe in its (y, x, channel) order,
// bit-packed (value i at byte i / 8, bit i % 8); 3 actions (no-op, left,
// right).
class BreakoutEnvironment : public client::Environment {
 public:
  explicit BreakoutEnvironment(uint64_t seed, env::BreakoutOptions options = {})
      : game_(seed, options) {}

  v1::ObservationSpec spec() const override;
  int num_actions() const override { return env::Breakout::kNumActions; }
  void Reset(client::Observation* observation) override;
  client::StepResult Step(int action,
                          client::Observation* observation) override;

  const env::Breakout& game() const { return game_; }

 private:
  void Observe(client::Observation* observation);

  env::Breakout game_;
  std::array<uint8_t, env::Breakout::kObservationSize> values_{};
};

// The Pong-like game: OBSERVATION_KIND_RGB_FRAME of shape [210, 160, 3],
// the raw bytes of Pong::frame(); Pong::kNumActions actions (no-op, up,
// down).
class PongEnvironment : public client::Environment {
 public:
  explicit PongEnvironment(uint64_t seed, env::PongOptions options = {})
      : game_(seed, options) {}

  v1::ObservationSpec spec() const override;
  int num_actions() const override { return env::Pong::kNumActions; }
  void Reset(client::Observation* observation) override;
  client::StepResult Step(int action,
                          client::Observation* observation) override;

  const env::Pong& game() const { return game_; }

 private:
  void Observe(client::Observation* observation) const;

  env::Pong game_;
};

// The environment of `game` ("breakout" or "pong"; else nullptr).
std::unique_ptr<client::Environment> MakeGameEnvironment(
    const std::string& game, uint64_t seed);

// "  env   summary" for the CLI's usage text.
std::string EnvCommandSummary();

// Runs `eprop env SUBCOMMAND ...` (argv after "env"). Exit codes: 0 done
// (frame budget used up, or the job ended: cancelled or finished), 1
// failure, 2 usage error, 130 interrupted (Ctrl-C), as eprop train.
int RunEnvCommand(const GlobalOptions& options,
                  const std::vector<std::string>& argv);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_ENV_COMMAND_H_
