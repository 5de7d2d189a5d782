#include "client/cli/submit_command.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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
    "Queues a training job on eprop-server and prints its id. The task flags\n"
    "are those of `eprop train --local`; a flag that is not given leaves the\n"
    "field unset, so the server's default applies (the paper's constants).\n"
    "--job-file reads a JobSpec (proto/eprop/v1/jobs.proto) as JSON (.json)\n"
    "or text proto (.txtpb, .textproto, .pbtxt); flags override its fields.\n"
    "--wait blocks until the job ends and prints a summary; --follow also\n"
    "shows live progress (iteration, loss, error or nmse, rate, ms/iter,\n"
    "ETA). With either, the exit code is 0 if the job succeeded and 1 if it\n"
    "failed or was cancelled; Ctrl-C stops following, not the job.\n";

const std::vector<FlagSpec>& SubmitFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"task", false, "evidence_accumulation or pattern_generation", ""},
      {"algorithm", false,
       "bptt, eprop_symmetric, eprop_random (server default) or "
       "eprop_adaptive",
       ""},
      {"seed", false, "seed of weights, feedback and data (default 1)", ""},
      {"max-iterations", false, "training iterations at most (default 2000)",
       ""},
      {"batch", false, "batch size (default: the task's, 64 or 1)", ""},
      {"validate-every", false, "iterations between validations (default 10)",
       ""},
      {"stop-criterion", false,
       "stop when the validation error (or nmse) is below this; 0: never "
       "(default: the task's)",
       ""},
      {"lr-decay-every", false,
       "multiply the learning rate by --lr-decay every N iterations", ""},
      {"lr-decay", false, "learning-rate decay factor in (0, 1]", ""},
      {"checkpoint-every", false, "iterations between checkpoints (default 50)",
       ""},
      {"threads", false, "worker threads of the job (default: the server's)",
       ""},
      {"learning-rate", false, "optimizer learning rate (default: the task's)",
       ""},
      {"n-lif", false, "LIF neurons (default: the task's)", ""},
      {"n-alif", false, "ALIF neurons (default: the task's)", ""},
      {"online-eprop", true,
       "e-prop gradients from forward traces, as streaming sessions compute "
       "them (slower; bit-identical to a session fed the same batches)",
       ""},
      {"name", false, "display name shown by eprop list", ""},
      {"job-file", false, "JobSpec file (.json, .txtpb, .textproto, .pbtxt)",
       ""},
      {"wait", true, "wait for the job to end and print a summary", ""},
      {"follow", true, "show live progress until the job ends", ""},
      {"plots-dir", false,
       "with --wait or --follow: write the job's plots into this folder", ""},
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

absl::StatusOr<v1::JobSpec> SpecFromArgs(const Args& args) {
  v1::JobSpec spec;
  if (args.Has("job-file")) {
    absl::StatusOr<v1::JobSpec> file = ReadJobFile(args.GetString("job-file"));
    if (!file.ok()) return file.status();
    spec = *file;
  }
  if (absl::Status s = ApplyNames(args, &spec); !s.ok()) return s;
  if (absl::Status s = ApplyNumbers(args, &spec); !s.ok()) return s;
  if (spec.task() == v1::TASK_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "--task is required (evidence_accumulation or pattern_generation) "
        "unless --job-file sets task");
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
