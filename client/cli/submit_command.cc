#include "client/cli/submit_command.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "client/cli/command_line.h"
#include "client/cli/follow.h"
#include "client/cli/metrics_format.h"
#include "core/train/trainer.h"
#include "core/util/file_io.h"
#include "server/job_spec.h"

namespace eprop::cli {
namespace {

constexpr char kSubmitUsage[] =
    "usage: eprop submit --task=TASK [flags]\n"
    "       eprop submit --job-file=SPEC.json|SPEC.txtpb [flags]\n\n"
    "Queues a training job on eprop-server and prints its id. TASK is\n"
    "evidence_accumulation or pattern_generation (supervised, with the task\n"
    "flags of `eprop train --local`), or breakout or remote_environment\n"
    "(reward-based e-prop: an actor-critic network learns from environments,\n"
    "the server's own Breakout games or, with --source remote, environment\n"
    "processes that connect to the job; remote_environment needs\n"
    "--observation and --num-actions). Flags marked (supervised) or (RL)\n"
    "apply only to those tasks. A flag that is not given leaves the field\n"
    "unset, so the server's default applies (the paper's constants).\n"
    "--job-file reads a JobSpec (proto/eprop/v1/jobs.proto) as JSON (.json)\n"
    "or text proto (.txtpb, .textproto, .pbtxt); flags override its fields.\n"
    "--wait blocks until the job ends and prints a summary; --follow also\n"
    "shows live progress (iteration, loss, error or nmse, rate, ms/iter,\n"
    "ETA; RL: updates, frames, episodes, average return of the last 100\n"
    "episodes, loss, entropy, rate, connected environments, frames/s, ETA).\n"
    "With either, the exit code is 0 if the job succeeded and 1 if it\n"
    "failed or was cancelled; Ctrl-C stops following, not the job.\n";

// The flags every task takes.
const std::vector<FlagSpec>& CommonFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"task", false,
       "evidence_accumulation, pattern_generation, breakout or "
       "remote_environment",
       ""},
      {"algorithm", false,
       "bptt, eprop_symmetric, eprop_random or eprop_adaptive (default: the "
       "server's; RL tasks take no bptt)",
       ""},
      {"seed", false, "seed of weights, feedback and data (default 1)", ""},
      {"threads", false, "worker threads of the job (default: the server's)",
       ""},
      {"learning-rate", false, "optimizer learning rate (default: the task's)",
       ""},
      {"n-lif", false, "LIF neurons (default: the task's)", ""},
      {"n-alif", false, "ALIF neurons (default: the task's)", ""},
      {"name", false, "display name shown by eprop list", ""},
      {"job-file", false, "JobSpec file (.json, .txtpb, .textproto, .pbtxt)",
       ""},
      {"wait", true, "wait for the job to end and print a summary", ""},
      {"follow", true, "show live progress until the job ends", ""},
  };
  return *flags;
}

// The flags of the supervised tasks only.
const std::vector<FlagSpec>& SupervisedFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"max-iterations", false,
       "(supervised) training iterations at most (default 2000)", ""},
      {"batch", false, "(supervised) batch size (default: the task's, 64 or 1)",
       ""},
      {"validate-every", false,
       "(supervised) iterations between validations (default 10)", ""},
      {"stop-criterion", false,
       "(supervised) stop when the validation error (or nmse) is below this; "
       "0: never (default: the task's)",
       ""},
      {"lr-decay-every", false,
       "(supervised) multiply the learning rate by --lr-decay every N "
       "iterations",
       ""},
      {"lr-decay", false, "(supervised) learning-rate decay factor in (0, 1]",
       ""},
      {"checkpoint-every", false,
       "(supervised) iterations between checkpoints (default 50)", ""},
      {"online-eprop", true,
       "(supervised) e-prop gradients from forward traces, as streaming "
       "sessions compute them (slower; bit-identical to a session fed the "
       "same batches)",
       ""},
      {"plots-dir", false,
       "(supervised) with --wait or --follow: write the job's plots into this "
       "folder",
       ""},
  };
  return *flags;
}

