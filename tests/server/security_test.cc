// Bearer-token authentication on every job RPC, and TLS.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/util/file_io.h"
#include "tests/server/testing/in_process_server.h"

namespace eprop::server {
namespace {

using testing::Context;
using testing::InProcessServer;
using testing::ServerOptions;

constexpr char kToken[] = "3f1c9a7e5b2d4c6a8e0f1b3d5c7a9e2f";

TEST(AuthTest, JobRpcsNeedTheRightToken) {
  ServerOptions options;
  options.token = kToken;
  InProcessServer server(options);
  auto stub = server.Stub();
  v1::ServerInfo info;
  v1::ListJobsResponse page;
  v1::Job job;
  v1::SubmitJobRequest submit;
  submit.mutable_spec()->set_task(v1::TASK_PATTERN_GENERATION);
  submit.mutable_spec()->mutable_schedule()->set_max_iterations(1);

  for (const std::string& token :
       {std::string(), std::string("wrong"), std::string(kToken) + "x"}) {
    grpc::Status status = stub->GetServerInfo(
        Context(token).get(), v1::GetServerInfoRequest(), &info);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message().find(kToken), std::string::npos);
    EXPECT_EQ(stub->ListJobs(Context(token).get(), v1::ListJobsRequest(), &page)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(stub->SubmitJob(Context(token).get(), submit, &job).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // A rejected submit stored nothing.
  ASSERT_TRUE(
      stub->ListJobs(Context(kToken).get(), v1::ListJobsRequest(), &page).ok());
  EXPECT_EQ(page.jobs_size(), 0);
  EXPECT_TRUE(stub->SubmitJob(Context(kToken).get(), submit, &job).ok());
  EXPECT_TRUE(stub->GetServerInfo(Context(kToken).get(),
                                  v1::GetServerInfoRequest(), &info)
                  .ok());
}

TEST(AuthTest, SessionStreamsNeedTheRightToken) {
  ServerOptions options;
  options.token = kToken;
  InProcessServer server(options);
  auto networks = server.NetworkStub();
  v1::SessionRequest open;
  open.mutable_open()->set_network_id("net-000001");
  open.mutable_open()->set_batch_size(1);
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    auto context = Context(token);
    auto stream = networks->Session(context.get());
    stream->Write(open);
    v1::SessionResponse response;
    EXPECT_FALSE(stream->Read(&response));
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message().find(kToken), std::string::npos);
  }
  // With the token the stream is served (the network does not exist).
  auto context = Context(kToken);
  auto stream = networks->Session(context.get());
  ASSERT_TRUE(stream->Write(open));
  v1::SessionResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(AuthTest, TokenFileMustHoldAUsableToken) {
  const std::string dir = testing::MakeTempDir();
  EXPECT_TRUE(Authenticator::FromTokenFile("").ok());
  EXPECT_FALSE(Authenticator::FromTokenFile(dir + "/missing").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/short", "abc\n").ok());
  EXPECT_FALSE(Authenticator::FromTokenFile(dir + "/short").ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/spaces", "0123456789 abcdef0123\n").ok());
  EXPECT_FALSE(Authenticator::FromTokenFile(dir + "/spaces").ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/good", std::string(kToken) + "\n").ok());
  absl::StatusOr<Authenticator> good =
      Authenticator::FromTokenFile(dir + "/good");
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->enabled());
  std::filesystem::remove_all(dir);
}

// A self-signed certificate for localhost, made with openssl.
struct Certificate {
  std::string cert;
  std::string key;
};

Certificate MakeCertificate(const std::string& dir) {
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      dir + "/key.pem -out " + dir + "/cert.pem 2>/dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << "openssl is required";
  return {*ReadFileToString(dir + "/cert.pem"),
          *ReadFileToString(dir + "/key.pem")};
}

TEST(TlsTest, ClientsMustSpeakTlsAndTrustTheCertificate) {
  const std::string dir = testing::MakeTempDir();
  const Certificate certificate = MakeCertificate(dir);
  grpc::SslServerCredentialsOptions tls;
  tls.pem_key_cert_pairs.push_back({certificate.key, certificate.cert});
  ServerOptions options;
  options.credentials = grpc::SslServerCredentials(tls);
  InProcessServer server(options);

  grpc::SslCredentialsOptions trust;
  trust.pem_root_certs = certificate.cert;
  v1::ServerInfo info;
  EXPECT_TRUE(server.Stub(grpc::SslCredentials(trust))
                  ->GetServerInfo(Context("", 10).get(),
                                  v1::GetServerInfoRequest(), &info)
                  .ok());
  // Plaintext, or TLS without trusting this certificate, cannot connect.
  EXPECT_EQ(server.Stub()
                ->GetServerInfo(Context("", 2).get(),
                                v1::GetServerInfoRequest(), &info)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.Stub(grpc::SslCredentials(grpc::SslCredentialsOptions()))
                ->GetServerInfo(Context("", 2).get(),
                                v1::GetServerInfoRequest(), &info)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace eprop::server
