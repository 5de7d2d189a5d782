// eprop-session-bench: streaming sessions through the C++ SessionClient
// against an in-process server on loopback, and the same work without gRPC
// (OnlineLearner driven directly, as server/session.cc drives it, on the
// same bit-packed inputs, decoded as the server decodes them), so the
// cost of the RPC layer shows. One JSON line per case:
//   steps_per_s, chunk_p50_us, chunk_p99_us   through the session
//   compute_steps_per_s                       the same chunks, in process
//   grpc_overhead_fraction = (session time - compute time) / compute time
// Networks: evidence accumulation (n_in 40, n_out 2), n_lif = n_alif =
// n_rec / 2. Inputs: random spikes at ~2 % density, drawn once. Learning
// cases use end-of-sequence updates (a sequence is kSequenceSteps steps)
// with a class label on every row. Synchronous, pipelined and compute-only
// chunks run in alternating blocks of ~0.1 s, so all see the same machine
// load.
// Also infer_latency_b1_n400_c1: the round trip of a 1-step inference chunk
// on a 400-neuron network, batch 1 (target: p50 <= 150 us). Cases that
// exceed the server's session limits or the time budget print "skipped".
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/lib/session_client.h"
#include "core/learn/online_learner.h"
#include "server/job_spec.h"
#include "server/session_inputs.h"
#include "tests/server/testing/in_process_server.h"

ABSL_FLAG(std::string, filter, "",
          "run only the cases whose name contains this text");
ABSL_FLAG(double, seconds, 1.5,
          "time budget of each case, for the session and again for the "
          "compute-only run (in alternating blocks of ~0.1 s; each side runs "
          "at least 3 chunks)");
ABSL_FLAG(double, max_case_seconds, 4.0,
          "skip a case whose 3 compute-only chunks are estimated to take "
          "longer than this");
ABSL_FLAG(int, pipeline_depth, 4,
          "chunks in flight in the pipelined runs (1 to "
          "SessionClient::max_in_flight())");
ABSL_FLAG(bool, json, true, "JSON lines (the only output format)");

namespace eprop::bench {
namespace {

using Clock = std::chrono::steady_clock;
using client::ChunkInput;
using client::ChunkOutput;

constexpr int kPoolSteps = 2000;      // distinct input steps, cycled
constexpr int kSequenceSteps = 2000;  // end_of_sequence every this many
constexpr double kInputDensity = 0.02;
constexpr int kMinChunks = 3;
constexpr double kBlockSeconds = 0.1;

struct Case {
  std::string name;
  bool learning = false;
  int batch = 1;
  int n_rec = 100;
  int chunk_steps = 1;
};

// Wall time of each timed chunk, and the steps they covered.
struct Timing {
  std::vector<double> chunk_us;
  int64_t steps = 0;
  double seconds = 0;
  double steps_per_s() const { return steps / seconds; }
};

std::string CaseName(bool learning, int batch, int n_rec, int chunk_steps) {
  return absl::StrCat(learning ? "learn" : "infer", "_b", batch, "_n", n_rec,
                      "_c", chunk_steps);
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * (values.size() - 1))];
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// kPoolSteps steps of inputs and labels for `batch` sequences, as chunks of
// `chunk_steps` (which divides kPoolSteps). Same seed, same data.
std::vector<ChunkInput> MakeChunks(int batch, int n_in, int chunk_steps,
                                   bool learning) {
  std::mt19937 gen(17);
  std::bernoulli_distribution spike(kInputDensity);
  std::vector<ChunkInput> chunks(kPoolSteps / chunk_steps);
  for (ChunkInput& chunk : chunks) {
    const int64_t rows = int64_t{chunk_steps} * batch;
    chunk.steps = chunk_steps;
    chunk.spikes.resize(rows * n_in);
    for (uint8_t& s : chunk.spikes) s = spike(gen);
    if (!learning) continue;
    chunk.labels.resize(rows);
    for (int32_t& label : chunk.labels) label = static_cast<int32_t>(gen() % 2);
  }
  return chunks;
}

// The k-th chunk sent in a run: cycles through the pool; the sequence ends
// every kSequenceSteps steps.
ChunkInput& NextChunk(std::vector<ChunkInput>& chunks, int64_t k) {
  ChunkInput& chunk = chunks[k % chunks.size()];
  chunk.end_of_sequence = (k + 1) * chunk.steps % kSequenceSteps == 0;
  return chunk;
}

// Chunks k = 0, 1, ... of one kind of run (through the session, or
// in process), chunk 0 untimed as a warm-up; the rest timed one by one.
class TimedRun {
 public:
  TimedRun(int chunk_steps, std::function<bool(int64_t)> one_chunk)
      : chunk_steps_(chunk_steps), one_chunk_(std::move(one_chunk)) {}