// The flags of the reinforcement-learning tasks only.
const std::vector<FlagSpec>& RlFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"source", false,
       "(RL) builtin (the server's own games; breakout's default) or remote "
       "(environment processes connect; remote_environment's default)",
       ""},
      {"frames", false,
       "(RL) frame budget, all environments together (a frame is one "
       "environment step; default 5000000)",
       ""},
      {"envs", false,
       "(RL) built-in games, or remote environments connected at most at once "
       "(default 32)",
       ""},
      {"max-queueing-delay-ms", false,
       "(RL) remote: a step waits at most this long for the other "
       "environments of its batch (default 20)",
       ""},
      {"report-every-frames", false,
       "(RL) frames between metrics reports and checkpoints (default 100000)",
       ""},
      {"observation", false,
       "(RL) KIND:SHAPE of the observations, KIND features, spikes or rgb, "
       "SHAPE dimensions joined by x (features:8, spikes:10x10x4, "
       "rgb:84x84x3); required for remote_environment",
       ""},
      {"num-actions", false,
       "(RL) actions of the environment; required for remote_environment "
       "(breakout: 3)",
       ""},
      {"steps-per-action", false,
       "(RL) network steps per action (default: the agent's)", ""},
      {"unroll", false,
       "(RL) decisions per weight update (default: the agent's)", ""},
      {"discount", false,
       "(RL) discount of the returns in [0, 1] (default: the agent's)", ""},
      {"entropy-cost", false,
       "(RL) weight of the policy-entropy bonus (default: the agent's)", ""},
      {"value-cost", false,
       "(RL) weight of the value loss (default: the agent's)", ""},
      {"frame-skip", false,
       "(RL, rgb) raw frames per decision, the action repeated (default 4)",
       ""},
      {"noop-max", false,
       "(RL, rgb) episodes start with 1 to N no-op frames; 0: none "
       "(default 30)",
       ""},
      {"sticky-actions", false,
       "(RL, rgb) probability that a raw frame repeats the previous action "
       "(default 0.25)",
       ""},
      {"screen-size", false,
       "(RL, rgb) side of the square grayscale observation (default 84)", ""},
      {"no-reward-clipping", true,
       "(RL, rgb) learn from raw rewards, not their sign", ""},
  };
  return *flags;
}

// An integer flag and the spec field it sets.
struct IntFlag {
  const char* name;
  int64_t lo;
  int64_t hi;
  void (*set)(v1::JobSpec*, int64_t);
};

// A floating-point flag and the spec field it sets.
struct DoubleFlag {
  const char* name;
  void (*set)(v1::JobSpec*, double);
};

// Ranges are those of the field types; the server checks the values
// (the CLI does not duplicate its limits).
const IntFlag kIntFlags[] = {
    {"seed", 0, INT64_MAX,
     [](v1::JobSpec* s, int64_t v) { s->set_seed(static_cast<uint64_t>(v)); }},
    {"max-iterations", INT64_MIN, INT64_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_schedule()->set_max_iterations(v);
     }},
    {"batch", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_schedule()->set_batch_size(static_cast<int32_t>(v));
     }},
    {"validate-every", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_schedule()->set_validate_every_iterations(
           static_cast<int32_t>(v));
     }},
    {"lr-decay-every", INT64_MIN, INT64_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_schedule()->set_lr_decay_every_iterations(v);
     }},
    {"checkpoint-every", INT64_MIN, INT64_MAX,
     [](v1::JobSpec* s, int64_t v) { s->set_checkpoint_every_iterations(v); }},
    {"threads", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->set_threads(static_cast<int32_t>(v));
     }},
    {"n-lif", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_network()->set_n_lif(static_cast<int32_t>(v));
     }},
    {"n-alif", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_network()->set_n_alif(static_cast<int32_t>(v));
     }},
    {"frames", INT64_MIN, INT64_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_max_frames(v);
     }},
    {"envs", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_num_envs(static_cast<int32_t>(v));
     }},
    {"max-queueing-delay-ms", INT64_MIN, INT64_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_max_queueing_delay_ms(v);
     }},
    {"report-every-frames", INT64_MIN, INT64_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_report_every_frames(v);
     }},
    {"num-actions", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_num_actions(static_cast<int32_t>(v));
     }},
    {"steps-per-action", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_steps_per_action(
           static_cast<int32_t>(v));
     }},
    {"unroll", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_unroll_decisions(
           static_cast<int32_t>(v));
     }},
    {"frame-skip", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_frame_skip(static_cast<int32_t>(v));
     }},
    {"noop-max", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_noop_max(static_cast<int32_t>(v));
     }},
    {"screen-size", INT32_MIN, INT32_MAX,
     [](v1::JobSpec* s, int64_t v) {
       s->mutable_reinforcement()->set_screen_size(static_cast<int32_t>(v));
     }},
};

const DoubleFlag kDoubleFlags[] = {
    {"stop-criterion",
     [](v1::JobSpec* s, double v) { s->set_stop_criterion(v); }},
    {"lr-decay",
     [](v1::JobSpec* s, double v) {
       s->mutable_schedule()->set_lr_decay_factor(v);
     }},
    {"learning-rate",
     [](v1::JobSpec* s, double v) {
       s->mutable_optimizer()->set_learning_rate(v);
     }},
    {"discount", [](v1::JobSpec* s,
                    double v) { s->mutable_reinforcement()->set_discount(v); }},
    {"entropy-cost",
     [](v1::JobSpec* s, double v) {
       s->mutable_reinforcement()->set_entropy_cost(v);
     }},
    {"value-cost",
     [](v1::JobSpec* s, double v) {
       s->mutable_reinforcement()->set_value_cost(v);
     }},
    {"sticky-actions",
     [](v1::JobSpec* s, double v) {
       s->mutable_reinforcement()->set_sticky_action_probability(v);
     }},
};

