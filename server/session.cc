#include "server/session.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/log.h"
#include "server/session_inputs.h"

namespace eprop::server {
namespace {

v1::SessionResponse ErrorResponse(const absl::Status& status) {
  v1::SessionResponse response;
  response.set_status_code(static_cast<int>(status.code()));
  response.set_status_message(std::string(status.message()));
  return response;
}

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

void AppendPackedBits(const MatF& z, int64_t first_row, std::string* bits) {
  const int64_t n = z.cols();
  for (int64_t b = 0; b < z.rows(); ++b) {
    for (int64_t j = 0; j < n; ++j) {
      if (z(b, j) == 0.0f) continue;
      const int64_t k = (first_row + b) * n + j;
      (*bits)[k / 8] = static_cast<char>((*bits)[k / 8] | (1 << (k % 8)));
    }
  }
}

ErrorKind KindOf(const v1::Targets& targets) {
  switch (targets.kind_case()) {
    case v1::Targets::kRegression:
      return ErrorKind::kRegression;
    case v1::Targets::kClassification:
      return ErrorKind::kClassification;
    case v1::Targets::kOutputError:
      return ErrorKind::kOutputError;
    default:
      return ErrorKind::kNone;
  }
}

}  // namespace

Session::~Session() {
  if (trainer_ == nullptr) return;
  if (options_.learning()) {
    SaveIfDue(/*force=*/true);
    saver_.reset();
  }
  networks_->EndSession(network_id_, options_.learning());
}

absl::StatusOr<v1::SessionResponse> Session::Handle(
    const v1::SessionRequest& request) {
  switch (request.message_case()) {
    case v1::SessionRequest::kOpen:
      if (trainer_ != nullptr) {
        return ErrorResponse(absl::FailedPreconditionError(
            "the session is already open; send chunks"));
      }
      return Open(request.open());
    case v1::SessionRequest::kChunk:
      return Chunk(request.chunk());
    default:
      return ErrorResponse(Invalid("a SessionRequest needs open or chunk"));
  }
}

absl::StatusOr<v1::SessionResponse> Session::Open(const v1::SessionOpen& open) {
  if (open.batch_size() < 1 || open.batch_size() > limits_.max_batch) {
    return Invalid(absl::StrCat("batch_size must be in [1, ", limits_.max_batch,
                                "], got ", open.batch_size()));
  }
  if (!v1::UpdatePolicy_IsValid(open.update_policy())) {
    return Invalid(absl::StrCat("update_policy must be an UpdatePolicy, got ",
                                open.update_policy()));
  }
  absl::StatusOr<v1::Network> network = networks_->Get(open.network_id());
  if (!network.ok()) return network.status();
  if (open.algorithm() != v1::ALGORITHM_UNSPECIFIED &&
      open.algorithm() != network->spec().algorithm()) {
    return Invalid(absl::StrCat(
        "algorithm must be UNSPECIFIED or the network's own (",
        v1::Algorithm_Name(network->spec().algorithm()),
        "): its learning rule and feedback matrix are part of its state"));
  }
  if (open.learning() && network->spec().algorithm() == v1::ALGORITHM_BPTT) {
    return Invalid(
        "a network trained with BPTT cannot learn in a session (BPTT needs "
        "the whole sequence); open it with learning off");
  }
  // OnlineEprop keeps five [batch x n_rec x (n_in + n_rec)] float arrays.
  const double trace_bytes =
      !open.learning()
          ? 0.0
          : 5.0 * 4.0 * open.batch_size() * network->n_rec() *
                (static_cast<double>(network->n_in()) + network->n_rec());
  if (trace_bytes > static_cast<double>(limits_.max_memory_bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "a session of batch ", open.batch_size(), " on this network needs ",
        static_cast<int64_t>(trace_bytes / (1 << 20)),
        " MiB of eligibility traces; "
        "the limit is ",
        limits_.max_memory_bytes >> 20, " MiB (--max_job_memory_mb)"));
  }
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      networks_->BeginSession(open.network_id(), open.learning());
  if (!trainer.ok()) return trainer.status();
  trainer_ = *std::move(trainer);
  network_id_ = open.network_id();
  options_ = open;
  if (options_.update_policy() == v1::UPDATE_POLICY_UNSPECIFIED) {
    options_.set_update_policy(v1::UPDATE_POLICY_END_OF_SEQUENCE);
  }
  const NetworkConfig& config = trainer_->network();
  n_in_ = config.n_in;
  n_rec_ = config.n_rec();
  n_out_ = config.n_out;
  if (open.learning()) {
    learner_ = std::make_unique<OnlineLearner>(
        MakeNeuronConstants(config), trainer_->task().regularizer(),
        config.dt_ms, config.readout_bias, open.batch_size(),
        trainer_->weights());
    feedback_ = trainer_->FeedbackMatrix();
    saver_ = std::make_unique<NetworkSaver>(networks_, network_id_);
  } else {
    model_ = std::make_unique<NetworkModel<float>>(NetworkModel<float>::Prepare(
        MakeNeuronConstants(config), trainer_->weights()));
    state_.Reset(*model_, open.batch_size());
  }
  Log(LogLevel::kInfo, "session_opened",
      {{"network_id", network_id_},
       {"learning", open.learning() ? "true" : "false"},
       {"batch", absl::StrCat(open.batch_size())}});
  v1::SessionResponse response;
  *response.mutable_opened() = *network;
  return response;
}

