#include "client/lib/environment_client.h"

#include <grpc/grpc.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/lib/grpc_status.h"

namespace eprop::client {
namespace {

using Clock = std::chrono::steady_clock;

// How often waits look at the stop flag.
constexpr std::chrono::milliseconds kPollInterval{20};
// How long a stream whose end is known may take to complete its pending
// operations before it is cancelled.
constexpr std::chrono::seconds kDrainTimeout{2};

// The status an answer carries (OK for status_code 0).
absl::Status FromMessage(const v1::AgentMessage& message) {
  return FromStatusCode(message.status_code(), message.status_message());
}

// Failures worth reconnecting for: the server is down, restarting or does
// not accept environments now, an answer took too long, or the job's
// environments must connect again (ABORTED, e.g. its hub was replaced).
bool IsRetryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded ||
         status.code() == absl::StatusCode::kAborted;
}

// 16 lowercase hex digits of a random 64-bit value.
std::string NewRunId(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t value = rng();
  std::string id(16, '0');
  for (int k = 15; k >= 0; --k, value >>= 4) id[k] = kHex[value & 0xf];
  return id;
}

// The product of the spec's shape, or an error for a malformed spec.
absl::StatusOr<int64_t> ObservationSize(const v1::ObservationSpec& spec) {
  if (spec.kind() != v1::OBSERVATION_KIND_FEATURES &&
      spec.kind() != v1::OBSERVATION_KIND_RGB_FRAME &&
      spec.kind() != v1::OBSERVATION_KIND_SPIKES) {
    return absl::InvalidArgumentError(
        absl::StrCat("the environment's observation kind ",
                     static_cast<int>(spec.kind()), " is not supported"));
  }
  if (spec.shape().empty()) {
    return absl::InvalidArgumentError(
        "the environment's observation shape is empty");
  }
  if (spec.kind() == v1::OBSERVATION_KIND_RGB_FRAME &&
      (spec.shape_size() != 3 || spec.shape(2) != 3)) {
    return absl::InvalidArgumentError(
        "an RGB_FRAME observation has the shape [height, width, 3]");
  }
  int64_t size = 1;
  for (const int32_t d : spec.shape()) {
    if (d < 1 || size > INT_MAX / d) {
      return absl::InvalidArgumentError(
          "the environment's observation shape needs dimensions >= 1 and "
          "fewer than 2^31 values");
    }
    size *= d;
  }
  return size;
}

// Checks that an observation has the size its spec asks for.
absl::Status CheckObservation(const Observation& observation,
                              v1::ObservationKind kind, int64_t size) {
  size_t expected = static_cast<size_t>(size);
  size_t got = observation.bytes.size();
  const char* unit = "bytes";
  if (kind == v1::OBSERVATION_KIND_FEATURES) {
    got = observation.features.size();
    unit = "features";
  } else if (kind == v1::OBSERVATION_KIND_SPIKES) {
    expected = static_cast<size_t>((size + 7) / 8);
  }
  if (got == expected) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the environment's observation has ", got, " ", unit,
                   "; its spec needs ", expected));
}

// One ConnectEnvironment call on its own completion queue. Waits return
// early when the stop flag is set (if asked to) or at a deadline; the
// operation then stays pending until Close() or End().
class EnvironmentStream {
 public:
  enum class Wait { kDone, kBroken, kStopped, kTimedOut };

