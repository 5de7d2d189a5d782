#include "client/cli/env_command.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/command_line.h"
#include "client/lib/session_client.h"
#include "core/util/json.h"

namespace eprop::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

void OnStop(int) { g_stop = true; }

constexpr char kRun[] = "env run";
constexpr int kMaxCount = 256;
constexpr int kRecentEpisodes = 100;

std::string EnvUsage() {
  return "usage: eprop [global flags] env SUBCOMMAND [flags]\n\n"
         "Environment processes for reinforcement-learning jobs on\n"
         "eprop-server: they connect to a job, send their observations and\n"
         "rewards, and play the actions the job's spiking network chooses\n"
         "(EnvironmentService.ConnectEnvironment in environments.proto).\n\n"
         "Subcommands:\n"
         "  run    run game environments (breakout, pong) for a job\n\n"
         "Run 'eprop env run --help' for its flags. Exit codes: 0 done, 1\n"
         "failure, 2 usage error, 130 interrupted.\n";
}

const std::vector<FlagSpec>& RunFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"game", false, "breakout or pong (required)", ""},
      {"job", false, "the RL job to connect to (required)", ""},
      {"count", false, "environments to run, each with its own stream, 1..256",
       "1"},
      {"frames", false,
       "frames (executed actions) per environment; 0: until stopped", "0"},
      {"seed", false, "game i (from 0) is seeded with seed + i", "1"},
      {"name", false,
       "name prefix; environment i is PREFIX-i in the server's logs "
       "(default: the game)",
       ""},
      {"progress-every-s", false, "seconds between progress lines", "5"},
      {"max-retry-s", false,
       "give up after this many seconds of failed reconnecting; 0: never", "0"},
  };
  return *flags;
}

std::string RunUsage() {
  return "usage: eprop [global flags] env run --game=breakout|pong --job=ID "
         "[flags]\n\n"
         "Runs --count game environments for a reinforcement-learning job,\n"
         "each in its own thread with its own stream to eprop-server: it\n"
         "opens with the game's observation spec, its number of actions and\n"
         "a fresh random run id, then sends one observation per step (with\n"
         "the reward and episode end of the previous action) and plays the\n"
         "action it gets back. An episode that ends is reset at once.\n\n"
         "Games (their spec must match the job's):\n"
         "  breakout  MinAtar Breakout (sticky actions 0.1): SPIKES "
         "[10,10,4],\n"
         "            bit-packed; 3 actions (no-op, left, right)\n"
         "  pong      the Pong-like game: RGB_FRAME [210,160,3], raw bytes;\n"
         "            3 actions (no-op, up, down)\n\n"
         "It talks to the server of the global --server, --token-file and\n"
         "--tls-ca flags (see eprop --help). The server preprocesses RGB\n"
         "frames (ALE conventions: frame skip, no-op starts, sticky actions,\n"
         "84x84 grayscale; see the job's reinforcement spec): every frame is\n"
         "one step, and frames between the agent's decisions are answered\n"
         "at once.\n\n"
         "Reconnecting: when the server is down or restarting, or the job\n"
         "does not accept environments yet (UNAVAILABLE), or an answer takes\n"
         "longer than the global --timeout-s, the environment reconnects\n"
         "with exponential backoff (0.1 s doubling to 5 s, with jitter),\n"
         "reset and with a new run id (the episode in progress is dropped).\n"
         "The run ends when every environment has played --frames frames,\n"
         "when the job ends (completed, cancelled or finished: a clean end,\n"
         "reported with its reason; a job that is unknown or finished when an\n"
         "environment first connects is an error), or on Ctrl-C, which\n"
         "closes the streams cleanly.\n\n"
         "Output: a progress line every --progress-every-s seconds (frames,\n"
         "frames/s, episodes, average return of the last 100 episodes,\n"
         "connected environments, reconnects) and a final summary with the\n"
         "steps' round-trip latency; --output json prints them as JSON\n"
         "lines. Exit codes: 0 done (frames played or the job ended), 1\n"
         "failure, 2 usage error, 130 interrupted.\n";
}