absl::Status Session::Validate(const v1::SessionChunk& chunk) const {
  if (trainer_ == nullptr) {
    return absl::FailedPreconditionError(
        "send SessionOpen before the first chunk");
  }
  if (chunk.steps() < 1 || chunk.steps() > limits_.max_steps_per_chunk) {
    return Invalid(absl::StrCat("steps must be in [1, ",
                                limits_.max_steps_per_chunk, "], got ",
                                chunk.steps()));
  }
  const int64_t rows = int64_t{chunk.steps()} * options_.batch_size();
  const int64_t width = std::max({n_in_, n_rec_, n_out_});
  if (rows * width > limits_.max_chunk_values) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "a chunk may hold at most ", limits_.max_chunk_values,
        " values (steps x batch_size x max(n_in, n_rec, n_out)); this one "
        "has ",
        rows * width, ": send fewer steps per chunk"));
  }
  if (absl::Status s = CheckInputs(chunk.inputs(), rows, n_in_); !s.ok()) {
    return s;
  }
  const ErrorKind kind = KindOf(chunk.targets());
  if (kind == ErrorKind::kNone) return absl::OkStatus();
  if (!options_.learning()) {
    return Invalid("targets need a learning session (learning = true)");
  }
  if (learner_->kind() != ErrorKind::kNone && learner_->kind() != kind) {
    return absl::FailedPreconditionError(
        "one update period takes one kind of target (regression, "
        "classification or output error); apply an update before switching");
  }
  switch (kind) {
    case ErrorKind::kRegression:
      return CheckDenseSize(chunk.targets().regression(), rows * n_out_,
                            "targets.regression");
    case ErrorKind::kOutputError:
      return CheckDenseSize(chunk.targets().output_error(), rows * n_out_,
                            "targets.output_error");
    default:
      break;
  }
  const v1::Classification& c = chunk.targets().classification();
  if (c.labels_size() != rows) {
    return Invalid(absl::StrCat("targets.classification.labels must have ",
                                "steps x batch_size = ", rows, " entries, got ",
                                c.labels_size()));
  }
  if (c.mask_size() != 0 && c.mask_size() != rows) {
    return Invalid(
        absl::StrCat("targets.classification.mask must be empty "
                     "or have ",
                     rows, " entries, got ", c.mask_size()));
  }
  for (int64_t r = 0; r < rows; ++r) {
    const bool masked = c.mask_size() == 0 || c.mask(r);
    if (masked && (c.labels(r) < 0 || c.labels(r) >= n_out_)) {
      return Invalid(absl::StrCat("targets.classification.labels[", r,
                                  "] = ", c.labels(r), " is outside [0, ",
                                  n_out_, ")"));
    }
  }
  return absl::OkStatus();
}

void Session::StepNetwork(const SparseRows<float>& inputs, int64_t first_row) {
  if (learner_ != nullptr) {
    learner_->Step(inputs, first_row);
  } else {
    eprop::Step(*model_, inputs, first_row, &state_);
  }
}

MatF Session::Readout() const {
  if (learner_ != nullptr) return learner_->Output();
  return state_.readout_filtered.rowwise() + model_->b_out.transpose();
}

const MatF& Session::Spikes() const {
  return learner_ != nullptr ? learner_->spikes() : state_.z;
}

void Session::ResetNetwork() {
  if (learner_ != nullptr) {
    learner_->ResetState();
  } else {
    state_.Reset(*model_, options_.batch_size());
  }
}

void Session::Update() {
  trainer_->ApplyGradient(learner_->TakeGradient());
  learner_->SetWeights(trainer_->weights());
  feedback_ = trainer_->FeedbackMatrix();
  dirty_ = true;
  SaveIfDue(/*force=*/false);
}