  // True until `seconds` of timed chunks, and at least kMinChunks, ran.
  bool Wants(double seconds) const {
    return static_cast<int>(timing_.chunk_us.size()) < kMinChunks ||
           timing_.seconds < seconds;
  }
  // Runs the next chunk (after the warm-up). False if it failed.
  bool RunOne() {
    if (next_ == 0 && !one_chunk_(next_++)) return false;
    const Clock::time_point start = Clock::now();
    if (!one_chunk_(next_++)) return false;
    const double chunk_s = Seconds(start);
    timing_.chunk_us.push_back(chunk_s * 1e6);
    timing_.seconds += chunk_s;
    timing_.steps += chunk_steps_;
    return true;
  }
  const Timing& timing() const { return timing_; }

 private:
  const int chunk_steps_;
  std::function<bool(int64_t)> one_chunk_;
  int64_t next_ = 0;
  Timing timing_;
};

// Session chunks streamed `depth` at a time (Post ahead, Receive in
// order), timed by whole blocks, pipeline fill and drain included.
class PipelinedRun {
 public:
  PipelinedRun(client::SessionClient* session, std::vector<ChunkInput>* chunks,
               int depth)
      : session_(session), chunks_(chunks), depth_(depth) {}

  bool Wants(double seconds) const {
    return blocks_ == 0 || timing_.seconds < seconds;
  }
  // Streams chunks for about kBlockSeconds and ends with none in flight.
  // False if a chunk failed.
  bool RunBlock() {
    const Clock::time_point start = Clock::now();
    int64_t steps = 0;
    do {
      while (Seconds(start) < kBlockSeconds && session_->in_flight() < depth_) {
        if (!Check(session_->Post(NextChunk(*chunks_, next_++)))) return false;
      }
      if (!Check(session_->Receive(&output_))) return false;
      steps += output_.steps;
    } while (session_->in_flight() > 0);
    timing_.seconds += Seconds(start);
    timing_.steps += steps;
    ++blocks_;
    return true;
  }
  const Timing& timing() const { return timing_; }

 private:
  static bool Check(const absl::Status& status) {
    if (!status.ok()) std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return status.ok();
  }

  client::SessionClient* session_;
  std::vector<ChunkInput>* chunks_;
  const int depth_;
  ChunkOutput output_;
  int64_t next_ = 0;
  int blocks_ = 0;
  Timing timing_;
};

absl::StatusOr<std::unique_ptr<client::SessionClient>> OpenSession(
    v1::NetworkService::Stub* stub, const std::string& id, const Case& c) {
  client::SessionOptions options;
  options.batch_size = c.batch;
  options.learning = c.learning;
  options.update_policy = v1::UPDATE_POLICY_END_OF_SEQUENCE;
  return client::SessionClient::Open(stub, "", id, options);
}

// The chunks' spikes as the server receives them (bit-packed), for the
// compute-only runs, which decode them as the server does.
std::vector<v1::SpikeInputs> PackedInputs(
    const std::vector<ChunkInput>& chunks) {
  std::vector<v1::SpikeInputs> packed(chunks.size());
  for (size_t k = 0; k < chunks.size(); ++k) {
    client::PackBitsInto(chunks[k].spikes.data(), chunks[k].spikes.size(),
                         packed[k].mutable_packed());
  }
  return packed;
}

// The work of one session chunk without the RPC: decode, step, readout
// and spike counts, errors and updates, as server/session.cc does them.
class ComputeOnly {
 public:
  ComputeOnly(Trainer* trainer, int batch)
      : trainer_(trainer),
        learner_(MakeNeuronConstants(trainer->network()),
                 trainer->task().regularizer(), trainer->network().dt_ms,
                 trainer->network().readout_bias, batch, trainer->weights()),
        feedback_(trainer->FeedbackMatrix()),
        model_(NetworkModel<float>::Prepare(
            MakeNeuronConstants(trainer->network()), trainer->weights())),
        batch_(batch),
        labels_(batch),
        mask_(batch, 1) {
    state_.Reset(model_, batch);
  }