  EnvironmentStream(v1::EnvironmentService::Stub* stub,
                    const std::string& token, const std::atomic<bool>* stop)
      : stop_(stop) {
    if (!token.empty()) {
      context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
    stream_ = stub->PrepareAsyncConnectEnvironment(&context_, &queue_);
  }

  EnvironmentStream(const EnvironmentStream&) = delete;
  EnvironmentStream& operator=(const EnvironmentStream&) = delete;

  ~EnvironmentStream() {
    if (started_ && !finished_) End(/*cancel=*/true).IgnoreError();
    queue_.Shutdown();
    void* tag;
    bool ok;
    while (queue_.Next(&tag, &ok)) {
    }
  }

  Wait Start() {
    started_ = true;
    pending_[kStart] = true;
    stream_->StartCall(Tag(kStart));
    return WaitFor(kStart, Clock::time_point::max());
  }

  Wait Write(const v1::EnvironmentMessage& message) {
    if (broken_) return Wait::kBroken;
    pending_[kWrite] = true;
    stream_->Write(message, Tag(kWrite));
    return WaitFor(kWrite, Clock::time_point::max());
  }

  Wait Read(v1::AgentMessage* message, Clock::time_point deadline) {
    if (broken_) return Wait::kBroken;
    pending_[kRead] = true;
    stream_->Read(message, Tag(kRead));
    return WaitFor(kRead, deadline);
  }

  // Half-closes the stream and waits up to `timeout` for the server to end
  // it (dropping any answers still on their way); cancels it after that.
  // Returns the stream's final status.
  absl::Status Close(std::chrono::milliseconds timeout) {
    if (finished_) return FromGrpc(status_);
    const Clock::time_point deadline = Clock::now() + timeout;
    if (!pending_[kStart] && !broken_) {
      while (pending_[kWrite] && Clock::now() < deadline) Next(deadline);
      if (!pending_[kWrite] && !broken_) {
        pending_[kWritesDone] = true;
        stream_->WritesDone(Tag(kWritesDone));
      }
    }
    // The server ends the stream once it has seen the half-close; a read
    // fails then.
    while (!broken_ && !pending_[kStart] && Clock::now() < deadline) {
      if (!pending_[kRead]) {
        pending_[kRead] = true;
        stream_->Read(&drained_, Tag(kRead));
      }
      Next(deadline);
    }
    return End(/*cancel=*/!broken_);
  }

  // Ends the call and returns its final status: cancels it first if asked
  // to; else reads (dropping answers) until the server's end shows, and
  // cancels it if that takes longer than kDrainTimeout.
  absl::Status End(bool cancel) {
    if (finished_) return FromGrpc(status_);
    if (cancel) context_.TryCancel();
    const Clock::time_point deadline = Clock::now() + kDrainTimeout;
    while (!reads_ended_ && Clock::now() < deadline) {
      if (!pending_[kRead] && !pending_[kStart]) {
        pending_[kRead] = true;
        stream_->Read(&drained_, Tag(kRead));
      }
      Next(deadline);
    }
    if (!reads_ended_ || !DrainUntil(deadline)) {
      context_.TryCancel();
      DrainUntil(Clock::time_point::max());
    }
    pending_[kFinish] = true;
    stream_->Finish(&status_, Tag(kFinish));
    while (pending_[kFinish]) Next(Clock::time_point::max());
    finished_ = true;
    return FromGrpc(status_);
  }

 private:
  enum Op { kStart, kWrite, kRead, kWritesDone, kFinish, kNumOps };

  static void* Tag(Op op) {
    return reinterpret_cast<void*>(static_cast<intptr_t>(op) + 1);
  }

  bool AnyPending() const {
    for (int op = 0; op < kNumOps; ++op) {
      if (pending_[op]) return true;
    }
    return false;
  }

  // Processes one completion, or returns at the deadline (or after the
  // poll interval).
  void Next(Clock::time_point deadline) {
    const Clock::time_point poll = Clock::now() + kPollInterval;
    const Clock::time_point until = std::min(deadline, poll);
    const auto wall =
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            until - Clock::now());
    void* tag = nullptr;
    bool ok = false;
    if (queue_.AsyncNext(&tag, &ok, wall) != grpc::CompletionQueue::GOT_EVENT) {
      return;
    }
    const Op op = static_cast<Op>(reinterpret_cast<intptr_t>(tag) - 1);
    pending_[op] = false;
    if (!ok && op != kFinish) broken_ = true;
    if (!ok && op == kRead) reads_ended_ = true;
  }

  // Waits for every pending operation; false at the deadline.
  bool DrainUntil(Clock::time_point deadline) {
    while (AnyPending()) {
      if (Clock::now() >= deadline) return false;
      Next(deadline);
    }
    return true;
  }

  Wait WaitFor(Op op, Clock::time_point deadline) {
    while (pending_[op]) {
      if (stop_ != nullptr && stop_->load()) return Wait::kStopped;
      if (Clock::now() >= deadline) return Wait::kTimedOut;
      Next(deadline);
    }
    return broken_ ? Wait::kBroken : Wait::kDone;
  }

