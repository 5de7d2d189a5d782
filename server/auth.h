// Optional bearer-token authentication: every RPC except grpc.health.v1
// must carry the metadata `authorization: Bearer <token>`. The token is
// read once from a file and never logged.
#ifndef EPROP_SERVER_AUTH_H_
#define EPROP_SERVER_AUTH_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace eprop::server {

class Authenticator {
 public:
  // An empty path disables authentication. The file's content, without
  // surrounding whitespace, is the token; it must be 16 to 4096 printable
  // ASCII characters.
  static absl::StatusOr<Authenticator> FromTokenFile(const std::string& path);

  bool enabled() const { return !token_.empty(); }
  // OK, or UNAUTHENTICATED saying what is missing (never the token).
  grpc::Status Check(const grpc::ServerContextBase& context) const;
  // The same check on raw initial metadata.
  grpc::Status CheckMetadata(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;

 private:
  std::string token_;
};

// Rejects calls without the token for services other than the ones whose
// handlers check it themselves (eprop.v1.*) and grpc.health.v1, such as
// server reflection: the call is cancelled before its handler sees a
// message, so the client gets CANCELLED and no response (an interceptor
// cannot choose the status of a call it stops).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeAuthInterceptorFactory(const Authenticator* authenticator);

}  // namespace eprop::server

#endif  // EPROP_SERVER_AUTH_H_
