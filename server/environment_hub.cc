#include "server/environment_hub.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"

namespace eprop::server {
namespace {

constexpr size_t kMaxNameBytes = 200;
constexpr int64_t kMaxObservationSize = int64_t{1} << 24;

// The number of values of a shape, or -1 if a dimension is out of range or
// the product exceeds kMaxObservationSize.
int64_t ShapeSize(const v1::ObservationSpec& spec) {
  if (spec.shape_size() == 0) return -1;
  int64_t size = 1;
  for (int32_t d : spec.shape()) {
    if (d < 1) return -1;
    size *= d;
    if (size > kMaxObservationSize) return -1;
  }
  return size;
}

std::string ShapeText(const v1::ObservationSpec& spec) {
  std::string text = "[";
  for (int i = 0; i < spec.shape_size(); ++i) {
    absl::StrAppend(&text, i > 0 ? ", " : "", spec.shape(i));
  }
  return text + "]";
}

absl::Status CheckSpec(const v1::ObservationSpec& spec, const char* what) {
  if (spec.kind() != v1::OBSERVATION_KIND_FEATURES &&
      spec.kind() != v1::OBSERVATION_KIND_RGB_FRAME &&
      spec.kind() != v1::OBSERVATION_KIND_SPIKES) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ".kind must be FEATURES, RGB_FRAME or SPIKES, got ",
                     static_cast<int>(spec.kind())));
  }
  if (ShapeSize(spec) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ".shape must have dimensions >= 1 and at most ",
                     kMaxObservationSize, " values, got ", ShapeText(spec)));
  }
  if (spec.kind() == v1::OBSERVATION_KIND_RGB_FRAME &&
      (spec.shape_size() != 3 || spec.shape(2) != 3)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ".shape of an RGB_FRAME must be [height, width, 3], got ",
        ShapeText(spec)));
  }
  return absl::OkStatus();
}

bool SameSpec(const v1::ObservationSpec& a, const v1::ObservationSpec& b) {
  if (a.kind() != b.kind() || a.shape_size() != b.shape_size()) return false;
  for (int i = 0; i < a.shape_size(); ++i) {
    if (a.shape(i) != b.shape(i)) return false;
  }
  return true;
}

}  // namespace

absl::Status EnvironmentHubOptions::Validate() const {
  if (absl::Status s = CheckSpec(observation_spec, "observation_spec");
      !s.ok()) {
    return s;
  }
  int64_t n_in = ShapeSize(observation_spec);
  if (frame_preprocessing.has_value()) {
    if (observation_spec.kind() != v1::OBSERVATION_KIND_RGB_FRAME) {
      return absl::InvalidArgumentError(
          "frame_preprocessing is only for RGB_FRAME observations");
    }
    if (absl::Status s = frame_preprocessing->Validate(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("frame_preprocessing: ", s.message()));
    }
    n_in = int64_t{frame_preprocessing->screen_size} *
           frame_preprocessing->screen_size;
  }
  if (agent.network.n_in != n_in) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent.network.n_in must be the observation size ", n_in,
                     frame_preprocessing.has_value() ? " (screen_size^2)" : "",
                     ", got ", agent.network.n_in));
  }
  if (max_queueing_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_queueing_delay must be >= 0, got ",
                     absl::FormatDuration(max_queueing_delay)));
  }
  return agent.Validate();
}

absl::StatusOr<std::unique_ptr<EnvironmentHub>> EnvironmentHub::Create(
    EnvironmentHubOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<ActorCriticAgent>> agent =
      ActorCriticAgent::Create(options.agent);
  if (!agent.ok()) return agent.status();
  return std::unique_ptr<EnvironmentHub>(
      new EnvironmentHub(std::move(options), *std::move(agent)));
}

EnvironmentHub::EnvironmentHub(EnvironmentHubOptions options,
                               std::unique_ptr<ActorCriticAgent> agent)
    : options_(std::move(options)),
      n_in_(options_.agent.network.n_in),
      agent_(std::move(agent)),
      slots_(options_.agent.num_envs),
      generation_(new std::atomic<uint64_t>[options_.agent.num_envs]) {
  for (int b = 0; b < options_.agent.num_envs; ++b) generation_[b] = 0;
  if (options_.frame_preprocessing.has_value()) {
    const v1::ObservationSpec& spec = options_.observation_spec;
    for (int b = 0; b < options_.agent.num_envs; ++b) {
      frame_slots_.push_back(std::make_unique<FrameSlot>(
          spec.shape(0), spec.shape(1),
          options_.frame_seed + static_cast<uint64_t>(b),
          *options_.frame_preprocessing));
    }
  }
}

