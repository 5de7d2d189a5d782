// Persists a learning session's network state on a background thread, so
// that chunks do not wait for the disk (a large network's state is tens of
// MB, and every save is fsync'ed). Only the newest state matters: one
// submitted while an older one still waits replaces it, and their trained
// steps add up.
#ifndef EPROP_SERVER_NETWORK_SAVER_H_
#define EPROP_SERVER_NETWORK_SAVER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/train/checkpoint.h"
#include "server/network_manager.h"

namespace eprop::server {

class NetworkSaver {
 public:
  // `networks` is not owned and must outlive the saver.
  NetworkSaver(NetworkManager* networks, std::string network_id);
  // Saves what is still pending, then stops the thread.
  ~NetworkSaver();
  NetworkSaver(const NetworkSaver&) = delete;
  NetworkSaver& operator=(const NetworkSaver&) = delete;

  // Queues `state` and the steps trained since the last submission.
  void Submit(TrainingCheckpoint state, int64_t new_steps)
      ABSL_LOCKS_EXCLUDED(mutex_);
  // Waits until everything submitted is on disk (or failed: failures are
  // logged, and their steps are carried to the next save).
  void Flush() ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  struct Pending {
    TrainingCheckpoint state;
    int64_t new_steps = 0;
  };
  void Run() ABSL_LOCKS_EXCLUDED(mutex_);
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return !pending_.has_value() && !saving_;
  }
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return pending_.has_value() || stopping_;
  }

  NetworkManager* const networks_;
  const std::string network_id_;
  absl::Mutex mutex_;
  std::optional<Pending> pending_ ABSL_GUARDED_BY(mutex_);
  int64_t unsaved_steps_ ABSL_GUARDED_BY(mutex_) = 0;  // of failed saves
  bool saving_ ABSL_GUARDED_BY(mutex_) = false;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_NETWORK_SAVER_H_
