// One streaming session on a network (networks.proto, Session): an opening
// message, then chunks of steps, each answered by one response. A chunk is
// validated completely before it touches the network, so a rejected chunk
// changes nothing; its error comes back as the status of its response.
//
// Learning sessions run OnlineLearner and apply updates through the
// network's Trainer (the jobs' update code): with end-of-sequence updates,
// the same batches as a job with online_eprop give bit-identical weights.
// After a chunk marked end_of_sequence the network state starts afresh.
#ifndef EPROP_SERVER_SESSION_H_
#define EPROP_SERVER_SESSION_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/learn/online_learner.h"
#include "core/train/trainer.h"
#include "eprop/v1/networks.pb.h"
#include "server/network_manager.h"
#include "server/network_saver.h"

namespace eprop::server {

struct SessionLimits {
  int max_batch = 1024;
  int max_steps_per_chunk = 100000;
  // Largest steps x batch x max(n_in, n_rec, n_out) of one chunk.
  int64_t max_chunk_values = int64_t{1} << 24;
  int64_t max_memory_bytes = int64_t{4} << 30;  // traces of a session
  // A learning session persists its state at most this often, in the
  // background (and when it ends, before the stream ends).
  absl::Duration save_interval = absl::Seconds(1);
};

class Session {
 public:
  Session(NetworkManager* networks, const SessionLimits& limits)
      : networks_(networks), limits_(limits) {}
  ~Session();  // saves a learning session's state

  // Answers one client message. A returned error is fatal (ends the
  // stream); per-message errors are in the response's status.
  absl::StatusOr<v1::SessionResponse> Handle(const v1::SessionRequest& request);

 private:
  absl::StatusOr<v1::SessionResponse> Open(const v1::SessionOpen& open);
  v1::SessionResponse Chunk(const v1::SessionChunk& chunk);
  // Checks everything about a chunk that could fail.
  absl::Status Validate(const v1::SessionChunk& chunk) const;
  void Update();
  // Submits the state to saver_ if it changed and save_interval has passed
  // (or `force`, which also waits until it is on disk).
  void SaveIfDue(bool force);
  // The network's step, readout, spikes and reset: through the learner's
  // traces when learning, a plain forward step otherwise.
  void StepNetwork(const SparseRows<float>& inputs, int64_t first_row);
  MatF Readout() const;
  const MatF& Spikes() const;
  void ResetNetwork();

  NetworkManager* networks_;
  const SessionLimits limits_;
  std::string network_id_;
  v1::SessionOpen options_;
  std::unique_ptr<Trainer> trainer_;
  std::unique_ptr<OnlineLearner> learner_;  // learning sessions
  std::unique_ptr<NetworkSaver> saver_;     // learning sessions
  // Inference sessions: the forward pass only, no eligibility traces.
  std::unique_ptr<NetworkModel<float>> model_;
  NetworkState<float> state_;
  MatF feedback_;
  int n_in_ = 0, n_rec_ = 0, n_out_ = 0;
  int64_t unsaved_steps_ = 0;
  bool dirty_ = false;
  absl::Time last_save_ = absl::InfinitePast();
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_SESSION_H_
