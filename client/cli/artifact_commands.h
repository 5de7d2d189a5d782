// What a job leaves behind, fetched from eprop-server: `eprop export` (the
// latest checkpoint file) and `eprop plot` (learning curves and a trial of
// the trained network, drawn locally).
#ifndef EPROP_CLIENT_CLI_ARTIFACT_COMMANDS_H_
#define EPROP_CLIENT_CLI_ARTIFACT_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cli/connection.h"
#include "core/train/checkpoint.h"
#include "eprop/v1/jobs.pb.h"

namespace eprop::cli {

// A job's latest checkpoint as downloaded and verified.
struct DownloadedCheckpoint {
  std::string bytes;              // the checkpoint file
  TrainingCheckpoint checkpoint;  // its contents, as ReadCheckpoint read them
};

// Streams ExportCheckpoint into memory, checking that the chunks are
// contiguous, agree on total_bytes and iteration and add up to total_bytes,
// and that the bytes are a valid checkpoint of that iteration (DATA_LOSS
// otherwise). RPC failures as Connection::RpcError.
absl::StatusOr<DownloadedCheckpoint> DownloadCheckpoint(
    Connection& connection, const std::string& job_id);

// Writes DIR/learning_curves.svg (the job's metrics history) and
// DIR/trial.svg (one trial of the network of its latest checkpoint, rebuilt
// locally from the job's spec), creating DIR if needed.
absl::Status PlotJob(Connection& connection, const v1::Job& job,
                     const std::string& dir);

int RunExportCommand(const GlobalOptions& options,
                     const std::vector<std::string>& argv);
int RunPlotCommand(const GlobalOptions& options,
                   const std::vector<std::string>& argv);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_ARTIFACT_COMMANDS_H_
