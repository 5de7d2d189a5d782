#include "client/cli/artifact_commands.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "client/cli/command_line.h"
#include "client/cli/metrics_format.h"
#include "client/cli/plots.h"
#include "core/train/trainer.h"
#include "core/util/file_io.h"
#include "server/job_spec.h"

namespace eprop::cli {
namespace {

// Appends one chunk to `out`, checking it continues the file; *total is the
// file size announced by the first chunk (-1 before it).
absl::Status AppendChunk(const v1::CheckpointChunk& chunk, std::string* out,
                         int64_t* total, int64_t* iteration) {
  if (*total < 0) {
    *total = chunk.total_bytes();
    *iteration = chunk.iteration();
  }
  const int64_t have = static_cast<int64_t>(out->size());
  if (chunk.total_bytes() != *total || chunk.iteration() != *iteration) {
    return absl::DataLossError(
        absl::StrCat("checkpoint chunks disagree: total_bytes ",
                     chunk.total_bytes(), " and iteration ", chunk.iteration(),
                     " after ", *total, " and ", *iteration));
  }
  if (chunk.offset_bytes() != have) {
    return absl::DataLossError(absl::StrCat("checkpoint chunk at offset ",
                                            chunk.offset_bytes(), ", expected ",
                                            have));
  }
  if (have + static_cast<int64_t>(chunk.data().size()) > *total) {
    return absl::DataLossError(
        absl::StrCat("checkpoint chunks exceed total_bytes ", *total));
  }
  out->append(chunk.data());
  return absl::OkStatus();
}

// Streams the chunks of the job's latest checkpoint into memory.
absl::Status ReceiveChunks(Connection& connection, const std::string& job_id,
                           std::string* bytes, int64_t* iteration) {
  if (absl::Status s = connection.AwaitChannel(); !s.ok()) return s;
  // No deadline: a large checkpoint may take longer than --timeout-s.
  std::unique_ptr<grpc::ClientContext> context = connection.StreamContext();
  v1::ExportCheckpointRequest request;
  request.set_job_id(job_id);
  std::unique_ptr<grpc::ClientReader<v1::CheckpointChunk>> reader =
      connection.jobs().ExportCheckpoint(context.get(), request);
  int64_t total = -1;
  absl::Status problem;
  v1::CheckpointChunk chunk;
  while (reader->Read(&chunk)) {
    if (problem.ok()) problem = AppendChunk(chunk, bytes, &total, iteration);
    if (!problem.ok()) context->TryCancel();
  }
  const grpc::Status status = reader->Finish();
  if (!problem.ok()) return problem;
  if (!status.ok()) return connection.RpcError(status);
  if (total < 0) return absl::DataLossError("the server sent no checkpoint");
  if (static_cast<int64_t>(bytes->size()) != total) {
    return absl::DataLossError(
        absl::StrCat("the checkpoint stream ended after ", bytes->size(),
                     " of ", total, " bytes"));
  }
  return absl::OkStatus();
}

// Parses checkpoint bytes with ReadCheckpoint via a private temporary file.
absl::StatusOr<TrainingCheckpoint> ParseCheckpoint(const std::string& bytes) {
  std::error_code error;
  std::string path =
      (std::filesystem::temp_directory_path(error) / "eprop-export-XXXXXX")
          .string();
  const int fd = ::mkstemp(path.data());
  if (fd < 0) return ErrnoError(errno, "cannot create temporary file", path);
  ::close(fd);
  if (absl::Status s = WriteFileAtomically(path, bytes); !s.ok()) {
    ::unlink(path.c_str());
    return s;
  }
  absl::StatusOr<TrainingCheckpoint> checkpoint = ReadCheckpoint(path);
  ::unlink(path.c_str());
  if (!checkpoint.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the exported checkpoint is invalid: ", checkpoint.status().message()));
  }
  return checkpoint;
}

}  // namespace

absl::StatusOr<DownloadedCheckpoint> DownloadCheckpoint(
    Connection& connection, const std::string& job_id) {
  DownloadedCheckpoint out;
  int64_t iteration = 0;
  if (absl::Status s =
          ReceiveChunks(connection, job_id, &out.bytes, &iteration);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<TrainingCheckpoint> checkpoint = ParseCheckpoint(out.bytes);
  if (!checkpoint.ok()) return checkpoint.status();
  if (checkpoint->iteration != iteration) {
    return absl::DataLossError(absl::StrCat(
        "the exported checkpoint holds iteration ", checkpoint->iteration,
        " but the server announced ", iteration));
  }
  out.checkpoint = std::move(*checkpoint);
  return out;
}

namespace {

// A trainer of the job's spec holding the checkpoint's state.
absl::StatusOr<std::unique_ptr<Trainer>> RebuildTrainer(
    const v1::JobSpec& spec, const TrainingCheckpoint& checkpoint) {
  if (!server::ParseTask(server::TaskName(spec.task())).ok()) {
    return absl::FailedPreconditionError("the job names no known task");
  }
  if (server::IsReinforcementTask(spec.task())) {
    return absl::FailedPreconditionError(
        "plots of reinforcement jobs are not drawn from the checkpoint; see "
        "`eprop metrics` for the learning curve");
  }
  const server::TrainerInputs inputs = server::ToTrainerInputs(spec);
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(inputs.task, inputs.config);
  if (!trainer.ok()) {
    return absl::Status(trainer.status().code(),
                        absl::StrCat("cannot rebuild the job's network: ",
                                     trainer.status().message()));
  }
  if (absl::Status s = (*trainer)->RestoreState(checkpoint); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("the checkpoint does not fit the job's "
                                     "spec: ",
                                     s.message()));
  }
  return trainer;
}

absl::StatusOr<std::vector<IterationMetrics>> FetchHistory(
    Connection& connection, const std::string& job_id) {
  v1::GetMetricsRequest request;
  request.set_job_id(job_id);
  v1::GetMetricsResponse response;
  if (absl::Status s = connection.Call(&v1::JobService::Stub::GetMetrics,
                                       request, &response);
      !s.ok()) {
    return s;
  }
  std::vector<IterationMetrics> history;
  for (const v1::IterationMetrics& m : response.metrics()) {
    history.push_back(server::FromProto(m));
  }
  return history;
}

absl::Status CreateFolder(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (!error) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("cannot create folder ", dir, ": ", error.message()));
}

}  // namespace

