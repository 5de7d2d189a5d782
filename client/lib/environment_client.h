// The environment side of a remote reinforcement-learning job
// (environments.proto, EnvironmentService.ConnectEnvironment): a runner
// that connects one environment (anything implementing Environment below)
// to an RL job on eprop-server, streams its observations and the outcomes
// of its actions, executes the actions the job's agent sends back, and
// survives the server going away.
//
// One run of RunEnvironment:
//   1. Opens a stream and sends EnvironmentOpen {job_id, name, a fresh
//      random run id (16 hex digits), spec, num_actions}.
//   2. Resets the environment and sends its first observation (sequence
//      number 0; reward 0, no flags: nothing happened before it). Every
//      action received is executed; the next step carries the resulting
//      observation and the action's reward, terminated and truncated. When
//      an action ends the episode the environment is reset and the step
//      carries the first observation of the next episode together with the
//      flags of the action that ended the previous one.
//   3. Ends when the frame budget is used up or the stop flag is set (the
//      stream is half-closed and finished cleanly), when the job ends, or
//      on an error.
//
// The job's end (EnvironmentRunResult.job_ended): the server ends the
// stream unasked with OK (the job completed), CANCELLED (it was
// cancelled), FAILED_PRECONDITION (it has finished) or NOT_FOUND (it is
// unknown); or, after this runner was accepted once, it answers a re-open
// with FAILED_PRECONDITION or NOT_FOUND (the job ended while the runner
// was reconnecting).
//
// Reconnecting. A stream that fails with UNAVAILABLE (the server is down or
// restarting, or the job does not accept environments now; as the stream's
// status or as the answer to a message) or ABORTED (the job asks its
// environments to connect again), or that gets no answer within
// step_timeout, is retried with exponential backoff and jitter. Every new
// stream resets the environment and opens with a NEW run id: the episode in
// progress is abandoned, because the server cannot know which state its
// network had reached for it (and a server that restarted has none). Reusing
// the run id would only be correct if both sides kept their state intact,
// which a runner cannot verify; a fresh start is always correct.
//
// Any other answer with a non-OK status_code (a per-message error, e.g.
// FAILED_PRECONDITION for a spec or number of actions that differs from the
// job's, RESOURCE_EXHAUSTED when the job has no free slot) is reported to
// the callback and ends the run with that status, as does any other status
// the stream ends with (e.g. UNAUTHENTICATED).
#ifndef EPROP_CLIENT_LIB_ENVIRONMENT_CLIENT_H_
#define EPROP_CLIENT_LIB_ENVIRONMENT_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eprop/v1/environments.grpc.pb.h"

namespace eprop::client {

// One observation, in the field the spec's kind uses:
// OBSERVATION_KIND_FEATURES: `features`, product(shape) floats;
// OBSERVATION_KIND_SPIKES: `bytes`, product(shape) binary values bit-packed
//   as PackBits (session_client.h) does: value i at byte i / 8, bit i % 8;
// OBSERVATION_KIND_RGB_FRAME: `bytes`, the raw [height, width, 3] frame.
// The runner reuses one Observation, so an environment can keep its
// capacity from step to step.
struct Observation {
  std::vector<float> features;
  std::string bytes;
};

// The outcome of one action.
struct StepResult {
  float reward = 0.0f;
  bool terminated = false;  // the episode reached a terminal state
  bool truncated = false;   // the episode was cut short
};

// An environment the runner can drive. Called from the runner's thread
// only.
class Environment {
 public:
  virtual ~Environment() = default;
  virtual v1::ObservationSpec spec() const = 0;
  virtual int num_actions() const = 0;
  // Starts a new episode and writes its first observation.
  virtual void Reset(Observation* observation) = 0;
  // Executes `action` (in [0, num_actions())) and writes the next
  // observation. When the result ends the episode the runner calls Reset()
  // next, so the observation written here is then not used.
  virtual StepResult Step(int action, Observation* observation) = 0;
};

// Round-trip latencies: a histogram with 16 logarithmic buckets per
// doubling (about 4.4 % wide) from 1 us up to about 4.5 minutes, plus the
// exact count, sum, minimum and maximum. Not thread-safe.
class LatencyHistogram {
 public:
  void Add(std::chrono::nanoseconds latency);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  std::chrono::nanoseconds min() const { return min_; }  // 0 if empty
  std::chrono::nanoseconds max() const { return max_; }
  std::chrono::nanoseconds mean() const;
  // The q-quantile, q in [0, 1], to the bucket's resolution (the centre of
  // the bucket holding it, clamped to [min, max]; exactly min for q = 0 and
  // max for q = 1); 0 if empty.
  std::chrono::nanoseconds Quantile(double q) const;

 private:
  static constexpr int kBucketsPerDoubling = 16;
  static constexpr int kBuckets = 1 + 28 * kBucketsPerDoubling;
  static int Bucket(int64_t ns);

