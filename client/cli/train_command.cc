#include "client/cli/train_command.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/args.h"
#include "client/cli/metrics_format.h"
#include "client/cli/plots.h"
#include "client/cli/rl_train_command.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"

namespace eprop::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted = true; }

const std::vector<FlagSpec>& TrainFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"local", true,
       "train in this process (required; eprop submit trains on eprop-server)",
       ""},
      {"task", false,
       "evidence_accumulation, pattern_generation or breakout (reward-based "
       "e-prop, see below)",
       ""},
      {"algorithm", false,
       "bptt, eprop_symmetric, eprop_random or eprop_adaptive", "eprop_random"},
      {"seed", false, "seed of weights, feedback and data", "1"},
      {"max-iterations", false, "training iterations at most", "2000"},
      {"batch", false, "batch size (0: the task's default: 64 or 1)", "0"},
      {"validate-every", false, "iterations between validations", "10"},
      {"stop-criterion", false,
       "stop when the validation error (or nmse) is below this; -1: task "
       "default (7 % error for evidence accumulation, none for pattern "
       "generation), 0: never",
       "-1"},
      {"lr-decay-every", false,
       "multiply the learning rate by --lr-decay every N iterations (0: "
       "constant)",
       "0"},
      {"lr-decay", false, "learning-rate decay factor", "1"},
      {"threads", false, "worker threads", "2"},
      {"checkpoint-every", false,
       "write OUT/checkpoint.eprop every N iterations (0: only at the end)",
       "100"},
      {"resume", false,
       "continue the run saved in this checkpoint (same task, algorithm, seed, "
       "batch and schedule)",
       ""},
      {"out", false, "output folder (default: eprop-runs/TASK_ALGORITHM_seedN)",
       ""},
      {"output", false, "table (live progress) or json (JSON lines)", "table"},
      {"help", true, "show this help", ""},
  };
  return *flags;
}

constexpr char kTrainUsage[] =
    "usage: eprop train --local --task=TASK [flags]\n\n"
    "Trains a spiking network on a task of the paper in this process and\n"
    "shows live progress (iteration, loss, error, firing rate, ms/iter, ETA).\n"
    "Writes into --out: metrics.csv and metrics.jsonl (one row per\n"
    "validation) and checkpoint.eprop (weights, feedback, optimizer and RNG\n"
    "state, metrics; rewritten every --checkpoint-every iterations and at\n"
    "the end), and the plots learning_curves.svg and trial.svg (one trial of\n"
    "the final network: rasters, thresholds, readout, learning signals,\n"
    "eligibility traces). Ctrl-C stops the run cleanly at an iteration "
    "boundary and\n"
    "saves a checkpoint that --resume continues exactly.\n\n";

// Every flag train takes: the table above and the --task breakout ones.
const std::vector<FlagSpec>& AllTrainFlags() {
  static const auto* flags = [] {
    auto* all = new std::vector<FlagSpec>(TrainFlags());
    all->insert(all->end(), RlTrainFlags().begin(), RlTrainFlags().end());
    return all;
  }();
  return *flags;
}

// The flags of TrainFlags() that --task breakout also takes.
bool IsSharedFlag(const std::string& name) {
  for (const char* shared :
       {"local", "task", "seed", "threads", "out", "output", "help"}) {
    if (name == shared) return true;
  }
  return false;
}

// A flag set on the command line that the task does not take, as a usage
// error message; empty if there is none.
std::string FlagNotForTask(const Args& args, const std::string& task, bool rl) {
  for (const FlagSpec& f : rl ? TrainFlags() : RlTrainFlags()) {
    if (args.Has(f.name) && !IsSharedFlag(f.name)) {
      return rl ? absl::StrCat("--", f.name, " does not apply to --task ", task)
                : absl::StrCat("--", f.name,
                               " applies only to --task breakout");
    }
  }
  return "";
}

int UsageError(const std::string& message) {
  std::cerr << "eprop train: " << message << " (see eprop train --help)\n";
  return 2;
}

