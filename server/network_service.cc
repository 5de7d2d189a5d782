#include "server/network_service.h"

#include "absl/strings/str_cat.h"
#include "server/file_stream.h"
#include "server/job_service.h"
#include "server/rejected_reactor.h"
#include "server/session_reactor.h"

namespace eprop::server {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status NetworkServiceImpl::CreateNetwork(
    grpc::ServerContext* context, const v1::CreateNetworkRequest* request,
    v1::Network* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  return Reply(networks_->CreateNetwork(*request), response);
}

grpc::Status NetworkServiceImpl::GetNetwork(
    grpc::ServerContext* context, const v1::GetNetworkRequest* request,
    v1::Network* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  return Reply(networks_->Get(request->network_id()), response);
}

grpc::Status NetworkServiceImpl::ListNetworks(
    grpc::ServerContext* context, const v1::ListNetworksRequest* request,
    v1::ListNetworksResponse* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  return Reply(networks_->List(*request), response);
}

grpc::Status NetworkServiceImpl::DeleteNetwork(
    grpc::ServerContext* context, const v1::DeleteNetworkRequest* request,
    v1::DeleteNetworkResponse*) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  return ToGrpcStatus(networks_->Delete(request->network_id()));
}

grpc::Status NetworkServiceImpl::ExportNetwork(
    grpc::ServerContext* context, const v1::ExportNetworkRequest* request,
    grpc::ServerWriter<v1::NetworkChunk>* writer) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  absl::StatusOr<std::string> path =
      networks_->StatePath(request->network_id());
  if (!path.ok()) return ToGrpcStatus(path.status());
  return StreamFile(
      *path, absl::StrCat("the state of network ", request->network_id()),
      writer, [](v1::NetworkChunk*) {});
}

grpc::Status NetworkServiceImpl::ImportNetwork(
    grpc::ServerContext* context,
    grpc::ServerReader<v1::ImportNetworkRequest>* reader,
    v1::Network* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  v1::ImportNetworkRequest request;
  if (!reader->Read(&request) || !request.has_spec()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "the first ImportNetworkRequest must hold the network's spec"));
  }
  const v1::JobSpec spec = request.spec();
  std::string bytes;
  while (reader->Read(&request)) {
    if (!request.has_data()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          "after the spec, ImportNetworkRequests hold data only"));
    }
    if (static_cast<int64_t>(bytes.size() + request.data().size()) >
        limits_.max_memory_bytes) {
      return ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
          "the imported file exceeds ", limits_.max_memory_bytes >> 20,
          " MiB (--max_job_memory_mb)")));
    }
    bytes += request.data();
  }
  return Reply(networks_->Import(spec, bytes), response);
}

grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>*
NetworkServiceImpl::Session(grpc::CallbackServerContext* context) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) {
    return new RejectedReactor<v1::SessionRequest, v1::SessionResponse>(s);
  }
  return new SessionReactor(networks_, limits_);
}

}  // namespace eprop::server
