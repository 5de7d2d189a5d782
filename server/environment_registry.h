// The environment hubs of the running RL jobs that take remote environments
// (server/environment_hub.h), by job id: a job registers its hub while it
// runs; ConnectEnvironment (server/environment_service.h) finds it there.
#ifndef EPROP_SERVER_ENVIRONMENT_REGISTRY_H_
#define EPROP_SERVER_ENVIRONMENT_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/environment_hub.h"

namespace eprop::server {

// Thread-safe. Hubs are called (Close) and the explainer is run outside the
// registry's lock, so either may take other locks, e.g. the job manager's.
class EnvironmentRegistry {
 public:
  // Why a job has no hub: a non-OK status for Find to return. An OK result
  // is taken as "no explanation" (the default error below).
  using Explainer = std::function<absl::Status(const std::string& job_id)>;

  EnvironmentRegistry() = default;
  EnvironmentRegistry(const EnvironmentRegistry&) = delete;
  EnvironmentRegistry& operator=(const EnvironmentRegistry&) = delete;

  // Registers `hub` (not null) under `job_id`. A hub already registered
  // under that id is replaced and closed with ABORTED.
  void Add(const std::string& job_id, std::shared_ptr<EnvironmentHub> hub);
  // Forgets the job's hub and closes it with `why` (EnvironmentHub::Close:
  // its environments' streams end with `why`; OK: the job completed). No-op
  // if the job has no hub.
  void Remove(const std::string& job_id, const absl::Status& why);
  // The job's hub, or why it has none: the explainer's status, or without
  // one UNAVAILABLE "job <id> does not accept environments now".
  absl::StatusOr<std::shared_ptr<EnvironmentHub>> Find(
      const std::string& job_id) const;

  void SetExplainer(Explainer explainer);
  int size() const;  // hubs registered now

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<EnvironmentHub>> hubs_
      ABSL_GUARDED_BY(mu_);
  // Shared so that Find can call it without the lock while it is replaced.
  std::shared_ptr<const Explainer> explainer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_ENVIRONMENT_REGISTRY_H_
