// A bidirectional stream that ends at once with a status (e.g.
// UNAUTHENTICATED before a handler sees any message), for any of the
// services' callback-API streams.
#ifndef EPROP_SERVER_REJECTED_REACTOR_H_
#define EPROP_SERVER_REJECTED_REACTOR_H_

#include <grpcpp/grpcpp.h>

namespace eprop::server {

template <typename Request, typename Response>
class RejectedReactor final
    : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RejectedReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_REJECTED_REACTOR_H_
