// An eprop JobService, NetworkService and EnvironmentService on a loopback
// port inside the test process, with a
// data directory that survives Restart(), as a restarted server process's
// would.
#ifndef EPROP_TESTS_SERVER_TESTING_IN_PROCESS_SERVER_H_
#define EPROP_TESTS_SERVER_TESTING_IN_PROCESS_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "eprop/v1/jobs.grpc.pb.h"
#include "server/auth.h"
#include "server/environment_registry.h"
#include "server/environment_service.h"
#include "server/job_manager.h"
#include "server/job_service.h"
#include "server/network_service.h"

namespace eprop::server::testing {

inline std::string MakeTempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "eprop-test-XXXXXX").string();
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  return pattern;
}

struct ServerOptions {
  JobManagerOptions manager;
  std::string token;  // empty: no auth
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  SessionLimits session;
};

class InProcessServer {
 public:
  explicit InProcessServer(ServerOptions options = {})
      : options_(std::move(options)), data_dir_(MakeTempDir()) {
    Start();
  }
  ~InProcessServer() {
    Stop();
    std::filesystem::remove_all(data_dir_);
  }

  // Stops like a SIGTERM'ed server (running jobs checkpoint and stay
  // RUNNING on disk) and starts again on the same data directory.
  void Restart() {
    Stop();
    Start();
  }

  std::unique_ptr<v1::NetworkService::Stub> NetworkStub() const {
    return v1::NetworkService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<v1::JobService::Stub> Stub(
      std::shared_ptr<grpc::ChannelCredentials> credentials =
          grpc::InsecureChannelCredentials()) const {
    return v1::JobService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_), std::move(credentials)));
  }

  std::unique_ptr<v1::EnvironmentService::Stub> EnvironmentStub() const {
    return v1::EnvironmentService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }

  JobManager& manager() { return *manager_; }
  const std::string& data_dir() const { return data_dir_; }
  int port() const { return port_; }

 private:
  void Start() {
    std::string token_file;
    if (!options_.token.empty()) {
      token_file = data_dir_ + "/token";
      std::ofstream(token_file) << options_.token << "\n";
    }
    absl::StatusOr<Authenticator> auth =
        Authenticator::FromTokenFile(token_file);
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = std::make_unique<Authenticator>(*auth);
    absl::StatusOr<std::unique_ptr<JobStore>> store =
        JobStore::Open(data_dir_ + "/data");
    ASSERT_TRUE(store.ok()) << store.status();
    environments_ = std::make_unique<EnvironmentRegistry>();
    JobManagerOptions manager_options = options_.manager;
    manager_options.environments = environments_.get();
    manager_ = JobManager::Create(*std::move(store), manager_options);
    environments_->SetExplainer([jobs = manager_.get()](const std::string& id) {
      return jobs->WhyNoEnvironments(id);
    });
    environment_service_ = std::make_unique<EnvironmentServiceImpl>(
        environments_.get(), auth_.get());
    absl::StatusOr<std::unique_ptr<NetworkManager>> networks =
        NetworkManager::Create(data_dir_ + "/data", options_.manager.limits,
                               manager_.get());
    ASSERT_TRUE(networks.ok()) << networks.status();
    networks_ = *std::move(networks);
    network_service_ = std::make_unique<NetworkServiceImpl>(
        networks_.get(), auth_.get(), options_.session);
    v1::ServerInfo info;
    info.set_version("test");
    service_ =
        std::make_unique<JobServiceImpl>(manager_.get(), auth_.get(), info);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", options_.credentials, &port_);
    builder.RegisterService(service_.get());
    builder.RegisterService(network_service_.get());
    builder.RegisterService(environment_service_.get());
    builder.SetMaxReceiveMessageSize(256 << 20);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    manager_->Start();
  }

  void Stop() {
    if (server_ == nullptr) return;
    manager_->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
    server_.reset();
    network_service_.reset();
    networks_.reset();
    service_.reset();
    environment_service_.reset();
    manager_.reset();
    environments_.reset();
  }

  ServerOptions options_;
  std::string data_dir_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<EnvironmentRegistry> environments_;
  std::unique_ptr<EnvironmentServiceImpl> environment_service_;
  std::unique_ptr<JobManager> manager_;
  std::unique_ptr<JobServiceImpl> service_;
  std::unique_ptr<NetworkManager> networks_;
  std::unique_ptr<NetworkServiceImpl> network_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// A context with a deadline, as every client call should have.
inline std::unique_ptr<grpc::ClientContext> Context(
    const std::string& token = "", int timeout_s = 30) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(timeout_s));
  if (!token.empty()) {
    context->AddMetadata("authorization", "Bearer " + token);
  }
  return context;
}

}  // namespace eprop::server::testing

#endif  // EPROP_TESTS_SERVER_TESTING_IN_PROCESS_SERVER_H_
