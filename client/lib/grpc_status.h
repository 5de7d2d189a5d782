// Conversions from the statuses gRPC and the streaming protocols carry to
// absl::Status, shared by the client library's streams.
#ifndef EPROP_CLIENT_LIB_GRPC_STATUS_H_
#define EPROP_CLIENT_LIB_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"

namespace eprop::client {

inline absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// The status of a per-message `status_code` (a google.rpc.Code value; OK
// for 0); codes outside the known range become UNKNOWN.
inline absl::Status FromStatusCode(int code, const std::string& message) {
  if (code < 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    code = static_cast<int>(absl::StatusCode::kUnknown);
  }
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

}  // namespace eprop::client

#endif  // EPROP_CLIENT_LIB_GRPC_STATUS_H_
