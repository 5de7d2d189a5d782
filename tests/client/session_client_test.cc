// The C++ session client: bit packing, and sessions against an in-process
// server on loopback.
#include "client/lib/session_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/train/task.h"
#include "core/util/random.h"
#include "tests/server/testing/in_process_server.h"

namespace eprop::client {
namespace {

using server::testing::Context;
using server::testing::InProcessServer;

constexpr int kBatch = 2;
constexpr int kChunkSteps = 250;
constexpr uint64_t kSeed = 3;

TEST(PackBitsTest, HandCheckedBytes) {
  // Three rows of n = 3: bit r * 3 + i, least significant bit first.
  const std::vector<uint8_t> rows = {1, 0, 0,   // bit 0
                                     0, 0, 1,   // bit 5
                                     1, 1, 0};  // bits 6 and 7
  EXPECT_EQ(PackBits(rows), std::string("\xe1\x00", 2));
  // Any nonzero value is a 1; the last byte's unused bits stay 0.
  EXPECT_EQ(PackBits({0, 0, 0, 0, 0, 0, 0, 0, 0, 7}),
            std::string("\x00\x02", 2));
  EXPECT_EQ(PackBits({}), "");
  EXPECT_EQ(UnpackBits(std::string("\xe1\x00", 2), 9), rows);
  // Values past the end of the packed bytes are 0.
  EXPECT_EQ(UnpackBits("\xff", 10),
            (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}));
}

TEST(PackBitsTest, RoundTrip) {
  std::mt19937 gen(7);
  for (const size_t n : {1, 7, 8, 9, 63, 64, 1001}) {
    std::vector<uint8_t> bits(n);
    for (uint8_t& b : bits) b = gen() % 3 == 0 ? 1 : 0;
    const std::string packed = PackBits(bits);
    ASSERT_EQ(packed.size(), (n + 7) / 8);
    EXPECT_EQ(UnpackBits(packed, static_cast<int64_t>(n)), bits) << n;
  }
}

v1::Network CreateNetwork(v1::NetworkService::Stub& stub) {
  v1::CreateNetworkRequest request;
  v1::JobSpec* spec = request.mutable_spec();
  spec->set_task(v1::TASK_EVIDENCE_ACCUMULATION);
  spec->set_seed(kSeed);
  spec->set_threads(1);
  spec->mutable_network()->set_n_lif(20);
  spec->mutable_network()->set_n_alif(20);
  spec->mutable_schedule()->set_batch_size(kBatch);
  v1::Network network;
  const grpc::Status status =
      stub.CreateNetwork(Context().get(), request, &network);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return network;
}

// Steps [first, first + steps) of a task batch with dense spikes and the
// classification targets of those rows.
ChunkInput ChunkOf(const TaskBatch& batch, int n_in, int first, int steps) {
  ChunkInput input;
  input.steps = steps;
  const int64_t row0 = int64_t{first} * batch.batch;
  const int64_t rows = int64_t{steps} * batch.batch;
  input.spikes.assign(rows * n_in, 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = batch.inputs.begin(row0 + r);
         k < batch.inputs.end(row0 + r); ++k) {
      input.spikes[r * n_in + batch.inputs.cols[k]] = 1;
    }
    input.labels.push_back(batch.labels[row0 + r]);
    input.label_mask.push_back(batch.mask[row0 + r]);
  }
  input.end_of_sequence = first + steps == batch.steps;
  return input;
}

// Checks one chunk's result against the network's sizes; the spikes agree
// with the rates (dt = 1 ms).
void ExpectConsistent(const ChunkOutput& out, const v1::Network& network,
                      int steps) {
  const int64_t rows = int64_t{steps} * kBatch;
  EXPECT_EQ(out.steps, steps);
  ASSERT_EQ(out.outputs.size(), static_cast<size_t>(rows * network.n_out()));
  ASSERT_EQ(out.spikes.size(), static_cast<size_t>(rows * network.n_rec()));
  ASSERT_EQ(out.rates_hz.size(), static_cast<size_t>(network.n_rec()));
  EXPECT_TRUE(std::isfinite(out.loss));
  for (int j = 0; j < network.n_rec(); ++j) {
    int count = 0;
    for (int64_t r = 0; r < rows; ++r) {
      count += out.spikes[r * network.n_rec() + j];
    }
    const double expected = count / (rows * 1e-3);
    EXPECT_NEAR(out.rates_hz[j], expected, 1e-4 * expected + 1e-3) << j;
  }
}

