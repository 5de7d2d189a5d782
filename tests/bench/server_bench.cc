// eprop-server-bench: latency of SubmitJob and throughput of WatchJob
// streams, against an in-process server on loopback with a data directory
// on the local disk (Submit persists the job with fsync before it answers).
// One JSON line per measurement.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "tests/server/testing/in_process_server.h"

ABSL_FLAG(int, submits, 200, "SubmitJob calls to time");
ABSL_FLAG(int, watch_messages, 5000,
          "metrics messages replayed by each timed WatchJob stream");
ABSL_FLAG(int, watches, 5, "timed WatchJob streams");

namespace eprop::server {
namespace {

using Clock = std::chrono::steady_clock;
using testing::Context;

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * (values.size() - 1))];
}

// Submits jobs that a cancel removes from the queue right away, so the
// worker pool stays idle and only the RPC and its persistence are timed.
void BenchSubmit(v1::JobService::Stub& stub, int n) {
  v1::SubmitJobRequest request;
  request.mutable_spec()->set_task(v1::TASK_PATTERN_GENERATION);
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    v1::Job job;
    const auto start = Clock::now();
    const grpc::Status status = stub.SubmitJob(Context().get(), request, &job);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start)
                     .count());
    if (!status.ok()) {
      std::fprintf(stderr, "submit failed: %s\n",
                   status.error_message().c_str());
      return;
    }
    v1::CancelJobRequest cancel;
    cancel.set_job_id(job.job_id());
    stub.CancelJob(Context().get(), cancel, &job);
  }
  std::printf(
      "{\"bench\":\"submit_latency\",\"calls\":%d,\"p50_ms\":%.3f,"
      "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
      n, Percentile(ms, 0.5), Percentile(ms, 0.99), Percentile(ms, 1.0));
}

// A finished job with `messages` validations, replayed by WatchJob.
void BenchWatch(v1::JobService::Stub& stub, int messages, int streams) {
  v1::SubmitJobRequest request;
  v1::JobSpec* spec = request.mutable_spec();
  spec->set_task(v1::TASK_PATTERN_GENERATION);
  spec->mutable_schedule()->set_max_iterations(messages - 1);
  spec->mutable_schedule()->set_validate_every_iterations(1);
  spec->mutable_network()->set_n_lif(10);
  spec->mutable_network()->set_n_alif(0);
  v1::Job job;
  if (!stub.SubmitJob(Context().get(), request, &job).ok()) return;
  v1::WatchJobRequest watch;
  watch.set_job_id(job.job_id());
  {  // waits for the job to finish
    auto context = Context("", 600);
    auto reader = stub.WatchJob(context.get(), watch);
    v1::JobEvent event;
    while (reader->Read(&event)) {
    }
    reader->Finish();
  }
  std::vector<double> rates;
  int received = 0;
  for (int s = 0; s < streams; ++s) {
    auto context = Context();
    const auto start = Clock::now();
    auto reader = stub.WatchJob(context.get(), watch);
    v1::JobEvent event;
    received = 0;
    while (reader->Read(&event)) received += event.has_metrics();
    reader->Finish();
    rates.push_back(
        received / std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::printf(
      "{\"bench\":\"watch_replay\",\"messages\":%d,\"streams\":%d,"
      "\"median_messages_per_s\":%.0f,\"min_messages_per_s\":%.0f}\n",
      received, streams, Percentile(rates, 0.5), Percentile(rates, 0.0));
}

}  // namespace
}  // namespace eprop::server

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  eprop::server::testing::ServerOptions options;
  options.manager.max_queued_jobs = 1000000;
  eprop::server::testing::InProcessServer server(options);
  auto stub = server.Stub();
  eprop::server::BenchSubmit(*stub, absl::GetFlag(FLAGS_submits));
  eprop::server::BenchWatch(*stub, absl::GetFlag(FLAGS_watch_messages),
                            absl::GetFlag(FLAGS_watches));
  return 0;
}
