#include "client/cli/job_commands.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/artifact_commands.h"
#include "client/cli/command_line.h"
#include "client/cli/follow.h"
#include "client/cli/job_format.h"
#include "client/cli/metrics_format.h"
#include "client/cli/server_commands.h"
#include "client/cli/submit_command.h"
#include "server/job_spec.h"

namespace eprop::cli {
namespace {

using Stub = v1::JobService::Stub;

// Runs one unary call; a failure is reported as "eprop CMD: ..." and gives
// false.
template <typename Request, typename Response>
bool CallOrReport(const std::string& command, Connection& connection,
                  grpc::Status (Stub::*method)(grpc::ClientContext*,
                                               const Request&, Response*),
                  const Request& request, Response* response) {
  const absl::Status status = connection.Call(method, request, response);
  if (!status.ok()) Failure(command, status);
  return status.ok();
}

// Connects and calls `method` with a request naming the command's JOB
// argument; a failure is reported in one line and returns false.
template <typename Request, typename Response>
bool CallForJob(const std::string& command, const GlobalOptions& options,
                const ParsedCommand& parsed,
                grpc::Status (Stub::*method)(grpc::ClientContext*,
                                             const Request&, Response*),
                Request* request, Response* response) {
  std::unique_ptr<Connection> connection = ConnectOrReport(command, options);
  if (connection == nullptr) return false;
  request->set_job_id(parsed.Positional(0));
  return CallOrReport(command, *connection, method, *request, response);
}

absl::StatusOr<v1::JobState> ParseState(const std::string& name) {
  for (int s = v1::JOB_STATE_QUEUED; s <= v1::JOB_STATE_CANCELLED; ++s) {
    const auto state = static_cast<v1::JobState>(s);
    if (server::JobStateName(state) == name) return state;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--state must be queued, running, succeeded, failed or cancelled, got '",
      name, "'"));
}

// All jobs of `state` (UNSPECIFIED: any), at most `limit` (0: no limit).
absl::StatusOr<std::vector<v1::Job>> ListAll(Connection& connection,
                                             v1::JobState state,
                                             int64_t limit) {
  std::vector<v1::Job> jobs;
  v1::ListJobsRequest request;
  request.set_state(state);
  do {
    const int64_t left =
        limit > 0 ? limit - static_cast<int64_t>(jobs.size()) : 1000;
    request.set_page_size(static_cast<int32_t>(std::min<int64_t>(left, 1000)));
    v1::ListJobsResponse page;
    if (absl::Status s = connection.Call(&Stub::ListJobs, request, &page);
        !s.ok()) {
      return s;
    }
    for (const v1::Job& job : page.jobs()) {
      if (limit == 0 || static_cast<int64_t>(jobs.size()) < limit) {
        jobs.push_back(job);
      }
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty() &&
           (limit == 0 || static_cast<int64_t>(jobs.size()) < limit));
  return jobs;
}

int RunList(const GlobalOptions& options,
            const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec{
      "list",
      "usage: eprop list [--state=STATE] [--limit=N]\n\n"
      "Lists jobs in creation order: id, state, task, algorithm, iterations\n"
      "completed, the latest validation error or nmse, and display name.\n",
      {{"state", false,
        "only jobs in this state: queued, running, succeeded, failed or "
        "cancelled",
        ""},
       {"limit", false, "at most this many jobs (0: all)", "0"}},
      {}};
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  if (parsed.args->Has("state")) {
    absl::StatusOr<v1::JobState> s =
        ParseState(parsed.args->GetString("state"));
    if (!s.ok())
      return UsageError(spec->name, std::string(s.status().message()));
    state = *s;
  }
  absl::StatusOr<int64_t> limit = parsed.args->GetInt("limit", 0, INT32_MAX);
  if (!limit.ok()) {
    return UsageError(spec->name, std::string(limit.status().message()));
  }
  std::unique_ptr<Connection> connection = ConnectOrReport(spec->name, options);
  if (connection == nullptr) return kExitFailure;
  absl::StatusOr<std::vector<v1::Job>> jobs =
      ListAll(*connection, state, *limit);
  if (!jobs.ok()) return Failure(spec->name, jobs.status());
  if (parsed.json) {
    for (const v1::Job& job : *jobs) std::cout << JobListJson(job) << "\n";
  } else if (jobs->empty()) {
    std::cout << "no jobs\n";
  } else {
    std::cout << JobTable(*jobs);
  }
  std::cout << std::flush;
  return kExitOk;
}

// A command that takes one JOB and no flags of its own.
CommandSpec JobIdCommand(const std::string& name, const std::string& usage) {
  return CommandSpec{name, usage, {}, {"JOB"}};
}

int RunStatus(const GlobalOptions& options,
              const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec(JobIdCommand(
      "status",
      "usage: eprop status JOB\n\n"
      "Shows a job: state (and failure reason), its spec with every default\n"
      "filled in, iterations completed, the latest validation, the\n"
      "checkpoint's iteration and the times it was created, started and\n"
      "finished. Reinforcement-learning jobs show frames done of their\n"
      "budget, weight updates and their latest report instead.\n"));
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  v1::GetJobRequest request;
  v1::Job job;
  if (!CallForJob(spec->name, options, parsed, &Stub::GetJob, &request, &job)) {
    return kExitFailure;
  }
  if (parsed.json) {
    std::cout << JobStatusJson(job) << std::endl;
  } else {
    std::cout << JobDetails(job) << std::flush;
  }
  return kExitOk;
}

int RunCancel(const GlobalOptions& options,
              const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec(JobIdCommand(
      "cancel",
      "usage: eprop cancel JOB\n\n"
      "Cancels a queued or running job; a running job stops at its next\n"
      "iteration boundary and keeps its checkpoint. Cancelling a finished\n"
      "job is an error (FAILED_PRECONDITION).\n"));
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  v1::CancelJobRequest request;
  v1::Job job;
  if (!CallForJob(spec->name, options, parsed, &Stub::CancelJob, &request,
                  &job)) {
    return kExitFailure;
  }
  const std::string state = server::JobStateName(job.state());
  if (parsed.json) {
    std::cout << "{\"job_id\":" << JsonQuote(job.job_id())
              << ",\"state\":" << JsonQuote(state) << "}" << std::endl;
  } else if (job.state() == v1::JOB_STATE_CANCELLED) {
    std::cout << "cancelled " << job.job_id() << std::endl;
  } else {
    std::cout << "cancelling " << job.job_id() << " (" << state
              << "; it stops at its next iteration boundary)" << std::endl;
  }
  return kExitOk;
}

int RunDelete(const GlobalOptions& options,
              const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec(JobIdCommand(
      "delete",
      "usage: eprop delete JOB\n\n"
      "Deletes a finished job and all its data (metrics, checkpoint). A\n"
      "queued or running job must be cancelled first.\n"));
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  v1::DeleteJobRequest request;
  v1::DeleteJobResponse response;
  if (!CallForJob(spec->name, options, parsed, &Stub::DeleteJob, &request,
                  &response)) {
    return kExitFailure;
  }
  if (parsed.json) {
    std::cout << "{\"job_id\":" << JsonQuote(request.job_id())
              << ",\"deleted\":true}" << std::endl;
  } else {
    std::cout << "deleted " << request.job_id() << std::endl;
  }
  return kExitOk;
}

int RunWatch(const GlobalOptions& options,
             const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec{
      "watch",
      "usage: eprop watch JOB [--from-iteration=N] [--plots-dir=DIR]\n\n"
      "Follows a job like `eprop submit --follow`: its recorded validations\n"
      "(reports of reinforcement-learning jobs), then live progress until it\n"
      "ends, then a summary. Exits 0 if the job succeeded, 1 if it failed or\n"
      "was cancelled.\n",
      {{"from-iteration", false,
        "replay recorded validations from here (RL jobs: weight update)", "0"},
       {"plots-dir", false,
        "at the end, write the job's plots here (supervised jobs)", ""}},
      {"JOB"}};
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  absl::StatusOr<int64_t> from =
      parsed.args->GetInt("from-iteration", 0, INT64_MAX);
  if (!from.ok())
    return UsageError(spec->name, std::string(from.status().message()));
  std::unique_ptr<Connection> connection = ConnectOrReport(spec->name, options);
  if (connection == nullptr) return kExitFailure;
  v1::GetJobRequest request;
  request.set_job_id(parsed.Positional(0));
  v1::Job job;
  if (!CallOrReport(spec->name, *connection, &Stub::GetJob, request, &job)) {
    return kExitFailure;
  }
  FollowOptions follow;
  follow.json = parsed.json;
  follow.from_iteration = *from;
  follow.plots_dir = parsed.args->GetString("plots-dir");
  return FollowJob(spec->name, *connection, job, follow);
}

std::string MetricsTable(const std::vector<IterationMetrics>& history) {
  const bool classification =
      !history.empty() && IsClassification(history.front());
  std::string out = absl::StrFormat(
      "%9s  %10s  %10s  %9s  %9s  %9s\n", "ITERATION", "LOSS",
      classification ? "ERROR %" : "NMSE", "RATE_HZ", "MS/ITER", "WALL_S");
  for (const IterationMetrics& m : history) {
    absl::StrAppendFormat(&out, "%9d  %10.5f  %10.4g  %9.2f  %9.2f  %9.1f\n",
                          m.iteration, m.loss,
                          classification ? 100 * m.error : m.nmse, m.rate_hz,
                          m.ms_per_iter, m.wall_s);
  }
  return out;
}

// `eprop metrics` of a reinforcement-learning job in `format` (table, csv
// or json).
std::string RlMetricsOutput(const v1::GetMetricsResponse& response, bool remote,
                            const std::string& format) {
  std::vector<RlMetrics> history;
  for (const v1::IterationMetrics& m : response.metrics()) {
    history.push_back(RlMetricsFromProto(m, remote));
  }
  if (format == "table") return RlMetricsTable(history, remote);
  std::string out;
  if (format == "csv") {
    out = RlJobCsvHeader();
    for (const RlMetrics& m : history) out += RlJobCsvRow(m);
  } else {
    for (const RlMetrics& m : history)
      absl::StrAppend(&out, RlMetricsJson(m), "\n");
  }
  return out;
}

// The --format of `metrics`: the flag, else json under --output json,
// else table.
absl::StatusOr<std::string> MetricsFormat(const ParsedCommand& parsed) {
  if (!parsed.args->Has("format")) return parsed.json ? "json" : "table";
  const std::string format = parsed.args->GetString("format");
  if (format != "table" && format != "csv" && format != "json") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--format must be table, csv or json, got '", format, "'"));
  }
  return format;
}

int RunMetrics(const GlobalOptions& options,
               const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec{
      "metrics",
      "usage: eprop metrics JOB [--format=table|csv|json] "
      "[--from-iteration=N]\n\n"
      "Prints a job's recorded validations: a table, the rows of\n"
      "metrics.csv (as `eprop train --local` writes it, header included) or\n"
      "one JSON object per validation (the keys of train's JSON lines).\n"
      "Reinforcement-learning jobs (breakout, remote_environment) print their\n"
      "reports instead: updates, frames, episodes, average return of the\n"
      "last 100 episodes, frames/s, loss, entropy, rate, training time and,\n"
      "with remote environments, how many were connected. Their CSV has the\n"
      "columns of `eprop train --local --task breakout`'s metrics.csv up to\n"
      "updates, then connected_environments (empty for built-in games); their\n"
      "JSON lines the keys of its JSON lines without task and final.\n",
      {{"format", false,
        "table, csv or json (default: json with --output json, else table)",
        ""},
       {"from-iteration", false,
        "only validations at or after this iteration (RL jobs: weight update)",
        "0"}},
      {"JOB"}};
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  absl::StatusOr<std::string> format = MetricsFormat(parsed);
  absl::StatusOr<int64_t> from =
      parsed.args->GetInt("from-iteration", 0, INT64_MAX);
  for (const absl::Status& s : {format.status(), from.status()}) {
    if (!s.ok()) return UsageError(spec->name, std::string(s.message()));
  }
  std::unique_ptr<Connection> connection = ConnectOrReport(spec->name, options);
  if (connection == nullptr) return kExitFailure;
  // The job's task decides how its metrics read.
  v1::GetJobRequest job_request;
  job_request.set_job_id(parsed.Positional(0));
  v1::Job job;
  if (!CallOrReport(spec->name, *connection, &Stub::GetJob, job_request,
                    &job)) {
    return kExitFailure;
  }
  v1::GetMetricsRequest request;
  request.set_job_id(parsed.Positional(0));
  request.set_from_iteration(*from);
  v1::GetMetricsResponse response;
  if (!CallOrReport(spec->name, *connection, &Stub::GetMetrics, request,
                    &response)) {
    return kExitFailure;
  }
  if (server::IsReinforcementTask(job.spec().task())) {
    std::cout << RlMetricsOutput(response, IsRemoteJob(job.spec()), *format)
              << std::flush;
    return kExitOk;
  }
  std::vector<IterationMetrics> history;
  for (const v1::IterationMetrics& m : response.metrics()) {
    history.push_back(server::FromProto(m));
  }
  if (*format == "table") {
    std::cout << MetricsTable(history);
  } else if (*format == "csv") {
    std::cout << CsvHeader();
    for (const IterationMetrics& m : history) std::cout << CsvRow(m);
  } else {
    for (const IterationMetrics& m : history)
      std::cout << MetricsJson(m) << "\n";
  }
  std::cout << std::flush;
  return kExitOk;
}

struct JobCommand {
  const char* name;
  int (*run)(const GlobalOptions&, const std::vector<std::string>&);
  const char* summary;
};

constexpr JobCommand kJobCommands[] = {
    {"submit", RunSubmitCommand,
     "queue a training job (--wait / --follow to see it to the end)"},
    {"list", RunList, "list jobs (--state, --limit)"},
    {"status", RunStatus, "show a job's state, spec, progress and times"},
    {"watch", RunWatch, "follow a job's progress until it ends"},
    {"metrics", RunMetrics, "print a job's validations (table, csv, json)"},
    {"cancel", RunCancel, "cancel a queued or running job"},
    {"delete", RunDelete, "delete a finished job and its data"},
    {"export", RunExportCommand, "download a job's latest checkpoint"},
    {"plot", RunPlotCommand, "draw a job's learning curves and one trial"},
    {"health", RunHealthCommand, "check that the server is serving"},
    {"server-info", RunServerInfoCommand,
     "show the server's version and limits"},
};

const JobCommand* FindJobCommand(const std::string& name) {
  for (const JobCommand& command : kJobCommands) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

}  // namespace

bool IsJobCommand(const std::string& command) {
  return FindJobCommand(command) != nullptr;
}

std::string JobCommandSummaries() {
  std::string out;
  for (const JobCommand& command : kJobCommands) {
    absl::StrAppendFormat(&out, "  %-12s %s\n", command.name, command.summary);
  }
  return out;
}

int RunJobCommand(const std::string& command, const GlobalOptions& options,
                  const std::vector<std::string>& argv) {
  const JobCommand* found = FindJobCommand(command);
  if (found == nullptr) return UsageError(command, "unknown command");
  return found->run(options, argv);
}

}  // namespace eprop::cli