  std::vector<int64_t> buckets_;  // sized on the first Add
  int64_t count_ = 0;
  double sum_ns_ = 0.0;
  std::chrono::nanoseconds min_{0};
  std::chrono::nanoseconds max_{0};
};

struct EnvironmentRunnerOptions {
  // The server, "host:port", with its credentials (null: plaintext) and
  // bearer token (sent as "authorization: Bearer <token>" when not empty).
  std::string target;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token;
  // Or a channel to use instead of target and credentials (e.g. one shared
  // by many runners; MakeEnvironmentChannel makes a suitable one).
  std::shared_ptr<grpc::ChannelInterface> channel;

  std::string job_id;  // required
  std::string name;    // a label for the server's logs, at most 200 bytes

  // Actions to execute at most (frames); 0: no limit.
  int64_t max_frames = 0;

  // Waits before reconnecting: initial_backoff, doubling after every
  // failed attempt up to max_backoff, each shortened by a random fraction
  // of up to `jitter` (in [0, 1]) so that many runners do not reconnect in
  // lockstep. Back to initial_backoff once an action arrives.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  double jitter = 0.2;
  // Give up (returning the last failure) when reconnecting would take
  // longer than this since the first failure after the last action (or
  // since the first failure of a runner that never got one); zero: retry
  // until stopped.
  std::chrono::milliseconds max_retry_time{0};
  // A stream whose answer takes longer than this is cancelled and retried
  // (DEADLINE_EXCEEDED); zero: wait as long as it takes.
  std::chrono::milliseconds step_timeout{0};
  // After stopping, how long to wait for the server to end the stream
  // before cancelling it.
  std::chrono::milliseconds close_timeout{2000};
};

// A channel to options.target with options.credentials whose own
// reconnection backoff follows the runner's (gRPC's default waits up to two
// minutes between connection attempts).
std::shared_ptr<grpc::Channel> MakeEnvironmentChannel(
    const EnvironmentRunnerOptions& options);

// What happened, reported to the runner's callback (on its thread).
struct EnvironmentEvent {
  enum class Kind {
    kOpened,        // the job accepted the environment: run_id, slot
    kStep,          // an action was executed: latency, frames
    kEpisodeEnd,    // an action ended an episode: episode_return, ...
    kMessageError,  // the server rejected a message: status
    kClosed,        // an accepted stream ended: status (OK when stopping)
    kRetry,         // waiting retry_after before reconnecting: status
  };
  Kind kind = Kind::kOpened;
  absl::Status status;
  std::string run_id;  // of the current (or last) stream
  int slot = -1;       // kOpened: the environment's slot in the job
  std::chrono::nanoseconds latency{0};  // kStep: send to action received
  int64_t frames = 0;           // actions executed so far by this runner
  double episode_return = 0.0;  // kEpisodeEnd
  int64_t episode_frames = 0;   // kEpisodeEnd
  bool truncated = false;       // kEpisodeEnd: truncated, not terminated
  std::chrono::milliseconds retry_after{0};  // kRetry
};
using EnvironmentCallback = std::function<void(const EnvironmentEvent&)>;

struct EnvironmentRunStats {
  int64_t frames = 0;       // actions executed
  int64_t episodes = 0;     // episodes ended by an action
  double return_sum = 0.0;  // over those episodes
  int64_t connects = 0;     // streams started
  // Failures retried (kRetry events: a wait, then a new stream unless
  // stopped meanwhile).
  int64_t reconnects = 0;
  int64_t opens = 0;  // opens accepted
  int64_t message_errors = 0;
  std::string last_run_id;
  LatencyHistogram latency;  // per step: send to action received
};

struct EnvironmentRunResult {
  // OK: the frame budget is used up, the run was stopped, or the job
  // completed (job_ended). Else the job's end as the server reported it
  // (job_ended), or the error that ended the run (including the last
  // failure when max_retry_time ran out).
  absl::Status status;
  // The job ended (see the top of this file): not an error of the
  // environment. False for the same codes as answers to a first open (e.g.
  // FAILED_PRECONDITION for a spec that differs from the job's).
  bool job_ended = false;
  EnvironmentRunStats stats;
};

// True for the error statuses with which the server ends the streams of a
// job that was cancelled, has finished or does not exist: CANCELLED,
// FAILED_PRECONDITION, NOT_FOUND.
bool IsJobEnd(const absl::Status& status);

// Runs `environment` against the job until the frame budget is used up,
// `stop` (may be null) becomes true, the job ends or an error occurs (see
// the top of this file). `callback` (may be empty) sees every event.
EnvironmentRunResult RunEnvironment(const EnvironmentRunnerOptions& options,
                                    Environment& environment,
                                    const std::atomic<bool>* stop,
                                    const EnvironmentCallback& callback = {});

}  // namespace eprop::client

#endif  // EPROP_CLIENT_LIB_ENVIRONMENT_CLIENT_H_
