// The gRPC side of one Session stream (networks.proto), on gRPC's callback
// API: it reads a message, lets server::Session answer it, and writes the
// answer. The next message is read while the last answer is still being
// written, so a client that sends ahead keeps the session busy without
// waiting for a round trip. At most one answer waits for the one being
// written, and no message is read while it waits: a client that does not
// read its answers stops being read (gRPC flow control), so nothing is
// buffered without bound.
#ifndef EPROP_SERVER_SESSION_REACTOR_H_
#define EPROP_SERVER_SESSION_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <optional>

#include "absl/synchronization/mutex.h"
#include "eprop/v1/networks.pb.h"
#include "server/session.h"

namespace eprop::server {

class SessionReactor final
    : public grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse> {
 public:
  // Starts reading; the reactor deletes itself when the stream is done.
  SessionReactor(NetworkManager* networks, const SessionLimits& limits);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  // Starts writing `response` and reading the next message.
  void WriteAndReadNext(v1::SessionResponse response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Once nothing is read or written any more: ends the session (which
  // saves a learning session and releases the network), then the stream,
  // so a client sees the network free when its stream has ended.
  void FinishIfIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  // Only the read callback and FinishIfIdle (after the last read) touch
  // session_ and request_, one at a time, so they need no lock.
  std::optional<Session> session_;
  v1::SessionRequest request_;
  absl::Mutex mutex_;
  v1::SessionResponse writing_ ABSL_GUARDED_BY(mutex_);
  std::optional<v1::SessionResponse> waiting_ ABSL_GUARDED_BY(mutex_);
  bool reading_ ABSL_GUARDED_BY(mutex_) = true;
  bool writing_in_progress_ ABSL_GUARDED_BY(mutex_) = false;
  bool reads_ended_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_SESSION_REACTOR_H_