  const std::atomic<bool>* const stop_;
  // The queue outlives the stream, which goes before its context.
  grpc::CompletionQueue queue_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientAsyncReaderWriter<v1::EnvironmentMessage, v1::AgentMessage>>
      stream_;
  bool pending_[kNumOps] = {};
  bool started_ = false;
  bool broken_ = false;       // an operation failed: the call has ended
  bool reads_ended_ = false;  // a read failed: nothing more will arrive
  bool finished_ = false;
  grpc::Status status_;
  v1::AgentMessage drained_;
};

class Runner {
 public:
  Runner(const EnvironmentRunnerOptions& options, Environment& environment,
         const std::atomic<bool>* stop, const EnvironmentCallback& callback)
      : options_(options),
        environment_(environment),
        stop_(stop),
        callback_(callback),
        rng_(Seed()) {}

  EnvironmentRunResult Run();

 private:
  // How one stream ended.
  struct StreamEnd {
    enum class Next { kDone, kRetry, kEnd } next = Next::kDone;
    absl::Status status;
    bool opened = false;      // the job accepted the environment
    bool got_action = false;  // at least one action arrived
    bool job_ended = false;   // the job ended (see the header)
  };

  static uint64_t Seed() {
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device();
  }

  bool Stopped() const { return stop_ != nullptr && stop_->load(); }
  bool FramesDone() const {
    return options_.max_frames > 0 &&
           result_.stats.frames >= options_.max_frames;
  }
  void Emit(const EnvironmentEvent& event) const {
    if (callback_) callback_(event);
  }
  EnvironmentEvent Event(EnvironmentEvent::Kind kind) const {
    EnvironmentEvent event;
    event.kind = kind;
    event.run_id = result_.stats.last_run_id;
    event.frames = result_.stats.frames;
    return event;
  }
  // Sleeps, waking early when stopped; false if stopped.
  bool SleepFor(std::chrono::milliseconds duration) const;
  absl::Status Validate();
  // Resets the environment and checks its first observation.
  absl::Status ResetEnvironment();

  StreamEnd RunStream(v1::EnvironmentService::Stub* stub);
  // The end of a stream whose call ended (a failed read or write).
  StreamEnd Ended(EnvironmentStream& stream, StreamEnd end);
  // The end of a stream that is closed on purpose (stop, frame budget) or
  // after an error of this side or an answer's error.
  StreamEnd Closed(EnvironmentStream& stream, StreamEnd end,
                   StreamEnd::Next next, absl::Status status);
  // Sends `message` and waits for its answer (given step_timeout).
  // Returns nullopt when the answer is in *answer, else how the stream
  // ended.
  std::optional<StreamEnd> Exchange(EnvironmentStream& stream,
                                    const v1::EnvironmentMessage& message,
                                    v1::AgentMessage* answer, StreamEnd end);

  const EnvironmentRunnerOptions& options_;
  Environment& environment_;
  const std::atomic<bool>* const stop_;
  const EnvironmentCallback& callback_;
  std::mt19937_64 rng_;
  v1::ObservationSpec spec_;
  int num_actions_ = 0;
  int64_t observation_size_ = 0;
  EnvironmentRunResult result_;
  Observation observation_;
  double episode_return_ = 0.0;
  int64_t episode_frames_ = 0;
  v1::EnvironmentMessage open_message_;
  v1::EnvironmentMessage step_message_;
  v1::AgentMessage answer_;
};

bool Runner::SleepFor(std::chrono::milliseconds duration) const {
  const Clock::time_point until = Clock::now() + duration;
  while (!Stopped()) {
    const Clock::time_point now = Clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - now, kPollInterval));
  }
  return false;
}

