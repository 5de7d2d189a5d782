// eprop-env-bench: remote environments against a reinforcement-learning job
// (issue 6). An in-process eprop-server on loopback runs a remote Breakout
// job (the default agent: 96 LIF + 64 ALIF, K = 2, unroll 20) with as many
// slots as environments; N MinAtar Breakout environments connect through
// the C++ environment runner (client/lib/environment_client.h), one thread
// and one stream each, as `eprop env run --count N` runs them. One JSON
// line per N:
//   frames_per_s            aggregate environment steps per second
//   latency_p50_us, _p99_us per-step round trip (step sent -> action back),
//                           which includes waiting for the batch
//   updates                 the agent's weight updates during the run
// The first --warmup_frames frames of every environment are not timed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/env_command.h"
#include "client/lib/environment_client.h"
#include "tests/server/testing/in_process_server.h"

ABSL_FLAG(std::string, envs, "1,8,32",
          "comma-separated numbers of environments, one case each");
ABSL_FLAG(int64_t, frames, 4000, "timed frames per environment");
ABSL_FLAG(int64_t, warmup_frames, 200,
          "untimed frames per environment before the timed ones");
ABSL_FLAG(int, max_queueing_delay_ms, 20,
          "the job's maximum queueing delay");
ABSL_FLAG(int, threads, 2, "threads of the job's agent");

namespace eprop::bench {
namespace {

using Clock = std::chrono::steady_clock;

v1::Job SubmitJob(server::testing::InProcessServer& server, int envs) {
  v1::SubmitJobRequest request;
  v1::JobSpec* spec = request.mutable_spec();
  spec->set_task(v1::TASK_BREAKOUT);
  spec->set_threads(absl::GetFlag(FLAGS_threads));
  v1::ReinforcementSpec* rl = spec->mutable_reinforcement();
  rl->set_source(v1::ENVIRONMENT_SOURCE_REMOTE);
  rl->set_num_envs(envs);
  rl->set_max_frames(int64_t{1000000000000});
  rl->set_max_queueing_delay_ms(absl::GetFlag(FLAGS_max_queueing_delay_ms));
  v1::Job job;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  const grpc::Status status =
      server.Stub()->SubmitJob(&context, request, &job);
  if (!status.ok()) {
    std::fprintf(stderr, "submit: %s\n", status.error_message().c_str());
    std::exit(1);
  }
  return job;
}

void CancelJob(server::testing::InProcessServer& server,
               const std::string& id) {
  v1::CancelJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  server.Stub()->CancelJob(&context, request, &job);
}

// One environment: warmup_frames untimed, then `frames` timed.
struct EnvRun {
  client::LatencyHistogram latency;
  Clock::time_point timed_start;
  Clock::time_point end;
  int64_t timed_frames = 0;
  absl::Status status;
};

void RunOne(int port, const std::string& job_id, int index, EnvRun* out) {
  client::EnvironmentRunnerOptions options;
  options.target = absl::StrCat("127.0.0.1:", port);
  options.credentials = grpc::InsecureChannelCredentials();
  options.job_id = job_id;
  options.name = absl::StrCat("bench-", index);
  const int64_t warmup = absl::GetFlag(FLAGS_warmup_frames);
  options.max_frames = warmup + absl::GetFlag(FLAGS_frames);
  cli::BreakoutEnvironment game(static_cast<uint64_t>(index) + 1);
  const auto on_event = [&](const client::EnvironmentEvent& e) {
    if (e.kind != client::EnvironmentEvent::Kind::kStep) return;
    if (e.frames == warmup) out->timed_start = Clock::now();
    if (e.frames > warmup) {
      out->latency.Add(e.latency);
      ++out->timed_frames;
    }
  };
  const client::EnvironmentRunResult result =
      client::RunEnvironment(options, game, nullptr, on_event);
  out->end = Clock::now();
  out->status = result.status;
}

void RunCase(server::testing::InProcessServer& server, int envs) {
  const v1::Job job = SubmitJob(server, envs);
  std::vector<EnvRun> runs(envs);
  std::vector<std::thread> threads;
  for (int i = 0; i < envs; ++i) {
    threads.emplace_back(RunOne, server.port(), job.job_id(), i, &runs[i]);
  }
  for (std::thread& t : threads) t.join();
  CancelJob(server, job.job_id());
  client::LatencyHistogram latency;
  Clock::time_point start = runs[0].timed_start;
  Clock::time_point end = runs[0].end;
  int64_t frames = 0;
  for (const EnvRun& r : runs) {
    if (!r.status.ok()) {
      std::fprintf(stderr, "environment failed: %s\n",
                   r.status.ToString().c_str());
      std::exit(1);
    }
    latency.Merge(r.latency);
    start = std::min(start, r.timed_start);
    end = std::max(end, r.end);
    frames += r.timed_frames;
  }
  const double seconds = std::chrono::duration<double>(end - start).count();
  auto us = [](std::chrono::nanoseconds ns) { return ns.count() / 1000.0; };
  std::printf(
      "{\"bench\":\"remote_environments\",\"game\":\"breakout\",\"envs\":%d,"
      "\"frames\":%lld,\"seconds\":%.3f,\"frames_per_s\":%.1f,"
      "\"latency_p50_us\":%.1f,\"latency_p99_us\":%.1f,"
      "\"latency_mean_us\":%.1f,\"max_queueing_delay_ms\":%d}\n",
      envs, static_cast<long long>(frames), seconds, frames / seconds,
      us(latency.Quantile(0.5)), us(latency.Quantile(0.99)),
      us(latency.mean()), absl::GetFlag(FLAGS_max_queueing_delay_ms));
  std::fflush(stdout);
}

int Main() {
  std::vector<int> cases;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_envs), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 256) {
      std::fprintf(stderr, "--envs: each number must be in [1, 256]\n");
      return 2;
    }
    cases.push_back(n);
  }
  if (absl::GetFlag(FLAGS_frames) < 1 ||
      absl::GetFlag(FLAGS_warmup_frames) < 0) {
    std::fprintf(stderr, "--frames must be >= 1, --warmup_frames >= 0\n");
    return 2;
  }
  server::testing::InProcessServer server;
  for (int envs : cases) RunCase(server, envs);
  return 0;
}

}  // namespace
}  // namespace eprop::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return eprop::bench::Main();
}