  void Chunk(const ChunkInput& chunk, const v1::SpikeInputs& packed,
             bool learning) {
    const NetworkConfig& config = trainer_->network();
    const int64_t rows = int64_t{chunk.steps} * batch_;
    const SparseRows<float> inputs =
        server::DecodeInputs(packed, rows, config.n_in);
    outputs_.clear();
    outputs_.reserve(rows * config.n_out);
    VecD counts = VecD::Zero(config.n_rec());
    for (int t = 0; t < chunk.steps; ++t) {
      const int64_t row = int64_t{t} * batch_;
      // Inference sessions take a plain forward step; learning ones step
      // the eligibility traces too.
      if (learning) {
        learner_.Step(inputs, row);
      } else {
        Step(model_, inputs, row, &state_);
      }
      const MatF y = learning ? learner_.Output()
                              : MatF(state_.readout_filtered.rowwise() +
                                     model_.b_out.transpose());
      for (int b = 0; b < batch_; ++b) {
        for (int k = 0; k < config.n_out; ++k) outputs_.push_back(y(b, k));
      }
      const MatF& z = learning ? learner_.spikes() : state_.z;
      counts += z.cast<double>().colwise().sum().transpose();
      if (learning) Learn(chunk, row);
    }
    if (learning && chunk.end_of_sequence) {
      trainer_->ApplyGradient(learner_.TakeGradient());
      learner_.SetWeights(trainer_->weights());
      feedback_ = trainer_->FeedbackMatrix();
    }
    if (chunk.end_of_sequence) {
      learner_.ResetState();
      state_.Reset(model_, batch_);
    }
  }

 private:
  void Learn(const ChunkInput& chunk, int64_t row) {
    learner_.CountStep();
    for (int b = 0; b < batch_; ++b) labels_[b] = chunk.labels[row + b];
    loss_ += *learner_.AddClassification(labels_, mask_, feedback_, nullptr);
  }

  Trainer* trainer_;
  OnlineLearner learner_;
  MatF feedback_;
  NetworkModel<float> model_;
  NetworkState<float> state_;
  int batch_;
  std::vector<int32_t> labels_;
  std::vector<uint8_t> mask_;
  std::vector<float> outputs_;
  double loss_ = 0;
};

// Seconds of one compute-only step of this kind (after a warm-up step).
double StepSeconds(Trainer* trainer, bool learning, int batch) {
  std::vector<ChunkInput> chunks =
      MakeChunks(batch, trainer->network().n_in, 1, learning);
  const std::vector<v1::SpikeInputs> packed = PackedInputs(chunks);
  ComputeOnly compute(trainer, batch);
  compute.Chunk(chunks[0], packed[0], learning);
  const Clock::time_point start = Clock::now();
  compute.Chunk(chunks[1], packed[1], learning);
  return Seconds(start);
}

void PrintSkipped(const Case& c, const std::string& reason) {
  std::printf(
      "{\"name\":\"%s\",\"learning\":%s,\"batch\":%d,\"n_rec\":%d,"
      "\"chunk_steps\":%d,\"skipped\":\"%s\"}\n",
      c.name.c_str(), c.learning ? "true" : "false", c.batch, c.n_rec,
      c.chunk_steps, reason.c_str());
  std::fflush(stdout);
}

void PrintCase(const Case& c, const Timing& pipelined, const Timing& sync,
               const Timing& compute) {
  std::printf(
      "{\"name\":\"%s\",\"learning\":%s,\"batch\":%d,\"n_rec\":%d,"
      "\"chunk_steps\":%d,\"pipeline_depth\":%d,\"steps_per_s\":%.1f,"
      "\"chunk_p50_us\":%.1f,\"chunk_p99_us\":%.1f,"
      "\"sync_steps_per_s\":%.1f,\"compute_steps_per_s\":%.1f,"
      "\"grpc_overhead_fraction\":%.4f,"
      "\"sync_grpc_overhead_fraction\":%.4f}\n",
      c.name.c_str(), c.learning ? "true" : "false", c.batch, c.n_rec,
      c.chunk_steps, absl::GetFlag(FLAGS_pipeline_depth),
      pipelined.steps_per_s(), Percentile(sync.chunk_us, 0.5),
      Percentile(sync.chunk_us, 0.99), sync.steps_per_s(),
      compute.steps_per_s(),
      compute.steps_per_s() / pipelined.steps_per_s() - 1.0,
      compute.steps_per_s() / sync.steps_per_s() - 1.0);
  std::fflush(stdout);
}

// A network of the evidence-accumulation task on the server, and a trainer
// of the same spec for the compute-only runs.
struct BenchNetwork {
  std::string id;
  std::unique_ptr<Trainer> trainer;
};

absl::StatusOr<BenchNetwork> CreateNetwork(v1::NetworkService::Stub& stub,
                                           int n_rec) {
  v1::CreateNetworkRequest request;
  v1::JobSpec* spec = request.mutable_spec();
  spec->set_task(v1::TASK_EVIDENCE_ACCUMULATION);
  spec->set_seed(1);
  spec->set_threads(1);
  spec->mutable_network()->set_n_lif(n_rec / 2);
  spec->mutable_network()->set_n_alif(n_rec - n_rec / 2);
  spec->mutable_schedule()->set_batch_size(1);
  v1::Network network;
  const grpc::Status status =
      stub.CreateNetwork(server::testing::Context().get(), request, &network);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("CreateNetwork: ", status.error_message()));
  }
  const server::TrainerInputs inputs = server::ToTrainerInputs(network.spec());
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(inputs.task, inputs.config);
  if (!trainer.ok()) return trainer.status();
  return BenchNetwork{network.network_id(), *std::move(trainer)};
}