struct RunConfig {
  std::string game;
  std::string job;
  int count = 1;
  int64_t frames = 0;
  uint64_t seed = 1;
  std::string name;
  double progress_every_s = 5;
  int64_t max_retry_s = 0;
  bool json = false;
};

absl::StatusOr<RunConfig> ParseRunConfig(const Args& args, bool json) {
  RunConfig config;
  config.json = json;
  if (!args.Has("game")) return absl::InvalidArgumentError("missing --game");
  absl::StatusOr<std::string> game =
      args.GetChoice("game", {"breakout", "pong"});
  if (!game.ok()) return game.status();
  config.game = *game;
  config.job = args.GetString("job");
  if (config.job.empty()) return absl::InvalidArgumentError("missing --job");
  absl::StatusOr<int64_t> count = args.GetInt("count", 1, kMaxCount);
  absl::StatusOr<int64_t> frames = args.GetInt("frames", 0, int64_t{1} << 50);
  absl::StatusOr<int64_t> seed = args.GetInt("seed", 0, int64_t{1} << 62);
  absl::StatusOr<double> every = args.GetDouble("progress-every-s", 0.1, 86400);
  absl::StatusOr<int64_t> retry = args.GetInt("max-retry-s", 0, 1000000000);
  for (const absl::Status& s : {count.status(), frames.status(), seed.status(),
                                every.status(), retry.status()}) {
    if (!s.ok()) return s;
  }
  config.count = static_cast<int>(*count);
  config.frames = *frames;
  config.seed = static_cast<uint64_t>(*seed);
  config.progress_every_s = *every;
  config.max_retry_s = *retry;
  config.name = args.Has("name") ? args.GetString("name") : config.game;
  if (config.name.size() > 190) {
    return absl::InvalidArgumentError("--name must be at most 190 bytes");
  }
  return config;
}

// The runner options shared by every environment of the run.
absl::StatusOr<client::EnvironmentRunnerOptions> RunnerOptions(
    const GlobalOptions& global, const RunConfig& config) {
  client::EnvironmentRunnerOptions options;
  options.target = global.server;
  absl::StatusOr<ClientCredentials> credentials = ReadCredentials(global);
  if (!credentials.ok()) return credentials.status();
  options.token = credentials->token;
  options.credentials = credentials->channel;
  options.job_id = config.job;
  options.max_frames = config.frames;
  options.max_retry_time = std::chrono::seconds(config.max_retry_s);
  options.step_timeout = std::chrono::seconds(global.timeout_s);
  // All environments share one channel (one connection, a stream each).
  options.channel = client::MakeEnvironmentChannel(options);
  return options;
}

// The run's live totals, updated by the runners' callbacks.
struct Progress {
  std::atomic<int64_t> frames{0};
  std::atomic<int64_t> episodes{0};
  std::atomic<int64_t> reconnects{0};
  std::atomic<int> connected{0};
  std::atomic<int> running{0};
  std::mutex mu;  // guards the members below and stderr
  std::deque<double> recent_returns;
  double return_sum = 0.0;
  std::string last_retry_reason;  // since the last progress line
};

double RecentMean(Progress& progress) {
  std::lock_guard<std::mutex> lock(progress.mu);
  if (progress.recent_returns.empty()) return 0.0;
  double sum = 0.0;
  for (const double r : progress.recent_returns) sum += r;
  return sum / progress.recent_returns.size();
}

std::string StatusText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                      status.message());
}