EnvironmentHub::~EnvironmentHub() {
  absl::MutexLock thread_lock(&thread_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Time EnvironmentHub::Now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

absl::Status EnvironmentHub::CheckOpen(const v1::EnvironmentOpen& open) const {
  if (open.name().size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("name must be at most ", kMaxNameBytes, " bytes, got ",
                     open.name().size()));
  }
  if (open.run_id().empty() || open.run_id().size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("run_id must be 1 to ", kMaxNameBytes, " bytes, got ",
                     open.run_id().size()));
  }
  if (absl::Status s = CheckSpec(open.observation_spec(), "observation_spec");
      !s.ok()) {
    return s;
  }
  if (open.num_actions() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_actions must be >= 1, got ", open.num_actions()));
  }
  if (open.job_id() != options_.job_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job_id is ", open.job_id(), ", this is job ", options_.job_id));
  }
  if (!SameSpec(open.observation_spec(), options_.observation_spec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "observation_spec must equal the job's (kind ",
        v1::ObservationKind_Name(options_.observation_spec.kind()), ", shape ",
        ShapeText(options_.observation_spec), "), got kind ",
        v1::ObservationKind_Name(open.observation_spec().kind()), ", shape ",
        ShapeText(open.observation_spec())));
  }
  if (open.num_actions() != options_.agent.n_actions) {
    return absl::FailedPreconditionError(
        absl::StrCat("num_actions must equal the job's ",
                     options_.agent.n_actions, ", got ", open.num_actions()));
  }
  return absl::OkStatus();
}

void EnvironmentHub::ResetSlotLocked(Slot* slot) {
  slot->ready = false;
  slot->awaiting_action = false;
  slot->has_sequence = false;
  slot->fresh = true;
  slot->episode_return = 0.0;
  slot->restart_frames = true;
}

absl::Status EnvironmentHub::CheckHandleLocked(
    const SlotHandle& handle, absl::string_view not_joined) const {
  if (closed_) return ClosedErrorLocked();
  if (handle.slot < 0 || handle.slot >= static_cast<int>(slots_.size()) ||
      generation_[handle.slot].load() != handle.generation) {
    return absl::FailedPreconditionError(not_joined);
  }
  return absl::OkStatus();
}

absl::StatusOr<SlotHandle> EnvironmentHub::Join(
    const v1::EnvironmentOpen& open, EnvironmentCallbacks callbacks) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return ClosedErrorLocked();
  }
  if (absl::Status s = CheckOpen(open); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (closed_) return ClosedErrorLocked();
  for (int b = 0; b < static_cast<int>(slots_.size()); ++b) {
    Slot& slot = slots_[b];
    if (slot.occupied) continue;
    slot.occupied = true;
    slot.name = open.name();
    slot.run_id = open.run_id();
    slot.callbacks =
        std::make_shared<const EnvironmentCallbacks>(std::move(callbacks));
    // `participated` stays: if the previous tenant was in the last
    // decision, that participation is cut at the next one.
    ResetSlotLocked(&slot);
    const uint64_t generation = next_generation_++;
    generation_[b].store(generation);
    ++metrics_.connected;
    return SlotHandle{b, generation};
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("job ", options_.job_id, " has no free environment slot (",
                   slots_.size(), " in use)"));
}

absl::Status EnvironmentHub::Reopen(const SlotHandle& handle,
                                    const v1::EnvironmentOpen& open) {
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status s =
            CheckHandleLocked(handle, "the environment is not joined");
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckOpen(open); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (absl::Status s =
          CheckHandleLocked(handle, "the environment is not joined");
      !s.ok()) {
    return s;
  }
  Slot& slot = slots_[handle.slot];
  slot.name = open.name();
  if (slot.run_id == open.run_id()) return absl::OkStatus();
  slot.run_id = open.run_id();
  // A queued step is dropped; an undelivered action is still delivered (the
  // handle is unchanged), so awaiting_action keeps its value.
  const bool awaiting = slot.awaiting_action && !slot.ready;
  ResetSlotLocked(&slot);
  slot.awaiting_action = awaiting;
  return absl::OkStatus();
}

