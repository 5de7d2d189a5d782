// Network instances and streaming sessions, in process on loopback.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "core/train/checkpoint.h"
#include "core/train/task.h"
#include "core/util/file_io.h"
#include "core/util/random.h"
#include "tests/server/testing/in_process_server.h"

namespace eprop::server {
namespace {

using testing::Context;
using testing::InProcessServer;
using testing::ServerOptions;
using SessionStream =
    grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>;

constexpr int kBatch = 4;
constexpr int kIterations = 3;
constexpr uint64_t kSeed = 5;

v1::JobSpec EvidenceSpec() {
  v1::JobSpec spec;
  spec.set_task(v1::TASK_EVIDENCE_ACCUMULATION);
  spec.set_seed(kSeed);
  spec.set_online_eprop(true);
  spec.set_threads(1);
  spec.mutable_schedule()->set_batch_size(kBatch);
  spec.mutable_schedule()->set_max_iterations(kIterations);
  spec.mutable_schedule()->set_validate_every_iterations(1000);
  return spec;
}

v1::Network CreateNetwork(v1::NetworkService::Stub& stub,
                          const v1::JobSpec& spec) {
  v1::CreateNetworkRequest request;
  *request.mutable_spec() = spec;
  v1::Network network;
  const grpc::Status status =
      stub.CreateNetwork(Context().get(), request, &network);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return network;
}

std::string Export(v1::NetworkService::Stub& stub, const std::string& id) {
  v1::ExportNetworkRequest request;
  request.set_network_id(id);
  auto context = Context();
  auto reader = stub.ExportNetwork(context.get(), request);
  std::string bytes;
  v1::NetworkChunk chunk;
  while (reader->Read(&chunk)) bytes += chunk.data();
  EXPECT_TRUE(reader->Finish().ok());
  return bytes;
}

TrainingCheckpoint ParseState(const std::string& dir,
                              const std::string& bytes) {
  const std::string path = dir + "/state.eprop";
  EXPECT_TRUE(WriteFileAtomically(path, bytes).ok());
  absl::StatusOr<TrainingCheckpoint> state = ReadCheckpoint(path);
  EXPECT_TRUE(state.ok()) << state.status();
  return *state;
}

v1::SessionResponse Send(SessionStream& stream,
                         const v1::SessionRequest& request) {
  EXPECT_TRUE(stream.Write(request));
  v1::SessionResponse response;
  EXPECT_TRUE(stream.Read(&response));
  return response;
}

v1::SessionRequest OpenRequest(const std::string& network_id, bool learning,
                               int batch = kBatch) {
  v1::SessionRequest request;
  v1::SessionOpen* open = request.mutable_open();
  open->set_network_id(network_id);
  open->set_batch_size(batch);
  open->set_learning(learning);
  open->set_update_policy(v1::UPDATE_POLICY_END_OF_SEQUENCE);
  return request;
}

// Steps [first, first + steps) of a task batch as a chunk: input events in
// the batch's own order, labels and mask of the same rows.
v1::SessionRequest ChunkOf(const TaskBatch& batch, int first, int steps,
                           bool with_targets) {
  v1::SessionRequest request;
  v1::SessionChunk* chunk = request.mutable_chunk();
  chunk->set_steps(steps);
  chunk->set_sequence_number(first);
  const int64_t row0 = int64_t{first} * batch.batch;
  const int64_t rows = int64_t{steps} * batch.batch;
  v1::SparseEvents* events = chunk->mutable_inputs()->mutable_events();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = batch.inputs.begin(row0 + r);
         k < batch.inputs.end(row0 + r); ++k) {
      events->add_rows(static_cast<int32_t>(r));
      events->add_inputs(batch.inputs.cols[k]);
    }
  }
  if (with_targets) {
    v1::Classification* c = chunk->mutable_targets()->mutable_classification();
    for (int64_t r = 0; r < rows; ++r) {
      c->add_labels(batch.labels[row0 + r]);
      c->add_mask(batch.mask[row0 + r] != 0);
    }
  }
  chunk->set_end_of_sequence(first + steps == batch.steps);
  return request;
}