void OnEvent(Progress& progress, int index,
             const client::EnvironmentEvent& event) {
  using Kind = client::EnvironmentEvent::Kind;
  switch (event.kind) {
    case Kind::kStep:
      progress.frames.fetch_add(1, std::memory_order_relaxed);
      break;
    case Kind::kEpisodeEnd: {
      progress.episodes.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard<std::mutex> lock(progress.mu);
      progress.recent_returns.push_back(event.episode_return);
      if (progress.recent_returns.size() > kRecentEpisodes) {
        progress.recent_returns.pop_front();
      }
      progress.return_sum += event.episode_return;
      break;
    }
    case Kind::kOpened:
      ++progress.connected;
      break;
    case Kind::kClosed:
      --progress.connected;
      break;
    case Kind::kRetry: {
      ++progress.reconnects;
      std::lock_guard<std::mutex> lock(progress.mu);
      progress.last_retry_reason = StatusText(event.status);
      break;
    }
    case Kind::kMessageError: {
      std::lock_guard<std::mutex> lock(progress.mu);
      std::cerr << "eprop " << kRun << ": environment " << index
                << ": the server rejected a message: "
                << StatusText(event.status) << "\n";
      break;
    }
  }
}

std::string ProgressText(const RunConfig& config, Progress& progress,
                         int64_t frames, double frames_per_s,
                         double elapsed_s) {
  const int64_t episodes = progress.episodes.load();
  const double recent = RecentMean(progress);
  const int connected = progress.connected.load();
  const int64_t reconnects = progress.reconnects.load();
  if (config.json) {
    return absl::StrFormat(
        "{\"game\":\"%s\",\"frames\":%d,\"frames_per_s\":%.1f,\"episodes\":%d,"
        "\"avg_return_last100\":%.4f,\"connected\":%d,\"environments\":%d,"
        "\"reconnects\":%d,\"elapsed_s\":%.3f,\"final\":false}",
        config.game, frames, frames_per_s, episodes, recent, connected,
        config.count, reconnects, elapsed_s);
  }
  std::string line = absl::StrFormat(
      "frames %10d  %8.0f frames/s  episodes %7d  avg return %7.2f (last "
      "%d)  connected %d/%d  reconnects %d",
      frames, frames_per_s, episodes, recent,
      std::min<int64_t>(episodes, kRecentEpisodes), connected, config.count,
      reconnects);
  std::lock_guard<std::mutex> lock(progress.mu);
  if (!progress.last_retry_reason.empty()) {
    absl::StrAppend(&line, " (last: ", progress.last_retry_reason, ")");
    progress.last_retry_reason.clear();
  }
  return line;
}

double Ms(std::chrono::nanoseconds ns) { return ns.count() / 1e6; }

