#include "server/network_manager.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/train/checkpoint.h"
#include "core/util/file_io.h"
#include "server/log.h"

namespace eprop::server {
namespace {

constexpr char kStateFile[] = "state.eprop";
constexpr char kRecordFile[] = "network.pb";

int64_t NowUnixMs() { return absl::ToUnixMillis(absl::Now()); }

// Sessions step supervised networks; a reinforcement job's agent is not one.
absl::Status CheckSupervised(const v1::JobSpec& resolved) {
  if (!IsReinforcementTask(resolved.task())) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "networks of reinforcement tasks (", TaskName(resolved.task()),
      ") cannot be opened as networks; they learn in their job"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetworkManager>> NetworkManager::Create(
    const std::string& data_dir, const JobLimits& limits, JobManager* jobs) {
  absl::StatusOr<std::unique_ptr<ResourceStore>> store =
      ResourceStore::Open(data_dir, "net", "networks");
  if (!store.ok()) return store.status();
  std::unique_ptr<NetworkManager> manager(
      new NetworkManager(*std::move(store), limits, jobs));
  absl::MutexLock lock(&manager->mu_);
  for (const std::string& id : manager->store_->Ids()) {
    absl::StatusOr<std::string> bytes =
        ReadFileToString(manager->store_->Path(id, kRecordFile));
    v1::Network network;
    if (!bytes.ok() || !network.ParseFromString(*bytes) ||
        network.network_id() != id) {
      Log(LogLevel::kWarning, "network_not_loaded",
          {{"network_id", id},
           {"error", bytes.ok() ? "malformed network.pb"
                                : std::string(bytes.status().message())}});
      continue;
    }
    network.set_in_training_session(false);  // no session survives a restart
    manager->networks_[id] = network;
  }
  return manager;
}

absl::StatusOr<std::unique_ptr<Trainer>> NetworkManager::LoadTrainer(
    const v1::Network& network) const {
  TrainerInputs inputs = ToTrainerInputs(network.spec());
  inputs.config.threads = 1;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(inputs.task, inputs.config);
  if (!trainer.ok()) return trainer.status();
  absl::StatusOr<TrainingCheckpoint> state =
      ReadCheckpoint(store_->Path(network.network_id(), kStateFile));
  if (!state.ok()) return state.status();
  if (absl::Status s = (*trainer)->RestoreState(*state); !s.ok()) return s;
  return trainer;
}

absl::StatusOr<v1::Network> NetworkManager::Add(
    const v1::JobSpec& resolved, const Trainer& trainer,
    const std::string& display_name, const std::string& source_job_id) {
  if (display_name.size() > kMaxDisplayNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "display_name must be at most ", kMaxDisplayNameBytes, " bytes"));
  }
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> id = store_->NewId();
  if (!id.ok()) return absl::InternalError(id.status().ToString());
  v1::Network network;
  network.set_network_id(*id);
  *network.mutable_spec() = resolved;
  network.set_n_in(trainer.network().n_in);
  network.set_n_rec(trainer.network().n_rec());
  network.set_n_out(trainer.network().n_out);
  network.set_source_job_id(source_job_id);
  network.set_updates(trainer.iteration());
  network.set_create_time_unix_ms(NowUnixMs());
  network.set_update_time_unix_ms(network.create_time_unix_ms());
  network.set_display_name(display_name);
  // The record creates the folder; the state follows.
  absl::Status s = store_->Write(*id, kRecordFile, network.SerializeAsString());
  if (s.ok()) {
    s = WriteCheckpoint(store_->Path(*id, kStateFile), trainer.SaveState());
  }
  if (!s.ok()) {
    store_->Delete(*id).IgnoreError();
    return absl::InternalError(
        absl::StrCat("cannot store the network: ", s.message()));
  }
  networks_[*id] = network;
  Log(LogLevel::kInfo, "network_created",
      {{"network_id", *id}, {"source_job_id", source_job_id}});
  return network;
}

absl::StatusOr<v1::Network> NetworkManager::CreateNetwork(
    const v1::CreateNetworkRequest& request) {
  if (request.has_spec()) {
    absl::StatusOr<v1::JobSpec> resolved =
        ResolveJobSpec(request.spec(), limits_);
    if (!resolved.ok()) return resolved.status();
    if (absl::Status s = CheckSupervised(*resolved); !s.ok()) return s;
    const TrainerInputs inputs = ToTrainerInputs(*resolved);
    absl::StatusOr<std::unique_ptr<Trainer>> trainer =
        Trainer::Create(inputs.task, inputs.config);
    if (!trainer.ok()) return trainer.status();
    return Add(*resolved, **trainer, request.display_name(), "");
  }
  if (request.has_from_job_id()) {
    absl::StatusOr<v1::Job> job = jobs_->Get(request.from_job_id());
    if (!job.ok()) return job.status();
    absl::StatusOr<std::pair<std::string, int64_t>> checkpoint =
        jobs_->Checkpoint(job->job_id());
    if (!checkpoint.ok()) return checkpoint.status();
    absl::StatusOr<std::string> bytes = ReadFileToString(checkpoint->first);
    if (!bytes.ok()) return bytes.status();
    return Import(job->spec(), *bytes, request.display_name(), job->job_id());
  }
  return absl::InvalidArgumentError(
      "a network needs a source: spec or from_job_id");
}

absl::StatusOr<v1::Network> NetworkManager::Import(
    const v1::JobSpec& spec, const std::string& state_bytes,
    const std::string& display_name, const std::string& source_job_id) {
  absl::StatusOr<v1::JobSpec> resolved = ResolveJobSpec(spec, limits_);
  if (!resolved.ok()) return resolved.status();
  if (absl::Status s = CheckSupervised(*resolved); !s.ok()) return s;
  const TrainerInputs inputs = ToTrainerInputs(*resolved);
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(inputs.task, inputs.config);
  if (!trainer.ok()) return trainer.status();
  // ReadCheckpoint validates a file; the bytes pass through a private one.
  const std::string temp = absl::StrCat(store_->Dir("import"), "-", getpid(),
                                        "-", NowUnixMs(), ".tmp");
  if (absl::Status s = WriteFileAtomically(temp, state_bytes); !s.ok()) {
    return absl::InternalError(s.ToString());
  }
  absl::StatusOr<TrainingCheckpoint> state = ReadCheckpoint(temp);
  std::filesystem::remove(temp);
  if (!state.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid network state: ", state.status().message()));
  }
  if (absl::Status s = (*trainer)->RestoreState(*state); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the state does not fit the spec: ", s.message()));
  }
  return Add(*resolved, **trainer, display_name, source_job_id);
}

absl::StatusOr<v1::Network> NetworkManager::Get(const std::string& id) const {
  if (absl::Status s = store_->CheckId("network_id", id); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = networks_.find(id);
  if (it == networks_.end()) {
    return absl::NotFoundError(absl::StrCat("no network ", id));
  }
  return it->second;
}

absl::StatusOr<v1::ListNetworksResponse> NetworkManager::List(
    const v1::ListNetworksRequest& request) const {
  absl::StatusOr<int> page_size =
      store_->PageSize(request.page_size(), request.page_token());
  if (!page_size.ok()) return page_size.status();
  v1::ListNetworksResponse response;
  absl::MutexLock lock(&mu_);
  auto it = request.page_token().empty()
                ? networks_.begin()
                : networks_.upper_bound(request.page_token());
  for (; it != networks_.end(); ++it) {
    if (response.networks_size() == *page_size) {
      response.set_next_page_token(response.networks().rbegin()->network_id());
      break;
    }
    *response.add_networks() = it->second;
  }
  return response;
}

absl::Status NetworkManager::Delete(const std::string& id) {
  if (absl::Status s = store_->CheckId("network_id", id); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = networks_.find(id);
  if (it == networks_.end()) {
    return absl::NotFoundError(absl::StrCat("no network ", id));
  }
  if (it->second.in_training_session()) {
    return absl::FailedPreconditionError(
        absl::StrCat("network ", id, " has an open learning session"));
  }
  if (absl::Status s = store_->Delete(id); !s.ok()) return s;
  networks_.erase(it);
  Log(LogLevel::kInfo, "network_deleted", {{"network_id", id}});
  return absl::OkStatus();
}

absl::StatusOr<std::string> NetworkManager::StatePath(
    const std::string& id) const {
  if (absl::StatusOr<v1::Network> network = Get(id); !network.ok()) {
    return network.status();
  }
  return store_->Path(id, kStateFile);
}

absl::StatusOr<std::unique_ptr<Trainer>> NetworkManager::BeginSession(
    const std::string& id, bool learning) {
  v1::Network network;
  {
    if (absl::Status s = store_->CheckId("network_id", id); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    auto it = networks_.find(id);
    if (it == networks_.end()) {
      return absl::NotFoundError(absl::StrCat("no network ", id));
    }
    if (learning && it->second.in_training_session()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "network ", id,
          " already has a learning session; open this one with learning "
          "off, or wait until that one ends"));
    }
    if (learning) it->second.set_in_training_session(true);
    network = it->second;
  }
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = LoadTrainer(network);
  if (!trainer.ok()) EndSession(id, learning);
  return trainer;
}

absl::Status NetworkManager::SaveSession(const std::string& id,
                                         const TrainingCheckpoint& state,
                                         int64_t new_steps) {
  if (absl::Status s = WriteCheckpoint(store_->Path(id, kStateFile), state);
      !s.ok()) {
    return s;
  }
  absl::MutexLock lock(&mu_);
  auto it = networks_.find(id);
  if (it == networks_.end()) return absl::NotFoundError("network deleted");
  v1::Network& network = it->second;
  network.set_updates(state.iteration);
  network.set_steps_trained(network.steps_trained() + new_steps);
  network.set_update_time_unix_ms(NowUnixMs());
  v1::Network stored = network;
  stored.set_in_training_session(false);
  return store_->Write(id, kRecordFile, stored.SerializeAsString());
}

void NetworkManager::EndSession(const std::string& id, bool learning) {
  if (!learning) return;
  absl::MutexLock lock(&mu_);
  auto it = networks_.find(id);
  if (it != networks_.end()) it->second.set_in_training_session(false);
}

}  // namespace eprop::server