TEST(SessionTest, EndOfSequenceUpdatesEqualTheJobBitForBit) {
  InProcessServer server;
  auto jobs = server.Stub();
  auto networks = server.NetworkStub();
  // The job: online e-prop on kIterations fresh batches.
  v1::SubmitJobRequest submit;
  *submit.mutable_spec() = EvidenceSpec();
  v1::Job job;
  ASSERT_TRUE(jobs->SubmitJob(Context().get(), submit, &job).ok());
  // The session: a fresh network of the same spec, fed the same batches
  // (the trainer draws a validation batch first, then one per iteration).
  const v1::Network network = CreateNetwork(*networks, EvidenceSpec());
  std::unique_ptr<Task> task = *MakeTask("evidence_accumulation", kSeed);
  Rng rng(kSeed + 2);
  task->NextBatch(kBatch, rng);
  {
    auto context = Context("", 120);
    auto stream = networks->Session(context.get());
    ASSERT_EQ(
        Send(*stream, OpenRequest(network.network_id(), true)).status_code(),
        0);
    for (int i = 0; i < kIterations; ++i) {
      const TaskBatch batch = task->NextBatch(kBatch, rng);
      for (int first = 0; first < batch.steps; first += 500) {
        const int steps = std::min(500, batch.steps - first);
        const v1::SessionResponse response =
            Send(*stream, ChunkOf(batch, first, steps, true));
        ASSERT_EQ(response.status_code(), 0) << response.status_message();
        EXPECT_EQ(response.result().updated(), first + steps == batch.steps);
      }
    }
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
  }
  v1::GetJobRequest get;
  get.set_job_id(job.job_id());
  for (int k = 0; k < 600 && job.state() != v1::JOB_STATE_SUCCEEDED; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(jobs->GetJob(Context().get(), get, &job).ok());
  }
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.failure_reason();
  absl::StatusOr<TrainingCheckpoint> trained = ReadCheckpoint(
      server.data_dir() + "/data/jobs/" + job.job_id() + "/checkpoint.eprop");
  ASSERT_TRUE(trained.ok()) << trained.status();
  const TrainingCheckpoint streamed =
      ParseState(server.data_dir(), Export(*networks, network.network_id()));
  EXPECT_EQ(streamed.iteration, kIterations);
  EXPECT_EQ(streamed.weights.w_in, trained->weights.w_in);
  EXPECT_EQ(streamed.weights.w_rec, trained->weights.w_rec);
  EXPECT_EQ(streamed.weights.w_out, trained->weights.w_out);
  EXPECT_EQ(streamed.optimizer.m.w_rec, trained->optimizer.m.w_rec);
  // And training changed the network.
  const TrainingCheckpoint fresh = ParseState(
      server.data_dir(),
      Export(*networks, CreateNetwork(*networks, EvidenceSpec()).network_id()));
  EXPECT_NE(fresh.weights.w_rec, streamed.weights.w_rec);
}

// Outputs of `probe` after the requests `before` (their answers in
// `answers`) on a fresh session.
std::vector<float> OutputsAfter(v1::NetworkService::Stub& stub,
                                const std::vector<v1::SessionRequest>& before,
                                const v1::SessionRequest& probe,
                                std::vector<v1::SessionResponse>* answers) {
  auto context = Context();
  auto stream = stub.Session(context.get());
  for (const v1::SessionRequest& request : before) {
    answers->push_back(Send(*stream, request));
  }
  const v1::SessionResponse response = Send(*stream, probe);
  EXPECT_EQ(response.status_code(), 0) << response.status_message();
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  return {response.result().outputs().begin(),
          response.result().outputs().end()};
}

