#include "server/environment_service.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/environment_hub.h"
#include "server/job_service.h"
#include "server/log.h"
#include "server/rejected_reactor.h"

namespace eprop::server {
namespace {

using Reactor =
    grpc::ServerBidiReactor<v1::EnvironmentMessage, v1::AgentMessage>;

v1::AgentMessage ErrorMessage(const absl::Status& status) {
  v1::AgentMessage message;
  message.set_status_code(static_cast<int32_t>(status.code()));
  message.set_status_message(std::string(status.message()));
  return message;
}

// One ConnectEnvironment stream (see the header for its behaviour).
//
// Threads: the read callback handles one message at a time; the hub calls
// Deliver and Closed on its decision thread or Close's caller, under its
// delivery lock; gRPC calls OnWriteDone and OnCancel on its threads. All
// shared state is under mu_. Lock order: the hub's delivery lock, then
// mu_, then the hub's state lock; so hub methods that take the delivery
// lock (Leave) and the registry (whose explainer may take other locks) are
// called without mu_.
//
// Lifetime: the hub's callbacks point at this reactor; OnDone (the last
// reaction) calls hub->Leave, which returns only when no callback runs or
// will run, before the reactor deletes itself. Leave waits so even for a
// handle a Close made stale, so handle_ is kept after a close.
class EnvironmentReactor final : public Reactor {
 public:
  EnvironmentReactor(EnvironmentRegistry* registry, std::string peer)
      : registry_(registry), peer_(std::move(peer)) {
    absl::MutexLock lock(&mu_);
    read_in_flight_ = true;
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed, cancelled or went away
      LeaveHub("stream_ended");
      absl::MutexLock lock(&mu_);
      read_in_flight_ = false;
      reads_ended_ = true;
      FinishIfIdle();
      return;
    }
    std::optional<v1::AgentMessage> answer = Handle(request_);
    absl::MutexLock lock(&mu_);
    read_in_flight_ = false;
    if (finished_) return;
    if (answer.has_value()) Enqueue(*std::move(answer));
    MaybeReadNext();
    FinishIfIdle();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) {  // the client is gone: nothing more can be written
      broken_ = true;
      queue_.clear();
      final_status_ = grpc::Status::CANCELLED;
    } else if (!queue_.empty()) {
      v1::AgentMessage next = std::move(queue_.front());
      queue_.pop_front();
      StartWriting(std::move(next));
    }
    MaybeReadNext();
    FinishIfIdle();
  }

  void OnCancel() override { LeaveHub("cancelled"); }

  void OnDone() override {
    LeaveHub("stream_ended");
    delete this;
  }

 private:
  // The hub's on_message: an action for this environment's step.
  void Deliver(const v1::AgentMessage& message) {
    absl::MutexLock lock(&mu_);
    Enqueue(message);
  }

  // The hub's on_closed: the job ended. The slot is already free.
  void Closed(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (closed_by_hub_ || finished_) return;
    closed_by_hub_ = true;
    if (!broken_) final_status_ = ToGrpcStatus(status);
    Log(LogLevel::kInfo, "environment_left",
        {{"job_id", job_id_},
         {"slot", absl::StrCat(handle_.has_value() ? handle_->slot : -1)},
         {"name", name_},
         {"reason", "job_ended"},
         {"status", status.ToString()}});
    FinishIfIdle();
  }

  // Answers one message; nothing if the answer comes from the hub.
  std::optional<v1::AgentMessage> Handle(const v1::EnvironmentMessage& in) {
    std::shared_ptr<EnvironmentHub> hub;
    std::optional<SlotHandle> handle;
    std::string job_id;
    {
      absl::MutexLock lock(&mu_);
      if (closed_by_hub_ || broken_ || finished_) return std::nullopt;
      hub = hub_;
      handle = handle_;
      job_id = job_id_;
    }
    switch (in.message_case()) {
      case v1::EnvironmentMessage::kOpen:
        if (handle.has_value()) return Reopen(*hub, *handle, job_id, in.open());
        return Join(in.open());
      case v1::EnvironmentMessage::kStep: {
        if (!handle.has_value()) {
          return ErrorMessage(absl::InvalidArgumentError(
              "the first message must be an EnvironmentOpen (no open has "
              "been accepted on this stream)"));
        }
        absl::Status s = hub->Step(*handle, in.step());
        // After a Close the stream ends with the job's status (Closed).
        if (!s.ok() && !hub->closed()) return ErrorMessage(s);
        return std::nullopt;  // the action comes through Deliver
      }
      default:
        return ErrorMessage(absl::InvalidArgumentError(
            "an EnvironmentMessage must hold `open` or `step`"));
    }
  }

  v1::AgentMessage Accepted(const EnvironmentHub& hub, int slot) const {
    v1::AgentMessage message;
    message.mutable_accepted()->set_job_id(hub.job_id());
    message.mutable_accepted()->set_slot(slot);
    message.mutable_accepted()->set_max_queueing_delay_ms(
        absl::ToInt64Milliseconds(hub.max_queueing_delay()));
    return message;
  }

