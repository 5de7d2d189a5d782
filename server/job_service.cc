#include "server/job_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/file_stream.h"

namespace eprop::server {
namespace {

// How often a Watch stream checks whether its client has gone.
constexpr absl::Duration kWatchPoll = absl::Milliseconds(250);

bool WriteJob(const v1::Job& job, grpc::ServerWriter<v1::JobEvent>* writer) {
  v1::JobEvent event;
  *event.mutable_job() = job;
  return writer->Write(event);
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

grpc::Status JobServiceImpl::SubmitJob(grpc::ServerContext* context,
                                       const v1::SubmitJobRequest* request,
                                       v1::Job* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  if (!request->has_spec()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("spec is required (at least spec.task)"));
  }
  absl::StatusOr<v1::Job> job = manager_->Submit(request->spec());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::GetJob(grpc::ServerContext* context,
                                    const v1::GetJobRequest* request,
                                    v1::Job* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  absl::StatusOr<v1::Job> job = manager_->Get(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::ListJobs(grpc::ServerContext* context,
                                      const v1::ListJobsRequest* request,
                                      v1::ListJobsResponse* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  absl::StatusOr<v1::ListJobsResponse> list = manager_->List(*request);
  if (!list.ok()) return ToGrpcStatus(list.status());
  *response = *std::move(list);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::CancelJob(grpc::ServerContext* context,
                                       const v1::CancelJobRequest* request,
                                       v1::Job* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  absl::StatusOr<v1::Job> job = manager_->Cancel(request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::DeleteJob(grpc::ServerContext* context,
                                       const v1::DeleteJobRequest* request,
                                       v1::DeleteJobResponse*) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  return ToGrpcStatus(manager_->Delete(request->job_id()));
}

grpc::Status JobServiceImpl::WatchJob(
    grpc::ServerContext* context, const v1::WatchJobRequest* request,
    grpc::ServerWriter<v1::JobEvent>* writer) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  if (request->from_iteration() < 0) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "from_iteration must be >= 0, got ", request->from_iteration())));
  }
  int64_t seen_version = -1;
  int64_t after_iteration = request->from_iteration() - 1;
  v1::JobState sent_state = v1::JOB_STATE_UNSPECIFIED;
  while (!context->IsCancelled()) {
    absl::StatusOr<JobManager::WatchUpdate> update = manager_->WaitForUpdate(
        request->job_id(), seen_version, after_iteration, kWatchPoll);
    if (!update.ok()) return ToGrpcStatus(update.status());
    seen_version = update->version;
    // The job first; later, metrics before the state change they led to, so
    // that the final state is the last event.
    const bool first = sent_state == v1::JOB_STATE_UNSPECIFIED;
    if (first && !WriteJob(update->job, writer)) return grpc::Status::CANCELLED;
    for (const v1::IterationMetrics& m : update->metrics) {
      v1::JobEvent event;
      *event.mutable_metrics() = m;
      if (!writer->Write(event)) return grpc::Status::CANCELLED;
      after_iteration = m.iteration();
    }
    if (!first && update->job.state() != sent_state &&
        !WriteJob(update->job, writer)) {
      return grpc::Status::CANCELLED;
    }
    sent_state = update->job.state();
    if (IsFinal(sent_state)) return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
}

grpc::Status JobServiceImpl::GetMetrics(grpc::ServerContext* context,
                                        const v1::GetMetricsRequest* request,
                                        v1::GetMetricsResponse* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  absl::StatusOr<std::vector<v1::IterationMetrics>> metrics =
      manager_->Metrics(request->job_id(), request->from_iteration());
  if (!metrics.ok()) return ToGrpcStatus(metrics.status());
  for (v1::IterationMetrics& m : *metrics) {
    *response->add_metrics() = std::move(m);
  }
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::ExportCheckpoint(
    grpc::ServerContext* context, const v1::ExportCheckpointRequest* request,
    grpc::ServerWriter<v1::CheckpointChunk>* writer) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  absl::StatusOr<std::pair<std::string, int64_t>> checkpoint =
      manager_->Checkpoint(request->job_id());
  if (!checkpoint.ok()) return ToGrpcStatus(checkpoint.status());
  const int64_t iteration = checkpoint->second;
  return StreamFile(checkpoint->first,
                    absl::StrCat("the checkpoint of job ", request->job_id()),
                    writer, [iteration](v1::CheckpointChunk* chunk) {
                      chunk->set_iteration(iteration);
                    });
}

grpc::Status JobServiceImpl::GetServerInfo(grpc::ServerContext* context,
                                           const v1::GetServerInfoRequest*,
                                           v1::ServerInfo* response) {
  if (grpc::Status s = auth_->Check(*context); !s.ok()) return s;
  *response = info_;
  return grpc::Status::OK;
}

}  // namespace eprop::server