absl::Status Runner::Validate() {
  const EnvironmentRunnerOptions& o = options_;
  if (o.job_id.empty()) return absl::InvalidArgumentError("job_id is empty");
  if (o.channel == nullptr && o.target.empty()) {
    return absl::InvalidArgumentError("set a target or a channel");
  }
  if (o.max_frames < 0) {
    return absl::InvalidArgumentError("max_frames must not be negative");
  }
  if (o.initial_backoff.count() < 1 || o.max_backoff < o.initial_backoff ||
      !(o.jitter >= 0.0 && o.jitter <= 1.0) || o.max_retry_time.count() < 0 ||
      o.step_timeout.count() < 0 || o.close_timeout.count() < 0) {
    return absl::InvalidArgumentError(
        "the backoff needs 0 < initial_backoff <= max_backoff and jitter in "
        "[0, 1]; the timeouts must not be negative");
  }
  spec_ = environment_.spec();
  num_actions_ = environment_.num_actions();
  absl::StatusOr<int64_t> size = ObservationSize(spec_);
  if (!size.ok()) return size.status();
  observation_size_ = *size;
  if (num_actions_ < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the environment needs at least one action, has ", num_actions_));
  }
  return absl::OkStatus();
}

absl::Status Runner::ResetEnvironment() {
  environment_.Reset(&observation_);
  episode_return_ = 0.0;
  episode_frames_ = 0;
  return CheckObservation(observation_, spec_.kind(), observation_size_);
}

Runner::StreamEnd Runner::Ended(EnvironmentStream& stream, StreamEnd end) {
  end.status = stream.End(/*cancel=*/false);
  if (end.status.ok()) {
    // Unasked (this side has not half-closed), the server ends a stream
    // with OK only when the job has completed.
    end.next = StreamEnd::Next::kEnd;
    end.job_ended = true;
  } else if (IsRetryable(end.status)) {
    end.next = StreamEnd::Next::kRetry;
  } else {
    end.next = StreamEnd::Next::kEnd;
    end.job_ended = IsJobEnd(end.status);
  }
  return end;
}

Runner::StreamEnd Runner::Closed(EnvironmentStream& stream, StreamEnd end,
                                 StreamEnd::Next next, absl::Status status) {
  stream.Close(options_.close_timeout).IgnoreError();
  end.next = next;
  end.status = std::move(status);
  return end;
}

std::optional<Runner::StreamEnd> Runner::Exchange(
    EnvironmentStream& stream, const v1::EnvironmentMessage& message,
    v1::AgentMessage* answer, StreamEnd end) {
  using Wait = EnvironmentStream::Wait;
  Wait wait = stream.Write(message);
  if (wait == Wait::kDone) {
    const Clock::time_point deadline =
        options_.step_timeout.count() > 0 ? Clock::now() + options_.step_timeout
                                          : Clock::time_point::max();
    wait = stream.Read(answer, deadline);
  }
  switch (wait) {
    case Wait::kDone:
      return std::nullopt;
    case Wait::kBroken:
      return Ended(stream, end);
    case Wait::kStopped:
      return Closed(stream, end, StreamEnd::Next::kDone, absl::OkStatus());
    case Wait::kTimedOut:
      stream.End(/*cancel=*/true).IgnoreError();
      end.next = StreamEnd::Next::kRetry;
      end.status = absl::DeadlineExceededError(absl::StrCat(
          "no answer within ", options_.step_timeout.count(), " ms"));
      return end;
  }
  return end;
}