void Session::SaveIfDue(bool force) {
  if (!dirty_ || (!force && absl::Now() - last_save_ < limits_.save_interval)) {
    return;
  }
  saver_->Submit(trainer_->SaveState(), unsaved_steps_);
  if (force) saver_->Flush();
  unsaved_steps_ = 0;
  dirty_ = false;
  last_save_ = absl::Now();
}

v1::SessionResponse Session::Chunk(const v1::SessionChunk& chunk) {
  if (absl::Status s = Validate(chunk); !s.ok()) {
    v1::SessionResponse response = ErrorResponse(s);
    response.mutable_result()->set_sequence_number(chunk.sequence_number());
    return response;
  }
  const int batch = options_.batch_size();
  const int64_t rows = int64_t{chunk.steps()} * batch;
  const SparseRows<float> inputs = DecodeInputs(chunk.inputs(), rows, n_in_);
  const v1::Targets& targets = chunk.targets();
  const ErrorKind kind = KindOf(targets);
  const bool learning = options_.learning();
  const v1::UpdatePolicy policy = options_.update_policy();

  v1::SessionResponse response;
  v1::ChunkResult& result = *response.mutable_result();
  result.set_sequence_number(chunk.sequence_number());
  result.set_steps(chunk.steps());
  result.mutable_outputs()->Reserve(static_cast<int>(rows * n_out_));
  std::string spikes;
  if (options_.return_spikes()) spikes.assign((rows * n_rec_ + 7) / 8, '\0');
  VecD spike_counts = VecD::Zero(n_rec_);
  MatF signal;
  MatF* signal_out = options_.return_learning_signals() ? &signal : nullptr;
  double loss = 0.0;
  int64_t masked = 0;
  bool updated = false;
  std::vector<int32_t> labels(batch);
  std::vector<uint8_t> mask(batch);

  if (chunk.reset_state()) ResetNetwork();
  for (int t = 0; t < chunk.steps(); ++t) {
    const int64_t row = int64_t{t} * batch;
    StepNetwork(inputs, row);
    const MatF y = Readout();
    for (int b = 0; b < batch; ++b) {
      for (int k = 0; k < n_out_; ++k) result.add_outputs(y(b, k));
    }
    const MatF& z = Spikes();
    spike_counts += z.cast<double>().colwise().sum().transpose();
    if (options_.return_spikes()) AppendPackedBits(z, row, &spikes);
    if (!learning) continue;
    learner_->CountStep();
    if (kind == ErrorKind::kRegression) {
      const Eigen::Map<const MatF> target(
          targets.regression().values().data() + row * n_out_, batch, n_out_);
      loss += *learner_->AddRegression(target, feedback_, signal_out);
    } else if (kind == ErrorKind::kClassification) {
      const v1::Classification& c = targets.classification();
      for (int b = 0; b < batch; ++b) {
        labels[b] = c.labels(static_cast<int>(row + b));
        mask[b] = c.mask_size() == 0 || c.mask(static_cast<int>(row + b));
        masked += mask[b];
      }
      loss += *learner_->AddClassification(labels, mask, feedback_, signal_out);
    } else if (kind == ErrorKind::kOutputError) {
      const Eigen::Map<const MatF> error(
          targets.output_error().values().data() + row * n_out_, batch, n_out_);
      learner_->AddOutputError(error, feedback_, signal_out).IgnoreError();
    }
    if (signal_out != nullptr) {
      if (kind == ErrorKind::kNone) signal.setZero(batch, n_rec_);
      for (int b = 0; b < batch; ++b) {
        for (int j = 0; j < n_rec_; ++j) {
          result.add_learning_signals(signal(b, j));
        }
      }
    }
    ++unsaved_steps_;
    if (policy == v1::UPDATE_POLICY_EVERY_STEP) {
      Update();
      updated = true;
    }
  }
  if (learning &&
      (policy == v1::UPDATE_POLICY_EVERY_CHUNK ||
       (policy == v1::UPDATE_POLICY_END_OF_SEQUENCE &&
        chunk.end_of_sequence()) ||
       (policy == v1::UPDATE_POLICY_MANUAL && chunk.apply_update()))) {
    Update();
    updated = true;
  }
  if (chunk.end_of_sequence()) ResetNetwork();

  if (kind == ErrorKind::kRegression) loss /= batch;
  if (kind == ErrorKind::kClassification && masked > 0) loss /= masked;
  result.set_loss(loss);
  result.set_spikes(std::move(spikes));
  if (options_.return_rates()) {
    const double seconds = rows * trainer_->network().dt_ms / 1000.0;
    for (int j = 0; j < n_rec_; ++j) {
      result.add_rates_hz(static_cast<float>(spike_counts[j] / seconds));
    }
  }
  result.set_updates(trainer_->iteration());
  result.set_updated(updated);
  return response;
}

}  // namespace eprop::server
