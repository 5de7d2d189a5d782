// eprop-server: hosts training jobs over gRPC (proto/eprop/v1/jobs.proto).
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/file_io.h"
#include "server/auth.h"
#include "server/environment_registry.h"
#include "server/environment_service.h"
#include "server/job_manager.h"
#include "server/job_service.h"
#include "server/log.h"
#include "server/network_service.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on (0.0.0.0 for all interfaces, e.g. in a "
          "container)");
ABSL_FLAG(int, port, 50051, "TCP port to listen on (0: pick a free port)");
ABSL_FLAG(std::string, data_dir, "eprop-data",
          "Directory for durable job data (specs, states, metrics, "
          "checkpoints)");
ABSL_FLAG(int, workers, 2, "Jobs that train at the same time");
ABSL_FLAG(int, threads_per_job, 1,
          "Threads a job trains with unless its spec asks for fewer (at "
          "most this many)");
ABSL_FLAG(int, max_queued_jobs, 64,
          "Jobs that may wait for a worker; further submissions get "
          "RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_job_memory_mb, 4096,
          "Memory one job may need (weights, optimizer state and one "
          "batch's trajectory)");
ABSL_FLAG(int64_t, max_iterations, 1000000,
          "Largest schedule.max_iterations a job may ask for");
ABSL_FLAG(int, max_neurons, 20000,
          "Largest number of recurrent neurons of a job's network");
ABSL_FLAG(std::string, auth_token_file, "",
          "File with the bearer token every RPC except health must carry "
          "(empty: no authentication)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain for TLS (with --tls_key; empty: plaintext)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for TLS");
ABSL_FLAG(int, shutdown_timeout_s, 30,
          "On SIGTERM/SIGINT, how long open RPCs may take to finish");