void EnvironmentHub::Leave(const SlotHandle& handle) {
  {
    absl::MutexLock lock(&mu_);
    if (handle.slot >= 0 && handle.slot < static_cast<int>(slots_.size()) &&
        generation_[handle.slot].load() == handle.generation) {
      Slot& slot = slots_[handle.slot];
      slot.occupied = false;
      slot.callbacks.reset();
      ResetSlotLocked(&slot);
      generation_[handle.slot].store(0);
      --metrics_.connected;
    }
  }
  // Waits for a delivery in progress, which may still hold the old
  // callbacks: an action of Poll, or on_closed of a Close that made the
  // handle stale.
  absl::MutexLock wait(&deliver_mu_);
}

absl::Status EnvironmentHub::Decode(const v1::EnvironmentStep& step,
                                    std::vector<float>* out) const {
  if (!std::isfinite(step.reward())) {
    return absl::InvalidArgumentError("reward must be finite");
  }
  out->assign(n_in_, 0.0f);
  switch (options_.observation_spec.kind()) {
    case v1::OBSERVATION_KIND_FEATURES: {
      if (!step.observation().empty()) {
        return absl::InvalidArgumentError(
            "a FEATURES observation goes in `features`, not `observation`");
      }
      if (step.features_size() != n_in_) {
        return absl::InvalidArgumentError(absl::StrCat("features must have ",
                                                       n_in_, " values, got ",
                                                       step.features_size()));
      }
      for (int i = 0; i < n_in_; ++i) {
        if (!std::isfinite(step.features(i))) {
          return absl::InvalidArgumentError(
              absl::StrCat("features[", i, "] is not finite"));
        }
        (*out)[i] = step.features(i);
      }
      return absl::OkStatus();
    }
    case v1::OBSERVATION_KIND_RGB_FRAME: {
      if (step.features_size() != 0) {
        return absl::InvalidArgumentError(
            "an RGB_FRAME observation goes in `observation`, not `features`");
      }
      if (static_cast<int64_t>(step.observation().size()) != n_in_) {
        return absl::InvalidArgumentError(
            absl::StrCat("observation must have ", n_in_, " bytes, got ",
                         step.observation().size()));
      }
      const std::string& bytes = step.observation();
      for (int i = 0; i < n_in_; ++i) {
        (*out)[i] = static_cast<uint8_t>(bytes[i]) / 255.0f;
      }
      return absl::OkStatus();
    }
    case v1::OBSERVATION_KIND_SPIKES: {
      if (step.features_size() != 0) {
        return absl::InvalidArgumentError(
            "a SPIKES observation goes in `observation`, not `features`");
      }
      const int64_t bytes_needed = (int64_t{n_in_} + 7) / 8;
      if (static_cast<int64_t>(step.observation().size()) != bytes_needed) {
        return absl::InvalidArgumentError(
            absl::StrCat("observation must have ", bytes_needed, " bytes (",
                         n_in_, " bits), got ", step.observation().size()));
      }
      const std::string& bytes = step.observation();
      for (int i = 0; i < n_in_; ++i) {
        (*out)[i] = (static_cast<uint8_t>(bytes[i / 8]) >> (i % 8)) & 1u;
      }
      return absl::OkStatus();
    }
    default:
      return absl::InternalError("the job's observation kind is invalid");
  }
}

absl::Status EnvironmentHub::AcceptStepLocked(const SlotHandle& handle,
                                              const v1::EnvironmentStep& step) {
  if (absl::Status s = CheckHandleLocked(
          handle, "the environment is not joined: send EnvironmentOpen first");
      !s.ok()) {
    return s;
  }
  Slot& slot = slots_[handle.slot];
  if (slot.awaiting_action) {
    return absl::FailedPreconditionError(
        absl::StrCat("step ", step.sequence_number(),
                     " sent before the action for step ", slot.last_sequence));
  }
  if (slot.has_sequence && step.sequence_number() <= slot.last_sequence) {
    return absl::InvalidArgumentError(
        absl::StrCat("sequence_number must increase: got ",
                     step.sequence_number(), " after ", slot.last_sequence));
  }
  // Episode-return metrics follow the environment's own view, cuts or not;
  // the first step after a join or a new run has no previous action.
  if (slot.has_sequence) {
    slot.episode_return += step.reward();
    if (step.terminated() || step.truncated()) {
      RecordEpisodeLocked(slot.episode_return);
      slot.episode_return = 0.0;
    }
  }
  slot.has_sequence = true;
  slot.last_sequence = step.sequence_number();
  return absl::OkStatus();
}