TEST(SessionClientTest, LearnsOverLoopbackAndReportsPerMessageErrors) {
  InProcessServer server;
  auto stub = server.NetworkStub();
  const v1::Network network = CreateNetwork(*stub);
  ASSERT_EQ(network.n_rec(), 40);
  SessionOptions options;
  options.batch_size = kBatch;
  options.learning = true;
  options.update_policy = v1::UPDATE_POLICY_END_OF_SEQUENCE;
  options.return_spikes = true;
  options.return_rates = true;
  options.timeout = std::chrono::seconds(120);
  absl::StatusOr<std::unique_ptr<SessionClient>> session =
      SessionClient::Open(stub.get(), "", network.network_id(), options);
  ASSERT_TRUE(session.ok()) << session.status();
  SessionClient& client = **session;
  EXPECT_EQ(client.network().network_id(), network.network_id());

  std::unique_ptr<Task> task = *MakeTask("evidence_accumulation", kSeed);
  Rng rng(11);
  const TaskBatch batch = task->NextBatch(kBatch, rng);
  const int n_in = network.n_in();
  double loss = 0;
  for (int first = 0; first < batch.steps; first += kChunkSteps) {
    const int steps = std::min(kChunkSteps, batch.steps - first);
    absl::StatusOr<ChunkOutput> out =
        client.Send(ChunkOf(batch, n_in, first, steps));
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectConsistent(*out, network, steps);
    EXPECT_EQ(out->updated, first + steps == batch.steps);
    EXPECT_EQ(out->updates, first + steps == batch.steps ? 1 : 0);
    loss += out->loss;
  }
  EXPECT_GT(loss, 0);  // the recall window is masked in

  // Dense spikes of the wrong size: rejected by the client.
  ChunkInput bad = ChunkOf(batch, n_in, 0, 10);
  bad.spikes.pop_back();
  EXPECT_EQ(client.Send(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Labels of the wrong size: rejected by the server, per message.
  bad = ChunkOf(batch, n_in, 0, 10);
  bad.labels.pop_back();
  absl::Status status = client.Send(bad).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("targets.classification.labels"),
            std::string::npos)
      << status;
  // An input id out of range: rejected by the server.
  ChunkInput events;
  events.steps = 1;
  events.event_rows = {0};
  events.event_inputs = {n_in};
  status = client.Send(events).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("(n_in)"), std::string::npos) << status;

  // The stream is still usable.
  absl::StatusOr<ChunkOutput> after = client.Send(ChunkOf(batch, n_in, 0, 10));
  ASSERT_TRUE(after.ok()) << after.status();
  ExpectConsistent(*after, network, 10);
  EXPECT_EQ(after->sequence_number, batch.steps / kChunkSteps + 2);
  EXPECT_TRUE(client.Close().ok());
  EXPECT_EQ(client.Send(events).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SessionClientTest, InferenceOverAChannelWithoutSpikeInputs) {
  InProcessServer server;
  auto stub = server.NetworkStub();
  const v1::Network network = CreateNetwork(*stub);
  SessionOptions options;
  options.batch_size = kBatch;
  absl::StatusOr<std::unique_ptr<SessionClient>> session = SessionClient::Open(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.port()),
                          grpc::InsecureChannelCredentials()),
      "", network.network_id(), options);
  ASSERT_TRUE(session.ok()) << session.status();
  ChunkInput input;
  input.steps = 3;
  absl::StatusOr<ChunkOutput> out = (*session)->Send(input);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->outputs.size(), 3u * kBatch * network.n_out());
  EXPECT_TRUE(out->spikes.empty());
  EXPECT_TRUE(out->rates_hz.empty());
  // Targets need a learning session: a per-message error.
  input.labels.assign(3 * kBatch, 0);
  EXPECT_EQ((*session)->Send(input).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*session)->Close().ok());
}

// Trains one batch in a fresh learning session on a fresh network,
// pipelined (Post ahead, Receive in order) or not, with a chunk the server
// rejects in the middle; returns the outputs of every accepted chunk, the
// statuses in order, and the weights the server saved at the end.
struct TrainedBatch {
  std::vector<std::vector<float>> outputs;
  std::vector<absl::StatusCode> codes;
  v1::Network network;
};

