// The environment hub of an RL job (issue 6): one ActorCriticAgent with a
// fixed number of slots (AgentConfig::num_envs), and the remote
// environments (proto/eprop/v1/environments.proto) mapped onto them. Pure:
// no gRPC; a ConnectEnvironment reactor (server/environment_service.h), or
// a test, calls Join, Step and Leave and receives actions, and the end of
// the job, through the EnvironmentCallbacks it registered.
//
// Step semantics. An EnvironmentStep carries the observation to act on and
// the outcome (reward, terminated, truncated) of the environment's previous
// action; after an episode ended the observation is already the first of
// the next episode. So the agent's Reward for decision d is called just
// before its Act for decision d + 1, when the slots' next steps are known.
//
// Batching. A decision runs when at least one slot has a queued step and
// either every slot that took part in the previous decision has sent its
// next step, or the oldest queued step has waited max_queueing_delay. It
// feeds the queued observations to their slots and zeros to every other
// slot, and sends the actions of the queued steps only.
//
// The lockstep agent and slots without a step. The agent always simulates
// every slot; a slot without a queued step is inactive for that decision
// (ActorCriticAgent's active mask): it is fed zeros and takes no part in
// learning, and the loss is a mean over the active decisions only, so the
// effective learning rate does not depend on how many environments are
// connected. A real environment's participation ends with a terminal
// transition (which resets its network state): when the episode ends; when
// the environment leaves, re-opens with a new run id or stalls (a "cut":
// reward 0, terminal, since the true outcome is unknown or belongs to
// another run). A cut teaches R = 0 for the cut decision, which is why
// max_queueing_delay should exceed the environments' normal step time; a
// stalled environment's late step is then accepted as a fresh start (its
// reward counts toward the episode-return metrics but not toward learning)
// with a fresh network state. Truncation is treated as termination (no
// bootstrap past it), as in core/rl/breakout_training.
//
// RGB frames (frame_preprocessing set; the jobs' RGB_FRAME observations).
// Each slot owns a FrameStreamPreprocessing
// (core/env/frame_stream_preprocessing.h) that applies the ALE conventions
// to the environment's raw frames: every EnvironmentStep is one raw frame.
// A frame inside a frame-skip window or a no-op start is answered at once
// with its raw action, on the calling thread, from Step (never queued, no
// decision involved); only a frame on which a decision is due is queued as
// above, with the screen_size^2 grayscale observation (values / 255) and the
// summed (optionally clipped) reward and the episode end since the slot's
// previous decision, and is answered with the raw action the agent's action
// becomes (sticky actions). The `frames` metric counts raw frames (steps
// answered) and the episode-return metrics add up the unclipped raw rewards
// of every frame. A join or a new run id restarts the slot's preprocessing
// (its first frame starts an episode).
//
// Closing. When the job ends, Close(status) stops the decision thread, frees
// every slot and calls each joined environment's on_closed(status) (after
// any action still being delivered); later Join, Reopen and Step calls fail
// with `status` (FAILED_PRECONDITION if it is OK, i.e. the job completed).
// The agent's state stays readable (SaveAgentState).
//
// Threads. All methods are thread-safe. Decisions run on Poll() (tests, with
// an injected clock) or on the hub's own thread (Start()). Callbacks are
// called outside the hub's state lock but under its delivery lock, one at a
// time: a callback must not call into the hub (nor Close it), and after
// Leave() returns neither callback of the left environment is called again.
// (Immediate answers to RGB frames are delivered the same way, from Step.)
#ifndef EPROP_SERVER_ENVIRONMENT_HUB_H_
#define EPROP_SERVER_ENVIRONMENT_HUB_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/env/atari_preprocessing.h"
#include "core/env/frame_stream_preprocessing.h"
#include "core/rl/actor_critic_agent.h"
#include "core/train/checkpoint.h"
#include "eprop/v1/environments.pb.h"

namespace eprop::server {

struct EnvironmentHubOptions {
  std::string job_id;
  // The agent: num_envs is the number of slots, network.n_in must be the
  // product of the observation shape (screen_size^2 with
  // frame_preprocessing), n_actions the environments' number of actions.
  AgentConfig agent;
  v1::ObservationSpec observation_spec;
  // RGB_FRAME observations only: the ALE preprocessing of the raw frames
  // (see the top of this file). Unset, a frame is fed as is (values / 255,
  // one decision per frame).
  std::optional<env::PreprocessingOptions> frame_preprocessing;
  // Slot b's preprocessing draws its random numbers (no-op counts, sticky
  // actions) from seed frame_seed + b, continued across its tenants.
  uint64_t frame_seed = 1;
  absl::Duration max_queueing_delay = absl::Milliseconds(20);
  // The time source of Poll(); absl::Now if empty. Start() needs real time.
  std::function<absl::Time()> clock;