Runner::StreamEnd Runner::RunStream(v1::EnvironmentService::Stub* stub) {
  using Wait = EnvironmentStream::Wait;
  using Next = StreamEnd::Next;
  EnvironmentRunStats& stats = result_.stats;
  StreamEnd end;
  ++stats.connects;
  stats.last_run_id = NewRunId(rng_);
  if (absl::Status s = ResetEnvironment(); !s.ok()) {
    end.next = Next::kEnd;
    end.status = s;
    return end;
  }
  EnvironmentStream stream(stub, options_.token, stop_);
  switch (stream.Start()) {
    case Wait::kDone:
      break;
    case Wait::kBroken:
      return Ended(stream, end);
    case Wait::kStopped:
    case Wait::kTimedOut:
      return Closed(stream, end, Next::kDone, absl::OkStatus());
  }

  v1::EnvironmentOpen* open = open_message_.mutable_open();
  open->set_job_id(options_.job_id);
  open->set_name(options_.name);
  open->set_run_id(stats.last_run_id);
  *open->mutable_observation_spec() = spec_;
  open->set_num_actions(num_actions_);
  if (std::optional<StreamEnd> e =
          Exchange(stream, open_message_, &answer_, end)) {
    return *e;
  }
  // The job's answer to the open.
  absl::Status status = FromMessage(answer_);
  if (status.ok() && !answer_.has_accepted()) {
    status = absl::InternalError(
        "the server answered the open without "
        "accepting it");
  }
  if (!status.ok()) {
    ++stats.message_errors;
    EnvironmentEvent event = Event(EnvironmentEvent::Kind::kMessageError);
    event.status = status;
    Emit(event);
    end = Closed(stream, end, IsRetryable(status) ? Next::kRetry : Next::kEnd,
                 status);
    // A job that accepted this runner before and now refuses it as
    // finished or unknown has ended while the runner was reconnecting.
    end.job_ended =
        end.next == Next::kEnd && stats.opens > 0 && IsJobEnd(status);
    return end;
  }
  ++stats.opens;
  end.opened = true;
  {
    EnvironmentEvent event = Event(EnvironmentEvent::Kind::kOpened);
    event.slot = answer_.accepted().slot();
    Emit(event);
  }

  // Steps: the observation to act on, and the outcome of the previous
  // action (none before the first).
  v1::EnvironmentStep* step = step_message_.mutable_step();
  StepResult outcome;
  for (int64_t sequence_number = 0;; ++sequence_number) {
    if (Stopped() || FramesDone()) {
      return Closed(stream, end, Next::kDone, absl::OkStatus());
    }
    step->set_sequence_number(sequence_number);
    if (spec_.kind() == v1::OBSERVATION_KIND_FEATURES) {
      step->mutable_features()->Assign(observation_.features.begin(),
                                       observation_.features.end());
    } else {
      // The environment rewrites the swapped-in buffer on its next Step or
      // Reset, keeping its capacity.
      step->mutable_observation()->swap(observation_.bytes);
    }
    step->set_reward(outcome.reward);
    step->set_terminated(outcome.terminated);
    step->set_truncated(outcome.truncated);
    const Clock::time_point sent = Clock::now();
    if (std::optional<StreamEnd> e =
            Exchange(stream, step_message_, &answer_, end)) {
      return *e;
    }
    const std::chrono::nanoseconds latency = Clock::now() - sent;
    status = FromMessage(answer_);
    if (!status.ok()) {
      ++stats.message_errors;
      EnvironmentEvent event = Event(EnvironmentEvent::Kind::kMessageError);
      event.status = status;
      Emit(event);
      return Closed(stream, end,
                    IsRetryable(status) ? Next::kRetry : Next::kEnd, status);
    }
    if (!answer_.has_action() ||
        answer_.action().sequence_number() != sequence_number ||
        answer_.action().action() < 0 ||
        answer_.action().action() >= num_actions_) {
      return Closed(
          stream, end, Next::kEnd,
          absl::InternalError(absl::StrCat(
              "the server answered step ", sequence_number,
              " without a valid action: ", answer_.ShortDebugString())));
    }
    end.got_action = true;
    stats.latency.Add(latency);
    outcome = environment_.Step(answer_.action().action(), &observation_);
    ++stats.frames;
    ++episode_frames_;
    episode_return_ += outcome.reward;
    {
      EnvironmentEvent event = Event(EnvironmentEvent::Kind::kStep);
      event.latency = latency;
      Emit(event);
    }
    if (outcome.terminated || outcome.truncated) {
      ++stats.episodes;
      stats.return_sum += episode_return_;
      EnvironmentEvent event = Event(EnvironmentEvent::Kind::kEpisodeEnd);
      event.episode_return = episode_return_;
      event.episode_frames = episode_frames_;
      event.truncated = !outcome.terminated;
      Emit(event);
      status = ResetEnvironment();
    } else {
      status = CheckObservation(observation_, spec_.kind(), observation_size_);
    }
    if (!status.ok()) return Closed(stream, end, Next::kEnd, status);
  }
}