// Runs the environments and reports; returns the exit code.
int Run(const RunConfig& config,
        const client::EnvironmentRunnerOptions& shared) {
  Progress progress;
  std::vector<client::EnvironmentRunResult> results(config.count);
  std::vector<std::thread> threads;
  const Clock::time_point start = Clock::now();
  if (!config.json) {
    std::cout << absl::StrFormat(
                     "%d %s environment%s for job %s on %s, seeds %d..%d, %s\n",
                     config.count, config.game, config.count == 1 ? "" : "s",
                     config.job, shared.target, config.seed,
                     config.seed + config.count - 1,
                     config.frames > 0
                         ? absl::StrCat(config.frames, " frames each")
                         : std::string("until stopped (Ctrl-C)"))
              << std::flush;
  }
  progress.running = config.count;
  for (int i = 0; i < config.count; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<client::Environment> environment =
          MakeGameEnvironment(config.game, config.seed + i);
      client::EnvironmentRunnerOptions options = shared;
      options.name = absl::StrCat(config.name, "-", i);
      results[i] = client::RunEnvironment(
          options, *environment, &g_stop,
          [&progress, i](const client::EnvironmentEvent& event) {
            OnEvent(progress, i, event);
          });
      const absl::Status& status = results[i].status;
      if (!status.ok() && !results[i].job_ended) {
        std::lock_guard<std::mutex> lock(progress.mu);
        std::cerr << "eprop " << kRun << ": environment " << i << ": "
                  << StatusText(status) << "\n";
      }
      --progress.running;
    });
  }

  const auto every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(config.progress_every_s));
  Clock::time_point last_time = start;
  int64_t last_frames = 0;
  Clock::time_point next = start + every;
  while (progress.running.load() > 0) {
    std::this_thread::sleep_for(std::min<Clock::duration>(
        std::chrono::milliseconds(50),
        std::max<Clock::duration>(next - Clock::now(), Clock::duration(0))));
    const Clock::time_point now = Clock::now();
    if (now < next || progress.running.load() == 0) continue;
    const int64_t frames = progress.frames.load();
    const double dt = std::chrono::duration<double>(now - last_time).count();
    std::cout << ProgressText(
                     config, progress, frames,
                     dt > 0 ? (frames - last_frames) / dt : 0.0,
                     std::chrono::duration<double>(now - start).count())
              << std::endl;
    last_time = now;
    last_frames = frames;
    next = now + every;
  }
  for (std::thread& thread : threads) thread.join();
  const double elapsed_s =
      std::chrono::duration<double>(Clock::now() - start).count();

  // The summary.
  client::LatencyHistogram latency;
  int64_t frames = 0, episodes = 0, reconnects = 0;
  double return_sum = 0.0;
  int errors = 0;
  std::string job_end, first_error;
  for (const client::EnvironmentRunResult& r : results) {
    frames += r.stats.frames;
    episodes += r.stats.episodes;
    return_sum += r.stats.return_sum;
    reconnects += r.stats.reconnects;
    latency.Merge(r.stats.latency);
    if (r.job_ended && job_end.empty()) {
      job_end = r.status.ok() ? "the job completed" : StatusText(r.status);
    }
    if (!r.status.ok() && !r.job_ended && errors++ == 0) {
      first_error = StatusText(r.status);
    }
  }
  const bool interrupted = g_stop.load();
  const char* end = errors > 0         ? "error"
                    : !job_end.empty() ? "job_ended"
                    : interrupted      ? "interrupted"
                                       : "frames";
  const double mean_return = episodes > 0 ? return_sum / episodes : 0.0;
  const double frames_per_s = elapsed_s > 0 ? frames / elapsed_s : 0.0;
  if (config.json) {
    std::cout << absl::StrFormat(
                     "{\"game\":\"%s\",\"frames\":%d,\"frames_per_s\":%.1f,"
                     "\"episodes\":%d,\"avg_return\":%.4f,"
                     "\"avg_return_last100\":%.4f,\"environments\":%d,"
                     "\"reconnects\":%d,\"errors\":%d,\"elapsed_s\":%.3f,"
                     "\"latency_ms\":{\"mean\":%.4f,\"p50\":%.4f,\"p90\":%.4f,"
                     "\"p99\":%.4f,\"max\":%.4f},\"end\":\"%s\",\"reason\":%s,"
                     "\"final\":true}",
                     config.game, frames, frames_per_s, episodes, mean_return,
                     RecentMean(progress), config.count, reconnects, errors,
                     elapsed_s, Ms(latency.mean()), Ms(latency.Quantile(0.5)),
                     Ms(latency.Quantile(0.9)), Ms(latency.Quantile(0.99)),
                     Ms(latency.max()), end,
                     JsonQuote(errors > 0 ? first_error : job_end))
              << std::endl;
  } else {
    const char* how = errors > 0         ? "failed"
                      : !job_end.empty() ? "job ended"
                      : interrupted      ? "interrupted"
                                         : "finished";
    std::cout << absl::StrFormat(
        "%s after %d frames (%d episodes) in %.1f s: %.0f frames/s, average "
        "return %.2f (last %d: %.2f), reconnects %d\n",
        how, frames, episodes, elapsed_s, frames_per_s, mean_return,
        std::min<int64_t>(episodes, kRecentEpisodes), RecentMean(progress),
        reconnects);
    if (latency.count() > 0) {
      std::cout << absl::StrFormat(
          "step round trip: mean %.3f ms, p50 %.3f ms, p90 %.3f ms, p99 %.3f "
          "ms, max %.3f ms\n",
          Ms(latency.mean()), Ms(latency.Quantile(0.5)),
          Ms(latency.Quantile(0.9)), Ms(latency.Quantile(0.99)),
          Ms(latency.max()));
    }
    if (!job_end.empty()) std::cout << "the job ended: " << job_end << "\n";
    std::cout << std::flush;
  }
  if (errors > 0) {
    std::cerr << "eprop " << kRun << ": " << errors << " of " << config.count
              << " environments failed\n";
    return kExitFailure;
  }
  if (job_end.empty() && interrupted) return 130;
  return kExitOk;
}

