#include "server/environment_registry.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace eprop::server {

void EnvironmentRegistry::Add(const std::string& job_id,
                              std::shared_ptr<EnvironmentHub> hub) {
  std::shared_ptr<EnvironmentHub> replaced;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<EnvironmentHub>& entry = hubs_[job_id];
    replaced = std::exchange(entry, std::move(hub));
  }
  if (replaced != nullptr) {
    replaced->Close(absl::AbortedError(absl::StrCat(
        "job ", job_id, " replaced its environment hub; connect again")));
  }
}

void EnvironmentRegistry::Remove(const std::string& job_id,
                                 const absl::Status& why) {
  std::shared_ptr<EnvironmentHub> hub;
  {
    absl::MutexLock lock(&mu_);
    auto it = hubs_.find(job_id);
    if (it == hubs_.end()) return;
    hub = std::move(it->second);
    hubs_.erase(it);
  }
  hub->Close(why);
}

absl::StatusOr<std::shared_ptr<EnvironmentHub>> EnvironmentRegistry::Find(
    const std::string& job_id) const {
  std::shared_ptr<const Explainer> explainer;
  {
    absl::MutexLock lock(&mu_);
    auto it = hubs_.find(job_id);
    if (it != hubs_.end()) return it->second;
    explainer = explainer_;
  }
  if (explainer != nullptr && *explainer) {
    absl::Status why = (*explainer)(job_id);
    if (!why.ok()) return why;
  }
  return absl::UnavailableError(
      absl::StrCat("job ", job_id, " does not accept environments now"));
}

void EnvironmentRegistry::SetExplainer(Explainer explainer) {
  auto shared = std::make_shared<const Explainer>(std::move(explainer));
  absl::MutexLock lock(&mu_);
  explainer_ = std::move(shared);
}

int EnvironmentRegistry::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(hubs_.size());
}

}  // namespace eprop::server
