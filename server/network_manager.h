// Network instances: a network's spec and metadata (network.pb) and its
// state (state.eprop: weights, feedback matrix, optimizer state, in the
// checkpoint format) live under DATA_DIR/networks/NET_ID/, replaced
// atomically, like jobs. Sessions borrow a network's state as a Trainer
// (the same update code as jobs) and write it back.
#ifndef EPROP_SERVER_NETWORK_MANAGER_H_
#define EPROP_SERVER_NETWORK_MANAGER_H_

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/train/trainer.h"
#include "eprop/v1/networks.pb.h"
#include "server/job_manager.h"
#include "server/resource_store.h"

namespace eprop::server {

class NetworkManager {
 public:
  // `jobs` (not owned) provides the checkpoints of finished jobs.
  static absl::StatusOr<std::unique_ptr<NetworkManager>> Create(
      const std::string& data_dir, const JobLimits& limits, JobManager* jobs);

  absl::StatusOr<v1::Network> CreateNetwork(
      const v1::CreateNetworkRequest& request);
  // A network from a spec and the bytes of an exported state file (or of
  // a job checkpoint of that spec).
  absl::StatusOr<v1::Network> Import(const v1::JobSpec& spec,
                                     const std::string& state_bytes,
                                     const std::string& display_name = "",
                                     const std::string& source_job_id = "");
  absl::StatusOr<v1::Network> Get(const std::string& id) const;
  absl::StatusOr<v1::ListNetworksResponse> List(
      const v1::ListNetworksRequest& request) const;
  absl::Status Delete(const std::string& id);
  // The state file of a network (for export).
  absl::StatusOr<std::string> StatePath(const std::string& id) const;

  // Starts a session: the network's state as a Trainer. A learning session
  // holds the network until EndSession; a second one gets
  // FAILED_PRECONDITION.
  absl::StatusOr<std::unique_ptr<Trainer>> BeginSession(const std::string& id,
                                                        bool learning);
  // Persists a learning session's state (weights, optimizer, updates) and
  // the steps it trained since the last save. Thread-safe.
  absl::Status SaveSession(const std::string& id,
                           const TrainingCheckpoint& state, int64_t new_steps);
  void EndSession(const std::string& id, bool learning);

 private:
  NetworkManager(std::unique_ptr<ResourceStore> store, const JobLimits& limits,
                 JobManager* jobs)
      : store_(std::move(store)), limits_(limits), jobs_(jobs) {}
  // Stores a new network whose state is `trainer`'s.
  absl::StatusOr<v1::Network> Add(const v1::JobSpec& resolved,
                                  const Trainer& trainer,
                                  const std::string& display_name,
                                  const std::string& source_job_id);
  absl::StatusOr<std::unique_ptr<Trainer>> LoadTrainer(
      const v1::Network& network) const;

  std::unique_ptr<ResourceStore> store_;
  const JobLimits limits_;
  JobManager* jobs_;
  mutable absl::Mutex mu_;
  std::map<std::string, v1::Network> networks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_NETWORK_MANAGER_H_
