// The gRPC face of the environment hubs: EnvironmentService.
// ConnectEnvironment (proto/eprop/v1/environments.proto) on gRPC's callback
// API. One stream is one remote environment: its EnvironmentOpen finds the
// job's hub in the EnvironmentRegistry and joins it; its steps go to the
// hub, whose decision thread answers them with actions.
//
// Stream behaviour:
//   - Without the bearer token (when auth is on) the stream ends at once
//     with UNAUTHENTICATED.
//   - Per-message errors (AgentMessage.status_code, the stream stays open):
//     a step before an accepted open or a message without open/step
//     (INVALID_ARGUMENT), the registry's answer for a job without a hub
//     (NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE), the hub's Join, Reopen
//     and Step errors (e.g. RESOURCE_EXHAUSTED for a full job), and an open
//     for another job than the one this stream joined (FAILED_PRECONDITION).
//   - The stream's end (half-close, cancellation, a broken connection)
//     leaves the hub; a half-closed stream ends OK once its answers are
//     written.
//   - When the job ends (EnvironmentHub::Close, through
//     EnvironmentRegistry::Remove) the stream ends with the job's status
//     after the answers already queued.
//
// Writes are serialised: answers come from the read callback (accepted,
// errors) and from the hub's decision thread (actions); one is written at a
// time, the others wait in a queue. No message is read while an answer
// waits, and the hub accepts one step per environment until its action is
// delivered, so the queue holds at most a few messages.
#ifndef EPROP_SERVER_ENVIRONMENT_SERVICE_H_
#define EPROP_SERVER_ENVIRONMENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "eprop/v1/environments.grpc.pb.h"
#include "server/auth.h"
#include "server/environment_registry.h"

namespace eprop::server {

class EnvironmentServiceImpl final
    : public v1::EnvironmentService::CallbackService {
 public:
  // Pointers are not owned and must outlive the server's streams. A null
  // `auth` disables authentication.
  EnvironmentServiceImpl(EnvironmentRegistry* registry,
                         const Authenticator* auth)
      : registry_(registry), auth_(auth) {}

  grpc::ServerBidiReactor<v1::EnvironmentMessage, v1::AgentMessage>*
  ConnectEnvironment(grpc::CallbackServerContext* context) override;

 private:
  EnvironmentRegistry* registry_;
  const Authenticator* auth_;
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_ENVIRONMENT_SERVICE_H_
