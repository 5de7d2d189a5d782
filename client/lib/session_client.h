// The client side of a streaming session (networks.proto,
// NetworkService.Session): open a session on a network, send chunks of
// steps, get each chunk's readout (and optionally spikes, learning signals
// and rates) back. Spike inputs given as a dense 0/1 vector are bit-packed
// here into the proto's layout; returned spikes are unpacked.
//
// One SessionClient is one stream and is not thread-safe. Send waits for
// each chunk's result; Post and Receive pipeline chunks (send the next
// before the last one's result is back), which hides the network's round
// trip when chunks are short.
#ifndef EPROP_CLIENT_LIB_SESSION_CLIENT_H_
#define EPROP_CLIENT_LIB_SESSION_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eprop/v1/networks.grpc.pb.h"

namespace eprop::client {

// Packs 0/1 values (any nonzero is 1) in the layout of SpikeInputs.packed:
// value k at byte k / 8, bit k % 8, least significant bit first. For rows of
// n values, value i of row r is k = r * n + i. ceil(bits.size() / 8) bytes;
// the unused high bits of the last byte are 0.
std::string PackBits(const std::vector<uint8_t>& bits);
// The same into *out (its previous contents are replaced).
void PackBitsInto(const uint8_t* bits, size_t count, std::string* out);

// The first `count` values (0 or 1) of `packed`, in PackBits' layout; values
// past the end of `packed` are 0.
std::vector<uint8_t> UnpackBits(std::string_view packed, int64_t count);
// The same into *out (resized to count).
void UnpackBitsInto(std::string_view packed, int64_t count,
                    std::vector<uint8_t>* out);

struct SessionOptions {
  int batch_size = 1;  // independent sequences per chunk, [1, 1024]
  bool learning = false;
  v1::UpdatePolicy update_policy = v1::UPDATE_POLICY_UNSPECIFIED;
  bool return_spikes = false;
  bool return_learning_signals = false;
  bool return_rates = false;
  // Deadline of the whole stream, from Open; zero: none (a session may
  // stay open as long as the client likes).
  std::chrono::milliseconds timeout{0};
};

// One chunk of `steps` steps for all batch_size sequences. Rows are
// [steps x batch]: row r is step r / batch_size, sample r % batch_size.
// At most one input encoding and at most one kind of target may be set;
// empty vectors are unset.
struct ChunkInput {
  int steps = 0;
  // Dense spike inputs, [rows x n_in] row-major, nonzero = spike; sent
  // bit-packed. Must have exactly rows * n_in entries when set.
  std::vector<uint8_t> spikes;
  // Or spike events: (event_rows[k], event_inputs[k]) pairs of equal
  // length.
  std::vector<int32_t> event_rows;
  std::vector<int32_t> event_inputs;
  // Targets (learning sessions): regression values [rows x n_out], or
  // class labels per row with an optional per-row mask (empty: every row),
  // or externally computed output errors dE/dy [rows x n_out].
  std::vector<float> regression;
  std::vector<int32_t> labels;
  std::vector<uint8_t> label_mask;
  std::vector<float> output_errors;
  bool reset_state = false;
  bool end_of_sequence = false;
  bool apply_update = false;
};

struct ChunkOutput {
  int64_t sequence_number = 0;  // of the chunk, counted from 0 per session
  int steps = 0;
  std::vector<float> outputs;  // readout y, [rows x n_out]
  // Recurrent spikes as 0/1, [rows x n_rec] (return_spikes; else empty).
  std::vector<uint8_t> spikes;
  // L_j(t), [rows x n_rec] (return_learning_signals; else empty).
  std::vector<float> learning_signals;
  std::vector<float> rates_hz;  // [n_rec] (return_rates; else empty)
  double loss = 0;              // of this chunk's targets, if any
  int64_t updates = 0;          // weight updates applied so far
  bool updated = false;         // an update was applied after this chunk
};

class SessionClient {
 public:
  // Opens a session on `network_id` over `channel` (or `stub`, not owned,
  // which must outlive the client), sending `token` as a bearer token when
  // it is not empty. Errors: the server's status for the opening message
  // (e.g. NOT_FOUND, FAILED_PRECONDITION for a second learning session,
  // RESOURCE_EXHAUSTED), or the stream's failure (e.g. UNAVAILABLE).
  // Results with spikes or learning signals of large chunks can exceed
  // gRPC's default 4 MiB receive limit: create such a channel with
  // grpc::ChannelArguments::SetMaxReceiveMessageSize.
  static absl::StatusOr<std::unique_ptr<SessionClient>> Open(
      std::shared_ptr<grpc::ChannelInterface> channel, const std::string& token,
      const std::string& network_id, const SessionOptions& options);
  static absl::StatusOr<std::unique_ptr<SessionClient>> Open(
      v1::NetworkService::StubInterface* stub, const std::string& token,
      const std::string& network_id, const SessionOptions& options);