// Why a case cannot run within the server's limits or the time budget;
// empty if it can. step_s: the estimated seconds of one step.
std::string SkipReason(const Case& c, int n_in, double step_s) {
  const server::SessionLimits limits;
  const double trace_bytes =
      5.0 * 4.0 * c.batch * c.n_rec * (static_cast<double>(n_in) + c.n_rec);
  if (trace_bytes > static_cast<double>(limits.max_memory_bytes)) {
    return absl::StrFormat("%.1f GiB of traces exceed the session limit",
                           trace_bytes / (1 << 30));
  }
  const int64_t values =
      int64_t{c.chunk_steps} * c.batch * std::max(n_in, c.n_rec);
  if (values > limits.max_chunk_values) {
    return absl::StrCat("chunk of ", values,
                        " values exceeds the server's max_chunk_values");
  }
  const double estimate = kMinChunks * c.chunk_steps * step_s;
  if (estimate > absl::GetFlag(FLAGS_max_case_seconds)) {
    return absl::StrFormat(
        "%d chunks estimated at %.0f s (%.1f ms/step) > --max_case_seconds",
        kMinChunks, estimate, step_s * 1e3);
  }
  return "";
}

// Runs chunks of `run` for about kBlockSeconds (at least one) while it
// wants more of its `seconds`. False if a chunk failed.
bool RunBlock(TimedRun& run, double seconds) {
  const Clock::time_point start = Clock::now();
  while (run.Wants(seconds)) {
    if (!run.RunOne()) return false;
    if (Seconds(start) >= kBlockSeconds) break;
  }
  return true;
}

// Alternates blocks of synchronous session chunks, of pipelined ones and
// of compute-only chunks, so that all see the same machine load (blocks,
// not single chunks, so each keeps its caches warm), until each has run
// its budget.
bool RunInterleaved(const Case& c, client::SessionClient& session,
                    ComputeOnly& compute, std::vector<ChunkInput>& chunks,
                    Timing* pipelined, Timing* via_session,
                    Timing* in_process) {
  ChunkOutput output;
  TimedRun remote(c.chunk_steps, [&](int64_t k) {
    const absl::Status s = session.Send(NextChunk(chunks, k), &output);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.name.c_str(), s.ToString().c_str());
    }
    return s.ok();
  });
  const std::vector<v1::SpikeInputs> packed = PackedInputs(chunks);
  TimedRun local(c.chunk_steps, [&](int64_t k) {
    compute.Chunk(NextChunk(chunks, k), packed[k % packed.size()], c.learning);
    return true;
  });
  PipelinedRun streamed(&session, &chunks, absl::GetFlag(FLAGS_pipeline_depth));
  const double seconds = absl::GetFlag(FLAGS_seconds);
  while (remote.Wants(seconds) || streamed.Wants(seconds) ||
         local.Wants(seconds)) {
    if (!RunBlock(remote, seconds)) return false;
    if (streamed.Wants(seconds) && !streamed.RunBlock()) return false;
    RunBlock(local, seconds);
  }
  *pipelined = streamed.timing();
  *via_session = remote.timing();
  *in_process = local.timing();
  return true;
}

