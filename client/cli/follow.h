// Following a job to its end over WatchJob: `eprop submit --wait/--follow`
// and `eprop watch`.
#ifndef EPROP_CLIENT_CLI_FOLLOW_H_
#define EPROP_CLIENT_CLI_FOLLOW_H_

#include <cstdint>
#include <string>

#include "client/cli/connection.h"
#include "eprop/v1/jobs.pb.h"

namespace eprop::cli {

struct FollowOptions {
  // Show each validation: a progress line (table; rewritten in place on a
  // terminal) or a metrics JSON line. False: only the final summary.
  bool show_metrics = true;
  bool json = false;
  int64_t from_iteration = 0;  // replay recorded metrics from here
  // Non-empty: write the job's plots there (supervised jobs only).
  std::string plots_dir;
};

// Streams the events of `job_now` (the job as a GetJob or SubmitJob just
// returned it) until it is final, then prints the final
// summary (FinalSummary / FinalSummaryJson, the latter with the plot paths
// when plots were written). Metrics are shown by the job's task:
// validations (ProgressLine / MetricsJson) of supervised jobs, reports
// (RlProgressLine / RlMetricsJson) of reinforcement-learning jobs. Returns
// 0 if the job succeeded (and the plots, if asked for, were written), else
// 1; 2 (a usage error, before following) for plots_dir with an RL job;
// errors are reported on stderr as "eprop COMMAND: ...".
int FollowJob(const std::string& command, Connection& connection,
              const v1::Job& job_now, const FollowOptions& options);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_FOLLOW_H_
