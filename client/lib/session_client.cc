#include "client/lib/session_client.h"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/lib/grpc_status.h"

namespace eprop::client {
namespace {

// The status a response carries (OK for status_code 0).
absl::Status FromResponse(const v1::SessionResponse& response) {
  return FromStatusCode(response.status_code(), response.status_message());
}

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

// How many of the input's alternatives (spike encodings or target kinds)
// are set.
int CountSet(std::initializer_list<bool> set) {
  int count = 0;
  for (const bool s : set) count += s;
  return count;
}

// Checks what the encoding of `input` needs: one encoding and one target
// kind at most, dense spikes of exactly rows x n_in, events in pairs.
absl::Status CheckEncodable(const ChunkInput& input, int64_t rows, int n_in) {
  if (input.steps < 1) {
    return Invalid(absl::StrCat("steps must be at least 1, got ", input.steps));
  }
  const bool events = !input.event_rows.empty() || !input.event_inputs.empty();
  if (!input.spikes.empty() && events) {
    return Invalid("set dense spikes or spike events, not both");
  }
  if (!input.spikes.empty() &&
      static_cast<int64_t>(input.spikes.size()) != rows * n_in) {
    return Invalid(absl::StrCat(
        "spikes must have steps x batch_size x n_in = ", rows * n_in,
        " entries, got ", input.spikes.size()));
  }
  if (input.event_rows.size() != input.event_inputs.size()) {
    return Invalid(absl::StrCat(
        "event_rows (", input.event_rows.size(), ") and event_inputs (",
        input.event_inputs.size(), ") must have the same length"));
  }
  if (CountSet({!input.regression.empty(), !input.labels.empty(),
                !input.output_errors.empty()}) > 1) {
    return Invalid("set at most one of regression, labels and output_errors");
  }
  if (!input.label_mask.empty() && input.labels.empty()) {
    return Invalid("label_mask needs labels");
  }
  return absl::OkStatus();
}

void SetTargets(const ChunkInput& input, v1::SessionChunk* chunk) {
  if (!input.regression.empty()) {
    chunk->mutable_targets()->mutable_regression()->mutable_values()->Add(
        input.regression.begin(), input.regression.end());
  } else if (!input.output_errors.empty()) {
    chunk->mutable_targets()->mutable_output_error()->mutable_values()->Add(
        input.output_errors.begin(), input.output_errors.end());
  } else if (!input.labels.empty()) {
    v1::Classification* c = chunk->mutable_targets()->mutable_classification();
    c->mutable_labels()->Add(input.labels.begin(), input.labels.end());
    c->mutable_mask()->Reserve(static_cast<int>(input.label_mask.size()));
    for (const uint8_t m : input.label_mask) c->add_mask(m != 0);
  }
}

}  // namespace

void PackBitsInto(const uint8_t* bits, size_t count, std::string* out) {
  out->assign((count + 7) / 8, '\0');
  char* bytes = out->data();
  const size_t full = count / 8;
  for (size_t b = 0; b < full; ++b) {
    const uint8_t* p = bits + 8 * b;
    unsigned byte = 0;
    for (unsigned i = 0; i < 8; ++i) byte |= unsigned{p[i] != 0} << i;
    bytes[b] = static_cast<char>(byte);
  }
  for (size_t k = 8 * full; k < count; ++k) {
    if (bits[k] != 0) {
      bytes[full] = static_cast<char>(bytes[full] | (1u << (k % 8)));
    }
  }
}

std::string PackBits(const std::vector<uint8_t>& bits) {
  std::string packed;
  PackBitsInto(bits.data(), bits.size(), &packed);
  return packed;
}

void UnpackBitsInto(std::string_view packed, int64_t count,
                    std::vector<uint8_t>* out) {
  out->assign(static_cast<size_t>(count), 0);
  const int64_t available =
      std::min<int64_t>(count, static_cast<int64_t>(packed.size()) * 8);
  for (int64_t k = 0; k < available; ++k) {
    (*out)[k] = (static_cast<unsigned char>(packed[k / 8]) >> (k % 8)) & 1u;
  }
}

std::vector<uint8_t> UnpackBits(std::string_view packed, int64_t count) {
  std::vector<uint8_t> bits;
  UnpackBitsInto(packed, count, &bits);
  return bits;
}

SessionClient::SessionClient(
    std::unique_ptr<v1::NetworkService::StubInterface> owned,
    v1::NetworkService::StubInterface* stub, const SessionOptions& options)
    : owned_stub_(std::move(owned)), stub_(stub), options_(options) {}

SessionClient::~SessionClient() {
  if (stream_ != nullptr && !ended_) Close().IgnoreError();
  queue_.Shutdown();
  void* tag;
  bool ok;
  while (queue_.Next(&tag, &ok)) {
  }
}

absl::StatusOr<std::unique_ptr<SessionClient>> SessionClient::Open(
    std::shared_ptr<grpc::ChannelInterface> channel, const std::string& token,
    const std::string& network_id, const SessionOptions& options) {
  std::unique_ptr<v1::NetworkService::StubInterface> stub =
      v1::NetworkService::NewStub(std::move(channel));
  v1::NetworkService::StubInterface* raw = stub.get();
  std::unique_ptr<SessionClient> client(
      new SessionClient(std::move(stub), raw, options));
  if (absl::Status s = client->Start(token, network_id); !s.ok()) return s;
  return client;
}

absl::StatusOr<std::unique_ptr<SessionClient>> SessionClient::Open(
    v1::NetworkService::StubInterface* stub, const std::string& token,
    const std::string& network_id, const SessionOptions& options) {
  std::unique_ptr<SessionClient> client(
      new SessionClient(nullptr, stub, options));
  if (absl::Status s = client->Start(token, network_id); !s.ok()) return s;
  return client;
}

void SessionClient::WaitNext() {
  void* tag;
  bool ok;
  // The queue shuts down only in the destructor, after the stream ended.
  if (!queue_.Next(&tag, &ok)) {
    broken_ = finished_ = true;
    return;
  }
  switch (static_cast<Op>(reinterpret_cast<intptr_t>(tag) - 1)) {
    case Op::kWrite:
      write_pending_ = false;
      break;
    case Op::kRead:
      read_pending_ = false;
      if (ok) {
        received_.push_back(std::move(reading_));
        reads_owed_ = std::max<int64_t>(0, reads_owed_ - 1);
        StartReadIfOwed();
      }
      break;
    case Op::kWritesDone:
      writes_done_ = true;
      break;
    case Op::kFinish:
      finished_ = true;
      break;
    case Op::kStart:
      started_ = true;
      break;
  }
  if (!ok) broken_ = true;
}

void SessionClient::StartReadIfOwed() {
  if (read_pending_ || broken_ || reads_owed_ == 0) return;
  read_pending_ = true;
  stream_->Read(&reading_, Tag(Op::kRead));
}

void SessionClient::WaitForWrite() {
  while (write_pending_) WaitNext();
}

absl::Status SessionClient::Write() {
  WaitForWrite();
  if (broken_) return EndAfterFailure();
  write_pending_ = true;
  stream_->Write(request_, Tag(Op::kWrite));
  ++reads_owed_;
  StartReadIfOwed();
  return absl::OkStatus();
}

absl::Status SessionClient::Start(const std::string& token,
                                  const std::string& network_id) {
  context_ = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) {
    context_->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  if (options_.timeout.count() > 0) {
    context_->set_deadline(std::chrono::system_clock::now() + options_.timeout);
  }
  stream_ = stub_->PrepareAsyncSession(context_.get(), &queue_);
  stream_->StartCall(Tag(Op::kStart));
  // The first write may not start before the call's initial metadata is
  // out.
  while (!started_ && !broken_) WaitNext();
  v1::SessionOpen* open = request_.mutable_open();
  open->set_network_id(network_id);
  open->set_batch_size(options_.batch_size);
  open->set_learning(options_.learning);
  open->set_update_policy(options_.update_policy);
  open->set_return_spikes(options_.return_spikes);
  open->set_return_learning_signals(options_.return_learning_signals);
  open->set_return_rates(options_.return_rates);
  if (absl::Status s = Write(); !s.ok()) return s;
  while (received_.empty() && !broken_) WaitNext();
  if (received_.empty()) return EndAfterFailure();
  const v1::SessionResponse response = std::move(received_.front());
  received_.pop_front();
  absl::Status status = FromResponse(response);
  if (status.ok() && !response.has_opened()) {
    status = absl::InternalError(
        "the server answered SessionOpen without the network");
  }
  if (!status.ok()) {
    Close().IgnoreError();
    return status;
  }
  network_ = response.opened();
  return absl::OkStatus();
}

absl::Status SessionClient::Finish() {
  ended_ = true;
  WaitForWrite();
  // The server owes no more answers once the stream ends; read (and drop)
  // any it still sends until then.
  while (!broken_) {
    if (!read_pending_) {
      read_pending_ = true;
      stream_->Read(&reading_, Tag(Op::kRead));
    }
    WaitNext();
  }
  while (read_pending_) WaitNext();
  grpc::Status status;
  stream_->Finish(&status, Tag(Op::kFinish));
  while (!finished_) WaitNext();
  return FromGrpc(status);
}

absl::Status SessionClient::EndAfterFailure() {
  if (ended_) return end_status_;
  const absl::Status status = Finish();
  end_status_ = status.ok() ? absl::InternalError(
                                  "the server ended the session without "
                                  "answering")
                            : status;
  return end_status_;
}

absl::Status SessionClient::Close() {
  if (ended_) return end_status_;
  WaitForWrite();
  if (!broken_) {
    stream_->WritesDone(Tag(Op::kWritesDone));
    while (!writes_done_ && !broken_) WaitNext();
  }
  end_status_ = Finish();
  return end_status_;
}

absl::Status SessionClient::BuildChunk(const ChunkInput& input) {
  const int64_t rows = int64_t{input.steps} * options_.batch_size;
  if (absl::Status s = CheckEncodable(input, rows, network_.n_in()); !s.ok()) {
    return s;
  }
  v1::SessionChunk* chunk = request_.mutable_chunk();
  chunk->Clear();
  chunk->set_steps(input.steps);
  if (!input.spikes.empty()) {
    PackBitsInto(input.spikes.data(), input.spikes.size(),
                 chunk->mutable_inputs()->mutable_packed());
  } else if (!input.event_rows.empty()) {
    v1::SparseEvents* events = chunk->mutable_inputs()->mutable_events();
    events->mutable_rows()->Add(input.event_rows.begin(),
                                input.event_rows.end());
    events->mutable_inputs()->Add(input.event_inputs.begin(),
                                  input.event_inputs.end());
  }
  SetTargets(input, chunk);
  chunk->set_reset_state(input.reset_state);
  chunk->set_end_of_sequence(input.end_of_sequence);
  chunk->set_apply_update(input.apply_update);
  return absl::OkStatus();
}

void SessionClient::ToOutput(const v1::SessionResponse& response, int64_t rows,
                             ChunkOutput* output) const {
  const v1::ChunkResult& result = response.result();
  output->sequence_number = result.sequence_number();
  output->steps = result.steps();
  output->outputs.assign(result.outputs().begin(), result.outputs().end());
  if (options_.return_spikes) {
    UnpackBitsInto(result.spikes(), rows * network_.n_rec(), &output->spikes);
  } else {
    output->spikes.clear();
  }
  output->learning_signals.assign(result.learning_signals().begin(),
                                  result.learning_signals().end());
  output->rates_hz.assign(result.rates_hz().begin(), result.rates_hz().end());
  output->loss = result.loss();
  output->updates = result.updates();
  output->updated = result.updated();
}

absl::Status SessionClient::Ended() const {
  return absl::FailedPreconditionError(
      end_status_.ok()
          ? std::string("the session is closed")
          : absl::StrCat("the session has ended: ", end_status_.ToString()));
}

absl::Status SessionClient::Post(const ChunkInput& input) {
  if (ended_) return Ended();
  if (in_flight() >= kMaxInFlight) {
    return absl::FailedPreconditionError(absl::StrCat(
        kMaxInFlight, " chunks are in flight; Receive one before posting"));
  }
  // gRPC serializes a message when its write starts, so request_ may be
  // rebuilt while the previous write is still in progress.
  if (absl::Status s = BuildChunk(input); !s.ok()) return s;
  const int64_t sequence_number = next_sequence_number_++;
  request_.mutable_chunk()->set_sequence_number(sequence_number);
  if (absl::Status s = Write(); !s.ok()) return s;
  posted_.push_back(
      {sequence_number, int64_t{input.steps} * options_.batch_size});
  return absl::OkStatus();
}

absl::Status SessionClient::Receive(ChunkOutput* output) {
  if (ended_) return Ended();
  if (posted_.empty()) {
    return absl::FailedPreconditionError("no chunk is in flight; Post first");
  }
  while (received_.empty() && !broken_) WaitNext();
  if (received_.empty()) return EndAfterFailure();
  const Posted posted = posted_.front();
  posted_.pop_front();
  const v1::SessionResponse response = std::move(received_.front());
  received_.pop_front();
  if (absl::Status s = FromResponse(response); !s.ok()) return s;
  if (!response.has_result() ||
      response.result().sequence_number() != posted.sequence_number) {
    return absl::InternalError(
        absl::StrCat("the server answered chunk ", posted.sequence_number,
                     " with the result of ",
                     response.has_result() ? "another chunk" : "no chunk"));
  }
  ToOutput(response, posted.rows, output);
  return absl::OkStatus();
}

absl::Status SessionClient::Send(const ChunkInput& input, ChunkOutput* output) {
  if (!ended_ && !posted_.empty()) {
    return absl::FailedPreconditionError(
        "chunks are in flight; Receive their results before Send");
  }
  if (absl::Status s = Post(input); !s.ok()) return s;
  return Receive(output);
}

absl::StatusOr<ChunkOutput> SessionClient::Send(const ChunkInput& input) {
  ChunkOutput output;
  if (absl::Status s = Send(input, &output); !s.ok()) return s;
  return output;
}

}  // namespace eprop::client