void RunCase(v1::NetworkService::Stub* stub, BenchNetwork& network,
             const Case& c, double step_s) {
  const int n_in = network.trainer->network().n_in;
  if (std::string reason = SkipReason(c, n_in, step_s); !reason.empty()) {
    PrintSkipped(c, reason);
    return;
  }
  std::vector<ChunkInput> chunks =
      MakeChunks(c.batch, n_in, c.chunk_steps, c.learning);
  absl::StatusOr<std::unique_ptr<client::SessionClient>> session =
      OpenSession(stub, network.id, c);
  if (!session.ok()) {
    std::fprintf(stderr, "%s: open: %s\n", c.name.c_str(),
                 session.status().ToString().c_str());
    return;
  }
  ComputeOnly compute(network.trainer.get(), c.batch);
  Timing pipelined, via_session, in_process;
  const bool ok = RunInterleaved(c, **session, compute, chunks, &pipelined,
                                 &via_session, &in_process);
  if (absl::Status s = (*session)->Close(); !s.ok()) {
    std::fprintf(stderr, "%s: close: %s\n", c.name.c_str(),
                 s.ToString().c_str());
  }
  if (ok) PrintCase(c, pipelined, via_session, in_process);
}

bool Selected(const std::string& name) {
  return name.find(absl::GetFlag(FLAGS_filter)) != std::string::npos;
}

// The grid: inference first (so it sees the fresh weights), then learning.
void RunGrid(v1::NetworkService::Stub* stub,
             std::map<int, BenchNetwork>& networks) {
  for (const bool learning : {false, true}) {
    for (const int batch : {1, 64}) {
      for (auto& [n_rec, network] : networks) {
        if (n_rec == 400) continue;  // the latency case's network
        double step_s = -1;
        for (const int chunk_steps : {1, 10, 100, 1000}) {
          const Case c{CaseName(learning, batch, n_rec, chunk_steps), learning,
                       batch, n_rec, chunk_steps};
          if (!Selected(c.name)) continue;
          if (step_s < 0) {
            step_s = StepSeconds(network.trainer.get(), learning, batch);
          }
          RunCase(stub, network, c, step_s);
        }
      }
    }
  }
}

int Main() {
  if (!absl::GetFlag(FLAGS_json)) {
    std::fprintf(stderr, "eprop-session-bench: only --json output exists\n");
    return 2;
  }
  const int depth = absl::GetFlag(FLAGS_pipeline_depth);
  if (depth < 1 || depth > client::SessionClient::max_in_flight()) {
    std::fprintf(stderr, "eprop-session-bench: --pipeline_depth must be in "
                 "[1, %d]\n", client::SessionClient::max_in_flight());
    return 2;
  }
  server::testing::InProcessServer server;
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(INT_MAX);
  auto stub = v1::NetworkService::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server.port()),
                                grpc::InsecureChannelCredentials(), arguments));
  std::map<int, BenchNetwork> networks;
  for (const int n_rec : {100, 400, 1000}) {
    absl::StatusOr<BenchNetwork> network = CreateNetwork(*stub, n_rec);
    if (!network.ok()) {
      std::fprintf(stderr, "%s\n", network.status().ToString().c_str());
      return 1;
    }
    networks.emplace(n_rec, *std::move(network));
  }
  const Case latency{"infer_latency_b1_n400_c1", false, 1, 400, 1};
  if (Selected(latency.name)) {
    RunCase(stub.get(), networks.at(400), latency, 0);
  }
  RunGrid(stub.get(), networks);
  return 0;
}

}  // namespace
}  // namespace eprop::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return eprop::bench::Main();
}