TrainedBatch TrainOneBatch(bool pipelined) {
  InProcessServer server;
  auto stub = server.NetworkStub();
  const v1::Network network = CreateNetwork(*stub);
  SessionOptions options;
  options.batch_size = kBatch;
  options.learning = true;
  options.update_policy = v1::UPDATE_POLICY_END_OF_SEQUENCE;
  auto session =
      SessionClient::Open(stub.get(), "", network.network_id(), options);
  EXPECT_TRUE(session.ok()) << session.status();
  std::unique_ptr<Task> task = *MakeTask("evidence_accumulation", kSeed);
  Rng rng(11);
  const TaskBatch batch = task->NextBatch(kBatch, rng);
  std::vector<ChunkInput> chunks;
  for (int first = 0; first < batch.steps; first += kChunkSteps) {
    chunks.push_back(ChunkOf(batch, network.n_in(), first,
                             std::min(kChunkSteps, batch.steps - first)));
    if (first == kChunkSteps) {  // too few labels: rejected, changes nothing
      ChunkInput bad = chunks.back();
      bad.labels.pop_back();
      chunks.insert(chunks.end() - 1, bad);
    }
  }
  TrainedBatch run;
  ChunkOutput out;
  size_t received = 0;
  auto receive = [&] {
    const absl::Status s = (*session)->Receive(&out);
    run.codes.push_back(s.code());
    if (s.ok()) run.outputs.push_back(out.outputs);
    ++received;
  };
  for (const ChunkInput& chunk : chunks) {
    if (!pipelined) {
      const absl::Status s = (*session)->Send(chunk, &out);
      run.codes.push_back(s.code());
      if (s.ok()) run.outputs.push_back(out.outputs);
      continue;
    }
    if ((*session)->in_flight() == SessionClient::max_in_flight()) receive();
    EXPECT_TRUE((*session)->Post(chunk).ok());
  }
  while (received < chunks.size() && pipelined) receive();
  EXPECT_TRUE((*session)->Close().ok());
  EXPECT_TRUE(stub->GetNetwork(Context().get(), [&] {
                    v1::GetNetworkRequest r;
                    r.set_network_id(network.network_id());
                    return r;
                  }(), &run.network).ok());
  return run;
}

TEST(SessionClientTest, PipelinedChunksGiveTheSameResultsAsOneByOne) {
  const TrainedBatch one_by_one = TrainOneBatch(/*pipelined=*/false);
  const TrainedBatch pipelined = TrainOneBatch(/*pipelined=*/true);
  ASSERT_EQ(one_by_one.codes.size(), one_by_one.outputs.size() + 1);
  EXPECT_EQ(one_by_one.codes[1], absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pipelined.codes, one_by_one.codes);
  EXPECT_EQ(pipelined.outputs, one_by_one.outputs);  // bitwise
  EXPECT_EQ(pipelined.network.updates(), 1);
  EXPECT_EQ(pipelined.network.steps_trained(),
            one_by_one.network.steps_trained());
}

TEST(SessionClientTest, PipeliningRulesAreEnforced) {
  InProcessServer server;
  auto stub = server.NetworkStub();
  const v1::Network network = CreateNetwork(*stub);
  SessionOptions options;
  options.batch_size = kBatch;
  auto session =
      SessionClient::Open(stub.get(), "", network.network_id(), options);
  ASSERT_TRUE(session.ok()) << session.status();
  SessionClient& client = **session;
  ChunkOutput out;
  EXPECT_EQ(client.Receive(&out).code(), absl::StatusCode::kFailedPrecondition);
  ChunkInput input;
  input.steps = 2;
  for (int k = 0; k < SessionClient::max_in_flight(); ++k) {
    ASSERT_TRUE(client.Post(input).ok());
  }
  EXPECT_EQ(client.Post(input).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client.Send(input, &out).code(),
            absl::StatusCode::kFailedPrecondition);
  for (int k = 0; k < SessionClient::max_in_flight(); ++k) {
    ASSERT_TRUE(client.Receive(&out).ok());
    EXPECT_EQ(out.sequence_number, k);
  }
  EXPECT_EQ(client.in_flight(), 0);
  // Closing with chunks in flight drops their results and ends cleanly.
  ASSERT_TRUE(client.Post(input).ok());
  EXPECT_TRUE(client.Close().ok());
  EXPECT_EQ(client.Receive(&out).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SessionClientTest, FatalOpeningErrorsComeBackFromOpen) {
  InProcessServer server;
  auto stub = server.NetworkStub();
  const v1::Network network = CreateNetwork(*stub);
  SessionOptions options;
  EXPECT_EQ(SessionClient::Open(stub.get(), "", "net-999999", options)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  options.batch_size = 0;
  EXPECT_EQ(SessionClient::Open(stub.get(), "", network.network_id(), options)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  options.batch_size = 1;
  options.learning = true;
  auto first =
      SessionClient::Open(stub.get(), "", network.network_id(), options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(SessionClient::Open(stub.get(), "", network.network_id(), options)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace eprop::client
