// The CLI's side of the gRPC connection to eprop-server: the global flags
// that describe it, the channel with its credentials, per-call contexts
// (deadline, bearer token), the standard health check, and the one-line
// form of an RPC failure.
#ifndef EPROP_CLIENT_CLI_CONNECTION_H_
#define EPROP_CLIENT_CLI_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eprop/v1/jobs.grpc.pb.h"

namespace eprop::cli {

// Flags given before the command: `eprop [global flags] COMMAND [flags]`.
struct GlobalOptions {
  std::string server;       // host:port
  std::string token_file;   // bearer token; empty: none
  std::string tls_ca_file;  // PEM of the CA; empty: plaintext
  bool json = false;        // --output json
  int timeout_s = 30;       // deadline of unary calls, connection wait
};

struct Invocation {
  GlobalOptions options;
  bool help = false;              // --help before any command
  std::string command;            // empty when none was given
  std::vector<std::string> args;  // everything after the command
};

// Splits argv (without the program name) into global flags, command and
// the command's arguments. The default server is $EPROP_SERVER, else
// 127.0.0.1:50051. INVALID_ARGUMENT for an unknown global flag or bad value.
absl::StatusOr<Invocation> ParseInvocation(
    const std::vector<std::string>& argv);

// Help lines of the global flags.
std::string GlobalFlagHelp();

// The bearer token (--token-file; empty without one) and the channel
// credentials (--tls-ca: TLS with that CA; else plaintext) of the global
// flags.
struct ClientCredentials {
  std::string token;
  std::shared_ptr<grpc::ChannelCredentials> channel;
};
absl::StatusOr<ClientCredentials> ReadCredentials(const GlobalOptions& options);

class Connection {
 public:
  // Reads the token and CA files and creates the channel, which connects
  // lazily on the first call. Fails (naming the flag and file) when a file
  // cannot be read or the token file is empty.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const GlobalOptions& options);

  // A context for one unary call: deadline now + timeout, the token.
  std::unique_ptr<grpc::ClientContext> UnaryContext() const;
  // A context for a streaming call: no deadline, the token.
  std::unique_ptr<grpc::ClientContext> StreamContext() const;

  // One unary JobService call with UnaryContext(); failures as RpcError().
  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (v1::JobService::Stub::*method)(
                        grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response) {
    std::unique_ptr<grpc::ClientContext> context = UnaryContext();
    const grpc::Status status =
        ((*stub_).*method)(context.get(), request, response);
    return status.ok() ? absl::OkStatus() : RpcError(status);
  }

  // Waits at most the timeout for the channel to connect, so that a
  // streaming call (which has no deadline) does not hang on an unreachable
  // server. OK as soon as the channel is ready or a connection attempt has
  // failed (the call then fails fast with the reason).
  absl::Status AwaitChannel();

  // grpc.health.v1.Health/Check for the whole server (service ""), without
  // the token: the ServingStatus number (1: SERVING) or the RPC failure.
  absl::StatusOr<int> CheckHealth();

  // `status` (not OK) as an absl::Status with the same code whose message
  // is the text to print after "eprop CMD: ": "CODE: message", or for a
  // server that cannot be reached "cannot reach eprop-server at HOST:PORT
  // (CODE): message".
  absl::Status RpcError(const grpc::Status& status) const;

  v1::JobService::Stub& jobs() { return *stub_; }
  const std::string& target() const { return options_.server; }

 private:
  Connection(const GlobalOptions& options, std::string token,
             std::shared_ptr<grpc::Channel> channel);

  GlobalOptions options_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> stub_;
};

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_CONNECTION_H_
