// The real eprop-server binary on loopback: kill -9 in the middle of a job
// and restart, graceful SIGTERM, flag errors.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "eprop/v1/jobs.grpc.pb.h"

namespace eprop {
namespace {

using Clock = std::chrono::steady_clock;

std::string TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "eprop-e2e-XXXXXX").string();
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  return pattern;
}

// One eprop-server process; its log goes to a file in the test directory.
class ServerProcess {
 public:
  ServerProcess(const std::string& dir, std::vector<std::string> flags)
      : log_path_(dir + "/server-" + std::to_string(++starts_) + ".log") {
    flags.insert(flags.begin(), EPROP_SERVER_BINARY);
    flags.push_back("--data_dir=" + dir + "/data");
    flags.push_back("--port=0");
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = freopen(log_path_.c_str(), "w", stderr);
      (void)log;
      std::vector<char*> argv;
      for (std::string& flag : flags) argv.push_back(flag.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) Kill(SIGKILL);
  }

  // The port from the server's "listening" log line; 0 if it did not start
  // within 20 s.
  int WaitForPort() {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      const std::string log = Log();
      const size_t line = log.find("\"event\":\"listening\"");
      const std::string key = "\"port\":\"";
      const size_t port = log.find(key, line);
      if (line != std::string::npos && port != std::string::npos) {
        return std::atoi(log.c_str() + port + key.size());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }

  // Sends `signal` and returns the exit status (or -signal).
  int Kill(int signal) {
    kill(pid_, signal);
    return Wait();
  }

  // Waits for the process to exit; its exit status (or -signal).
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  std::string Log() const {
    std::ifstream file(log_path_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

 private:
  static inline int starts_ = 0;
  std::string log_path_;
  pid_t pid_ = -1;
};

std::unique_ptr<v1::JobService::Stub> Connect(int port) {
  return v1::JobService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
  return context;
}

v1::Job Submit(v1::JobService::Stub& stub, int64_t iterations) {
  v1::SubmitJobRequest request;
  v1::JobSpec* spec = request.mutable_spec();
  spec->set_task(v1::TASK_PATTERN_GENERATION);
  spec->mutable_schedule()->set_max_iterations(iterations);
  spec->set_checkpoint_every_iterations(100);
  v1::Job job;
  const grpc::Status status = stub.SubmitJob(Context().get(), request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

template <typename Predicate>
v1::Job WaitFor(v1::JobService::Stub& stub, const std::string& id,
                Predicate done) {
  v1::GetJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline) {
    if (stub.GetJob(Context().get(), request, &job).ok() && done(job)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return job;
}

bool Finished(const v1::Job& job) {
  return job.state() == v1::JOB_STATE_SUCCEEDED ||
         job.state() == v1::JOB_STATE_FAILED ||
         job.state() == v1::JOB_STATE_CANCELLED;
}

std::vector<int64_t> MetricIterations(v1::JobService::Stub& stub,
                                      const std::string& id) {
  v1::GetMetricsRequest request;
  request.set_job_id(id);
  v1::GetMetricsResponse response;
  EXPECT_TRUE(stub.GetMetrics(Context().get(), request, &response).ok());
  std::vector<int64_t> out;
  for (const v1::IterationMetrics& m : response.metrics()) {
    out.push_back(m.iteration());
  }
  return out;
}

std::vector<int64_t> EveryTenUpTo(int64_t last) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i <= last; i += 10) out.push_back(i);
  return out;
}

TEST(ServerProcessTest, KillNineResumesRunningJobsAndKeepsFinishedOnes) {
  const std::string dir = TempDir();
  auto server =
      std::make_unique<ServerProcess>(dir, std::vector<std::string>{});
  int port = server->WaitForPort();
  ASSERT_GT(port, 0) << server->Log();
  auto stub = Connect(port);
  const v1::Job finished = WaitFor(*stub, Submit(*stub, 50).job_id(), Finished);
  ASSERT_EQ(finished.state(), v1::JOB_STATE_SUCCEEDED);
  const std::string id = Submit(*stub, 3000).job_id();
  // Killed between checkpoints: validations after the checkpoint are on
  // disk and must not end up twice in the history.
  const v1::Job before = WaitFor(*stub, id, [](const v1::Job& j) {
    return j.checkpoint_iteration() >= 300 &&
           j.latest_metrics().iteration() > j.checkpoint_iteration();
  });
  ASSERT_EQ(before.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(server->Kill(SIGKILL), -SIGKILL);

  server = std::make_unique<ServerProcess>(dir, std::vector<std::string>{});
  port = server->WaitForPort();
  ASSERT_GT(port, 0) << server->Log();
  stub = Connect(port);
  const v1::Job after = WaitFor(*stub, id, Finished);
  EXPECT_EQ(after.state(), v1::JOB_STATE_SUCCEEDED) << after.failure_reason();
  EXPECT_EQ(after.resume_count(), 1);
  EXPECT_EQ(after.iterations_completed(), 3000);
  EXPECT_EQ(MetricIterations(*stub, id), EveryTenUpTo(3000));
  EXPECT_NE(server->Log().find("\"event\":\"job_resumed\""), std::string::npos);

  v1::GetJobRequest get;
  get.set_job_id(finished.job_id());
  v1::Job still;
  ASSERT_TRUE(stub->GetJob(Context().get(), get, &still).ok());
  EXPECT_EQ(still.SerializeAsString(), finished.SerializeAsString());
  EXPECT_EQ(MetricIterations(*stub, finished.job_id()), EveryTenUpTo(50));
  server->Kill(SIGTERM);
  std::filesystem::remove_all(dir);
}

TEST(ServerProcessTest, SigtermCheckpointsRunningJobsAndExitsZero) {
  const std::string dir = TempDir();
  auto server =
      std::make_unique<ServerProcess>(dir, std::vector<std::string>{});
  int port = server->WaitForPort();
  ASSERT_GT(port, 0) << server->Log();
  auto stub = Connect(port);
  const std::string id = Submit(*stub, 100000).job_id();
  const v1::Job running = WaitFor(*stub, id, [](const v1::Job& j) {
    return j.iterations_completed() >= 20;
  });
  ASSERT_EQ(running.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(server->Kill(SIGTERM), 0);
  const std::string log = server->Log();
  EXPECT_NE(log.find("\"event\":\"job_suspended\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"event\":\"stopped\""), std::string::npos) << log;

  server = std::make_unique<ServerProcess>(dir, std::vector<std::string>{});
  port = server->WaitForPort();
  ASSERT_GT(port, 0) << server->Log();
  stub = Connect(port);
  const v1::Job resumed = WaitFor(*stub, id, [](const v1::Job& j) {
    return j.resume_count() == 1 && j.state() == v1::JOB_STATE_RUNNING;
  });
  EXPECT_GE(resumed.checkpoint_iteration(), running.iterations_completed());
  server->Kill(SIGKILL);
  std::filesystem::remove_all(dir);
}

// One request on a bidirectional-streaming method called by name, with
// hand-encoded bytes (the generated stubs of gRPC's own services are not
// installed): the status and whether a response arrived.
grpc::Status RawStreamCall(int port, const std::string& method,
                           const std::string& request_bytes,
                           const std::string& token, bool* got_response) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  auto call = stub.PrepareCall(&context, method, &queue);
  void* tag;
  bool ok;
  auto step = [&](int id) {
    EXPECT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(id));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(1);
  grpc::Slice slice(request_bytes);
  call->Write(grpc::ByteBuffer(&slice, 1), reinterpret_cast<void*>(2));
  step(2);
  call->WritesDone(reinterpret_cast<void*>(3));
  step(3);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  *got_response = step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  return status;
}

TEST(ServerProcessTest, ReflectionNeedsTheTokenHealthDoesNot) {
  const std::string dir = TempDir();
  const std::string token = "a7d3e8f10b2c4d5e6f708192a3b4c5d6";
  std::ofstream(dir + "/token") << token << "\n";
  ServerProcess server(dir, {"--auth_token_file=" + dir + "/token"});
  const int port = server.WaitForPort();
  ASSERT_GT(port, 0) << server.Log();
  // ServerReflectionRequest{list_services: "*"}: field 7, length 1.
  const std::string list_services("\x3a\x01*", 3);
  const std::string reflection =
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
  // Without the right token the call is cancelled before its handler
  // answers (gRPC lets an interceptor cancel, not choose the code).
  bool got_response = true;
  for (const std::string& bad : {std::string(), std::string("wrong")}) {
    EXPECT_FALSE(
        RawStreamCall(port, reflection, list_services, bad, &got_response)
            .ok());
    EXPECT_FALSE(got_response);
  }
  EXPECT_TRUE(
      RawStreamCall(port, reflection, list_services, token, &got_response)
          .ok());
  EXPECT_TRUE(got_response);
  // Health (HealthCheckRequest{service: ""} is empty) needs no token.
  EXPECT_TRUE(
      RawStreamCall(port, "/grpc.health.v1.Health/Check", "", "", &got_response)
          .ok());
  EXPECT_TRUE(got_response);
  EXPECT_EQ(server.Log().find(token), std::string::npos);
  server.Kill(SIGTERM);
  std::filesystem::remove_all(dir);
}

TEST(ServerProcessTest, BadFlagsAndUnusableDataDirFailClearly) {
  const std::string dir = TempDir();
  {
    ServerProcess server(dir, {"--workers=0"});
    EXPECT_EQ(server.Wait(), 2);
    EXPECT_NE(server.Log().find("--workers must be in [1, 256]"),
              std::string::npos);
  }
  {
    ServerProcess server(dir, {"--tls_cert=" + dir + "/missing.pem",
                               "--tls_key=" + dir + "/missing.key"});
    EXPECT_EQ(server.Wait(), 1);
    EXPECT_NE(server.Log().find("missing.pem"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace eprop