namespace eprop::server {

constexpr char kVersion[] = "0.1.0";
constexpr int kMaxMessageBytes = 256 << 20;

namespace {

#ifndef EPROP_BUILD_OPTIONS
#define EPROP_BUILD_OPTIONS "unknown"
#endif

absl::Status CheckFlags() {
  auto in = [](int64_t v, int64_t lo, int64_t hi) {
    return v >= lo && v <= hi;
  };
  if (!in(absl::GetFlag(FLAGS_port), 0, 65535)) {
    return absl::InvalidArgumentError("--port must be in [0, 65535]");
  }
  if (!in(absl::GetFlag(FLAGS_workers), 1, 256)) {
    return absl::InvalidArgumentError("--workers must be in [1, 256]");
  }
  if (!in(absl::GetFlag(FLAGS_threads_per_job), 1, 256)) {
    return absl::InvalidArgumentError("--threads_per_job must be in [1, 256]");
  }
  if (!in(absl::GetFlag(FLAGS_max_queued_jobs), 0, 1000000)) {
    return absl::InvalidArgumentError(
        "--max_queued_jobs must be in [0, 1000000]");
  }
  if (!in(absl::GetFlag(FLAGS_max_job_memory_mb), 1, int64_t{1} << 24)) {
    return absl::InvalidArgumentError(
        "--max_job_memory_mb must be in [1, 16777216]");
  }
  if (!in(absl::GetFlag(FLAGS_max_iterations), 1, 100000000)) {
    return absl::InvalidArgumentError("--max_iterations must be in [1, 1e8]");
  }
  if (!in(absl::GetFlag(FLAGS_max_neurons), 1, 1000000)) {
    return absl::InvalidArgumentError("--max_neurons must be in [1, 1e6]");
  }
  if (absl::GetFlag(FLAGS_tls_cert).empty() !=
      absl::GetFlag(FLAGS_tls_key).empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key must be given together");
  }
  if (!in(absl::GetFlag(FLAGS_shutdown_timeout_s), 0, 3600)) {
    return absl::InvalidArgumentError(
        "--shutdown_timeout_s must be in [0, 3600]");
  }
  return absl::OkStatus();
}

JobManagerOptions ManagerOptions() {
  JobManagerOptions options;
  options.workers = absl::GetFlag(FLAGS_workers);
  options.max_queued_jobs = absl::GetFlag(FLAGS_max_queued_jobs);
  options.limits.max_iterations = absl::GetFlag(FLAGS_max_iterations);
  options.limits.max_neurons = absl::GetFlag(FLAGS_max_neurons);
  options.limits.max_job_memory_bytes = absl::GetFlag(FLAGS_max_job_memory_mb)
                                        << 20;
  options.limits.default_threads = absl::GetFlag(FLAGS_threads_per_job);
  options.limits.max_threads = absl::GetFlag(FLAGS_threads_per_job);
  return options;
}

v1::ServerInfo MakeServerInfo(const JobManagerOptions& options, bool tls,
                              bool auth) {
  v1::ServerInfo info;
  info.set_version(kVersion);
  info.set_workers(options.workers);
  info.set_max_queued_jobs(options.max_queued_jobs);
  info.set_threads_per_job(options.limits.default_threads);
  info.set_max_job_memory_bytes(options.limits.max_job_memory_bytes);
  info.set_max_iterations(options.limits.max_iterations);
  info.set_max_neurons(options.limits.max_neurons);
  info.set_tls(tls);
  info.set_auth(auth);
  info.set_build_options(EPROP_BUILD_OPTIONS);
  for (v1::Task task : kJobTasks) info.add_tasks(TaskName(task));
  for (v1::Algorithm a :
       {v1::ALGORITHM_BPTT, v1::ALGORITHM_EPROP_SYMMETRIC,
        v1::ALGORITHM_EPROP_RANDOM, v1::ALGORITHM_EPROP_ADAPTIVE}) {
    info.add_algorithms(AlgorithmNameOf(a));
  }
  return info;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials() {
  const std::string cert_path = absl::GetFlag(FLAGS_tls_cert);
  if (cert_path.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadFileToString(cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key =
      ReadFileToString(absl::GetFlag(FLAGS_tls_key));
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

int Fail(const std::string& event, const absl::Status& status) {
  Log(LogLevel::kError, event, {{"error", std::string(status.message())}});
  return 1;
}

// Blocks SIGTERM and SIGINT in every thread started after this call, so
// that WaitForSignal() receives them synchronously.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int Run() {
  if (absl::Status s = CheckFlags(); !s.ok()) {
    std::cerr << "eprop-server: " << s.message() << "\n";
    return 2;
  }
  const sigset_t signals = BlockShutdownSignals();
  absl::StatusOr<Authenticator> auth =
      Authenticator::FromTokenFile(absl::GetFlag(FLAGS_auth_token_file));
  if (!auth.ok()) return Fail("bad_auth_token_file", auth.status());
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      Credentials();
  if (!credentials.ok()) return Fail("bad_tls_files", credentials.status());
  absl::StatusOr<std::unique_ptr<JobStore>> store =
      JobStore::Open(absl::GetFlag(FLAGS_data_dir));
  if (!store.ok()) return Fail("bad_data_dir", store.status());

  // Declared before the manager, whose jobs register in it, so that it
  // outlives them.
  EnvironmentRegistry environments;
  JobManagerOptions options = ManagerOptions();
  options.environments = &environments;
  std::unique_ptr<JobManager> manager =
      JobManager::Create(*std::move(store), options);
  environments.SetExplainer([jobs = manager.get()](const std::string& id) {
    return jobs->WhyNoEnvironments(id);
  });
  for (const std::string& error : manager->load_errors()) {
    Log(LogLevel::kWarning, "job_not_loaded", {{"error", error}});
  }
  absl::StatusOr<std::unique_ptr<NetworkManager>> networks =
      NetworkManager::Create(absl::GetFlag(FLAGS_data_dir), options.limits,
                             manager.get());
  if (!networks.ok()) return Fail("bad_data_dir", networks.status());
  SessionLimits session_limits;
  session_limits.max_memory_bytes = options.limits.max_job_memory_bytes;
  NetworkServiceImpl network_service(networks->get(), &*auth, session_limits);
  EnvironmentServiceImpl environment_service(&environments, &*auth);
  JobServiceImpl service(
      manager.get(), &*auth,
      MakeServerInfo(options, !absl::GetFlag(FLAGS_tls_cert).empty(),
                     auth->enabled()));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string address =
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  int port = 0;
  builder.AddListeningPort(address, *credentials, &port);
  builder.RegisterService(&service);
  builder.RegisterService(&network_service);
  builder.RegisterService(&environment_service);
  // Oversized session chunks get a per-message error from the session
  // (SessionLimits); only messages beyond this end a stream.
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(MakeAuthInterceptorFactory(&*auth));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail("listen_failed",
                absl::UnavailableError(absl::StrCat(
                    "cannot listen on ", address,
                    " (in use, or not an address of this machine?)")));
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  manager->Start();
  Log(LogLevel::kInfo, "listening",
      {{"address", absl::StrCat(absl::GetFlag(FLAGS_host), ":", port)},
       {"port", absl::StrCat(port)},
       {"data_dir", absl::GetFlag(FLAGS_data_dir)},
       {"workers", absl::StrCat(options.workers)},
       {"tls", absl::GetFlag(FLAGS_tls_cert).empty() ? "off" : "on"},
       {"auth", auth->enabled() ? "on" : "off"}});

  int signal = 0;
  sigwait(&signals, &signal);
  Log(LogLevel::kInfo, "shutting_down", {{"signal", strsignal(signal)}});
  server->GetHealthCheckService()->SetServingStatus(false);
  // The server stops accepting calls and gives open ones the timeout,
  // while jobs stop at their next iteration boundary and checkpoint and
  // Watch streams are told the server is going away.
  std::thread stop_rpcs([&server] {
    server->Shutdown(
        std::chrono::system_clock::now() +
        std::chrono::seconds(absl::GetFlag(FLAGS_shutdown_timeout_s)));
  });
  manager->Shutdown();
  stop_rpcs.join();
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace eprop::server

int main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  // --help and --helpshort list this file's flags, not Abseil's and gRPC's.
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::EndsWith(path, "server/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.version_string = [] {
    return std::string("eprop-server ") + eprop::server::kVersion + "\n";
  };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "hosts e-prop training jobs over gRPC.\n\n"
      "  eprop-server --data_dir=DIR [--port=50051] [--workers=2] ...\n\n"
      "Jobs, metrics and checkpoints live under --data_dir; after a crash or\n"
      "restart, running jobs resume from their last checkpoint. SIGTERM or\n"
      "SIGINT stops gracefully. Logs are JSON lines on stderr.");
  absl::ParseCommandLine(argc, argv);
  return eprop::server::Run();
}
