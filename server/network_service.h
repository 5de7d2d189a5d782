// The gRPC face of the NetworkManager and of streaming sessions.
#ifndef EPROP_SERVER_NETWORK_SERVICE_H_
#define EPROP_SERVER_NETWORK_SERVICE_H_

#include "eprop/v1/networks.grpc.pb.h"
#include "server/auth.h"
#include "server/network_manager.h"
#include "server/session.h"

namespace eprop::server {

// Session runs on gRPC's callback API (server/session_reactor.h), the
// other methods on the synchronous one.
class NetworkServiceImpl final
    : public v1::NetworkService::WithCallbackMethod_Session<
          v1::NetworkService::Service> {
 public:
  // Pointers are not owned.
  NetworkServiceImpl(NetworkManager* networks, const Authenticator* auth,
                     const SessionLimits& limits)
      : networks_(networks), auth_(auth), limits_(limits) {}

  grpc::Status CreateNetwork(grpc::ServerContext* context,
                             const v1::CreateNetworkRequest* request,
                             v1::Network* response) override;
  grpc::Status GetNetwork(grpc::ServerContext* context,
                          const v1::GetNetworkRequest* request,
                          v1::Network* response) override;
  grpc::Status ListNetworks(grpc::ServerContext* context,
                            const v1::ListNetworksRequest* request,
                            v1::ListNetworksResponse* response) override;
  grpc::Status DeleteNetwork(grpc::ServerContext* context,
                             const v1::DeleteNetworkRequest* request,
                             v1::DeleteNetworkResponse* response) override;
  grpc::Status ExportNetwork(
      grpc::ServerContext* context, const v1::ExportNetworkRequest* request,
      grpc::ServerWriter<v1::NetworkChunk>* writer) override;
  grpc::Status ImportNetwork(
      grpc::ServerContext* context,
      grpc::ServerReader<v1::ImportNetworkRequest>* reader,
      v1::Network* response) override;
  grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>* Session(
      grpc::CallbackServerContext* context) override;

 private:
  NetworkManager* networks_;
  const Authenticator* auth_;
  const SessionLimits limits_;
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_NETWORK_SERVICE_H_