absl::Status PlotJob(Connection& connection, const v1::Job& job,
                     const std::string& dir) {
  if (absl::Status s = CreateFolder(dir); !s.ok()) return s;
  absl::StatusOr<std::vector<IterationMetrics>> history =
      FetchHistory(connection, job.job_id());
  if (!history.ok()) return history.status();
  absl::StatusOr<DownloadedCheckpoint> download =
      DownloadCheckpoint(connection, job.job_id());
  if (!download.ok()) return download.status();
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      RebuildTrainer(job.spec(), download->checkpoint);
  if (!trainer.ok()) return trainer.status();
  return WritePlots(**trainer, *history, dir);
}

int RunExportCommand(const GlobalOptions& options,
                     const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec{
      "export",
      "usage: eprop export JOB --out=FILE\n\n"
      "Downloads the latest checkpoint of a job (the format of\n"
      "core/train/checkpoint.h; `eprop train --local --resume=FILE` continues\n"
      "it), checks it is complete and valid, and writes it atomically.\n",
      {{"out", false, "file to write (required)", ""}},
      {"JOB"}};
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  const std::string out = parsed.args->GetString("out");
  if (out.empty()) return UsageError(spec->name, "--out is required");
  std::unique_ptr<Connection> connection = ConnectOrReport(spec->name, options);
  if (connection == nullptr) return kExitFailure;
  const std::string job_id = parsed.Positional(0);
  absl::StatusOr<DownloadedCheckpoint> download =
      DownloadCheckpoint(*connection, job_id);
  if (!download.ok()) return Failure(spec->name, download.status());
  if (absl::Status s = WriteFileAtomically(out, download->bytes); !s.ok()) {
    return Failure(spec->name, s);
  }
  const int64_t iteration = download->checkpoint.iteration;
  if (parsed.json) {
    std::cout << "{\"job_id\":" << JsonQuote(job_id)
              << ",\"path\":" << JsonQuote(out)
              << ",\"bytes\":" << download->bytes.size()
              << ",\"iteration\":" << iteration << "}" << std::endl;
  } else {
    std::cout << "wrote " << out << ": " << download->bytes.size()
              << " bytes, checkpoint of " << job_id << " at iteration "
              << iteration << std::endl;
  }
  return kExitOk;
}

int RunPlotCommand(const GlobalOptions& options,
                   const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec{
      "plot",
      "usage: eprop plot JOB --out-dir=DIR\n\n"
      "Writes DIR/learning_curves.svg (loss, error or normalised MSE and\n"
      "firing rates over the job's validations) and DIR/trial.svg (one trial\n"
      "of the network of the job's latest checkpoint, simulated locally:\n"
      "rasters, thresholds, readout, learning signals, eligibility traces).\n",
      {{"out-dir", false, "folder for the figures (required; created)", ""}},
      {"JOB"}};
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  const std::string dir = parsed.args->GetString("out-dir");
  if (dir.empty()) return UsageError(spec->name, "--out-dir is required");
  std::unique_ptr<Connection> connection = ConnectOrReport(spec->name, options);
  if (connection == nullptr) return kExitFailure;
  v1::GetJobRequest request;
  request.set_job_id(parsed.Positional(0));
  v1::Job job;
  absl::Status status =
      connection->Call(&v1::JobService::Stub::GetJob, request, &job);
  if (status.ok()) status = PlotJob(*connection, job, dir);
  if (!status.ok()) return Failure(spec->name, status);
  if (parsed.json) {
    std::cout << "{\"job_id\":" << JsonQuote(job.job_id())
              << ",\"learning_curves\":" << JsonQuote(LearningCurvesPath(dir))
              << ",\"trial\":" << JsonQuote(TrialPath(dir)) << "}" << std::endl;
  } else {
    std::cout << LearningCurvesPath(dir) << "\n" << TrialPath(dir) << std::endl;
  }
  return kExitOk;
}

}  // namespace eprop::cli
