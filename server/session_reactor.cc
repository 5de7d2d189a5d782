#include "server/session_reactor.h"

#include <utility>

#include "server/job_service.h"

namespace eprop::server {

SessionReactor::SessionReactor(NetworkManager* networks,
                               const SessionLimits& limits) {
  session_.emplace(networks, limits);
  StartRead(&request_);
}

void SessionReactor::OnReadDone(bool ok) {
  if (!ok) {  // the client half-closed, or the stream broke
    absl::MutexLock lock(&mutex_);
    reading_ = false;
    reads_ended_ = true;
    FinishIfIdle();
    return;
  }
  absl::StatusOr<v1::SessionResponse> response = session_->Handle(request_);
  absl::MutexLock lock(&mutex_);
  reading_ = false;
  if (reads_ended_) {  // a write failed meanwhile: the client is gone
    FinishIfIdle();
  } else if (!response.ok()) {  // fatal: answered by the stream's status
    final_status_ = ToGrpcStatus(response.status());
    reads_ended_ = true;
    FinishIfIdle();
  } else if (writing_in_progress_) {
    waiting_ = *std::move(response);  // OnWriteDone goes on
  } else {
    WriteAndReadNext(*std::move(response));
  }
}

void SessionReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mutex_);
  writing_in_progress_ = false;
  if (!ok) {  // the client is gone: nothing more can be written
    final_status_ = grpc::Status::CANCELLED;
    waiting_.reset();
    reads_ended_ = true;
  } else if (waiting_.has_value()) {
    // No read is in flight while an answer waits: read the next now.
    v1::SessionResponse next = *std::move(waiting_);
    waiting_.reset();
    WriteAndReadNext(std::move(next));
    return;
  }
  FinishIfIdle();
}

void SessionReactor::WriteAndReadNext(v1::SessionResponse response) {
  writing_ = std::move(response);
  writing_in_progress_ = true;
  StartWrite(&writing_);
  reading_ = true;
  StartRead(&request_);
}

void SessionReactor::FinishIfIdle() {
  if (finished_ || !reads_ended_ || reading_ || writing_in_progress_ ||
      waiting_.has_value()) {
    return;
  }
  finished_ = true;
  session_.reset();
  Finish(final_status_);
}

}  // namespace eprop::server