absl::Status EnvironmentHub::Step(const SlotHandle& handle,
                                  const v1::EnvironmentStep& step) {
  if (!frame_slots_.empty()) return StepFrame(handle, step);
  std::vector<float> observation;
  if (absl::Status s = Decode(step, &observation); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (absl::Status s = AcceptStepLocked(handle, step); !s.ok()) return s;
  Slot& slot = slots_[handle.slot];
  slot.sequence_number = step.sequence_number();
  slot.observation = std::move(observation);
  slot.reward = step.reward();
  slot.ended = step.terminated() || step.truncated();
  slot.ready = true;
  slot.awaiting_action = true;
  slot.queued_at = Now();
  return absl::OkStatus();
}

absl::Status EnvironmentHub::CheckFrame(const v1::EnvironmentStep& step) const {
  if (!std::isfinite(step.reward())) {
    return absl::InvalidArgumentError("reward must be finite");
  }
  if (step.features_size() != 0) {
    return absl::InvalidArgumentError(
        "an RGB_FRAME observation goes in `observation`, not `features`");
  }
  const int64_t bytes = ShapeSize(options_.observation_spec);
  if (static_cast<int64_t>(step.observation().size()) != bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("observation must have ", bytes, " bytes (a ",
                     ShapeText(options_.observation_spec), " frame), got ",
                     step.observation().size()));
  }
  return absl::OkStatus();
}

absl::Status EnvironmentHub::StepFrame(const SlotHandle& handle,
                                       const v1::EnvironmentStep& step) {
  if (absl::Status s = CheckFrame(step); !s.ok()) return s;
  if (handle.slot < 0 || handle.slot >= static_cast<int>(slots_.size())) {
    absl::MutexLock lock(&mu_);
    return CheckHandleLocked(
        handle, "the environment is not joined: send EnvironmentOpen first");
  }
  FrameSlot& frames = *frame_slots_[handle.slot];
  std::shared_ptr<const EnvironmentCallbacks> callbacks;
  env::FrameStreamPreprocessing::FrameAnswer answer;
  {
    // Held while the frame is processed: one frame of the slot at a time,
    // and Poll's Act waits for it.
    absl::MutexLock frame_lock(&frames.mu);
    bool restart = false;
    {
      absl::MutexLock lock(&mu_);
      if (absl::Status s = AcceptStepLocked(handle, step); !s.ok()) return s;
      Slot& slot = slots_[handle.slot];
      restart = slot.restart_frames;
      slot.restart_frames = false;
      slot.awaiting_action = true;  // until answered, here or by Poll
    }
    if (restart) frames.pre.Restart();
    const env::FrameStreamPreprocessing::Outcome outcome = {
        step.reward(), step.terminated(), step.truncated()};
    answer = frames.pre.OnFrame(
        reinterpret_cast<const uint8_t*>(step.observation().data()), outcome);
    std::vector<float> observation;
    if (answer.decide) {
      observation.resize(n_in_);
      frames.pre.ObserveFloat(observation.data());
    }
    absl::MutexLock lock(&mu_);
    // Left meanwhile: the step is dropped without answer, as a queued one.
    if (generation_[handle.slot].load() != handle.generation) {
      return absl::OkStatus();
    }
    Slot& slot = slots_[handle.slot];
    if (answer.decide) {
      slot.sequence_number = step.sequence_number();
      slot.observation = std::move(observation);
      slot.reward = answer.reward;
      slot.ended = answer.terminated || answer.truncated;
      slot.ready = true;
      slot.queued_at = Now();
      return absl::OkStatus();
    }
    slot.awaiting_action = false;
    ++metrics_.frames;
    callbacks = slot.callbacks;
  }
  absl::MutexLock deliver(&deliver_mu_);
  if (generation_[handle.slot].load() != handle.generation) {
    return absl::OkStatus();  // left (or closed) meanwhile
  }
  v1::AgentMessage message;
  message.mutable_action()->set_sequence_number(step.sequence_number());
  message.mutable_action()->set_action(answer.raw_action);
  if (callbacks->on_message) callbacks->on_message(message);
  return absl::OkStatus();
}

