#include "client/cli/rl_train_command.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/metrics_format.h"
#include "core/plot/svg.h"
#include "core/rl/breakout_training.h"
#include "core/train/checkpoint.h"
#include "core/util/file_io.h"
#include "core/util/parallel.h"

namespace eprop::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted = true; }

constexpr char kBreakout[] = "breakout";

int UsageError(const std::string& message) {
  std::cerr << "eprop train: " << message << " (see eprop train --help)\n";
  return 2;
}

struct RlRun {
  BreakoutTrainingOptions options;
  std::string out;
  bool json = false;
};

absl::StatusOr<RlRun> ParseRlArgs(const Args& args) {
  if (!args.Has("local")) {
    return absl::InvalidArgumentError(
        "train runs in this process and needs --local; use eprop submit to "
        "train on eprop-server");
  }
  absl::StatusOr<int64_t> frames = args.GetInt("frames", 1, 1000000000000);
  absl::StatusOr<int64_t> envs = args.GetInt("envs", 1, 100000);
  absl::StatusOr<int64_t> every =
      args.GetInt("report-every-frames", 1, 1000000000000);
  absl::StatusOr<int64_t> seed = args.GetInt("seed", 0, INT64_MAX / 1000);
  absl::StatusOr<int64_t> threads = args.GetInt("threads", 1, 256);
  for (const absl::Status& s : {frames.status(), envs.status(), every.status(),
                                seed.status(), threads.status()}) {
    if (!s.ok()) return s;
  }
  RlRun run;
  BreakoutTrainingOptions& o = run.options;
  o.frames = *frames;
  o.num_envs = static_cast<int>(*envs);
  o.report_every_frames = *every;
  // As tests/bench/breakout_training_bench.cc: the agent uses the seed, game
  // i the seed * 1000 + i.
  o.env_seed = static_cast<uint64_t>(*seed) * 1000;
  o.agent.seed = static_cast<uint64_t>(*seed);
  o.agent.threads = static_cast<int>(*threads);
  absl::StatusOr<std::string> output =
      args.GetChoice("output", {"table", "json"});
  if (!output.ok()) return output.status();
  run.json = *output == "json";
  run.out = args.GetString("out");
  if (run.out.empty()) {
    run.out = absl::StrCat("eprop-runs/", kBreakout, "_seed", *seed);
  }
  return run;
}

std::string ReportJson(const BreakoutTrainingMetrics& m, bool cancelled) {
  std::string out = absl::StrCat("{\"task\":\"", kBreakout, "\",",
                                 RlMetricsJsonFields(ToRlMetrics(m)), ",");
  if (m.final) {
    absl::StrAppend(&out, "\"cancelled\":", cancelled ? "true" : "false", ",");
  }
  absl::StrAppend(&out, "\"final\":", m.final ? "true" : "false", "}");
  return out;
}

std::string ReportCsvHeader() {
  return absl::StrCat(RlCsvColumns(), ",final\n");
}

std::string ReportCsvRow(const BreakoutTrainingMetrics& m) {
  return absl::StrCat(RlCsvValues(ToRlMetrics(m)), ",", m.final ? 1 : 0, "\n");
}

std::string ReportProgressLine(const BreakoutTrainingMetrics& m,
                               int64_t frames) {
  return RlProgressLine(ToRlMetrics(m), frames);
}

// Average return of the last 100 episodes over frames (in millions).
std::string LearningCurveSvg(const std::vector<BreakoutTrainingMetrics>& ms,
                             const std::string& title) {
  plot::SvgDocument doc(640, 360);
  plot::TextStyle title_style;
  title_style.size = 14;
  title_style.anchor = plot::Anchor::kMiddle;
  title_style.bold = true;
  title_style.css_class = "figure-title";
  doc.Text(320, 22, title, title_style);
  std::vector<double> xs, ys;
  for (const BreakoutTrainingMetrics& m : ms) {
    xs.push_back(m.frames / 1e6);
    ys.push_back(m.avg_return_last100);
  }
  const plot::Interval xr = plot::FiniteRange(xs);
  const plot::Interval yr = plot::FiniteRange(ys);
  plot::Panel panel(&doc, {70, 50, 540, 250},
                    plot::NiceInterval(std::min(0.0, xr.lo), xr.hi, 8),
                    plot::NiceInterval(std::min(0.0, yr.lo), yr.hi));
  panel.Title("average return of the last 100 episodes");
  panel.YGrid();
  panel.XAxis("frames (millions)", true);
  panel.YAxis("return");
  if (xs.empty()) {
    panel.Message("no data");
  } else {
    plot::Stroke stroke;
    stroke.colour = plot::PaletteColour(0);
    stroke.width = 1.5;
    panel.Series(xs, ys, stroke);
  }
  return doc.ToString();
}

}  // namespace

bool IsRlTask(const std::string& task) { return task == kBreakout; }