// Collects the first error of a text-proto parse.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (message_.empty()) {
      message_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ",
                              message);
    }
  }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

absl::StatusOr<v1::JobSpec> ReadJobFile(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  const bool json = ext == ".json";
  if (!json && ext != ".txtpb" && ext != ".textproto" && ext != ".pbtxt") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--job-file ", path,
        ": unknown extension (use .json, .txtpb, .textproto or .pbtxt)"));
  }
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("--job-file: ", text.status().message()));
  }
  v1::JobSpec spec;
  if (json) {
    const auto status =
        google::protobuf::util::JsonStringToMessage(*text, &spec);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--job-file ", path,
          ": not a JobSpec in JSON: ", std::string(status.message())));
    }
    return spec;
  }
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(*text, &spec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--job-file ", path,
                     ": not a JobSpec in text format: ", errors.message()));
  }
  return spec;
}

// Sets the task and algorithm given by name.
absl::Status ApplyNames(const Args& args, v1::JobSpec* spec) {
  if (args.Has("task")) {
    absl::StatusOr<v1::Task> task = server::ParseTask(args.GetString("task"));
    if (!task.ok()) return task.status();
    spec->set_task(*task);
  }
  if (args.Has("algorithm")) {
    absl::StatusOr<Algorithm> algorithm =
        ParseAlgorithm(args.GetString("algorithm"));
    if (!algorithm.ok()) return algorithm.status();
    spec->set_algorithm(server::ToProto(*algorithm));
  }
  if (args.Has("name")) spec->set_display_name(args.GetString("name"));
  if (args.Has("online-eprop")) spec->set_online_eprop(true);
  if (args.Has("no-reward-clipping")) {
    spec->mutable_reinforcement()->set_clip_rewards(false);
  }
  return absl::OkStatus();
}

absl::Status ApplyNumbers(const Args& args, v1::JobSpec* spec) {
  for (const IntFlag& flag : kIntFlags) {
    if (!args.Has(flag.name)) continue;
    int64_t value = 0;
    const std::string text = args.GetString(flag.name);
    if (!absl::SimpleAtoi(text, &value) || value < flag.lo || value > flag.hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag.name, " must be an integer",
                       flag.lo == 0 ? " >= 0" : "", ", got '", text, "'"));
    }
    flag.set(spec, value);
  }
  for (const DoubleFlag& flag : kDoubleFlags) {
    if (!args.Has(flag.name)) continue;
    double value = 0;
    const std::string text = args.GetString(flag.name);
    if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag.name, " must be a finite number, got '", text, "'"));
    }
    flag.set(spec, value);
  }
  return absl::OkStatus();
}

// A flag given on the command line that the spec's task does not take, as
// a usage error message; empty if there is none.
std::string FlagNotForTask(const Args& args, v1::Task task) {
  const bool rl = server::IsReinforcementTask(task);
  for (const FlagSpec& flag : rl ? SupervisedFlags() : RlFlags()) {
    if (!args.Has(flag.name)) continue;
    return rl ? absl::StrCat("--", flag.name,
                             " applies only to the supervised tasks "
                             "(evidence_accumulation, pattern_generation), "
                             "not to ",
                             server::TaskName(task))
              : absl::StrCat("--", flag.name,
                             " applies only to the reinforcement-learning "
                             "tasks (breakout, remote_environment), not to ",
                             server::TaskName(task));
  }
  return "";
}

// Sets the environment source and the observation spec given by name.
absl::Status ApplyReinforcementNames(const Args& args, v1::JobSpec* spec) {
  if (args.Has("source")) {
    absl::StatusOr<std::string> source =
        args.GetChoice("source", {"builtin", "remote"});
    if (!source.ok()) return source.status();
    spec->mutable_reinforcement()->set_source(
        *source == "builtin" ? v1::ENVIRONMENT_SOURCE_BUILTIN
                             : v1::ENVIRONMENT_SOURCE_REMOTE);
  }
  if (args.Has("observation")) {
    absl::StatusOr<v1::ObservationSpec> observation =
        ParseObservationFlag(args.GetString("observation"));
    if (!observation.ok()) return observation.status();
    *spec->mutable_reinforcement()->mutable_observation_spec() = *observation;
  }
  return absl::OkStatus();
}