  SessionClient(const SessionClient&) = delete;
  SessionClient& operator=(const SessionClient&) = delete;
  // Closes the stream if it is still open.
  ~SessionClient();

  // Sends one chunk and waits for its result. Errors:
  // - INVALID_ARGUMENT for an input this client cannot encode (nothing is
  //   sent; the stream stays usable);
  // - the server's status for a rejected chunk, which changed nothing (the
  //   stream stays usable);
  // - the stream's final status when it failed (the session has ended);
  // - FAILED_PRECONDITION once the session has ended.
  absl::StatusOr<ChunkOutput> Send(const ChunkInput& input);
  // The same, reusing the capacity of *output's vectors. On error *output
  // is unspecified. Needs no chunk in flight (FAILED_PRECONDITION).
  absl::Status Send(const ChunkInput& input, ChunkOutput* output);

  // Pipelining. Post sends a chunk without waiting for its result; Receive
  // returns the results in the order the chunks were posted. The server
  // answers the chunks one by one, so posting the next chunk before
  // receiving the last keeps it busy. Post refuses (FAILED_PRECONDITION)
  // while max_in_flight() chunks are unanswered, and returns encoding
  // errors (nothing sent) or the stream's failure. Receive returns a
  // rejected chunk's status (the following chunks are unaffected by it,
  // but were computed without it), FAILED_PRECONDITION when nothing is in
  // flight, or the stream's failure. Results are read as they arrive, so
  // a client that posts and receives never stalls the server.
  absl::Status Post(const ChunkInput& input);
  absl::Status Receive(ChunkOutput* output);
  int in_flight() const { return static_cast<int>(posted_.size()); }
  static constexpr int max_in_flight() { return kMaxInFlight; }

  // Half-closes the stream and waits for the server to end it: OK, or the
  // stream's failure. Later calls return the same status.
  absl::Status Close();

  // The network as the server reported it when the session opened.
  const v1::Network& network() const { return network_; }
  const SessionOptions& options() const { return options_; }

 private:
  static constexpr int kMaxInFlight = 8;
  // Completion-queue tags of the stream's operations.
  enum class Op { kStart, kWrite, kRead, kWritesDone, kFinish };
  // A posted chunk whose result has not been received.
  struct Posted {
    int64_t sequence_number;
    int64_t rows;
  };

  SessionClient(std::unique_ptr<v1::NetworkService::StubInterface> owned,
                v1::NetworkService::StubInterface* stub,
                const SessionOptions& options);
  absl::Status Start(const std::string& token, const std::string& network_id);
  // Fills request_ from `input`; INVALID_ARGUMENT if it cannot be encoded.
  absl::Status BuildChunk(const ChunkInput& input);
  // Starts writing request_ once the previous write has completed.
  absl::Status Write();
  // Keeps a read outstanding while responses are owed.
  void StartReadIfOwed();
  static void* Tag(Op op) {
    return reinterpret_cast<void*>(static_cast<intptr_t>(op) + 1);
  }
  // Waits for the stream's next completion and accounts for it: a failed
  // write or read marks the stream broken.
  void WaitNext();
  // Waits until no write is outstanding (or the stream broke).
  void WaitForWrite();
  // Reads until the server ends the stream, then takes its final status.
  absl::Status Finish();
  // Ends the stream after a failed read or write and returns its status.
  absl::Status EndAfterFailure();
  // The error of a call on a session that has ended.
  absl::Status Ended() const;
  void ToOutput(const v1::SessionResponse& response, int64_t rows,
                ChunkOutput* output) const;

  // Declared in this order so the stream goes before its context and stub,
  // and the queue (drained in the destructor) after the stream.
  std::unique_ptr<v1::NetworkService::StubInterface> owned_stub_;
  v1::NetworkService::StubInterface* stub_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriterInterface<v1::SessionRequest,
                                                         v1::SessionResponse>>
      stream_;
  const SessionOptions options_;
  v1::Network network_;
  int64_t next_sequence_number_ = 0;
  bool ended_ = false;
  bool broken_ = false;
  absl::Status end_status_;
  bool started_ = false;
  bool write_pending_ = false;
  bool writes_done_ = false;
  bool finished_ = false;
  bool read_pending_ = false;
  int64_t reads_owed_ = 0;  // responses expected but not yet read
  std::deque<Posted> posted_;
  std::deque<v1::SessionResponse> received_;
  // request_ is reused from chunk to chunk to keep its allocations; it is
  // rebuilt only after its write has completed.
  v1::SessionRequest request_;
  v1::SessionResponse reading_;
};

}  // namespace eprop::client

#endif  // EPROP_CLIENT_LIB_SESSION_CLIENT_H_