  absl::Status Validate() const;
};

// Identifies one environment's tenure of a slot; a stale handle (after
// Leave) is refused.
struct SlotHandle {
  int slot = -1;
  uint64_t generation = 0;
};

// Receives the AgentMessage (an action) answering a queued step.
using ActionSink = std::function<void(const v1::AgentMessage&)>;

// One joined environment's end of the hub, given to Join. Both are called
// under the hub's delivery lock (see Threads above), on the decision thread
// or the thread that calls Close.
struct EnvironmentCallbacks {
  // The answer to a queued step (an action; INTERNAL if the agent failed).
  ActionSink on_message;
  // The job ended (Close): the environment is no longer joined, no message
  // follows; the connection should end with `status` (OK: the job
  // completed). May be empty.
  std::function<void(const absl::Status& status)> on_closed;
};

struct EnvironmentHubMetrics {
  int connected = 0;      // environments joined now
  int64_t frames = 0;     // steps (raw frames) answered with an action
  int64_t decisions = 0;  // agent decisions (batches)
  int64_t episodes = 0;   // finished episodes (terminated or truncated)
  double avg_return_last100 = 0.0;  // over the last min(100, episodes)
  int64_t cuts = 0;      // participations ended by a stall (see above)
  int64_t updates = 0;   // the agent's weight updates
  double loss = 0.0;     // the agent's last update
  double entropy = 0.0;  // last update: mean policy entropy [nats]
  double rate_hz = 0.0;  // last update: mean firing rate [Hz]
};

// What the last decision fed the agent (for tests and logs).
struct HubDecisionRecord {
  std::vector<uint8_t> real;  // [slots] 1: a queued observation, 0: filler
  // The Reward() given for the previous decision just before this one
  // (empty for the first decision).
  std::vector<float> rewards;
  std::vector<uint8_t> terminated;
  // The agent's input, [slots x n_in] (zeros for fillers), and its actions
  // (before frame preprocessing turns them into raw actions; empty if the
  // agent failed).
  std::vector<float> observations;
  std::vector<int32_t> actions;
};

class EnvironmentHub {
 public:
  static absl::StatusOr<std::unique_ptr<EnvironmentHub>> Create(
      EnvironmentHubOptions options);
  ~EnvironmentHub();  // stops the thread; calls no callback
  EnvironmentHub(const EnvironmentHub&) = delete;
  EnvironmentHub& operator=(const EnvironmentHub&) = delete;

  // Checks `open` (INVALID_ARGUMENT if malformed, FAILED_PRECONDITION if the
  // job id, observation spec or number of actions differ from the job's)
  // and takes a free slot (RESOURCE_EXHAUSTED if none). The environment
  // starts with a fresh network state. After Close, fails with Close's
  // status (FAILED_PRECONDITION if that was OK).
  absl::StatusOr<SlotHandle> Join(const v1::EnvironmentOpen& open,
                                  EnvironmentCallbacks callbacks);
  // A second open on the same connection: the same checks; the same run id
  // changes nothing, a new one cuts the current participation (fresh
  // network state) and drops a queued step without answering it.
  absl::Status Reopen(const SlotHandle& handle,
                      const v1::EnvironmentOpen& open);
  // Frees the slot; a queued step is dropped without answer. No-op for a
  // stale handle (also after Close). Either way it returns only when no
  // callback of the handle's environment runs or will run.
  void Leave(const SlotHandle& handle);

  // Checks and queues a step; its action goes to on_message. Errors change
  // nothing: INVALID_ARGUMENT (observation of the wrong field or size,
  // non-finite values or reward, sequence number not increasing),
  // FAILED_PRECONDITION (stale handle, or a step while the previous one
  // still waits for its action); after Close, as Join. With
  // frame_preprocessing, a frame that needs no decision is answered
  // (on_message) before Step returns.
  absl::Status Step(const SlotHandle& handle, const v1::EnvironmentStep& step);

  // Runs one decision if one is due at clock(); true if it ran.
  bool Poll();
  // Runs decisions on a thread until Close or destruction (real time).
  // Call at most once.
  void Start();

  // The job is ending: stops the decision thread (waiting for a decision in
  // progress and its deliveries), frees every slot, calls on_closed(status)
  // of each joined environment and makes later Join, Reopen and Step fail
  // with `status`. OK means the job completed: connections end with OK and
  // later calls fail with FAILED_PRECONDITION "job <id> has ended".
  // Idempotent: later calls do nothing (a concurrent second call returns
  // once the first is done). Must not be called from a callback.
  void Close(const absl::Status& status);
  bool closed() const;