const std::vector<FlagSpec>& RlTrainFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"frames", false,
       "frame budget, all games together (a frame is one game step)",
       "5000000"},
      {"envs", false, "games stepped in lockstep (one decision = N frames)",
       "32"},
      {"report-every-frames", false,
       "frames between progress reports and metrics rows", "100000"},
  };
  return *flags;
}

std::string RlTrainUsage() {
  return "\n--task breakout trains an actor-critic spiking network with\n"
         "reward-based e-prop on MinAtar Breakout (AgentConfig's defaults;\n"
         "random play averages a return of about 0.4, trained agents reach\n"
         "about 5 within 5 million frames). It takes --seed (agent seed; game\n"
         "i uses seed * 1000 + i), --threads, --output and --out (default:\n"
         "eprop-runs/breakout_seedN) and the flags below, not the supervised\n"
         "flags (--algorithm, --batch, --max-iterations, ...). Progress every\n"
         "--report-every-frames frames: updates, frames, episodes, average\n"
         "return of the last 100 episodes, loss, entropy, firing rate,\n"
         "frames/s. Writes into --out metrics.csv and metrics.jsonl (one\n"
         "row per report), learning_curve.svg (average return over frames)\n"
         "and checkpoint.eprop (the final agent). Ctrl-C stops the run and\n"
         "saves its state; the exit code is then 130.\n\n"
         "Breakout flags:\n";
}

int RunRlTrainCommand(const Args& args) {
  absl::StatusOr<RlRun> run = ParseRlArgs(args);
  if (!run.ok()) return UsageError(std::string(run.status().message()));
  if (absl::Status s = run->options.Validate(); !s.ok()) {
    return UsageError(std::string(s.message()));
  }
  std::error_code error;
  std::filesystem::create_directories(run->out, error);
  std::ofstream csv(run->out + "/metrics.csv");
  std::ofstream jsonl(run->out + "/metrics.jsonl");
  if (error || !csv || !jsonl) {
    std::cerr << "eprop train: cannot write to output folder '" << run->out
              << "'" << (error ? ": " + error.message() : "") << "\n";
    return 1;
  }
  csv << ReportCsvHeader();

  const BreakoutTrainingOptions& o = run->options;
  const bool json = run->json;
  const bool live = !json && isatty(STDOUT_FILENO);
  if (!json) {
    const NetworkConfig n = AgentConfig::DefaultNetwork();
    std::cout << absl::StrFormat(
        "%s with reward-based e-prop: %d LIF + %d ALIF neurons, %d games, "
        "seed %d, %d frames, output in %s\n",
        kBreakout, n.n_lif, n.n_alif, o.num_envs, o.agent.seed, o.frames,
        run->out);
  }
  std::vector<BreakoutTrainingMetrics> history;
  FlushDenormalsScope flush;
  g_interrupted = false;
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  TrainingCheckpoint state;
  const absl::StatusOr<BreakoutTrainingMetrics> result = TrainBreakout(
      o,
      [&](const BreakoutTrainingMetrics& m) {
        history.push_back(m);
        const bool cancelled = m.final && m.frames < o.frames;
        csv << ReportCsvRow(m) << std::flush;
        jsonl << ReportJson(m, cancelled) << "\n" << std::flush;
        if (m.final) return;  // printed after the files are written
        if (json) {
          std::cout << ReportJson(m, false) << std::endl;
        } else {
          std::cout << (live ? "\r" : "") << ReportProgressLine(m, o.frames)
                    << (live ? "" : "\n") << std::flush;
        }
      },
      &g_interrupted, &state);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!result.ok()) {
    std::cerr << (live ? "\n" : "")
              << "eprop train: " << result.status().message() << "\n";
    return 1;
  }
  const BreakoutTrainingMetrics& last = *result;
  const bool cancelled = last.frames < o.frames;

  bool files_ok = true;
  if (absl::Status s = WriteCheckpoint(run->out + "/checkpoint.eprop", state);
      !s.ok()) {
    std::cerr << (live ? "\n" : "") << "eprop train: " << s.message() << "\n";
    files_ok = false;
  }
  if (absl::Status s = WriteFileAtomically(
          run->out + "/learning_curve.svg",
          LearningCurveSvg(
              history, absl::StrCat(kBreakout, ", reward-based e-prop, seed ",
                                    o.agent.seed)));
      !s.ok()) {
    std::cerr << (live ? "\n" : "") << "eprop train: " << s.message() << "\n";
    files_ok = false;
  }

  if (json) {
    std::cout << ReportJson(last, cancelled) << std::endl;
  } else {
    std::cout << (live ? "\r" + ReportProgressLine(last, o.frames) + "\n" : "")
              << absl::StrFormat(
                     "%s after %d frames (%d episodes) in %.1f s: average "
                     "return of the last 100 episodes %.2f\n",
                     cancelled ? "interrupted" : "finished", last.frames,
                     last.episodes, last.elapsed_s, last.avg_return_last100);
  }
  if (cancelled) return 130;
  return files_ok ? 0 : 1;
}

}  // namespace eprop::cli
