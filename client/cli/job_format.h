// Text forms of jobs for the job commands: tables for people, JSON lines
// for programs (one object per line, no trailing newline).
#ifndef EPROP_CLIENT_CLI_JOB_FORMAT_H_
#define EPROP_CLIENT_CLI_JOB_FORMAT_H_

#include <string>
#include <vector>

#include "eprop/v1/jobs.pb.h"

namespace eprop::cli {

// The spec's task, algorithm, network, batch, schedule and optimizer in one
// line ("seed 1, 100 LIF + 0 ALIF, batch 1, ...").
std::string SpecSummary(const v1::JobSpec& spec);

// The task metric of the job's latest validation: "error 6.2 %",
// "nmse 0.0831", or "-" before the first validation.
std::string LatestMetricText(const v1::Job& job);

// `eprop list`: a header (JOB STATE TASK ALGORITHM ITERATIONS ERROR/NMSE
// NAME) and one aligned row per job, each line ending in '\n'.
std::string JobTable(const std::vector<v1::Job>& jobs);
// `eprop list --output json`: job_id, state, task, algorithm, iterations,
// display_name and, after the first validation, error or nmse.
std::string JobListJson(const v1::Job& job);

// `eprop status`: one "key  value" line per detail.
std::string JobDetails(const v1::Job& job);
// `eprop status --output json`: job_id, state, display_name, task,
// algorithm, iterations, max_iterations, reached_stop_criterion,
// failure_reason, checkpoint_iteration, resume_count, the three times
// (unix ms) and latest_metrics (the metrics JSON object, if any).
std::string JobStatusJson(const v1::Job& job);

// The line that ends `--wait`, `--follow` and `watch`: "job-000001
// succeeded after 60 iterations in 2.1 s: normalised MSE 0.41" (failed:
// the reason instead of the metric).
std::string FinalSummary(const v1::Job& job);
// Its JSON form: job_id, state, iterations, error or nmse (after the first
// validation), reached_stop_criterion, failure_reason (failed jobs).
std::string FinalSummaryJson(const v1::Job& job);

}  // namespace eprop::cli

#endif  // EPROP_CLIENT_CLI_JOB_FORMAT_H_