void EnvironmentHub::RecordEpisodeLocked(double episode_return) {
  ++metrics_.episodes;
  last_returns_.push_back(episode_return);
  if (last_returns_.size() > 100) last_returns_.pop_front();
  metrics_.avg_return_last100 =
      std::accumulate(last_returns_.begin(), last_returns_.end(), 0.0) /
      static_cast<double>(last_returns_.size());
}

bool EnvironmentHub::DueLocked(absl::Time now) const {
  bool any_ready = false;
  bool all_expected = true;
  absl::Time oldest = absl::InfiniteFuture();
  for (const Slot& slot : slots_) {
    if (slot.ready) {
      any_ready = true;
      oldest = std::min(oldest, slot.queued_at);
    } else if (slot.occupied && slot.participated) {
      all_expected = false;
    }
  }
  if (!any_ready) return false;
  return all_expected || now >= oldest + options_.max_queueing_delay;
}

absl::Time EnvironmentHub::NextDeadlineLocked() const {
  absl::Time oldest = absl::InfiniteFuture();
  for (const Slot& slot : slots_) {
    if (slot.ready) oldest = std::min(oldest, slot.queued_at);
  }
  return oldest == absl::InfiniteFuture()
             ? oldest
             : oldest + options_.max_queueing_delay;
}

bool EnvironmentHub::Poll() {
  absl::MutexLock poll_lock(&poll_mu_);
  const int n = options_.agent.num_envs;
  std::vector<float> observations(static_cast<size_t>(n) * n_in_, 0.0f);
  std::vector<float> rewards(n, 0.0f);
  std::vector<uint8_t> terminated(n, 0);
  std::vector<uint8_t> real(n, 0);
  struct Pending {
    int slot;
    uint64_t generation;
    int64_t sequence_number;
    std::shared_ptr<const EnvironmentCallbacks> callbacks;
  };
  std::vector<Pending> pending;
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || !DueLocked(Now())) return false;
    for (int b = 0; b < n; ++b) {
      Slot& slot = slots_[b];
      const bool ready = slot.occupied && slot.ready;
      if (slot.participated) {
        if (ready && !slot.fresh) {
          rewards[b] = slot.reward;  // a continuation
          terminated[b] = slot.ended ? 1 : 0;
        } else {
          // Cut: the environment left, re-opened or stalled.
          terminated[b] = 1;
          if (slot.occupied && !ready) {
            ++metrics_.cuts;
            slot.fresh = true;  // its late step starts over
          }
        }
      } else {
        // Filler; terminal right before a real environment starts here.
        terminated[b] = ready ? 1 : 0;
      }
      slot.participated = ready;
      if (ready) {
        real[b] = 1;
        std::copy(slot.observation.begin(), slot.observation.end(),
                  observations.begin() + static_cast<int64_t>(b) * n_in_);
        slot.ready = false;
        slot.fresh = false;
        pending.push_back(
            {b, generation_[b].load(), slot.sequence_number, slot.callbacks});
      }
    }
    last_decision_.real = real;
    if (awaiting_reward_) {
      last_decision_.rewards = rewards;
      last_decision_.terminated = terminated;
    } else {
      last_decision_.rewards.clear();
      last_decision_.terminated.clear();
    }
  }

  absl::Status status;
  if (awaiting_reward_) {
    status = agent_->Reward(rewards.data(), terminated.data());
  }
  std::vector<int32_t> actions(n, 0);
  if (status.ok()) {
    status = agent_->Act(observations.data(), actions.data(), real.data());
    awaiting_reward_ = status.ok();
  }
  // With frame preprocessing, the agent's actions become raw actions.
  std::vector<int32_t> sent = actions;
  if (status.ok() && !frame_slots_.empty()) {
    for (const Pending& p : pending) {
      FrameSlot& frames = *frame_slots_[p.slot];
      absl::MutexLock frame_lock(&frames.mu);
      if (generation_[p.slot].load() != p.generation) continue;  // left
      // (A re-open meanwhile restarts the preprocessing at the next frame.)
      if (frames.pre.decision_due()) {
        sent[p.slot] = frames.pre.Act(actions[p.slot]);
      }
    }
  }

  {
    absl::MutexLock lock(&mu_);
    for (const Pending& p : pending) {
      if (generation_[p.slot].load() == p.generation) {
        slots_[p.slot].awaiting_action = false;
      }
    }
    last_decision_.observations.swap(observations);  // no longer needed
    last_decision_.actions = status.ok() ? actions : std::vector<int32_t>();
    if (status.ok()) {
      ++metrics_.decisions;
      metrics_.frames += static_cast<int64_t>(pending.size());
    }
    metrics_.updates = agent_->metrics().updates;
    metrics_.loss = agent_->metrics().loss;
    metrics_.entropy = agent_->metrics().entropy;
    metrics_.rate_hz = agent_->metrics().rate_hz;
  }
  absl::MutexLock deliver(&deliver_mu_);
  for (const Pending& p : pending) {
    if (generation_[p.slot].load() != p.generation) continue;  // left
    v1::AgentMessage message;
    if (status.ok()) {
      message.mutable_action()->set_sequence_number(p.sequence_number);
      message.mutable_action()->set_action(sent[p.slot]);
    } else {
      // Inputs are validated before they are queued; this is a bug.
      message.set_status_code(
          static_cast<int32_t>(absl::StatusCode::kInternal));
      message.set_status_message(std::string(status.message()));
    }
    if (p.callbacks->on_message) p.callbacks->on_message(message);
  }
  return true;
}

