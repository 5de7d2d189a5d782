#include "server/network_saver.h"

#include <utility>

#include "server/log.h"

namespace eprop::server {

NetworkSaver::NetworkSaver(NetworkManager* networks, std::string network_id)
    : networks_(networks),
      network_id_(std::move(network_id)),
      thread_([this] { Run(); }) {}

NetworkSaver::~NetworkSaver() {
  Flush();
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

void NetworkSaver::Submit(TrainingCheckpoint state, int64_t new_steps) {
  absl::MutexLock lock(&mutex_);
  if (pending_.has_value()) new_steps += pending_->new_steps;
  pending_ = Pending{std::move(state), new_steps};
}

void NetworkSaver::Flush() {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(this, &NetworkSaver::Idle));
}

void NetworkSaver::Run() {
  while (true) {
    Pending job;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(this, &NetworkSaver::HasWork));
      if (!pending_.has_value()) return;  // stopping, nothing left
      job = *std::move(pending_);
      pending_.reset();
      job.new_steps += unsaved_steps_;
      unsaved_steps_ = 0;
      saving_ = true;
    }
    const absl::Status status =
        networks_->SaveSession(network_id_, job.state, job.new_steps);
    if (!status.ok()) {
      Log(LogLevel::kError, "network_save_failed",
          {{"network_id", network_id_}, {"error", status.ToString()}});
    }
    absl::MutexLock lock(&mutex_);
    if (!status.ok()) unsaved_steps_ += job.new_steps;
    saving_ = false;
  }
}

}  // namespace eprop::server