  v1::AgentMessage Join(const v1::EnvironmentOpen& open) {
    absl::StatusOr<std::shared_ptr<EnvironmentHub>> hub =
        registry_->Find(open.job_id());
    if (!hub.ok()) return ErrorMessage(hub.status());
    EnvironmentCallbacks callbacks;
    callbacks.on_message = [this](const v1::AgentMessage& message) {
      Deliver(message);
    };
    callbacks.on_closed = [this](const absl::Status& status) {
      Closed(status);
    };
    absl::StatusOr<SlotHandle> handle =
        (*hub)->Join(open, std::move(callbacks));
    if (!handle.ok()) return ErrorMessage(handle.status());
    {
      absl::MutexLock lock(&mu_);
      hub_ = *hub;
      handle_ = *handle;
      job_id_ = open.job_id();
      name_ = open.name();
    }
    Log(LogLevel::kInfo, "environment_joined",
        {{"job_id", open.job_id()},
         {"slot", absl::StrCat(handle->slot)},
         {"name", open.name()},
         {"peer", peer_}});
    return Accepted(**hub, handle->slot);
  }

  std::optional<v1::AgentMessage> Reopen(EnvironmentHub& hub,
                                         const SlotHandle& handle,
                                         const std::string& job_id,
                                         const v1::EnvironmentOpen& open) {
    if (open.job_id() != job_id) {
      return ErrorMessage(absl::FailedPreconditionError(absl::StrCat(
          "this stream is connected to job ", job_id,
          "; open a new stream to connect to job ", open.job_id())));
    }
    if (absl::Status s = hub.Reopen(handle, open); !s.ok()) {
      if (hub.closed()) return std::nullopt;  // the stream is ending
      return ErrorMessage(s);
    }
    {
      absl::MutexLock lock(&mu_);
      name_ = open.name();
    }
    Log(LogLevel::kInfo, "environment_reopened",
        {{"job_id", job_id},
         {"slot", absl::StrCat(handle.slot)},
         {"name", open.name()}});
    return Accepted(hub, handle.slot);
  }

  // Leaves the hub if joined (idempotent). Called without mu_: Leave waits
  // for the hub's deliveries, which take mu_.
  void LeaveHub(const char* reason) {
    std::shared_ptr<EnvironmentHub> hub;
    SlotHandle handle;
    bool log = false;
    std::string job_id, name;
    {
      absl::MutexLock lock(&mu_);
      if (!handle_.has_value()) return;
      hub = hub_;
      handle = *handle_;
      handle_.reset();
      log = !closed_by_hub_;
      job_id = job_id_;
      name = name_;
    }
    hub->Leave(handle);
    if (log) {
      Log(LogLevel::kInfo, "environment_left",
          {{"job_id", job_id},
           {"slot", absl::StrCat(handle.slot)},
           {"name", name},
           {"reason", reason}});
    }
  }

  void Enqueue(v1::AgentMessage message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || broken_) return;
    if (write_in_flight_) {
      queue_.push_back(std::move(message));
    } else {
      StartWriting(std::move(message));
    }
  }

  void StartWriting(v1::AgentMessage message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = std::move(message);
    write_in_flight_ = true;
    StartWrite(&writing_);
  }

  // Reads the next message unless an answer waits for the one being written
  // (flow control) or the stream is ending.
  void MaybeReadNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || read_in_flight_ || reads_ended_ || closed_by_hub_ ||
        broken_ || !queue_.empty()) {
      return;
    }
    read_in_flight_ = true;
    StartRead(&request_);
  }

  // Finishes once the stream is ending and every answer is written. A read
  // may still be in flight (it then completes with ok = false).
  void FinishIfIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || !(reads_ended_ || closed_by_hub_ || broken_) ||
        write_in_flight_ || !queue_.empty()) {
      return;
    }
    finished_ = true;
    Finish(final_status_);
  }

  EnvironmentRegistry* const registry_;
  const std::string peer_;
  // Only the read path touches it, one read at a time.
  v1::EnvironmentMessage request_;

  absl::Mutex mu_;
  // Set by an accepted open; hub_ stays until the reactor is deleted.
  std::shared_ptr<EnvironmentHub> hub_ ABSL_GUARDED_BY(mu_);
  std::optional<SlotHandle> handle_ ABSL_GUARDED_BY(mu_);  // until left
  std::string job_id_ ABSL_GUARDED_BY(mu_);
  std::string name_ ABSL_GUARDED_BY(mu_);
  v1::AgentMessage writing_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::AgentMessage> queue_ ABSL_GUARDED_BY(mu_);
  bool read_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_by_hub_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // a write failed
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerBidiReactor<v1::EnvironmentMessage, v1::AgentMessage>*
EnvironmentServiceImpl::ConnectEnvironment(
    grpc::CallbackServerContext* context) {
  if (auth_ != nullptr) {
    if (grpc::Status s = auth_->Check(*context); !s.ok()) {
      return new RejectedReactor<v1::EnvironmentMessage, v1::AgentMessage>(s);
    }
  }
  return new EnvironmentReactor(registry_, context->peer());
}

}  // namespace eprop::server