struct ParsedTrainArgs {
  std::string task;
  TrainerConfig config;
  std::string out;
  std::string resume;
  bool json = false;
};

absl::StatusOr<ParsedTrainArgs> ParseTrainArgs(const Args& args) {
  ParsedTrainArgs p;
  if (!args.Has("local")) {
    return absl::InvalidArgumentError(
        "train runs in this process and needs --local; use eprop submit to "
        "train on eprop-server");
  }
  p.task = args.GetString("task");
  if (p.task.empty()) return absl::InvalidArgumentError("--task is required");
  absl::StatusOr<Algorithm> algorithm =
      ParseAlgorithm(args.GetString("algorithm"));
  if (!algorithm.ok()) return algorithm.status();
  p.config.algorithm = *algorithm;
  absl::StatusOr<int64_t> seed = args.GetInt("seed", 0, INT64_MAX);
  absl::StatusOr<int64_t> iterations =
      args.GetInt("max-iterations", 0, 100000000);
  absl::StatusOr<int64_t> batch = args.GetInt("batch", 0, 100000);
  absl::StatusOr<int64_t> every = args.GetInt("validate-every", 1, 100000000);
  absl::StatusOr<double> stop = args.GetDouble("stop-criterion", -1, 1e6);
  absl::StatusOr<int64_t> decay_every =
      args.GetInt("lr-decay-every", 0, 100000000);
  absl::StatusOr<double> decay = args.GetDouble("lr-decay", 1e-9, 1);
  absl::StatusOr<int64_t> threads = args.GetInt("threads", 1, 256);
  absl::StatusOr<int64_t> checkpoint_every =
      args.GetInt("checkpoint-every", 0, 100000000);
  for (const absl::Status& s :
       {seed.status(), iterations.status(), batch.status(), every.status(),
        stop.status(), decay_every.status(), decay.status(), threads.status(),
        checkpoint_every.status()}) {
    if (!s.ok()) return s;
  }
  p.config.checkpoint_every = *checkpoint_every;
  p.resume = args.GetString("resume");
  p.config.seed = static_cast<uint64_t>(*seed);
  p.config.max_iterations = *iterations;
  p.config.batch = static_cast<int>(*batch);
  p.config.validate_every = static_cast<int>(*every);
  p.config.stop_criterion = *stop;
  p.config.lr_decay_every = *decay_every;
  p.config.lr_decay = *decay;
  p.config.threads = static_cast<int>(*threads);
  absl::StatusOr<std::string> output =
      args.GetChoice("output", {"table", "json"});
  if (!output.ok()) return output.status();
  p.json = *output == "json";
  p.out = args.GetString("out");
  if (p.out.empty()) {
    p.out =
        absl::StrCat("eprop-runs/", p.task, "_",
                     AlgorithmName(p.config.algorithm), "_seed", p.config.seed);
  }
  return p;
}

}  // namespace

