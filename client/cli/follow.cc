#include "client/cli/follow.h"

#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "client/cli/artifact_commands.h"
#include "client/cli/command_line.h"
#include "client/cli/job_format.h"
#include "client/cli/metrics_format.h"
#include "client/cli/plots.h"
#include "server/job_spec.h"

namespace eprop::cli {
namespace {

constexpr char kNoRlPlots[] =
    "--plots-dir applies only to supervised jobs; `eprop metrics` prints the "
    "reports of a reinforcement-learning job";

// Prints the events of a followed job: state changes and validations.
class EventPrinter {
 public:
  explicit EventPrinter(const FollowOptions& options)
      : options_(options), live_(!options.json && isatty(STDOUT_FILENO) != 0) {}

  ~EventPrinter() { EndLine(); }

  void OnJob(const v1::Job& job) {
    const bool changed = !have_job_ || job.state() != job_.state();
    job_ = job;
    have_job_ = true;
    // The final state is left to the summary line.
    if (!changed || !options_.show_metrics || options_.json ||
        server::IsFinal(job.state())) {
      return;
    }
    EndLine();
    std::cout << job.job_id() << " " << server::JobStateName(job.state())
              << std::endl;
  }

  void OnMetrics(const v1::IterationMetrics& proto) {
    if (!options_.show_metrics) return;
    std::string line;
    if (server::IsReinforcementTask(job_.spec().task())) {
      const RlMetrics m = RlMetricsFromProto(proto, IsRemoteJob(job_.spec()));
      line = options_.json
                 ? RlMetricsJson(m)
                 : RlProgressLine(m, job_.spec().reinforcement().max_frames());
    } else {
      const IterationMetrics m = server::FromProto(proto);
      line = options_.json
                 ? MetricsJson(m)
                 : ProgressLine(m, job_.spec().schedule().max_iterations());
    }
    if (options_.json) {
      std::cout << line << std::endl;
      return;
    }
    std::cout << (live_ ? "\r" : "") << line << (live_ ? "" : "\n")
              << std::flush;
    line_open_ = live_;
  }

  // Ends a progress line that is being rewritten in place.
  void EndLine() {
    if (line_open_) std::cout << std::endl;
    line_open_ = false;
  }

  bool have_job() const { return have_job_; }
  const v1::Job& job() const { return job_; }

 private:
  const FollowOptions& options_;
  const bool live_;
  bool line_open_ = false;
  bool have_job_ = false;
  v1::Job job_;
};

// Streams WatchJob into `printer` until the server ends the stream.
absl::Status Watch(Connection& connection, const std::string& job_id,
                   int64_t from_iteration, EventPrinter& printer) {
  if (absl::Status s = connection.AwaitChannel(); !s.ok()) return s;
  std::unique_ptr<grpc::ClientContext> context = connection.StreamContext();
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  request.set_from_iteration(from_iteration);
  std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader =
      connection.jobs().WatchJob(context.get(), request);
  v1::JobEvent event;
  while (reader->Read(&event)) {
    if (event.has_job()) printer.OnJob(event.job());
    if (event.has_metrics()) printer.OnMetrics(event.metrics());
  }
  const grpc::Status status = reader->Finish();
  printer.EndLine();
  return status.ok() ? absl::OkStatus() : connection.RpcError(status);
}

// The job in its final state: the last streamed one, or else (a stream
// that ended early) the one GetJob returns.
absl::StatusOr<v1::Job> FinalJob(Connection& connection,
                                 const std::string& job_id,
                                 const EventPrinter& printer) {
  if (printer.have_job() && server::IsFinal(printer.job().state())) {
    return printer.job();
  }
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  v1::Job job;
  if (absl::Status s =
          connection.Call(&v1::JobService::Stub::GetJob, request, &job);
      !s.ok()) {
    return s;
  }
  if (!server::IsFinal(job.state())) {
    return absl::UnavailableError(
        absl::StrCat("the server ended the event stream while ", job_id,
                     " is still ", server::JobStateName(job.state())));
  }
  return job;
}

}  // namespace

int FollowJob(const std::string& command, Connection& connection,
              const v1::Job& job_now, const FollowOptions& options) {
  const std::string& job_id = job_now.job_id();
  if (!options.plots_dir.empty() &&
      server::IsReinforcementTask(job_now.spec().task())) {
    return UsageError(command, kNoRlPlots);
  }
  EventPrinter printer(options);
  // Known before the stream starts, so progress lines can show the
  // iteration budget whatever order the events come in.
  printer.OnJob(job_now);
  if (absl::Status s =
          Watch(connection, job_id, options.from_iteration, printer);
      !s.ok()) {
    return Failure(command, s);
  }
  absl::StatusOr<v1::Job> job = FinalJob(connection, job_id, printer);
  if (!job.ok()) return Failure(command, job.status());
  absl::Status plotted = absl::OkStatus();
  std::string plot_json;
  if (!options.plots_dir.empty()) {
    plotted = PlotJob(connection, *job, options.plots_dir);
    if (plotted.ok()) {
      plot_json =
          absl::StrCat(",\"learning_curves\":",
                       JsonQuote(LearningCurvesPath(options.plots_dir)),
                       ",\"trial\":", JsonQuote(TrialPath(options.plots_dir)));
    }
  }
  if (options.json) {
    std::string line = FinalSummaryJson(*job);
    line.insert(line.size() - 1, plot_json);
    std::cout << line << std::endl;
  } else {
    std::cout << FinalSummary(*job) << std::endl;
    if (!options.plots_dir.empty() && plotted.ok()) {
      std::cout << "wrote " << LearningCurvesPath(options.plots_dir) << " and "
                << TrialPath(options.plots_dir) << std::endl;
    }
  }
  if (!plotted.ok()) return Failure(command, plotted);
  return job->state() == v1::JOB_STATE_SUCCEEDED ? kExitOk : kExitFailure;
}

}  // namespace eprop::cli