  // The agent's learned state (ActorCriticAgent::SaveState); waits for a
  // decision in progress. Also after Close.
  TrainingCheckpoint SaveAgentState() const;
  // Restores a state saved by an agent with the same configuration
  // (ActorCriticAgent::RestoreState; INVALID_ARGUMENT if it does not fit).
  // Only before the first decision, i.e. right after Create (before any
  // step is decided; in practice before Start): the agent refuses to
  // restore between an Act and its Reward, and after the first decision the
  // hub always holds one pending Reward. FAILED_PRECONDITION afterwards.
  absl::Status RestoreAgentState(const TrainingCheckpoint& state);

  EnvironmentHubMetrics metrics() const;
  HubDecisionRecord last_decision() const;
  int num_slots() const { return options_.agent.num_envs; }
  const std::string& job_id() const { return options_.job_id; }
  absl::Duration max_queueing_delay() const {
    return options_.max_queueing_delay;
  }

 private:
  struct Slot {
    bool occupied = false;
    std::string name;
    std::string run_id;
    std::shared_ptr<const EnvironmentCallbacks> callbacks;
    // A step is queued, not yet decided.
    bool ready = false;
    // A step was accepted and its action is not delivered yet.
    bool awaiting_action = false;
    std::vector<float> observation;  // the queued step's, decoded
    int64_t sequence_number = 0;
    float reward = 0.0f;
    bool ended = false;  // terminated or truncated
    absl::Time queued_at;
    bool has_sequence = false;  // a step was accepted since Join
    int64_t last_sequence = 0;
    // The queued step's outcome does not belong to the slot's previous
    // agent decision (first step after a join, re-open or cut).
    bool fresh = true;
    // A real observation of this slot was in the previous decision.
    bool participated = false;
    double episode_return = 0.0;
    // frame_preprocessing: the slot's next frame restarts its
    // preprocessing (a new tenant or run id).
    bool restart_frames = true;
  };

  // The frame preprocessing of one slot; mu is taken before the hub's mu_.
  struct FrameSlot {
    FrameSlot(int height, int width, uint64_t seed,
              const env::PreprocessingOptions& options)
        : pre(height, width, seed, options) {}
    absl::Mutex mu;
    env::FrameStreamPreprocessing pre ABSL_GUARDED_BY(mu);
  };

  explicit EnvironmentHub(EnvironmentHubOptions options,
                          std::unique_ptr<ActorCriticAgent> agent);

  absl::Time Now() const;
  absl::Status CheckOpen(const v1::EnvironmentOpen& open) const;
  // Validates and decodes a step's observation into n_in floats.
  absl::Status Decode(const v1::EnvironmentStep& step,
                      std::vector<float>* out) const;
  // Validates a raw frame (frame_preprocessing).
  absl::Status CheckFrame(const v1::EnvironmentStep& step) const;
  // Step with frame_preprocessing.
  absl::Status StepFrame(const SlotHandle& handle,
                         const v1::EnvironmentStep& step);
  // Checks a step's handle, sequence number and state, and records its
  // outcome for the episode-return metrics and its sequence number.
  absl::Status AcceptStepLocked(const SlotHandle& handle,
                                const v1::EnvironmentStep& step)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool DueLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The earliest time a decision may become due (InfiniteFuture if none).
  absl::Time NextDeadlineLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordEpisodeLocked(double episode_return)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ResetSlotLocked(Slot* slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();

  const EnvironmentHubOptions options_;
  const int n_in_;

  // The error of calls after Close.
  absl::Status ClosedErrorLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stale-handle or closed error of Reopen and Step.
  absl::Status CheckHandleLocked(const SlotHandle& handle,
                                 absl::string_view not_joined) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // One per slot with frame_preprocessing, else empty; fixed size.
  std::vector<std::unique_ptr<FrameSlot>> frame_slots_;

  // Lock order: poll_mu_, then deliver_mu_, then a FrameSlot's mu, then
  // mu_.
  mutable absl::Mutex poll_mu_;  // one decision at a time; guards agent_
  std::unique_ptr<ActorCriticAgent> agent_ ABSL_GUARDED_BY(poll_mu_);
  bool awaiting_reward_ ABSL_GUARDED_BY(poll_mu_) = false;

  mutable absl::Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  // Generations are read by the delivery loop without mu_.
  std::unique_ptr<std::atomic<uint64_t>[]> generation_;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  EnvironmentHubMetrics metrics_ ABSL_GUARDED_BY(mu_);
  std::deque<double> last_returns_ ABSL_GUARDED_BY(mu_);
  HubDecisionRecord last_decision_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);  // Close's

  absl::Mutex deliver_mu_;  // held while callbacks are called
  absl::Mutex thread_mu_;   // serialises Start, Close and the destructor
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_ENVIRONMENT_HUB_H_