void EnvironmentHub::Start() {
  absl::MutexLock thread_lock(&thread_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;  // closed
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void EnvironmentHub::Close(const absl::Status& status) {
  // Held throughout: a concurrent second Close returns once this one is done.
  absl::MutexLock thread_lock(&thread_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    close_status_ = status;
    stopping_ = true;  // wakes Loop(); Poll() decides nothing any more
  }
  if (thread_.joinable()) thread_.join();
  // Waits for a Poll() in progress on another thread, and its deliveries.
  absl::MutexLock poll_lock(&poll_mu_);
  absl::MutexLock deliver(&deliver_mu_);
  std::vector<std::shared_ptr<const EnvironmentCallbacks>> closed;
  absl::Status why;
  {
    absl::MutexLock lock(&mu_);
    why = close_status_;
    for (int b = 0; b < static_cast<int>(slots_.size()); ++b) {
      Slot& slot = slots_[b];
      if (!slot.occupied) continue;
      closed.push_back(std::move(slot.callbacks));
      slot.occupied = false;
      slot.callbacks.reset();
      ResetSlotLocked(&slot);
      generation_[b].store(0);
    }
    metrics_.connected = 0;
  }
  for (const std::shared_ptr<const EnvironmentCallbacks>& callbacks : closed) {
    if (callbacks->on_closed) callbacks->on_closed(why);
  }
}

bool EnvironmentHub::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

absl::Status EnvironmentHub::ClosedErrorLocked() const {
  if (!close_status_.ok()) return close_status_;
  return absl::FailedPreconditionError(
      absl::StrCat("job ", options_.job_id, " has ended"));
}

TrainingCheckpoint EnvironmentHub::SaveAgentState() const {
  absl::MutexLock poll_lock(&poll_mu_);
  return agent_->SaveState();
}

absl::Status EnvironmentHub::RestoreAgentState(
    const TrainingCheckpoint& state) {
  absl::MutexLock poll_lock(&poll_mu_);
  if (awaiting_reward_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", options_.job_id,
        ": the agent's state can be restored only before its first "
        "decision"));
  }
  return agent_->RestoreState(state);
}

void EnvironmentHub::Loop() {
  // Wakes on every state change that makes a decision due or moves the next
  // queueing deadline earlier (a queued step, a leave), at that deadline,
  // and re-checks at least every 50 ms.
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && !DueLocked(absl::Now())) {
        const absl::Time deadline = std::min(
            NextDeadlineLocked(), absl::Now() + absl::Milliseconds(50));
        auto wake = [this, deadline]() {
          return stopping_ || DueLocked(absl::Now()) ||
                 NextDeadlineLocked() < deadline;
        };
        mu_.AwaitWithDeadline(absl::Condition(&wake), deadline);
      }
      if (stopping_) return;
    }
    Poll();
  }
}

EnvironmentHubMetrics EnvironmentHub::metrics() const {
  absl::MutexLock lock(&mu_);
  return metrics_;
}

HubDecisionRecord EnvironmentHub::last_decision() const {
  absl::MutexLock lock(&mu_);
  return last_decision_;
}

}  // namespace eprop::server