int RunTrainCommand(const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = Args::Parse(argv, AllTrainFlags());
  if (!args.ok()) return UsageError(std::string(args.status().message()));
  if (args->Has("help")) {
    std::cout << kTrainUsage << FlagHelp(TrainFlags()) << RlTrainUsage()
              << FlagHelp(RlTrainFlags());
    return 0;
  }
  if (!args->positional().empty()) {
    return UsageError("unexpected argument '" + args->positional()[0] + "'");
  }
  const std::string task = args->GetString("task");
  const bool rl = IsRlTask(task);
  if (const std::string wrong = FlagNotForTask(*args, task, rl);
      !wrong.empty()) {
    return UsageError(wrong);
  }
  if (rl) return RunRlTrainCommand(*args);
  absl::StatusOr<ParsedTrainArgs> parsed = ParseTrainArgs(*args);
  if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(parsed->task, parsed->config);
  if (!trainer.ok()) {
    if (trainer.status().code() != absl::StatusCode::kInvalidArgument) {
      std::cerr << "eprop train: " << trainer.status().message() << "\n";
      return 1;
    }
    return UsageError(std::string(trainer.status().message()));
  }

  if (!parsed->resume.empty()) {
    absl::StatusOr<TrainingCheckpoint> checkpoint =
        ReadCheckpoint(parsed->resume);
    absl::Status restored = checkpoint.ok()
                                ? (*trainer)->RestoreState(*checkpoint)
                                : checkpoint.status();
    if (!restored.ok()) {
      std::cerr << "eprop train: cannot resume from " << parsed->resume << ": "
                << restored.message() << "\n";
      return 1;
    }
  }
  std::error_code error;
  std::filesystem::create_directories(parsed->out, error);
  std::ofstream csv(parsed->out + "/metrics.csv");
  std::ofstream jsonl(parsed->out + "/metrics.jsonl");
  if (error || !csv || !jsonl) {
    std::cerr << "eprop train: cannot write to output folder '" << parsed->out
              << "'" << (error ? ": " + error.message() : "") << "\n";
    return 1;
  }
  csv << CsvHeader();
  for (const IterationMetrics& m : (*trainer)->history()) {  // when resuming
    csv << CsvRow(m);
    jsonl << MetricsJson(m) << "\n";
  }
  const std::string checkpoint_path = parsed->out + "/checkpoint.eprop";
  auto save = [&](const TrainingCheckpoint& checkpoint) {
    if (absl::Status s = WriteCheckpoint(checkpoint_path, checkpoint);
        !s.ok()) {
      std::cerr << "\neprop train: " << s.message() << "\n";
    }
  };

  const bool json = parsed->json;
  const bool live = !json && isatty(STDOUT_FILENO);
  const TrainerConfig& config = (*trainer)->config();
  if (!json) {
    const NetworkConfig& n = (*trainer)->network();
    std::cout << absl::StrFormat(
        "%s with %s: %d LIF + %d ALIF neurons, seed %d, up to %d "
        "iterations, output in %s\n",
        parsed->task, AlgorithmName(config.algorithm), n.n_lif, n.n_alif,
        config.seed, config.max_iterations, parsed->out);
  }
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  const TrainResult result = (*trainer)->Run(
      [&](const IterationMetrics& m) {
        csv << CsvRow(m) << std::flush;
        jsonl << MetricsJson(m) << "\n" << std::flush;
        if (json) {
          std::cout << MetricsJson(m) << std::endl;
        } else {
          std::cout << (live ? "\r" : "")
                    << ProgressLine(m, config.max_iterations)
                    << (live ? "" : "\n") << std::flush;
        }
      },
      &g_interrupted, save);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  save((*trainer)->SaveState());
  if (absl::Status s =
          WritePlots(**trainer, (*trainer)->history(), parsed->out);
      !s.ok()) {
    std::cerr << "eprop train: " << s.message() << "\n";
  }

  const IterationMetrics& last = result.last;
  const bool classification = IsClassification(last);
  if (json) {
    std::cout << absl::StrFormat(
                     "{\"final\":true,\"iterations\":%d,\"reached_criterion\":"
                     "%s,\"cancelled\":%s,\"%s\":%.6g,\"wall_s\":%.3f}",
                     result.iterations,
                     result.reached_criterion ? "true" : "false",
                     result.cancelled ? "true" : "false",
                     classification ? "error" : "nmse",
                     classification ? last.error : last.nmse, result.wall_s)
              << std::endl;
  } else {
    std::cout << (live ? "\n" : "")
              << absl::StrFormat(
                     "%s after %d iterations in %.1f s: %s %.4g%s\n",
                     result.cancelled ? "interrupted" : "finished",
                     result.iterations, result.wall_s,
                     classification ? "validation error" : "normalised MSE",
                     classification ? last.error : last.nmse,
                     result.reached_criterion ? " (stop criterion reached)"
                                              : "");
  }
  return result.cancelled ? 130 : 0;
}

}  // namespace eprop::cli