TEST(SessionTest, BadMessagesGetErrorsAndChangeNothing) {
  InProcessServer server;
  auto networks = server.NetworkStub();
  const v1::Network network = CreateNetwork(*networks, EvidenceSpec());
  std::unique_ptr<Task> task = *MakeTask("evidence_accumulation", kSeed);
  Rng rng(1);
  const TaskBatch batch = task->NextBatch(kBatch, rng);
  const v1::SessionRequest warmup = ChunkOf(batch, 0, 100, false);
  const v1::SessionRequest probe = ChunkOf(batch, 100, 50, false);
  const v1::SessionRequest open = OpenRequest(network.network_id(), false);

  struct Bad {
    std::string name;
    v1::SessionRequest request;
    int code;
    std::string message;
  };
  std::vector<Bad> bad;
  auto chunk_with = [&](auto mutate) {
    v1::SessionRequest r = ChunkOf(batch, 100, 10, false);
    mutate(r.mutable_chunk());
    return r;
  };
  bad.push_back(
      {"second open", open, grpc::FAILED_PRECONDITION, "already open"});
  bad.push_back({"no steps",
                 chunk_with([](v1::SessionChunk* c) { c->set_steps(0); }),
                 grpc::INVALID_ARGUMENT, "steps must be in [1, 100000]"});
  bad.push_back({"packed of the wrong size",
                 chunk_with([](v1::SessionChunk* c) {
                   c->mutable_inputs()->set_packed(std::string(3, '\xff'));
                 }),
                 grpc::INVALID_ARGUMENT, "inputs.packed must have"});
  bad.push_back({"input id out of range", chunk_with([](v1::SessionChunk* c) {
                   c->mutable_inputs()->mutable_events()->add_rows(0);
                   c->mutable_inputs()->mutable_events()->add_inputs(40);
                 }),
                 grpc::INVALID_ARGUMENT, "is outside [0, 40) (n_in)"});
  bad.push_back({"row out of range", chunk_with([](v1::SessionChunk* c) {
                   c->mutable_inputs()->mutable_events()->add_rows(-1);
                   c->mutable_inputs()->mutable_events()->add_inputs(0);
                 }),
                 grpc::INVALID_ARGUMENT, "inputs.events.rows"});
  bad.push_back({"NaN input", chunk_with([](v1::SessionChunk* c) {
                   v1::DenseInputs* d = c->mutable_inputs()->mutable_dense();
                   for (int k = 0; k < 10 * kBatch * 40; ++k) {
                     d->add_values(k == 7 ? NAN : 0.0f);
                   }
                 }),
                 grpc::INVALID_ARGUMENT, "value 7 is not finite"});
  bad.push_back({"targets in inference", chunk_with([](v1::SessionChunk* c) {
                   c->mutable_targets()->mutable_classification();
                 }),
                 grpc::INVALID_ARGUMENT, "need a learning session"});
  bad.push_back({"oversized chunk",
                 chunk_with([](v1::SessionChunk* c) { c->set_steps(99999); }),
                 grpc::RESOURCE_EXHAUSTED, "send fewer steps per chunk"});

  std::vector<v1::SessionRequest> before = {open, warmup};
  for (const Bad& b : bad) before.push_back(b.request);
  std::vector<v1::SessionResponse> answers;
  const std::vector<float> after_bad =
      OutputsAfter(*networks, before, probe, &answers);
  ASSERT_EQ(answers.size(), 2 + bad.size());
  for (size_t k = 0; k < bad.size(); ++k) {
    const v1::SessionResponse& answer = answers[2 + k];
    EXPECT_EQ(answer.status_code(), bad[k].code) << bad[k].name;
    EXPECT_NE(answer.status_message().find(bad[k].message), std::string::npos)
        << bad[k].name << ": " << answer.status_message();
  }
  answers.clear();
  const std::vector<float> clean =
      OutputsAfter(*networks, {open, warmup}, probe, &answers);
  EXPECT_EQ(after_bad, clean);  // the rejected chunks changed nothing

  // A chunk before the opening message: an error, and the stream goes on.
  answers.clear();
  OutputsAfter(*networks, {warmup, open}, probe, &answers);
  EXPECT_EQ(answers[0].status_code(), grpc::FAILED_PRECONDITION);
  EXPECT_NE(answers[0].status_message().find("SessionOpen"), std::string::npos);
}