int RunRun(const GlobalOptions& global, const std::vector<std::string>& argv) {
  CommandSpec spec;
  spec.name = kRun;
  spec.usage = RunUsage();
  spec.flags = RunFlags();
  const ParsedCommand parsed = ParseCommand(spec, global, argv);
  if (!parsed.args.has_value()) return parsed.exit_code;
  absl::StatusOr<RunConfig> config = ParseRunConfig(*parsed.args, parsed.json);
  if (!config.ok()) {
    return UsageError(kRun, std::string(config.status().message()));
  }
  absl::StatusOr<client::EnvironmentRunnerOptions> options =
      RunnerOptions(global, *config);
  if (!options.ok()) return Failure(kRun, options.status());
  g_stop = false;
  std::signal(SIGINT, OnStop);
  std::signal(SIGTERM, OnStop);
  const int code = Run(*config, *options);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  return code;
}

}  // namespace

v1::ObservationSpec BreakoutEnvironment::spec() const {
  v1::ObservationSpec spec;
  spec.set_kind(v1::OBSERVATION_KIND_SPIKES);
  spec.add_shape(env::Breakout::kGridSize);
  spec.add_shape(env::Breakout::kGridSize);
  spec.add_shape(env::Breakout::kNumChannels);
  return spec;
}

void BreakoutEnvironment::Observe(client::Observation* observation) {
  game_.Observe(values_.data());
  client::PackBitsInto(values_.data(), values_.size(), &observation->bytes);
}

void BreakoutEnvironment::Reset(client::Observation* observation) {
  game_.Reset();
  Observe(observation);
}

client::StepResult BreakoutEnvironment::Step(int action,
                                             client::Observation* observation) {
  const env::Breakout::StepResult r = game_.Step(action);
  // After the episode's end the runner resets the game first.
  if (!r.terminated && !r.truncated) Observe(observation);
  return {r.reward, r.terminated, r.truncated};
}

v1::ObservationSpec PongEnvironment::spec() const {
  v1::ObservationSpec spec;
  spec.set_kind(v1::OBSERVATION_KIND_RGB_FRAME);
  spec.add_shape(env::Pong::kHeight);
  spec.add_shape(env::Pong::kWidth);
  spec.add_shape(env::Pong::kChannels);
  return spec;
}

void PongEnvironment::Observe(client::Observation* observation) const {
  const std::vector<uint8_t>& frame = game_.frame();
  observation->bytes.assign(reinterpret_cast<const char*>(frame.data()),
                            frame.size());
}

void PongEnvironment::Reset(client::Observation* observation) {
  game_.Reset();
  Observe(observation);
}

client::StepResult PongEnvironment::Step(int action,
                                         client::Observation* observation) {
  const env::Pong::StepResult r = game_.Step(action);
  if (!r.terminated && !r.truncated) Observe(observation);
  return {r.reward, r.terminated, r.truncated};
}

std::unique_ptr<client::Environment> MakeGameEnvironment(
    const std::string& game, uint64_t seed) {
  if (game == "breakout") return std::make_unique<BreakoutEnvironment>(seed);
  if (game == "pong") return std::make_unique<PongEnvironment>(seed);
  return nullptr;
}

std::string EnvCommandSummary() {
  return absl::StrFormat("  %-12s %s\n", "env",
                         "run game environments for an RL job (env run)");
}

int RunEnvCommand(const GlobalOptions& options,
                  const std::vector<std::string>& argv) {
  if (argv.empty()) {
    std::cerr << EnvUsage();
    return kExitUsage;
  }
  const std::string& sub = argv[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::cout << EnvUsage();
    return kExitOk;
  }
  if (sub == "run") {
    return RunRun(options,
                  std::vector<std::string>(argv.begin() + 1, argv.end()));
  }
  return UsageError("env", absl::StrCat("unknown subcommand '", sub, "'"));
}

}  // namespace eprop::cli
