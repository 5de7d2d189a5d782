// The gRPC face of the JobManager: each handler authenticates, validates the
// request, calls the manager and converts the status.
#ifndef EPROP_SERVER_JOB_SERVICE_H_
#define EPROP_SERVER_JOB_SERVICE_H_

#include "eprop/v1/jobs.grpc.pb.h"
#include "server/auth.h"
#include "server/job_manager.h"

namespace eprop::server {

// The one conversion from absl::Status (same code numbers) to grpc::Status.
grpc::Status ToGrpcStatus(const absl::Status& status);

class JobServiceImpl final : public v1::JobService::Service {
 public:
  // `info` is returned by GetServerInfo. Neither pointer is owned.
  JobServiceImpl(JobManager* manager, const Authenticator* auth,
                 v1::ServerInfo info)
      : manager_(manager), auth_(auth), info_(std::move(info)) {}

  grpc::Status SubmitJob(grpc::ServerContext* context,
                         const v1::SubmitJobRequest* request,
                         v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context,
                      const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context,
                        const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context,
                         const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status DeleteJob(grpc::ServerContext* context,
                         const v1::DeleteJobRequest* request,
                         v1::DeleteJobResponse* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context,
                        const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobEvent>* writer) override;
  grpc::Status GetMetrics(grpc::ServerContext* context,
                          const v1::GetMetricsRequest* request,
                          v1::GetMetricsResponse* response) override;
  grpc::Status ExportCheckpoint(
      grpc::ServerContext* context, const v1::ExportCheckpointRequest* request,
      grpc::ServerWriter<v1::CheckpointChunk>* writer) override;
  grpc::Status GetServerInfo(grpc::ServerContext* context,
                             const v1::GetServerInfoRequest* request,
                             v1::ServerInfo* response) override;

 private:
  JobManager* manager_;
  const Authenticator* auth_;
  const v1::ServerInfo info_;
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_JOB_SERVICE_H_