void PrintSubmitted(const v1::Job& job, bool json) {
  if (json) {
    std::cout << "{\"job_id\":" << JsonQuote(job.job_id())
              << ",\"state\":" << JsonQuote(server::JobStateName(job.state()))
              << "}" << std::endl;
  } else {
    std::cout << "submitted " << job.job_id() << std::endl;
  }
}

}  // namespace

const std::vector<FlagSpec>& SubmitFlags() {
  static const auto* flags = [] {
    auto* all = new std::vector<FlagSpec>(CommonFlags());
    all->insert(all->end(), SupervisedFlags().begin(), SupervisedFlags().end());
    all->insert(all->end(), RlFlags().begin(), RlFlags().end());
    return all;
  }();
  return *flags;
}

absl::StatusOr<v1::ObservationSpec> ParseObservationFlag(
    const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--observation must be KIND:SHAPE (e.g. features:8 or "
                     "spikes:10x10x4), got '",
                     text, "'"));
  }
  const std::string kind = text.substr(0, colon);
  const std::string shape = text.substr(colon + 1);
  v1::ObservationSpec spec;
  if (kind == "features") {
    spec.set_kind(v1::OBSERVATION_KIND_FEATURES);
  } else if (kind == "spikes") {
    spec.set_kind(v1::OBSERVATION_KIND_SPIKES);
  } else if (kind == "rgb") {
    spec.set_kind(v1::OBSERVATION_KIND_RGB_FRAME);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--observation kind must be features, spikes or rgb, got '", kind,
        "' in '", text, "'"));
  }
  for (absl::string_view dim : absl::StrSplit(shape, 'x')) {
    int32_t value = 0;
    if (dim.empty() ||
        !absl::ascii_isdigit(static_cast<unsigned char>(dim[0])) ||
        !absl::SimpleAtoi(dim, &value) || value < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--observation shape must be integers >= 1 joined by x (e.g. 8 or "
          "10x10x4), got '",
          shape, "' in '", text, "'"));
    }
    spec.add_shape(value);
  }
  if (spec.kind() == v1::OBSERVATION_KIND_RGB_FRAME &&
      (spec.shape_size() != 3 || spec.shape(2) != 3)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--observation rgb shape must be HEIGHTxWIDTHx3, got '", shape, "'"));
  }
  return spec;
}

absl::StatusOr<v1::JobSpec> SpecFromArgs(const Args& args) {
  v1::JobSpec spec;
  if (args.Has("job-file")) {
    absl::StatusOr<v1::JobSpec> file = ReadJobFile(args.GetString("job-file"));
    if (!file.ok()) return file.status();
    spec = *file;
  }
  if (absl::Status s = ApplyNames(args, &spec); !s.ok()) return s;
  if (spec.task() == v1::TASK_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "--task is required (evidence_accumulation, pattern_generation, "
        "breakout or remote_environment) unless --job-file sets task");
  }
  if (std::string wrong = FlagNotForTask(args, spec.task()); !wrong.empty()) {
    return absl::InvalidArgumentError(wrong);
  }
  if (absl::Status s = ApplyNumbers(args, &spec); !s.ok()) return s;
  if (absl::Status s = ApplyReinforcementNames(args, &spec); !s.ok()) {
    return s;
  }
  return spec;
}

int RunSubmitCommand(const GlobalOptions& options,
                     const std::vector<std::string>& argv) {
  static const auto* spec =
      new CommandSpec{"submit", kSubmitUsage, SubmitFlags(), {}};
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  const Args& args = *parsed.args;
  const bool follow = args.Has("follow");
  const bool wait = args.Has("wait") || follow;
  if (args.Has("plots-dir") && !wait) {
    return UsageError(spec->name, "--plots-dir needs --wait or --follow");
  }
  absl::StatusOr<v1::JobSpec> job_spec = SpecFromArgs(args);
  if (!job_spec.ok()) {
    if (job_spec.status().code() != absl::StatusCode::kInvalidArgument) {
      return Failure(spec->name, job_spec.status());
    }
    return UsageError(spec->name, std::string(job_spec.status().message()));
  }
  std::unique_ptr<Connection> connection = ConnectOrReport(spec->name, options);
  if (connection == nullptr) return kExitFailure;
  v1::SubmitJobRequest request;
  *request.mutable_spec() = *job_spec;
  v1::Job job;
  if (absl::Status s =
          connection->Call(&v1::JobService::Stub::SubmitJob, request, &job);
      !s.ok()) {
    return Failure(spec->name, s);
  }
  PrintSubmitted(job, parsed.json);
  if (!wait) return kExitOk;
  FollowOptions follow_options;
  follow_options.show_metrics = follow;
  follow_options.json = parsed.json;
  follow_options.plots_dir = args.GetString("plots-dir");
  return FollowJob(spec->name, *connection, job, follow_options);
}

}  // namespace eprop::cli