EnvironmentRunResult Runner::Run() {
  if (absl::Status s = Validate(); !s.ok()) {
    result_.status = s;
    return std::move(result_);
  }
  std::shared_ptr<grpc::ChannelInterface> channel = options_.channel;
  if (channel == nullptr) channel = MakeEnvironmentChannel(options_);
  std::unique_ptr<v1::EnvironmentService::Stub> stub =
      v1::EnvironmentService::NewStub(channel);
  EnvironmentRunStats& stats = result_.stats;
  std::chrono::milliseconds backoff = options_.initial_backoff;
  std::optional<Clock::time_point> outage_start;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  while (!Stopped() && !FramesDone()) {
    const StreamEnd end = RunStream(stub.get());
    if (end.opened) {
      EnvironmentEvent event = Event(EnvironmentEvent::Kind::kClosed);
      event.status = end.status;
      Emit(event);
    }
    if (end.next == StreamEnd::Next::kDone) break;
    if (end.next == StreamEnd::Next::kEnd) {
      result_.status = end.status;
      result_.job_ended = end.job_ended;
      break;
    }
    const Clock::time_point now = Clock::now();
    if (end.got_action || !outage_start.has_value()) {
      outage_start = now;
      if (end.got_action) backoff = options_.initial_backoff;
    }
    const auto wait = std::chrono::milliseconds(std::llround(
        backoff.count() * (1.0 - options_.jitter * uniform(rng_))));
    if (options_.max_retry_time.count() > 0 &&
        now + wait - *outage_start > options_.max_retry_time) {
      result_.status = end.status;
      break;
    }
    ++stats.reconnects;
    EnvironmentEvent event = Event(EnvironmentEvent::Kind::kRetry);
    event.status = end.status;
    event.retry_after = wait;
    Emit(event);
    if (!SleepFor(wait)) break;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  return std::move(result_);
}

}  // namespace

void LatencyHistogram::Add(std::chrono::nanoseconds latency) {
  if (buckets_.empty()) buckets_.assign(kBuckets, 0);
  const std::chrono::nanoseconds l =
      std::max(latency, std::chrono::nanoseconds(0));
  ++buckets_[Bucket(l.count())];
  if (count_ == 0 || l < min_) min_ = l;
  if (count_ == 0 || l > max_) max_ = l;
  ++count_;
  sum_ns_ += static_cast<double>(l.count());
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (buckets_.empty()) buckets_.assign(kBuckets, 0);
  for (int b = 0; b < kBuckets; ++b) buckets_[b] += other.buckets_[b];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ += other.count_;
  sum_ns_ += other.sum_ns_;
}

std::chrono::nanoseconds LatencyHistogram::mean() const {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(std::llround(sum_ns_ / count_));
}

int LatencyHistogram::Bucket(int64_t ns) {
  if (ns < 1000) return 0;
  const double b =
      1.0 + std::floor(std::log2(ns / 1000.0) * kBucketsPerDoubling);
  return static_cast<int>(std::min<double>(b, kBuckets - 1));
}

std::chrono::nanoseconds LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  if (q <= 0.0) return min_;
  const int64_t rank = static_cast<int64_t>(
      std::ceil(std::min(q, 1.0) * static_cast<double>(count_)));
  if (rank >= count_) return max_;
  int64_t seen = 0;
  int bucket = 0;
  for (; bucket < kBuckets - 1; ++bucket) {
    seen += buckets_[bucket];
    if (seen >= rank) break;
  }
  if (bucket == 0) return min_;
  const double centre =
      1000.0 * std::exp2((bucket - 0.5) / kBucketsPerDoubling);
  return std::clamp(std::chrono::nanoseconds(std::llround(centre)), min_, max_);
}

std::shared_ptr<grpc::Channel> MakeEnvironmentChannel(
    const EnvironmentRunnerOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                   static_cast<int>(std::min<int64_t>(
                       options.initial_backoff.count(), INT_MAX)));
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                   static_cast<int>(std::min<int64_t>(
                       options.max_backoff.count(), INT_MAX)));
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options.credentials != nullptr ? options.credentials
                                     : grpc::InsecureChannelCredentials();
  return grpc::CreateCustomChannel(options.target, credentials, arguments);
}

bool IsJobEnd(const absl::Status& status) {
  return status.code() == absl::StatusCode::kCancelled ||
         status.code() == absl::StatusCode::kFailedPrecondition ||
         status.code() == absl::StatusCode::kNotFound;
}

EnvironmentRunResult RunEnvironment(const EnvironmentRunnerOptions& options,
                                    Environment& environment,
                                    const std::atomic<bool>* stop,
                                    const EnvironmentCallback& callback) {
  return Runner(options, environment, stop, callback).Run();
}

}  // namespace eprop::client