TEST(SessionTest, OneLearningSessionPerNetworkAndManyInferenceSessions) {
  InProcessServer server;
  auto networks = server.NetworkStub();
  const v1::Network network = CreateNetwork(*networks, EvidenceSpec());
  auto first_context = Context();
  auto first = networks->Session(first_context.get());
  ASSERT_EQ(Send(*first, OpenRequest(network.network_id(), true)).status_code(),
            0);
  {
    auto context = Context();
    auto second = networks->Session(context.get());
    second->Write(OpenRequest(network.network_id(), true));
    v1::SessionResponse response;
    EXPECT_FALSE(second->Read(&response));
    const grpc::Status status = second->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(status.error_message().find("already has a learning session"),
              std::string::npos);
  }
  for (int i = 0; i < 3; ++i) {
    auto context = Context();
    auto inference = networks->Session(context.get());
    EXPECT_EQ(Send(*inference, OpenRequest(network.network_id(), false))
                  .status_code(),
              0);
    inference->WritesDone();
    EXPECT_TRUE(inference->Finish().ok());
  }
  v1::DeleteNetworkRequest remove;
  remove.set_network_id(network.network_id());
  v1::DeleteNetworkResponse removed;
  EXPECT_EQ(
      networks->DeleteNetwork(Context().get(), remove, &removed).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  first->WritesDone();
  EXPECT_TRUE(first->Finish().ok());
  EXPECT_TRUE(networks->DeleteNetwork(Context().get(), remove, &removed).ok());
}

TEST(NetworkTest, CreateFromJobExportImportListDelete) {
  InProcessServer server;
  auto jobs = server.Stub();
  auto networks = server.NetworkStub();
  v1::SubmitJobRequest submit;
  submit.mutable_spec()->set_task(v1::TASK_PATTERN_GENERATION);
  submit.mutable_spec()->mutable_schedule()->set_max_iterations(20);
  v1::Job job;
  ASSERT_TRUE(jobs->SubmitJob(Context().get(), submit, &job).ok());
  v1::GetJobRequest get;
  get.set_job_id(job.job_id());
  for (int k = 0; k < 600 && job.state() != v1::JOB_STATE_SUCCEEDED; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(jobs->GetJob(Context().get(), get, &job).ok());
  }
  v1::CreateNetworkRequest from_job;
  from_job.set_from_job_id(job.job_id());
  v1::Network trained;
  ASSERT_TRUE(
      networks->CreateNetwork(Context().get(), from_job, &trained).ok());
  EXPECT_EQ(trained.source_job_id(), job.job_id());
  EXPECT_EQ(trained.updates(), 20);
  EXPECT_EQ(trained.n_rec(), 100);

  const std::string bytes = Export(*networks, trained.network_id());
  v1::Network imported;
  {
    auto context = Context();
    auto writer = networks->ImportNetwork(context.get(), &imported);
    v1::ImportNetworkRequest part;
    *part.mutable_spec() = trained.spec();
    writer->Write(part);
    for (size_t at = 0; at < bytes.size(); at += 100000) {
      part.set_data(bytes.substr(at, 100000));
      writer->Write(part);
    }
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
  }
  EXPECT_EQ(Export(*networks, imported.network_id()), bytes);
  {
    v1::Network rejected;
    auto context = Context();
    auto writer = networks->ImportNetwork(context.get(), &rejected);
    v1::ImportNetworkRequest part;
    *part.mutable_spec() = EvidenceSpec();  // not this network's spec
    writer->Write(part);
    part.set_data(bytes);
    writer->Write(part);
    writer->WritesDone();
    EXPECT_EQ(writer->Finish().error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  v1::ListNetworksResponse list;
  ASSERT_TRUE(
      networks->ListNetworks(Context().get(), v1::ListNetworksRequest(), &list)
          .ok());
  EXPECT_EQ(list.networks_size(), 2);
  // Networks survive a restart.
  server.Restart();
  networks = server.NetworkStub();
  v1::GetNetworkRequest get_network;
  get_network.set_network_id(imported.network_id());
  v1::Network again;
  ASSERT_TRUE(networks->GetNetwork(Context().get(), get_network, &again).ok());
  EXPECT_EQ(again.updates(), 20);
  v1::DeleteNetworkRequest remove;
  remove.set_network_id(imported.network_id());
  v1::DeleteNetworkResponse removed;
  EXPECT_TRUE(networks->DeleteNetwork(Context().get(), remove, &removed).ok());
  EXPECT_EQ(
      networks->GetNetwork(Context().get(), get_network, &again).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace eprop::server
